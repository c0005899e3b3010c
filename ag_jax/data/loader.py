"""Streaming batches from a prepared store.

Which rows form the batch of step `s` is a pure function of (seed, step): a sample without
replacement drawn by `np.random.default_rng([seed, step])`. Process `p` of `P` takes the p-th
contiguous slice of that global batch and reads only those rows, so a resumed or re-sharded
job needs no iterator state and processes never read each other's rows.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Iterator

import numpy as np

from ag_jax.data.dataset import Dataset

IN_MEMORY_LIMIT = 1 << 30  # 'auto' holds a split in memory below 1 GiB.


class BatchLoader:
  """Batches of haplotypes `uint8 [batch_size / process_count, n_snps]` for step s."""

  def __init__(self, dataset: Dataset, *, batch_size: int, seed: int = 0, split: str = 'train',
               process_index: int = 0, process_count: int = 1, snps: slice | None = None,
               in_memory: str | bool = 'auto', prefetch: int = 2):
    if batch_size % process_count:
      raise ValueError(f'batch_size={batch_size} is not divisible by the {process_count} '
                       'processes.')
    self.dataset = dataset
    self.split_rows = dataset.split_rows(split)
    if self.split_rows.size == 0:
      raise ValueError(f'{dataset.path}: the {split!r} split is empty.')
    self.batch_size = batch_size
    self.local_batch_size = batch_size // process_count
    self.seed = seed
    self.process_index = process_index
    self.process_count = process_count
    self.snps = snps or slice(None)
    self.num_snps = len(range(*self.snps.indices(dataset.num_snps)))
    self.prefetch = prefetch
    if in_memory == 'auto':  # multi-process jobs stream, so each process reads only its rows
      in_memory = process_count == 1 and self.split_rows.size * self.num_snps <= IN_MEMORY_LIMIT
    elif isinstance(in_memory, str):
      in_memory = in_memory == 'yes'
    self._memory = dataset.read(self.split_rows, self.snps) if in_memory else None
    # AG_JAX_AUDIT_ROWS=PREFIX: append "<step> <rows...>" to PREFIX.<process> (data audits).
    prefix = os.environ.get('AG_JAX_AUDIT_ROWS')
    self.audit_path = f'{prefix}.{process_index}' if prefix else None

  def global_rows(self, step: int) -> np.ndarray:
    """Positions (into the split) of the whole batch of `step`: int64 [batch_size]."""
    n = self.split_rows.size
    rng = np.random.default_rng([self.seed, int(step)])
    return rng.choice(n, size=self.batch_size, replace=self.batch_size > n)

  def rows(self, step: int) -> np.ndarray:
    """Store row indices this process reads at `step`: int64 [local_batch_size]."""
    b = self.local_batch_size
    local = self.global_rows(step)[self.process_index * b:(self.process_index + 1) * b]
    return self.split_rows[local]

  def batch(self, step: int) -> np.ndarray:
    if self.audit_path:
      with open(self.audit_path, 'a') as f:
        f.write(f'{step} ' + ' '.join(map(str, self.rows(step).tolist())) + '\n')
    if self._memory is not None:
      b = self.local_batch_size
      local = self.global_rows(step)[self.process_index * b:(self.process_index + 1) * b]
      return self._memory[local]
    return self.dataset.read(self.rows(step), self.snps)

  def iterate(self, start_step: int = 0, num_steps: int | None = None
              ) -> Iterator[tuple[int, np.ndarray]]:
    """(step, batch) from start_step, read ahead on a background thread."""
    end = None if num_steps is None else start_step + num_steps
    q: queue.Queue = queue.Queue(maxsize=max(1, self.prefetch))
    stop = threading.Event()

    def worker():
      step = start_step
      try:
        while not stop.is_set() and (end is None or step < end):
          item = (step, self.batch(step))
          while not stop.is_set():
            try:
              q.put(item, timeout=0.1)
              break
            except queue.Full:
              continue
          step += 1
        q.put(None)
      except BaseException as e:  # Hand the error to the consumer.
        q.put(e)

    t = threading.Thread(target=worker, daemon=True, name='ag_jax-loader')
    t.start()
    try:
      while True:
        item = q.get()
        if item is None:
          return
        if isinstance(item, BaseException):
          raise item
        yield item
    finally:
      stop.set()
