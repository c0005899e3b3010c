"""Per-label allele-frequency r of a population-conditional CRBM (docs/conditional.md).

  python experiments/analysis/conditional_af.py --condition=super_population --out=/tmp/h3_cond
      [--variant=] [--num_steps=N] [--num=1000] [--set model.lr=0.1 ...] [--reuse]

Trains configs/crbm.py[:variant] conditioned on `--condition` with the model family's own
pieces and the labelled loader (the training setup does not pass labels to experiments/train.py
yet; docs/conditional.md), then draws `--num` AGs per label and prints, per label, the AF
Pearson r against that label's real train haplotypes, beside the r an unconditioned draw that
matched the pooled train frequencies exactly would get (the pooled train AF against the label's),
the evaluation's LD r (pairs up to 200 SNPs apart, equal-size sets) and Hudson Fst against the
label's train haplotypes, and the accuracy with which a logistic regression on 20 PCs of the
real train split assigns the AGs to the requested label, beside its accuracy on the label's
real test haplotypes (the ceiling). Writes OUT/params.npz (the trained parameters; --reuse
samples from them instead of training), OUT/labels.json and OUT/af_r.tsv.
"""

import argparse
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from ag_jax import data
from ag_jax.data import dataset as dataset_lib
from ag_jax import rng
from ag_jax.data import labels as labels_lib
from ag_jax.data import writers
from ag_jax.evaluate import stats
from ag_jax.train import rbm as rbm_family
from configs import crbm as crbm_config


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--condition', default='super_population', choices=labels_lib.CONDITIONS[1:])
  p.add_argument('--variant', default='')
  p.add_argument('--num_steps', type=int, default=0, help='0: the config\'s')
  p.add_argument('--num', type=int, default=1000)
  p.add_argument('--out', required=True)
  p.add_argument('--set', nargs='*', default=[], help='model.FIELD=VALUE overrides')
  p.add_argument('--reuse', action='store_true', help='sample from OUT/params.npz')
  a = p.parse_args()
  config = crbm_config.get_config(a.variant or None)
  config.data.condition = a.condition
  if a.num_steps:
    config.train.num_steps = a.num_steps
  for item in a.set:
    key, value = item.split('=', 1)
    section, field = key.split('.')
    old = config[section][field]
    config[section][field] = type(old)(value) if not isinstance(old, bool) else value == 'True'
  out = pathlib.Path(a.out)
  out.mkdir(parents=True, exist_ok=True)
  ds = dataset_lib.open_config(config)
  vocab = labels_lib.from_config(config, ds)
  labels_lib.save(out, vocab)
  info = _Info(ds.num_snps, ds.allele_frequencies('train').astype(np.float32), None,
               ds.num_train, vocab)
  state = rbm_family.create_state(config, info, rng.stream(config.seed, 'init'))
  step = jax.jit(rbm_family.make_train_step(config, info), donate_argnums=0)
  loader = labels_lib.LabelledLoader(
      data.BatchLoader(ds, batch_size=config.train.batch_size, seed=config.seed), vocab)
  t0 = time.time()
  n = 0 if a.reuse else config.train.num_steps
  if a.reuse:
    with np.load(out / 'params.npz') as f:
      state = state.replace(params=type(state.params)(**{k: jnp.asarray(f[k]) for k in f}))
  for s, batch in loader.iterate(0, n):
    state, metrics = step(state, jnp.asarray(batch), rng.key(config.seed, 'train', s))
    if (s + 1) % config.train.log_every == 0 or s + 1 == n:
      print(f'step {s + 1}/{n} {time.time() - t0:.0f}s ' + ' '.join(
          f'{k} {float(v):.4g}' for k, v in metrics.items()), flush=True)
  train_s = time.time() - t0
  if not a.reuse:
    with writers.atomic_path(out / 'params.npz') as tmp:
      with open(tmp, 'wb') as f:
        np.savez(f, **{k: np.asarray(v) for k, v in state.params._asdict().items()})
  sampler = jax.jit(rbm_family.make_sampler(config, info), static_argnums=2)
  x = ds.read_split('train')
  lab = vocab.index(ds.split_samples(vocab.column))
  pooled = x.mean(0)
  test = ds.read_split('test')
  test_lab = vocab.index(ds.split_samples(vocab.column, 'test'))
  classify = _classifier(x, lab)
  rows = ['label\ttrain_haplotypes\taf_r\tpooled_af_r\tmean_abs_af_diff\tld_r\tfst\t'
          'ag_accuracy\ttest_accuracy\ttest_af_r\ttest_ld_r\tnum_test']
  print(f'{config.model.name} {a.variant or "default"}, {n} steps in {train_s:.0f}s; '
        f'{a.num} AGs per {vocab.column}')
  print(f'{"label":8s} {"n_train":>7s} {"af_r":>7s} {"pooled":>7s} {"|dAF|":>7s} {"ld_r":>7s} '
        f'{"fst":>7s} {"acc_AG":>7s} {"acc_test":>8s} {"af_test":>8s} {"ld_test":>8s} '
        f'{"n_test":>6s}')
  t1 = time.time()
  for k, name in enumerate(vocab.names):
    key = rng.key(config.seed, 'generate', k)
    ags = np.asarray(sampler(state, key, a.num, jnp.full(a.num, k, jnp.int32)))
    real = x[lab == k].mean(0)
    r = np.corrcoef(ags.mean(0), real)[0, 1]
    r_pooled = np.corrcoef(pooled, real)[0, 1]
    diff = np.abs(ags.mean(0) - real).mean()
    ld = _ld_r(x[lab == k], ags)
    fst, _ = stats.hudson_fst(ags, x[lab == k])
    acc = float(np.mean(classify(ags) == k))
    held = test[test_lab == k]
    acc_test = float(np.mean(classify(held) == k)) if len(held) else float('nan')
    # The ceiling one real sample of the label reaches: its test haplotypes against its train.
    af_test = np.corrcoef(held.mean(0), real)[0, 1] if len(held) > 1 else float('nan')
    ld_test = _ld_r(x[lab == k], held) if len(held) > 1 else float('nan')
    rows.append(f'{name}\t{vocab.counts[k]}\t{r:.4f}\t{r_pooled:.4f}\t{diff:.4f}\t{ld:.4f}\t'
                f'{fst:.4f}\t{acc:.4f}\t{acc_test:.4f}\t{af_test:.4f}\t{ld_test:.4f}\t{len(held)}')
    print(f'{name:8s} {vocab.counts[k]:7d} {r:7.4f} {r_pooled:7.4f} {diff:7.4f} {ld:7.4f} '
          f'{fst:7.4f} {acc:7.4f} {acc_test:8.4f} {af_test:8.4f} {ld_test:8.4f} {len(held):6d}',
          flush=True)
  print(f'sampling {time.time() - t1:.0f}s')
  writers.write_text(out / 'af_r.tsv', '\n'.join(rows) + '\n')
  writers.write_text(out / 'run.json', json.dumps(
      {'condition': a.condition, 'variant': a.variant, 'num_steps': n, 'overrides': a.set,
       'train_seconds': train_s, 'num_per_label': a.num}, indent=2) + '\n')


def _classifier(x, lab, k: int = 20):
  """Labels predicted by a logistic regression on the first k PCs of the real train split."""
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  mean, comp = stats.pca_fit(x, k)
  model = LogisticRegression(max_iter=5000).fit(stats.pca_project(x, mean, comp), lab)
  return lambda y: model.predict(stats.pca_project(y, mean, comp))


def _ld_r(real, ags, seed: int = 0) -> float:
  """The evaluation's LD r: r^2 of pairs up to LD_MAX_DISTANCE apart among the SNPs
  polymorphic in both, on equal-size random subsets."""
  n = min(len(real), len(ags))
  g = np.random.default_rng(seed)
  real = real[g.choice(len(real), n, replace=False)]
  ags = ags[g.choice(len(ags), n, replace=False)]
  keep = stats.polymorphic(real, ags)
  r2_real, _ = stats.ld_pairs(real, keep, stats.LD_MAX_DISTANCE)
  r2_ags, _ = stats.ld_pairs(ags, keep, stats.LD_MAX_DISTANCE)
  return stats.pearson(r2_real, r2_ags)


class _Info:
  """The DataInfo the training setup builds, with the labels (DataInfo.labels)."""

  def __init__(self, num_snps, allele_freq, positions, num_train, labels):
    self.num_snps, self.allele_freq, self.positions = num_snps, allele_freq, positions
    self.num_train, self.labels = num_train, labels


if __name__ == '__main__':
  main()
