"""Readers for the haplotype formats users bring: .hapt(.zip) + legend + panel, VCF, VCF Zarr.

VCFs are converted with bio2zarr (the ecosystem's VCF -> VCF Zarr converter) and the VCF Zarr
arrays are read with tensorstore (numeric arrays) and zarr-python (the string arrays, which
tensorstore's zarr drivers do not decode). There is no home-made VCF parser here: `check_vcf`
only reads the header and the file's ends to refuse what is not a VCF before bio2zarr sees it.
`VczReader` streams a VCF Zarr in blocks (what `prepare` uses); `read_vcf`/`read_vcz`/
`read_any` return the whole matrix in memory, for small sets (evaluation, tests).

Every reader validates what it reads and raises `DataError` naming the file and the record
(hapt/legend line number, or VCF `CHROM:POS` and sample).
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import io
import logging
import os
import pathlib
import shutil
import tempfile
import zipfile
import zlib
from typing import Iterator, Sequence

import numpy as np

_BASES = frozenset('ACGT')


class DataError(ValueError):
  """Bad input data: the message names the file and the record."""


@dataclasses.dataclass
class Haplotypes:
  """An in-memory haplotype matrix with its variant and sample tables.

  genotypes: [num_haplotypes, num_snps] uint8 in {0, 1} (1 = ALT allele).
  variants: chrom, pos, id, ref, alt -> arrays of length num_snps.
  samples: haplotype, individual, population, super_population -> arrays of num_haplotypes.
  """
  genotypes: np.ndarray
  variants: dict[str, np.ndarray]
  samples: dict[str, np.ndarray]
  skipped: dict[str, int] = dataclasses.field(default_factory=dict)
  sources: list[str] = dataclasses.field(default_factory=list)
  notes: list[str] = dataclasses.field(default_factory=list)


def _check_exists(path: str | os.PathLike) -> pathlib.Path:
  p = pathlib.Path(path)
  if not p.exists():
    where = '' if p.is_absolute() else (
        f' (a relative path is taken from the current directory, {os.getcwd()}; give an '
        'absolute path or run from the directory it is relative to)')
    raise DataError(f'{p}: no such file or directory{where}.')
  if p.is_file() and p.stat().st_size == 0:
    raise DataError(f'{p}: the file is empty.')
  return p


# ---------------------------------------------------------------------------------- hapt


def _hapt_lines(path: pathlib.Path) -> Iterator[str]:
  if path.suffix == '.zip':
    try:
      zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
      raise DataError(f'{path}: not a zip archive ({e}); give a .hapt file or a .hapt.zip '
                      'holding one.') from e
    with zf:
      members = [n for n in zf.namelist() if not n.endswith('/')]
      if len(members) != 1:
        raise DataError(f'{path}: expected one .hapt member in the zip, found {members}.')
      with zf.open(members[0]) as f:
        yield from io.TextIOWrapper(f, encoding='ascii', errors='replace')
  else:
    with open(path, encoding='ascii', errors='replace') as f:
      yield from f


def read_hapt_matrix(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Reads a .hapt(.zip): (tags [n], ids [n], genotypes uint8 [n, snps]). Validates each line.

  The alleles are appended to one growing buffer that becomes the matrix without a copy.
  """
  path = _check_exists(path)
  tags, ids = [], []
  buf = bytearray()
  width = None
  for lineno, line in enumerate(_hapt_lines(path), start=1):
    fields = line.split()
    if not fields:
      continue
    if width is None:
      width = len(fields)
      if width < 3:
        raise DataError(f'{path}:{lineno}: a hapt line needs a tag, an id and at least one '
                        f'allele; found {width} column(s).')
    elif len(fields) != width:
      raise DataError(f'{path}:{lineno}: {len(fields)} columns, but line 1 has {width}; '
                      'every haplotype must have the same number of SNPs.')
    alleles = ''.join(fields[2:]).encode('ascii', errors='replace')
    values = np.frombuffer(alleles, dtype=np.uint8) - ord('0')
    if values.size != width - 2 or np.any(values > 1):
      bad = next(i for i, v in enumerate(fields[2:]) if v not in ('0', '1'))
      raise DataError(f'{path}:{lineno}: value {fields[2 + bad]!r} in SNP column {bad + 1} '
                      f'(haplotype {fields[1]}); alleles must be 0 or 1.')
    tags.append(fields[0])
    ids.append(fields[1])
    buf += alleles
  if not ids:
    raise DataError(f'{path}: the file is empty (no haplotype lines).')
  g = np.frombuffer(buf, dtype=np.uint8).reshape(len(ids), width - 2)
  g -= ord('0')  # in place: '0'/'1' bytes -> 0/1
  return np.array(tags), np.array(ids), g


def read_legend(path: str | os.PathLike, num_snps: int | None = None) -> dict[str, np.ndarray]:
  """Reads an `id position a0 a1` legend. `id` like `15:27379578_C_A` gives the chromosome."""
  path = _check_exists(path)
  with open(path) as f:
    lines = [l.split() for l in f]
  lines = [l for l in lines if l]
  if not lines:
    raise DataError(f'{path}: the legend is empty.')
  header = lines[0]
  if header[:4] != ['id', 'position', 'a0', 'a1']:
    raise DataError(f'{path}:1: expected the header "id position a0 a1", found {header}.')
  rows = lines[1:]
  for i, r in enumerate(rows, start=2):
    if len(r) < 4:
      raise DataError(f'{path}:{i}: expected 4 columns (id position a0 a1), found {len(r)}.')
    if not r[1].isdigit():
      raise DataError(f'{path}:{i}: position {r[1]!r} is not a whole number.')
  if num_snps is not None and len(rows) != num_snps:
    raise DataError(f'{path}: the legend has {len(rows)} SNP rows but the haplotype file has '
                    f'{num_snps} SNP columns; they must match one to one.')
  ids = np.array([r[0] for r in rows])
  chrom = np.array([r[0].split(':')[0] if ':' in r[0] else '.' for r in rows])
  return {'chrom': chrom, 'pos': np.array([int(r[1]) for r in rows], dtype=np.int64),
          'id': ids, 'ref': np.array([r[2] for r in rows]), 'alt': np.array([r[3] for r in rows])}


def read_panel(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
  """1000G panel (`sample pop super_pop gender`) -> {sample: (pop, super_pop)}."""
  path = _check_exists(path)
  out = {}
  with open(path) as f:
    for lineno, line in enumerate(f, start=1):
      fields = line.split()
      if not fields or (lineno == 1 and fields[0] == 'sample'):
        continue
      if len(fields) < 3:
        raise DataError(f'{path}:{lineno}: expected "sample pop super_pop [gender]".')
      out[fields[0]] = (fields[1], fields[2])
  return out


def _individual_of(hap_id: str) -> str:
  for suffix in ('_A', '_B', '_0', '_1', '.0', '.1'):
    if hap_id.endswith(suffix):
      return hap_id[:-len(suffix)]
  return hap_id


def _label(individuals: np.ndarray, panel: dict[str, tuple[str, str]] | None):
  pop = np.array([panel.get(i, ('', ''))[0] if panel else '' for i in individuals], dtype=object)
  sup = np.array([panel.get(i, ('', ''))[1] if panel else '' for i in individuals], dtype=object)
  return pop.astype(str), sup.astype(str)


def read_hapt(path, legend=None, panel=None) -> Haplotypes:
  """A .hapt(.zip) with an optional legend (variant table) and 1000G panel (populations)."""
  _, ids, g = read_hapt_matrix(path)
  if legend:
    variants = read_legend(legend, num_snps=g.shape[1])
  else:
    n = g.shape[1]
    variants = {'chrom': np.full(n, '.'), 'pos': np.arange(1, n + 1, dtype=np.int64),
                'id': np.array([f'snp{i}' for i in range(n)]), 'ref': np.full(n, 'N'),
                'alt': np.full(n, 'N')}
  individuals = np.array([_individual_of(h) for h in ids])
  pop, sup = _label(individuals, read_panel(panel) if panel else None)
  samples = {'haplotype': ids, 'individual': individuals, 'population': pop,
             'super_population': sup}
  return Haplotypes(g, variants, samples, sources=[str(p) for p in (path, legend, panel) if p])


# ----------------------------------------------------------------------------------- VCF

# The empty BGZF block htslib writes at the end of every BGZF file (SAM/BAM spec 4.1.2).
_BGZF_EOF = bytes.fromhex('1f8b08040000000000ff0600424302001b0003000000000000000000')
_MAGIC = [(b'\x89PNG', 'a PNG image'), (b'PK\x03\x04', 'a zip archive'),
          (b'%PDF', 'a PDF document'), (b'\xff\xd8\xff', 'a JPEG image'),
          (b'BZh', 'bzip2-compressed data'), (b'\xfd7zXZ', 'xz-compressed data'),
          (b'\x28\xb5\x2f\xfd', 'zstd-compressed data')]


def _what_is(head: bytes) -> str:
  for magic, what in _MAGIC:
    if head.startswith(magic):
      return what
  text = head[:40].decode('ascii', errors='replace').splitlines()
  return f'a file starting with {text[0]!r}' if text and text[0].strip() else 'not text'


def _is_bgzf(head: bytes) -> bool:
  return len(head) >= 16 and head[:2] == b'\x1f\x8b' and bool(head[3] & 4) and head[12:14] == b'BC'


def check_vcf(path: str | os.PathLike) -> list[str] | None:
  """Checks a VCF before conversion; returns its sample ids (None for BCF, left to htslib).

  Refuses, naming the file: a directory, an empty file, another format (e.g. a PNG named
  .vcf), a truncated BGZF or gzip file, a header without `#CHROM`, a VCF with no samples, and
  a header with no records. Plain (non-BGZF) gzip is decompressed once to check its end;
  BGZF is checked by its end-of-file block, so a large bgzipped VCF costs nothing here.
  """
  path = _check_exists(path)
  if path.is_dir():
    raise DataError(f'{path}: is a directory, not a VCF file.')
  with open(path, 'rb') as f:
    head = f.read(64)
  gz = head[:2] == b'\x1f\x8b'
  if _is_bgzf(head):
    with open(path, 'rb') as f:
      f.seek(-len(_BGZF_EOF), os.SEEK_END)
      if f.read() != _BGZF_EOF:
        raise DataError(f'{path}: truncated (the BGZF end-of-file block is missing); the copy '
                        'is incomplete: copy or download it again.')
  elif not gz and head.startswith(b'BCF'):
    return None
  opener = gzip.open if gz else open
  samples = None
  try:
    with opener(path, 'rb') as f:
      first = f.readline(1 << 20)
      if gz and first.startswith(b'BCF'):
        return None
      if not first.startswith(b'##fileformat=VCF'):
        what = ('gzip-compressed ' + _what_is(first)) if gz else _what_is(head)
        raise DataError(f'{path}: not a VCF (it is {what}; a VCF starts with '
                        '"##fileformat=VCF"); give a phased .vcf, .vcf.gz or .bcf file.')
      for line in f:
        if line.startswith(b'#CHROM'):
          columns = line.rstrip(b'\r\n').split(b'\t')
          samples = [c.decode('utf-8', errors='replace') for c in columns[9:]]
          break
        if not line.startswith(b'##'):
          break
      if samples is None:
        raise DataError(f'{path}: the header has no "#CHROM" line; is this a complete VCF?')
      record = f.readline()
      if not record.strip():
        raise DataError(f'{path}: has a header but no variant records; give a VCF with '
                        'records (bcftools view -H FILE | head shows them).')
      if gz and not _is_bgzf(head):
        while f.read(1 << 24):  # gzip checks the length and CRC at the end of the stream.
          pass
  except (EOFError, OSError, zlib.error) as e:
    raise DataError(f'{path}: truncated or corrupt compressed data ({e}); copy or download '
                    'it again.') from e
  if not samples:
    raise DataError(f'{path}: has no samples (no genotype columns after FORMAT); ag_jax needs '
                    'phased genotypes (GT) of several individuals.')
  return samples


def require_vcf_support():
  """Raises DataError naming the missing package if VCF import cannot work here."""
  for module, package in (('bio2zarr.vcf', 'bio2zarr[vcf]'), ('cyvcf2', 'bio2zarr[vcf]')):
    try:
      importlib.import_module(module)
    except ImportError as e:
      raise DataError(f'reading VCF needs the Python package {e.name or module}, which is not '
                      f'installed ({e}); install it with pip install "{package}" (pip install '
                      '-e . in an ag_jax checkout installs it).') from e


def convert_vcf(path: str | os.PathLike, out_dir: str | os.PathLike, *, workers: int = 0,
                progress: bool = False) -> pathlib.Path:
  """VCF(.gz)/BCF -> VCF Zarr (zarr v3) with bio2zarr's explode + encode; returns its path.

  The intermediate columnar format goes beside it in `out_dir` and is removed once encoded.
  `workers` is bio2zarr's worker process count (0: in this process; more than one partition
  needs a .csi/.tbi index). Errors name the file.
  """
  require_vcf_support()
  from bio2zarr import vcf as b2z_vcf  # pylint: disable=g-import-not-at-top
  path = _check_exists(path)
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  icf = out_dir / (path.name + '.icf')
  out = out_dir / (path.name + '.vcz')
  quiet = logging.getLogger('bio2zarr')  # its "total records unknown" warning (no index)
  level = quiet.level
  quiet.setLevel(logging.ERROR)
  try:
    b2z_vcf.explode(str(icf), [str(path)], worker_processes=workers, show_progress=progress)
    b2z_vcf.encode(str(icf), str(out), worker_processes=workers, show_progress=progress,
                   zarr_format=3)
  except ImportError as e:
    raise DataError(f'reading VCF needs the Python package {e.name}, which is not installed; '
                    'install it with pip install "bio2zarr[vcf]".') from e
  except Exception as e:  # bio2zarr raises many types; name the file for the user.
    raise DataError(f'{path}: bio2zarr could not convert it ({type(e).__name__}: {e}); check '
                    'it with bcftools view.') from e
  finally:
    quiet.setLevel(level)
    shutil.rmtree(icf, ignore_errors=True)
  return out


# ------------------------------------------------------------------------------ VCF Zarr


def _ts_array(vcz: pathlib.Path, name: str):
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  meta = vcz / name
  if not meta.exists():
    raise DataError(f'{vcz}: not a VCF Zarr store (no {name} array); make one with bio2zarr '
                    '(vcf2zarr convert FILE.vcf.gz FILE.vcz).')
  driver = 'zarr3' if (meta / 'zarr.json').exists() else 'zarr'
  return ts.open({'driver': driver, 'kvstore': {'driver': 'file', 'path': str(meta)}},
                 read=True).result()


def _zarr_strings(vcz: pathlib.Path, name: str, start: int = 0,
                  stop: int | None = None) -> np.ndarray:
  """A string array (or a slice of its first axis) as numpy `str`; zarr v2 or v3."""
  import zarr  # pylint: disable=g-import-not-at-top
  if not (vcz / name).exists():
    raise DataError(f'{vcz}: not a VCF Zarr store (no {name} array).')
  values = np.asarray(zarr.open_array(str(vcz / name), mode='r')[start:stop])
  return np.array(values.tolist(), dtype=str) if values.size else values.astype('U1')


@dataclasses.dataclass
class VczSites:
  """The biallelic SNP records of a VCF Zarr, and counts of the records skipped.

  records: int64 [num_snps], the kept record indices (sorted).
  variants: chrom, pos, id, ref, alt -> arrays [num_snps] of the kept records.
  """
  num_records: int
  records: np.ndarray
  variants: dict[str, np.ndarray]
  skipped: dict[str, int]


def vcz_sites(vcz: pathlib.Path, block: int = 1 << 17) -> VczSites:
  """Reads the site arrays in blocks of records; keeps only what the kept SNPs need."""
  vcz = pathlib.Path(vcz)
  contigs = _zarr_strings(vcz, 'contig_id')
  contig_idx = _ts_array(vcz, 'variant_contig').read().result()
  pos = _ts_array(vcz, 'variant_position').read().result().astype(np.int64)
  num = len(pos)
  has_id = (vcz / 'variant_id').exists()
  records, refs, alts, ids = [], [], [], []
  multi = not_snp = 0
  for start in range(0, num, block):
    alleles = _zarr_strings(vcz, 'variant_allele', start, start + block)  # [b, max_alleles]
    if alleles.ndim == 1:
      alleles = alleles[:, None]
    n_alleles = (alleles != '').sum(axis=1)
    ref = alleles[:, 0]
    alt = alleles[:, 1] if alleles.shape[1] > 1 else np.full(len(ref), '')
    snp = (np.char.str_len(ref) == 1) & (np.char.str_len(alt) == 1)
    snp &= np.isin(ref, list(_BASES)) & np.isin(alt, list(_BASES))
    keep = (n_alleles == 2) & snp
    multi += int((n_alleles > 2).sum())
    not_snp += int(((n_alleles <= 2) & ~keep).sum())
    idx = np.nonzero(keep)[0]
    records.append(idx + start)
    refs.append(ref[idx].astype('U1'))
    alts.append(alt[idx].astype('U1'))
    if has_id:
      ids.append(_zarr_strings(vcz, 'variant_id', start, start + block)[idx])
  records = np.concatenate(records) if records else np.zeros(0, np.int64)
  variants = {'chrom': contigs[contig_idx[records]] if records.size else np.zeros(0, 'U1'),
              'pos': pos[records],
              'id': np.concatenate(ids) if has_id and ids else np.full(records.size, '.'),
              'ref': np.concatenate(refs) if refs else np.zeros(0, 'U1'),
              'alt': np.concatenate(alts) if alts else np.zeros(0, 'U1')}
  return VczSites(num, records.astype(np.int64), variants,
                  {'multi_allelic': multi, 'not_snp': not_snp})


def vcz_sample_ids(vcz: pathlib.Path) -> np.ndarray:
  return _zarr_strings(pathlib.Path(vcz), 'sample_id')


class VczReader:
  """Streams haplotype blocks of the biallelic SNPs of one VCF Zarr store (bio2zarr layout).

  Reads go through tensorstore in spans of whole variant chunks of at most ~`budget` bytes
  (32 MiB of int8 genotypes: the span, its checks and its transposed copy stay near 150 MiB),
  so memory is bounded by the block asked for, never the whole [samples, variants] array.
  """

  def __init__(self, vcz: str | os.PathLike, source: str | None = None):
    self.path = _check_exists(vcz)
    self.source = source or str(vcz)
    if not self.path.is_dir():
      raise DataError(f'{self.path}: a VCF Zarr store is a directory; this is a file.')
    self.gt = _ts_array(self.path, 'call_genotype')
    if self.gt.ndim != 3:
      raise DataError(f'{self.path}: call_genotype has {self.gt.ndim} dimensions, expected 3 '
                      '(variants, samples, ploidy).')
    self.phased = (_ts_array(self.path, 'call_genotype_phased')
                   if (self.path / 'call_genotype_phased').exists() else None)
    self.sample_ids = vcz_sample_ids(self.path)
    self.sites = vcz_sites(self.path)
    self.num_samples = int(self.gt.shape[1])
    self.ploidy = int(self.gt.shape[2])
    self.variant_chunk = int(self.gt.chunk_layout.read_chunk.shape[0] or 1000)

  def _where(self, cand: int, sample: int) -> str:
    v = self.sites.variants
    return (f'{self.source}: record {v["chrom"][cand]}:{v["pos"][cand]}, sample '
            f'{self.sample_ids[sample]}')

  def _validate(self, g: np.ndarray, ph: np.ndarray | None, cands: np.ndarray, s0: int):
    """g: int8 [k, samples, ploidy] of kept records `cands` (candidate indices)."""
    if self.ploidy != 2 or np.any(g[..., 1] == -2):
      if self.ploidy > 2 and np.any(g[..., 2:] >= -1):
        v, s = np.argwhere((g[..., 2:] >= -1).any(-1))[0]
        raise DataError(f'{self._where(cands[v], s0 + s)}: a polyploid call (more than 2 '
                        'alleles); only diploid phased genotypes can be split into haplotypes.')
      hap = (g[..., 1] == -2) if self.ploidy >= 2 else np.ones(g.shape[:2], bool)
      if hap.any():
        v, s = np.argwhere(hap)[0]
        raise DataError(f'{self._where(cands[v], s0 + s)}: a haploid call; only diploid phased '
                        'genotypes can be split into two haplotypes.')
    if np.any(g[..., :2] < 0):
      v, s, _ = np.argwhere(g[..., :2] < 0)[0]
      raise DataError(f'{self._where(cands[v], s0 + s)}: a missing genotype (.); impute or drop '
                      'missing calls before import.')
    if ph is not None and not ph.all():
      v, s = np.argwhere(~ph)[0]
      raise DataError(f'{self._where(cands[v], s0 + s)}: an unphased genotype (a/b); ag_jax '
                      'needs phased haplotypes (a|b): phase the data first (e.g. SHAPEIT, '
                      'Beagle).')

  def blocks(self, cands: np.ndarray, s0: int = 0, s1: int | None = None, *,
             validate: bool = True, budget: int = 32 << 20
             ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yields (j0, j1, uint8 [2 * (s1 - s0), j1 - j0]) for the SNPs cands[j0:j1].

    `cands` are sorted indices into `sites.records` (the kept SNPs); haplotype 2s is the
    first allele of sample s. With `validate`, phasing, missing calls and ploidy are checked
    and a `DataError` names the record (`CHROM:POS`) and the sample.
    """
    s1 = self.num_samples if s1 is None else s1
    records = self.sites.records[cands]
    chunk = self.variant_chunk
    span = max(chunk, budget // max(1, (s1 - s0) * self.ploidy) // chunk * chunk)
    j = 0
    while j < records.size:
      v0 = int(records[j]) // chunk * chunk
      j1 = int(np.searchsorted(records, v0 + span, side='left'))
      v1 = int(records[j1 - 1]) + 1
      idx = records[j:j1] - v0
      every = idx.size == v1 - v0  # all records of the span kept: no gather copy
      g = self.gt[v0:v1, s0:s1].read().result()  # int8 [k, S, P]
      g = g if every else g[idx]
      if validate:
        ph = (self.phased[v0:v1, s0:s1].read().result() if self.phased is not None else None)
        ph = ph if ph is None or every else ph[idx]
        self._validate(g, ph, cands[j:j1], s0)
      # 0/1 after validation (pass 1 checks every genotype before pass 2 reads unchecked).
      yield j, j1, g[..., :2].view(np.uint8).transpose(1, 2, 0).reshape(-1, j1 - j)
      j = j1


@dataclasses.dataclass
class VczInputs:
  """One or more VCF Zarr stores with the same sites; their samples are concatenated."""
  readers: list[VczReader]
  offsets: list[int]  # first haplotype row of each store
  variants: dict[str, np.ndarray]
  samples: dict[str, np.ndarray]
  skipped: dict[str, int]
  sources: list[str]
  notes: list[str]

  @property
  def num_haplotypes(self) -> int:
    return int(sum(2 * r.num_samples for r in self.readers))

  @property
  def num_snps(self) -> int:
    return int(self.variants['pos'].size)

  def row_blocks(self, max_samples: int = 4096) -> list[tuple[int, int, int, int, int]]:
    """(store, first sample, end sample, first row, end row) blocks of <= max_samples."""
    out = []
    for i, (r, off) in enumerate(zip(self.readers, self.offsets)):
      for s in range(0, r.num_samples, max_samples):
        e = min(r.num_samples, s + max_samples)
        out.append((i, s, e, off + 2 * s, off + 2 * e))
    return out


def sample_table(ids_per_source: Sequence[Sequence[str]], sources: Sequence[str]):
  """Haplotype and individual names; prefixes the file name if names repeat across files."""
  all_ids = [s for ids in ids_per_source for s in ids]
  clash = len(set(all_ids)) < len(all_ids)
  individuals, haplotypes = [], []
  for ids, source in zip(ids_per_source, sources):
    prefix = pathlib.Path(source).name.split('.')[0] + ':' if clash else ''
    for s in ids:
      individuals += [prefix + s] * 2
      haplotypes += [f'{prefix}{s}_A', f'{prefix}{s}_B']
  notes = (['sample names repeat across input files; individuals were prefixed with the file '
            'name to keep them distinct'] if clash else [])
  n = len(individuals)
  return ({'haplotype': np.array(haplotypes, dtype=str), 'individual':
           np.array(individuals, dtype=str), 'population': np.full(n, ''),
           'super_population': np.full(n, '')}, notes)


def open_vcz_inputs(stores: Sequence[tuple[str | os.PathLike, str]]) -> VczInputs:
  """Opens (path, name for messages) stores; checks they hold the same sites."""
  readers = [VczReader(p, source) for p, source in stores]
  first = readers[0]
  for r in readers[1:]:
    _check_same_sites(first.sites, first.source, r.sites, r.source)
  samples, notes = sample_table([r.sample_ids.tolist() for r in readers],
                                [r.source for r in readers])
  offsets = np.cumsum([0] + [2 * r.num_samples for r in readers[:-1]]).tolist()
  return VczInputs(readers, offsets, dict(first.sites.variants), samples,
                   dict(first.sites.skipped), [r.source for r in readers], notes)


def _check_same_sites(a: VczSites, a_src: str, b: VczSites, b_src: str):
  if a.num_records != b.num_records:
    raise DataError(f'{b_src}: {b.num_records} records, but {a_src} has {a.num_records}; VCFs '
                    'given together must hold the same sites (their samples are concatenated).')
  n = min(a.records.size, b.records.size)
  diff = np.nonzero(a.records[:n] != b.records[:n])[0]
  i = int(diff[0]) if diff.size else (n if a.records.size != b.records.size else None)
  if i is None:
    for key in ('chrom', 'pos', 'ref', 'alt'):
      d = np.nonzero(a.variants[key] != b.variants[key])[0]
      if d.size:
        i = int(d[0]) if i is None else min(i, int(d[0]))
  if i is not None:
    show = lambda s, k: (f'{s.variants["chrom"][k]}:{s.variants["pos"][k]} '
                         f'{s.variants["ref"][k]}>{s.variants["alt"][k]}'
                         if k < s.records.size else 'no SNP')
    raise DataError(f'{b_src}: biallelic SNP {i + 1} is {show(b, i)} but {a_src} has '
                    f'{show(a, i)}; VCFs given together must hold the same sites.')


def _read_all(inputs: VczInputs) -> Haplotypes:
  """The whole matrix in memory (for small sets: evaluation, tests): one copy."""
  g = np.empty((inputs.num_haplotypes, inputs.num_snps), np.uint8)
  cands = np.arange(inputs.num_snps)
  for store, s0, s1, r0, r1 in inputs.row_blocks():
    for j0, j1, block in inputs.readers[store].blocks(cands, s0, s1):
      g[r0:r1, j0:j1] = block
  return Haplotypes(g, inputs.variants, inputs.samples, skipped=inputs.skipped,
                    sources=list(inputs.sources), notes=list(inputs.notes))


def read_vcz(paths: str | os.PathLike | Sequence[str | os.PathLike], panel=None) -> Haplotypes:
  """One or more VCF Zarr stores (as written by bio2zarr's vcf2zarr), in memory."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  h = _read_all(open_vcz_inputs([(p, str(p)) for p in paths]))
  _apply_panel(h, panel)
  return h


def read_vcf(paths: str | os.PathLike | Sequence[str | os.PathLike], panel=None) -> Haplotypes:
  """One or more phased VCF(.gz) files with identical sites (samples concatenated), in memory."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  for p in paths:
    check_vcf(p)
  with tempfile.TemporaryDirectory(prefix='ag_jax_vcz_') as tmp:
    stores = [(convert_vcf(p, pathlib.Path(tmp) / str(i)), str(p)) for i, p in enumerate(paths)]
    h = _read_all(open_vcz_inputs(stores))
  _apply_panel(h, panel)
  return h


def apply_panel(samples: dict[str, np.ndarray], panel) -> dict[str, np.ndarray]:
  """Fills population and super_population from a 1000G panel file."""
  pop, sup = _label(samples['individual'], read_panel(panel))
  return dict(samples, population=pop, super_population=sup)


def _apply_panel(h: Haplotypes, panel):
  if panel:
    h.samples = apply_panel(h.samples, panel)
    h.sources.append(str(panel))


def read_any(paths: Sequence[str | os.PathLike], legend=None, panel=None) -> Haplotypes:
  """Dispatches on the extension: .hapt/.hapt.zip, .vcf/.vcf.gz/.bcf, .vcz (directory)."""
  paths = [str(p) for p in paths]
  kind = input_kind(paths, legend)
  if kind == 'hapt':
    return read_hapt(paths[0], legend=legend, panel=panel)
  return read_vcf(paths, panel) if kind == 'vcf' else read_vcz(paths, panel)


def input_kind(paths: Sequence[str], legend=None) -> str:
  """'hapt', 'vcf' or 'vcz' for a list of inputs of one kind; DataError otherwise."""
  for p in paths:
    _check_exists(p)
  kinds = {_kind(p) for p in paths}
  if len(kinds) != 1:
    raise DataError(f'inputs mix formats ({", ".join(paths)}); give files of one kind.')
  kind = kinds.pop()
  if kind == 'hapt' and len(paths) != 1:
    raise DataError('give a single .hapt file (with --legend and --panel).')
  if kind != 'hapt' and legend:
    raise DataError(f'--legend applies to .hapt input only, not to {paths[0]}.')
  return kind


def _kind(path: str) -> str:
  p = path.rstrip('/').lower()
  if p.endswith(('.hapt', '.hapt.zip')):
    return 'hapt'
  if p.endswith(('.vcf', '.vcf.gz', '.vcf.bgz', '.bcf')):
    return 'vcf'
  if p.endswith(('.vcz', '.zarr')) or (pathlib.Path(path) / 'call_genotype').exists():
    return 'vcz'
  raise DataError(f'{path}: unknown format; expected .hapt, .hapt.zip, .vcf, .vcf.gz, .bcf or '
                  'a .vcz directory.')
