"""Opening a prepared dataset (or a bundled one, by name) for training and evaluation."""

from __future__ import annotations

import csv
import functools
import json
import os
import pathlib

import numpy as np

from ag_jax.data import prepare as prepare_lib
from ag_jax.data.readers import DataError

_PACKAGE_DATA = pathlib.Path(__file__).resolve().parent.parent / 'datasets'

# Bundled datasets: name -> (inputs, legend, panel), relative to ag_jax/datasets/.
BUNDLED = {
    '1000g_805': (['1000g_805/805_SNP_1000G_real.hapt.zip'], '1000g_805/805_SNP.legend',
                  '1000g_805/integrated_call_samples_v3.20130502.ALL.panel'),
    '1000g_agbl4': (['1000g_agbl4/AGBL4_split1.vcf.gz', '1000g_agbl4/AGBL4_split2.vcf.gz'],
                    None, None),
}
DEFAULT_SPLIT = {'test_fraction': 0.2, 'seed': 0}


def cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get('AG_JAX_CACHE') or '~/.cache/ag_jax').expanduser()


def bundled_path(name: str) -> pathlib.Path:
  """The prepared store of a bundled dataset, preparing it on first use (race-safe)."""
  inputs, legend, panel = BUNDLED[name]
  out = cache_dir() / 'datasets' / name
  if not (out / 'metadata.json').exists():
    src = lambda p: str(_PACKAGE_DATA / p) if p else None
    try:
      prepare_lib.prepare([src(p) for p in inputs], out, legend=src(legend), panel=src(panel),
                          progress=False, **DEFAULT_SPLIT)
    except (DataError, OSError):
      if not (out / 'metadata.json').exists():  # Another process may have won the rename.
        raise
  return out


def _read_table(path: pathlib.Path) -> dict[str, np.ndarray]:
  with open(path, newline='') as f:
    rows = list(csv.reader(f, delimiter='\t'))
  header, body = rows[0], rows[1:]
  cols = list(zip(*body)) if body else [()] * len(header)
  return {h: np.array(c, dtype=str) for h, c in zip(header, cols)}


class Dataset:
  """A prepared haplotype store. The array is opened once with tensorstore and read lazily."""

  def __init__(self, path: str | os.PathLike):
    self.path = pathlib.Path(path)
    meta_path = self.path / 'metadata.json'
    if not meta_path.exists():
      raise DataError(f'{self.path}: not a prepared dataset (no metadata.json); create one '
                      'with experiments/prepare_data.py or use a bundled name '
                      f'({", ".join(BUNDLED)}).')
    self.metadata = json.loads(meta_path.read_text())
    self.num_haplotypes = int(self.metadata['num_haplotypes'])
    self.num_snps = int(self.metadata['num_snps'])
    self.num_train = int(self.metadata['num_train'])
    self.num_test = int(self.metadata['num_test'])

  @functools.cached_property
  def haplotypes(self):
    import tensorstore as ts  # pylint: disable=g-import-not-at-top
    return ts.open({'driver': 'zarr3',
                    'kvstore': {'driver': 'file', 'path': str(self.path / 'haplotypes')},
                    'context': {'cache_pool': {'total_bytes_limit': 0}}},
                   read=True).result()

  @functools.cached_property
  def variants(self) -> dict[str, np.ndarray]:
    v = _read_table(self.path / 'variants.tsv')
    v['pos'] = v['pos'].astype(np.int64)
    return v

  @functools.cached_property
  def samples(self) -> dict[str, np.ndarray]:
    return _read_table(self.path / 'samples.tsv')

  @functools.cached_property
  def train_rows(self) -> np.ndarray:
    return np.nonzero(self.samples['split'] == 'train')[0].astype(np.int64)

  @functools.cached_property
  def test_rows(self) -> np.ndarray:
    return np.nonzero(self.samples['split'] == 'test')[0].astype(np.int64)

  def split_rows(self, split: str) -> np.ndarray:
    if split == 'train':
      return self.train_rows
    if split == 'test':
      return self.test_rows
    if split == 'all':
      return np.arange(self.num_haplotypes, dtype=np.int64)
    raise ValueError(f'unknown split {split!r}; use train, test or all.')

  def split_samples(self, column: str, split: str = 'train') -> np.ndarray | None:
    """One samples.tsv column (e.g. super_population) for a split's rows; None if absent."""
    values = self.samples.get(column)
    return None if values is None else values[self.split_rows(split)]

  def read(self, rows: np.ndarray, snps: slice = slice(None)) -> np.ndarray:
    """uint8 [len(rows), n_snps]; one tensorstore read, rows in the order given."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
      return np.zeros((0, len(range(*snps.indices(self.num_snps)))), np.uint8)
    order = np.argsort(rows, kind='stable')
    sorted_rows = rows[order]
    out = np.empty((rows.size, len(range(*snps.indices(self.num_snps)))), np.uint8)
    out[order] = self.haplotypes[sorted_rows, snps].read().result()
    return out

  def read_split(self, split: str = 'train', snps: slice = slice(None)) -> np.ndarray:
    return self.read(self.split_rows(split), snps)

  def allele_frequencies(self, split: str = 'train') -> np.ndarray:
    """Frequency of allele 1 per SNP, streamed over row blocks of <= 256 MiB: float64 [num_snps]."""
    rows = self.split_rows(split)
    block = max(16, (256 << 20) // max(self.num_snps, 1))
    total = np.zeros(self.num_snps, np.float64)
    for i in range(0, rows.size, block):
      total += self.read(rows[i:i + block]).sum(axis=0)
    return total / max(rows.size, 1)

  @property
  def single_chromosome(self) -> bool:
    return len(set(self.variants['chrom'].tolist())) == 1

  def __repr__(self):
    return (f'Dataset({str(self.path)!r}: {self.num_haplotypes} haplotypes x {self.num_snps} '
            f'SNPs, {self.num_train} train / {self.num_test} test)')


def open_dataset(name_or_path: str | os.PathLike) -> Dataset:
  """A bundled dataset by name (`1000g_805`, `1000g_agbl4`) or a prepared directory."""
  key = str(name_or_path)
  if key in BUNDLED:
    return Dataset(bundled_path(key))
  if not pathlib.Path(key).exists():
    raise DataError(f'{key}: no such dataset directory, and not a bundled dataset name '
                    f'({", ".join(BUNDLED)}).')
  return Dataset(key)
