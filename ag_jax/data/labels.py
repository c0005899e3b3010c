"""Population labels for conditional models (config.data.condition): docs/conditional.md.

The vocabulary is the sorted set of labels of the train split's haplotypes in one samples.tsv
column (`population` or `super_population`), with each label's train count; it is saved beside
the checkpoints (`labels.json`) so generation knows the labels without the store. A label is
an index into the vocabulary; models see it as K one-hot units (`one_hot`). `LabelledLoader`
puts those K columns in front of every training batch ([B, K + num_snps]); `request` turns
`--population=EUR` or `--populations=EUR:2000,EAS:1000` into one label per AG.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from typing import Iterator

import numpy as np

from ag_jax.config_base import ConfigError
from ag_jax.data.readers import DataError

CONDITIONS = ('none', 'super_population', 'population')
FILENAME = 'labels.json'


class LabelError(ValueError):
  """A label request the model cannot serve, or labels that do not fit their haplotypes
  (evaluation per label); the message names the flag or set and what to do."""


def condition(config) -> str:
  """config.data.condition, checked: 'none' or a samples.tsv label column (ConfigError)."""
  data = getattr(config, 'data', None)  # stand-in configs of the model tests have none
  value = 'none' if data is None else data.condition
  if value not in CONDITIONS:
    raise ConfigError(f'config.data.condition={value!r}: use one of {", ".join(CONDITIONS)}.')
  return value


def of(info) -> 'Vocabulary | None':
  """The labels a model is conditioned on (DataInfo.labels), None if unconditioned."""
  return getattr(info, 'labels', None)  # the model tests' stand-in infos may lack the field


def check_info(config, info) -> None:
  """A conditioned config whose data info carries no labels is one ConfigError (the training
  setup fills DataInfo.labels from config.data.condition)."""
  column = condition(config)
  if column != 'none' and of(info) is None:
    raise ConfigError(f'config.data.condition={column}: no labels reached the model '
                      '(DataInfo.labels is unset); this training setup cannot condition yet.')


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """The labels a model was trained on: `names` sorted, `counts` train haplotypes per name."""
  column: str
  names: tuple[str, ...]
  counts: tuple[int, ...]

  @property
  def size(self) -> int:
    return len(self.names)

  @property
  def freq(self) -> np.ndarray:
    """float64 [K]: the training proportions."""
    c = np.asarray(self.counts, np.float64)
    return c / c.sum()

  def index(self, values, what: str = 'label') -> np.ndarray:
    """int32 label indices of label names; LabelError naming the first unknown one."""
    values = np.asarray(values, dtype=str)
    lookup = {n: i for i, n in enumerate(self.names)}
    unknown = sorted(set(values.tolist()) - set(lookup))
    if unknown:
      raise LabelError(f'{what} {unknown[0]!r}: not a label this model was trained on; its '
                       f'{self.column} labels are {", ".join(self.names)}.')
    return np.array([lookup[v] for v in values.tolist()], np.int32).reshape(values.shape)

  def to_json(self) -> str:
    return json.dumps({'column': self.column, 'names': list(self.names),
                       'counts': list(self.counts)}, indent=2) + '\n'

  @classmethod
  def from_json(cls, text: str) -> 'Vocabulary':
    d = json.loads(text)
    return cls(str(d['column']), tuple(map(str, d['names'])), tuple(map(int, d['counts'])))


def one_hot(labels, num_labels: int) -> np.ndarray:
  """uint8 [n, K]: row i has a 1 in column labels[i]."""
  return (np.asarray(labels)[:, None] == np.arange(num_labels)).astype(np.uint8)


def vocabulary(dataset, column: str) -> Vocabulary:
  """The train split's labels in samples.tsv `column`; DataError if absent or any is empty."""
  where = pathlib.Path(dataset.path) / 'samples.tsv'
  values = dataset.split_samples(column, 'train')
  if values is None:
    raise DataError(f'{where}: no {column!r} column, so config.data.condition={column} has no '
                    'labels; prepare the data with a panel that has it (prepare_data.py '
                    '--panel) or use config.data.condition=none.')
  empty = np.flatnonzero(values == '')
  if empty.size:
    first = dataset.split_samples('haplotype', 'train')[empty[0]]
    raise DataError(f'{where}: {empty.size} of {values.size} train haplotypes have no '
                    f'{column} (e.g. {first}); a conditional model needs a label for every '
                    'train haplotype: prepare the data with a panel that covers every sample, '
                    'or use config.data.condition=none.')
  names, counts = np.unique(values, return_counts=True)
  return Vocabulary(column, tuple(names.tolist()), tuple(int(c) for c in counts))


def from_config(config, dataset) -> Vocabulary | None:
  """The vocabulary config.data.condition asks for on `dataset`, or None (unconditioned)."""
  column = condition(config)
  return None if column == 'none' else vocabulary(dataset, column)


def save(workdir: str | os.PathLike, vocab: Vocabulary) -> pathlib.Path:
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top  (circular)
  return writers.write_text(pathlib.Path(workdir) / FILENAME, vocab.to_json())


def load(workdir: str | os.PathLike) -> Vocabulary | None:
  """workdir/labels.json, or None if the run was not conditioned."""
  path = pathlib.Path(workdir) / FILENAME
  if not path.exists():
    return None
  try:
    return Vocabulary.from_json(path.read_text())
  except (ValueError, KeyError, TypeError) as e:
    raise DataError(f'{path}: not a label vocabulary written by ag_jax ({e}).') from e


def proportional(num: int, freq) -> np.ndarray:
  """int32 [num] labels in the proportions `freq` (largest remainder), interleaved so that
  every prefix is close to them too (generation truncates its last batch)."""
  freq = np.asarray(freq, np.float64)
  exact = num * freq / freq.sum()
  counts = np.floor(exact).astype(np.int64)
  counts[np.argsort(-(exact - counts), kind='stable')[:num - counts.sum()]] += 1
  labels = np.repeat(np.arange(freq.size), counts)
  # Label k's j-th AG sits at fraction (j + 1/2) / count_k of the way through.
  pos = np.concatenate([(np.arange(c) + 0.5) / c for c in counts if c])
  return labels[np.argsort(pos, kind='stable')].astype(np.int32)


_ITEM = re.compile(r'^([^:,\s]+):(\d+)$')


def request(vocab: Vocabulary | None, num: int, population: str = '',
            populations: str = '', ploidy: int = 1) -> np.ndarray | None:
  """Labels of `num` AGs: all `population`; `populations` 'A:n,B:m' (n + m must be num, or
  num 0 to take the sum); neither: the training proportions. None for an unconditioned model
  asked for nothing. LabelError for anything else, naming the flag. ploidy 2: outputs that
  pair haplotypes 2i, 2i+1 into an individual get one label per individual."""
  if not population and not populations:
    if vocab is None:
      return None
    return np.repeat(proportional(num // ploidy, vocab.freq), ploidy)
  flag = '--population' if population else '--populations'
  if vocab is None:
    raise LabelError(f'{flag}: this model was trained without labels (config.data.condition='
                     'none), so it cannot draw AGs of a population; train with '
                     '--config.data.condition=super_population or population.')
  if population and populations:
    raise LabelError('--population and --populations: give one of them.')
  if population:
    return np.full(num, vocab.index([population], flag)[0], np.int32)
  names, counts = [], []
  for item in populations.split(','):
    m = _ITEM.match(item.strip())
    if not m or int(m.group(2)) < 1:
      raise LabelError(f'--populations={populations}: {item!r} is not LABEL:COUNT with a count '
                       'of 1 or more (e.g. --populations=EUR:2000,EAS:1000).')
    names.append(m.group(1))
    counts.append(int(m.group(2)))
  if len(set(names)) < len(names):
    raise LabelError(f'--populations={populations}: a label is given twice.')
  odd = [f'{n}:{c}' for n, c in zip(names, counts) if c % ploidy]
  if odd:
    raise LabelError(f'--populations={populations}: {odd[0]} is odd; the output pairs '
                     'haplotypes into diploid individuals of one label, so give even counts '
                     '(or write .hapt).')
  idx = vocab.index(names, flag)
  if num and sum(counts) != num:
    raise LabelError(f'--populations={populations}: asks for {sum(counts)} AGs, but '
                     f'--num_samples is {num}; give counts that add up to it.')
  return np.repeat(idx, counts).astype(np.int32)


class LabelledLoader:
  """A data.BatchLoader whose batches carry the rows' labels first: uint8 [b, K + n_snps]."""

  def __init__(self, loader, vocab: Vocabulary):
    self.loader, self.vocab = loader, vocab
    ds, rows = loader.dataset, loader.split_rows
    self.label_of_row = np.full(ds.num_haplotypes, -1, np.int32)
    self.label_of_row[rows] = vocab.index(ds.samples[vocab.column][rows])

  def __getattr__(self, name):  # rows(), batch_size, ...: the wrapped loader's
    return getattr(self.loader, name)

  def _with_labels(self, step: int, batch: np.ndarray) -> np.ndarray:
    labels = self.label_of_row[self.loader.rows(step)]
    return np.concatenate([one_hot(labels, self.vocab.size), batch], axis=1)

  def batch(self, step: int) -> np.ndarray:
    return self._with_labels(step, self.loader.batch(step))

  def iterate(self, start_step: int = 0, num_steps: int | None = None
              ) -> Iterator[tuple[int, np.ndarray]]:
    for step, batch in self.loader.iterate(start_step, num_steps):
      yield step, self._with_labels(step, batch)


def ag_labels_path(output: str | os.PathLike) -> pathlib.Path:
  """Where generate.py (and training's ags.hapt) writes each AG's label: <output>.labels.tsv."""
  output = pathlib.Path(output)
  return output.with_name(output.name + '.labels.tsv')


def names(vocab: Vocabulary | None, labels) -> list[str] | None:
  """Label names of vocabulary indices (None for an unconditioned model)."""
  if vocab is None or labels is None:
    return None
  return [vocab.names[k] for k in np.asarray(labels).tolist()]


def write_ag_labels(path: str | os.PathLike, vocab: Vocabulary, labels,
                    diploid: bool = False) -> pathlib.Path:
  """Each AG's label name (`labels`: vocabulary indices, one per haplotype) as `sample` and
  vocab.column; `diploid`: one row per individual AGi (haplotypes 2i and 2i + 1)."""
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top  (circular)
  per_sample = np.asarray(labels)[::2] if diploid else np.asarray(labels)
  return writers.write_text(path, f'sample\t{vocab.column}\n' + ''.join(
      f'AG{i}\t{vocab.names[k]}\n' for i, k in enumerate(per_sample.tolist())))


def _is_header(line: str) -> bool:
  head = line.rstrip('\n').split('\t')
  return head[:1] == ['sample'] and len(head) == 2 and head[1] in CONDITIONS[1:]


def is_ag_labels(path: str | os.PathLike) -> bool:
  """Whether `path` starts like an AG labels file ag_jax writes (generate.py replaces only those)."""
  try:
    with open(path) as f:
      return _is_header(f.readline())
  except (OSError, UnicodeDecodeError):
    return False


def read_ag_labels(path: str | os.PathLike, num_haplotypes: int) -> tuple[str, np.ndarray]:
  """(column, one label per haplotype) from an AG labels file (`sample` and a label column).

  Its rows are samples: one per haplotype (.hapt) or one per diploid individual (VCF, VCZ,
  PLINK), whose two haplotypes take its label. DataError naming the file if it is not such a
  file or its rows fit neither count.
  """
  path = pathlib.Path(path)
  try:
    lines = path.read_text().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    raise DataError(f'{path}: cannot read the AG labels ({e}).') from e
  if not lines or not _is_header(lines[0]):
    raise DataError(f'{path}: not an AG labels file (expected the header "sample<TAB>'
                    f'{CONDITIONS[1]}" or "sample<TAB>{CONDITIONS[2]}").')
  rows = [line.split('\t') for line in lines[1:] if line]
  column = lines[0].split('\t')[1]
  bad = next((i for i, r in enumerate(rows, start=2) if len(r) != 2 or not r[1]), None)
  if bad is not None:
    raise DataError(f'{path}:{bad}: expected a sample and its label.')
  values = np.array([r[1] for r in rows], dtype=str)
  if len(values) == num_haplotypes:
    return column, values
  if 2 * len(values) == num_haplotypes:
    return column, np.repeat(values, 2)
  raise DataError(f'{path}: {len(values)} labels for {num_haplotypes} haplotypes; the labels '
                  'file must be the one written with these AGs (one per haplotype, or one per '
                  'individual of a diploid output).')
