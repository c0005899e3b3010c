"""Metrics to `workdir/metrics.jsonl` (one JSON object per logged step), and TensorBoard
event files when a maintained writer (tensorboardX) is installed."""

from __future__ import annotations

import json
import pathlib

from ag_jax.data import writers


class MetricsWriter:

  def __init__(self, workdir: pathlib.Path, enabled: bool = True, resume_step: int = 0):
    self.enabled = enabled
    self.path = pathlib.Path(workdir) / 'metrics.jsonl'
    self._tb = None
    if not enabled:
      return
    if self.path.exists():  # Drop lines logged after the checkpoint we resume from.
      keep = [l for l in self.path.read_text().splitlines()
              if l.strip() and json.loads(l).get('step', 0) <= resume_step]
      writers.write_text(self.path, ''.join(l + '\n' for l in keep))
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
