"""The training loop shared by every model family.

`run(config, workdir)`: check the workdir, build the set-up (ag_jax.train.setup), resume from
the latest checkpoint, run the jitted step with prefetched batches, log, checkpoint, stop
cleanly on SIGTERM, fail fast on NaN, and finally write AGs (and the report:
ag_jax.train.trained.finish).

The key of step s is item s of the seed's 'train' stream (ag_jax.rng) and its batch is a pure
function of (seed, s), so a resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import logging as std_logging
import math
import pathlib
import signal
import time

import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from ag_jax import checkpoint as ckpt_lib
from ag_jax import data as data_lib
from ag_jax import parallel
from ag_jax import rng
from ag_jax.data import labels as labels_lib
from ag_jax.train import dp
from ag_jax.train import metrics as metrics_lib
from ag_jax.train import trained as trained_lib
# DataInfo and family: for callers that build a family's step themselves (the side-by-side
# benchmark harness).
from ag_jax.train.setup import (DataInfo, ResumeError, Setup, WorkdirError, build,  # pylint: disable=unused-import
                                check_workdir, config_changes, family, init_or_restore,
                                jit_sampler, make_step_fn, warn, write_config)

logging = std_logging.getLogger('ag_jax')


class NonFiniteError(FloatingPointError):
  """A metric became NaN/inf; the message names the step range."""


def step_key(seed: int, step: int | jax.Array) -> jax.Array:
  return rng.key(seed, 'train', step)


class _StopSignal:
  """Turns SIGTERM/SIGINT into a flag the loop checks after each step (in a multi-process
  job, after the steps where the processes agree on it: `agree`)."""

  def __init__(self):
    self.received = None
    self._old = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._old[sig] = signal.signal(sig, self._handler)
      except ValueError:  # Not the main thread: no signal handling.
        pass
    return self

  def _handler(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, old in self._old.items():
      signal.signal(sig, old)

  def agree(self) -> str | None:
    """The stop every process of the job takes: the signal any of them has received, as
    'SIGTERM received by process 1'. Collective: every process calls it after the same steps."""
    code = signal.Signals[self.received].value if self.received else 0
    codes = np.ravel(multihost_utils.process_allgather(np.int32(code)))
    got = [(i, int(c)) for i, c in enumerate(codes) if c]
    if not got:
      return None
    i, c = got[0]
    return f'{signal.Signals(c).name} received by process {i}'


def _check_finite(values: dict[str, float], last_good: int, step: int):
  bad = sorted(k for k, v in values.items() if not math.isfinite(v))
  if bad:
    raise NonFiniteError(
        f'non-finite {", ".join(bad)} between step {last_good} and step {step} '
        f'(values: { {k: values[k] for k in bad} }); the last good checkpoint is kept. Lower '
        'the learning rate or check the data.')


def _vocab_text(vocab) -> str:
  if vocab is None:
    return 'no labels'
  return f'{vocab.column}: {", ".join(vocab.names)} ({sum(vocab.counts)} haplotypes)'


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
  """Trains (or resumes) in `workdir`; returns the last logged metrics (and eval metrics)."""
  workdir = pathlib.Path(workdir)
  parallel.initialize_distributed()
  is_main = jax.process_index() == 0
  check_workdir(workdir)
  changed = config_changes(config, workdir)
  setup = build(config)  # a bad config value raises here, before the workdir exists
  if not setup.dataset.num_test:
    warn(f'{setup.dataset.path}: no test split; the test-split metrics (aats_test, '
         'privacy_loss, mia_auc, the real_test reference) will be skipped.')
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise WorkdirError(f'{workdir}: cannot be created ({e.strerror}); give --workdir a '
                       'writable location.') from e
  tc = config.train
  ckpt = ckpt_lib.Checkpointer(workdir, keep=tc.keep_checkpoints)
  kept = ckpt.all_steps()
  try:
    state = init_or_restore(setup, ckpt)
  except Exception as e:  # pylint: disable=broad-except
    if not kept:  # a fresh start: nothing to resume, the error is not about checkpoints
      raise
    if changed:
      raise ResumeError(
          f'{workdir}: its checkpoints do not fit the new config (changed: '
          f'{"; ".join(changed)}), so it cannot resume. Use a new --workdir, or rerun with the '
          f'config in {workdir / "config.json"}; the workdir is left as it was.') from e
    raise ResumeError(
        f'{ckpt.directory}: no kept checkpoint restores (steps '
        f'{", ".join(map(str, kept))}; the newest fails with '
        f'{ckpt_lib.short_error(e)}): they are damaged or were written by an incompatible '
        'ag_jax. Nothing was changed; to train afresh give a new --workdir.') from e
  saved = labels_lib.load(workdir) if kept else None
  if saved is not None and saved != setup.info.labels:
    raise ResumeError(
        f'{workdir / labels_lib.FILENAME}: its checkpoints were trained on the labels '
        f'{_vocab_text(saved)}, the data now give {_vocab_text(setup.info.labels)}, so it '
        'cannot resume. Use a new --workdir; '
        'the workdir is left as it was.')
  if is_main:  # Only once the checkpoint fits: config.json always describes the checkpoints.
    write_config(config, workdir)
    if setup.info.labels is not None:  # a conditional model: generation needs its labels
      labels_lib.save(workdir, setup.info.labels)
  start = int(jax.device_get(state.step))
  decay = config.model.lr_decay if 'lr_decay' in config.model else 'none'  # the GAN has none
  if start and decay != 'none' and any(c.startswith('train.num_steps:') for c in changed):
    logging.warning(
        '%s: train.num_steps changed on a run whose rate decays over it (model.lr_decay=%s): '
        'its %d steps followed the old schedule and the rest follow the new one, so this is '
        'not the model a fresh run of this config trains (for that, use a new --workdir).',
        workdir, decay, start)
  writer = metrics_lib.MetricsWriter(workdir, enabled=is_main, resume_step=start)
  logging.info('%s: %s, %d SNPs, %d train / %d held-out haplotypes; mesh %s; step %d of %d',
               config.model.name, setup.dataset.path, setup.info.num_snps,
               setup.info.num_train, setup.dataset.num_test, dict(setup.mesh.shape), start,
               tc.num_steps)
  if float(config.model.get('dp_noise', 0)) > 0:
    logging.info('%s', dp.describe(config, setup.info.num_train))
  step_fn = make_step_fn(setup)
  loader = data_lib.BatchLoader(setup.dataset, batch_size=tc.batch_size, seed=config.seed,
                                process_index=jax.process_index(),
                                process_count=jax.process_count(),
                                in_memory=config.data.in_memory)
  if setup.info.labels is not None:  # each batch row carries its one-hot label first
    loader = labels_lib.LabelledLoader(loader, setup.info.labels)
  last = {}
  if start < tc.num_steps:
    last = _train(setup, state, step_fn, loader, ckpt, writer, start)
    if last.get('stopped'):
      return last
    state = last.pop('state')
  else:
    logging.info('already trained to step %d', start)
  writer.close()
  last.update(trained_lib.finish(setup, state, workdir, write=is_main))
  ckpt.close()
  return last


def _train(setup: Setup, state, step_fn, loader, ckpt, writer, start: int) -> dict:
  config, tc = setup.config, setup.config.train
  # The handler covers compilation too (minutes for long genomes): a SIGTERM or Ctrl-C there
  # stops cleanly after the first step, with a checkpoint, instead of killing the process.
  with _StopSignal() as stop:
    t_compile = time.time()
    logging.info('compiling the train step...')
    first_batch = loader.batch(start)
    compiled = step_fn.lower(state, parallel.global_batch(setup.mesh, first_batch),
                             step_key(config.seed, start)).compile()
    logging.info('compiled in %.1fs', time.time() - t_compile)
    last_good, last_metrics = start, {}
    sample_every = int(tc.sample_every)
    sampler = jit_sampler(setup)
    ld_probe = privacy_probe = None
    if sample_every:
      from ag_jax.evaluate import probes  # pylint: disable=g-import-not-at-top  (matplotlib)
      ld_probe = probes.LdProbe(setup.dataset, config.seed)
      if setup.dataset.num_test:
        privacy_probe = probes.PrivacyProbe(setup.dataset, config.seed)
    t0, steps_done = time.time(), 0
    multi = jax.process_count() > 1
    check_every = int(tc.signal_check_every)
    for step, batch in loader.iterate(start, tc.num_steps - start):
      state, metrics = compiled(state, parallel.global_batch(setup.mesh, batch),
                                step_key(config.seed, step))
      done = step + 1
      steps_done += 1
      log_now = done % tc.log_every == 0 or done == tc.num_steps
      save_now = done % tc.checkpoint_every == 0 or done == tc.num_steps
      # Read the flag once: a signal arriving later in this iteration (while logging) is
      # handled after the next step, so "saved step N" is never printed for an unsaved step.
      # Several processes decide together, after the same steps (the save is collective: one
      # process saving alone would wait for the others forever).
      if not multi:
        stopping = stop.received and f'{stop.received} received'
      elif steps_done == 1 or done % check_every == 0 or log_now or save_now:
        stopping = stop.agree()
      else:
        stopping = None
      save_now = save_now or bool(stopping)
      if log_now or save_now:
        values = {k: float(v) for k, v in jax.device_get(metrics).items()}
        _check_finite(values, last_good, done)
        last_good = done
        rate = steps_done / max(time.time() - t0, 1e-9)
        values.update(steps_per_sec=rate, haplotypes_per_sec=rate * tc.batch_size)
        if sample_every and log_now and done % sample_every == 0:
          values.update(_sample_stats(setup, sampler, state, done, ld_probe, privacy_probe))
        last_metrics = values
        if log_now:
          eta = (tc.num_steps - done) / max(rate, 1e-9)
          writer.write(done, values)
          logging.info('step %d/%d  %.2f steps/s  ETA %s  %s', done, tc.num_steps, rate,
                       _hms(eta), '  '.join(f'{k} {v:.4g}' for k, v in values.items()
                                            if k not in ('steps_per_sec', 'haplotypes_per_sec')))
      if save_now:
        ckpt.save(done, state)
      if stopping:
        logging.warning('%s: saved step %d; run the same command again to resume.',
                        stopping, done)
        writer.close()
        return dict(last_metrics, stopped=True, step=done)
  return dict(last_metrics, state=state)


def _sample_stats(setup: Setup, sampler, state, step: int, ld_probe, privacy_probe,
                  num: int = 1000) -> dict[str, float]:
  """The probes (ag_jax.evaluate.probes.sample_stats) of `num` AGs drawn with the step's
  'probe' key; a conditional model's in the training proportions (labels.request)."""
  from ag_jax.evaluate import probes  # pylint: disable=g-import-not-at-top  (matplotlib)
  key = rng.key(setup.config.seed, 'probe', step)
  labels = labels_lib.request(labels_lib.of(setup.info), num)
  args = () if labels is None else (labels,)
  ags = np.asarray(jax.device_get(sampler(state, key, num, *args)))
  return probes.sample_stats(ags, setup.info.allele_freq, ld_probe, privacy_probe)


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f'{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'
