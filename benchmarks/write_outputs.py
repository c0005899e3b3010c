r"""Wall time and peak resident memory of each AG writer, one fresh process per format.

  python benchmarks/write_outputs.py --haplotypes=10000 --snps=20000
  python benchmarks/write_outputs.py --haplotypes=2000 --snps=5000 --formats=.vcf.gz,.pgen

Haplotypes are random 0/1 rows (per-SNP frequencies 1-50%) streamed to the writer in batches
of 1,000, as generate.py streams AGs. The baseline row is the same process generating the
batches and writing nothing: the writer's own memory is the difference. Prints one line per
format and the command, ag_jax version and git commit.
"""

import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

_HAPS = flags.DEFINE_integer('haplotypes', 10000, 'Haplotypes written.')
_SNPS = flags.DEFINE_integer('snps', 20000, 'SNPs per haplotype.')
_FORMATS = flags.DEFINE_list('formats', ['.hapt', '.vcf', '.vcf.gz', '.bcf', '.pgen', '.vcz'],
                             'Output extensions to time.')
_ONE = flags.DEFINE_string('one', None, 'Internal: time this one format in this process.')
_DIR = flags.DEFINE_string('dir', None, 'Scratch directory (default: a temporary one).')


def _batches(n: int, snps: int):
  rng = np.random.default_rng(0)
  freq = rng.uniform(0.01, 0.5, snps).astype(np.float32)
  for i in range(0, n, 1000):
    rows = min(1000, n - i)
    yield np.concatenate([(rng.random((min(100, rows - k), snps), np.float32) < freq)
                          .astype(np.uint8) for k in range(0, rows, 100)])


def _one(fmt: str, out_dir: pathlib.Path):
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  n, snps = _HAPS.value, _SNPS.value
  variants = {'chrom': np.array(['1'] * snps), 'pos': np.arange(1, snps + 1) * 10,
              'id': np.array(['.'] * snps), 'ref': np.array(['A'] * snps),
              'alt': np.array(['G'] * snps)}
  t0 = time.perf_counter()
  if fmt == 'baseline':
    for _ in _batches(n, snps):
      pass
    size = 0
  else:
    out = out_dir / f'ags{fmt}'
    writers.write_genotypes(out, _batches(n, snps), variants,
                            provenance=writers.Provenance(model='benchmark'))
    size = sum(p.stat().st_size for p in out_dir.rglob('*') if p.is_file())
  seconds = time.perf_counter() - t0
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(f'{fmt:9s} {seconds:8.1f} s  peak RSS {rss:7.0f} MB  output {size / 1e6:8.1f} MB',
        flush=True)


def main(argv):
  del argv
  if _ONE.value:
    _one(_ONE.value, pathlib.Path(_DIR.value))
    return
  import ag_jax  # pylint: disable=g-import-not-at-top
  commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                          text=True, cwd=pathlib.Path(__file__).parent).stdout.strip()
  print(f'command: {" ".join(sys.argv)}')
  print(f'ag_jax {ag_jax.__version__}, commit {commit}; {_HAPS.value} haplotypes x '
        f'{_SNPS.value} SNPs = {_HAPS.value * _SNPS.value / 1e6:.0f} MB as uint8')
  with tempfile.TemporaryDirectory(dir=_DIR.value) as scratch:
    for fmt in ['baseline', *_FORMATS.value]:
      d = pathlib.Path(scratch) / fmt.strip('.')
      d.mkdir()
      subprocess.run([sys.executable, __file__, f'--one={fmt}', f'--dir={d}',
                      f'--haplotypes={_HAPS.value}', f'--snps={_SNPS.value}'], check=True,
                     stderr=subprocess.DEVNULL)


if __name__ == '__main__':
  app.run(main)
