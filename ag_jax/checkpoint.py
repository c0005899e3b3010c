"""Checkpoints: the one module that talks to Orbax.

A checkpoint is the whole train-state pytree (parameters, optimizer state, persistent Gibbs
chains, BatchNorm statistics, step). Orbax writes each step into a temporary directory and
renames it when complete, so a process killed mid-save leaves the previous checkpoint
restorable; only the last `keep` checkpoints are kept. Restores go into an abstract
(`jax.eval_shape`) tree carrying the target shardings, so a job may restore onto a different
device or process count than it saved from.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Save/restore the train state under `workdir/checkpoints/<step>`."""

  def __init__(self, workdir: str | pathlib.Path, keep: int = 3):
    self.directory = pathlib.Path(workdir).resolve() / 'checkpoints'
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                             enable_async_checkpointing=False))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def save(self, step: int, state: Any) -> None:
    """Saves synchronously (every process must call this in a multi-host job)."""
    self._manager.save(int(step), args=ocp.args.StandardSave(state), force=True)
    self._manager.wait_until_finished()

  def saved_fields(self, step: int) -> set[str]:
    """Top-level names of the state saved at `step` (e.g. the train-state dataclass fields)."""
    meta = ocp.StandardCheckpointHandler().metadata(self.directory / str(step) / 'default')
    return set(meta.keys())

  def restore(self, abstract_state: Any, step: int | None = None,
              upgrade: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """Restores `step` (default: latest) into the shapes/dtypes/shardings of abstract_state.

    A checkpoint written before a train-state field existed (e.g. the GAN weight average) is
    restored field by field and handed to `upgrade(fields)`, which fills the missing ones;
    without `upgrade` that is an error naming the checkpoint and the missing fields.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f'no checkpoint in {self.directory}')
    target = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, 'sharding', None)),
        abstract_state)
    if dataclasses.is_dataclass(target):
      saved = self.saved_fields(step)
      names = [f.name for f in dataclasses.fields(target)]
      missing = [n for n in names if n not in saved]
      if missing:
        if upgrade is None:
          raise ValueError(f'{self.directory / str(step)}: written by an older ag_jax, lacks '
                           f'{missing}; this model cannot fill them in.')
        partial = {n: getattr(target, n) for n in names if n in saved}
        return upgrade(self._manager.restore(step, args=ocp.args.StandardRestore(partial)))
    return self._manager.restore(step, args=ocp.args.StandardRestore(target))

  def close(self):
    self._manager.close()
