"""The training job: straight vs SIGTERM/SIGKILL + resume are bit-identical; NaN; typos."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from ag_jax import train
from conftest import ROOT

TRAIN = str(ROOT / 'experiments' / 'train.py')
N = 40
# Slow the tiny config down (more Gibbs sweeps) so a signal lands mid-run.
SLOW = {'crbm': ['--config.model.gibbs_steps=400', '--config.model.num_hidden=64'],
        'wgan': [],  # already ~0.1 s per step
        'gan': ['--config.train.batch_size=2048']}


def _cmd(config, workdir, extra=()):
  return [sys.executable, TRAIN, f'--config={ROOT / "configs" / config}', f'--workdir={workdir}',
          f'--config.train.num_steps={N}', '--config.train.checkpoint_every=5',
          '--config.train.log_every=5', *extra]


def _params(workdir):
  t = train.load_trained(workdir)
  return jax.device_get(t.state)


def _steps(workdir):
  d = pathlib.Path(workdir) / 'checkpoints'
  return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def _interrupt(cmd, workdir, sig):
  """Starts training, waits for a checkpoint between N/4 and N, then sends `sig`."""
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  # The deadline only guards against a hang: on a loaded CI machine compiling the WGAN step
  # alone has taken over 2 minutes.
  deadline = time.time() + 900
  while time.time() < deadline and proc.poll() is None:
    if any(s >= N // 4 for s in _steps(workdir)):
      break
    time.sleep(0.02)
  assert proc.poll() is None, 'training finished before the signal: make it slower'
  assert any(s >= N // 4 for s in _steps(workdir)), 'no checkpoint after 15 minutes'
  proc.send_signal(sig)
  out, _ = proc.communicate(timeout=120)
  return proc.returncode, out


def _assert_same(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
  runs = {}
  for model in SLOW:
    wd = tmp_path_factory.mktemp(f'straight_{model}')
    r = subprocess.run(_cmd(f'{model}.py:test', wd, SLOW[model]), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (wd / 'ags.hapt').exists()
    runs[model] = wd
  return runs


@pytest.mark.slow
@pytest.mark.parametrize('model', list(SLOW))
def test_sigterm_then_resume_is_bit_identical(tmp_path, straight, model):
  cmd = _cmd(f'{model}.py:test', tmp_path, SLOW[model])
  code, out = _interrupt(cmd, tmp_path, signal.SIGTERM)
  assert code == 0, out[-3000:]
  assert 'SIGTERM received' in out and 'resume' in out
  stopped_at = max(_steps(tmp_path))
  assert N // 4 <= stopped_at < N
  assert not (tmp_path / 'ags.hapt').exists()
  r = subprocess.run(cmd, capture_output=True, text=True)
  assert r.returncode == 0, r.stderr[-3000:]
  assert f'resuming from checkpoint step {stopped_at}' in r.stderr
  _assert_same(_params(straight[model]), _params(tmp_path))
  steps = [int(l.split('"step": ')[1].split(',')[0]) for l in
           (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert steps == sorted(set(steps)) and steps[-1] == N  # no duplicated steps after resume


def test_sigterm_while_logging_saves_the_step_it_reports(tmp_path, monkeypatch):
  """A SIGTERM that lands while a step is being logged (after the loop decided whether to
  save it) stops after the next step, with that step saved: before, the loop reported
  'saved step 10' for an unsaved step (seen on an 805 WGAN run: 'saved step 8100', newest
  checkpoint 8000)."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  from ag_jax.train import loop  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.train.num_steps, config.train.log_every, config.train.checkpoint_every = 40, 5, 20
  check = loop._check_finite  # pylint: disable=protected-access

  def check_then_signal(values, last_good, step):
    check(values, last_good, step)
    if step == 10:  # a log step, not a checkpoint step
      os.kill(os.getpid(), signal.SIGTERM)

  monkeypatch.setattr(loop, '_check_finite', check_then_signal)
  out = train.run(config, tmp_path)
  assert out['stopped'] and out['step'] == 11
  assert _steps(tmp_path) == [11]


@pytest.mark.slow
@pytest.mark.parametrize('model', ['crbm'])
def test_sigkill_then_resume_from_last_checkpoint(tmp_path, straight, model):
  cmd = _cmd(f'{model}.py:test', tmp_path, SLOW[model])
  code, _ = _interrupt(cmd, tmp_path, signal.SIGKILL)
  assert code == -signal.SIGKILL
  r = subprocess.run(cmd, capture_output=True, text=True)
  assert r.returncode == 0, r.stderr[-3000:]
  assert 'resuming from checkpoint step' in r.stderr
  _assert_same(_params(straight[model]), _params(tmp_path))


def test_nan_raises_with_step_range(tmp_path):
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.model.lr = float('inf')  # the first update turns the weights to inf/NaN
  with pytest.raises(train.NonFiniteError, match=r'between step \d+ and step \d+'):
    train.run(config, tmp_path)
  assert max(_steps(tmp_path) or [0]) < config.train.num_steps


def test_config_typo_is_one_clear_error(tmp_path):
  r = subprocess.run([sys.executable, TRAIN, f'--config={ROOT / "configs" / "crbm.py"}:test',
                      f'--workdir={tmp_path}', '--config.train.num_stepz=3'],
                     capture_output=True, text=True)
  assert r.returncode != 0
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and 'num_stepz' in lines[0] and 'num_steps' in lines[0], r.stderr
  assert 'Traceback' not in r.stderr


@pytest.mark.parametrize('field', ['model.hidden=gauss', 'model.lr_decay=exp',
                                   'model.gibbs_steps=0', 'train.log_every=0'])
def test_bad_model_value_is_one_line_and_writes_nothing(tmp_path, field):
  workdir = tmp_path / 'run'
  r = subprocess.run([sys.executable, TRAIN, f'--config={ROOT / "configs" / "crbm.py"}:test',
                      f'--workdir={workdir}', f'--config.{field}'], capture_output=True, text=True)
  assert r.returncode == 1
  lines = r.stderr.strip().splitlines()
  name, value = field.split('=')
  assert len(lines) == 1 and lines[0].startswith('error: bad config: config.' + name), r.stderr
  assert value in lines[0] and 'Traceback' not in r.stderr
  assert not workdir.exists()


def test_checkpoints_keep_last_k(tmp_path):
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.train.keep_checkpoints = 2
  config.train.checkpoint_every = 5
  train.run(config, tmp_path)
  assert _steps(tmp_path) == [15, 20]
  t = train.load_trained(tmp_path)
  assert int(t.state.step) == 20
  again = train.run(config, tmp_path)  # already done: no training, same AGs regenerated
  assert again['num_ags'] == config.sample.num_samples


def test_sample_af_r_and_ld_r_are_logged(tmp_path):
  """train.sample_every logs the AF r and LD r of fresh AGs; a CRBM started from the training
  allele frequencies must already track them after a few steps."""
  import json  # pylint: disable=g-import-not-at-top
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.train.sample_every = 10
  train.run(config, tmp_path)
  rows = [json.loads(l) for l in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  logged = {r['step']: r['sample_af_r'] for r in rows if 'sample_af_r' in r}
  assert sorted(logged) == [10, 20]
  assert all(0.8 < v <= 1.0 for v in logged.values()), logged
  ld = {r['step']: r['sample_ld_r'] for r in rows if 'sample_ld_r' in r}
  assert sorted(ld) == [10, 20] and all(-1 <= v <= 1 for v in ld.values()), ld
  fixed = {r['step']: r['sample_fixed_sites'] for r in rows if 'sample_fixed_sites' in r}
  assert sorted(fixed) == [10, 20] and all(0 <= v <= 1 for v in fixed.values()), fixed


@pytest.mark.parametrize('name', ['1000g_805', '1000g_agbl4'])
def test_ld_probe_scores_real_ld_and_not_independent_snps(name):
  """LdProbe: the held-out split's LD matches the train split's (r > 0.95), the same split
  with every column shuffled (allele frequencies kept, LD gone: what a generator that learnt
  only the frequencies makes) scores ~0; pair_r2 agrees with numpy's corrcoef."""
  from ag_jax.data import dataset  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate.probes import LdProbe, pair_r2  # pylint: disable=g-import-not-at-top
  ds = dataset.open_dataset(name)
  probe = LdProbe(ds, seed=0)
  x = ds.read_split('test')
  rng = np.random.default_rng(1)
  shuffled = np.stack([rng.permutation(c) for c in x.T], axis=1)
  assert probe(x) > 0.95
  assert abs(probe(shuffled)) < 0.05
  i, j = probe.pairs(np.ones(x.shape[1], bool))
  assert np.all(i < j) and np.all(j - i <= probe.max_gap)
  i, j = i[:100], j[:100]
  ref = np.array([np.corrcoef(x[:, a], x[:, b])[0, 1] ** 2 for a, b in zip(i, j)])
  np.testing.assert_allclose(pair_r2(x, i, j), ref, atol=1e-5)


def test_sample_stats_count_fixed_sites():
  """sample_fixed_sites: of the SNPs the train split has both alleles of, the fraction the
  fresh AGs have one allele of; here real held-out haplotypes with 30 such SNPs set to 0."""
  import types  # pylint: disable=g-import-not-at-top
  from ag_jax.data import dataset  # pylint: disable=g-import-not-at-top
  from ag_jax.train import loop  # pylint: disable=g-import-not-at-top
  ds = dataset.open_dataset('1000g_805')
  af = ds.allele_frequencies('train')
  x = ds.read_split('test')[:1000].copy()
  seg = (af > 0) & (af < 1)
  already = (x.min(0) == x.max(0)) & seg  # rare alleles this test set lacks anyway
  cols = np.flatnonzero(seg & ~already)[::20][:30]
  x[:, cols] = 0
  setup = types.SimpleNamespace(config=types.SimpleNamespace(seed=0),
                                info=types.SimpleNamespace(allele_freq=af))
  sampler = lambda state, key, num: x[:num]
  out = loop._sample_stats(setup, sampler, None, 0, None, None)  # pylint: disable=protected-access
  assert out['sample_fixed_sites'] == pytest.approx((already.sum() + 30) / seg.sum())
  assert out['sample_af_r'] == pytest.approx(np.corrcoef(x.mean(0), af)[0, 1], abs=1e-6)


def test_training_reads_the_split_the_config_names():
  """data.train_haplotypes and data.folds reach training: the set-up's train split is the
  subsample (the left-out train haplotypes held out), or the fold's complement."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  from ag_jax.train import setup as setup_lib  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  whole = setup_lib.open_data(config)
  config.data.train_haplotypes = 100
  ds = setup_lib.open_data(config)
  assert ds.num_train == 100 and ds.num_test == whole.num_test + whole.num_train - 100
  assert setup_lib.data_info(ds).num_train == 100
  config.data.update(train_haplotypes=0, folds=4, fold=1)
  ds = setup_lib.open_data(config)
  assert ds.num_train + ds.num_test == whole.num_train + whole.num_test
  assert abs(ds.num_test - (whole.num_train + whole.num_test) / 4) < 10


def test_privacy_probe_tells_copies_of_seen_haplotypes_from_unseen_ones():
  """The logged probe_privacy_loss: ~0 for AGs that are other real haplotypes (train or
  held-out ones the probe did not pick: no closer to its seen side than to its unseen side),
  large for copies of the haplotypes it compares against."""
  from ag_jax.data import dataset  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate.probes import PrivacyProbe  # pylint: disable=g-import-not-at-top
  ds = dataset.open_dataset('1000g_805')
  probe = PrivacyProbe(ds, seed=0, num=300)
  others = np.setdiff1d(ds.test_rows, probe.unseen_rows)[:300]  # held out, not in the probe
  fresh = np.setdiff1d(ds.train_rows, probe.seen_rows)[:300]  # trained on, not in the probe
  unseen = probe(ds.read(others))
  copies = probe(probe.seen)
  assert abs(unseen['probe_privacy_loss']) < 3 * unseen['probe_privacy_loss_se'] + 0.01
  assert copies['probe_privacy_loss'] > 0.3 and copies['probe_mia_auc'] > 0.9
  assert abs(probe(ds.read(fresh))['probe_privacy_loss']) < 3 * unseen['probe_privacy_loss_se'] + 0.01


def test_ld_probe_estimates_the_evaluations_ld_r():
  """The logged sample_ld_r is the evaluation's ld_r on a sample of its pairs: SNPs up to
  stats.LD_MAX_DISTANCE apart among the sites polymorphic in both sets. The set: the AGBL4
  test split with LD kept within blocks of 32 SNPs and broken between them (rows shuffled per
  block), and the sites rarer than 3% fixed, as a generator that never draws them."""
  from ag_jax.data import dataset  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate.probes import LdProbe  # pylint: disable=g-import-not-at-top
  ds = dataset.open_dataset('1000g_agbl4')
  x = ds.read_split('test')
  rng = np.random.default_rng(2)
  fake = np.concatenate([x[rng.permutation(len(x)), s:s + 32] for s in range(0, x.shape[1], 32)],
                        axis=1)
  af = ds.allele_frequencies('train')
  fake[:, np.minimum(af, 1 - af) < 0.03] = 0
  probe = LdProbe(ds, seed=0)
  keep = stats.polymorphic(probe.real, fake)
  assert 0 < keep.sum() < 0.6 * keep.size  # the set fixes many sites
  r2_real, _ = stats.ld_pairs(probe.real, keep, stats.LD_MAX_DISTANCE)
  r2_fake, _ = stats.ld_pairs(fake, keep, stats.LD_MAX_DISTANCE)
  want = stats.pearson(r2_real, r2_fake)  # evaluate_set's ld_r, every pair
  assert abs(probe(fake) - want) < 0.05, (probe(fake), want)
  # The set tells the two apart: pairs of raw columns up to 50 apart (the probe before
  # 2026-12-04) read 0.12 higher here.
  raw = stats.polymorphic(probe.real)
  r2_real, _ = stats.ld_pairs(probe.real, raw, 50)
  r2_fake, _ = stats.ld_pairs(fake, raw, 50)
  ok = np.isfinite(r2_fake)
  assert stats.pearson(r2_real[ok], r2_fake[ok]) > want + 0.08


@pytest.mark.slow
def test_sigterm_while_compiling_stops_cleanly(tmp_path):
  """A SIGTERM during compilation (minutes for long genomes) saves step 1 and exits 0."""
  cmd = _cmd('crbm.py:test', tmp_path, SLOW['crbm'])
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if 'compiling the train step' in line:
      proc.send_signal(signal.SIGTERM)
      break
  out = ''.join(lines) + proc.communicate(timeout=600)[0]
  assert proc.returncode == 0, out[-3000:]
  assert 'SIGTERM received: saved step 1' in out
  assert _steps(tmp_path) == [1] and not (tmp_path / 'ags.hapt').exists()


@pytest.mark.slow
def test_checkpoint_from_before_the_weight_average_restores_and_resumes(tmp_path):
  """A WGAN checkpoint written before GANState had g_ema (same tree without that field) is
  restored with the average starting at its generator weights, and training resumes from it;
  without an upgrade path the restore is one error naming the checkpoint and the field."""
  import shutil  # pylint: disable=g-import-not-at-top
  from ag_jax import checkpoint as ckpt_lib  # pylint: disable=g-import-not-at-top
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('wgan.py:test')
  config.train.num_steps = 4
  config.train.checkpoint_every = 4
  new = tmp_path / 'new'
  train.run(config, new)
  state = jax.device_get(train.load_trained(new).state)
  old = tmp_path / 'old'
  old.mkdir()
  shutil.copy(new / 'config.json', old / 'config.json')
  fields = {k: getattr(state, k) for k in ('step', 'g_params', 'g_stats', 'c_params', 'g_opt', 'c_opt')}
  ck = ckpt_lib.Checkpointer(old)
  ck.save(4, fields)
  assert ck.saved_fields(4) == set(fields)
  with pytest.raises(ValueError, match=r"older ag_jax.*'g_ema'"):
    ck.restore(jax.eval_shape(lambda: state))
  ck.close()
  got = jax.device_get(train.load_trained(old).state)
  _assert_same(got.g_ema, state.g_params)
  _assert_same(got.c_params, state.c_params)
  assert int(got.step) == 4
  config.train.num_steps = 6
  train.run(config, old)  # resumes at 4 and saves a complete state at 6
  assert _steps(old)[-1] == 6 and 'g_ema' in ckpt_lib.Checkpointer(old).saved_fields(6)


@pytest.mark.slow  # 36-41 s: trains and samples a tiny model twice
def test_generate_sample_sweeps_override(tmp_path):
  """generate.py --sample_sweeps changes how AGs are drawn, not the trained workdir."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.evaluate.at_end = False
  train.run(config, tmp_path)
  gen = [sys.executable, str(ROOT / 'experiments' / 'generate.py'), f'--workdir={tmp_path}',
         '--num_samples=64']
  outs = {}
  for name, extra in (('config', []), ('sweeps1', ['--sample_sweeps=1']),
                      ('beta2', ['--sample_beta=2']), ('sharpen2', ['--sample_sharpen=2'])):
    out = tmp_path / f'ags_{name}.hapt'
    r = subprocess.run(gen + [f'--output={out}', *extra], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    outs[name] = np.loadtxt(out, dtype=str)[:, 2:].astype(np.uint8)
  assert outs['config'].shape == outs['sweeps1'].shape == outs['beta2'].shape == (64, 805)
  assert not np.array_equal(outs['config'], outs['sweeps1'])  # 10 sweeps (the config) vs 1
  assert not np.array_equal(outs['config'], outs['beta2'])  # same key, colder chains
  assert not np.array_equal(outs['config'], outs['sharpen2'])  # same chains, sharper last draw
  assert (tmp_path / 'config.json').read_text().count('"sample_sweeps": 10') == 1
  bad = subprocess.run(gen + [f'--output={tmp_path / "x.hapt"}', '--sample_sweeps=0'],
                       capture_output=True, text=True)
  assert bad.returncode == 1 and 'sample_sweeps' in bad.stderr and 'Traceback' not in bad.stderr
  bad = subprocess.run(gen + [f'--output={tmp_path / "x.hapt"}', '--sample_beta=-1'],
                       capture_output=True, text=True)
  assert bad.returncode == 1 and 'sample_beta' in bad.stderr and 'Traceback' not in bad.stderr
  bad = subprocess.run(gen + [f'--output={tmp_path / "x.hapt"}', '--sample_sharpen=0'],
                       capture_output=True, text=True)
  assert bad.returncode == 1 and 'sample_sharpen=0' in bad.stderr and 'Traceback' not in bad.stderr
  assert not (tmp_path / 'x.hapt').exists()
  steps = _steps(tmp_path)
  assert len(steps) >= 2
  out = tmp_path / 'ags_first.hapt'
  r = subprocess.run(gen + [f'--output={out}', f'--step={steps[0]}'], capture_output=True, text=True)
  assert r.returncode == 0 and f'(checkpoint step {steps[0]})' in r.stdout, r.stderr
  assert not np.array_equal(np.loadtxt(out, dtype=str)[:, 2:].astype(np.uint8), outs['config'])
  bad = subprocess.run(gen + [f'--output={tmp_path / "x.hapt"}', '--step=3'],
                       capture_output=True, text=True)
  assert bad.returncode == 1 and 'Traceback' not in bad.stderr
  assert f'no checkpoint at step 3; it keeps steps {", ".join(map(str, steps))}' in bad.stderr
  assert not (tmp_path / 'x.hapt').exists()


def test_resume_with_a_config_the_checkpoint_does_not_fit(tmp_path):
  """Turning on a decaying rate changes the optimizer state: resuming is one error naming the
  changed setting, and config.json still describes the checkpoints (generate keeps working)."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('rbm.py:test')
  config.model.lr_decay = 'none'
  config.evaluate.at_end = False
  train.run(config, tmp_path)
  before = (tmp_path / 'config.json').read_text()
  steps = _steps(tmp_path)
  config.model.lr_decay = 'cosine'
  config.train.num_steps += 2
  with pytest.raises(train.ResumeError,
                     match=r"model\.lr_decay: 'none' -> 'cosine'.*cannot resume"):
    train.run(config, tmp_path)
  assert (tmp_path / 'config.json').read_text() == before and _steps(tmp_path) == steps
  r = subprocess.run([sys.executable, TRAIN, f'--config={ROOT / "configs" / "rbm.py"}:test',
                      f'--workdir={tmp_path}', '--config.model.num_hidden=8'],
                     capture_output=True, text=True)
  assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
  assert 'error:' in r.stderr and 'model.num_hidden: 16 -> 8' in r.stderr
  assert (tmp_path / 'config.json').read_text() == before and _steps(tmp_path) == steps
  assert train.load_trained(tmp_path).config.model.lr_decay == 'none'
  config.model.lr_decay = 'none'  # a change the checkpoint fits resumes and is recorded
  train.run(config, tmp_path)
  assert _steps(tmp_path)[-1] == config.train.num_steps
  assert (tmp_path / 'config.json').read_text() != before


@pytest.mark.slow
def test_at_end_report_and_evaluate_split_aa_truth_by_population(tmp_path):
  """The trainer's report and evaluate.py label real haplotypes by super-population."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.evaluate.at_end = True
  train.run(config, tmp_path)
  m = json.loads((tmp_path / 'report' / 'metrics.json').read_text())
  by = m['crbm']['aa_truth_by_population']
  assert set(by) == {'AFR', 'AMR', 'EAS', 'EUR', 'SAS'}
  assert sum(v['n'] for v in by.values()) == m['crbm']['aats_n'] == 64
  assert (tmp_path / 'report' / 'aats_by_population.png').exists()
  ev = [sys.executable, str(ROOT / 'experiments' / 'evaluate.py'), '--real=1000g_805',
        f'--synthetic={tmp_path / "ags.hapt"}', '--distance_sample=64']
  got = {}
  for flag in ('--populations=population', '--populations=none'):
    out = tmp_path / flag.split('=')[1]
    r = subprocess.run(ev + [flag, f'--output={out}'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got[flag] = json.loads((out / 'metrics.json').read_text())[f'{tmp_path.name}/ags']
    assert got[flag]['aats'] == m['crbm']['aats']  # the labels change no other figure
  # 64 real haplotypes drawn from 26 populations: most of them present, none unlabelled.
  fine = got['--populations=population']['aa_truth_by_population']
  assert len(fine) > 15 and sum(v['n'] for v in fine.values()) == 64, fine
  assert 'aa_truth_by_population' not in got['--populations=none']


def test_more_steps_on_a_decayed_rate_resumes_with_a_warning(tmp_path, caplog):
  """A finished cosine run given more train.num_steps resumes (the checkpoint fits) but says
  that its schedule is not a fresh run's (the 805 CRBM default went 3,000 -> 6,000)."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('rbm.py:test')
  config.model.lr_decay = 'cosine'
  config.evaluate.at_end = False
  train.run(config, tmp_path)
  assert 'not the model a fresh run' not in caplog.text
  config.train.num_steps += 2
  train.run(config, tmp_path)
  assert _steps(tmp_path)[-1] == config.train.num_steps
  assert 'train.num_steps changed on a run whose rate decays' in caplog.text, caplog.text
  caplog.clear()
  config.model.lr_decay = 'none'  # and no such warning where the rate does not decay
  other = tmp_path / 'constant'
  train.run(config, other)
  config.train.num_steps += 2
  train.run(config, other)
  assert 'rate decays' not in caplog.text


def _damage(path: pathlib.Path, how: str):
  data = path.read_bytes()
  if how == 'garble':  # flip 16 bytes in the middle: Orbax restores other numbers silently
    mid = len(data) // 2
    path.write_bytes(data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 16]) + data[mid + 16:])
  else:
    path.write_bytes(data[:len(data) // 2])


def _largest_file(directory: pathlib.Path) -> pathlib.Path:
  return max((p for p in directory.rglob('*') if p.is_file()), key=lambda p: p.stat().st_size)


@pytest.fixture(scope='module')
def finished_crbm(tmp_path_factory):
  """A finished crbm:test run keeping steps 10 and 20."""
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  wd = tmp_path_factory.mktemp('finished_crbm')
  train.run(config, wd)
  assert _steps(wd) == [10, 20]
  return config, wd, jax.device_get(train.load_trained(wd).state)


@pytest.mark.parametrize('how', ['garble', 'truncate'])
def test_resume_drops_a_torn_metrics_line_and_falls_back_from_a_damaged_checkpoint(
    tmp_path, capfd, finished_crbm, how):
  """A kill mid-write tears the last metrics line; a damaged newest checkpoint (a data file
  garbled, which Orbax alone restores as other numbers, or truncated) is moved aside with a
  warning and training resumes from the newest good step, to the same state."""
  import shutil  # pylint: disable=g-import-not-at-top
  config, done, state = finished_crbm
  wd = tmp_path / 'wd'
  shutil.copytree(done, wd)
  lines = (wd / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['step'] for l in lines] == [5, 10, 15, 20]
  (wd / 'metrics.jsonl').write_text('\n'.join(lines[:-1]) + '\n' + lines[-1][:25])
  _damage(_largest_file(wd / 'checkpoints' / '20'), how)
  with pytest.raises(FileNotFoundError, match=r'checkpoints/20: damaged checkpoint.*'
                     r'also keeps step 10; use an earlier one with --step=10'):
    train.load_trained(wd)
  train.run(config, wd)
  err = capfd.readouterr().err
  assert 'warning: ' in err and 'line 4, not a complete JSON record' in err, err
  assert re.search(r'warning: \S+/checkpoints/20: damaged checkpoint .*moved to \S+'
                   r'/damaged_checkpoints/20 \(not deleted\); resuming from step 10', err), err
  assert (wd / 'damaged_checkpoints' / '20' / 'default').is_dir()
  assert _steps(wd) == [10, 20]
  _assert_same(jax.device_get(train.load_trained(wd).state), state)
  assert [json.loads(l)['step'] for l in (wd / 'metrics.jsonl').read_text().splitlines()] == [
      5, 10, 15, 20]


def test_no_restorable_checkpoint_is_one_error_and_changes_nothing(tmp_path, finished_crbm):
  import shutil  # pylint: disable=g-import-not-at-top
  _, done, _ = finished_crbm
  wd = tmp_path / 'wd'
  shutil.copytree(done, wd)
  for step in (10, 20):
    _damage(wd / 'checkpoints' / str(step) / 'default' / '_METADATA', 'truncate')
  before = sorted(str(p.relative_to(wd)) for p in wd.rglob('*'))
  r = subprocess.run(_cmd('crbm.py:test', wd)[:4], capture_output=True, text=True)
  assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
  err = [l for l in r.stderr.splitlines() if l.startswith('error:')]
  assert len(err) == 1 and 'no kept checkpoint restores (steps 10, 20' in err[0], r.stderr
  assert 'new --workdir' in err[0]
  assert sorted(str(p.relative_to(wd)) for p in wd.rglob('*')) == before


def test_a_workdir_with_other_content_is_refused_untouched(tmp_path):
  user = tmp_path / 'mine'
  user.mkdir()
  (user / 'config.json').write_text('{"my": "settings"}')  # not an ag_jax config
  r = subprocess.run(_cmd('crbm.py:test', user)[:4], capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.count('\n') == 1, r.stderr
  assert r.stderr.startswith(f'error: {user}: not empty and not an ag_jax training workdir')
  assert [p.name for p in user.iterdir()] == ['config.json']
  assert (user / 'config.json').read_text() == '{"my": "settings"}'


@pytest.mark.parametrize('flag, says', [
    ('--config.train.num_steps=-3', 'config.train.num_steps=-3: use 1 or more'),
    ('--config.train.num_steps=0', 'config.train.num_steps=0: use 1 or more'),
    ('--config.train.batch_size=0', 'config.train.batch_size=0: use 1 or more'),
    ('--config.sample.num_samples=0', 'config.sample.num_samples=0: use 1 or more'),
    ('--config.data.path=/no/such/store', '/no/such/store: no such dataset directory'),
    ('--config.model.name=vae', "config.model.name='vae': known models are"),
    ('--config=configs/nope.py', 'configs/nope.py: cannot load it'),
    ('--config=configs/crbm.py:tset', 'unknown variant tset; known: test'),
])
def test_a_new_users_flag_mistake_is_one_error_line(tmp_path, flag, says):
  wd = tmp_path / 'run'
  cmd = _cmd('crbm.py:test', wd)[:4]
  if flag.startswith('--config='):
    cmd = [cmd[0], cmd[1], f'--config={ROOT / flag.split("=")[1]}', cmd[3]]
  else:
    cmd.append(flag)
  r = subprocess.run(cmd, capture_output=True, text=True)
  assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
  assert r.stderr.count('\n') == 1 and r.stderr.startswith('error: ') and says in r.stderr, r.stderr
  assert not wd.exists()


@pytest.mark.slow  # ~70 s: the end-of-training evaluation of the 805 train split
def test_a_store_without_a_test_split_trains_and_skips_the_test_metrics(tmp_path, capfd, ds805):
  """Training on a store whose every haplotype is in the train split warns at the start and
  at the end and writes a report without the test-split figures, instead of crashing after
  training."""
  import shutil  # pylint: disable=g-import-not-at-top
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  store = tmp_path / 'all_train'
  shutil.copytree(ds805.path, store)
  samples = (store / 'samples.tsv').read_text().splitlines()
  col = samples[0].split('\t').index('split')
  rows = [l.split('\t') for l in samples[1:]]
  for r in rows:
    r[col] = 'train'
  (store / 'samples.tsv').write_text('\n'.join([samples[0]] + ['\t'.join(r) for r in rows]) + '\n')
  meta = json.loads((store / 'metadata.json').read_text())
  meta.update(num_train=meta['num_haplotypes'], num_test=0)
  (store / 'metadata.json').write_text(json.dumps(meta))
  config = load('crbm.py:test')
  config.data.path = str(store)
  config.evaluate.at_end = True
  out = train.run(config, tmp_path / 'wd')
  err = capfd.readouterr().err
  assert err.count('no test split') == 2, err
  m = json.loads((tmp_path / 'wd' / 'report' / 'metrics.json').read_text())
  assert set(m) == {'crbm'} and 'aats_test' not in m['crbm'] and 'privacy_loss' not in m['crbm']
  assert np.isfinite(m['crbm']['aats']) and out['evaluation']['crbm']['aats'] == m['crbm']['aats']


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc malloc_trim')
def test_freed_heap_is_returned_after_compiling():
  """What ag_jax calls after each long compile: freed heap pages below a live block (which glibc
  cannot give back by shrinking the heap) leave the resident set."""
  import ctypes  # pylint: disable=g-import-not-at-top
  from ag_jax import hardware  # pylint: disable=g-import-not-at-top
  libc = ctypes.CDLL(None)
  libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
  libc.free.argtypes = [ctypes.c_void_p]
  resident = lambda: int(pathlib.Path('/proc/self/statm').read_text().split()[1]) * os.sysconf(
      'SC_PAGE_SIZE')
  size, count = 64 * 1024, 4000  # 250 MiB in blocks below the mmap threshold: on the heap
  blocks = [libc.malloc(size) for _ in range(count)]
  for b in blocks:
    ctypes.memset(b, 1, size)
  for b in blocks[:-1]:  # the last block stays: the heap cannot shrink past it
    libc.free(b)
  before = resident()
  hardware.release_freed_heap()
  after = resident()
  libc.free(blocks[-1])
  assert before - after > 0.5 * size * count, (before, after)


def test_the_heap_is_released_after_every_long_compile(monkeypatch):
  """Whoever compiles (the loop, generate.py, a benchmark's own jit), a compile of at least
  TRIM_AFTER_COMPILE_SECS releases the freed heap, and a shorter one does not."""
  from ag_jax import hardware  # pylint: disable=g-import-not-at-top
  calls = []
  monkeypatch.setattr(hardware, 'release_freed_heap', lambda: calls.append(1))
  monkeypatch.setattr(hardware, 'TRIM_AFTER_COMPILE_SECS', 1e9)
  jax.jit(lambda x: x * 3 + 1).lower(np.ones(7, np.float32)).compile()
  assert not calls
  monkeypatch.setattr(hardware, 'TRIM_AFTER_COMPILE_SECS', 0.0)
  jax.jit(lambda x: x * 5 - 2).lower(np.ones(9, np.float32)).compile()
  assert calls == [1]
