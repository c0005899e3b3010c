"""Restricted Boltzmann machine (Bernoulli visibles) as pure functions.

Parameters are an explicit pytree (`RBMParams`); the Gibbs sampler is a pair of pure functions
over visible states (`sweep`, `run`) with clamping by mask, in the style of blackjax/jax-md
samplers. Layout: visible states are `[num_chains, num_visible]` float32 in {0, 1}; the weight
matrix is `[num_visible, num_hidden]`.

  E(v, h) = -v W h - b.v - c.h,   p(h=1|v) = sigmoid(v W + c),   p(v=1|h) = sigmoid(W h + b).

Hidden units are Bernoulli (`hidden='bernoulli'`) or ReLU (`hidden='relu'`, the 2021 Julia
RBM's "RELU" mode): h >= 0 with energy term h^2/2, so p(h|v) is Normal(mu, 1) truncated to
[0, inf), mu = v W + c. Marginalising ReLU hiddens gives a free energy quadratic in mu, so each
hidden unit contributes a continuous direction, like a principal component, instead of an
on/off feature; that is the usual reason to use them for population structure.

Matmul precision (`dtype`, MATMUL_PRECISIONS), random bits (hashed counters) and the fast
normal quantile: docs/perf_gibbs.md.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy import special

from ag_jax import hardware

HIDDEN_TYPES = ('bernoulli', 'relu')


class RBMParams(NamedTuple):
  w: jax.Array  # [num_visible, num_hidden]
  vb: jax.Array  # [num_visible]
  hb: jax.Array  # [num_hidden]


def init_params(key: jax.Array, num_visible: int, num_hidden: int, visible_freq: jax.Array,
                init_std: float = 1e-4) -> RBMParams:
  """Original code's init: W ~ N(0, init_std), b = data log-odds (clamped), c = 0."""
  p = jnp.clip(visible_freq, 1e-5, 1 - 1e-5)
  return RBMParams(
      w=init_std * jax.random.normal(key, (num_visible, num_hidden), jnp.float32),
      vb=jnp.log(p / (1 - p)).astype(jnp.float32),
      hb=jnp.zeros((num_hidden,), jnp.float32))


# Matmul precisions. 'float32': f32 operands at full precision (Precision.HIGHEST, so no
# TF32 or one-pass bf16 on accelerators). 'bfloat16': bf16 operands, f32 accumulation (exact for
# 0/1 units; weights and continuous units rounded to 8 mantissa bits). 'bfloat16_split': the
# weights as W_hi + W_lo, two bf16 values (~16 mantissa bits), in two bf16 passes; a continuous
# left operand (ReLU hiddens, hidden means) is split too and takes three passes (lo x lo dropped).
MATMUL_PRECISIONS = ('float32', 'bfloat16', 'bfloat16_split')


# What 'auto' picks where bf16 matmuls are fast (docs/perf_gibbs.md "Precision").
AUTO_BF16 = 'bfloat16_split'


@functools.cache
def auto_matmul_precision() -> str:
  """'auto': AUTO_BF16 on GPU/TPU and on CPUs with bf16 units, else 'float32'.

  XLA:CPU runs bf16 dots with f32 accumulation at 3-5x its f32 rate only with AMX / AVX512-BF16;
  without them (e.g. AVX2 only) the same dots run slower than f32.
  """
  return AUTO_BF16 if hardware.bf16_is_fast() else 'float32'


def matmul_precision(dtype) -> str:
  """One of MATMUL_PRECISIONS from a name ('auto' included) or a jnp dtype, else ValueError."""
  if isinstance(dtype, str) and dtype == 'auto':
    return auto_matmul_precision()
  if isinstance(dtype, str) and dtype in MATMUL_PRECISIONS:
    return dtype
  try:
    name = jnp.dtype(dtype).name
  except TypeError:
    name = None
  if name in ('float32', 'bfloat16'):
    return name
  raise ValueError(f'matmul_dtype={dtype!r}: use auto or one of {", ".join(MATMUL_PRECISIONS)}.')


def _split(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x (float32) -> (hi, lo) in bf16 with hi + lo = x to about 16 mantissa bits."""
  hi = x.astype(jnp.bfloat16)
  return hi, (x - hi.astype(jnp.float32)).astype(jnp.bfloat16)


def _matmul(a: jax.Array, b: jax.Array, dtype, binary_a: bool = False) -> jax.Array:
  """a @ b in the precision `dtype` (see MATMUL_PRECISIONS), float32 result.

  binary_a: a holds only 0/1 (visible states, Bernoulli hidden samples), exact in bf16.
  """
  prec = matmul_precision(dtype)
  if prec == 'float32':
    return jnp.matmul(a.astype(jnp.float32), b.astype(jnp.float32),
                      precision=jax.lax.Precision.HIGHEST)
  dot = lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32)
  if prec == 'bfloat16':
    return dot(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16))
  b_hi, b_lo = _split(b.astype(jnp.float32))
  if binary_a:
    a16 = a.astype(jnp.bfloat16)
    return dot(a16, b_hi) + dot(a16, b_lo)
  a_hi, a_lo = _split(a.astype(jnp.float32))
  return dot(a_hi, b_hi) + (dot(a_hi, b_lo) + dot(a_lo, b_hi))


def hidden_logits(params: RBMParams, v: jax.Array, dtype=jnp.float32) -> jax.Array:
  """v: [..., V] in {0, 1} -> [..., H] pre-activations v W + c."""
  return _matmul(v, params.w, dtype, binary_a=True) + params.hb


def visible_logits(params: RBMParams, h: jax.Array, dtype=jnp.float32,
                   binary: bool = False) -> jax.Array:
  """h: [..., H] -> [..., V] pre-activations W h + b; binary: h in {0, 1} (Bernoulli samples)."""
  return _matmul(h, params.w.T, dtype, binary_a=binary) + params.vb


def check_hidden(hidden: str) -> str:
  if hidden not in HIDDEN_TYPES:
    raise ValueError(f'hidden={hidden!r}: use one of {", ".join(HIDDEN_TYPES)}.')
  return hidden


def energy(params: RBMParams, v: jax.Array, h: jax.Array, hidden: str = 'bernoulli') -> jax.Array:
  e = -(jnp.einsum('...v,vh,...h->...', v, params.w, h) + v @ params.vb + h @ params.hb)
  return e + 0.5 * jnp.sum(h * h, axis=-1) if check_hidden(hidden) == 'relu' else e


def hidden_mean(mu: jax.Array, hidden: str = 'bernoulli') -> jax.Array:
  """E[h | v] from the pre-activations mu = v W + c."""
  if check_hidden(hidden) == 'bernoulli':
    return jax.nn.sigmoid(mu)
  # Mean of Normal(mu, 1) truncated to [0, inf): mu + phi(mu) / Phi(mu), in log space.
  mu = jnp.maximum(mu, -30.0)
  return mu + jnp.exp(-0.5 * mu * mu - 0.5 * jnp.log(2 * jnp.pi) - special.log_ndtr(mu))


# Random draws. A sweep needs one uniform per unit; threefry (jax.random) costs more per draw
# on XLA:CPU than the sweep's matmuls (docs/perf_gibbs.md). Here each draw's bits are a counter
# hashed with two 32-bit seeds that threefry draws from the sweep's key: the stream is still a
# pure function of the key (step-derived keys, bit-exact resume), at about a tenth of the cost.


def _mix32(x: jax.Array) -> jax.Array:
  """lowbias32 (C. Wellons, hash-prospector): a bijective 32-bit mixer with full avalanche."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x7FEB352D)
  x = x ^ (x >> 15)
  x = x * jnp.uint32(0x846CA68B)
  return x ^ (x >> 16)


def random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """uint32 random words of `shape`: element i is mix(mix(i * phi + s0) ^ s1), s0, s1 from key."""
  seed = jax.random.bits(key, (2,), jnp.uint32)
  n = math.prod(shape)
  i = jax.lax.iota(jnp.uint32, n).reshape(shape)
  return _mix32(_mix32(i * jnp.uint32(0x9E3779B9) + seed[0]) ^ seed[1])


def random_uniform(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """float32 uniforms (k + 1/2) 2^-24, k uniform in [0, 2^24): in (0, 1), never 0 or 1."""
  k = (random_bits(key, shape) >> 8).astype(jnp.int32).astype(jnp.float32)
  return (k + 0.5) * (2.0 ** -24)


def random_uniform16(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """float32 uniforms (k + 1/2) 2^-16, two from each 32-bit word: in (0, 1).

  A Bernoulli(p) draw by u < p then has P(1) = p rounded to a multiple of 2^-16 (error at most
  2^-17 = 7.6e-6), far below the sampling noise of any statistic of the chains.
  """
  n = math.prod(shape)
  w = random_bits(key, ((n + 1) // 2,))
  k = jnp.concatenate([w >> 16, w & jnp.uint32(0xFFFF)])[:n].reshape(shape)
  return (k.astype(jnp.int32).astype(jnp.float32) + 0.5) * (2.0 ** -16)


def bernoulli_logits(key: jax.Array, logits: jax.Array) -> jax.Array:
  """1.0 with probability sigmoid(logits), else 0.0, as logits.dtype.

  u < sigmoid(x) is u (1 + e^-x) < 1, so u e^-x < 1 - u: one exp, no division (e^-x = inf
  gives 0, as sigmoid's underflow does).
  """
  u = random_uniform(key, logits.shape)
  return (u * jnp.exp(-logits) < 1.0 - u).astype(logits.dtype)


# Acklam's rational approximation of the standard normal quantile (relative error 1.2e-9 over
# the whole range, so float32-exact): one rational in the centre, one in t = sqrt(-2 log p) in
# the tails. About half the work of jax.scipy.special.ndtri's three rationals (Cephes).
_ACKLAM_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_ACKLAM_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01, 1.0)
_ACKLAM_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_ACKLAM_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00, 1.0)


def _poly(coefs, x):
  y = jnp.full_like(x, coefs[0])
  for c in coefs[1:]:
    y = y * x + c
  return y


def ndtri(p: jax.Array) -> jax.Array:
  """Standard normal quantile for p in (0, 1), float32 (Acklam; see _ACKLAM_A)."""
  q = p - 0.5
  r = q * q
  t = jnp.sqrt(-2.0 * jnp.log(jnp.minimum(p, 1.0 - p)))
  centre = jnp.abs(q) <= 0.5 - 0.02425
  num = jnp.where(centre, q * _poly(_ACKLAM_A, r), jnp.sign(-q) * _poly(_ACKLAM_C, t))
  return num / jnp.where(centre, _poly(_ACKLAM_B, r), _poly(_ACKLAM_D, t))


def ndtr(x: jax.Array) -> jax.Array:
  """Standard normal CDF by one erfc: relative accuracy in the left tail, absolute near 1."""
  return 0.5 * jax.lax.erfc(x * -0.7071067811865476)


def sample_hidden(key: jax.Array, mu: jax.Array, hidden: str = 'bernoulli',
                  beta: float | jax.Array = 1.0) -> jax.Array:
  """h ~ p(h | v) at inverse temperature beta, from mu = v W + c."""
  if check_hidden(hidden) == 'bernoulli':
    return bernoulli_logits(key, beta * mu)
  # Normal(mu, 1/beta) truncated to [0, inf) by inversion: with a = mu sqrt(beta), h = (a + z) /
  # sqrt(beta), z >= -a, and -z ~ Normal truncated to (-inf, a]: -z = ndtri(u Phi(a)). u is in
  # [2^-25, 1) and a >= -10, so ndtri never sees 0 or 1 in float32.
  s = jnp.sqrt(beta)
  a = jnp.maximum(mu * s, -10.0)
  u = random_uniform(key, mu.shape).astype(mu.dtype)
  return jnp.maximum((a - ndtri(u * ndtr(a))) / s, 0.0)


def free_energy(params: RBMParams, v: jax.Array, hidden: str = 'bernoulli') -> jax.Array:
  """F(v), with p(v) proportional to exp(-F(v)) (up to a constant for ReLU hiddens).

  Bernoulli: -b.v - sum_j softplus(mu_j); ReLU: -b.v - sum_j (mu_j^2 / 2 + log Phi(mu_j)).
  """
  mu = hidden_logits(params, v)
  if check_hidden(hidden) == 'bernoulli':
    per_hidden = jax.nn.softplus(mu)
  else:
    per_hidden = 0.5 * mu * mu + special.log_ndtr(mu)
  return -(v @ params.vb) - jnp.sum(per_hidden, axis=-1)


def sweep(params: RBMParams, v: jax.Array, key: jax.Array, clamp_mask: jax.Array | None = None,
          clamp_values: jax.Array | None = None, beta: float | jax.Array = 1.0,
          dtype=jnp.float32, hidden: str = 'bernoulli',
          visible_beta: float | jax.Array | None = None) -> jax.Array:
  """One Gibbs sweep v -> h -> v'. Clamped visibles (mask True) are reset to clamp_values.

  v: [C, V] in {0, 1}; clamp_mask: [V] or [C, V] bool; clamp_values: broadcastable to v.
  beta: inverse temperature (1 samples the model; < 1 flattens it, for annealing);
  visible_beta (None = beta): the inverse temperature of the v' draw alone.
  """
  kh, kv = jax.random.split(key)
  h = sample_hidden(kh, hidden_logits(params, v, dtype), hidden, beta).astype(v.dtype)
  vb = beta if visible_beta is None else visible_beta
  logits = visible_logits(params, h, dtype, binary=hidden == 'bernoulli')
  v_new = bernoulli_logits(kv, vb * logits).astype(v.dtype)
  if clamp_mask is not None:
    v_new = jnp.where(clamp_mask, clamp_values, v_new)
  return v_new


def run(params: RBMParams, v: jax.Array, key: jax.Array, num_sweeps: int,
        clamp_mask: jax.Array | None = None, clamp_values: jax.Array | None = None,
        beta_start: float = 1.0, dtype=jnp.float32, beta_end: float = 1.0,
        hidden: str = 'bernoulli', final_beta: float | None = None,
        num_fixed: int = 0) -> jax.Array:
  """`num_sweeps` Gibbs sweeps in one lax.fori_loop; the key of sweep i is fold_in(key, i).

  The inverse temperature moves linearly from beta_start to beta_end over the first half of
  the sweeps, then stays at beta_end. beta_start < 1 anneals from a flatter distribution;
  beta_end = 1 samples the model itself (> 1 a colder, sharper version of it).
  final_beta (None = beta_end): the inverse temperature of the last sweep's visible draw only,
  p(v | h) = sigmoid(final_beta * logits); > 1 sharpens the output without moving the chain.
  num_fixed (static): the first num_fixed visibles are clamped (after clamp_mask is applied,
  they keep their values; the caller's clamp_mask must cover them). Their part of the hidden
  pre-activations is computed once, and sweeps run on the other visibles only: the same
  distribution at (V - num_fixed) / V of the matmul work (a CRBM window's pinned half).
  """
  if clamp_mask is not None:
    v = jnp.where(clamp_mask, clamp_values, v)
  if num_fixed:
    head, tail = v[..., :num_fixed], v[..., num_fixed:]
    head_params = RBMParams(params.w[:num_fixed], params.vb[:num_fixed], params.hb)
    sub = RBMParams(params.w[num_fixed:], params.vb[num_fixed:],
                    hidden_logits(head_params, head, dtype))  # hb per chain: [..., H]
    cut = lambda a: None if a is None else jnp.broadcast_to(a, v.shape)[..., num_fixed:]
    tail = run(sub, tail, key, num_sweeps, cut(clamp_mask), cut(clamp_values), beta_start,
               dtype, beta_end, hidden, final_beta)
    return jnp.concatenate([head, tail], axis=-1)
  anneal_steps = max(num_sweeps // 2, 1)

  def body(i, v):
    frac = jnp.minimum(i / anneal_steps, 1.0)
    beta = beta_start + (beta_end - beta_start) * frac
    visible = None if final_beta is None else jnp.where(i == num_sweeps - 1, final_beta, beta)
    return sweep(params, v, jax.random.fold_in(key, i), clamp_mask, clamp_values, beta, dtype,
                 hidden, visible)

  return jax.lax.fori_loop(0, num_sweeps, body, v)


def random_visible(key: jax.Array, shape: tuple[int, ...], p: float | jax.Array = 0.5) -> jax.Array:
  """float32 [shape] in {0, 1}, 1 with probability p (broadcast against shape)."""
  return (random_uniform(key, shape) < p).astype(jnp.float32)


def gradient(params: RBMParams, v_pos: jax.Array, v_neg: jax.Array, *, centred: bool = True,
             l2: float = 0.0, dtype=jnp.float32, hidden: str = 'bernoulli') -> RBMParams:
  """Log-likelihood ascent direction from data v_pos [B, V] and model samples v_neg [C, V].

  Both phases use hidden means. `centred=True` is the centred gradient of the original code
  (docs/papers.md §3.2); False is plain CD/PCD. The L2 term is -2 l2 theta.
  """
  h_pos = hidden_mean(hidden_logits(params, v_pos, dtype), hidden)
  h_neg = hidden_mean(hidden_logits(params, v_neg, dtype), hidden)
  nb, nc = v_pos.shape[0], v_neg.shape[0]
  if centred:
    v_bar = v_pos.mean(0)
    h_bar = h_pos.mean(0)
    dw = ((v_pos - v_bar).T @ (h_pos - h_bar)) / nb - ((v_neg - v_bar).T @ (h_neg - h_bar)) / nc
    dvb = v_pos.mean(0) - v_neg.mean(0) - dw @ h_bar
    dhb = h_pos.mean(0) - h_neg.mean(0) - v_bar @ dw
  else:
    dw = v_pos.T @ h_pos / nb - v_neg.T @ h_neg / nc
    dvb = v_pos.mean(0) - v_neg.mean(0)
    dhb = h_pos.mean(0) - h_neg.mean(0)
  if l2:
    dw, dvb, dhb = dw - 2 * l2 * params.w, dvb - 2 * l2 * params.vb, dhb - 2 * l2 * params.hb
  return RBMParams(dw, dvb, dhb)


def reconstruction_error(params: RBMParams, v: jax.Array, dtype=jnp.float32,
                         hidden: str = 'bernoulli') -> jax.Array:
  """Mean squared error of the one-step mean-field reconstruction v -> E[h] -> E[v]."""
  h = hidden_mean(hidden_logits(params, v, dtype), hidden)
  return jnp.mean((jax.nn.sigmoid(visible_logits(params, h, dtype)) - v) ** 2)
