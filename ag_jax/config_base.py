"""Fields every ag_jax config shares.

Each `configs/<model>.py:get_config(arg)` starts from `base_config()`, fills the `model`
section and the model-specific defaults, applies its variant (`test`, `bench`, dataset names)
and returns the config locked, so a typo in `--config.x.y=v` is an error.
"""

import ml_collections


class ConfigError(ValueError):
  """A config value the model cannot use; the message names the field. Raised before the
  workdir is touched."""


def check_positive(section, fields: tuple[str, ...], name: str = 'model') -> None:
  """One ConfigError for the first of `fields` of config.<name> below 1 (missing fields pass;
  `section` is a ConfigDict or any object with those attributes)."""
  for field in fields:
    value = getattr(section, field, 1)
    if int(value) < 1:
      raise ConfigError(f'config.{name}.{field}={value}: use 1 or more.')


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.model = ml_collections.ConfigDict()
  c.model.name = ''  # 'crbm' | 'rbm' | 'wgan' | 'gan'

  c.data = ml_collections.ConfigDict()
  c.data.name = '1000g_805'  # a bundled dataset, used when `path` is empty
  c.data.path = ''  # a directory written by experiments/prepare_data.py
  c.data.in_memory = 'auto'  # 'auto' | 'yes' | 'no': hold the train split in host memory
  # 'none' | 'super_population' | 'population' (a samples.tsv column): condition the model on it
  c.data.condition = 'none'
  # N > 0: train on a seeded subsample of N train haplotypes (small-cohort studies); the rest
  # join the test split, unseen by the model, and give the privacy figures power. 0 = all.
  c.data.train_haplotypes = 0
  # K >= 2: pool the store's train and test and hold out fold `fold` of K seeded folds of
  # individuals as the test split (one run per fold; experiments/privacy_folds.py pools them).
  c.data.folds = 0
  c.data.fold = 0
  c.data.split_seed = 0  # seeds the subsample and the folds, apart from the training seed

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 32
  c.train.num_steps = 1000
  c.train.log_every = 50
  c.train.checkpoint_every = 500
  c.train.keep_checkpoints = 3
  # Multi-process jobs only: every this many steps the processes agree on whether any of them
  # received SIGTERM/SIGINT (one all-gather of a flag, which waits for the step to finish), so
  # all stop after the same step and save it together. One process alone checks every step.
  c.train.signal_check_every = 10
  # Every this many steps (a multiple of log_every; 0 = never) generate 1,000 AGs and log
  # their allele-frequency r against the train split as `sample_af_r`.
  c.train.sample_every = 0

  c.sample = ml_collections.ConfigDict()
  c.sample.num_samples = 5000  # AGs written at the end of training
  c.sample.batch_size = 1000

  c.evaluate = ml_collections.ConfigDict()
  c.evaluate.at_end = True  # run the evaluation report after training

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1  # -1: all devices not used by other axes
  c.mesh.window = 1  # CRBM only: windows split over this many devices
  return c


def tiny_run(c: ml_collections.ConfigDict) -> None:
  """The run-time part of every `test` variant: a few steps, frequent logs and checkpoints,
  64 AGs, no report (the model part stays in each config)."""
  c.train.num_steps = 20
  c.train.log_every = 5
  c.train.checkpoint_every = 10
  c.sample.num_samples = 64
  c.sample.batch_size = 32
  c.evaluate.at_end = False


def parse_variant(arg: str | None) -> list[str]:
  """`'test,foo'` -> `['test', 'foo']`; empty for None or ''."""
  return [a for a in (arg or '').split(',') if a]
