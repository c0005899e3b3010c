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


def write_vcz(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG') -> int:
  """VCF Zarr (sgkit/bio2zarr layout) via a temporary VCF converted with bio2zarr."""
  from bio2zarr import vcf as b2z_vcf  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  with tempfile.TemporaryDirectory(prefix='ag_jax_vcz_', dir=path.parent) as tmpdir:
    vcf = pathlib.Path(tmpdir) / 'ags.vcf'
    n = write_vcf(vcf, genotypes, variants, sample_prefix)
    out = pathlib.Path(tmpdir) / 'out.vcz'
    b2z_vcf.convert([str(vcf)], str(out), worker_processes=0)
    if path.exists():
      shutil.rmtree(path)
    os.rename(out, path)
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
