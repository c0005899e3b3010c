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
  """A prepared haplotype store. The array is opened once with tensorstore and read lazily.

  The train/test split is the store's (samples.tsv), unless reshaped when opened:
  `folds=K` (>= 2) pools train and test and holds out fold `fold` of K seeded folds of
  individuals; `train_haplotypes=N` (> 0) keeps a seeded subsample of N train haplotypes
  (whole individuals, so N rounds up to one) and moves the rest into the test split: unseen
  by the model, they give the privacy figures power. `split_seed` seeds both.
  """

  def __init__(self, path: str | os.PathLike, *, train_haplotypes: int = 0, folds: int = 0,
               fold: int = 0, split_seed: int = 0):
    self.path = pathlib.Path(path)
    meta_path = self.path / 'metadata.json'
    if not meta_path.exists():
      raise DataError(f'{self.path}: not a prepared dataset (no metadata.json); create one '
                      'with experiments/prepare_data.py or use a bundled name '
                      f'({", ".join(BUNDLED)}).')
    self.metadata = json.loads(meta_path.read_text())
    self.num_haplotypes = int(self.metadata['num_haplotypes'])
    self.num_snps = int(self.metadata['num_snps'])
    self.split_options = {'train_haplotypes': int(train_haplotypes), 'folds': int(folds),
                          'fold': int(fold), 'split_seed': int(split_seed)}
    self.num_train = int(self.train_rows.size)
    self.num_test = int(self.test_rows.size)

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
  def split(self) -> np.ndarray:
    """'train' or 'test' per haplotype: the store's split, reshaped by `split_options`."""
    o = self.split_options
    split = self.samples['split'].copy()
    if (o['folds'], o['fold'], o['train_haplotypes']) == (0, 0, 0):
      return split
    if o['folds'] == 1 or o['folds'] < 0 or not 0 <= o['fold'] < max(o['folds'], 1):
      raise DataError(f'{self.path}: data.folds={o["folds"]}, data.fold={o["fold"]}: use '
                      'folds=0 (the store\'s split) or folds >= 2 with 0 <= fold < folds.')
    individuals = self.samples['individual']
    if o['folds']:
      people = np.unique(individuals)
      if o['folds'] > people.size:
        raise DataError(f'{self.path}: data.folds={o["folds"]} exceeds its {people.size} '
                        'individuals; use fewer folds.')
      order = np.random.default_rng([o['split_seed'], 1]).permutation(people.size)
      held_out = people[order[o['fold']::o['folds']]]
      split = np.where(np.isin(individuals, held_out), 'test', 'train')
    n, train = o['train_haplotypes'], split == 'train'
    if n < 0 or n > train.sum():
      raise DataError(f'{self.path}: data.train_haplotypes={n}: use 0 (all) to '
                      f'{int(train.sum())}, the train haplotypes of this split.')
    if n:
      people = np.unique(individuals[train])
      order = np.random.default_rng([o['split_seed'], 0]).permutation(people.size)
      counts = np.array([np.sum(individuals[train] == p) for p in people[order]])
      kept = people[order[:int(np.searchsorted(np.cumsum(counts), n)) + 1]]
      split = np.where(train & ~np.isin(individuals, kept), 'test', split)
    return split

  @functools.cached_property
  def train_rows(self) -> np.ndarray:
    return np.nonzero(self.split == 'train')[0].astype(np.int64)

  @functools.cached_property
  def test_rows(self) -> np.ndarray:
    return np.nonzero(self.split == 'test')[0].astype(np.int64)

  def write_view(self, output: str | os.PathLike) -> pathlib.Path:
    """A store directory with this split as its own (samples.tsv) that reads this store's
    array (a symlink): a training run on it needs no split options. Reused when present
    with the same split; refused when `output` holds anything else."""
    out = pathlib.Path(output)
    meta = dict(self.metadata, num_train=self.num_train, num_test=self.num_test,
                split_of={'store': str(self.path.resolve()), **self.split_options})
    if out.exists():
      old = out / 'metadata.json'
      if old.is_file() and json.loads(old.read_text()).get('split_of') == meta['split_of']:
        return out
      raise DataError(f'{out}: exists and is not this split of {self.path}; give a new '
                      'directory.')
    tmp = out.with_name(f'.{out.name}.tmp{os.getpid()}')
    tmp.mkdir(parents=True)
    (tmp / 'haplotypes').symlink_to((self.path / 'haplotypes').resolve())
    (tmp / 'variants.tsv').write_bytes((self.path / 'variants.tsv').read_bytes())
    cols = dict(self.samples, split=self.split)
    lines = ['\t'.join(cols)] + ['\t'.join(r) for r in zip(*cols.values())]
    (tmp / 'samples.tsv').write_text('\n'.join(lines) + '\n')
    (tmp / 'metadata.json').write_text(json.dumps(meta, indent=2) + '\n')
    os.rename(tmp, out)
    return out

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
    reshaped = {k: v for k, v in self.split_options.items() if v}
    return (f'Dataset({str(self.path)!r}: {self.num_haplotypes} haplotypes x {self.num_snps} '
            f'SNPs, {self.num_train} train / {self.num_test} test'
            + (f' ({", ".join(f"{k}={v}" for k, v in reshaped.items())})' if reshaped else '')
            + ')')


def open_dataset(name_or_path: str | os.PathLike, **split_options: int) -> Dataset:
  """A bundled dataset by name (`1000g_805`, `1000g_agbl4`) or a prepared directory;
  `split_options` (train_haplotypes, folds, fold, split_seed) reshape its split (Dataset)."""
  key = str(name_or_path)
  if key in BUNDLED:
    return Dataset(bundled_path(key), **split_options)
  if not pathlib.Path(key).exists():
    raise DataError(f'{key}: no such dataset directory, and not a bundled dataset name '
                    f'({", ".join(BUNDLED)}).')
  return Dataset(key, **split_options)


def open_config(config) -> Dataset:
  """The dataset and split a config's `data` section names (what training reads)."""
  d = config.data
  return open_dataset(d.path or d.name, train_haplotypes=d.train_haplotypes, folds=d.folds,
                      fold=d.fold, split_seed=d.split_seed)
