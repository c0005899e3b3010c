"""Differentially private training of the RBM and the CRBM chain (DP-SGD, Abadi et al. 2016).

Each training haplotype's contribution to an update is clipped to L2 norm `model.dp_clip` over
every window's parameters, and Gaussian noise of standard deviation `dp_noise * dp_clip` is
added to the sum before dividing by the batch size. The RDP accountant of `dp_accounting`
turns the noise multiplier, the sampling rate and the number of updates into (epsilon, delta).
What the model sees of the data is only these noisy updates: it starts from allele frequency
0.5 everywhere (no data-dependent initialisation, restarts or sampler starts), and its
negative chains restart every update. docs/privacy.md "Differentially private training".
"""

from __future__ import annotations

import importlib.util
import math

import jax
import jax.numpy as jnp

from ag_jax.models import rbm

# The noise's random stream is the step key folded with this, so the rest of the step draws
# what it draws without DP.
NOISE_STREAM = 0x5D9


def enabled(config) -> bool:
  return float(config.model.dp_noise) > 0


def check_config(config) -> None:
  """ValueError naming the field if DP training is asked for with settings it cannot bound."""
  m = config.model
  noise, clip = float(m.dp_noise), float(m.dp_clip)
  if not noise >= 0:  # also NaN
    raise ValueError(f'config.model.dp_noise={noise}: use a noise multiplier >= 0 (0: off).')
  if not noise:
    return
  if not clip > 0:
    raise ValueError(f'config.model.dp_clip={clip}: use a norm bound > 0.')
  if importlib.util.find_spec('dp_accounting') is None:
    raise ValueError(f'config.model.dp_noise={noise}: DP training reports its epsilon with '
                     "dp-accounting, which is not installed: pip install 'ag_jax[dp]'.")
  # Each of these lets one haplotype reach the update other than through its clipped gradient.
  if m.persistent:
    raise ValueError('config.model.persistent=True: DP training needs chains restarted every '
                     'update (persistent chains carry earlier batches into later gradients); '
                     'set model.persistent=False.')
  if m.centred:
    raise ValueError('config.model.centred=True: the centred gradient subtracts batch means, '
                     'so one haplotype moves every term; DP training needs model.centred=False.')
  if config.data.get('condition', 'none') != 'none':
    raise ValueError(f'config.data.condition={config.data.condition!r}: a conditional model '
                     "records each label's training count (labels.json), which DP training does "
                     'not protect; use config.data.condition=none.')
  if m.precondition != 'none':
    raise ValueError(f'config.model.precondition={m.precondition!r}: scales the gradient by the '
                     'training allele frequencies; DP training needs model.precondition=none.')


def sq_norms(v_pos: jax.Array, h_pos: jax.Array, v_neg: jax.Array, h_neg: jax.Array
             ) -> jax.Array:
  """float32 [B]: squared L2 norm of each row's gradient (v h^T - v' h'^T, v - v', h - h').

  ||a b^T - c d^T||^2 = |a|^2 |b|^2 + |c|^2 |d|^2 - 2 (a.c)(b.d): no [V, H] per row."""
  dot = lambda a, b: jnp.sum(a * b, -1)
  w = (dot(v_pos, v_pos) * dot(h_pos, h_pos) + dot(v_neg, v_neg) * dot(h_neg, h_neg)
       - 2 * dot(v_pos, v_neg) * dot(h_pos, h_neg))
  return jnp.maximum(w, 0.0) + dot(v_pos - v_neg, v_pos - v_neg) + dot(h_pos - h_neg,
                                                                       h_pos - h_neg)


def private_gradient(params: rbm.RBMParams, v_pos: jax.Array, v_neg: jax.Array, key: jax.Array,
                     *, clip: float, noise: float, l2: float, hidden: str, dtype
                     ) -> rbm.RBMParams:
  """The ascent direction of every window at once, clipped per haplotype and noised.

  params stacked over windows; v_pos (the batch) and v_neg (its negative chains, row b paired
  with haplotype b: in windows 1.. the chain is pinned on b's first half) [n_w, B, V]. Row b's
  gradient spans all windows, so its norm is summed over them before clipping."""
  hid = jax.vmap(lambda p, v: rbm.hidden_mean(rbm.hidden_logits(p, v, dtype), hidden))
  h_pos, h_neg = hid(params, v_pos), hid(params, v_neg)
  norms = jnp.sqrt(jnp.sum(jax.vmap(sq_norms)(v_pos, h_pos, v_neg, h_neg), 0))  # [B]
  scale = jnp.minimum(1.0, clip / jnp.maximum(norms, 1e-12))[None, :, None]
  outer = lambda v, h: jnp.einsum('wbv,wbh->wvh', v, h, precision=jax.lax.Precision.HIGHEST)
  total = rbm.RBMParams(w=outer(scale * v_pos, h_pos) - outer(scale * v_neg, h_neg),
                        vb=jnp.sum(scale * (v_pos - v_neg), 1),
                        hb=jnp.sum(scale * (h_pos - h_neg), 1))
  leaves, tree = jax.tree.flatten(total)
  keys = jax.random.split(key, len(leaves))
  batch = v_pos.shape[1]
  noisy = [(g + noise * clip * jax.random.normal(k, g.shape, g.dtype)) / batch
           for g, k in zip(leaves, keys)]
  grad = jax.tree.unflatten(tree, noisy)
  if l2:
    grad = jax.tree.map(lambda g, p: g - 2 * l2 * p, grad, params)
  return grad


def delta_for(num_train: int) -> float:
  """The delta reported with epsilon: below 1 / n (the usual rule), 1e-5 at most."""
  return min(1e-5, 1.0 / (10 * num_train))


def epsilon(noise: float, batch_size: int, num_train: int, steps: int,
            delta: float | None = None, per_person: bool = False) -> tuple[float, float]:
  """(epsilon, delta) of `steps` DP-SGD updates by the RDP accountant of dp_accounting.

  Per training haplotype: each haplotype joins a batch independently with probability
  q = batch_size / num_train (Poisson sampling; the loader draws fixed-size shuffled batches,
  for which this is the customary approximation) and moves the noised sum by at most clip.
  per_person: a person's two haplotypes join with probability 1 - (1 - q)^2 and move the sum by
  at most 2 clip, i.e. noise multiplier noise / 2 at that rate."""
  from dp_accounting import dp_event  # pylint: disable=g-import-not-at-top
  from dp_accounting.rdp import rdp_privacy_accountant

  delta = delta_for(num_train) if delta is None else delta
  q = min(1.0, batch_size / num_train)
  if per_person:
    q, noise = 1 - (1 - q) ** 2, noise / 2
  event = dp_event.SelfComposedDpEvent(
      dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(noise)), steps)
  # Orders from 2: below that the library's series for large q do not converge (and say so).
  orders = [2 + x / 4 for x in range(40)] + list(range(12, 257))
  accountant = rdp_privacy_accountant.RdpAccountant(orders)
  accountant.compose(event)
  eps = accountant.get_epsilon(delta)
  return (eps if math.isfinite(eps) else math.inf), delta


def describe(config, num_train: int) -> str:
  """One line: the DP-SGD settings and the (epsilon, delta) they give over train.num_steps."""
  m, t = config.model, config.train
  args = (float(m.dp_noise), int(t.batch_size), num_train, int(t.num_steps))
  (eps, delta), (eps_person, _) = epsilon(*args), epsilon(*args, per_person=True)
  return (f'DP-SGD: noise multiplier {args[0]:g}, clip {float(m.dp_clip):g}, batches of '
          f'{args[1]} from {num_train} haplotypes, {args[3]} updates: epsilon {eps:.3g} per '
          f'haplotype, {eps_person:.3g} per person (two haplotypes), delta {delta:.2g}')
