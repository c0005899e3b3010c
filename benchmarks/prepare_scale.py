r"""Import-scale benchmark: wall time and peak memory of `prepare_data.py` on a large VCF.

  nice python benchmarks/prepare_scale.py                   # 5,000 haplotypes x 1,000,000 SNPs
  python benchmarks/prepare_scale.py --quick                # 200 haplotypes x 20,000 SNPs, smoke
  python benchmarks/prepare_scale.py --scratch=/big/disk --workers=2

The VCF is simulated once with msprime (2,500 diploids, the standard coalescent with
Ne = 10,000, mutation rate 2e-8 and recombination rate 1e-8 per bp per generation under the
Jukes-Cantor model, so alleles are A/C/G/T), in independent 10 Mb segments laid end to end on
contig 1 (msprime's cost grows faster than linearly with length); sites with more than two
alleles are dropped and the first --snps biallelic ones kept. It is written as BGZF with a CSI
index and cached under --scratch.
The import then runs as a subprocess (`experiments/prepare_data.py`), so its peak resident set
(and that of bio2zarr's worker processes) is measured apart from this script's, with
`resource.getrusage(RUSAGE_CHILDREN)` read after it exits. The target is a peak RSS below a
quarter of the uncompressed [haplotypes, SNPs] uint8 matrix.

Prints (and writes to --out) the command, ag_jax version, git commit, machine, the sizes, the
wall time and the peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
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
SEGMENT = 10_000_000  # bp simulated at a time: msprime's cost grows faster than linearly


def make_vcf(path: pathlib.Path, num_haplotypes: int, num_snps: int, seed: int = 1) -> dict:
  """Simulates and writes `path` (.vcf.gz, BGZF, with .csi); returns what was simulated.

  Independent 10 Mb segments (unlinked, like chromosome arms laid end to end on contig 1) are
  simulated until num_snps biallelic sites are written; the VCF lines are built with numpy.
  """
  import msprime  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pysam  # pylint: disable=g-import-not-at-top
  n = num_haplotypes
  tmp = path.with_name(path.name + '.tmp')
  t0 = time.time()
  written, segments, block, prefixes = 0, 0, [], []
  names = '\t'.join(f'tsk_{i}' for i in range(n // 2))
  with pysam.BGZFile(str(tmp), 'wb') as f:
    f.write(('##fileformat=VCFv4.2\n'
             f'##source=ag_jax benchmarks/prepare_scale.py (msprime {msprime.__version__}, '
             f'Ne={NE}, mu={MUTATION_RATE}, r={RECOMBINATION_RATE}, JC69, {SEGMENT} bp '
             'independent segments)\n'
             '##contig=<ID=1>\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
             f'#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{names}\n').encode())

    def flush():
      g = np.stack(block)  # [k, n] 0/1
      body = np.empty((g.shape[0], n // 2, 4), np.uint8)
      body[..., 0] = g[:, 0::2] + ord('0')
      body[..., 1] = ord('|')
      body[..., 2] = g[:, 1::2] + ord('0')
      body[..., 3] = ord('\t')
      body[:, -1, 3] = ord('\n')
      rows = body.reshape(g.shape[0], -1)
      f.write(b''.join(p + rows[i].tobytes() for i, p in enumerate(prefixes)))
      block.clear()
      prefixes.clear()

    while written < num_snps:
      ts = msprime.sim_ancestry(samples=n // 2, ploidy=2, population_size=NE,
                                sequence_length=SEGMENT, recombination_rate=RECOMBINATION_RATE,
                                random_seed=seed + segments)
      ts = msprime.sim_mutations(ts, rate=MUTATION_RATE, model=msprime.JC69(),
                                 random_seed=seed + segments)
      offset = segments * SEGMENT + 1  # 1-based, and no position 0
      for v in ts.variants():
        if len(v.alleles) != 2 or written >= num_snps:
          continue
        prefixes.append(f'1\t{int(v.site.position) + offset}\t.\t{v.alleles[0]}\t'
                        f'{v.alleles[1]}\t.\tPASS\t.\tGT\t'.encode())
        block.append(v.genotypes.astype(np.uint8))
        written += 1
        if len(block) == 4096:
          flush()
      if block:
        flush()
      segments += 1
      print(f'  segment {segments}: {written} SNPs written, {time.time() - t0:.0f} s',
            flush=True)
  os.replace(tmp, path)
  pysam.tabix_index(str(path), preset='vcf', csi=True, force=True)
  info = {'simulator': f'msprime {msprime.__version__}', 'samples_diploid': n // 2,
          'segments': segments, 'segment_bp': SEGMENT, 'Ne': NE, 'mutation_rate': MUTATION_RATE,
          'recombination_rate': RECOMBINATION_RATE, 'mutation_model': 'JC69',
          'num_snps': written, 'seed': seed, 'make_seconds': round(time.time() - t0, 1)}
  path.with_name(path.name + '.json').write_text(json.dumps(info, indent=2) + '\n')
  return info


def _git_commit() -> str:
  try:
    out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(['git', 'status', '--porcelain', '--', 'ag_jax/__init__.py',
                            'ag_jax/data', 'experiments/prepare_data.py'],  # what the import runs
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


def _poll_tree_rss(proc: subprocess.Popen, every: float = 0.2) -> int:
  """Waits for proc; returns the largest sum of RSS over it and its descendants (sampled)."""
  import psutil  # pylint: disable=g-import-not-at-top
  peak = 0
  try:
    root = psutil.Process(proc.pid)
  except psutil.NoSuchProcess:
    root = None
  while proc.poll() is None:
    total = 0
    with contextlib.suppress(psutil.Error):
      for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
          total += p.memory_info().rss
    peak = max(peak, total)
    time.sleep(every)
  return peak


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true', help='200 haplotypes x 20,000 SNPs.')
  p.add_argument('--haplotypes', type=int, default=None, help='default 5,000 (200 with --quick)')
  p.add_argument('--snps', type=int, default=None, help='default 1,000,000 (20,000 with --quick)')
  p.add_argument('--scratch', default='~/.cache/ag_jax/bench',
                 help='where the simulated VCF is cached and the store is written')
  p.add_argument('--workers', type=int, default=0,
                 help='prepare_data.py --workers (0: one process, measured exactly)')
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
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # progress bars: stderr
  tree_peak = _poll_tree_rss(proc)
  wall = time.perf_counter() - t0
  r = proc  # returncode set by _poll_tree_rss's wait()
  out_lines = proc.stdout.read().splitlines()
  print('\n'.join(out_lines), flush=True)
  # The largest RSS of any one waited-for descendant (the import, or a bio2zarr worker).
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
      'import_summary': out_lines[-1] if out_lines else '',
      'stored_shape': [meta.get('num_haplotypes'), meta.get('num_snps')],
      'store_bytes': store_bytes,
      'wall_seconds': round(wall, 1),
      'peak_rss_bytes': peak,
      'peak_rss_tree_sampled_bytes': tree_peak,
      'matrix_bytes': matrix,
      'peak_rss_over_matrix': round(max(peak, tree_peak) / matrix, 4),
      'target': 'peak_rss_over_matrix < 0.25',
      'target_met': max(peak, tree_peak) < matrix / 4,
  }
  text = json.dumps(report, indent=2)
  print(text)
  summary = (f'{n} haplotypes x {s} SNPs: import {wall:.0f} s wall, peak RSS '
        f'{peak / 2**30:.2f} GiB = {peak / matrix:.1%} of the {matrix / 1e9:.2f} GB matrix '
        f'(process tree, sampled: {tree_peak / 2**30:.2f} GiB); target < 25%: '
        f'{"met" if report["target_met"] else "NOT met"}')
  print('\n' + summary)
  if args.out:
    pathlib.Path(args.out).write_text(text + '\n\n' + summary + '\n')
  if store.exists() and meta:
    shutil.rmtree(store)  # the benchmark's own output; the cached VCF stays.
  sys.exit(r.returncode)


if __name__ == '__main__':
  main()
