"""The 1D convolutional WGAN of Yelmen et al. 2023 (docs/papers.md §2), in Flax Linen.

Layout is NLC: haplotypes are `[batch, length, channels]`. A pyramid of `num_up` generic
blocks between a "yellow" input and output block maps a latent of length L to
L * 4^(num_up + 2) - 1 SNPs; L = 4 and num_up = 5 is the paper's 65,535-SNP model, num_up = 4
its 16,383 one. Any SNP count is served by padding to a pyramid length (see `pyramid_for`).

Generator: latent N(0,1) [B, L, 2] + location-specific channel -> yellow block (Conv s1,
ConvT s2 p1, Conv s1, ConvT s2 p0) -> up blocks (Conv, ConvT p0, Conv, ConvT p0), each with
two fresh noise channels and a location channel in front, residual blocks after up blocks 1, 3,
5, ... -> yellow output block -> Conv(+location channel) -> sigmoid. Convs have no bias and are
followed by BatchNorm (PyTorch momentum 0.1) and LeakyReLU(0.01). With `model.output =
'bernoulli'` the critic sees 0/1 draws from the sigmoid instead (`straight_through_bernoulli`).
Critic: the mirror image with biased convs, affine InstanceNorm, a location channel in front of
each down block, packing (pack_m samples as channels), and Linear(L -> 1) at the end.
Conditional (`num_labels` K > 0, docs/wgan.md "Conditional"): the generator takes the label as
K one-hot latent channels, the critic a projection or classifier head on its last features.
Every convolution has kernel 3 and is computed as a matmul (`Conv`, `ConvTranspose`) or, with
`conv='lax'` (`model.conv`), by flax.linen's lax convolutions; the parameters are the same.
The matmul form multiplies in `compute_dtype` (`model.compute_dtype`: bf16 operands with f32
accumulation where the backend is fast at it; see `matmul` and docs/perf_wgan.md).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
from jax.ad_checkpoint import checkpoint_name
import jax.numpy as jnp

from ag_jax.hardware import bf16_is_fast

ALPHA = 0.01  # LeakyReLU slope


@dataclasses.dataclass(frozen=True)
class Pyramid:
  latent: int  # L
  num_up: int  # generic up (generator) / down (critic) blocks

  @property
  def length(self) -> int:
    return self.latent * 4 ** (self.num_up + 2) - 1

  def scale_lengths(self) -> list[int]:
    """Lengths after the generator's input block, each up block and the output block."""
    return [self.latent * 4 ** (i + 1) - 1 for i in range(self.num_up + 2)]


def pyramid_for(num_snps: int, max_latent: int = 4) -> Pyramid:
  """The shallowest pyramid with latent length <= max_latent covering num_snps SNPs, then the
  smallest latent (>= 4) at that depth.

  The latent length bounds what the generator can correlate: its kernel-3 blocks see about
  four latent positions, so with the paper's latent of 4 every SNP depends on the whole latent
  and genome-wide structure (populations) can be generated. A longer latent pads less but
  makes distant SNPs independent (measured on the 805 data: latent 13 gave LD r 0.08 and no
  population clusters). Default 4 = the paper (65,535 -> (4, 5), 16,383 -> (4, 4));
  805 -> (4, 2) = 1,023; 4,053 -> (4, 3) = 4,095; 100,000 -> (4, 6) = 262,143, or with
  max_latent=8, (7, 5) = 114,687.
  """
  if num_snps < 15:
    raise ValueError(f'the conv WGAN needs at least 15 SNPs, got {num_snps}.')
  if max_latent < 4:
    raise ValueError(f'max_latent must be >= 4, got {max_latent}.')
  num_up = 0
  while max_latent * 4 ** (num_up + 2) - 1 < num_snps:
    num_up += 1
  latent = max(4, math.ceil((num_snps + 1) / 4 ** (num_up + 2)))
  return Pyramid(latent, num_up)


def _torch_uniform(fan_in_axes):
  """PyTorch's default conv/linear init U(+-1/sqrt(fan_in)) for Flax kernels."""
  def init(key, shape, dtype=jnp.float32):
    fan_in = math.prod(shape[a] for a in fan_in_axes)
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


KERNEL = 3  # every conv of the paper's model has kernel size 3

COMPUTE_DTYPES = ('auto', 'float32', 'bfloat16')
# Name of every matmul convolution's output (jax.ad_checkpoint.checkpoint_name): what a
# rematerialised pass keeps (model.remat); the rest (im2col copies, normalisation, LeakyReLU)
# is elementwise work recomputed in the backward pass.
CONV_OUT = 'conv_out'


def resolve_compute_dtype(name: str) -> str:
  """`model.compute_dtype` ('auto', 'float32' or 'bfloat16') as 'float32' or 'bfloat16':
  'auto' is bfloat16 where `bf16_is_fast`, else float32."""
  if name not in COMPUTE_DTYPES:
    raise ValueError(f'compute dtype {name!r}: use one of {", ".join(COMPUTE_DTYPES)}.')
  if name == 'auto':
    return 'bfloat16' if bf16_is_fast() else 'float32'
  return name


def matmul(x: jax.Array, w: jax.Array, dtype: str = 'float32') -> jax.Array:
  """x @ w, [..., K] x [K, N] -> f32 [..., N], with operands cast to `dtype` and products
  accumulated in f32 (mixed precision: bf16 operands, f32 accumulation, f32 parameters).

  With dtype 'float32' this is x @ w. Otherwise every derivative is the same kind of matmul,
  to any order (the gradient penalty differentiates twice): the cotangent is cast to `dtype`
  too, and the gradients return in the inputs' dtypes. Plain autodiff of a bf16 dot would
  instead run its transposes as f32 x bf16 dots (f32 speed) and round weight gradients to bf16.
  """
  if jnp.dtype(dtype) == jnp.float32:
    return x @ w
  return _mixed_matmul(x, w, jnp.dtype(dtype), x.dtype, w.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _mixed_matmul(x, w, dtype, x_dtype, w_dtype):  # pylint: disable=unused-argument
  return jnp.matmul(x.astype(dtype), w.astype(dtype), preferred_element_type=jnp.float32)


def _mixed_matmul_fwd(x, w, dtype, x_dtype, w_dtype):
  # The f32 inputs are the residuals, so higher derivatives reach them in f32.
  return _mixed_matmul(x, w, dtype, x_dtype, w_dtype), (x, w)


def _mixed_matmul_bwd(dtype, x_dtype, w_dtype, res, g):
  x, w = res
  gx = _mixed_matmul(g, w.T, dtype, g.dtype, w.dtype)
  gw = _mixed_matmul(x.reshape(-1, x.shape[-1]).T, g.reshape(-1, g.shape[-1]), dtype, x.dtype,
                     g.dtype)
  return gx.astype(x_dtype), gw.astype(w_dtype)


_mixed_matmul.defvjp(_mixed_matmul_fwd, _mixed_matmul_bwd)


def _padding(padding, length: int, stride: int) -> tuple[int, int]:
  """flax.linen.Conv's padding ('SAME', 'VALID' or ((lo, hi),)) as (lo, hi) for kernel 3."""
  if padding == 'VALID':
    return 0, 0
  if padding == 'SAME':
    total = max((-(-length // stride) - 1) * stride + KERNEL - length, 0)
    return total // 2, total - total // 2
  (lo, hi), = padding
  return lo, hi


def _im2col(x, pads, stride):
  """[B, L, C] -> [B, L', 3C]: the three shifted (and strided) views of the padded x."""
  x = jnp.pad(x, ((0, 0), pads, (0, 0)))
  n = (x.shape[1] - KERNEL) // stride + 1
  return jnp.concatenate([x[:, k:k + stride * (n - 1) + 1:stride] for k in range(KERNEL)], axis=-1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _im2col_matmul(x, w, pads, stride, dtype):
  """Conv of kernel 3: x [B, L, C] times w [3C, F] over the im2col copy of x.

  The backward pass keeps x, not the three-times-larger copy: kept, the copies of every
  layer were the largest buffers of the WGAN step (docs/perf_wgan.md). The kernel gradient
  is taken as x^T times an im2col-like copy of the cotangent (built in the backward pass and
  dropped at once), so that XLA has no forward value to reuse and keep alive instead.
  (jax.checkpoint, or rebuilding the copy of x in the backward pass, does not do it: XLA
  merges the rebuilt copy with the forward one.)"""
  return matmul(_im2col(x, pads, stride), w, dtype)


def _im2col_matmul_fwd(x, w, pads, stride, dtype):
  return _im2col_matmul(x, w, pads, stride, dtype), (x, w)


def _im2col_matmul_bwd(pads, stride, dtype, res, g):
  x, w = res
  (_, length, c), (n, f) = x.shape, g.shape[1:]
  _, fold = jax.vjp(lambda x: _im2col(x, pads, stride), x)  # linear: holds no values of x
  gx, = fold(matmul(g, w.T, dtype))
  # View k of the padded x is x_pad[k + stride * i], i < n, so its kernel gradient x_k^T g is
  # x^T g_k, with g_k = g placed at rows k + stride * i (zeros between) and cropped to x.
  lo, _ = pads
  g_k = [jax.lax.pad(g, jnp.zeros((), g.dtype),
                     ((0, 0, 0), (k - lo, length - (k - lo) - stride * (n - 1) - 1, stride - 1),
                      (0, 0, 0))) for k in range(KERNEL)]
  gw = matmul(x.reshape(-1, c).T, jnp.concatenate(g_k, axis=-1).reshape(-1, KERNEL * f), dtype)
  return gx, gw.reshape(c, KERNEL, f).transpose(1, 0, 2).reshape(KERNEL * c, f)


_im2col_matmul.defvjp(_im2col_matmul_fwd, _im2col_matmul_bwd)


class Conv(nn.Module):
  """flax.linen.Conv(features, (3,), strides, padding) written as one matmul over the three
  shifted (and strided) views of the input (im2col), with the same parameters ('kernel'
  [3, C, F], 'bias' [F]), the same initial values and the same outputs (tests/test_wgan.py).

  Why: on XLA:CPU the derivatives of strided convolutions are input-dilated convolutions,
  and their kernel gradients run ~16x slower than the forward pass (a 48 x 2,047 x 8 -> 8
  transposed conv: 1.8 ms forward, 27.8 ms kernel gradient), which the WGAN-GP's double
  backward pays in every critic update. As matmuls every derivative is a matmul, a pad or a
  strided slice: 1.40-1.47x faster WGAN steps on CPU at 805-16,383 SNPs
  (benchmarks/wgan_step.py); the im2col copies are not kept for the backward pass
  (`_im2col_matmul`). On accelerators, whose convolutions are fast, `model.conv='lax'`
  (flax.linen.Conv) may win: measure with `benchmarks/wgan_step.py --conv=matmul,lax` there.
  """
  features: int
  stride: int = 1
  padding: Any = 'SAME'
  use_bias: bool = False
  dtype: str = 'float32'  # matmul operand dtype (`matmul`); parameters and outputs are f32

  @nn.compact
  def __call__(self, x):
    channels = x.shape[-1]
    kernel = self.param('kernel', _torch_uniform((0, 1)), (KERNEL, channels, self.features))
    pads = _padding(self.padding, x.shape[1], self.stride)
    w = kernel.reshape(KERNEL * channels, self.features)
    y = checkpoint_name(_im2col_matmul(x, w, pads, self.stride, self.dtype), CONV_OUT)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros_init(), (self.features,))
    return y


class ConvTranspose(nn.Module):
  """flax.linen.ConvTranspose(features, (3,), strides=(2,), padding='VALID', use_bias=False),
  L -> 2L + 1, as one matmul: out[2m] = x[m-1] W[0] + x[m] W[2], out[2m+1] = x[m] W[1]. Same
  parameters, initial values and outputs as Flax's (tests/test_wgan.py); see `Conv` for why."""
  features: int
  dtype: str = 'float32'  # as Conv.dtype

  @nn.compact
  def __call__(self, x):
    b, length, channels = x.shape
    f = self.features
    kernel = self.param('kernel', _torch_uniform((0, 1)), (KERNEL, channels, f))
    y = checkpoint_name(matmul(x, jnp.transpose(kernel, (1, 0, 2)).reshape(channels, KERNEL * f),
                               self.dtype), CONV_OUT)
    y = y.reshape(b, length, KERNEL, f)
    even = jnp.pad(y[:, :, 0], ((0, 0), (1, 0), (0, 0))) + jnp.pad(y[:, :, 2], ((0, 0), (0, 1), (0, 0)))
    odd = y[:, :, 1]
    pairs = jnp.stack([even[:, :length], odd], axis=2).reshape(b, 2 * length, f)
    return jnp.concatenate([pairs, even[:, length:]], axis=1)


CONV_FORMS = ('matmul', 'lax')


def conv(features: int, stride: int = 1, padding='SAME', bias: bool = False, name=None,
         form: str = 'matmul', dtype: str = 'float32'):
  """A kernel-3 convolution in the given form (`model.conv`): 'matmul' = `Conv`, 'lax' =
  flax.linen.Conv. Both have the same parameter names, shapes and initial values, so a
  checkpoint of either form restores into the other. `dtype` ('float32' or 'bfloat16',
  `model.compute_dtype`) is the matmul form's operand dtype; the lax form computes in f32."""
  if form == 'lax':
    return nn.Conv(features, (KERNEL,), strides=(stride,), padding=padding, use_bias=bias,
                   kernel_init=_torch_uniform((0, 1)), name=name)
  return Conv(features, stride, padding, bias, dtype, name=name)


class ConvT(nn.Module):
  """ConvTranspose1d(k=3, s=2) with PyTorch padding 0 (L -> 2L+1) or 1 (L -> 2L-1), as
  `ConvTranspose` ('matmul') or flax.linen.ConvTranspose ('lax'; see `conv`)."""
  features: int
  torch_padding: int = 0
  form: str = 'matmul'
  dtype: str = 'float32'  # the matmul form's operand dtype (see `conv`)

  @nn.compact
  def __call__(self, x):
    if self.form == 'lax':
      y = nn.ConvTranspose(self.features, (KERNEL,), strides=(2,), padding='VALID',
                           use_bias=False, kernel_init=_torch_uniform((0, 1)))(x)
    else:
      y = ConvTranspose(self.features, self.dtype)(x)
    return y[:, 1:-1] if self.torch_padding else y


class LocationChannel(nn.Module):
  """One trainable N(0,1) row per scale, prepended as a channel: [B, L, C] -> [B, L, C+1]."""
  length: int

  @nn.compact
  def __call__(self, x):
    v = self.param('location', nn.initializers.normal(1.0), (self.length,))
    v = jnp.broadcast_to(v[None, :, None], (x.shape[0], self.length, 1)).astype(x.dtype)
    return jnp.concatenate([v, x], axis=-1)


class InstanceNorm(nn.Module):
  """InstanceNorm1d(affine=True): per sample and channel over the length, eps 1e-5."""

  @nn.compact
  def __call__(self, x):
    return nn.GroupNorm(num_groups=x.shape[-1], epsilon=1e-5)(x)


BN_MOMENTUM = 0.9  # PyTorch's momentum 0.1 in Flax's form: running <- 0.9 running + 0.1 batch


def _gen_layer(x, features, train, kind='conv', torch_padding=0, form='matmul', dtype='float32'):
  if kind == 'conv':
    x = conv(features, form=form, dtype=dtype)(x)
  else:
    x = ConvT(features, torch_padding, form, dtype)(x)
  x = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=1e-5)(x)
  return nn.leaky_relu(x, ALPHA)


class GenResidual(nn.Module):
  conv: str = 'matmul'
  dtype: str = 'float32'

  @nn.compact
  def __call__(self, x, train: bool):
    y = _gen_layer(x, x.shape[-1], train, form=self.conv, dtype=self.dtype)
    y = _gen_layer(y, x.shape[-1], train, form=self.conv, dtype=self.dtype)
    return x + y


def _check_labels(labels, num_labels: int, what: str) -> None:
  """A conditional module (num_labels K > 0) takes labels, an unconditioned one none."""
  if num_labels and labels is None:
    raise ValueError(f'a {what} conditioned on {num_labels} labels takes one label per sample; '
                     'got none.')
  if not num_labels and labels is not None:
    raise ValueError(f'an unconditioned {what} (num_labels=0) takes no labels.')


class Generator(nn.Module):
  pyramid: Pyramid
  channels: int = 10  # the paper's channel multiplier c
  noise_dim: int = 2
  conv: str = 'matmul'  # model.conv: how convolutions are computed (CONV_FORMS; see `Conv`)
  # Operand dtype of the matmul convolutions ('float32' or 'bfloat16'; `matmul`): the
  # resolved model.compute_dtype. Parameters, normalisation and outputs stay f32.
  compute_dtype: str = 'float32'
  # K > 0: conditional (docs/conditional.md); the label enters as K one-hot latent channels
  # beside the noise, which the latent's first convolution mixes into every channel. 0 adds
  # nothing (the unconditioned model's parameters are unchanged).
  num_labels: int = 0

  @nn.compact
  def __call__(self, z, noise, train: bool = True, logits: bool = False, labels=None):
    """z: [B, L, noise_dim]; noise: list of num_up + 1 arrays [B, len_i, noise_dim];
    labels: int [B] (conditional generators only).

    Returns sigmoid probabilities [B, pyramid.length] (their logits with `logits=True`).
    """
    c, p, form, dt = self.channels, self.pyramid, self.conv, self.compute_dtype
    lengths = p.scale_lengths()
    m = 6 + 8 * p.num_up
    _check_labels(labels, self.num_labels, 'generator')
    if self.num_labels:
      onehot = jax.nn.one_hot(labels, self.num_labels, dtype=z.dtype)
      z = jnp.concatenate([z, jnp.broadcast_to(onehot[:, None], (*z.shape[:2], self.num_labels))],
                          axis=-1)
    x = LocationChannel(p.latent)(z)
    for i, mult in enumerate((m + 6, m + 4, m + 2, m)):
      x = _gen_layer(x, c * mult, train, 'conv' if i % 2 == 0 else 'convT',
                     torch_padding=int(i == 1), form=form, dtype=dt)
    for u in range(p.num_up):
      x = jnp.concatenate([noise[u], LocationChannel(lengths[u])(x)], axis=-1)
      for j, kind in enumerate(('conv', 'convT', 'conv', 'convT')):
        x = _gen_layer(x, c * (m - 8 * u - 2 * (j + 1)), train, kind, form=form, dtype=dt)
      if u % 2 == 0:
        x = GenResidual(form, dt)(x, train)
    x = jnp.concatenate([noise[p.num_up], LocationChannel(lengths[p.num_up])(x)], axis=-1)
    for j, (f, kind) in enumerate(((4 * c, 'conv'), (2 * c, 'convT'), (c, 'conv'),
                                   (max(1, c // 2), 'convT'))):
      x = _gen_layer(x, f, train, kind, form=form, dtype=dt)
    x = LocationChannel(p.length)(x)
    x = conv(1, bias=True, name='output', form=form, dtype=dt)(x)[..., 0]
    return x if logits else jax.nn.sigmoid(x)


OUTPUTS = ('sigmoid', 'bernoulli')


def straight_through_bernoulli(logits: jax.Array, key: jax.Array,
                               temperature: float = 1.0) -> jax.Array:
  """Exact Bernoulli(sigmoid(logits)) 0/1 draws whose gradient is that of the relaxed draw
  sigmoid((logits + L) / temperature), L ~ Logistic(0, 1) (the binary Gumbel-softmax / concrete
  relaxation, Jang et al. 2017; Maddison et al. 2017, with the straight-through estimator).
  logits + L > 0 has probability sigmoid(logits), so the forward value is the draw itself."""
  noise = jax.random.logistic(key, logits.shape, logits.dtype)
  soft = jax.nn.sigmoid((logits + noise) / temperature)
  hard = (logits + noise > 0).astype(logits.dtype)
  return soft + jax.lax.stop_gradient(hard - soft)


def noise_shapes(pyramid: Pyramid, batch: int, noise_dim: int = 2) -> list[tuple[int, int, int]]:
  return [(batch, n, noise_dim) for n in pyramid.scale_lengths()[:pyramid.num_up + 1]]


def _critic_layer(x, features, stride=1, padding='SAME', form='matmul', dtype='float32'):
  x = conv(features, stride, padding, bias=True, form=form, dtype=dtype)(x)
  return nn.leaky_relu(InstanceNorm()(x), ALPHA)


class CriticResidual(nn.Module):
  conv: str = 'matmul'
  dtype: str = 'float32'

  @nn.compact
  def __call__(self, x):
    y = _critic_layer(x, x.shape[-1], form=self.conv, dtype=self.dtype)
    y = _critic_layer(y, x.shape[-1], form=self.conv, dtype=self.dtype)
    return x + y


MBSTD_GROUP = 4  # ProGAN's minibatch-std group size


def minibatch_std(x: jax.Array, group: int = MBSTD_GROUP) -> jax.Array:
  """[B, L, C] -> [B, L]: at each position the std of the features across a group of samples,
  averaged over channels (Karras et al. 2018, "minibatch standard deviation"). Sample i is in
  group i mod B/g, as in ProGAN. A collapsed generator gives groups of near-identical samples
  (std ~0) that real data do not, so the critic can score diversity."""
  b = x.shape[0]
  g = min(group, b)
  if b % g:
    g = b
  y = x.reshape(g, b // g, *x.shape[1:])
  s = jnp.sqrt(jnp.var(y, axis=0) + 1e-8).mean(axis=-1)  # [B/g, L]
  return jnp.tile(s, (g, 1))


MINIBATCH_STD = ('none', 'features', 'output')
LABEL_HEADS = ('classifier', 'projection')


class Critic(nn.Module):
  pyramid: Pyramid
  channels: int = 10
  # Where a minibatch-std feature enters (model.minibatch_std): 'none' (the paper); 'features'
  # = a channel in front of the last block (per position; the InstanceNorms after it remove its
  # mean over positions but not its profile); 'output' = its mean as one more input of the final
  # Linear, after every normalisation.
  minibatch_std: str = 'none'
  conv: str = 'matmul'  # as Generator.conv
  compute_dtype: str = 'float32'  # as Generator.compute_dtype
  # K > 0: conditional (docs/wgan.md, "Conditional"), with the head `label_head` names:
  # 'projection' (Miyato & Koyama 2018): the score gains sum(e * h), h the flattened features
  # of the last block [(2L - 1) x channels], e the sum of the label embeddings of the packed
  # samples (starting at 0). 'classifier' (auxiliary classifier, Odena et al. 2017): K logits
  # per packed sample from h; the score takes no labels. 0 adds nothing.
  num_labels: int = 0
  label_head: str = 'projection'

  @nn.compact
  def __call__(self, x, labels=None):
    """x: [B, pyramid.length, pack_m] in [0, 1]; labels: int [B, pack_m], each packed sample's
    label (projection critics only) -> raw Wasserstein scores [B]; a classifier critic returns
    (scores [B], label logits [B, pack_m, K])."""
    _check_labels(labels, self.num_labels if self.label_head == 'projection' else 0, 'critic')
    c, p, form, dt = self.channels, self.pyramid, self.conv, self.compute_dtype
    pack = x.shape[-1]
    lengths = p.scale_lengths()[::-1]  # [full, after yellow-in, ..., 4L - 1]
    x = LocationChannel(p.length)(x)
    for j, mult in enumerate((1, 2, 4, 6)):
      x = _critic_layer(x, c * mult, 1 if j % 2 == 0 else 2, 'SAME' if j % 2 == 0 else 'VALID',
                        form, dt)
    x = CriticResidual(form, dt)(x)
    for d in range(p.num_up):
      x = LocationChannel(lengths[d + 1])(x)
      m = 6 + 8 * d
      for j in range(4):
        x = _critic_layer(x, c * (m + 2 * (j + 1)), 1 if j % 2 == 0 else 2,
                          'SAME' if j % 2 == 0 else 'VALID', form, dt)
      if d % 2 == 1 and d + 1 < p.num_up:
        x = CriticResidual(form, dt)(x)
    x = LocationChannel(lengths[p.num_up + 1])(x)
    diversity = minibatch_std(x) if self.minibatch_std != 'none' else None
    if self.minibatch_std == 'features':
      x = jnp.concatenate([x, diversity[..., None]], axis=-1)
    m = 6 + 8 * p.num_up
    x = _critic_layer(x, c * (m + 2), form=form, dtype=dt)
    x = _critic_layer(x, c * (m + 4), 2, 'VALID', form, dt)
    x = _critic_layer(x, c * (m + 6), form=form, dtype=dt)
    h = x.reshape(x.shape[0], -1)
    x = conv(1, 2, ((1, 1),), bias=True, form=form, dtype=dt)(x)  # PyTorch Conv1d(k3, s2, p1): 2L - 1 -> L
    x = nn.leaky_relu(InstanceNorm()(x), ALPHA)[..., 0]
    if self.minibatch_std == 'output':
      x = jnp.concatenate([x, diversity.mean(axis=-1, keepdims=True)], axis=-1)
    score = nn.Dense(1, kernel_init=_torch_uniform((0,)))(x)[..., 0]
    if self.num_labels and self.label_head == 'classifier':
      logits = nn.Dense(pack * self.num_labels, name='label_logits')(h)
      return score, logits.reshape(-1, pack, self.num_labels)
    if self.num_labels:
      embed = nn.Embed(self.num_labels, h.shape[-1], embedding_init=nn.initializers.zeros_init(),
                       name='label_embed')
      score = score + jnp.sum(embed(labels).sum(axis=1) * h, axis=-1)
    return score
