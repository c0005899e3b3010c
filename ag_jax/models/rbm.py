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
on/off feature; that is the usual reason to use them for population structure. With
`dtype=bfloat16` the ReLU values enter the h -> v matmul rounded to 8 mantissa bits (exact only
for 0/1 units).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy import special

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


def _matmul(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
  """a @ b with operands in `dtype` (bf16 is exact for 0/1 units), accumulated in float32."""
  return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def hidden_logits(params: RBMParams, v: jax.Array, dtype=jnp.float32) -> jax.Array:
  """v: [..., V] -> [..., H] pre-activations v W + c."""
  return _matmul(v, params.w, dtype) + params.hb


def visible_logits(params: RBMParams, h: jax.Array, dtype=jnp.float32) -> jax.Array:
  """h: [..., H] -> [..., V] pre-activations W h + b."""
  return _matmul(h, params.w.T, dtype) + params.vb


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


def sample_hidden(key: jax.Array, mu: jax.Array, hidden: str = 'bernoulli',
                  beta: float | jax.Array = 1.0) -> jax.Array:
  """h ~ p(h | v) at inverse temperature beta, from mu = v W + c."""
  if check_hidden(hidden) == 'bernoulli':
    return jax.random.bernoulli(key, jax.nn.sigmoid(beta * mu)).astype(mu.dtype)
  # Normal(mu, 1/beta) truncated to [0, inf) by inversion: with a = mu sqrt(beta), h = (a + z) /
  # sqrt(beta), z >= -a, and -z ~ Normal truncated to (-inf, a]: -z = ndtri(u Phi(a)). u stays
  # in [2^-24, 1) and a >= -10, so ndtri never sees 0 or 1 in float32.
  s = jnp.sqrt(beta)
  a = jnp.maximum(mu * s, -10.0)
  u = jax.random.uniform(key, mu.shape, mu.dtype, minval=2.0 ** -24, maxval=1.0)
  return jnp.maximum((a - special.ndtri(u * special.ndtr(a))) / s, 0.0)


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
  pv = jax.nn.sigmoid(vb * visible_logits(params, h, dtype))
  v_new = jax.random.bernoulli(kv, pv).astype(v.dtype)
  if clamp_mask is not None:
    v_new = jnp.where(clamp_mask, clamp_values, v_new)
  return v_new


def run(params: RBMParams, v: jax.Array, key: jax.Array, num_sweeps: int,
        clamp_mask: jax.Array | None = None, clamp_values: jax.Array | None = None,
        beta_start: float = 1.0, dtype=jnp.float32, beta_end: float = 1.0,
        hidden: str = 'bernoulli', final_beta: float | None = None) -> jax.Array:
  """`num_sweeps` Gibbs sweeps in one lax.fori_loop; the key of sweep i is fold_in(key, i).

  The inverse temperature moves linearly from beta_start to beta_end over the first half of
  the sweeps, then stays at beta_end. beta_start < 1 anneals from a flatter distribution;
  beta_end = 1 samples the model itself (> 1 a colder, sharper version of it).
  final_beta (None = beta_end): the inverse temperature of the last sweep's visible draw only,
  p(v | h) = sigmoid(final_beta * logits); > 1 sharpens the output without moving the chain.
  """
  if clamp_mask is not None:
    v = jnp.where(clamp_mask, clamp_values, v)
  anneal_steps = max(num_sweeps // 2, 1)

  def body(i, v):
    frac = jnp.minimum(i / anneal_steps, 1.0)
    beta = beta_start + (beta_end - beta_start) * frac
    visible = None if final_beta is None else jnp.where(i == num_sweeps - 1, final_beta, beta)
    return sweep(params, v, jax.random.fold_in(key, i), clamp_mask, clamp_values, beta, dtype,
                 hidden, visible)

  return jax.lax.fori_loop(0, num_sweeps, body, v)


def random_visible(key: jax.Array, shape: tuple[int, ...], p: float | jax.Array = 0.5) -> jax.Array:
  return jax.random.bernoulli(key, p, shape).astype(jnp.float32)


def gradient(params: RBMParams, v_pos: jax.Array, v_neg: jax.Array, *, centred: bool = True,
             l2: float = 0.0, dtype=jnp.float32, hidden: str = 'bernoulli') -> RBMParams:
  """Log-likelihood ascent direction from data v_pos [B, V] and model samples v_neg [C, V].

  Both phases use hidden means. `centred=True` is the centred gradient of the original code
  (paper_notes section 3.2); False is plain CD/PCD. The L2 term is -2 l2 theta.
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
