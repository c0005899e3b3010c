r"""Time and peak memory of the full evaluation at the paper's largest size.

  python benchmarks/evaluate_scale.py [--snps=65535] [--real=5008] [--synthetic=5000]

Real-like data: the bundled AGBL4 haplotypes (4,053 SNPs on chr1) tiled along the genome to
--snps columns, so LD and allele frequencies are realistic; the synthetic set is the same
tiling of a different row permutation with 1% of alleles flipped.
"""

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import peak_rss_gib  # pylint: disable=wrong-import-position

from ag_jax import data, evaluate  # pylint: disable=wrong-import-position


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--snps', type=int, default=65535)
  ap.add_argument('--real', type=int, default=5008)
  ap.add_argument('--synthetic', type=int, default=5000)
  args = ap.parse_args()
  base = data.open_dataset('1000g_agbl4').read_split('all')
  reps = -(-args.snps // base.shape[1])
  rng = np.random.default_rng(0)
  real = np.tile(base, (1, reps))[:args.real, :args.snps]
  syn = np.tile(base[rng.permutation(len(base))], (1, reps))[:args.synthetic, :args.snps]
  syn ^= (rng.random(syn.shape) < 0.01).astype(np.uint8)
  test = real[-1000:]
  pos = np.arange(args.snps) * 300
  t0 = time.time()
  with tempfile.TemporaryDirectory() as out:
    m = evaluate.run_evaluation(real[:-1000], {'synthetic': syn}, out, real_test=test, positions=pos,
                                chrom=np.full(args.snps, '1'), include_real_reference=False)
  print(f'evaluated {args.synthetic} x {args.snps} synthetic vs {args.real - 1000} train + 1000 '
        f'test real in {time.time() - t0:.0f}s; peak RSS {peak_rss_gib():.1f} GiB')
  print({k: round(v, 4) for k, v in m['synthetic'].items() if isinstance(v, float)})


if __name__ == '__main__':
  main()
