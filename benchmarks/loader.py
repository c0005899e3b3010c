r"""Streaming throughput and peak memory of the batch loader on a large haplotype store.

  python benchmarks/loader.py [--num_haplotypes=20000] [--num_snps=1000000] [--dir=/tmp/...]

Creates (once; reused if present) a prepared store of random haplotypes with realistic allele
frequencies (Beta(0.3, 0.3)) written chunk by chunk, then times random batches read through
`BatchLoader` with tensorstore (no in-memory copy): full rows, and a SNP window of a CRBM.
Prints haplotypes x SNPs per second (median over batches) and the peak RSS, next to the
store's uncompressed and on-disk sizes.
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import peak_rss_gib  # pylint: disable=wrong-import-position

from ag_jax import data  # pylint: disable=wrong-import-position
from ag_jax.data.prepare import SNP_CHUNK, create_haplotype_array  # pylint: disable=wrong-import-position


def make_store(path: pathlib.Path, n: int, s: int, seed: int = 0):
  if (path / 'metadata.json').exists():
    return
  tmp = path.with_name(path.name + '.tmp')
  tmp.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  freq = rng.beta(0.3, 0.3, s).astype(np.float32)
  arr = create_haplotype_array(tmp / 'haplotypes', (n, s))
  cols = SNP_CHUNK
  rows = 512
  with tqdm(total=n * s, unit='allele', unit_scale=True, desc='creating store') as bar:
    for r0 in range(0, n, rows):
      nr = min(rows, n - r0)
      for c0 in range(0, s, cols * 8):
        nc = min(cols * 8, s - c0)
        block = (rng.random((nr, nc), dtype=np.float32) < freq[c0:c0 + nc]).astype(np.uint8)
        arr[r0:r0 + nr, c0:c0 + nc].write(block).result()
        bar.update(block.size)
  with open(tmp / 'variants.tsv', 'w') as f:
    f.write('chrom\tpos\tid\tref\talt\n')
    f.writelines(f'1\t{i + 1}\tsnp{i}\tA\tG\n' for i in range(s))
  with open(tmp / 'samples.tsv', 'w') as f:
    f.write('haplotype\tindividual\tpopulation\tsuper_population\tsplit\n')
    f.writelines(f'h{i}\ti{i // 2}\t\t\ttrain\n' for i in range(n))
  (tmp / 'metadata.json').write_text(json.dumps(
      {'num_haplotypes': n, 'num_snps': s, 'num_train': n, 'num_test': 0, 'synthetic': True}))
  tmp.rename(path)


def du(path: pathlib.Path) -> int:
  return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--num_haplotypes', type=int, default=20000)
  ap.add_argument('--num_snps', type=int, default=1_000_000)
  ap.add_argument('--batch_size', type=int, default=64)
  ap.add_argument('--window', type=int, default=10000)
  ap.add_argument('--batches', type=int, default=10)
  ap.add_argument('--dir', default='/tmp/ag_jax_loader_bench')
  args = ap.parse_args()
  path = pathlib.Path(args.dir) / f'store_{args.num_haplotypes}x{args.num_snps}'
  t0 = time.time()
  make_store(path, args.num_haplotypes, args.num_snps)
  print(f'store {path}: created/opened in {time.time() - t0:.0f}s')
  ds = data.open_dataset(path)
  raw = args.num_haplotypes * args.num_snps
  print(f'uncompressed {raw / 2**30:.1f} GiB, on disk {du(path) / 2**30:.2f} GiB')
  for name, snps in (('full rows', None), (f'window of {args.window}', slice(0, args.window))):
    loader = data.BatchLoader(ds, batch_size=args.batch_size, seed=0, snps=snps, in_memory='no')
    rates = []
    it = loader.iterate(0, args.batches + 1)
    next(it)  # warm-up: open chunks, start the prefetch thread
    t = time.perf_counter()
    for _, batch in it:
      now = time.perf_counter()
      rates.append(batch.size / (now - t))
      t = now
    print(f'{name:>18}: batch {args.batch_size} x {loader.num_snps}: median '
          f'{statistics.median(rates) / 1e6:.1f} M haplotype-SNPs/s; peak RSS {peak_rss_gib():.2f} GiB',
          flush=True)


if __name__ == '__main__':
  main()
