"""LD r of an AG set on subsets of the evaluation's SNP pairs, beside the training probe's.

  python experiments/analysis/probe_vs_eval.py AGS.hapt [DATASET]

Prints the evaluation's ld_r (evaluate_set's pairs: up to stats.LD_MAX_DISTANCE apart among
the sites polymorphic in both sets, equal-size subsamples) over pairs up to 50 and 200 apart,
split by gap, and the training probe (ag_jax.evaluate.probes.LdProbe) on the first 1,000 AGs.
"""

import sys

import numpy as np

from ag_jax.data.dataset import open_dataset
from ag_jax.data.readers import read_hapt_matrix
from ag_jax.evaluate import stats
from ag_jax.evaluate.probes import LdProbe


def main(path: str, name: str = '1000g_agbl4'):
  ds = open_dataset(name)
  real = ds.read_split('train')
  ags = read_hapt_matrix(path)[2]
  keep = stats.polymorphic(real, ags)
  print(f'{path}: {ags.shape[0]} AGs; {keep.sum()} of {keep.size} SNPs polymorphic in both')
  print(f'training probe, 1,000 AGs: {LdProbe(ds, 0)(ags[:1000]):.4f}')
  n = min(len(real), len(ags))
  rng = np.random.default_rng(0)
  real = real[np.sort(rng.choice(len(real), n, replace=False))]
  ags = ags[np.sort(rng.choice(len(ags), n, replace=False))]
  for max_distance in (50, stats.LD_MAX_DISTANCE):
    r2_real, idx = stats.ld_pairs(real, keep, max_distance)
    r2_ags, _ = stats.ld_pairs(ags, keep, max_distance)
    print(f'pairs up to {max_distance} apart: LD r {stats.pearson(r2_real, r2_ags):.4f} '
          f'({len(idx)} pairs)')
    gap = idx[:, 1] - idx[:, 0]
    for lo, hi in ((1, 10), (11, 50), (51, 200)):
      s = (gap >= lo) & (gap <= min(hi, max_distance))
      if s.any():
        print(f'  {lo}-{hi} apart: LD r {stats.pearson(r2_real[s], r2_ags[s]):.4f}, mean r^2 '
              f'real {r2_real[s].mean():.4f} AGs {r2_ags[s].mean():.4f} ({s.sum()} pairs)')


if __name__ == '__main__':
  main(*sys.argv[1:])
