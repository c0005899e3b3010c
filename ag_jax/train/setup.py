"""Set-up shared by training and generation: the family of a config, the data, the state laid
out on the mesh, restore, and the workdir checks (what is there, what it was trained with).

`build(config)` validates the config (ag_jax.configuration.validate) before any data is read,
then opens the data and lays the state out; `saved_config(workdir)` is the workdir's
config.json migrated onto today's defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging as std_logging
import pathlib
import sys
from typing import Any, Callable

from flax import traverse_util
import jax
import ml_collections
import numpy as np

from ag_jax import checkpoint as ckpt_lib
from ag_jax import configuration
from ag_jax import data as data_lib
from ag_jax.data import labels as labels_lib
from ag_jax import parallel
from ag_jax import rng
from ag_jax.config_base import ConfigError
from ag_jax.data import writers
from ag_jax.train import adversarial
from ag_jax.train import rbm as rbm_family

logging = std_logging.getLogger('ag_jax')


FAMILIES = {  # model.name -> its module: check_config, create_state, make_train_step, make_sampler
    'crbm': rbm_family,
    'rbm': rbm_family,
    'wgan': adversarial,
    'gan': adversarial,
}


class ResumeError(ValueError):
  """The workdir's checkpoints do not fit the new config (the message names the changes), or
  none of them restores."""


class WorkdirError(ValueError):
  """--workdir names something training must not write into (a file, or a directory with
  other content than an ag_jax workdir's); nothing was touched."""


def warn(message: str) -> None:
  """One `warning: ...` line on stderr (process 0 only)."""
  if jax.process_index() == 0:
    print(f'warning: {message}', file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class DataInfo:
  num_snps: int
  allele_freq: np.ndarray  # float32 [num_snps], train split
  positions: np.ndarray | None  # int64 [num_snps]
  num_train: int
  labels: labels_lib.Vocabulary | None = None  # config.data.condition's (docs/conditional.md)


def family(config) -> Any:
  name = config.model.name
  if name not in FAMILIES:
    raise ConfigError(f'config.model.name={name!r}: known models are {", ".join(FAMILIES)}.')
  return FAMILIES[name]


def open_data(config) -> data_lib.Dataset:
  """The dataset and split config.data names (a subsample or a fold: data.train_haplotypes,
  data.folds)."""
  return data_lib.open_config(config)


def data_info(ds: data_lib.Dataset, labels: labels_lib.Vocabulary | None = None) -> DataInfo:
  return DataInfo(num_snps=ds.num_snps,
                  allele_freq=ds.allele_frequencies('train').astype(np.float32),
                  positions=ds.variants['pos'], num_train=ds.num_train, labels=labels)


@dataclasses.dataclass
class Setup:
  """Everything the loop and generation need, built once."""
  config: ml_collections.ConfigDict
  dataset: data_lib.Dataset
  info: DataInfo
  fam: Any
  mesh: jax.sharding.Mesh
  state_sharding: Any
  abstract_state: Any
  create: Callable


def build(config, dataset: data_lib.Dataset | None = None,
          labels: labels_lib.Vocabulary | None = None) -> Setup:
  """Validates `config` (one ConfigError, before any data is read), then opens the data and
  lays the state out on the mesh. labels: a trained model's vocabulary (its labels.json);
  default the one config.data.condition finds in the data (DataError if it has none)."""
  fam = family(config)
  configuration.validate(config, fam)
  ds = dataset or open_data(config)
  info = data_info(ds, labels or labels_lib.from_config(config, ds))
  mesh = parallel.make_mesh(config.mesh)
  parallel.check_batch(mesh, config.train.batch_size)
  create = lambda key: fam.create_state(config, info, key)
  abstract = jax.eval_shape(create, rng.stream(config.seed, 'init'))
  if hasattr(fam, 'partition_specs'):
    specs = fam.partition_specs(config, abstract)
    sharding = parallel.shardings_from_specs(mesh, specs)
  else:
    sharding = jax.tree.map(lambda _: parallel.replicated(mesh), abstract)
  abstract = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                          abstract, sharding)
  return Setup(config, ds, info, fam, mesh, sharding, abstract, create)


def make_step_fn(setup: Setup, donate: bool = True) -> Callable:
  """The family's train step, jitted with the state's and the batch's shardings."""
  return jax.jit(setup.fam.make_train_step(setup.config, setup.info),
                 in_shardings=(setup.state_sharding, parallel.batch_sharding(setup.mesh), None),
                 out_shardings=(setup.state_sharding, None),
                 donate_argnums=0 if donate else (), compiler_options=compiler_options(setup))


def jit_sampler(setup: Setup, config=None) -> Callable:
  """The family's sampler (of `config`, default the run's), jitted; its argument 2 (the
  number of AGs) is static."""
  config = config or setup.config
  return jax.jit(setup.fam.make_sampler(config, setup.info), static_argnums=2,
                 compiler_options=compiler_options(setup))


def compiler_options(setup: Setup) -> dict[str, str] | None:
  """The family's XLA options for its jitted step and sampler (None: XLA's defaults)."""
  options = getattr(setup.fam, 'compiler_options', None)
  return options(setup.config) if options else None


def init_state(setup: Setup):
  return jax.jit(setup.create, out_shardings=setup.state_sharding)(
      rng.stream(setup.config.seed, 'init'))


def restore(setup: Setup, ckpt: ckpt_lib.Checkpointer, step: int | None = None):
  """The checkpointed state; the family fills fields that older checkpoints lack."""
  upgrade = getattr(setup.fam, 'upgrade_state', None)
  return ckpt.restore(setup.abstract_state, step,
                      upgrade=upgrade and functools.partial(upgrade, setup.config))


def init_or_restore(setup: Setup, ckpt: ckpt_lib.Checkpointer):
  """A fresh state, or the newest kept checkpoint that restores: a damaged newer one (a
  file truncated, garbled or lost) is moved aside to workdir/damaged_checkpoints with a
  warning; if no kept step restores, the newest step's error is raised."""
  if ckpt.latest_step() is None:
    return init_state(setup)
  upgrade = getattr(setup.fam, 'upgrade_state', None)
  state, step = ckpt.restore_newest_good(
      setup.abstract_state, upgrade=upgrade and functools.partial(upgrade, setup.config),
      warn=warn)
  logging.info('resuming from checkpoint step %d in %s', step, ckpt.directory)
  return state


def is_workdir(path: pathlib.Path) -> bool:
  """True if `path` holds what ag_jax training writes: a config.json of an ag_jax config or
  a checkpoints/ directory (empty, or with Orbax steps)."""
  try:
    config = json.loads((path / 'config.json').read_text())
    if isinstance(config, dict) and {'model', 'train', 'data'} <= set(config):
      return True
  except (OSError, ValueError):
    pass
  ckpts = path / 'checkpoints'
  return ckpts.is_dir() and all(p.name.isdigit() or p.name.startswith('.')
                                for p in ckpts.iterdir())


def check_workdir(workdir: pathlib.Path) -> None:
  """WorkdirError unless `workdir` is absent, empty, or an ag_jax training workdir."""
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(f'{workdir}: is a file, not a directory; give --workdir a new or an '
                       'ag_jax training directory.')
  if workdir.is_dir() and any(workdir.iterdir()) and not is_workdir(workdir):
    raise WorkdirError(
        f'{workdir}: not empty and not an ag_jax training workdir (no config.json of an '
        'ag_jax config, no checkpoints/); training would write into it, so it is refused and '
        'left as it was. Give --workdir a new or empty directory.')


def config_changes(config, workdir: pathlib.Path) -> list[str]:
  """'key: old -> new' for each setting that differs from workdir/config.json (if any),
  migrated onto today's defaults: a field added since differs only if set otherwise."""
  saved = saved_config(workdir)
  if saved is None:
    return []
  path = workdir / 'config.json'
  old = traverse_util.flatten_dict(json.loads(saved.to_json_best_effort()), sep='.')
  new = traverse_util.flatten_dict(json.loads(config.to_json_best_effort()), sep='.')
  changed = [f'{k}: {old.get(k, "(unset)")!r} -> {new.get(k, "(unset)")!r}'
             for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
  if changed:
    logging.warning('config differs from the one this workdir was started with (%s): %s',
                    path, '; '.join(changed))
  return changed


def saved_config(workdir: pathlib.Path) -> ml_collections.ConfigDict | None:
  """workdir/config.json merged over today's defaults (configuration.migrate), or None if
  there is none; saved fields that no longer exist are dropped with one warning."""
  path = workdir / 'config.json'
  if not path.exists():
    return None
  try:
    saved = json.loads(path.read_text())
  except ValueError as e:
    raise ResumeError(f'{path}: not readable JSON ({e}); it records the config this '
                      "workdir's checkpoints were trained with: restore it from a backup, or "
                      'give a new --workdir.') from e
  config, dropped = configuration.migrate(saved, str(path))
  if dropped:
    warn(f'{path}: {", ".join(dropped)}: no such setting in this ag_jax (removed since the run '
         'was started); ignored.')
  return config


def write_config(config, workdir: pathlib.Path):
  writers.write_text(workdir / 'config.json',
                     config.to_json_best_effort(indent=2, sort_keys=True) + '\n')
