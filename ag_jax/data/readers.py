"""Readers for the haplotype formats users bring: .hapt(.zip) + legend + panel, VCF, VCF Zarr.

VCFs are converted with bio2zarr (the ecosystem's VCF -> VCF Zarr converter) and the VCF Zarr
arrays are read with tensorstore (numeric arrays) and zarr-python (the string arrays, which
tensorstore's zarr drivers do not decode). There is no home-made VCF parser here.

Every reader validates what it reads and raises `DataError` naming the file and the record
(hapt/legend line number, or VCF `CHROM:POS` and sample).
"""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import tempfile
import zipfile
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
    raise DataError(f'{p}: no such file or directory.')
  if p.is_file() and p.stat().st_size == 0:
    raise DataError(f'{p}: the file is empty.')
  return p


# ---------------------------------------------------------------------------------- hapt


def _hapt_lines(path: pathlib.Path) -> Iterator[str]:
  if path.suffix == '.zip':
    with zipfile.ZipFile(path) as zf:
      members = [n for n in zf.namelist() if not n.endswith('/')]
      if len(members) != 1:
        raise DataError(f'{path}: expected one .hapt member in the zip, found {members}.')
      with zf.open(members[0]) as f:
        yield from io.TextIOWrapper(f, encoding='ascii', errors='replace')
  else:
    with open(path, encoding='ascii', errors='replace') as f:
      yield from f


def read_hapt_matrix(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Reads a .hapt(.zip): (tags [n], ids [n], genotypes uint8 [n, snps]). Validates each line."""
  path = _check_exists(path)
  tags, ids, rows = [], [], []
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
    values = np.frombuffer(''.join(fields[2:]).encode('ascii'), dtype=np.uint8) - ord('0')
    if values.size != width - 2 or np.any(values > 1):
      bad = next(i for i, v in enumerate(fields[2:]) if v not in ('0', '1'))
      raise DataError(f'{path}:{lineno}: value {fields[2 + bad]!r} in SNP column {bad + 1} '
                      f'(haplotype {fields[1]}); alleles must be 0 or 1.')
    tags.append(fields[0])
    ids.append(fields[1])
    rows.append(values)
  if not rows:
    raise DataError(f'{path}: the file is empty (no haplotype lines).')
  return np.array(tags), np.array(ids), np.stack(rows).astype(np.uint8)


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


# ------------------------------------------------------------------------------ VCF Zarr


def _ts_array(vcz: pathlib.Path, name: str):
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  meta = vcz / name
  driver = 'zarr3' if (meta / 'zarr.json').exists() else 'zarr'
  if not meta.exists():
    raise DataError(f'{vcz}: not a VCF Zarr store (no {name} array).')
  return ts.open({'driver': driver, 'kvstore': {'driver': 'file', 'path': str(meta)}},
                 read=True).result()


def _zarr_strings(vcz: pathlib.Path, name: str) -> np.ndarray:
  import zarr  # pylint: disable=g-import-not-at-top
  values = np.asarray(zarr.open_array(str(vcz / name), mode='r')[:])
  return np.array(values.tolist(), dtype=str) if values.size else values.astype('U1')


@dataclasses.dataclass
class VczSites:
  """Site-level view of a VCF Zarr: which records are kept, and why others were skipped."""
  keep: np.ndarray  # bool [num_variants]
  variants: dict[str, np.ndarray]  # of all records
  skipped: dict[str, int]


def vcz_sites(vcz: pathlib.Path) -> VczSites:
  alleles = _zarr_strings(vcz, 'variant_allele')  # [V, max_alleles]
  contigs = _zarr_strings(vcz, 'contig_id')
  contig_idx = _ts_array(vcz, 'variant_contig').read().result()
  pos = _ts_array(vcz, 'variant_position').read().result().astype(np.int64)
  ids = _zarr_strings(vcz, 'variant_id') if (vcz / 'variant_id').exists() else np.full(len(pos), '.')
  n_alleles = (alleles != '').sum(axis=1)
  multi = n_alleles > 2
  ref, alt = alleles[:, 0], alleles[:, 1] if alleles.shape[1] > 1 else np.full(len(pos), '')
  is_snp = np.array([len(r) == 1 and len(a) == 1 and r in _BASES and a in _BASES
                     for r, a in zip(ref, alt)])
  keep = (~multi) & (n_alleles == 2) & is_snp
  skipped = {'multi_allelic': int(multi.sum()),
             'not_snp': int(((~multi) & ~keep).sum())}
  variants = {'chrom': contigs[contig_idx], 'pos': pos, 'id': ids, 'ref': ref, 'alt': alt}
  return VczSites(keep, variants, skipped)


def vcz_sample_ids(vcz: pathlib.Path) -> np.ndarray:
  return _zarr_strings(vcz, 'sample_id')


def iter_vcz_haplotypes(vcz: pathlib.Path, sites: VczSites, chunk: int = 4096,
                        source: str | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """Yields (kept record indices [k], haplotypes uint8 [num_samples * 2, k]) chunk by chunk.

  Validates phasing, missing calls and ploidy of the kept records and raises `DataError`
  naming the record (`CHROM:POS`) and the sample.
  """
  source = source or str(vcz)
  gt = _ts_array(vcz, 'call_genotype')
  phased = _ts_array(vcz, 'call_genotype_phased') if (vcz / 'call_genotype_phased').exists() else None
  samples = None
  num_v = gt.shape[0]
  ploidy = gt.shape[2]

  def where(v, s):
    nonlocal samples
    if samples is None:
      samples = vcz_sample_ids(vcz)
    return (f'{source}: record {sites.variants["chrom"][v]}:{sites.variants["pos"][v]}, '
            f'sample {samples[s]}')

  for start in range(0, num_v, chunk):
    stop = min(num_v, start + chunk)
    idx = np.nonzero(sites.keep[start:stop])[0] + start
    if idx.size == 0:
      continue
    g = gt[start:stop].read().result()[idx - start]  # [k, S, P]
    if ploidy != 2 or np.any(g[..., 1] == -2):
      if ploidy > 2 and np.any(g[..., 2:] >= -1):
        v, s = np.argwhere((g[..., 2:] >= -1).any(-1))[0]
        raise DataError(f'{where(idx[v], s)}: a polyploid call (more than 2 alleles); only '
                        'diploid phased genotypes can be split into haplotypes.')
      hap = (g[..., 1] == -2) if ploidy >= 2 else np.ones(g.shape[:2], bool)
      v, s = np.argwhere(hap)[0]
      raise DataError(f'{where(idx[v], s)}: a haploid call; only diploid phased genotypes '
                      'can be split into two haplotypes.')
    if np.any(g < 0):
      v, s, _ = np.argwhere(g < 0)[0]
      raise DataError(f'{where(idx[v], s)}: a missing genotype (.); impute or drop missing '
                      'calls before import.')
    if phased is not None:
      ph = phased[start:stop].read().result()[idx - start]
      if not ph.all():
        v, s = np.argwhere(~ph)[0]
        raise DataError(f'{where(idx[v], s)}: an unphased genotype (a/b); ag_jax needs phased '
                        'haplotypes (a|b): phase the data first (e.g. SHAPEIT, Beagle).')
    # [k, S, 2] -> [S * 2, k]: haplotype 2s is the first allele of sample s.
    yield idx, np.ascontiguousarray(g.transpose(1, 2, 0).reshape(-1, idx.size)).astype(np.uint8)


def convert_vcf(path: str | os.PathLike, out_dir: str | os.PathLike) -> pathlib.Path:
  """VCF(.gz) -> VCF Zarr with bio2zarr; returns the store path. Errors name the file."""
  from bio2zarr import vcf as b2z_vcf  # pylint: disable=g-import-not-at-top
  path = _check_exists(path)
  out = pathlib.Path(out_dir) / (path.name + '.vcz')
  out.parent.mkdir(parents=True, exist_ok=True)
  try:
    b2z_vcf.convert([str(path)], str(out), worker_processes=0, zarr_format=3)
  except Exception as e:  # bio2zarr raises many types; name the file for the user.
    raise DataError(f'{path}: could not be read as VCF ({type(e).__name__}: {e}).') from e
  return out


def _read_vcz_all(stores: Sequence[tuple[pathlib.Path, str]]) -> Haplotypes:
  """Reads one or more VCF Zarr stores with identical sites; samples are concatenated."""
  sites0 = None
  blocks, sample_ids, individuals = [], [], []
  ids_per_store = [vcz_sample_ids(vcz) for vcz, _ in stores]
  all_ids = np.concatenate(ids_per_store)
  clash = len(np.unique(all_ids)) < len(all_ids)
  for (vcz, source), ids in zip(stores, ids_per_store):
    sites = vcz_sites(vcz)
    if sites0 is None:
      sites0, src0 = sites, source
    else:
      _check_same_sites(sites0, src0, sites, source)
    g = np.zeros((2 * len(ids), int(sites.keep.sum())), np.uint8)
    col = 0
    for idx, block in iter_vcz_haplotypes(vcz, sites, source=source):
      g[:, col:col + idx.size] = block
      col += idx.size
    blocks.append(g)
    prefix = pathlib.Path(source).name.split('.')[0] + ':' if clash else ''
    for s in ids:
      individuals.append(prefix + s)
      sample_ids += [f'{prefix}{s}_A', f'{prefix}{s}_B']
  keep = sites0.keep
  variants = {k: v[keep] for k, v in sites0.variants.items()}
  ind = np.repeat(np.array(individuals), 2)
  notes = []
  if clash:
    notes.append('sample names repeat across input files; individuals were prefixed with '
                 'the file name to keep them distinct')
  return Haplotypes(np.concatenate(blocks, axis=0), variants,
                    {'haplotype': np.array(sample_ids), 'individual': ind,
                     'population': np.full(len(ind), ''), 'super_population': np.full(len(ind), '')},
                    skipped=dict(sites0.skipped), sources=[s for _, s in stores], notes=notes)


def _check_same_sites(a: VczSites, a_src: str, b: VczSites, b_src: str):
  if len(a.keep) != len(b.keep):
    raise DataError(f'{b_src}: {len(b.keep)} records, but {a_src} has {len(a.keep)}; VCFs '
                    'given together must hold the same sites (their samples are concatenated).')
  for key in ('chrom', 'pos', 'ref', 'alt'):
    diff = np.nonzero(a.variants[key] != b.variants[key])[0]
    if diff.size:
      i = diff[0]
      raise DataError(
          f'{b_src}: record {i + 1} is {b.variants["chrom"][i]}:{b.variants["pos"][i]} '
          f'{b.variants["ref"][i]}>{b.variants["alt"][i]} but {a_src} has '
          f'{a.variants["chrom"][i]}:{a.variants["pos"][i]} {a.variants["ref"][i]}>'
          f'{a.variants["alt"][i]}; VCFs given together must hold the same sites.')


def read_vcz(paths: str | os.PathLike | Sequence[str | os.PathLike], panel=None) -> Haplotypes:
  """One or more VCF Zarr stores (as written by bio2zarr's vcf2zarr)."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  h = _read_vcz_all([(_check_exists(p), str(p)) for p in paths])
  _apply_panel(h, panel)
  return h


def read_vcf(paths: str | os.PathLike | Sequence[str | os.PathLike], panel=None) -> Haplotypes:
  """One or more phased VCF(.gz) files with identical sites (samples concatenated)."""
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  with tempfile.TemporaryDirectory(prefix='ag_jax_vcz_') as tmp:
    stores = [(convert_vcf(p, pathlib.Path(tmp) / str(i)), str(p)) for i, p in enumerate(paths)]
    h = _read_vcz_all(stores)
  _apply_panel(h, panel)
  return h


def _apply_panel(h: Haplotypes, panel):
  if panel:
    pop, sup = _label(h.samples['individual'], read_panel(panel))
    h.samples['population'], h.samples['super_population'] = pop, sup
    h.sources.append(str(panel))


def read_any(paths: Sequence[str | os.PathLike], legend=None, panel=None) -> Haplotypes:
  """Dispatches on the extension: .hapt/.hapt.zip, .vcf/.vcf.gz/.bcf, .vcz (directory)."""
  paths = [str(p) for p in paths]
  for p in paths:
    _check_exists(p)
  kinds = {_kind(p) for p in paths}
  if len(kinds) != 1:
    raise DataError(f'inputs mix formats ({", ".join(paths)}); give files of one kind.')
  kind = kinds.pop()
  if kind == 'hapt':
    if len(paths) != 1:
      raise DataError('give a single .hapt file (with --legend and --panel).')
    return read_hapt(paths[0], legend=legend, panel=panel)
  if legend:
    raise DataError(f'--legend applies to .hapt input only, not to {paths[0]}.')
  return read_vcf(paths, panel) if kind == 'vcf' else read_vcz(paths, panel)


def _kind(path: str) -> str:
  p = path.rstrip('/').lower()
  if p.endswith(('.hapt', '.hapt.zip')):
    return 'hapt'
  if p.endswith(('.vcf', '.vcf.gz', '.vcf.bgz', '.bcf')):
    return 'vcf'
  if p.endswith(('.vcz', '.zarr')) or (pathlib.Path(path) / 'call_genotype').exists():
    return 'vcz'
  raise DataError(f'{path}: unknown format; expected .hapt, .hapt.zip, .vcf, .vcf.gz or .vcz.')
