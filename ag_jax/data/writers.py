"""Writers for artificial genomes: .hapt (the papers' format), VCF(.gz) and VCF Zarr.

Every writer takes an iterable of haplotype batches (uint8 [n, snps] in {0, 1}) so that
100,000 AGs of 65,535 SNPs never sit in memory at once, writes to a temporary path next to
the output and renames it into place when complete.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pathlib
import shutil
import tempfile
from typing import Iterable

import numpy as np


def _batches(genotypes) -> Iterable[np.ndarray]:
  if isinstance(genotypes, np.ndarray):
    yield genotypes
  else:
    yield from genotypes


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
  """Yields a temporary sibling path; renamed onto `path` only if the block succeeds."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
  os.close(fd)
  tmp = pathlib.Path(tmp)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    if tmp.is_dir():
      shutil.rmtree(tmp, ignore_errors=True)
    else:
      tmp.unlink(missing_ok=True)
    raise


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
  """Writes `text` to `path` through a temporary sibling: readers see the old file or the new
  one, never a part (an interrupted run leaves no half-written metrics or config)."""
  with atomic_path(path) as tmp:
    tmp.write_text(text)
  return pathlib.Path(path)


def write_hapt(path, genotypes, ids: list[str] | None = None, tag: str = 'AG') -> int:
  """`AG AG0 0 1 ...` lines; ids default to AG0, AG1, ... Returns the number written."""
  n = 0
  with atomic_path(path) as tmp, open(tmp, 'w') as f:
    for batch in _batches(genotypes):
      batch = np.asarray(batch, np.uint8)
      text = np.where(batch > 0, '1', '0')
      for row in text:
        name = ids[n] if ids is not None else f'{tag}{n}'
        f.write(f'{tag} {name} {" ".join(row)}\n')
        n += 1
  return n


def write_vcf(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG') -> int:
  """Phased diploid VCF: haplotypes 2i and 2i+1 form individual `<prefix><i>`.

  Writes variant-major text, so haplotype batches are gathered first into a temporary
  [snps, haplotypes] memory map (bounded memory). .vcf.gz is gzip-compressed.
  """
  path = pathlib.Path(path)
  batches = list(_batches(genotypes)) if isinstance(genotypes, np.ndarray) else genotypes
  with tempfile.TemporaryDirectory(prefix='ag_jax_vcf_') as tmpdir:
    cols = None
    n = 0
    for batch in _batches(batches):
      batch = np.asarray(batch, np.uint8)
      if cols is None:
        cap = 1 << 20
        cols = np.lib.format.open_memmap(os.path.join(tmpdir, 'g.npy'), 'w+', np.uint8,
                                         (batch.shape[1], cap))
      cols[:, n:n + batch.shape[0]] = batch.T
      n += batch.shape[0]
    if n % 2:
      raise ValueError(f'{path}: {n} haplotypes cannot be paired into diploid individuals; '
                       'generate an even number.')
    num_ind = n // 2
    chrom = variants['chrom']
    opener = gzip.open if path.name.endswith('.gz') else open
    with atomic_path(path) as tmp, opener(tmp, 'wt') as f:
      f.write('##fileformat=VCFv4.2\n##source=ag_jax\n')
      for c in dict.fromkeys(chrom.tolist()):
        f.write(f'##contig=<ID={c}>\n')
      f.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Phased genotype">\n')
      f.write('#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t'
              + '\t'.join(f'{sample_prefix}{i}' for i in range(num_ind)) + '\n')
      for j in range(cols.shape[0]):
        g = cols[j, :n]
        gts = np.char.add(np.char.add(g[0::2].astype('U1'), '|'), g[1::2].astype('U1'))
        f.write(f'{chrom[j]}\t{variants["pos"][j]}\t{variants["id"][j]}\t{variants["ref"][j]}\t'
                f'{variants["alt"][j]}\t.\tPASS\t.\tGT\t' + '\t'.join(gts.tolist()) + '\n')
  return n


def _vstr(values) -> np.ndarray:
  """Variable-length UTF-8 strings (zarr's vlen-utf8, as bio2zarr writes them)."""
  return np.array(np.asarray(values).tolist(), dtype=np.dtypes.StringDType())


def write_vcz(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG') -> int:
  """VCF Zarr (the sgkit/bio2zarr layout, zarr v3): call_genotype int8 [variants, samples, 2],
  call_genotype_phased, variant_position/contig/allele/id, sample_id, contig_id.

  Haplotype batches are appended along the samples axis, so memory stays bounded.
  """
  import zarr  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent))
  try:
    root = zarr.open_group(str(tmp), mode='w', zarr_format=3)
    num_v = len(variants['pos'])
    contigs = list(dict.fromkeys(variants['chrom'].tolist()))
    cidx = {c: i for i, c in enumerate(contigs)}
    root.create_array('contig_id', data=_vstr(contigs))
    root.create_array('variant_contig', data=np.array([cidx[c] for c in variants['chrom']], np.int16))
    root.create_array('variant_position', data=np.asarray(variants['pos'], np.int32))
    root.create_array('variant_id', data=_vstr(variants['id']))
    root.create_array('variant_allele', data=_vstr(np.stack([variants['ref'], variants['alt']], 1)))
    gt = root.create_array('call_genotype', shape=(num_v, 0, 2), dtype=np.int8,
                           chunks=(min(num_v, 10000), 1000, 2))
    ph = root.create_array('call_genotype_phased', shape=(num_v, 0), dtype=bool,
                           chunks=(min(num_v, 10000), 1000))
    n, carry = 0, None
    for batch in _batches(genotypes):
      batch = np.asarray(batch, np.uint8)
      if carry is not None:
        batch = np.concatenate([carry, batch])
      even = batch.shape[0] // 2 * 2
      carry = batch[even:] if even < batch.shape[0] else None
      k = even // 2
      if k:
        s0 = n // 2
        gt.resize((num_v, s0 + k, 2))
        ph.resize((num_v, s0 + k))
        gt[:, s0:s0 + k, :] = batch[:even].reshape(k, 2, num_v).transpose(2, 0, 1).astype(np.int8)
        ph[:, s0:s0 + k] = True
        n += even
    if carry is not None:
      raise ValueError(f'{path}: an odd number of haplotypes cannot be paired into diploid '
                       'individuals; generate an even number.')
    root.create_array('sample_id', data=_vstr([f'{sample_prefix}{i}' for i in range(n // 2)]))
    for name, dims in (('call_genotype', ['variants', 'samples', 'ploidy']),
                       ('call_genotype_phased', ['variants', 'samples']),
                       ('variant_position', ['variants']), ('variant_contig', ['variants']),
                       ('variant_id', ['variants']), ('variant_allele', ['variants', 'alleles']),
                       ('sample_id', ['samples']), ('contig_id', ['contigs'])):
      root[name].attrs['_ARRAY_DIMENSIONS'] = dims
    root.attrs.update({'vcf_zarr_version': '0.4', 'source': 'ag_jax'})
    if path.exists():
      shutil.rmtree(path)
    os.rename(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return n


def write_genotypes(path, genotypes, variants: dict[str, np.ndarray] | None = None) -> int:
  """Dispatches on the extension: .hapt, .vcf, .vcf.gz, .vcz."""
  name = str(path).lower()
  if name.endswith('.hapt'):
    return write_hapt(path, genotypes)
  if variants is None:
    raise ValueError(f'{path}: VCF output needs the variant table of the training data.')
  if name.endswith(('.vcf', '.vcf.gz')):
    return write_vcf(path, genotypes, variants)
  if name.endswith('.vcz'):
    return write_vcz(path, genotypes, variants)
  raise ValueError(f'{path}: unknown output format; use .hapt, .vcf, .vcf.gz or .vcz.')
