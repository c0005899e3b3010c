"""Conditional RBM chain along the genome (Yelmen et al. 2023), window-parallel.

SNPs are cut into windows of W visibles with stride W/2: window w covers [w W/2, w W/2 + W).
Window 0 is a plain RBM; window w > 0 is an RBM whose first half is pinned (clamped) to the
data during training and to window w-1's generated second half during sampling. All windows
share one shape, so their parameters are stacked (`RBMParams` with a leading window axis),
training is one vmapped update over all windows, and sampling is a lax.scan along the genome.
The last window is padded; padded visibles are clamped to 0 and get zero gradient. A plain
RBM over all SNPs is the one-window case.

Conditional models (docs/conditional.md): K label units, one-hot, come first in every window's
visible layer and are always clamped (to the haplotype's label in training, to the requested
one in sampling), so each window models p(window | label, pinned half). Windowed arrays then
have K + W visibles, and haplotype arrays carry the K one-hot columns first: [B, K + num_snps].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ag_jax.models import rbm


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where windows sit on the genome. All fields are static (Python/numpy)."""
  num_snps: int
  window: int  # W SNP visibles per window
  num_windows: int
  num_labels: int = 0  # K label visibles in front of every window's SNPs

  @property
  def half(self) -> int:
    return self.window // 2

  @property
  def visible(self) -> int:
    """Visibles per window: K labels + W SNPs."""
    return self.num_labels + self.window

  @property
  def padded_snps(self) -> int:
    return (self.num_windows - 1) * self.half + self.window

  @property
  def index(self) -> np.ndarray:
    """int32 [num_windows, K + W]: column of each visible in [labels | padded genome]."""
    k = self.num_labels
    snps = np.arange(self.num_windows)[:, None] * self.half + np.arange(self.window)
    labels = np.broadcast_to(np.arange(k), (self.num_windows, k))
    return np.concatenate([labels, k + snps], axis=1).astype(np.int32)

  @property
  def label_mask(self) -> np.ndarray:
    """bool [num_windows, K + W]: the label visibles."""
    m = np.zeros((self.num_windows, self.visible), bool)
    m[:, :self.num_labels] = True
    return m

  @property
  def pad_mask(self) -> np.ndarray:
    """bool [num_windows, K + W]: visibles beyond the last SNP."""
    return self.index >= self.num_labels + self.num_snps

  @property
  def pin_mask(self) -> np.ndarray:
    """bool [num_windows, K + W]: visibles clamped to the data in training: the labels, and
    the first half of the SNPs of windows w > 0."""
    m = self.label_mask
    m[1:, self.num_labels:self.num_labels + self.half] = True
    return m


def make_layout(num_snps: int, window: int, num_labels: int = 0) -> Layout:
  """Windows of `window` SNPs (even, >= 2) with stride window/2; one window if it covers all;
  `num_labels` label visibles in front of each."""
  if window >= num_snps or window <= 0:
    return Layout(num_snps, num_snps, 1, num_labels)
  if window % 2:
    raise ValueError(f'window_size must be even (stride is half a window), got {window}.')
  half = window // 2
  num_windows = int(np.ceil((num_snps - window) / half)) + 1
  return Layout(num_snps, window, num_windows, num_labels)


def to_windows(layout: Layout, x: jax.Array) -> jax.Array:
  """x: [B, K + num_snps] (labels one-hot first) -> [num_windows, B, K + W] (zero padded)."""
  x = jnp.pad(x, ((0, 0), (0, layout.padded_snps - layout.num_snps)))
  return jnp.transpose(x[:, layout.index], (1, 0, 2))


def per_snp_to_windows(layout: Layout, values, label_value: float = 0.0) -> jax.Array:
  """One value per SNP [num_snps] -> float32 [num_windows, K + W] (zero padded; label_value
  at the label visibles)."""
  values = jnp.asarray(values, jnp.float32)
  values = jnp.concatenate([jnp.full((layout.num_labels,), label_value, jnp.float32), values])
  return to_windows(layout, values[None])[:, 0]


def from_windows(layout: Layout, first: jax.Array, halves: jax.Array) -> jax.Array:
  """Window 0 [N, K + W] and the second halves of windows 1.. [num_windows-1, N, W/2] ->
  [N, num_snps] (labels dropped)."""
  first = first[:, layout.num_labels:]
  parts = [first] + ([jnp.transpose(halves, (1, 0, 2)).reshape(first.shape[0], -1)]
                     if layout.num_windows > 1 else [])
  return jnp.concatenate(parts, axis=1)[:, :layout.num_snps]


def init_params(key: jax.Array, layout: Layout, num_hidden: int, allele_freq: np.ndarray,
                init_std: float = 1e-4) -> rbm.RBMParams:
  """Stacked parameters: w [n_windows, K + W, H], vb [n_windows, K + W], hb [n_windows, H].
  Label visible biases start at 0: labels are always clamped, so they never matter."""
  freq = per_snp_to_windows(layout, allele_freq, 0.5)  # [n_w, K + W]
  keys = jax.random.split(key, layout.num_windows)
  return jax.vmap(lambda k, f: rbm.init_params(k, layout.visible, num_hidden, f, init_std))(
      keys, freq)


def window_keys(key: jax.Array, num_windows: int) -> jax.Array:
  """Per-window keys fold_in(key, w), so one window's randomness never depends on another's."""
  return jax.vmap(lambda w: jax.random.fold_in(key, w))(jnp.arange(num_windows))


def window_gradient(params: rbm.RBMParams, data: jax.Array, chains: jax.Array, key: jax.Array,
                    clamp_mask: jax.Array, *, gibbs_steps: int, centred: bool, l2: float,
                    persistent: bool, dtype=jnp.float32, hidden: str = 'bernoulli',
                    restart_p: float | jax.Array = 0.5, num_fixed: int = 0,
                    clamp_values: jax.Array | None = None):
  """One window's update direction. data [B, K + W], chains [B, K + W] (persistent state).

  The negative chains start from the persistent state (PCD) or, restarted every minibatch,
  from Bernoulli(restart_p) noise (0.5: the original code's uniform restart; the training
  allele frequencies [W]: the sampler's start, so k training sweeps match k sampling sweeps),
  have their clamped visibles set to the data (pinned half) or 0 (padding), and run
  `gibbs_steps` sweeps. num_fixed (static): clamp_mask covers the first num_fixed visibles
  (a window's labels and pinned half), so the sweeps skip them (rbm.run). clamp_values
  (default data): what the clamped visibles of the negative chains are set to (persistent
  chains keep their own labels). Returns (grad, new chains).
  """
  k_init, k_run = jax.random.split(key)
  start = chains if persistent else rbm.random_visible(k_init, chains.shape, restart_p)
  clamp_values = data if clamp_values is None else clamp_values
  v_neg = rbm.run(params, start, k_run, gibbs_steps, clamp_mask, clamp_values, dtype=dtype,
                  hidden=hidden, num_fixed=num_fixed)
  grad = rbm.gradient(params, data, v_neg, centred=centred, l2=l2, dtype=dtype, hidden=hidden)
  return grad, v_neg


def sample(params: rbm.RBMParams, layout: Layout, key: jax.Array, num: int, *, num_sweeps: int,
           beta_start: float = 1.0, init_freq: np.ndarray | None = None,
           dtype=jnp.float32, beta_end: float = 1.0, hidden: str = 'bernoulli',
           final_beta: float | None = None, labels: jax.Array | None = None) -> jax.Array:
  """Generates `num` haplotypes [num, num_snps] in {0, 1}, window by window (lax.scan).

  Window 0 starts from noise (Bernoulli(init_freq) if given, else 0.5) and runs `num_sweeps`
  sweeps; window w starts its free half the same way, with its first half pinned to window
  w-1's second half, and runs `num_sweeps` sweeps. final_beta: see rbm.run (the last sweep's
  visible draw, which is what the next window is pinned to). labels: int [num], the label
  each AG's label visibles are clamped to in every window (required iff layout.num_labels).
  """
  k, h_ = layout.num_labels, layout.half
  w_ = layout.visible
  if (labels is None) != (k == 0):
    raise ValueError(f'a model with {k} label units takes {"one label per AG" if k else "none"}.')
  onehot = (jnp.zeros((num, 0)) if labels is None else
            jax.nn.one_hot(jnp.asarray(labels), k, dtype=jnp.float32))
  pad = jnp.asarray(layout.pad_mask)
  pin = jnp.asarray(layout.pin_mask)
  p0 = 0.5 if init_freq is None else per_snp_to_windows(layout, init_freq)
  p0 = jnp.broadcast_to(p0, (layout.num_windows, w_))
  keys = window_keys(key, layout.num_windows)
  take = lambda tree, i: jax.tree.map(lambda a: a[i], tree)

  def window_sample(params_w, key_w, p_w, clamp_mask, clamp_values, num_fixed=0):
    k_init, k_run = jax.random.split(key_w)
    v = rbm.random_visible(k_init, (num, w_), p_w)
    return rbm.run(params_w, v, k_run, num_sweeps, clamp_mask, clamp_values, beta_start, dtype,
                   beta_end, hidden, final_beta, num_fixed)

  first = window_sample(take(params, 0), keys[0], p0[0], pad[0] | pin[0],
                        jnp.concatenate([onehot, jnp.zeros((num, w_ - k))], axis=1), k)
  if layout.num_windows == 1:
    return from_windows(layout, first, None).astype(jnp.uint8)

  def step(prev, xs):
    params_w, key_w, p_w, pad_w, pin_w = xs
    values = jnp.concatenate([onehot, prev[:, k + h_:], jnp.zeros((num, w_ - k - h_))], axis=1)
    v = window_sample(params_w, key_w, p_w, pad_w | pin_w, values, k + h_)  # labels, first half
    return v, v[:, k + h_:]

  rest = jax.tree.map(lambda a: a[1:], (params, keys, p0, pad, pin))
  _, halves = jax.lax.scan(step, first, rest)
  return from_windows(layout, first, halves).astype(jnp.uint8)
