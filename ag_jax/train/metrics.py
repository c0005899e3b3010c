"""Metrics to `workdir/metrics.jsonl` (one JSON object per logged step), and TensorBoard
event files when a maintained writer (tensorboardX) is installed."""

from __future__ import annotations

import json
import pathlib
import sys

from ag_jax.data import writers


def read_lines(path: pathlib.Path) -> tuple[list[dict], list[int]]:
  """The JSON objects of metrics.jsonl and the numbers of the lines that are not one (a line
  torn by a kill mid-write, a garbled one)."""
  rows, bad = [], []
  for lineno, line in enumerate(path.read_text(errors='replace').splitlines(), start=1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except ValueError:
      row = None
    if isinstance(row, dict) and isinstance(row.get('step', 0), int):
      rows.append(row)
    else:
      bad.append(lineno)
  return rows, bad


class MetricsWriter:

  def __init__(self, workdir: pathlib.Path, enabled: bool = True, resume_step: int = 0):
    self.enabled = enabled
    self.path = pathlib.Path(workdir) / 'metrics.jsonl'
    self._tb = None
    if not enabled:
      return
    if self.path.exists():  # Drop lines logged after the checkpoint we resume from.
      rows, bad = read_lines(self.path)
      if bad:
        print(f'warning: {self.path}: dropped line{"s" if len(bad) > 1 else ""} '
              f'{", ".join(map(str, bad))}, not a complete JSON record (a kill mid-write); '
              'the metrics of the other steps are kept.', file=sys.stderr, flush=True)
      keep = [r for r in rows if r.get('step', 0) <= resume_step]
      writers.write_text(self.path, ''.join(json.dumps(r) + '\n' for r in keep))
    try:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(str(pathlib.Path(workdir) / 'tensorboard'))
    except ImportError:
      self._tb = None

  def write(self, step: int, values: dict[str, float]):
    if not self.enabled:
      return
    with open(self.path, 'a') as f:
      f.write(json.dumps({'step': int(step), **values}) + '\n')
    if self._tb is not None:
      for k, v in values.items():
        self._tb.add_scalar(k, v, step)

  def close(self):
    if self._tb is not None:
      self._tb.close()
      self._tb = None
