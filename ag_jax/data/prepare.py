"""Import haplotypes into a training store: filters, train/test split, atomic write.

The store is a directory:

  haplotypes/     zarr v3 array (tensorstore), uint8 0/1, [num_haplotypes, num_snps], chunks
                  [ROW_CHUNK, SNP_CHUNK] with blosc-zstd + bitshuffle: a 0/1 byte compresses to
                  about a bit or less; 16 rows x 16,384 SNPs = 256 KiB per chunk keeps random
                  batches to few reads per row and the chunk count manageable at 10^6 SNPs.
  variants.tsv    chrom pos id ref alt
  samples.tsv     haplotype individual population super_population split
  metadata.json   format marker, shapes, sources, filters, what was skipped

Import streams (docs/data.md): a VCF is converted by bio2zarr to a VCF Zarr inside the
temporary sibling of the output; one pass over its genotype chunks checks them and counts
alleles (the MAF filter), a second writes the kept SNPs into the store one column slab of
SNP_CHUNK SNPs x at most ROW_BLOCK haplotypes at a time. The full [haplotypes, SNPs] matrix is
never held (a .hapt input is, once: it is small by nature).

The store is built in a temporary sibling directory and swapped into place only when
complete, so a failure never leaves a half-written DIR and --overwrite keeps the old store
until the new one is whole. --overwrite replaces only a directory that is an ag_jax store.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import ctypes.util
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Sequence

import numpy as np

from ag_jax.data import readers
from ag_jax.data.readers import DataError

ROW_CHUNK = 16
SNP_CHUNK = 16384
ROW_BLOCK_SAMPLES = 4096  # samples per write block: 8,192 haplotypes x 16,384 SNPs = 128 MiB
FORMAT = 'ag_jax-haplotypes-v1'  # metadata.json "format": marks a directory ag_jax wrote
STORE_ENTRIES = frozenset({'haplotypes', 'variants.tsv', 'samples.tsv', 'metadata.json'})
VARIANT_COLUMNS = ('chrom', 'pos', 'id', 'ref', 'alt')
SAMPLE_COLUMNS = ('haplotype', 'individual', 'population', 'super_population', 'split')


def create_haplotype_array(path: pathlib.Path, shape: tuple[int, int]):
  """Creates the uint8 [haplotypes, snps] zarr v3 array with tensorstore."""
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  spec = {
      'driver': 'zarr3',
      'kvstore': {'driver': 'file', 'path': str(path)},
      'metadata': {
          'shape': list(shape),
          'data_type': 'uint8',
          'chunk_grid': {'name': 'regular', 'configuration': {
              'chunk_shape': [min(ROW_CHUNK, max(shape[0], 1)), min(SNP_CHUNK, max(shape[1], 1))]}},
          'codecs': [{'name': 'bytes'},
                     {'name': 'blosc', 'configuration': {
                         'cname': 'zstd', 'clevel': 5, 'shuffle': 'bitshuffle', 'typesize': 1}}],
          'fill_value': 0,
      },
      'create': True,
  }
  return ts.open(spec).result()


# ----------------------------------------------------------------------------- options


def check_options(*, min_maf: float, test_fraction: float, workers: int = 0):
  """Refuses out-of-range options with a message naming the flag."""
  if not 0.0 < test_fraction < 1.0:  # also refuses NaN
    raise DataError(f'--test_fraction={test_fraction}: must be above 0 and below 1 (the '
                    'fraction of individuals held out for testing, e.g. 0.2).')
  if not 0.0 <= min_maf < 0.5:
    raise DataError(f'--min_maf={min_maf}: must be at least 0 and below 0.5 (a minor allele '
                    'frequency; 0 keeps every biallelic SNP).')
  if workers < 0:
    raise DataError(f'--workers={workers}: must be 0 (convert in this process) or a number '
                    'of worker processes.')


def check_split(num_individuals: int, test_fraction: float, where: str):
  """Refuses a split with an empty train or test side, saying what to do."""
  n = num_individuals
  n_test = int(round(test_fraction * n))
  if n < 2:
    raise DataError(f'{where}: {n} individual(s); a train/test split needs at least two '
                    '(give a file with more samples).')
  if n_test == 0:
    raise DataError(f'--test_fraction={test_fraction}: holds out none of the {n} individuals '
                    f'of {where} (a store needs a test split); raise it to at least '
                    f'{min(0.99, 1.0 / n):.3g} or give more individuals.')
  if n_test >= n:
    raise DataError(f'--test_fraction={test_fraction}: holds out all {n} individuals of '
                    f'{where}, leaving none to train on; lower it.')


def split_individuals(individuals: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
  """'train'/'test' per haplotype; both haplotypes of an individual land on the same side."""
  if not 0.0 < test_fraction < 1.0:
    raise DataError(f'test_fraction must be in (0, 1), got {test_fraction}.')
  unique = np.unique(individuals)
  rng = np.random.default_rng(seed)
  n_test = int(round(test_fraction * len(unique)))
  test = set(rng.permutation(unique)[:n_test].tolist())
  return np.array(['test' if i in test else 'train' for i in individuals])


# ------------------------------------------------------------------------------ output


def store_problem(path: pathlib.Path) -> str | None:
  """None if `path` is a directory ag_jax wrote as a store; otherwise why it is not.

  A store is exactly the four STORE_ENTRIES with a metadata.json carrying FORMAT, or (stores
  written before the marker) the same exact layout with the metadata keys ag_jax writes.
  """
  if not path.is_dir() or path.is_symlink():
    return 'it is not a directory'
  entries = {p.name for p in path.iterdir()}
  if entries - STORE_ENTRIES:
    return f'it holds files an ag_jax store does not have ({", ".join(sorted(entries - STORE_ENTRIES)[:5])})'
  if entries != STORE_ENTRIES:
    return f'it lacks {", ".join(sorted(STORE_ENTRIES - entries))} of an ag_jax store'
  try:
    meta = json.loads((path / 'metadata.json').read_text())
  except (OSError, ValueError, UnicodeDecodeError):
    return 'its metadata.json is not the JSON ag_jax writes'
  if not isinstance(meta, dict):
    return 'its metadata.json is not the JSON ag_jax writes'
  if meta.get('format') == FORMAT:
    return None
  legacy = {'num_haplotypes', 'num_snps', 'num_train', 'num_test', 'filters', 'skipped'}
  has_array = (path / 'haplotypes' / 'zarr.json').is_file()
  if 'format' not in meta and legacy <= meta.keys() and has_array:
    return None
  return f'its metadata.json has no "format": "{FORMAT}" marker'


def _check_output(output: pathlib.Path, overwrite: bool):
  if not (output.exists() or output.is_symlink()):
    return
  if not output.is_dir() or output.is_symlink():
    raise DataError(f'--output={output}: exists and is not a directory; choose another '
                    '--output (ag_jax does not replace files it did not write).')
  if not any(output.iterdir()):
    return
  problem = store_problem(output)
  if problem:
    raise DataError(f'--output={output}: exists and is not an ag_jax store ({problem}); ag_jax '
                    'replaces only stores it wrote, so nothing was touched: choose another '
                    '--output, or move the directory away yourself.')
  if not overwrite:
    raise DataError(f'--output={output}: an ag_jax store is already there; pass --overwrite '
                    'to replace it (the old one is kept until the new one is complete) or '
                    'choose another --output.')


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def _make_tmp(output: pathlib.Path) -> pathlib.Path:
  """The temporary sibling the store is built in, with the user's umask (not mkdtemp's 0700)."""
  try:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f'.{output.name}.tmp-', dir=output.parent))
    os.chmod(tmp, 0o777 & ~_umask())
  except OSError as e:
    ancestor = next((a for a in output.parents if a.exists()), None)
    why = (f'{ancestor} is a file, not a directory' if ancestor and not ancestor.is_dir()
           else e.strerror or str(e))
    raise DataError(f'--output={output}: cannot create the store there ({why}); choose a '
                    'directory you can write to.') from e
  return tmp


_RENAME_EXCHANGE = 2


def _exchange(a: pathlib.Path, b: pathlib.Path) -> bool:
  """Atomically swaps two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
    renameat2 = libc.renameat2
  except (OSError, AttributeError):
    return False
  at_fdcwd = -100
  renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                        ctypes.c_uint]
  if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
    return True
  return False  # e.g. a file system without RENAME_EXCHANGE: the caller falls back


def _commit(tmp: pathlib.Path, output: pathlib.Path, overwrite: bool):
  """Moves the finished store into place; an existing store is swapped out, then removed."""
  if not (output.exists() or output.is_symlink()):
    try:
      os.rename(tmp, output)
      return
    except OSError as e:  # another process made it meanwhile (e.g. the bundled-data cache)
      if not output.exists():
        raise DataError(f'--output={output}: could not be created ({e.strerror}).') from e
  _check_output(output, overwrite)  # again: it may have changed while we worked
  if _exchange(tmp, output):
    shutil.rmtree(tmp)  # now the old store (or the empty directory)
    return
  old = output.with_name(f'.{output.name}.old-{os.getpid()}')
  os.rename(output, old)
  os.rename(tmp, output)
  shutil.rmtree(old)


# ------------------------------------------------------------------------------ sources


class _HaptSource:
  """A .hapt matrix, in memory once (it is small by nature)."""

  def __init__(self, path, legend, panel):
    h = readers.read_hapt(path, legend=legend, panel=panel)
    self.g = h.genotypes
    self.variants, self.samples, self.skipped = h.variants, h.samples, dict(h.skipped)
    self.sources, self.notes = h.sources, h.notes
    self.num_haplotypes = self.g.shape[0]
    step = ROW_BLOCK_SAMPLES * 2
    self.row_blocks = [(r, min(r + step, self.num_haplotypes))
                       for r in range(0, self.num_haplotypes, step)]

  def counts(self, bar) -> np.ndarray:
    bar.update(self.g.size)
    return self.g.sum(axis=0, dtype=np.int64)

  def read(self, cols: np.ndarray, r0: int, r1: int) -> np.ndarray:
    return self.g[r0:r1, cols]


class _VczSource:
  """One or more VCF Zarr stores, streamed in blocks (VczReader)."""

  def __init__(self, inputs: readers.VczInputs):
    self.inputs = inputs
    self.variants, self.samples = inputs.variants, inputs.samples
    self.skipped, self.sources, self.notes = dict(inputs.skipped), inputs.sources, inputs.notes
    self.num_haplotypes = inputs.num_haplotypes
    self._blocks = {(r0, r1): (i, s0, s1)
                    for i, s0, s1, r0, r1 in inputs.row_blocks(ROW_BLOCK_SAMPLES)}
    self.row_blocks = list(self._blocks)

  def counts(self, bar) -> np.ndarray:
    """ALT allele counts over all haplotypes; checks every genotype on the way."""
    counts = np.zeros(self.inputs.num_snps, np.int64)
    cands = np.arange(self.inputs.num_snps)
    for (r0, r1), (i, s0, s1) in self._blocks.items():
      for j0, j1, block in self.inputs.readers[i].blocks(cands, s0, s1, validate=True):
        counts[j0:j1] += block.sum(axis=0, dtype=np.int64)
        bar.update(block.size)
    return counts

  def read(self, cols: np.ndarray, r0: int, r1: int) -> np.ndarray:
    i, s0, s1 = self._blocks[(r0, r1)]
    out = np.empty((r1 - r0, cols.size), np.uint8)
    for j0, j1, block in self.inputs.readers[i].blocks(cols, s0, s1, validate=False):
      out[:, j0:j1] = block
    return out


def _open_source(kind: str, inputs: Sequence[str], legend, panel, work: pathlib.Path,
                 workers: int, progress: bool):
  if kind == 'hapt':
    return _HaptSource(inputs[0], legend, panel)
  if kind == 'vcf':
    stores = []
    for i, p in enumerate(inputs):
      if progress:
        print(f'converting {p} to VCF Zarr (bio2zarr) ...', flush=True)
      stores.append((readers.convert_vcf(p, work / str(i), workers=workers, progress=progress),
                     p))
  else:
    stores = [(p, p) for p in inputs]
  source = _VczSource(readers.open_vcz_inputs(stores))
  if panel:
    source.samples = readers.apply_panel(source.samples, panel)
    source.sources = list(source.sources) + [str(panel)]
  return source


def _bar(progress: bool, total: int, desc: str):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, unit='allele', unit_scale=True, disable=not progress, desc=desc)


# ------------------------------------------------------------------------------ prepare


def prepare(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *,
            legend: str | None = None, panel: str | None = None, min_maf: float = 0.0,
            test_fraction: float = 0.2, seed: int = 0, overwrite: bool = False,
            progress: bool = True, workers: int = 0) -> dict:
  """Reads `inputs`, filters to biallelic SNPs with MAF >= min_maf, splits, writes `output`.

  `workers` is bio2zarr's worker process count for VCF conversion (0: this process).
  Returns the metadata dict (also written to `output/metadata.json`).
  """
  check_options(min_maf=min_maf, test_fraction=test_fraction, workers=workers)
  if not inputs:
    raise DataError('--input: none given; pass --input=FILE (.vcf.gz, .vcz or .hapt).')
  inputs = [str(p) for p in inputs]
  kind = readers.input_kind(inputs, legend)
  for extra in (legend, panel):
    if extra:
      readers._check_exists(extra)  # pylint: disable=protected-access
  output = pathlib.Path(output).absolute()
  _check_output(output, overwrite)
  if kind == 'vcf':  # refuse what bio2zarr would choke on, before any conversion work
    ids = [readers.check_vcf(p) for p in inputs]
    readers.require_vcf_support()
    if all(i is not None for i in ids):
      check_split(sum(len(i) for i in ids), test_fraction, ', '.join(inputs))
  t0 = time.time()
  tmp = _make_tmp(output)
  try:
    source = _open_source(kind, inputs, legend, panel, tmp / 'import', workers, progress)
    t_read = time.time()
    individuals = source.samples['individual']
    check_split(len(np.unique(individuals)), test_fraction, ', '.join(inputs))
    num_h, num_c = source.num_haplotypes, source.variants['pos'].size
    if num_c == 0:
      raise DataError(f'{", ".join(inputs)}: no biallelic SNP (skipped {source.skipped}).')
    with _bar(progress, num_h * num_c, 'checking, counting') as bar:
      counts = source.counts(bar)
    t_count = time.time()
    freq = counts / num_h
    maf = np.minimum(freq, 1 - freq)
    monomorphic = counts % num_h == 0
    # min_maf=0 keeps every biallelic SNP (the papers' 805 set has 3 monomorphic columns);
    # any min_maf > 0 also drops the monomorphic ones.
    keep = (maf >= min_maf) & ~monomorphic if min_maf > 0 else np.ones(num_c, bool)
    skipped = dict(source.skipped)
    skipped['monomorphic'] = int((monomorphic & ~keep).sum())
    skipped['below_min_maf'] = int((~monomorphic & ~keep).sum())
    kept = np.nonzero(keep)[0]
    if kept.size == 0:
      raise DataError(f'{", ".join(inputs)}: no SNP left after filtering (--min_maf={min_maf}); '
                      'lower --min_maf.')
    arr = create_haplotype_array(tmp / 'haplotypes', (num_h, kept.size))
    with _bar(progress, num_h * kept.size, 'writing store') as bar:
      for c0 in range(0, kept.size, SNP_CHUNK):
        cols = kept[c0:c0 + SNP_CHUNK]
        for r0, r1 in source.row_blocks:
          arr[r0:r1, c0:c0 + cols.size].write(source.read(cols, r0, r1)).result()
          bar.update((r1 - r0) * cols.size)
    del arr
    t_write = time.time()
    shutil.rmtree(tmp / 'import', ignore_errors=True)
    variants = {k: v[kept] for k, v in source.variants.items()}
    split = split_individuals(individuals, test_fraction, seed)
    samples = dict(source.samples, split=split)
    _write_table(tmp / 'variants.tsv', VARIANT_COLUMNS, variants)
    _write_table(tmp / 'samples.tsv', SAMPLE_COLUMNS, samples)
    meta = {
        'format': FORMAT,
        'num_haplotypes': int(num_h),
        'num_snps': int(kept.size),
        'num_train': int((split == 'train').sum()),
        'num_test': int((split == 'test').sum()),
        'num_individuals': int(len(np.unique(individuals))),
        'num_monomorphic_kept': int((monomorphic & keep).sum()),
        'populations_known': bool(np.all(samples['population'] != '')),
        'chromosomes': sorted(set(variants['chrom'].tolist())),
        'sources': [str(pathlib.Path(s).resolve()) for s in source.sources],
        'filters': {'biallelic_snps_only': True, 'min_maf': min_maf,
                    'drop_monomorphic': min_maf > 0, 'test_fraction': test_fraction, 'seed': seed},
        'skipped': skipped,
        'notes': source.notes,
        'allele_coding': '1 = ALT allele, 0 = REF allele',
        'ag_jax_version': _version(),
    }
    with open(tmp / 'metadata.json', 'w') as f:
      f.write(json.dumps(meta, indent=2) + '\n')
    _commit(tmp, output, overwrite)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  if progress:
    print(f'wrote {output}: {meta["num_haplotypes"]} haplotypes x {meta["num_snps"]} SNPs '
          f'({meta["num_train"]} train / {meta["num_test"]} test); skipped {skipped} '
          f'in {time.time() - t0:.1f}s (read/convert {t_read - t0:.1f}s, check+count '
          f'{t_count - t_read:.1f}s, write {t_write - t_count:.1f}s)', flush=True)
  return meta


def _write_table(path: pathlib.Path, columns: Sequence[str], table: dict[str, np.ndarray]):
  with open(path, 'w', newline='') as f:
    w = csv.writer(f, delimiter='\t', lineterminator='\n')
    w.writerow(columns)
    w.writerows(zip(*(table[c].tolist() for c in columns)))


def _version() -> str:
  with contextlib.suppress(Exception):
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    return metadata.version('ag_jax')
  return 'unknown'
