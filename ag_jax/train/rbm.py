"""Family module for the RBM (2021 baseline) and the CRBM chain (2023).

Both are the window chain of `ag_jax.models.crbm`: the plain RBM is one window over all SNPs.
The loop calls `create_state`, `make_train_step`, `make_sampler` and `partition_specs`.
Conditional models (info.labels, docs/conditional.md) take batches with the K one-hot label
columns first, [B, K + num_snps], and sample with one label per AG.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P
import numpy as np
import optax

from ag_jax.config_base import ConfigError, check_positive
from ag_jax.data import labels as labels_lib
from ag_jax.models import crbm
from ag_jax.models import rbm
from ag_jax.train import dp
from ag_jax.train import schedules


@flax.struct.dataclass
class RBMState:
  step: jax.Array  # int32 []
  params: rbm.RBMParams  # stacked over windows: w [n_w, W, H], vb [n_w, W], hb [n_w, H]
  opt_state: Any
  chains: jax.Array  # float32 [n_w, batch, K + W]: persistent negative chains (PCD)


def layout(config, info) -> crbm.Layout:
  window = info.num_snps if config.model.name == 'rbm' else int(config.model.window_size)
  vocab = labels_lib.of(info)
  return crbm.make_layout(info.num_snps, window, vocab.size if vocab else 0)


def _dtype(config) -> str:
  """`model.matmul_dtype` resolved to one of rbm.MATMUL_PRECISIONS ('auto': by hardware)."""
  return rbm.matmul_precision(config.model.matmul_dtype)


def learning_rate(config) -> float | optax.Schedule:
  """`model.lr`, constant or decayed over `train.num_steps` (`model.lr_decay`).

  PCD's negative chains follow the model only while it changes slowly: with a large constant
  rate the persistent chains see fast-moving weights ("fast PCD" mixing) and the weights end
  where the chains' statistics, not the model's equilibrium, match the data, so AGs drawn
  with many sweeps drift from the data. Decaying the rate to `lr * lr_final` lets the chains
  and the model settle together (Tieleman 2008).
  """
  return schedules.decayed(config, config.model.lr)


def hidden_type(config) -> str:
  """`model.hidden`: 'bernoulli' or 'relu'."""
  return rbm.check_hidden(config.model.hidden)


def optimizer(config) -> optax.GradientTransformation:
  m = config.model
  lr = learning_rate(config)
  if m.optimizer == 'sgd':
    return optax.sgd(lr, momentum=m.momentum or None)
  if m.optimizer == 'adam':
    return optax.adam(lr)
  raise ValueError(f'config.model.optimizer={m.optimizer!r}: use sgd or adam.')


def check_config(config) -> None:
  """Model fields with a fixed set of values or a lower bound: one ConfigError naming the field."""
  m = config.model
  try:
    hidden_type(config)
    _dtype(config)
    restart_init(config)
    precondition(config)
    optimizer(config)  # also builds the learning-rate schedule, so checks lr_decay
    check_sample_beta(float(m.sample_beta), 'config.model.sample_beta')
    check_sample_beta(float(m.sample_sharpen), 'config.model.sample_sharpen', SHARPEN_HELP)
    dp.check_config(config)
  except ValueError as e:
    raise ConfigError(str(e) if str(e).startswith('config.') else f'config.model.{e}') from e
  # 0 Gibbs steps trains on the start state: NaN 250 steps later.
  check_positive(m, ('num_hidden', 'gibbs_steps', 'sample_sweeps'))


def model_allele_freq(config, info) -> np.ndarray:
  """float32 [num_snps]: the allele frequencies the model starts from (visible biases, chain
  restarts, sampler starts): the training split's, or 0.5 under DP training (dp.py)."""
  if dp.enabled(config):
    return np.full(info.num_snps, 0.5, np.float32)
  return np.asarray(info.allele_freq, np.float32)


def create_state(config, info, key: jax.Array) -> RBMState:
  check_config(config)
  labels_lib.check_info(config, info)
  lay = layout(config, info)
  k_params, k_chains = jax.random.split(key)
  params = crbm.init_params(k_params, lay, config.model.num_hidden,
                            model_allele_freq(config, info), config.model.init_std)
  batch = config.train.batch_size
  chains = rbm.random_visible(k_chains, (lay.num_windows, batch, lay.visible))
  chains = jnp.where(jnp.asarray(lay.pad_mask)[:, None], 0.0, chains)
  if lay.num_labels:  # persistent chains' own labels, in the training proportions
    own = labels_lib.one_hot(labels_lib.proportional(batch, labels_lib.of(info).freq),
                             lay.num_labels)
    own = jnp.concatenate([jnp.asarray(own, jnp.float32),
                           jnp.zeros((batch, lay.window), jnp.float32)], axis=1)
    chains = jnp.where(jnp.asarray(lay.label_mask)[:, None], own, chains)
  return RBMState(step=jnp.zeros((), jnp.int32), params=params,
                  opt_state=optimizer(config).init(params), chains=chains)


def window_block(config, lay: crbm.Layout) -> int:
  """Windows updated together (vmapped); blocks run one after another.

  All windows at once is fastest while the negative chains and hidden activations fit in the
  CPU's last-level cache; beyond that (~100k SNPs at the default sizes) every elementwise pass
  streams from DRAM and the cost per SNP grows. `model.window_block` = 0 picks blocks of about
  4 MiB of chain state; -1 = all windows at once (also used when windows are sharded over
  devices, where each device already holds a slice).
  """
  b = int(config.model.window_block)
  if b < 0 or config.mesh.window != 1:
    return lay.num_windows
  if b == 0:
    per_window_bytes = 4 * config.train.batch_size * (lay.visible + config.model.num_hidden)
    b = max(1, (4 << 20) // per_window_bytes)
  return min(b, lay.num_windows)


RESTART_INITS = ('uniform', 'freq')
PRECONDITIONS = ('none', 'allele_sd')


def precondition(config) -> str:
  """`model.precondition`, or one ValueError (also for its power)."""
  r = config.model.precondition
  if r not in PRECONDITIONS:
    raise ValueError(f'config.model.precondition={r!r}: use one of {", ".join(PRECONDITIONS)}.')
  power = float(config.model.precondition_power)
  if not 0 < power <= 2:  # also NaN
    raise ValueError(f'config.model.precondition_power={power}: use a power in (0, 2].')
  return r


def gradient_scale(config, info, lay: crbm.Layout) -> jax.Array | None:
  """float32 [n_w, W]: per-visible factor on the weight and visible-bias gradients, or None.

  'allele_sd' multiplies SNP i's rows by (0.5 / sd_i) ** `model.precondition_power` (default 1),
  sd_i = sqrt(p_i (1 - p_i)) of its training allele frequency (p clipped to [0.005, 0.995], so
  the factor is 1 at p = 0.5 and at most 7.1 at power 1, 2.7 at power 0.5): a rare variant's
  gradient is small in proportion to its sd, so plain SGD learns couplings between rare
  variants slowly (README "AGBL4": rare pairs in perfect LD came out nearly independent). A
  diagonal, data-fixed step-size rule; unlike Adam's it does not grow the steps of couplings
  whose gradient is only sampling noise. On AGBL4 (README "AGBL4") power 1 restores those
  pairs but loses population structure; power 0.5 gives the best LD at the same structure but
  a privacy loss over the 0.02 limit (0.043), so it is off by default.
  """
  if precondition(config) == 'none':
    return None
  power = float(config.model.precondition_power)
  p = jnp.clip(jnp.asarray(info.allele_freq, jnp.float32), 0.005, 0.995)
  return crbm.per_snp_to_windows(lay, (0.5 / jnp.sqrt(p * (1 - p))) ** power, 1.0)


def restart_init(config) -> str:
  """`model.restart_init`, or one ValueError."""
  r = config.model.restart_init
  if r not in RESTART_INITS:
    raise ValueError(f'config.model.restart_init={r!r}: use one of {", ".join(RESTART_INITS)}.')
  return r


def restart_probabilities(config, info, lay: crbm.Layout) -> jax.Array:
  """float32 [n_w, W]: P(allele 1) of the non-persistent chains' start state.

  'uniform' is the original code's restart (0.5). 'freq' is the sampler's own start
  (Bernoulli(training allele frequency), `sample_init='freq'`): trained with restarts from it
  and `gibbs_steps` sweeps, the model is fitted to what that many sweeps from that start give
  (the out-of-equilibrium regime of Decelle et al. 2021), which `sample_sweeps` equal to
  `gibbs_steps` then reproduces. Unused with persistent chains.
  """
  if restart_init(config) == 'uniform':
    return jnp.full((lay.num_windows, lay.visible), 0.5, jnp.float32)
  return crbm.per_snp_to_windows(lay, model_allele_freq(config, info))


def leading_pinned(pin_mask) -> int:
  """Visibles pinned at the start of every row of pin_mask (numpy bool [n, W]); 0 if no rows."""
  pinned = np.asarray(pin_mask).all(0) if len(pin_mask) else np.zeros(0, bool)
  return int(pinned.size if pinned.all() else np.argmin(pinned))


def make_train_step(config, info) -> Callable:
  lay = layout(config, info)
  m = config.model
  tx = optimizer(config)
  clamp = jnp.asarray(lay.pin_mask | lay.pad_mask)  # [n_w, W]
  free = ~clamp
  dtype = _dtype(config)
  hidden = hidden_type(config)

  restart_p = restart_probabilities(config, info, lay)  # [n_w, W]
  scale = gradient_scale(config, info, lay)  # [n_w, W] or None
  # Persistent chains of window 0 (no pinned half) keep their own labels (create_state), so
  # they stay near the model's equilibrium for that label; windows 1.. take the batch's labels
  # with the batch's pinned half, as p(free | label, pinned) needs the pairs the data has.
  own_labels = lay.label_mask & (np.arange(lay.num_windows) == 0)[:, None]
  own_labels = jnp.asarray(own_labels if m.persistent else np.zeros_like(own_labels))[:, None]
  label_mask = jnp.asarray(lay.label_mask)
  private = dp.enabled(config)

  def per_window(params, data, chains, key, clamp_w, restart_w, values, num_fixed=0):
    return crbm.window_gradient(params, data, chains, key, clamp_w, gibbs_steps=m.gibbs_steps,
                                centred=m.centred, l2=m.l2, persistent=m.persistent, dtype=dtype,
                                hidden=hidden, restart_p=restart_w, num_fixed=num_fixed,
                                clamp_values=values)

  block = window_block(config, lay)
  # Pinned visibles at the start of a window are skipped by the sweeps (rbm.run num_fixed): the
  # first half of windows 1.. (window 0 then runs on its own), or whatever prefix a layout pins
  # in every window. The same with windows sharded over devices, so a sharded step draws the
  # same random numbers as a single-device one.
  fixed_0, fixed_rest = leading_pinned(lay.pin_mask[:1]), leading_pinned(lay.pin_mask[1:])
  skip_pinned = lay.num_windows > 1 and fixed_0 != fixed_rest

  def all_windows(xs, num_fixed, n):
    fn = lambda *a: per_window(*a, num_fixed=num_fixed)
    if min(block, n) < n:  # blocks of windows in turn: each block's chains stay in cache
      return jax.lax.map(lambda a: fn(*a), xs, batch_size=min(block, n))
    return jax.vmap(fn)(*xs)

  def train_step(state: RBMState, batch: jax.Array, key: jax.Array):
    if batch.shape[-1] != lay.num_labels + lay.num_snps:  # a gather would clip, not fail
      raise ValueError(f'a batch of {batch.shape[-1]} columns; this model takes '
                       f'{lay.num_labels} label columns (labels.LabelledLoader) and '
                       f'{lay.num_snps} SNPs.')
    data = crbm.to_windows(lay, batch.astype(jnp.float32))  # [n_w, B, K + W]
    keys = crbm.window_keys(key, lay.num_windows)
    values = jnp.where(own_labels, state.chains, data)
    xs = (state.params, data, state.chains, keys, clamp, restart_p, values)
    if skip_pinned:
      g0, c0 = per_window(*jax.tree.map(lambda a: a[0], xs))
      rest, c_rest = all_windows(jax.tree.map(lambda a: a[1:], xs), fixed_rest,
                                 lay.num_windows - 1)
      grads = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), g0, rest)
      chains = jnp.concatenate([c0[None], c_rest])
    else:
      grads, chains = all_windows(xs, leading_pinned(lay.pin_mask), lay.num_windows)
    if private:  # replaces the per-window gradients above
      grads = dp.private_gradient(state.params, data, chains,
                                  jax.random.fold_in(key, dp.NOISE_STREAM), clip=m.dp_clip,
                                  noise=m.dp_noise, l2=m.l2, hidden=hidden, dtype=dtype)
    if scale is not None:
      grads = grads._replace(w=grads.w * scale[..., None], vb=grads.vb * scale)
    # Labels are clamped in both phases: their biases only set the label marginal, never used.
    grads = grads._replace(vb=jnp.where(label_mask, 0.0, grads.vb))
    neg = jax.tree.map(lambda g: -g, grads)  # optax minimises; the gradient is an ascent.
    updates, opt_state = tx.update(neg, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    n_free = jnp.maximum(free.sum(), 1)
    af_gap = jnp.sum(jnp.abs(chains.mean(1) - data.mean(1)) * free) / n_free
    recon = jax.vmap(lambda p, d: rbm.reconstruction_error(p, d, hidden=hidden))(params, data)
    recon = recon.mean()
    free_energy = lambda p, v: rbm.free_energy(p, v, hidden).mean()
    metrics = {
        'reconstruction_error': recon,
        'mean_abs_dw': jnp.mean(jnp.abs(updates.w)),
        'chain_af_gap': af_gap,
        'free_energy_gap': jnp.mean(jax.vmap(lambda p, d, c: free_energy(p, d) - free_energy(p, c))(
            params, data, chains)),
    }
    new = state.replace(step=state.step + 1, params=params, opt_state=opt_state, chains=chains)
    return new, metrics

  return train_step


_BETA_HELP = 'an inverse temperature in (0, 100) (1 samples the model; above 1 colder)'
SHARPEN_HELP = ('a factor in (0, 100) on the inverse temperature of the last visible draw only '
                '(1: none; above 1 sharper AGs)')


def check_sample_beta(beta: float, name: str, what: str = _BETA_HELP) -> float:
  """An inverse temperature (or factor on one) for sampling: in (0, 100), or one ValueError."""
  if not 0 < beta < 100:  # also NaN; above 100 every chain freezes in its start's basin
    raise ValueError(f'{name}={beta}: use {what}.')
  return beta


def make_sampler(config, info) -> Callable:
  lay = layout(config, info)
  m = config.model
  init_freq = model_allele_freq(config, info) if m.sample_init == 'freq' else None
  beta = check_sample_beta(float(m.sample_beta), 'config.model.sample_beta')
  sharpen = check_sample_beta(float(m.sample_sharpen), 'config.model.sample_sharpen',
                              SHARPEN_HELP)
  final_beta = None if sharpen == 1.0 else beta * sharpen
  hidden = hidden_type(config)
  if (not m.persistent and restart_init(config) == 'freq' and m.sample_init == 'freq'
      and m.sample_sweeps != m.gibbs_steps):
    logging.warning('this model was fitted to what %d Gibbs sweeps from Bernoulli(allele '
                    'frequency) starts give (persistent=False, restart_init=freq); sampling '
                    'with %d sweeps draws from something else. Use sample_sweeps=%d.',
                    m.gibbs_steps, m.sample_sweeps, m.gibbs_steps)

  vocab = labels_lib.of(info)

  def sampler(state: RBMState, key: jax.Array, num: int, labels: jax.Array | None = None
              ) -> jax.Array:
    """uint8 [num, num_snps]; labels (int [num], conditional models only): each AG's label,
    default the training proportions (labels.proportional)."""
    if vocab is not None and labels is None:
      labels = labels_lib.proportional(num, vocab.freq)
    return crbm.sample(state.params, lay, key, num, num_sweeps=m.sample_sweeps,
                       beta_start=m.sample_beta_start, init_freq=init_freq, dtype=_dtype(config),
                       beta_end=beta, hidden=hidden, final_beta=final_beta, labels=labels)

  return sampler


def partition_specs(config, state: RBMState):
  """Windows over `window`, chains over (`window`, `data`); optimizer state like params."""
  del config
  windowed = lambda x: P('window') if getattr(x, 'ndim', 0) >= 1 else P()
  return RBMState(step=P(), params=jax.tree.map(windowed, state.params),
                  opt_state=jax.tree.map(windowed, state.opt_state),
                  chains=P('window', 'data'))
