"""A trained model: loading a workdir's checkpoint (`load_trained`) and drawing AGs from it
(`generate`, `Trained.generate`), and the AGs and report written at the end of training
(`finish`).
"""

from __future__ import annotations

import dataclasses
import json
import logging as std_logging
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from ag_jax import checkpoint as ckpt_lib
from ag_jax import configuration
from ag_jax import rng
from ag_jax.data import labels as labels_lib
from ag_jax.data import writers
from ag_jax.train.setup import Setup, build, jit_sampler, restore, saved_config, warn

logging = std_logging.getLogger('ag_jax')


def generate(setup: Setup, state, num: int, seed: int, batch_size: int,
             progress: bool = True, labels: np.ndarray | None = None, **sampling):
  """An iterator of uint8 [<= batch_size, num_snps] batches of AGs; batch i uses
  fold_in(key, i). labels (conditional models): int [num], each AG's label
  (labels.request; default the training proportions).

  sampling: model sampling options for this draw only (e.g. sample_sweeps=200 for an RBM),
  validated here, before anything is drawn (ConfigError); the trained config is not changed.
  """
  config = setup.config
  if sampling:
    config = configuration.override(config, 'model', sampling)
    configuration.validate(config, setup.fam)
  if labels is None:
    labels = labels_lib.request(setup.info.labels, num)
  elif setup.info.labels is None:
    raise labels_lib.LabelError('labels: this model was trained without labels.')
  return _draw(jit_sampler(setup, config), state, num, seed, batch_size, progress, labels)


def _draw(fn, state, num: int, seed: int, batch_size: int, progress: bool, labels=None):
  """`generate`'s batches, drawn lazily by the jitted sampler `fn`."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  key = rng.stream(seed, 'generate')
  with tqdm(total=num, unit='AG', disable=not progress, desc='generating') as bar:
    for i, start in enumerate(range(0, num, batch_size)):
      n = min(batch_size, num - start)
      # A short last batch repeats labels to the compiled size; the extra AGs are dropped.
      args = () if labels is None else (np.resize(labels[start:start + n], batch_size),)
      out = np.asarray(jax.device_get(fn(state, jax.random.fold_in(key, i), batch_size,
                                         *args)))[:n]
      bar.update(n)
      yield out


def finish(setup: Setup, state, workdir: pathlib.Path, write: bool = True) -> dict:
  """Writes workdir/ags.hapt and, if configured, the evaluation report (process 0 only;
  every process takes part in generation, a sharded computation)."""
  config = setup.config
  vocab = setup.info.labels
  labels = labels_lib.request(vocab, config.sample.num_samples)  # the training proportions
  ags = np.concatenate(list(generate(setup, state, config.sample.num_samples, config.seed,
                                     config.sample.batch_size, progress=write, labels=labels)))
  if not write:
    return {'num_ags': int(ags.shape[0])}
  writers.write_hapt(workdir / 'ags.hapt', ags, tags=labels_lib.names(vocab, labels))
  logging.info('wrote %d AGs to %s', ags.shape[0], workdir / 'ags.hapt')
  if vocab is not None:  # each AG's label, as generate.py writes it
    labels_lib.write_ag_labels(labels_lib.ag_labels_path(workdir / 'ags.hapt'), vocab, labels)
  out = {'num_ags': int(ags.shape[0])}
  out['af_r'] = float(np.corrcoef(ags.mean(0), setup.info.allele_freq)[0, 1])
  logging.info('allele-frequency Pearson r (AGs vs train split): %.4f', out['af_r'])
  if config.evaluate.at_end:
    from ag_jax import evaluate  # pylint: disable=g-import-not-at-top
    ds = setup.dataset
    train = ds.read_split('train')
    if not ds.num_test:
      warn(f'{ds.path}: no test split, so the report skips the test-split metrics (aats_test, '
           'privacy_loss, mia_auc, the real_test reference); prepare the data with a test '
           'split (experiments/prepare_data.py --test_fraction) to get them.')
    by_label = None if vocab is None else evaluate.Labels(
        vocab.column, ds.split_samples(vocab.column),
        ds.split_samples(vocab.column, 'test') if ds.num_test else None,
        sets={config.model.name: labels_lib.names(vocab, labels)})
    result = evaluate.run_evaluation(
        train, {config.model.name: ags}, workdir / 'report',
        real_test=ds.read_split('test') if ds.num_test else None,
        positions=ds.variants['pos'], chrom=ds.variants['chrom'],
        populations=ds.split_samples('super_population'), labels=by_label)
    out['evaluation'] = result
  writers.write_text(workdir / 'final_metrics.json',
                     json.dumps(out, indent=2, default=float) + '\n')
  return out


@dataclasses.dataclass
class Trained:
  config: ml_collections.ConfigDict
  setup: Setup
  state: Any

  def generate(self, num: int, seed: int = 0, batch_size: int = 1000, progress: bool = True,
               labels: np.ndarray | None = None, **sampling):
    """Batches of AGs; labels: each AG's label (conditional models, labels.request);
    `sampling` overrides model sampling options for this draw only."""
    return generate(self.setup, self.state, num, seed, batch_size, progress, labels,
                    **sampling)


def load_trained(workdir: str | pathlib.Path, step: int | None = None) -> Trained:
  """The config, data info and checkpointed state (`step`, default the latest) of a workdir."""
  workdir = pathlib.Path(workdir)
  config = saved_config(workdir)
  if config is None:
    raise FileNotFoundError(f'{workdir}: not a training workdir (no config.json).')
  setup = build(config, labels=labels_lib.load(workdir))
  ckpt = ckpt_lib.Checkpointer(workdir, keep=config.train.keep_checkpoints)
  try:
    if ckpt.latest_step() is None:
      raise FileNotFoundError(f'{workdir}: no checkpoint to generate from; train first.')
    kept = ckpt.all_steps()
    if step is not None and step not in kept:
      raise FileNotFoundError(f'{workdir}: no checkpoint at step {step}; it keeps steps '
                              f'{", ".join(map(str, kept))} (config.train.keep_checkpoints).')
    try:
      state = restore(setup, ckpt, step)
    except ckpt_lib.MissingFieldsError:
      raise
    except Exception as e:  # pylint: disable=broad-except  (Orbax/tensorstore raise many)
      step = ckpt.latest_step() if step is None else step
      others = [s for s in kept if s != step]
      why = (str(e) if isinstance(e, ckpt_lib.DamagedCheckpointError) else
             ckpt.damaged_message(step, ckpt_lib.short_error(e)))
      hint = f'; use an earlier one with --step={others[-1]}' if others else ''
      raise ckpt_lib.DamagedCheckpointError(why + hint + '.') from e
  finally:
    ckpt.close()
  return Trained(config, setup, state)
