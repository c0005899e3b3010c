"""Checkpoints: the one module that talks to Orbax.

A checkpoint is the whole train-state pytree (parameters, optimizer state, persistent Gibbs
chains, BatchNorm statistics, step). Orbax writes each step into a temporary directory and
renames it when complete, so a process killed mid-save leaves the previous checkpoint
restorable; only the last `keep` checkpoints are kept. Restores go into an abstract
(`jax.eval_shape`) tree carrying the target shardings, so a job may restore onto a different
device or process count than it saved from.

Orbax stores no checksum of the array bytes: a flipped byte in a data file restores silently
as other numbers. So each save also writes `<step>/ag_jax_digest.json`, a wrap-around sum of
every leaf's bit pattern, and `restore` compares the restored tree against it. A checkpoint
that fails to read or to match raises `DamagedCheckpointError` naming the step and the other
kept steps; `restore_newest_good` falls back to the newest step that restores, moving each
damaged one aside to `workdir/damaged_checkpoints/` (never deleted).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import time
from typing import Any, Callable

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import orbax.checkpoint as ocp

DIGEST_FILE = 'ag_jax_digest.json'
DAMAGED_DIR = 'damaged_checkpoints'


class MissingFieldsError(ValueError):
  """A checkpoint written before a train-state field existed, which the model cannot fill."""


class DamagedCheckpointError(FileNotFoundError):
  """A kept checkpoint cannot be read or does not match its digest; the message names the
  step and the other kept steps. (A FileNotFoundError: the state asked for is not there.)"""


def _words(x: jax.Array) -> jax.Array:
  """The bit pattern of x as uint32 words (one per element up to 4 bytes)."""
  if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    x = jax.random.key_data(x)
  if x.dtype == jnp.bool_:
    x = x.astype(jnp.uint8)
  unsigned = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint32}[x.dtype.itemsize]
  return jax.lax.bitcast_convert_type(x, unsigned).astype(jnp.uint32)


@jax.jit
def _leaf_sums(leaves):
  return [jnp.sum(_words(x), dtype=jnp.uint32) for x in leaves]


def digest(state: Any) -> dict[str, int]:
  """{leaf path: sum of its uint32 words mod 2^32}: a flipped or lost byte changes it."""
  paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(state)[0]) or ((), ())
  sums = jax.device_get(_leaf_sums(list(leaves)))
  return {jax.tree_util.keystr(p): int(s) for p, s in zip(paths, sums)}


class Checkpointer:
  """Save/restore the train state under `workdir/checkpoints/<step>`."""

  def __init__(self, workdir: str | pathlib.Path, keep: int = 3):
    self.workdir = pathlib.Path(workdir).resolve()
    self.directory = self.workdir / 'checkpoints'
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                             enable_async_checkpointing=False))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any) -> None:
    """Saves synchronously (every process must call this in a multi-host job)."""
    sums = digest(state)
    self._manager.save(int(step), args=ocp.args.StandardSave(state), force=True)
    self._manager.wait_until_finished()
    if jax.process_index() == 0:  # After Orbax's commit: a kill between leaves no digest,
      path = self.directory / str(int(step)) / DIGEST_FILE  # and the step restores unchecked.
      tmp = path.with_suffix('.tmp')
      tmp.write_text(json.dumps(sums, indent=0) + '\n')
      tmp.replace(path)

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
    A checkpoint whose restored arrays do not match the digest written with it raises
    DamagedCheckpointError.
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
          raise MissingFieldsError(f'{self.directory / str(step)}: written by an older ag_jax, '
                                   f'lacks {missing}; this model cannot fill them in.')
        partial = {n: getattr(target, n) for n in names if n in saved}
        return upgrade(self._manager.restore(step, args=ocp.args.StandardRestore(partial)))
    state = self._manager.restore(step, args=ocp.args.StandardRestore(target))
    self._verify(step, state)
    return state

  def _verify(self, step: int, state: Any) -> None:
    path = self.directory / str(step) / DIGEST_FILE
    if not path.exists():  # written before digests, or killed between commit and digest
      return
    try:
      want = json.loads(path.read_text())
    except (OSError, ValueError) as e:
      raise self._damaged(step, f'{path.name}: {e}') from e
    got = digest(state)
    bad = [k for k in want if got.get(k) != want[k]]
    if bad or set(got) != set(want):
      raise self._damaged(step, 'its arrays differ from what was saved '
                          f'({", ".join(bad[:3]) or "tree"})')

  def _damaged(self, step: int, why: str) -> DamagedCheckpointError:
    e = DamagedCheckpointError(self.damaged_message(step, why))
    e.why = why
    return e

  def damaged_message(self, step: int, why: str) -> str:
    others = [s for s in self.all_steps() if s != step]
    kept = (f'the workdir also keeps step{"s" if len(others) > 1 else ""} '
            f'{", ".join(map(str, others))}' if others else 'no other step is kept')
    return f'{self.directory / str(step)}: damaged checkpoint ({why}); {kept}'

  def restore_newest_good(self, abstract_state: Any,
                          upgrade: Callable[[dict[str, Any]], Any] | None = None,
                          warn: Callable[[str], None] = print) -> tuple[Any, int]:
    """(state, step) of the newest kept step that restores. Each newer step that fails is
    moved to workdir/damaged_checkpoints/<step> (kept, never deleted) with a `warn`ing, so
    training can save that step again. If no step restores, re-raises the newest step's error
    (a config the checkpoints do not fit fails at every step)."""
    steps = self.all_steps()[::-1]
    errors = []
    for i, step in enumerate(steps):
      try:
        state = self.restore(abstract_state, step, upgrade)
      except Exception as e:  # pylint: disable=broad-except  (Orbax/tensorstore raise many)
        errors.append(e)
        continue
      for bad, e in zip(steps[:i], errors):
        dest = self._move_aside(bad)
        why = getattr(e, 'why', None) or short_error(e)
        warn(f'{self.directory / str(bad)}: damaged checkpoint ({why}); moved to '
             f'{dest} (not deleted); resuming from step {step}, the newest kept step that '
             'restores.')
      return state, step
    raise errors[0]

  def _move_aside(self, step: int) -> pathlib.Path:
    dest = self.workdir / DAMAGED_DIR / str(step)
    if dest.exists():  # damaged at this step before: keep both
      dest = dest.with_name(f'{step}.{int(time.time())}')
    if jax.process_index() == 0:
      dest.parent.mkdir(exist_ok=True)
      shutil.move(str(self.directory / str(step)), str(dest))
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f'ag_jax_move_aside_{step}')
    self._manager.reload()
    return dest

  def close(self):
    self._manager.close()


def short_error(e: BaseException | None) -> str:
  if e is None:
    return 'does not restore'
  text = ' '.join(str(e).split())
  return f'{type(e).__name__}: {text[:200]}{"..." if len(text) > 200 else ""}'
