"""The training job shared by every model family.

`run(config, workdir)`: open the data, create the state already placed on the mesh, resume
from the latest checkpoint, run the jitted step with prefetched batches, log, checkpoint,
stop cleanly on SIGTERM, fail fast on NaN, and finally write AGs (and the report).

The key of step s is item s of the seed's 'train' stream (ag_jax.rng) and its batch is a pure
function of (seed, s), so a resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging as std_logging
import math
import pathlib
import signal
import sys
import time
from typing import Any, Callable

from flax import traverse_util
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np

from ag_jax import checkpoint as ckpt_lib
from ag_jax import configuration
from ag_jax import data as data_lib
from ag_jax import parallel
from ag_jax import rng
from ag_jax.config_base import ConfigError
from ag_jax.data import writers
from ag_jax.train import adversarial
from ag_jax.train import metrics as metrics_lib
from ag_jax.train import rbm as rbm_family

logging = std_logging.getLogger('ag_jax')

FAMILIES = {  # config.model.name -> the module with create_state, make_train_step, make_sampler
    'crbm': rbm_family,
    'rbm': rbm_family,
    'wgan': adversarial,
    'gan': adversarial,
}


class NonFiniteError(FloatingPointError):
  """A metric became NaN/inf; the message names the step range."""


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


def family(config) -> Any:
  name = config.model.name
  if name not in FAMILIES:
    raise ConfigError(f'config.model.name={name!r}: known models are {", ".join(FAMILIES)}.')
  return FAMILIES[name]


def open_data(config) -> data_lib.Dataset:
  return data_lib.open_dataset(config.data.path or config.data.name)


def data_info(ds: data_lib.Dataset) -> DataInfo:
  return DataInfo(num_snps=ds.num_snps,
                  allele_freq=ds.allele_frequencies('train').astype(np.float32),
                  positions=ds.variants['pos'], num_train=ds.num_train)


def step_key(seed: int, step: int | jax.Array) -> jax.Array:
  return rng.key(seed, 'train', step)


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


def build(config, dataset: data_lib.Dataset | None = None) -> Setup:
  """Validates `config` (one ConfigError, before any data is read), then opens the data and
  lays the state out on the mesh."""
  fam = family(config)
  configuration.validate(config, fam)
  ds = dataset or open_data(config)
  info = data_info(ds)
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
                 donate_argnums=0 if donate else ())


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


def run(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
  """Trains (or resumes) in `workdir`; returns the last logged metrics (and eval metrics)."""
  workdir = pathlib.Path(workdir)
  parallel.initialize_distributed()
  is_main = jax.process_index() == 0
  check_workdir(workdir)
  changed = _config_changes(config, workdir)
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
  if is_main:  # Only once the checkpoint fits: config.json always describes the checkpoints.
    _write_config(config, workdir)
  start = int(jax.device_get(state.step))
  decay = config.model.lr_decay if 'lr_decay' in config.model else 'none'  # the GAN has none
  if start and decay != 'none' and any(c.startswith('train.num_steps:') for c in changed):
    logging.warning(
        '%s: train.num_steps changed on a run whose rate decays over it (model.lr_decay=%s): '
        'its %d steps followed the old schedule and the rest follow the new one, so this is '
        'not the model a fresh run of this config trains (for that, use a new --workdir).',
        workdir, decay, start)
  writer = metrics_lib.MetricsWriter(workdir, enabled=is_main, resume_step=start)
  logging.info('%s: %s, %d SNPs, %d train haplotypes; mesh %s; step %d of %d',
               config.model.name, setup.dataset.path, setup.info.num_snps,
               setup.info.num_train, dict(setup.mesh.shape), start, tc.num_steps)
  step_fn = make_step_fn(setup)
  loader = data_lib.BatchLoader(setup.dataset, batch_size=tc.batch_size, seed=config.seed,
                                process_index=jax.process_index(),
                                process_count=jax.process_count(),
                                in_memory=config.data.in_memory)
  last = {}
  if start < tc.num_steps:
    last = _train(setup, state, step_fn, loader, ckpt, writer, start)
    if last.get('stopped'):
      return last
    state = last.pop('state')
  else:
    logging.info('already trained to step %d', start)
  writer.close()
  last.update(_finish(setup, state, workdir, write=is_main))
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
    sampler = jax.jit(setup.fam.make_sampler(config, setup.info), static_argnums=2)
    ld_probe = LdProbe(setup.dataset, config.seed) if sample_every else None
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
          values.update(_sample_stats(setup, sampler, state, done, ld_probe))
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


class LdProbe:
  """LD r of fresh AGs, computed as the evaluation's ld_r (ag_jax.evaluate) is, on a sample of
  its pairs: Pearson r between the AGs' r^2 and the train split's over SNP pairs at most
  `max_gap` columns apart among the sites polymorphic in both (default: the evaluation's
  stats.LD_MAX_DISTANCE), `num_pairs` of them drawn at random from that set, within the first
  `max_snps` SNPs; the reference is `num` train haplotypes, kept for the run (100 MB at most).

  A generator that fixes sites (never draws their rare allele) is measured over wider spans,
  as in the evaluation: an earlier probe took pairs of raw columns up to 50 apart and read
  0.63 where the evaluation gave 0.39 (an AGBL4 WGAN that fixed a third of the SNPs and made
  spurious LD 51-200 SNPs apart). AF r alone cannot tell a generator that learnt only the
  allele frequencies (independent SNPs, LD r ~0) from a good one: a WGAN whose critic sees
  0/1 draws reached AF r 0.98 with LD r 0.00 on the 805 data."""

  def __init__(self, dataset, seed: int, num: int = 1000, num_pairs: int = 10_000,
               max_gap: int | None = None, max_snps: int = 100_000):
    from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top  (matplotlib)
    self.max_gap = stats.LD_MAX_DISTANCE if max_gap is None else int(max_gap)
    self.num_snps = min(dataset.num_snps, max_snps)
    self.seed, self.num_pairs = seed, num_pairs
    rng = np.random.default_rng(seed)
    rows = dataset.train_rows
    rows = np.sort(rng.choice(rows, min(num, rows.size), replace=False))
    self.real = dataset.read(rows, slice(0, self.num_snps))

  def pairs(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column pairs (i, j), i < j, drawn uniformly from the pairs of kept columns at most
    `max_gap` kept columns apart (the evaluation's pair set); the same draw for the same
    `keep`, so successive calls differ only where the AGs' polymorphic sites do."""
    cols = np.flatnonzero(keep)
    m = cols.size
    if m < 2:
      return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gaps = np.arange(1, min(self.max_gap, m - 1) + 1)
    rng = np.random.default_rng(self.seed)
    d = rng.choice(gaps, self.num_pairs, p=(m - gaps) / (m - gaps).sum())  # pairs per gap
    i = np.minimum((rng.random(self.num_pairs) * (m - d)).astype(np.int64), m - d - 1)
    return cols[i], cols[i + d]

  def __call__(self, ags: np.ndarray) -> float:
    from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top
    ags = np.asarray(ags)[:, :self.num_snps]
    i, j = self.pairs(stats.polymorphic(self.real, ags))
    return _pearson_or_zero(pair_r2(ags, i, j), pair_r2(self.real, i, j))


def pair_r2(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
  """r^2 between 0/1 columns i[k] and j[k] of x (NaN where either is monomorphic)."""
  a, b = x[:, i].astype(np.float32), x[:, j].astype(np.float32)
  pa, pb = a.mean(0), b.mean(0)
  cov = (a * b).mean(0) - pa * pb
  var = pa * (1 - pa) * pb * (1 - pb)
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where(var > 0, cov ** 2 / var, np.nan)


def _pearson_or_zero(a: np.ndarray, b: np.ndarray) -> float:
  """The evaluation's Pearson r, 0 where it is undefined (a constant side), so a collapsed
  generator logs 0 rather than NaN."""
  from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top  (matplotlib)
  r = stats.pearson(a, b)
  return 0.0 if math.isnan(r) else r


def _sample_stats(setup: Setup, sampler, state, step: int, ld_probe: LdProbe | None,
                  num: int = 1000) -> dict[str, float]:
  key = rng.key(setup.config.seed, 'probe', step)
  ags = np.asarray(jax.device_get(sampler(state, key, num)))
  from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top  (matplotlib)
  af, real = ags.mean(0), np.asarray(setup.info.allele_freq)
  # The evaluation's fixed_sites on these AGs (rare alleles the generator never draws);
  # chance fixes ~0 of them at 1,000 AGs unless many train alleles are rarer than 1 in 1,000.
  fixed, _ = stats.fixed_sites(real, af, len(ags))
  out = {'sample_af_r': _pearson_or_zero(af, real),
         'sample_fixed_sites': 0.0 if math.isnan(fixed) else fixed}
  if ld_probe is not None:
    out['sample_ld_r'] = ld_probe(ags)
  return out


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f'{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def _config_changes(config, workdir: pathlib.Path) -> list[str]:
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


def _write_config(config, workdir: pathlib.Path):
  writers.write_text(workdir / 'config.json',
                     config.to_json_best_effort(indent=2, sort_keys=True) + '\n')


def generate(setup: Setup, state, num: int, seed: int, batch_size: int,
             progress: bool = True, **sampling):
  """An iterator of uint8 [<= batch_size, num_snps] batches of AGs; batch i uses
  fold_in(key, i).

  sampling: model sampling options for this draw only (e.g. sample_sweeps=200 for an RBM),
  validated here, before anything is drawn (ConfigError); the trained config is not changed.
  """
  config = setup.config
  if sampling:
    config = configuration.override(config, 'model', sampling)
    configuration.validate(config, setup.fam)
  sampler = setup.fam.make_sampler(config, setup.info)
  return _draw(jax.jit(sampler, static_argnums=2), state, num, seed, batch_size, progress)


def _draw(fn, state, num: int, seed: int, batch_size: int, progress: bool):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  key = rng.stream(seed, 'generate')
  with tqdm(total=num, unit='AG', disable=not progress, desc='generating') as bar:
    for i, start in enumerate(range(0, num, batch_size)):
      n = min(batch_size, num - start)
      out = np.asarray(jax.device_get(fn(state, jax.random.fold_in(key, i), batch_size)))[:n]
      bar.update(n)
      yield out


def _finish(setup: Setup, state, workdir: pathlib.Path, write: bool = True) -> dict:
  """Writes workdir/ags.hapt and, if configured, the evaluation report (process 0 only;
  every process takes part in generation, a sharded computation)."""
  config = setup.config
  ags = np.concatenate(list(generate(setup, state, config.sample.num_samples, config.seed,
                                     config.sample.batch_size, progress=write)))
  if not write:
    return {'num_ags': int(ags.shape[0])}
  writers.write_hapt(workdir / 'ags.hapt', ags)
  logging.info('wrote %d AGs to %s', ags.shape[0], workdir / 'ags.hapt')
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
    result = evaluate.run_evaluation(
        train, {config.model.name: ags}, workdir / 'report',
        real_test=ds.read_split('test') if ds.num_test else None,
        positions=ds.variants['pos'], chrom=ds.variants['chrom'],
        populations=ds.split_samples('super_population'))
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
               **sampling):
    """Batches of AGs; `sampling` overrides model sampling options for this draw only."""
    return generate(self.setup, self.state, num, seed, batch_size, progress, **sampling)


def load_trained(workdir: str | pathlib.Path, step: int | None = None) -> Trained:
  """The config, data info and checkpointed state (`step`, default the latest) of a workdir."""
  workdir = pathlib.Path(workdir)
  config = saved_config(workdir)
  if config is None:
    raise FileNotFoundError(f'{workdir}: not a training workdir (no config.json).')
  setup = build(config)
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
