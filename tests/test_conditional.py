"""Population-conditional CRBM/RBM (docs/conditional.md): label units against exact
enumeration, the label vocabulary and requests, a conditional tiny model trained end to end."""

import itertools
import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ag_jax import data
from ag_jax.config_base import ConfigError
from ag_jax.data import DataError
from ag_jax.data import labels as labels_lib
from ag_jax.models import crbm, rbm
from test_rbm import V, _check, _exact, _params

K = 3  # label units in front of V - K SNP visibles


def _conditional_sample(params, layout, label, n=4000, sweeps=300):
  fn = jax.jit(lambda k: crbm.sample(params, layout, k, n, num_sweeps=sweeps,
                                     labels=jnp.full((n,), label, jnp.int32)))
  return np.asarray(fn(jax.random.key(label)), np.float64)


def test_one_window_label_clamping_matches_exact_conditional():
  """A one-window model (the plain RBM) with K label units draws, for each label l, from
  p(v | l): the exact conditional over all 2^(V-K) SNP states, and the K conditionals differ
  (a sampler that ignored the labels would fail for at least two of them)."""
  params = _params(3)
  layout = crbm.make_layout(V - K, V - K, num_labels=K)
  assert layout.num_windows == 1 and layout.visible == V
  stacked = jax.tree.map(lambda a: a[None], params)
  means = []
  for label in range(K):
    onehot = tuple(int(i == label) for i in range(K))
    mean, second = _exact(params, tuple(range(K)), onehot)
    snps = _conditional_sample(stacked, layout, label)
    full = np.concatenate([np.broadcast_to(onehot, (len(snps), K)), snps], axis=1)
    _check(full, mean, second, np.arange(V) >= K)
    means.append(mean[K:])
  gaps = [np.abs(means[a] - means[b]).max() for a, b in itertools.combinations(range(K), 2)]
  assert min(gaps) > 0.05, gaps


def _chain_exact(params, layout, label):
  """Exact mean and second moment of the SNPs of a 2-window chain with labels: p(window 0 | l)
  times p(free half of window 1 | l, its pinned half), by enumeration."""
  k, w, h = layout.num_labels, layout.window, layout.half
  onehot = np.array([i == label for i in range(k)], np.float32)

  def conditional(p, fixed):  # p(free | fixed head) for every free state
    free = np.array(list(itertools.product([0, 1], repeat=w - (len(fixed) - k))), np.float32)
    v = np.concatenate([np.broadcast_to(fixed, (len(free), len(fixed))), free], axis=1)
    logp = -np.asarray(rbm.free_energy(p, jnp.asarray(v)), np.float64)
    prob = np.exp(logp - logp.max())
    return free, prob / prob.sum()

  take = lambda i: jax.tree.map(lambda a: a[i], params)
  first, p0 = conditional(take(0), onehot)
  states, probs = [], []
  for x0, q0 in zip(first, p0):
    second, p1 = conditional(take(1), np.concatenate([onehot, x0[h:]]))
    states.append(np.concatenate([np.broadcast_to(x0, (len(second), w)), second], axis=1))
    probs.append(q0 * p1)
  states, probs = np.concatenate(states), np.concatenate(probs)
  return probs @ states, np.einsum('s,si,sj->ij', probs, states, states)


def test_window_chain_with_labels_matches_exact_enumeration():
  """Two windows of 4 SNPs (stride 2) with 2 labels: the chain sampler's joint over the 6 SNPs
  is the exact product p(window 0 | l) p(window 1's free half | l, pinned half) for each
  label, and the two labels' joints differ."""
  layout = crbm.make_layout(6, 4, num_labels=2)
  assert layout.num_windows == 2 and layout.visible == 6
  keys = jax.random.split(jax.random.key(11), 3)
  params = rbm.RBMParams(w=0.9 * jax.random.normal(keys[0], (2, 6, 4)),
                         vb=0.5 * jax.random.normal(keys[1], (2, 6)),
                         hb=0.5 * jax.random.normal(keys[2], (2, 4)))
  means = []
  for label in range(2):
    mean, second = _chain_exact(params, layout, label)
    _check(_conditional_sample(params, layout, label), mean, second, np.ones(6, bool))
    means.append(mean)
  assert np.abs(means[0] - means[1]).max() > 0.05


def test_layout_puts_clamped_labels_first_in_every_window():
  lay = crbm.make_layout(805, 100, num_labels=5)
  assert lay.visible == 105 and lay.num_windows == 16
  assert lay.label_mask[:, :5].all() and not lay.label_mask[:, 5:].any()
  assert lay.pin_mask[:, :5].all() and not lay.pin_mask[0, 5:].any()
  assert lay.pin_mask[1:, 5:55].all() and not lay.pin_mask[:, 55:].any()
  assert not lay.pad_mask[:, :5].any() and lay.pad_mask.sum() == 45
  rng = np.random.default_rng(0)
  x = np.concatenate([labels_lib.one_hot(rng.integers(0, 5, 4), 5),
                      rng.integers(0, 2, (4, 805))], axis=1)
  w = np.asarray(crbm.to_windows(lay, jnp.asarray(x)))
  for i in (0, 3, 15):
    np.testing.assert_array_equal(w[i, :, :5], x[:, :5])
  np.testing.assert_array_equal(w[3, :, 5:], x[:, 5 + 150:5 + 250])
  back = crbm.from_windows(lay, jnp.asarray(w[0]), jnp.asarray(w[1:, :, 55:]))
  np.testing.assert_array_equal(np.asarray(back), x[:, 5:])


def test_sampler_refuses_missing_or_unexpected_labels():
  lay = crbm.make_layout(6, 4, num_labels=2)
  params = crbm.init_params(jax.random.key(0), lay, 3, np.full(6, 0.3))
  with pytest.raises(ValueError, match='2 label units takes one label per AG'):
    crbm.sample(params, lay, jax.random.key(1), 4, num_sweeps=2)
  plain = crbm.make_layout(6, 4)
  with pytest.raises(ValueError, match='0 label units takes none'):
    crbm.sample(crbm.init_params(jax.random.key(0), plain, 3, np.full(6, 0.3)), plain,
                jax.random.key(1), 4, num_sweeps=2, labels=jnp.zeros(4, jnp.int32))


# ---------------------------------------------------------------------------- vocabulary


def test_vocabulary_of_the_805_data(ds805):
  vocab = labels_lib.vocabulary(ds805, 'super_population')
  assert vocab.names == ('AFR', 'AMR', 'EAS', 'EUR', 'SAS')
  assert sum(vocab.counts) == ds805.num_train
  pops = labels_lib.vocabulary(ds805, 'population')
  assert pops.size == 26 and list(pops.names) == sorted(pops.names)
  assert labels_lib.Vocabulary.from_json(vocab.to_json()) == vocab
  np.testing.assert_array_equal(vocab.index(['EUR', 'AFR']), [3, 0])


class _Store:
  """A stand-in for data.Dataset with one label column."""
  path = '/nonexistent/store'

  def __init__(self, values):
    self.values = np.array(values, dtype=str)

  def split_samples(self, column, split='train'):
    del split
    if column == 'haplotype':
      return np.array([f'h{i}' for i in range(len(self.values))])
    return self.values if column == 'population' else None


def test_store_without_labels_is_one_clear_error():
  with pytest.raises(DataError, match="no 'super_population' column"):
    labels_lib.vocabulary(_Store(['A', 'B']), 'super_population')
  with pytest.raises(DataError, match=r'1 of 3 train haplotypes have no population \(e.g. h1\)'):
    labels_lib.vocabulary(_Store(['A', '', 'B']), 'population')
  cfg = types.SimpleNamespace(data=types.SimpleNamespace(condition='ethnicity'))
  with pytest.raises(ConfigError, match="config.data.condition='ethnicity'"):
    labels_lib.condition(cfg)


def test_agbl4_store_has_no_labels():
  """The bundled AGBL4 VCFs come without a panel: its samples.tsv labels are empty."""
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  with pytest.raises(DataError, match='have no super_population'):
    labels_lib.vocabulary(data.open_dataset('1000g_agbl4'), 'super_population')


def test_proportional_labels_keep_the_proportions_in_every_prefix():
  freq = np.array([0.5, 0.3, 0.2])
  labels = labels_lib.proportional(1000, freq)
  np.testing.assert_array_equal(np.bincount(labels, minlength=3), [500, 300, 200])
  for n in (10, 97, 333):
    assert np.abs(np.bincount(labels[:n], minlength=3) / n - freq).max() <= 1.5 / n
  np.testing.assert_array_equal(np.bincount(labels_lib.proportional(7, freq), minlength=3),
                                [4, 2, 1])


def test_label_requests_and_their_errors():
  vocab = labels_lib.Vocabulary('super_population', ('AFR', 'EAS', 'EUR'), (60, 30, 10))
  np.testing.assert_array_equal(labels_lib.request(vocab, 3, population='EUR'), [2, 2, 2])
  got = labels_lib.request(vocab, 0, populations='EUR:2,EAS:1')
  np.testing.assert_array_equal(got, [2, 2, 1])
  np.testing.assert_array_equal(np.bincount(labels_lib.request(vocab, 10)), [6, 3, 1])
  assert labels_lib.request(None, 10) is None
  bad = [
      (vocab, dict(population='XYZ'), "--population 'XYZ': not a label this model was trained "
       'on; its super_population labels are AFR, EAS, EUR'),
      (vocab, dict(populations='EUR:2,ABC:1'), "--populations 'ABC'"),
      (vocab, dict(populations='EUR=2'), "'EUR=2' is not LABEL:COUNT"),
      (vocab, dict(populations='EUR:0'), 'count of 1 or more'),
      (vocab, dict(populations='EUR:1,EUR:2'), 'a label is given twice'),
      (vocab, dict(population='EUR', populations='EUR:1'), 'give one of them'),
      (None, dict(population='EUR'), '--population: this model was trained without labels'),
      (None, dict(populations='EUR:3'), '--populations: this model was trained without labels'),
  ]
  for v, kwargs, message in bad:
    with pytest.raises(labels_lib.LabelError, match=message):
      labels_lib.request(v, 3 if 'populations' not in kwargs else 0, **kwargs)
  with pytest.raises(labels_lib.LabelError, match='asks for 3 AGs, but --num_samples is 5'):
    labels_lib.request(vocab, 5, populations='EUR:2,EAS:1')
  # Diploid outputs: one label per individual (haplotypes 2i, 2i+1), even counts.
  pairs = labels_lib.request(vocab, 20, ploidy=2)
  np.testing.assert_array_equal(pairs[0::2], pairs[1::2])
  np.testing.assert_array_equal(np.bincount(pairs), [12, 6, 2])
  with pytest.raises(labels_lib.LabelError, match='EUR:3 is odd'):
    labels_lib.request(vocab, 0, populations='EUR:3,EAS:2', ploidy=2)


def test_labelled_loader_puts_each_rows_label_first(ds805):
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  vocab = labels_lib.vocabulary(ds805, 'super_population')
  loader = labels_lib.LabelledLoader(data.BatchLoader(ds805, batch_size=64, seed=3), vocab)
  batch = loader.batch(7)
  assert batch.shape == (64, 5 + 805) and batch.dtype == np.uint8
  np.testing.assert_array_equal(batch[:, 5:], ds805.read(loader.rows(7)))
  expected = vocab.index(ds805.samples['super_population'][loader.rows(7)])
  np.testing.assert_array_equal(batch[:, :5].argmax(1), expected)
  assert (batch[:, :5].sum(1) == 1).all()
  step, first = next(loader.iterate(7))
  assert step == 7 and np.array_equal(first, batch)


# ------------------------------------------------------------------------------- training


def _conditional_setup(ds805, variant='test', **model):
  """The family module's pieces for `configs/crbm.py:<variant>` conditioned on
  super_population, with the labelled loader and DataInfo the training setup builds."""
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  from ag_jax.train import rbm as rbm_family  # pylint: disable=g-import-not-at-top
  from configs import crbm as crbm_config  # pylint: disable=g-import-not-at-top
  config = crbm_config.get_config(variant)
  config.data.condition = 'super_population'
  config.model.update(model)
  vocab = labels_lib.from_config(config, ds805)
  info = types.SimpleNamespace(num_snps=ds805.num_snps, positions=None, num_train=ds805.num_train,
                               allele_freq=ds805.allele_frequencies('train').astype(np.float32),
                               labels=vocab)
  loader = labels_lib.LabelledLoader(
      data.BatchLoader(ds805, batch_size=config.train.batch_size, seed=0), vocab)
  return config, info, vocab, loader, rbm_family


def test_persistent_chains_keep_their_labels_and_label_biases_stay(ds805):
  """PCD: window 0's chains keep the labels create_state gave them (the training
  proportions); windows 1.. take the batch's labels with its pinned half; the label units'
  visible biases never move (clamped in both phases)."""
  config, info, vocab, loader, fam = _conditional_setup(ds805, persistent=True)
  state = fam.create_state(config, info, jax.random.key(0))
  own = labels_lib.proportional(config.train.batch_size, vocab.freq)
  np.testing.assert_array_equal(np.asarray(state.chains[:, :, :5]).argmax(-1),
                                np.broadcast_to(own, state.chains.shape[:2]))
  step = jax.jit(fam.make_train_step(config, info))
  vb0, w0 = np.asarray(state.params.vb[:, :5]), np.asarray(state.params.w[:, :5])
  for s in range(3):
    batch = loader.batch(s)
    state, _ = step(state, jnp.asarray(batch), jax.random.key(100 + s))
    chains = np.asarray(state.chains)
    np.testing.assert_array_equal(chains[0, :, :5].argmax(-1), own)
    np.testing.assert_array_equal(chains[1:, :, :5].argmax(-1),
                                  np.broadcast_to(batch[:, :5].argmax(1), chains[1:, :, 0].shape))
    assert (chains[..., :5].sum(-1) == 1).all()
  np.testing.assert_array_equal(np.asarray(state.params.vb[:, :5]), vb0)
  assert np.abs(np.asarray(state.params.w[:, :5]) - w0).min() > 0  # label -> hidden weights learn


def test_conditional_tiny_model_learns_the_labels_allele_frequencies(ds805):
  """configs/crbm.py:test conditioned on super_population, trained 1,000 updates (rate 0.1):
  1,000 AGs per label differ in allele frequency the way the real labels' train haplotypes
  do. Each label's AGs move away from the pooled frequencies in the direction its real
  haplotypes do (r > 0.5), and the mean |AF difference| between every two labels' AGs
  tracks that between their real haplotypes (r > 0.8 over the 10 pairs). An unconditioned
  model, whose labels' AGs differ only by noise, fails both."""
  config, info, vocab, loader, fam = _conditional_setup(ds805, lr=0.1)
  state = fam.create_state(config, info, jax.random.key(0))
  step = jax.jit(fam.make_train_step(config, info))
  for s, batch in loader.iterate(0, 1000):
    state, metrics = step(state, jnp.asarray(batch), jax.random.fold_in(jax.random.key(1), s))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  sampler = jax.jit(fam.make_sampler(config, info), static_argnums=2)
  x = ds805.read_split('train')
  lab = vocab.index(ds805.split_samples('super_population'))
  real = np.stack([x[lab == k].mean(0) for k in range(vocab.size)])
  ags = np.stack([np.asarray(sampler(state, jax.random.key(10 + k), 1000,
                                     jnp.full(1000, k, jnp.int32))).mean(0)
                  for k in range(vocab.size)])
  pooled = x.mean(0)
  own = [np.corrcoef(ags[k] - pooled, real[k] - pooled)[0, 1] for k in range(vocab.size)]
  assert min(own) > 0.5, dict(zip(vocab.names, np.round(own, 3)))
  pairs = list(itertools.combinations(range(vocab.size), 2))
  dist = lambda af: [np.abs(af[a] - af[b]).mean() for a, b in pairs]
  r = np.corrcoef(dist(ags), dist(real))[0, 1]
  assert r > 0.8, (r, np.round(dist(ags), 3), np.round(dist(real), 3))
  # The default labels (no request) are the training proportions.
  default = fam.make_sampler(config, info)(state, jax.random.key(99), 50)
  assert default.shape == (50, ds805.num_snps)


def test_conditioned_config_without_labels_is_one_config_error(ds805):
  config, info, _, _, fam = _conditional_setup(ds805)
  info.labels = None
  with pytest.raises(ConfigError, match='config.data.condition=super_population: no labels'):
    fam.create_state(config, info, jax.random.key(0))


def _conditioned_workdir(path, ds805, steps=5):
  """A workdir as training writes it (config.json, labels.json, a checkpoint) for
  configs/crbm.py:test conditioned on super_population, trained `steps` updates on labelled
  batches through the training setup's own pieces."""
  from ag_jax import checkpoint as ckpt_lib  # pylint: disable=g-import-not-at-top
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  from ag_jax.train import setup as setup_lib  # pylint: disable=g-import-not-at-top
  from configs import crbm as crbm_config  # pylint: disable=g-import-not-at-top
  config = crbm_config.get_config('test')
  config.data.condition = 'super_population'
  setup = setup_lib.build(config, ds805)
  state = setup_lib.init_state(setup)
  step = setup_lib.make_step_fn(setup)
  loader = labels_lib.LabelledLoader(
      data.BatchLoader(ds805, batch_size=config.train.batch_size), setup.info.labels)
  for s, batch in loader.iterate(0, steps):
    state, _ = step(state, jnp.asarray(batch), jax.random.key(s))
  setup_lib.write_config(config, path)
  labels_lib.save(path, setup.info.labels)
  ckpt = ckpt_lib.Checkpointer(path)
  ckpt.save(steps, state)
  ckpt.close()
  return path


@pytest.mark.slow
def test_generate_py_writes_the_requested_labels(tmp_path, ds805):
  """generate.py --populations on a conditioned workdir: the counts asked for, one label per
  diploid individual in <output>.labels.tsv; an unknown label is one error line and nothing
  is written."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from conftest import ROOT  # pylint: disable=g-import-not-at-top
  wd = _conditioned_workdir(tmp_path / 'wd', ds805)
  run = lambda *a: subprocess.run([sys.executable, str(ROOT / 'experiments' / 'generate.py'),
                                   f'--workdir={wd}', *a], capture_output=True, text=True)
  out = tmp_path / 'ags.vcf.gz'
  r = run('--populations=EUR:4,EAS:2', f'--output={out}')
  assert r.returncode == 0, r.stderr[-2000:]
  assert 'wrote 6 haplotypes' in r.stdout and 'EAS 2, EUR 4' in r.stdout
  lines = (tmp_path / 'ags.vcf.gz.labels.tsv').read_text().splitlines()
  assert lines == ['sample\tsuper_population', 'AG0\tEUR', 'AG1\tEUR', 'AG2\tEAS']
  r = run('--population=XYZ', f'--output={tmp_path / "bad.hapt"}')
  assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
      "error: --population 'XYZ': not a label this model was trained on; its super_population "
      'labels are AFR, AMR, EAS, EUR, SAS.')
  assert not (tmp_path / 'bad.hapt').exists()
  # A .hapt carries each AG's label in its first column too, and evaluate.py reads the labels
  # file beside a set: per-label figures against the real haplotypes of each label.
  out = tmp_path / 'cond.hapt'
  r = run('--populations=EUR:60,EAS:40', f'--output={out}')
  assert r.returncode == 0, r.stderr[-2000:]
  tags, _, _ = data.readers.read_hapt_matrix(out)
  assert tags.tolist() == ['EUR'] * 60 + ['EAS'] * 40
  ev = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'),
                       '--real=1000g_805', f'--synthetic={out}', f'--output={tmp_path / "ev"}',
                       '--max_haplotypes=400', '--distance_sample=100'],
                      capture_output=True, text=True)
  assert ev.returncode == 0, ev.stderr[-2000:]
  assert 'cond: per-label evaluation by super_population' in ev.stdout
  m = json.loads((tmp_path / 'ev' / 'metrics.json').read_text())
  assert sorted(m['cond']['by_label']) == ['EAS', 'EUR']
  assert m['cond']['by_label']['EUR']['num_haplotypes'] == 60
  assert sorted(m['real_test']['by_label']) == ['AFR', 'AMR', 'EAS', 'EUR', 'SAS']
  assert (tmp_path / 'ev' / 'confusion.png').exists()
  assert '| cond | EAS | 40 |' in (tmp_path / 'ev' / 'table.md').read_text()


@pytest.mark.slow
def test_resume_refuses_a_workdir_trained_on_other_labels(tmp_path, ds805):
  """A workdir whose labels.json differs from what the data now give (another panel, another
  split) is not resumed: one ResumeError naming labels.json, and the file is left as it was."""
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  from configs import crbm as crbm_config  # pylint: disable=g-import-not-at-top
  wd = _conditioned_workdir(tmp_path / 'wd', ds805, steps=2)
  vocab = labels_lib.load(wd)
  other = labels_lib.Vocabulary(vocab.column, vocab.names, (1,) + vocab.counts[1:])
  labels_lib.save(wd, other)
  config = crbm_config.get_config('test')
  config.data.condition = 'super_population'
  config.train.num_steps = 4
  with pytest.raises(train.ResumeError, match=r'labels.json: its checkpoints were trained on'):
    train.run(config, wd)
  assert labels_lib.load(wd) == other
