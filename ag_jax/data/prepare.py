"""Import haplotypes into a training store: filters, train/test split, atomic write.

The store is a directory:

  haplotypes/     zarr v3 array (tensorstore), uint8 0/1, [num_haplotypes, num_snps], chunks
                  [ROW_CHUNK, SNP_CHUNK] with blosc-zstd + bitshuffle: a 0/1 byte compresses to
                  about a bit or less; 16 rows x 16,384 SNPs = 256 KiB per chunk keeps random
                  batches to few reads per row and the chunk count manageable at 10^6 SNPs.
  variants.tsv    chrom pos id ref alt
  samples.tsv     haplotype individual population super_population split
  metadata.json   shapes, sources, filters, what was skipped

It is written into a temporary sibling directory and renamed into place at the end, so a
failure never leaves a half-written DIR.
"""

from __future__ import annotations

import csv
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


def split_individuals(individuals: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
  """'train'/'test' per haplotype; both haplotypes of an individual land on the same side."""
  if not 0.0 <= test_fraction < 1.0:
    raise DataError(f'test_fraction must be in [0, 1), got {test_fraction}.')
  unique = np.unique(individuals)
  rng = np.random.default_rng(seed)
  n_test = int(round(test_fraction * len(unique)))
  test = set(rng.permutation(unique)[:n_test].tolist())
  return np.array(['test' if i in test else 'train' for i in individuals])


def _write_table(path: pathlib.Path, columns: Sequence[str], table: dict[str, np.ndarray]):
  with open(path, 'w', newline='') as f:
    w = csv.writer(f, delimiter='\t', lineterminator='\n')
    w.writerow(columns)
    w.writerows(zip(*(table[c].tolist() for c in columns)))


def _prepare_output(output: pathlib.Path, overwrite: bool) -> pathlib.Path:
  if output.exists() and not output.is_dir():
    raise DataError(f'{output}: exists and is not a directory.')
  if output.exists() and any(output.iterdir()) and not overwrite:
    raise DataError(f'{output}: the directory exists and is not empty; pass --overwrite to '
                    'replace it or choose another --output.')
  output.parent.mkdir(parents=True, exist_ok=True)
  return pathlib.Path(tempfile.mkdtemp(prefix=f'.{output.name}.tmp-', dir=output.parent))


def _commit(tmp: pathlib.Path, output: pathlib.Path):
  if output.exists():
    old = output.with_name(f'.{output.name}.old-{os.getpid()}')
    os.rename(output, old)
    os.rename(tmp, output)
    shutil.rmtree(old, ignore_errors=True)
  else:
    os.rename(tmp, output)


def prepare(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *,
            legend: str | None = None, panel: str | None = None, min_maf: float = 0.0,
            test_fraction: float = 0.2, seed: int = 0, overwrite: bool = False,
            progress: bool = True) -> dict:
  """Reads `inputs`, filters to biallelic SNPs with MAF >= min_maf, splits, writes `output`.

  Returns the metadata dict (also written to `output/metadata.json`).
  """
  if not inputs:
    raise DataError('no --input given.')
  output = pathlib.Path(output)
  for p in inputs:
    if not pathlib.Path(p).exists():
      raise DataError(f'{p}: no such file or directory.')
  tmp = _prepare_output(output, overwrite)
  try:
    t0 = time.time()
    h = readers.read_any(inputs, legend=legend, panel=panel)
    g = h.genotypes
    freq = g.mean(axis=0)
    maf = np.minimum(freq, 1 - freq)
    monomorphic = maf == 0
    # min_maf=0 keeps every biallelic SNP (the papers' 805 set has 3 monomorphic columns);
    # any min_maf > 0 also drops the monomorphic ones.
    keep = (maf >= min_maf) if min_maf > 0 else np.ones_like(monomorphic)
    skipped = dict(h.skipped)
    skipped['monomorphic'] = int((monomorphic & ~keep).sum())
    skipped['below_min_maf'] = int((~monomorphic & ~keep).sum())
    if not keep.any():
      raise DataError(f'{", ".join(map(str, inputs))}: no SNP left after filtering '
                      f'(min_maf={min_maf}).')
    g = np.ascontiguousarray(g[:, keep])
    variants = {k: v[keep] for k, v in h.variants.items()}
    split = split_individuals(h.samples['individual'], test_fraction, seed)
    samples = dict(h.samples, split=split)
    arr = create_haplotype_array(tmp / 'haplotypes', g.shape)
    _write_rows(arr, g, progress)
    _write_table(tmp / 'variants.tsv', VARIANT_COLUMNS, variants)
    _write_table(tmp / 'samples.tsv', SAMPLE_COLUMNS, samples)
    meta = {
        'format': 'ag_jax-haplotypes-v1',
        'num_haplotypes': int(g.shape[0]),
        'num_snps': int(g.shape[1]),
        'num_train': int((split == 'train').sum()),
        'num_test': int((split == 'test').sum()),
        'num_individuals': int(len(np.unique(h.samples['individual']))),
        'num_monomorphic_kept': int((monomorphic & keep).sum()),
        'populations_known': bool(np.all(samples['population'] != '')),
        'chromosomes': sorted(set(variants['chrom'].tolist())),
        'sources': [str(pathlib.Path(s).resolve()) for s in h.sources],
        'filters': {'biallelic_snps_only': True, 'min_maf': min_maf,
                    'drop_monomorphic': min_maf > 0, 'test_fraction': test_fraction, 'seed': seed},
        'skipped': skipped,
        'notes': h.notes,
        'allele_coding': '1 = ALT allele, 0 = REF allele',
    }
    (tmp / 'metadata.json').write_text(json.dumps(meta, indent=2) + '\n')
    _commit(tmp, output)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  if progress:
    print(f'wrote {output}: {meta["num_haplotypes"]} haplotypes x {meta["num_snps"]} SNPs '
          f'({meta["num_train"]} train / {meta["num_test"]} test); skipped {skipped} '
          f'in {time.time() - t0:.1f}s', flush=True)
  return meta


def _write_rows(arr, g: np.ndarray, progress: bool):
  """Writes g into the array in blocks of whole chunk rows, with a progress bar."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  step = ROW_CHUNK * max(1, (64 << 20) // max(1, ROW_CHUNK * g.shape[1]))
  with tqdm(total=g.shape[0] * g.shape[1], unit='allele', unit_scale=True, disable=not progress,
            desc='writing store') as bar:
    for start in range(0, g.shape[0], step):
      block = g[start:start + step]
      arr[start:start + block.shape[0]].write(block).result()
      bar.update(block.size)
