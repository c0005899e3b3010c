"""Do a synthetic set and the real data describe the same SNPs? Checked before any statistic.

A synthetic set read from VCF, VCF Zarr or PLINK 2 carries a variants table (contig,
position, REF, ALT); so does a real dataset prepared from VCF or from a .hapt with a legend.
Where both sides have one, every site must agree, in order: a set over other positions, with
REF and ALT swapped (its 1 is the real data's 0) or on another contig would otherwise be scored
as if it matched. A .hapt carries no table: then only the SNP count is compared.
"""

from __future__ import annotations

import pathlib

import numpy as np

from ag_jax.data import readers


class IdentityError(ValueError):
  """The synthetic set's sites are not the real data's; the message names the first one."""


def has_table(variants: dict[str, np.ndarray] | None) -> bool:
  """False for the placeholder table of a .hapt without a legend (contig '.', alleles 'N')."""
  if not variants or 'pos' not in variants:
    return False
  unknown_contig = np.all(np.asarray(variants['chrom']).astype(str) == '.')
  unknown_alleles = (np.all(np.asarray(variants['ref']).astype(str) == 'N') and
                     np.all(np.asarray(variants['alt']).astype(str) == 'N'))
  return not (unknown_contig or unknown_alleles)


def _site(v: dict, i: int) -> str:
  return f"{v['chrom'][i]}:{v['pos'][i]} {v['ref'][i]}>{v['alt'][i]}"


def check_same_sites(real: dict[str, np.ndarray] | None, real_snps: int,
                     synth: dict[str, np.ndarray] | None, synth_snps: int, name: str) -> str:
  """Raises IdentityError naming the first mismatching site of `name` against the real data;
  returns what was compared ('sites' or 'SNP count')."""
  if not (has_table(real) and has_table(synth)):
    if synth_snps != real_snps:
      raise IdentityError(f'{name}: {synth_snps} SNPs, but the real data has {real_snps}; '
                          'the sets must share their SNPs (no variants table to compare: '
                          '.hapt).')
    return 'SNP count'
  cols = {k: (np.asarray(real[k]).astype(str) if k != 'pos' else np.asarray(real[k], np.int64),
              np.asarray(synth[k]).astype(str) if k != 'pos' else np.asarray(synth[k], np.int64))
          for k in ('chrom', 'pos', 'ref', 'alt')}
  n = min(real_snps, synth_snps)
  differs = np.zeros(n, bool)
  for a, b in cols.values():
    differs |= a[:n] != b[:n]
  if differs.any():
    i = int(np.argmax(differs))
    swapped = (cols['chrom'][0][i] == cols['chrom'][1][i] and
               cols['pos'][0][i] == cols['pos'][1][i] and
               cols['ref'][0][i] == cols['alt'][1][i] and cols['alt'][0][i] == cols['ref'][1][i])
    what = ('REF and ALT swapped (its 1 is the real 0)' if swapped else
            'another contig' if cols['chrom'][0][i] != cols['chrom'][1][i] else
            'another position' if cols['pos'][0][i] != cols['pos'][1][i] else 'other alleles')
    raise IdentityError(
        f'{name}: SNP {i + 1} is {_site(synth, i)} but the real data has {_site(real, i)} '
        f'({what}); the sets must hold the same sites in the same order, so nothing was '
        'computed. Generate the AGs from a model trained on this data, or evaluate against '
        'the data they were trained on.')
  if synth_snps != real_snps:
    i = n
    extra = (f'its SNP {i + 1} is {_site(synth, i)}, beyond the real data\'s last'
             if synth_snps > n else f'it lacks the real SNP {i + 1}, {_site(real, i)}')
    raise IdentityError(f'{name}: {synth_snps} SNPs, but the real data has {real_snps} '
                        f'({extra}); the sets must share their SNPs.')
  return 'sites'


def read_pgen(path: str | pathlib.Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """A phased PLINK 2 fileset (.pgen + .pvar beside it), read with pgenlib: (haplotypes uint8
  [2 x samples, snps], variants table)."""
  import pgenlib  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  pvar = path.with_suffix('.pvar')
  if not pvar.exists():
    raise readers.DataError(f'{pvar}: missing; a .pgen is read with the .pvar beside it.')
  header, rows = None, []
  with open(pvar) as f:
    for line in f:
      if line.startswith('##'):
        continue
      fields = line.rstrip('\n').split('\t')
      if line.startswith('#'):
        header = [h.lstrip('#') for h in fields]
      elif line.strip():
        rows.append(fields)
  if header is None or not {'CHROM', 'POS', 'REF', 'ALT'} <= set(header):
    raise readers.DataError(f'{pvar}: no #CHROM POS ID REF ALT header line.')
  cols = {h: np.array([r[j] for r in rows]) for j, h in enumerate(header)}
  variants = {'chrom': cols['CHROM'], 'pos': cols['POS'].astype(np.int64),
              'id': cols.get('ID', np.full(len(rows), '.')), 'ref': cols['REF'],
              'alt': cols['ALT']}
  try:
    r = pgenlib.PgenReader(str(path).encode())
  except RuntimeError as e:
    raise readers.DataError(f'{path}: could not be read as PLINK 2 .pgen ({e}).') from e
  try:
    num_v, num_s = r.get_variant_ct(), r.get_raw_sample_ct()
    if num_v != len(rows):
      raise readers.DataError(f'{path}: {num_v} variants but {pvar} lists {len(rows)}.')
    out = np.empty((num_v, 2 * num_s), np.int32)
    r.read_alleles_range(0, num_v, out)
  except RuntimeError as e:
    raise readers.DataError(f'{path}: could not be read as PLINK 2 .pgen ({e}).') from e
  finally:
    r.close()
  if (out < 0).any():
    raise readers.DataError(f'{path}: missing calls; AGs have none.')
  return np.ascontiguousarray(out.T).astype(np.uint8), variants


def read_synthetic(path: str) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
  """(haplotypes uint8 [n, snps], variants table or None for .hapt) of a synthetic set file:
  .hapt(.zip), .vcf(.gz), .bcf, .vcz (ag_jax.data.readers), .pgen (pgenlib)."""
  low = path.rstrip('/').lower()
  if low.endswith('.pgen'):
    if not pathlib.Path(path).exists():
      raise readers.DataError(f'{path}: no such file.')
    return read_pgen(path)
  if low.endswith(('.hapt', '.hapt.zip')):
    _, _, g = readers.read_hapt_matrix(path)
    return g, None
  h = readers.read_any([path])
  return h.genotypes, h.variants
