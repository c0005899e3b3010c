"""One home for config defaults: a saved config migrated onto today's, and one validation.

Every default lives in `configs/<model>.py:get_config()`. A workdir's config.json holds the
fields its run was started with; `migrate` merges it over today's defaults of its model (the
config file without a variant), so a field added since takes today's default, except the few
in `LEGACY`, whose absence meant another behaviour than today's default (a CRBM saved before
`hidden` existed has Bernoulli hidden units, not today's ReLU). A saved field that no longer
exists is dropped and returned, for one warning: its code is gone, nothing could read it, and
refusing would strand every workdir written before the field was removed.

`validate(config, family)` is the one check of a config's values, run by training before the
workdir is touched and by generation before anything is drawn (ag_jax.train.setup.build), and
again on sampling options given for one draw. A bad value is one `ConfigError` naming the field.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from flax import traverse_util
import ml_collections

from ag_jax.config_base import ConfigError, check_positive
from ag_jax.data import labels
from configs import crbm, gan, rbm, wgan

CONFIGS = {'crbm': crbm, 'rbm': rbm, 'wgan': wgan, 'gan': gan}  # model.name -> its config file

# Fields absent from a saved config that meant something other than today's default:
# the behaviour the run was trained with before the field existed.
LEGACY = {
    'model.hidden': 'bernoulli',  # ReLU hiddens came later
    'model.restart_init': 'uniform',  # the original code's restart
    'model.lr_decay': 'none',  # a constant rate: also the optimizer state's structure
    'model.ema_decay': 0.0,  # no generator average: the checkpoint's own weights
}


def defaults(name: str) -> dict[str, Any]:
  """Today's defaults of model `name`, flattened ('model.lr': 0.02, ...)."""
  if name not in CONFIGS:
    raise ConfigError(f'config.model.name={name!r}: known models are {", ".join(CONFIGS)}.')
  config = CONFIGS[name].get_config()
  return traverse_util.flatten_dict(json.loads(config.to_json_best_effort()), sep='.')


def migrate(saved: Mapping[str, Any], source: str = 'the saved config'
            ) -> tuple[ml_collections.ConfigDict, list[str]]:
  """(`saved` merged over today's defaults of its model, locked; the saved fields that no
  longer exist, dropped). `source` names the file in errors."""
  model = saved.get('model') if isinstance(saved, Mapping) else None
  if not isinstance(model, Mapping) or 'name' not in model:
    raise ConfigError(f'{source}: not an ag_jax config (no model.name).')
  try:
    base = defaults(model['name'])
  except ConfigError as e:
    raise ConfigError(f'{source}: {e}') from e
  old = traverse_util.flatten_dict(dict(saved), sep='.')
  dropped = sorted(set(old) - set(base))
  merged = dict(base)
  merged.update((k, v) for k, v in LEGACY.items() if k in base and k not in old)
  merged.update((k, v) for k, v in old.items() if k in base)
  config = ml_collections.ConfigDict(traverse_util.unflatten_dict(merged, sep='.'))
  config.lock()
  return config, dropped


def override(config: ml_collections.ConfigDict, section: str,
             values: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """A copy of `config` with `values` in config.<section>; a field the config lacks is one
  ConfigError (an option of another model)."""
  part = config[section]
  unknown = sorted(set(values) - set(part))
  if unknown:
    raise ConfigError(f'config.{section}.{unknown[0]}: the {config.model.name!r} model has no '
                      'such option.')
  copy = ml_collections.ConfigDict(config.to_dict())
  copy[section].update(values)
  copy.lock()
  return copy


def check_run(config) -> None:
  """The run's own fields (train, sample, evaluate, data.condition): one ConfigError naming
  the first bad one."""
  check_positive(config.train, ('num_steps', 'batch_size', 'log_every', 'checkpoint_every',
                                'keep_checkpoints', 'signal_check_every'), 'train')
  check_positive(config.sample, ('num_samples', 'batch_size'), 'sample')
  if config.evaluate.at_end and int(config.sample.num_samples) < 2:
    raise ConfigError(f'config.sample.num_samples={config.sample.num_samples}: the evaluation '
                      'at the end (evaluate.at_end) compares pairs of AGs; use 2 or more.')
  if int(config.train.sample_every) < 0:
    raise ConfigError(f'config.train.sample_every={config.train.sample_every}: use 0 (never) '
                      'or a multiple of train.log_every.')
  labels.condition(config)


def validate(config, family) -> None:
  """The one validation: the run's fields, then the model's (`family.check_config`, the family
  module of config.model.name, which knows its fields' values)."""
  check_run(config)
  family.check_config(config)
