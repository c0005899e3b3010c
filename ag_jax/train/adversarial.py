"""Family module for the adversarial models: the conv WGAN-GP (2023) and the FC GAN (2021).

WGAN step (docs/papers.md §2.6): `critic_iter` critic updates then one generator update, all
inside one jit (lax.scan over the critic updates). Each critic update consumes `pack_m` x
`model.batch_size` real rows, so the loop's batch is critic_iter x pack_m x model.batch_size
rows (`config.train.batch_size`, set by configs/wgan.py). Real data are zero-padded to the
pyramid length; generated haplotypes are cropped to the SNP count and padded with the same
zeros, so the critic never sees the pad differ (the mask).

Generator weight averaging (`model.ema_decay` > 0): the state carries an exponential moving
average of the generator parameters, updated after every generator update, and AGs are drawn
from it. GAN generators oscillate between the modes the critic currently favours; the average
does not. Measured on the 805 data (WGAN default, 6,000 steps): the last checkpoint's AGs have
AF r 0.954, the mean of its checkpoints 4,000 / 5,000 / 6,000 0.974. The averaged weights do
not match any BatchNorm running statistics (0.784 with the last step's), so the WGAN draws AGs
from the average with the statistics of each generated batch (`sample.batch_size`, hundreds).

Conditional WGAN (info.labels, docs/conditional.md and docs/wgan.md "Conditional"): batches carry
the K one-hot label columns first, [rows, K + num_snps]. Each critic update draws its fakes with
the labels of its real rows, packed alike, so a real packed sample, the fake beside it and their
gradient-penalty interpolate have the same labels; the generator update uses the last critic
update's labels. The critic's label head is a projection or an auxiliary classifier
(`model.label_head`). The sampler takes one label per AG and normalises every batch by the
BatchNorm statistics of a reference batch in the training proportions.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
import optax

from ag_jax import hardware
from ag_jax.config_base import ConfigError, check_positive
from ag_jax.data import labels as labels_lib
from ag_jax.models import gan as gan_lib
from ag_jax.models import wgan as wgan_lib
from ag_jax.train import schedules


@flax.struct.dataclass
class GANState:
  step: jax.Array
  g_params: Any
  g_stats: Any  # generator BatchNorm running statistics ({} for the FC GAN)
  c_params: Any  # critic / discriminator
  g_opt: Any
  c_opt: Any
  g_ema: Any = None  # moving average of g_params ({} when model.ema_decay is 0)


def _ema_decay(config) -> float:
  decay = float(config.model.ema_decay)
  if not 0.0 <= decay < 1.0:
    raise ConfigError(f'config.model.ema_decay={decay}: must be in [0, 1) (0 = no weight average).')
  return decay


def _init_ema(config, g_params):
  return jax.tree.map(jnp.copy, g_params) if _ema_decay(config) > 0 else {}


def _update_ema(config, ema, g_params, step):
  """ema <- d ema + (1 - d) g_params with d = min(decay, (1 + t) / (10 + t)): the warm-up
  of tf.train.ExponentialMovingAverage, so early averages do not drag the initial weights.
  The warm-up term averages roughly the last t / 9 updates and reaches `decay` only at
  t = (10 decay - 1) / (1 - decay): 8,990 updates for 0.999, so a 6,000-update run never
  uses 0.999 itself (its average spans ~670 updates at the end); 0.995 caps at t = 1,790."""
  decay = _ema_decay(config)
  if decay <= 0:
    return ema
  t = step.astype(jnp.float32)
  d = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
  return jax.tree.map(lambda e, p: d * e + (1 - d) * p, ema, g_params)


def _global_norm(tree) -> jax.Array:
  # One reduction over the raveled tree: optax.tree_utils.tree_norm compiles to a reduction
  # per leaf (115 XLA fusions and ~2 s of compile for the tiny critic, 2 fusions this way).
  return jnp.sqrt(jnp.sum(jnp.square(ravel_pytree(tree)[0])))


# --------------------------------------------------------------------------------- WGAN


def _num_labels(info) -> int:
  vocab = labels_lib.of(info)
  return vocab.size if vocab else 0


def _label_head(config, info) -> str | None:
  """The critic's label head (`model.label_head`) of a conditional WGAN, None unconditioned:
  a 'projection' critic takes the packed labels, a 'classifier' one returns label logits."""
  return config.model.label_head if _num_labels(info) else None


def _wgan_modules(config, info):
  pyr = wgan_lib.pyramid_for(info.num_snps, int(config.model.max_latent))
  m = config.model
  form = m.conv
  dtype = compute_dtype(config)
  k = _num_labels(info)
  return (pyr, wgan_lib.Generator(pyr, m.channels, m.noise_dim, conv=form, compute_dtype=dtype,
                                  num_labels=k),
          wgan_lib.Critic(pyr, m.channels, m.minibatch_std, conv=form,
                          compute_dtype=dtype, num_labels=k, label_head=m.label_head))


def compute_dtype(config) -> str:
  """The operand dtype of the WGAN's matmul convolutions, 'float32' or 'bfloat16':
  `model.compute_dtype`, whose default 'auto' is bfloat16 where the backend runs bf16 matmuls
  with f32 accumulation faster than f32 ones (ag_jax.hardware.bf16_is_fast; docs/perf_wgan.md), and
  float32 with model.conv='lax' (flax's convolutions compute in f32 here)."""
  name = config.model.compute_dtype
  if config.model.conv == 'lax' and name == 'auto':
    return 'float32'
  return wgan_lib.resolve_compute_dtype(name)


def _wgan_tx(config):
  """Adam for the generator and the critic, each at its rate, constant or decayed to
  `lr * model.lr_final` over the run (`model.lr_decay`; WGAN-GP's own recipe decays both
  linearly to 0, Gulrajani et al. 2017). The critic's optimizer counts its own updates,
  `critic_iter` per step, so its schedule spans `critic_iter` x `train.num_steps` of them."""
  m = config.model
  g_lr = schedules.decayed(config, m.g_lr)
  c_lr = schedules.decayed(config, m.c_lr, updates_per_step=m.critic_iter)
  return (optax.adam(g_lr, b1=m.beta1, b2=m.beta2), optax.adam(c_lr, b1=m.beta1, b2=m.beta2))


def _latents(pyr, key, batch, noise_dim):
  kz, kn = jax.random.split(key)
  z = jax.random.normal(kz, (batch, pyr.latent, noise_dim))
  shapes = wgan_lib.noise_shapes(pyr, batch, noise_dim)
  keys = jax.random.split(kn, len(shapes))
  return z, [jax.random.normal(k, s) for k, s in zip(keys, shapes)]


def instance_noise(x: jax.Array, key: jax.Array, amount: float) -> jax.Array:
  """0/1 alleles -> U(0, amount) / 1 - U(0, amount) (`model.real_noise`), so exact 0/1 values
  are no feature that tells real haplotypes from the generator's sigmoid outputs."""
  return x + (1 - 2 * x) * jax.random.uniform(key, x.shape, maxval=amount)


def mode_seeking_ratio(fake: jax.Array, z: jax.Array, noise: list[jax.Array]) -> jax.Array:
  """Mode-seeking ratio (Mao et al. 2019, MSGAN): mean |G(a) - G(b)| over mean |a - b| for the
  first and second halves of a generated batch (`fake` [B, SNPs], cropped), where a and b are
  all the generator's latents (global z and the per-scale noise). A generator that maps
  different latents to the same haplotypes (clumped AGs) has a small ratio;
  `model.mode_seeking` adds weight / (ratio + 1e-5) to the generator loss."""
  half = fake.shape[0] // 2
  d_out = jnp.mean(jnp.abs(fake[:half] - fake[half:2 * half]))
  d_lat = sum(jnp.sum(jnp.abs(t[:half] - t[half:2 * half])) for t in [z, *noise])
  d_lat = d_lat / sum(t[:half].size for t in [z, *noise])
  return d_out / d_lat


def check_wgan_config(config) -> None:
  """One ConfigError when the loop's batch is not what a step consumes (it would otherwise
  fail inside the jitted step with a reshape error)."""
  m = config.model
  check_positive(m, ('critic_iter', 'pack_m', 'batch_size'))
  mbstd = m.minibatch_std
  if mbstd not in wgan_lib.MINIBATCH_STD:
    raise ConfigError(f'config.model.minibatch_std={mbstd!r}: use one of '
                      f'{", ".join(wgan_lib.MINIBATCH_STD)}.')
  form = m.conv
  if form not in wgan_lib.CONV_FORMS:
    raise ConfigError(f'config.model.conv={form!r}: use one of {", ".join(wgan_lib.CONV_FORMS)}.')
  dtype = m.compute_dtype
  if dtype not in wgan_lib.COMPUTE_DTYPES:
    raise ConfigError(f'config.model.compute_dtype={dtype!r}: use one of '
                      f'{", ".join(wgan_lib.COMPUTE_DTYPES)}.')
  if form == 'lax' and dtype == 'bfloat16':
    raise ConfigError("config.model.compute_dtype='bfloat16' needs model.conv='matmul' (the "
                      "lax form computes in float32): set one of them.")
  micro = m.critic_microbatch
  if not (isinstance(micro, int) and micro >= 0 and (micro == 0 or m.batch_size % micro == 0)):
    raise ConfigError(f'config.model.critic_microbatch={micro}: must divide model.batch_size='
                      f'{m.batch_size} (0 = the whole batch at once).')
  if micro and mbstd != 'none':
    raise ConfigError(f'config.model.critic_microbatch={micro} with model.minibatch_std={mbstd!r}: '
                      'the minibatch-std feature couples the samples of a batch; set '
                      'critic_microbatch=0.')
  output, temperature = _wgan_output(config)
  if output not in wgan_lib.OUTPUTS:
    raise ConfigError(f'config.model.output={output!r}: use one of {", ".join(wgan_lib.OUTPUTS)}.')
  if not temperature > 0:
    raise ConfigError(f'config.model.st_temperature={temperature}: must be > 0.')
  if not 0.0 <= float(m.real_noise) < 0.5:
    raise ConfigError(f'config.model.real_noise={m.real_noise}: must be in [0, 0.5) (0 = none).')
  if m.label_head not in wgan_lib.LABEL_HEADS:
    raise ConfigError(f'config.model.label_head={m.label_head!r}: use one of '
                      f'{", ".join(wgan_lib.LABEL_HEADS)}.')
  if not float(m.label_weight) >= 0:
    raise ConfigError(f'config.model.label_weight={m.label_weight}: must be >= 0.')
  if not float(m.mode_seeking) >= 0:
    raise ConfigError(f'config.model.mode_seeking={m.mode_seeking}: must be >= 0 (0 = off).')
  try:
    _wgan_tx(config)  # builds the rate schedules, so checks lr_decay
  except ValueError as e:
    raise ConfigError(str(e)) from e
  rows = m.critic_iter * m.pack_m * m.batch_size
  if config.train.batch_size != rows:
    raise ConfigError(
        f'config.train.batch_size={config.train.batch_size}, but a WGAN step consumes '
        f'model.critic_iter x model.pack_m x model.batch_size = {m.critic_iter} x {m.pack_m} x '
        f'{m.batch_size} = {rows} rows: set --config.train.batch_size={rows}, or leave it to '
        'configs/wgan.py, which derives it.')


def check_config(config) -> None:
  """The model fields of either family member: one ConfigError naming the first bad one."""
  _ema_decay(config)
  column = labels_lib.condition(config)
  if config.model.name == 'wgan':
    check_wgan_config(config)
  elif column != 'none':
    raise ConfigError(f'config.data.condition={column}: the {config.model.name} model cannot be '
                      'conditioned (issue 47); use configs/wgan.py, crbm.py or rbm.py, or '
                      'config.data.condition=none.')


def _wgan_create(config, info, key):
  check_wgan_config(config)
  labels_lib.check_info(config, info)
  pyr, gen, critic = _wgan_modules(config, info)
  m = config.model
  kg, kc, kz = jax.random.split(key, 3)
  z, noise = _latents(pyr, kz, 2, m.noise_dim)
  conditional = _num_labels(info) > 0
  gv = gen.init(kg, z, noise, train=False,
                labels=jnp.zeros(2, jnp.int32) if conditional else None)
  cv = critic.init(kc, jnp.zeros((2, pyr.length, m.pack_m)),
                   jnp.zeros((2, m.pack_m), jnp.int32)
                   if _label_head(config, info) == 'projection' else None)
  g_tx, c_tx = _wgan_tx(config)
  return GANState(step=jnp.zeros((), jnp.int32), g_params=gv['params'], g_stats=gv['batch_stats'],
                  c_params=cv['params'], g_opt=g_tx.init(gv['params']), c_opt=c_tx.init(cv['params']),
                  g_ema=_init_ema(config, gv['params']))


def _wgan_output(config) -> tuple[str, float]:
  """(`model.output`, `model.st_temperature`): 'sigmoid' (the paper: the critic sees the
  generator's probabilities, AGs are rounded) or 'bernoulli' (it sees 0/1 draws from them,
  straight-through; AGs are draws too)."""
  m = config.model
  return m.output, float(m.st_temperature)


def _generate_wgan(gen, pyr, num_snps, params, stats, key, batch, noise_dim, train,
                   output=('sigmoid', 1.0), latents=None, labels=None):
  """Generated haplotypes [batch, pyramid length] (cropped to num_snps, zero-padded) and the
  BatchNorm statistics; `latents` (z, noise) replace the ones drawn from `key`; `labels`
  int [batch]: each haplotype's label (conditional generators)."""
  z, noise = _latents(pyr, key, batch, noise_dim) if latents is None else latents
  variables = {'params': params, 'batch_stats': stats}
  kind, temperature = output
  logits = kind == 'bernoulli'
  if train:
    out, upd = gen.apply(variables, z, noise, train=True, logits=logits, labels=labels,
                         mutable=['batch_stats'])
    stats = upd['batch_stats']
  else:
    out = gen.apply(variables, z, noise, train=False, logits=logits, labels=labels)
  out = out[:, :num_snps]  # crop, then pad exactly like the real data (mask)
  if logits:  # fold_in: the latents stay those of the same key without this option
    out = wgan_lib.straight_through_bernoulli(out, jax.random.fold_in(key, 2), temperature)
  return jnp.pad(out, ((0, 0), (0, pyr.length - num_snps))), stats


def _wgan_train_step(config, info) -> Callable:
  pyr, gen, critic = _wgan_modules(config, info)
  m = config.model
  g_tx, c_tx = _wgan_tx(config)
  b, pack, n, k = m.batch_size, m.pack_m, info.num_snps, _num_labels(info)
  real_noise = float(m.real_noise)
  mode_seeking = float(m.mode_seeking)
  output = _wgan_output(config)
  micro = int(m.critic_microbatch) or b
  remat = bool(m.remat)
  classifier = _label_head(config, info) == 'classifier'
  label_weight = float(m.label_weight)

  def critic_out(c_params, x, labels):
    """(scores [B], label logits [B, pack, K] of a classifier critic, else None)."""
    if classifier:
      return critic.apply({'params': c_params}, x)
    return critic.apply({'params': c_params}, x, labels), None

  def label_loss(logits, labels):
    """Summed cross-entropy of the classifier head's logits against the packed labels, and
    the number it classifies right; 0s without a classifier."""
    if not classifier:
      return jnp.zeros(()), jnp.zeros(())
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).sum()
    return ce, jnp.sum(logits.argmax(-1) == labels).astype(jnp.float32)

  def pack_rows(x):  # [pack * B, length] -> [B, length, pack]
    return jnp.transpose(x.reshape(pack, b, -1), (1, 2, 0))

  def pack_labels(labels):  # int [pack * B] -> [B, pack], as pack_rows; None: unconditioned
    return None if labels is None else labels.reshape(pack, b).T

  def split_labels(rows):
    """uint8 [..., K + n] -> (int labels [...] or None, SNPs [..., n])."""
    return (rows[..., :k].argmax(-1).astype(jnp.int32) if k else None), rows[..., k:]

  def chunk_loss(c_params, real, fake, alpha, u, labels):
    """The critic loss's share of some packed samples (sums / b) and its sums. Every
    term is a per-sample sum (InstanceNorm and the penalty are per sample), so the loss of the
    batch is the sum of its chunks' shares. A real packed sample, the fake one beside it and
    their interpolate have the same labels (fakes are drawn with the real rows' labels). A
    classifier critic also learns to name the real samples' labels (cross-entropy, weight
    `model.label_weight`); it is not trained on fakes, so it cannot learn the generator's
    mistakes as a population's traits."""
    score = lambda x: critic_out(c_params, x, labels)[0].sum()
    s_real, logits = critic_out(c_params, real, labels)
    c_real, c_fake = s_real.sum(), score(fake)
    grads = jax.grad(score)(alpha * real + (1 - alpha) * fake)
    norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1) + 1e-12)
    penalty = jnp.sum((norms - 1) ** 2)
    ce, right = label_loss(logits, labels)
    loss = (-(1 - u) * c_real + c_fake + m.gp_weight * penalty + label_weight * ce) / b
    return loss, (c_real, c_fake, penalty, ce, right)

  def critic_grads(c_params, real, fake, labels, key):
    """(critic loss gradient, metrics), over the whole batch at once or in chunks of
    `micro` packed samples (`model.critic_microbatch`: the same loss and gradient, up to
    rounding; the activations of one chunk are held instead of the batch's)."""
    k_u, k_a = jax.random.split(key)
    u = jax.random.uniform(k_u, (), maxval=m.label_noise)
    alpha = jax.random.uniform(k_a, (b, 1, 1))
    grad_fn = jax.value_and_grad(chunk_loss, has_aux=True)
    if micro == b:
      (loss, sums), grads = grad_fn(c_params, real, fake, alpha, u, labels)
    else:
      # A scan, so that one chunk's activations are freed before the next chunk runs: as
      # independent unrolled calls XLA scheduled the chunks side by side and saved no memory.
      chunks = lambda x: None if x is None else x.reshape(b // micro, micro, *x.shape[1:])

      def add_chunk(total, xs):
        out = grad_fn(c_params, *xs[:3], u, xs[3])
        return jax.tree.map(jnp.add, total, out), None

      zeros = jax.tree.map(jnp.zeros_like, jax.eval_shape(
          grad_fn, c_params, real[:micro], fake[:micro], alpha[:micro], u,
          None if labels is None else labels[:micro]))
      ((loss, sums), grads), _ = jax.lax.scan(
          add_chunk, zeros, (chunks(real), chunks(fake), chunks(alpha), chunks(labels)))
    c_real, c_fake, penalty, ce, right = (t / b for t in sums)
    gp = m.gp_weight * penalty
    metrics = {'critic_gap': c_real - c_fake, 'gp': gp, 'critic_loss': loss}
    if classifier:  # per packed sample / per haplotype
      metrics.update(label_loss_real=ce, label_accuracy_real=right / pack)
    return grads, metrics

  def critic_update(g_params, carry, xs):
    c_params, c_opt, g_stats = carry
    real_rows, key = xs
    k_fake, k_loss = jax.random.split(key)
    labels, real_rows = split_labels(real_rows)
    real = real_rows.astype(jnp.float32)
    if real_noise > 0:  # fold_in: the other keys stay those of runs without noise
      real = instance_noise(real, jax.random.fold_in(key, 1), real_noise)
    real = pack_rows(jnp.pad(real, ((0, 0), (0, pyr.length - n))))
    fake, g_stats = _generate_wgan(gen, pyr, n, g_params, g_stats, k_fake, pack * b,
                                   m.noise_dim, True, output, labels=labels)
    fake = jax.lax.stop_gradient(pack_rows(fake))
    grads, aux = critic_grads(c_params, real, fake, pack_labels(labels), k_loss)
    updates, c_opt = c_tx.update(grads, c_opt, c_params)
    aux['critic_grad_norm'] = _global_norm(grads)
    return (optax.apply_updates(c_params, updates), c_opt, g_stats), aux

  def train_step(state: GANState, batch: jax.Array, key: jax.Array):
    rows = batch.reshape(m.critic_iter, pack * b, k + n)
    keys = jax.random.split(key, m.critic_iter + 1)
    (c_params, c_opt, g_stats), aux = jax.lax.scan(
        lambda carry, xs: critic_update(state.g_params, carry, xs),
        (state.c_params, state.c_opt, state.g_stats), (rows, keys[:-1]),
        unroll=bool(m.unroll_critic))

    k_gen = keys[-1]
    latents = _latents(pyr, k_gen, pack * b, m.noise_dim)  # those _generate_wgan would draw
    g_labels, _ = split_labels(rows[-1])  # the last critic update's: the training proportions

    def g_loss(g_params):
      fake, stats = _generate_wgan(gen, pyr, n, g_params, g_stats, k_gen, pack * b,
                                   m.noise_dim, True, output, latents, g_labels)
      score, logits = critic_out(c_params, pack_rows(fake), pack_labels(g_labels))
      ce, right = label_loss(logits, pack_labels(g_labels))
      loss = -score.mean() + label_weight * ce / b
      ratio = mode_seeking_ratio(fake[:, :n], *latents)
      if mode_seeking > 0:
        loss = loss + mode_seeking / (ratio + 1e-5)
      return loss, (stats, ratio, ce / b, right / (b * pack))

    if remat:  # keep only the convolutions' outputs for the backward pass
      g_loss = jax.checkpoint(g_loss, policy=jax.checkpoint_policies.save_only_these_names(
          wgan_lib.CONV_OUT))

    (gl, (g_stats, ms_ratio, g_ce, g_right)), g_grads = jax.value_and_grad(
        g_loss, has_aux=True)(state.g_params)
    updates, g_opt = g_tx.update(g_grads, state.g_opt, state.g_params)
    metrics = {k: v[-1] for k, v in aux.items()}
    metrics.update(critic_gap_mean=aux['critic_gap'].mean(), generator_loss=gl,
                   generator_grad_norm=_global_norm(g_grads), mode_seeking_ratio=ms_ratio)
    if classifier:  # how well the fakes carry their labels, by the critic's classifier
      metrics.update(label_loss_fake=g_ce, label_accuracy_fake=g_right)
    g_params = optax.apply_updates(state.g_params, updates)
    return state.replace(step=state.step + 1, g_params=g_params, g_stats=g_stats,
                         c_params=c_params, g_opt=g_opt, c_opt=c_opt,
                         g_ema=_update_ema(config, state.g_ema, g_params, state.step)), metrics

  return train_step


def _wgan_sampler(config, info) -> Callable:
  pyr, gen, _ = _wgan_modules(config, info)

  # False: BatchNorm running averages (deterministic per haplotype); True: the statistics of
  # each generated batch, as in training (needs batches of hundreds, not a handful). The
  # averaged generator (ema_decay > 0) always uses batch statistics (module docstring).
  ema = _ema_decay(config) > 0
  batch_stats = ema or bool(config.model.sample_batch_stats)
  output = _wgan_output(config)
  conditional = _num_labels(info) > 0
  vocab = labels_lib.of(info)

  def reference_stats(params, stats, key, num):
    """The generator's BatchNorm statistics of one batch of `num` fakes in the training
    proportions, as running statistics (a conditional model's batch statistics: see below).
    Started from zeros, the running statistics after one batch are (1 - momentum) x its own."""
    ref = jnp.asarray(labels_lib.proportional(num, vocab.freq))
    zeros = jax.tree.map(jnp.zeros_like, stats)
    _, moved = _generate_wgan(gen, pyr, info.num_snps, params, zeros, key, num,
                              config.model.noise_dim, True, output, labels=ref)
    return jax.tree.map(lambda t: t / (1 - wgan_lib.BN_MOMENTUM), moved)

  def sampler(state: GANState, key: jax.Array, num: int, labels: jax.Array | None = None
              ) -> jax.Array:
    """uint8 [num, num_snps]; labels: int [num], each AG's label (labels.request), required
    by a conditional model and refused by an unconditioned one."""
    if conditional and labels is None:
      raise labels_lib.LabelError('labels: this conditional WGAN draws AGs of given labels; '
                                  'pass one per AG (labels.request(vocab, num) for the '
                                  'training proportions).')
    if not conditional and labels is not None:
      raise labels_lib.LabelError('labels: this model was trained without labels.')
    if batch_stats and num < 128:  # num is static: this runs once per traced size
      logging.warning('generating WGAN AGs in batches of %d with per-batch BatchNorm '
                      'statistics: use batches of hundreds (sample.batch_size).', num)
    params = state.g_ema if ema else state.g_params
    stats, per_batch = state.g_stats, batch_stats
    if conditional and batch_stats:
      # A batch of one label has that label's mean in every BatchNorm, which normalising by
      # its own statistics removes (1,000 AFR AGs came out with AF r 0.08 against AFR where a
      # mixed batch gave 0.62). So the AGs are normalised by the statistics of a reference
      # batch in the training proportions, the mix they were trained in, whatever the request.
      stats, per_batch = reference_stats(params, stats, jax.random.fold_in(key, 3), num), False
    out, _ = _generate_wgan(gen, pyr, info.num_snps, params, stats, key, num,
                            config.model.noise_dim, per_batch, output,
                            labels=None if labels is None else jnp.asarray(labels, jnp.int32))
    # 'sigmoid': rounded, rint(0.5) = 0 as np.rint; 'bernoulli': already 0/1 draws
    return jnp.rint(out[:, :info.num_snps]).astype(jnp.uint8)

  return sampler


# ------------------------------------------------------------------------------- FC GAN


def _gan_tx(config):
  m = config.model
  return optax.adam(m.g_lr), optax.adam(m.c_lr)


def _gan_create(config, info, key):
  n = info.num_snps
  kg, kd = jax.random.split(key)
  g = gan_lib.Generator(n).init(kg, jnp.zeros((1, gan_lib.LATENT)))['params']
  d = gan_lib.Discriminator(n).init(kd, jnp.zeros((1, n)))['params']
  g_tx, d_tx = _gan_tx(config)
  return GANState(step=jnp.zeros((), jnp.int32), g_params=g, g_stats={}, c_params=d,
                  g_opt=g_tx.init(g), c_opt=d_tx.init(d), g_ema=_init_ema(config, g))


def _gan_train_step(config, info) -> Callable:
  n, m = info.num_snps, config.model
  gen, disc = gan_lib.Generator(n), gan_lib.Discriminator(n)
  g_tx, d_tx = _gan_tx(config)
  bce = optax.sigmoid_binary_cross_entropy

  def train_step(state: GANState, batch: jax.Array, key: jax.Array):
    kz, kn, kl = jax.random.split(key, 3)
    bsz = batch.shape[0]
    z = jax.random.normal(kz, (bsz, gan_lib.LATENT))
    real = batch.astype(jnp.float32) - jax.random.uniform(kn, batch.shape, maxval=m.input_noise)
    real_label = 1 - jax.random.uniform(kl, (bsz,), maxval=m.label_smoothing)
    fake = jax.lax.stop_gradient(gen.apply({'params': state.g_params}, z))

    def d_loss(d_params):
      lr_ = bce(disc.apply({'params': d_params}, real), real_label).mean()
      lf = bce(disc.apply({'params': d_params}, fake), jnp.zeros(bsz)).mean()
      return lr_ + lf + m.l2 * gan_lib.l2_hidden(d_params), (lr_, lf)

    (dl, (lr_, lf)), d_grads = jax.value_and_grad(d_loss, has_aux=True)(state.c_params)
    upd, c_opt = d_tx.update(d_grads, state.c_opt, state.c_params)
    d_params = optax.apply_updates(state.c_params, upd)

    def g_loss(g_params):
      out = disc.apply({'params': d_params}, gen.apply({'params': g_params}, z))
      return bce(out, jnp.ones(bsz)).mean() + m.l2 * gan_lib.l2_hidden(g_params)

    gl, g_grads = jax.value_and_grad(g_loss)(state.g_params)
    upd, g_opt = g_tx.update(g_grads, state.g_opt, state.g_params)
    metrics = {'d_loss': dl, 'd_loss_real': lr_, 'd_loss_fake': lf, 'g_loss': gl,
               'd_grad_norm': _global_norm(d_grads), 'g_grad_norm': _global_norm(g_grads)}
    g_params = optax.apply_updates(state.g_params, upd)
    return state.replace(step=state.step + 1, g_params=g_params, c_params=d_params, g_opt=g_opt,
                         c_opt=c_opt, g_ema=_update_ema(config, state.g_ema, g_params, state.step)), metrics

  return train_step


def _gan_sampler(config, info) -> Callable:
  gen = gan_lib.Generator(info.num_snps)
  ema = _ema_decay(config) > 0

  def sampler(state: GANState, key: jax.Array, num: int) -> jax.Array:
    params = state.g_ema if ema else state.g_params
    out = gen.apply({'params': params}, jax.random.normal(key, (num, gan_lib.LATENT)))
    return jnp.rint(jnp.maximum(out, 0)).astype(jnp.uint8)

  return sampler


# ----------------------------------------------------------------------- family interface


def create_state(config, info, key) -> GANState:
  return (_wgan_create if config.model.name == 'wgan' else _gan_create)(config, info, key)


def make_train_step(config, info) -> Callable:
  return (_wgan_train_step if config.model.name == 'wgan' else _gan_train_step)(config, info)


def upgrade_state(config, fields: dict[str, Any]) -> GANState:
  """A state from a checkpoint written before the weight average existed: the average starts
  at the checkpoint's generator weights."""
  if 'g_ema' not in fields:
    fields = dict(fields, g_ema=_init_ema(config, fields['g_params']))
  return GANState(**fields)


def compiler_options(config) -> dict[str, str] | None:
  """XLA options for the jitted step and sampler: with model.xla_cpu_ynnpack=False, XLA:CPU
  compiles the WGAN's dots and reductions itself instead of handing them to YNNPACK (at
  65,535 SNPs: 0.72x the XLA buffers, 1.04x faster steps, 1.26x the compile time;
  docs/perf_wgan.md)."""
  if config.model.get('xla_cpu_ynnpack', True):
    return None
  return hardware.cpu_compiler_options({'xla_cpu_experimental_ynn_fusion_type': ''})


def make_sampler(config, info) -> Callable:
  return (_wgan_sampler if config.model.name == 'wgan' else _gan_sampler)(config, info)
