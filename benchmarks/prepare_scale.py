r"""Import-scale benchmark: wall time and peak memory of `prepare_data.py` on a large VCF.

  nice python benchmarks/prepare_scale.py                   # 5,000 haplotypes x 1,000,000 SNPs
  python benchmarks/prepare_scale.py --quick                # 200 haplotypes x 20,000 SNPs, smoke
  python benchmarks/prepare_scale.py --scratch=/big/disk --workers=2

The VCF is simulated once with msprime (2,500 diploids, the standard coalescent with
Ne = 10,000, mutation rate 2e-8 and recombination rate 1e-8 per bp per generation under the
Jukes-Cantor model, so alleles are A/C/G/T; sites with more than two alleles are dropped and the
first --snps biallelic ones kept), written as BGZF with a CSI index and cached under --scratch.
The import then runs as a subprocess (`experiments/prepare_data.py`), so its peak resident set
(and that of bio2zarr's worker processes) is measured apart from this script's, with
`resource.getrusage(RUSAGE_CHILDREN)` read after it exits. The target is a peak RSS below a
quarter of the uncompressed [haplotypes, SNPs] uint8 matrix.

Prints (and writes to --out) the command, ag_jax version, git commit, machine, the sizes, the
wall time and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

NE = 10_000
MUTATION_RATE = 2e-8
RECOMBINATION_RATE = 1e-8
# Expected segregating sites per bp: 4 Ne mu sum_{i<n} 1/i (n haplotypes); ~7.3e-3 at n = 5,000.


def _expected_sites_per_bp(num_haplotypes: int) -> float:
  harmonic = sum(1.0 / i for i in range(1, num_haplotypes))
  return 4 * NE * MUTATION_RATE * harmonic


def make_vcf(path: pathlib.Path, num_haplotypes: int, num_snps: int, seed: int = 1) -> dict:
  """Simulates and writes `path` (.vcf.gz, BGZF, with .csi); returns what was simulated."""
  import msprime  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pysam  # pylint: disable=g-import-not-at-top
  # 15% more sequence than expected needs, so that multi-allelic losses and the variance of
  # the coalescent still leave num_snps biallelic sites; retried longer if not.
  length = int(1.15 * num_snps / _expected_sites_per_bp(num_haplotypes)) + 1000
  t0 = time.time()
  for attempt in range(3):
    ts = msprime.sim_ancestry(samples=num_haplotypes // 2, ploidy=2, population_size=NE,
                              sequence_length=length, recombination_rate=RECOMBINATION_RATE,
                              random_seed=seed + attempt)
    ts = msprime.sim_mutations(ts, rate=MUTATION_RATE, model=msprime.JC69(),
                               random_seed=seed + attempt)
    num_alleles = np.array([1 + len({m.derived_state for m in s.mutations}
                                    - {s.ancestral_state}) for s in ts.sites()])
    positions = ts.tables.sites.position
    biallelic = np.nonzero((num_alleles == 2) & (positions > 0))[0]
    if biallelic.size >= num_snps:
      break
    length = int(length * 1.3 * num_snps / max(biallelic.size, 1))
  else:
    raise RuntimeError(f'the simulation gave {biallelic.size} biallelic sites < {num_snps}')
  sim_seconds = time.time() - t0
  keep = np.zeros(ts.num_sites, bool)
  keep[biallelic[:num_snps]] = True
  ts = ts.delete_sites(np.nonzero(~keep)[0])
  tmp = path.with_name(path.name + '.tmp')
  t1 = time.time()
  with pysam.BGZFile(str(tmp), 'wb') as f:

    class _Text:  # tskit writes str; BGZFile takes bytes.

      def write(self, s):
        f.write(s.encode())

    ts.write_vcf(_Text(), contig_id='1')
  os.replace(tmp, path)
  pysam.tabix_index(str(path), preset='vcf', csi=True, force=True)
  info = {'simulator': f'msprime {msprime.__version__}', 'samples_diploid': num_haplotypes // 2,
          'sequence_length': length, 'Ne': NE, 'mutation_rate': MUTATION_RATE,
          'recombination_rate': RECOMBINATION_RATE, 'mutation_model': 'JC69',
          'num_snps': int(ts.num_sites), 'seed': seed + attempt,
          'simulate_seconds': round(sim_seconds, 1), 'write_seconds': round(time.time() - t1, 1)}
  path.with_name(path.name + '.json').write_text(json.dumps(info, indent=2) + '\n')
  return info


def _git_commit() -> str:
  try:
    out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(['git', 'status', '--porcelain', '--', 'ag_jax', 'experiments'],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return out + ('+uncommitted' if dirty else '')
  except (OSError, subprocess.CalledProcessError):
    return 'unknown'


def _version() -> str:
  try:
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    return metadata.version('ag_jax')
  except Exception:  # pylint: disable=broad-except
    return 'unknown'


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='200 haplotypes x 20,000 SNPs.')
  p.add_argument('--haplotypes', type=int, default=None, help='default 5,000 (200 with --quick)')
  p.add_argument('--snps', type=int, default=None, help='default 1,000,000 (20,000 with --quick)')
  p.add_argument('--scratch', default='~/.cache/ag_jax/bench',
                 help='where the simulated VCF is cached and the store is written')
  p.add_argument('--workers', type=int, default=1, help='prepare_data.py --workers')
  p.add_argument('--out', default=None, help='also write the report here (default: print only)')
  args = p.parse_args()
  n = args.haplotypes or (200 if args.quick else 5000)
  s = args.snps or (20_000 if args.quick else 1_000_000)
  scratch = pathlib.Path(args.scratch).expanduser()
  scratch.mkdir(parents=True, exist_ok=True)
  vcf = scratch / f'msprime_{n}x{s}.vcf.gz'
  if not vcf.exists():
    print(f'simulating {vcf} (once) ...', flush=True)
    make_vcf(vcf, n, s)
  sim = json.loads(vcf.with_name(vcf.name + '.json').read_text())
  store = scratch / f'store_{n}x{s}'
  cmd = [sys.executable, str(ROOT / 'experiments' / 'prepare_data.py'), f'--input={vcf}',
         f'--output={store}', '--overwrite', f'--workers={args.workers}']
  print('import:', shlex.join(cmd), flush=True)
  t0 = time.perf_counter()
  r = subprocess.run(cmd, check=False)
  wall = time.perf_counter() - t0
  peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
  matrix = n * s
  meta = json.loads((store / 'metadata.json').read_text()) if r.returncode == 0 else {}
  store_bytes = sum(f.stat().st_size for f in store.rglob('*') if f.is_file()) if meta else 0
  report = {
      'command': shlex.join([sys.executable, *sys.argv]),
      'ag_jax_version': _version(), 'git_commit': _git_commit(),
      'machine': {'node': platform.node(), 'cpu': platform.processor() or platform.machine(),
                  'cpus': os.cpu_count(), 'python': platform.python_version()},
      'vcf': {'path': str(vcf), 'bytes': vcf.stat().st_size, **sim},
      'import_exit_status': r.returncode,
      'stored_shape': [meta.get('num_haplotypes'), meta.get('num_snps')],
      'store_bytes': store_bytes,
      'wall_seconds': round(wall, 1),
      'peak_rss_bytes': peak,
      'matrix_bytes': matrix,
      'peak_rss_over_matrix': round(peak / matrix, 4),
      'target': 'peak_rss_over_matrix < 0.25',
      'target_met': peak < matrix / 4,
  }
  text = json.dumps(report, indent=2)
  print(text)
  print(f'\n{n} haplotypes x {s} SNPs: import {wall:.0f} s wall, peak RSS '
        f'{peak / 2**30:.2f} GiB = {peak / matrix:.1%} of the {matrix / 1e9:.2f} GB matrix '
        f'(target < 25%: {"met" if report["target_met"] else "NOT met"})')
  if args.out:
    pathlib.Path(args.out).write_text(text + '\n')
  if store.exists() and meta:
    shutil.rmtree(store)  # the benchmark's own output; the cached VCF stays.
  sys.exit(r.returncode)


if __name__ == '__main__':
  main()
