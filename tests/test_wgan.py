"""The conv WGAN against the paper's layer tables (docs/papers.md §2.4, §2.5); the GAN; steps."""

import functools
import os
import subprocess
import sys

import flax.linen as nn
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ag_jax.config_base import ConfigError
from ag_jax.models import gan as gan_lib
from ag_jax.models import wgan
from ag_jax.train import adversarial
from ag_jax.train.setup import DataInfo
from configs_loader import load
from conftest import ROOT, step_sizes

# Tables of docs/papers.md §2.4 (65,535) and §2.5 (16,383): per block the output channels of
# each conv layer, and the kind of each layer: s = Conv s1, T1 = ConvT p1, T0 = ConvT p0,
# d = Conv s2 p0, p = Conv s2 p1; 'R' = a residual block (two s layers at the same width).
GEN_65K = [('s', 520), ('T1', 500), ('s', 480), ('T0', 460),
           ('s', 440), ('T0', 420), ('s', 400), ('T0', 380), 'R',
           ('s', 360), ('T0', 340), ('s', 320), ('T0', 300),
           ('s', 280), ('T0', 260), ('s', 240), ('T0', 220), 'R',
           ('s', 200), ('T0', 180), ('s', 160), ('T0', 140),
           ('s', 120), ('T0', 100), ('s', 80), ('T0', 60), 'R',
           ('s', 40), ('T0', 20), ('s', 10), ('T0', 5), ('s', 1)]
GEN_16K = [('s', 440), ('T1', 420), ('s', 400), ('T0', 380),
           ('s', 360), ('T0', 340), ('s', 320), ('T0', 300), 'R',
           ('s', 280), ('T0', 260), ('s', 240), ('T0', 220),
           ('s', 200), ('T0', 180), ('s', 160), ('T0', 140), 'R',
           ('s', 120), ('T0', 100), ('s', 80), ('T0', 60),
           ('s', 40), ('T0', 20), ('s', 10), ('T0', 5), ('s', 1)]
CRIT_65K = [('s', 10), ('d', 20), ('s', 40), ('d', 60), 'R',
            ('s', 80), ('d', 100), ('s', 120), ('d', 140),
            ('s', 160), ('d', 180), ('s', 200), ('d', 220), 'R',
            ('s', 240), ('d', 260), ('s', 280), ('d', 300),
            ('s', 320), ('d', 340), ('s', 360), ('d', 380), 'R',
            ('s', 400), ('d', 420), ('s', 440), ('d', 460),
            ('s', 480), ('d', 500), ('s', 520), ('p', 1)]
CRIT_16K = [('s', 10), ('d', 20), ('s', 40), ('d', 60), 'R',
            ('s', 80), ('d', 100), ('s', 120), ('d', 140),
            ('s', 160), ('d', 180), ('s', 200), ('d', 220), 'R',
            ('s', 240), ('d', 260), ('s', 280), ('d', 300),
            ('s', 320), ('d', 340), ('s', 360), ('d', 380),
            ('s', 400), ('d', 420), ('s', 440), ('p', 1)]
NEXT_LEN = {'s': lambda n: n, 'T1': lambda n: 2 * n - 1, 'T0': lambda n: 2 * n + 1,
            'd': lambda n: (n - 3) // 2 + 1, 'p': lambda n: (n - 1) // 2 + 1}


def _expected(table, length, channels, extra_before):
  """(out_len, out_channels) of every conv layer, and the parameter count, from a table.

  extra_before(i) -> channels concatenated in front of layer i (noise, location rows).
  """
  shapes, params, c_in = [], 0, channels
  layers = []
  for item in table:
    layers += [('s', c_in), ('s', c_in)] if item == 'R' else [item]
    if item != 'R':
      c_in = item[1]
  c_in = channels
  for i, (kind, c_out) in enumerate(layers):
    c_in += extra_before(i)
    length = NEXT_LEN[kind](length)
    shapes.append((length, c_out))
    params += 3 * c_in * c_out
    c_in = c_out
  return shapes, params, layers


def _conv_outputs(module, variables, *args):
  """Output (length, channels) of every conv layer, in call order."""
  order = []

  def capture(m, _):
    if isinstance(m, (wgan.Conv, wgan.ConvT)):
      order.append(tuple(m.scope.path))
      return True
    return False

  _, state = jax.eval_shape(lambda v: module.apply(
      v, *args, capture_intermediates=capture, mutable=['intermediates', 'batch_stats']), variables)
  flat = traverse_util.flatten_dict(state['intermediates'])
  return [flat[p + ('__call__',)][0].shape[1:] for p in order]


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('num_snps,gen_table,crit_table', [(65535, GEN_65K, CRIT_65K),
                                                           (16383, GEN_16K, CRIT_16K)])
def test_layer_shapes_and_parameter_counts_match_paper(num_snps, gen_table, crit_table):
  pyr = wgan.pyramid_for(num_snps)
  assert pyr.latent == 4 and pyr.length == num_snps
  gen, critic = wgan.Generator(pyr, 10, 2), wgan.Critic(pyr, 10)
  z = jnp.zeros((1, 4, 2))
  noise = [jnp.zeros(s) for s in wgan.noise_shapes(pyr, 1)]
  gv = jax.eval_shape(lambda: gen.init(jax.random.key(0), z, noise, train=False))
  cv = jax.eval_shape(lambda: critic.init(jax.random.key(0), jnp.zeros((1, num_snps, 3))))

  # Generator: layer i gets 2 noise + 1 location channel in front of each up block / the
  # yellow output block (every 4th non-residual layer after the input block), one location
  # channel at the input and before the output conv.
  n_up = pyr.num_up
  starts = {4 * (u + 1) for u in range(n_up + 1)}
  gen_real = [l for l in gen_table if l != 'R']
  def g_extra(i, table=gen_table):
    j = _plain_index(table, i)
    if j is None:
      return 0
    if j == 0:
      return 1
    if j == len(gen_real) - 1:
      return 1
    return 3 if j in starts else 0
  shapes, conv_params, layers = _expected(gen_table, 4, 2, g_extra)
  got = _conv_outputs(gen, gv, z, noise, False)
  assert got == [(l, c) for l, c in shapes]
  assert shapes[-1] == (num_snps, 1)
  bn = 2 * sum(c for _, c in layers[:-1])  # BatchNorm scale + bias after each bias-free conv
  locations = sum([4] + pyr.scale_lengths()[:n_up + 1] + [num_snps])
  expected_g = conv_params + bn + 1 + locations  # + the output conv's bias
  assert _count(gv['params']) == expected_g

  crit_real = [l for l in crit_table if l != 'R']
  c_starts = {4 * (d + 1) for d in range(n_up + 1)}
  def c_extra(i, table=crit_table):
    j = _plain_index(table, i)
    return 0 if j is None else (1 if j == 0 or j in c_starts else 0)
  shapes, conv_params, layers = _expected(crit_table, num_snps, 3, c_extra)
  got = _conv_outputs(critic, cv, jnp.zeros((1, num_snps, 3)))
  assert got == [(l, c) for l, c in shapes]
  assert shapes[-1] == (4, 1)
  biases_and_norms = sum(3 * c for _, c in layers)  # conv bias + InstanceNorm scale and bias
  locations = sum(pyr.scale_lengths())
  expected_c = conv_params + biases_and_norms + locations + 4 + 1  # + Linear(4 -> 1)
  assert _count(cv['params']) == expected_c
  print(f'{num_snps}: generator {expected_g:,} / critic {expected_c:,} parameters')


def _plain_index(table, i):
  """Index among non-residual layers of expanded layer i, or None if i is in a residual."""
  j = k = 0
  for item in table:
    width = 2 if item == 'R' else 1
    if k <= i < k + width:
      return None if item == 'R' else j
    k += width
    j += item != 'R'
  raise IndexError(i)


@pytest.mark.parametrize('num_snps,max_latent,shape', [
    (805, 4, (4, 2)), (4053, 4, (4, 3)), (100000, 4, (4, 6)), (65535, 4, (4, 5)),
    (16383, 4, (4, 4)), (16384, 4, (4, 5)), (805, 16, (13, 1)), (100000, 8, (7, 5))])
def test_pyramid_for_any_snp_count(num_snps, max_latent, shape):
  pyr = wgan.pyramid_for(num_snps, max_latent)
  assert (pyr.latent, pyr.num_up) == shape
  assert pyr.length >= num_snps and 4 <= pyr.latent <= max_latent


def _info(n, x=None):
  f = np.full(n, 0.5, np.float32) if x is None else x.mean(0).astype(np.float32)
  return DataInfo(n, f, None, 100)


@pytest.mark.slow
def test_paper65k_forward_and_one_train_step_batch_2():
  config = load('wgan.py:paper65k')
  config.model.batch_size = 2
  config.model.critic_microbatch = 1  # the variant's critic chunks, here of 1 packed sample
  config.model.critic_iter = 1
  config.train.batch_size = 1 * 3 * 2
  info = _info(65535)
  state = adversarial.create_state(config, info, jax.random.key(0))
  batch = jax.random.bernoulli(jax.random.key(1), 0.3, (6, 65535)).astype(jnp.uint8)
  new, m = jax.jit(adversarial.make_train_step(config, info))(state, batch, jax.random.key(2))
  for k in ('critic_gap', 'gp', 'critic_grad_norm', 'generator_grad_norm'):
    assert np.isfinite(float(m[k])), k
  assert int(new.step) == 1
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.g_params, new.g_params)
  assert any(jax.tree.leaves(changed))


@pytest.mark.slow
def test_gradient_penalty_matches_finite_differences():
  pyr = wgan.pyramid_for(60)
  critic = wgan.Critic(pyr, 2)
  x = jax.random.uniform(jax.random.key(0), (1, pyr.length, 3))
  v = critic.init(jax.random.key(1), x)
  f = lambda y: critic.apply(v, y).sum()
  g = jax.grad(f)(x)
  eps = 1e-2
  for idx in [(0, 5, 0), (0, 30, 2)]:
    e = jnp.zeros_like(x).at[idx].set(eps)
    fd = (f(x + e) - f(x - e)) / (2 * eps)
    assert float(fd) == pytest.approx(float(g[idx]), rel=0.05, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['wgan', 'gan'])
def test_step_is_deterministic_in_key_and_sampler_crops(ds805, name):
  config = load(f'{name}.py:test')
  x = ds805.read_split('train')
  info = _info(805, x)
  state = adversarial.create_state(config, info, jax.random.key(0))
  step = jax.jit(adversarial.make_train_step(config, info))
  batch = jnp.asarray(x[:config.train.batch_size])
  a, ma = step(state, batch, jax.random.key(3))
  b, mb = step(state, batch, jax.random.key(3))
  c, _ = step(state, batch, jax.random.key(4))
  for l1, l2 in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(l1, l2)
  assert any(bool(jnp.any(l1 != l3)) for l1, l3 in zip(jax.tree.leaves(a.g_params), jax.tree.leaves(c.g_params)))
  ags = jax.jit(adversarial.make_sampler(config, info), static_argnums=2)(a, jax.random.key(5), 10)
  assert ags.shape == (10, 805) and ags.dtype == jnp.uint8 and set(np.unique(ags)) <= {0, 1}


@pytest.mark.parametrize('kind,args', [('conv', (7,)), ('conv', (7, 2, 'VALID', True)),
                                       ('conv', (7, 2, ((1, 1),), True)), ('conv_t', (7,)),
                                       ('conv_t', (7, 1))])
def test_matmul_convs_equal_flax_convs_values_and_gradients(ds805, kind, args):
  """Each layer form the model uses, model.conv='matmul' against 'lax' (flax.linen.Conv /
  ConvTranspose): same parameters, initial values, outputs and gradients."""
  # Real haplotypes as 5 channels of 201 positions (odd and even lengths both occur).
  x = jnp.asarray(ds805.read_split('train')[:15, :201], jnp.float32)
  x = jnp.transpose(x.reshape(3, 5, 201), (0, 2, 1))
  ours, ref = ((wgan.conv(*args), wgan.conv(*args, form='lax')) if kind == 'conv'
               else (wgan.ConvT(*args), wgan.ConvT(*args, form='lax')))
  assert isinstance(ours, (wgan.Conv, wgan.ConvT)) and not isinstance(ref, wgan.Conv)
  v = ours.init(jax.random.key(1), x)
  v_ref = ref.init(jax.random.key(1), x)
  assert jax.tree.structure(v) == jax.tree.structure(v_ref)
  for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(v_ref)):
    np.testing.assert_array_equal(a, b)  # same names, shapes and initial values
  if 'bias' in v['params']:  # a nonzero bias, so its gradient and use are checked too
    v = {'params': {**v['params'], 'bias': jnp.linspace(-1, 1, 7)}}
  y, y_ref = ours.apply(v, x), ref.apply(v, x)
  assert y.shape == y_ref.shape
  np.testing.assert_allclose(y, y_ref, atol=1e-5)
  w = jax.random.normal(jax.random.key(2), y.shape)  # a loss that weighs every output
  loss = lambda m: lambda v, x: jnp.sum(w * jnp.tanh(m.apply(v, x)))
  g, g_ref = jax.grad(loss(ours), (0, 1))(v, x), jax.grad(loss(ref), (0, 1))(v, x)
  for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('pads,stride', [((1, 1), 1), ((0, 1), 2), ((1, 1), 2), ((0, 0), 1)])
def test_conv_backward_is_autodiffs_to_second_order(pads, stride):
  """The matmul conv's hand-written backward (kernel gradient from the input and shifted
  copies of the cotangent) against plain autodiff of im2col + matmul: first derivatives and
  the gradient penalty's second derivative agree."""
  x = jax.random.normal(jax.random.key(0), (2, 13, 3))
  w = jax.random.normal(jax.random.key(1), (3 * 3, 4))
  ours = lambda x, w: wgan._im2col_matmul(x, w, pads, stride, 'float32')
  plain = lambda x, w: wgan.matmul(wgan._im2col(x, pads, stride), w)
  ct = jax.random.normal(jax.random.key(2), plain(x, w).shape)
  for a, b in zip(jax.vjp(ours, x, w)[1](ct), jax.vjp(plain, x, w)[1](ct)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  penalty = lambda f: lambda w: jnp.sum(jax.grad(lambda x: jnp.sum(jnp.tanh(f(x, w)) * ct))(x) ** 2)
  np.testing.assert_allclose(jax.grad(penalty(ours))(w), jax.grad(penalty(plain))(w),
                             rtol=1e-4, atol=1e-4)


def test_conv_backward_does_not_keep_the_im2col_copies():
  """A stack of matmul convs, differentiated, holds less XLA memory than with plain autodiff,
  which keeps every layer's im2col copy (3x its input) for the backward pass (0.65x here)."""
  def temp_bytes(f):
    def loss(ws, x):
      for w in ws:
        x = jax.nn.leaky_relu(f(x, w), 0.2)
      return jnp.sum(x ** 2)
    ws = [jnp.full((3 * 32, 32), 0.01)] * 4
    compiled = jax.jit(jax.grad(loss)).lower(ws, jnp.ones((4, 4096, 32))).compile()
    return compiled.memory_analysis().temp_size_in_bytes
  ours = lambda x, w: wgan._im2col_matmul(x, w, (1, 1), 1, 'float32')
  assert temp_bytes(ours) < 0.8 * temp_bytes(lambda x, w: wgan.matmul(wgan._im2col(x, (1, 1), 1), w))


@pytest.mark.slow
def test_model_with_matmul_convs_is_the_model_with_flax_convs(ds805):
  """model.conv 'matmul' and 'lax': the same parameter tree (checkpoints move between the
  forms) and initial values; on real haplotypes the same generated haplotypes, critic scores,
  gradient-penalty gradient and generator gradient.

  Compared in float64. In float32 the whole-model gradients are not a stable reference: the
  two forms round differently (~1e-7), and some generator-gradient entries move by 1e-3 of the
  largest one (likely a leaky ReLU input within rounding of 0 taking the other slope; not
  traced to the unit). Measured (jax 0.10.2, CPU): float32 'matmul' vs 'lax' differ by up to
  0.041 on a generator gradient of scale 22.9, and 'lax' against itself with z * (1 + 1e-6)
  differs by as much (0.041), while in float64 the forms agree to ~1e-12 of the scale. Each
  layer's float32 values and gradients are compared in
  test_matmul_convs_equal_flax_convs_values_and_gradients."""
  with jax.enable_x64(True):
    pyr = wgan.pyramid_for(805)
    x = np.pad(ds805.read_split('train')[:12].astype(np.float64),
               ((0, 0), (0, pyr.length - 805)))
    real = jnp.transpose(jnp.asarray(x).reshape(3, 4, -1), (1, 2, 0))  # 4 packed samples
    z, noise = adversarial._latents(pyr, jax.random.key(2), 12, 2)  # pylint: disable=protected-access
    assert real.dtype == z.dtype == jnp.float64

    @functools.partial(jax.jit, static_argnums=0)
    def run(form):
      gen, critic = wgan.Generator(pyr, 2, conv=form), wgan.Critic(pyr, 2, conv=form)
      to64 = lambda tree: jax.tree.map(lambda a: a.astype(jnp.float64), tree)
      gv = to64(gen.init(jax.random.key(0), z, noise, train=False))
      cv = to64(critic.init(jax.random.key(1), real))
      fake, _ = gen.apply(gv, z, noise, train=True, mutable=['batch_stats'])
      fake = jnp.transpose(fake.reshape(3, 4, -1), (1, 2, 0))

      def critic_loss(c_params):
        score = lambda y: critic.apply({'params': c_params}, y).sum()
        grads = jax.grad(score)(0.3 * real + 0.7 * fake)
        penalty = jnp.mean((jnp.sqrt(jnp.sum(grads.reshape(4, -1) ** 2, axis=1)) - 1) ** 2)
        return score(fake) - score(real) + 10 * penalty

      def generator_loss(g_params):
        out, _ = gen.apply({**gv, 'params': g_params}, z, noise, train=True,
                           mutable=['batch_stats'])
        return -critic.apply(cv, jnp.transpose(out.reshape(3, 4, -1), (1, 2, 0))).sum()

      return (gv, cv, fake, critic.apply(cv, real), jax.grad(critic_loss)(cv['params']),
              jax.grad(generator_loss)(gv['params']))

    ours, ref = run('matmul'), run('lax')
  assert jax.tree.structure(ours) == jax.tree.structure(ref)
  assert all(a.dtype == np.float64 for a in jax.tree.leaves(ours))
  for a, b in zip(jax.tree.leaves(ours[:2]), jax.tree.leaves(ref[:2])):
    np.testing.assert_array_equal(a, b)
  # Tolerances scale with each output's largest entry, not each leaf's: the critic's conv
  # biases feed InstanceNorms, which remove them, so their exact gradient is 0 and both forms
  # compute rounding noise there.
  for got, want in zip(ours[2:], ref[2:]):
    scale = max(float(np.abs(b).max()) for b in jax.tree.leaves(want))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * scale)


def test_fc_gan_layer_sizes():
  v = jax.eval_shape(lambda: gan_lib.Generator(805).init(jax.random.key(0), jnp.zeros((1, 600))))
  assert [v['params'][n]['kernel'].shape for n in ('hidden1', 'hidden2', 'out')] == \
      [(600, 670), (670, 731), (731, 805)]
  d = jax.eval_shape(lambda: gan_lib.Discriminator(805).init(jax.random.key(0), jnp.zeros((1, 805))))
  assert [d['params'][n]['kernel'].shape for n in ('hidden1', 'hidden2', 'out')] == \
      [(805, 402), (402, 268), (268, 1)]


@pytest.mark.slow
def test_wgan_sampler_batch_stats_option(ds805):
  """sample_batch_stats normalises each generated batch by its own statistics (as in training),
  not by the running averages: same key, different (still 0/1, cropped) haplotypes. (The
  option is for the last weights; the weight average always uses batch statistics.)"""
  config = load('wgan.py:test')
  config.model.ema_decay = 0.0
  x = ds805.read_split('train')
  info = _info(805, x)
  state = adversarial.create_state(config, info, jax.random.key(0))
  state, _ = jax.jit(adversarial.make_train_step(config, info))(
      state, jnp.asarray(x[:config.train.batch_size]), jax.random.key(1))
  out = {}
  for flag in (False, True):
    config.model.sample_batch_stats = flag
    out[flag] = np.asarray(jax.jit(adversarial.make_sampler(config, info), static_argnums=2)(
        state, jax.random.key(5), 64))
    assert out[flag].shape == (64, 805) and set(np.unique(out[flag])) <= {0, 1}
  assert (out[False] != out[True]).any()


@pytest.mark.slow
@pytest.mark.parametrize('name', ['wgan', 'gan'])
def test_generator_average_follows_the_recursion_and_is_what_is_sampled(ds805, name):
  """g_ema_t = d_t g_ema_{t-1} + (1 - d_t) g_params_t, d_t = min(decay, (1+t)/(10+t)), on real
  rows; the sampler draws from g_ema (replacing it changes the AGs, replacing g_params not)."""
  config = load(f'{name}.py:test')
  config.model.ema_decay = 0.5
  x = ds805.read_split('train')
  info = _info(805, x)
  state = adversarial.create_state(config, info, jax.random.key(0))
  step = jax.jit(adversarial.make_train_step(config, info))
  expect = jax.tree.map(np.asarray, state.g_params)
  for t in range(4):
    batch = jnp.asarray(x[t * config.train.batch_size:(t + 1) * config.train.batch_size])
    state, _ = step(state, batch, jax.random.key(10 + t))
    d = min(0.5, (1 + t) / (10 + t))
    expect = jax.tree.map(lambda e, p: d * e + (1 - d) * np.asarray(p), expect, state.g_params)
  for e, g in zip(jax.tree.leaves(expect), jax.tree.leaves(state.g_ema)):
    np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
  assert any(bool(jnp.any(a != b)) for a, b in
             zip(jax.tree.leaves(state.g_ema), jax.tree.leaves(state.g_params)))
  sample = jax.jit(adversarial.make_sampler(config, info), static_argnums=2)
  draw = lambda s: np.asarray(sample(s, jax.random.key(5), 64))  # the same key each time
  base = draw(state)
  zeroed = lambda tree: jax.tree.map(jnp.zeros_like, tree)
  np.testing.assert_array_equal(draw(state.replace(g_params=zeroed(state.g_params))), base)
  assert np.any(draw(state.replace(g_ema=zeroed(state.g_ema))) != base)


def _traced_state(config, info):
  """create_state traced, not run: its config checks raise as they do in training, without
  initialising a whole WGAN op by op (eagerly, each op compiles on its own)."""
  return jax.eval_shape(lambda k: adversarial.create_state(config, info, k), jax.random.key(0))


def test_no_average_when_decay_is_zero():
  config = load('wgan.py:test')
  config.model.ema_decay = 0.0
  state = _traced_state(config, _info(805))
  assert state.g_ema == {}
  config.model.ema_decay = 1.0  # would never move: one clear error
  with pytest.raises(ValueError, match=r'ema_decay=1.0: must be in'):
    _traced_state(config, _info(805))


def test_batch_follows_the_step_and_a_mismatch_is_one_config_error(tmp_path):
  """train.batch_size is critic_iter x pack_m x batch_size, also after an override; set to
  anything else, it is one 'error: bad config' line before the workdir exists (it was a reshape
  traceback from inside the jitted step)."""
  config = load('wgan.py:test')
  config.model.critic_iter = 3
  assert config.train.batch_size == 3 * config.model.pack_m * config.model.batch_size
  _traced_state(config, _info(805))
  config.train.batch_size = 24
  with pytest.raises(ConfigError, match=r'batch_size=24.* = 36 rows: set --config.train.batch_size=36'):
    _traced_state(config, _info(805))
  workdir = tmp_path / 'run'
  r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'train.py'),
                      f'--config={ROOT / "configs" / "wgan.py"}:test', f'--workdir={workdir}',
                      '--config.train.batch_size=10'], capture_output=True, text=True)
  lines = r.stderr.strip().splitlines()
  assert r.returncode == 1 and len(lines) == 1, r.stderr
  assert lines[0].startswith('error: bad config: config.train.batch_size=10'), r.stderr
  assert not workdir.exists()


def test_minibatch_std_scores_the_spread_of_each_group(ds805):
  """minibatch_std is, per position, the channel mean of the std over each group of 4 samples
  (sample i in group i mod B/4), checked against numpy on real haplotypes: ~0 for a batch of
  copies, positive for distinct people."""
  x = ds805.read_split('train')[:8].astype(np.float32)[:, :40, None].repeat(3, axis=-1)
  x[..., 1] = 1 - x[..., 1]
  got = np.asarray(wgan.minibatch_std(jnp.asarray(x)))
  groups = [[0, 2, 4, 6], [1, 3, 5, 7]]
  expect = np.stack([np.sqrt(x[g].var(axis=0) + 1e-8).mean(axis=-1) for g in groups])
  np.testing.assert_allclose(got, expect[[0, 1, 0, 1, 0, 1, 0, 1]], rtol=1e-5)
  assert got.mean() > 0.1
  copies = np.asarray(wgan.minibatch_std(jnp.asarray(np.repeat(x[:1], 8, axis=0))))
  assert copies.max() < 1e-3
  assert np.asarray(wgan.minibatch_std(jnp.ones((6, 5, 2)))).shape == (6, 5)  # 6 % 4: one group


@pytest.mark.slow  # 35-45 s per placement (a critic compile each)
@pytest.mark.parametrize('where', ['features', 'output'])
def test_minibatch_std_critic_scores_depend_on_the_rest_of_the_batch(ds805, where):
  """With the option, one sample's score changes when another sample of its group changes (and
  not when one of the other group does); without it, scores are per sample."""
  pyr = wgan.pyramid_for(805)
  rows = ds805.read_split('train')[:24].astype(np.float32)
  x = np.zeros((8, pyr.length, 3), np.float32)
  x[:, :805] = rows.reshape(3, 8, 805).transpose(1, 2, 0)
  y = x.copy()
  y[2] = 1 - y[2]  # sample 2 is in sample 0's group (0, 2, 4, 6), not in sample 1's
  for mode, depends in ((where, True), ('none', False)):
    critic = wgan.Critic(pyr, 2, mode)
    v = critic.init(jax.random.key(0), jnp.asarray(x))
    a, b = np.asarray(critic.apply(v, jnp.asarray(x))), np.asarray(critic.apply(v, jnp.asarray(y)))
    assert (abs(a[0] - b[0]) > 1e-6) == depends
    assert a[1] == pytest.approx(b[1], abs=1e-6)


@pytest.mark.parametrize('key,value,message', [
    ('minibatch_std', 'feature', r"minibatch_std='feature': use one of none, features, output"),
    ('conv', 'im2col', r"conv='im2col': use one of matmul, lax"),
    ('compute_dtype', 'float16', r"compute_dtype='float16': use one of auto, float32, bfloat16"),
    ('critic_microbatch', 3, r'critic_microbatch=3: must divide model.batch_size=4'),
    ('lr_decay', 'exp', r"lr_decay='exp': use none, cosine or linear")])
def test_wgan_options_are_checked(key, value, message):
  config = load('wgan.py:test')
  config.model[key] = value
  with pytest.raises(ConfigError, match=message):
    adversarial.create_state(config, _info(805), jax.random.key(0))


@pytest.mark.parametrize('decay', ['linear', 'cosine'])
def test_rate_decay_spans_each_optimizers_own_updates(decay):
  """With a constant gradient Adam's step is the rate: the generator's falls from g_lr to
  g_lr * lr_final over num_steps updates, the critic's over critic_iter x num_steps."""
  config = load('wgan.py:test')
  m = config.model
  m.g_lr, m.c_lr, m.lr_decay, m.lr_final, m.critic_iter = 1e-3, 2e-3, decay, 0.1, 3
  config.train.num_steps = 4
  g_tx, c_tx = adversarial._wgan_tx(config)  # pylint: disable=protected-access
  for got, lr in ((step_sizes(g_tx, 4), 1e-3), (step_sizes(c_tx, 12), 2e-3)):
    assert got[0] == pytest.approx(lr, rel=1e-4) and got[-1] == pytest.approx(lr * 0.1, rel=1e-4)
    assert all(a > b for a, b in zip(got, got[1:])), got
  m.lr_decay = 'none'  # the paper: constant, and Adam's state is the one it always was
  const = step_sizes(adversarial._wgan_tx(config)[1], 12)  # pylint: disable=protected-access
  assert const == pytest.approx([2e-3] * 13, rel=1e-4)


@pytest.mark.slow
def test_real_noise_moves_alleles_inwards_and_changes_the_critic_step(ds805):
  """instance_noise: on real rows, 0 -> [0, a), 1 -> (1 - a, 1], every value moved; the option
  changes the critic's update; a = 0.5 (all information gone) is a config error."""
  x = ds805.read_split('train')[:64]
  y = np.asarray(adversarial.instance_noise(jnp.asarray(x, jnp.float32), jax.random.key(0), 0.1))
  assert np.all(np.abs(y - x) < 0.1) and np.all(np.abs(y - x) > 0)
  assert np.all((y < 0.5) == (x == 0))
  config = load('wgan.py:test')
  info = _info(805, x)
  batch = jnp.asarray(ds805.read_split('train')[:config.train.batch_size])
  state = adversarial.create_state(config, info, jax.random.key(0))
  critic = {}
  for a in (0.0, 0.1):
    config.model.real_noise = a
    new, _ = jax.jit(adversarial.make_train_step(config, info))(state, batch, jax.random.key(1))
    critic[a] = jax.tree.leaves(new.c_params)
  assert any(bool(jnp.any(p != q)) for p, q in zip(critic[0.0], critic[0.1]))
  config.model.real_noise = 0.5
  with pytest.raises(ConfigError, match=r'real_noise=0.5: must be in \[0, 0.5\)'):
    adversarial.create_state(config, info, jax.random.key(0))


@pytest.mark.slow
def test_mode_seeking_ratio_and_term(ds805):
  """mode_seeking_ratio: 0 for a generator that ignores its latents, the ratio of mean
  absolute differences otherwise (worked by hand below); with model.mode_seeking > 0 the
  generator update changes, the critic's does not, and the ratio is logged; < 0 is an error."""
  x = jnp.asarray(ds805.read_split('train')[:8], jnp.float32)
  z = jnp.arange(8.0).reshape(8, 1, 1)  # |a - b| = 4 for each of the 4 pairs
  same = jnp.broadcast_to(x[:1], x.shape)
  assert float(adversarial.mode_seeking_ratio(same, z, [])) == 0.0
  want = float(np.abs(np.asarray(x[:4]) - np.asarray(x[4:])).mean()) / 4.0
  assert want > 0
  np.testing.assert_allclose(float(adversarial.mode_seeking_ratio(x, z, [])), want, rtol=1e-6)
  noise = [jnp.zeros((8, 3, 1))]  # latents that never differ dilute the mean latent distance
  np.testing.assert_allclose(float(adversarial.mode_seeking_ratio(x, z, noise)), want * 4,
                             rtol=1e-6)
  config = load('wgan.py:test')
  info = _info(805, ds805.read_split('train')[:64])
  batch = jnp.asarray(ds805.read_split('train')[:config.train.batch_size])
  state = adversarial.create_state(config, info, jax.random.key(0))
  out = {}
  for w in (0.0, 1.0):
    config.model.mode_seeking = w
    out[w] = jax.jit(adversarial.make_train_step(config, info))(state, batch, jax.random.key(1))
  (a, ma), (b, mb) = out[0.0], out[1.0]
  assert float(ma['mode_seeking_ratio']) == float(mb['mode_seeking_ratio']) > 0
  assert any(bool(jnp.any(p != q)) for p, q in
             zip(jax.tree.leaves(a.g_params), jax.tree.leaves(b.g_params)))
  assert all(bool(jnp.all(p == q)) for p, q in
             zip(jax.tree.leaves(a.c_params), jax.tree.leaves(b.c_params)))
  config.model.mode_seeking = -1.0
  with pytest.raises(ConfigError, match=r'mode_seeking=-1.0: must be >= 0'):
    adversarial.create_state(config, info, jax.random.key(0))


def test_straight_through_bernoulli_draws_exactly_with_the_relaxed_gradient(ds805):
  """Forward: 0/1 draws with frequency sigmoid(logits) (here the 805 train split's allele
  frequencies, 4,000 draws each, within 5 binomial SEs at every SNP). Backward: the gradient
  of sigmoid((logits + L) / t) for the same logistic noise L, whatever the temperature t."""
  x = ds805.read_split('train')
  f = np.clip(x.mean(0), 0.01, 0.99)
  logits = jnp.broadcast_to(jnp.asarray(np.log(f / (1 - f)), jnp.float32), (4000, 805))
  key = lambda: jax.random.key(0)  # reused on purpose: the same draws in every call
  d = np.asarray(wgan.straight_through_bernoulli(logits, key(), 0.5))
  assert set(np.unique(d)) == {0.0, 1.0}
  se = np.sqrt(f * (1 - f) / 4000)
  assert np.max(np.abs(d.mean(0) - f) / se) < 5
  w = jax.random.normal(jax.random.key(1), logits.shape)
  noise = jax.random.logistic(key(), logits.shape)
  for t in (1.0, 0.5):
    g = jax.grad(lambda l: jnp.sum(w * wgan.straight_through_bernoulli(l, key(), t)))(logits)
    g_relaxed = jax.grad(lambda l: jnp.sum(w * jax.nn.sigmoid((l + noise) / t)))(logits)
    np.testing.assert_allclose(g, g_relaxed, rtol=1e-5, atol=1e-7)
  d_t1 = wgan.straight_through_bernoulli(logits, key(), 1.0)
  np.testing.assert_array_equal(d, d_t1)  # the temperature shapes only the gradient


@pytest.mark.slow
def test_bernoulli_output_the_critic_and_the_ags_see_draws_from_the_same_generator(ds805):
  """model.output='bernoulli': the generator's fakes are exact 0/1 draws from the probabilities
  that 'sigmoid' shows the critic for the same key (same latents), padded like real rows; one
  step trains the generator through them; AGs are draws, not rounded probabilities."""
  x = ds805.read_split('train')
  config = load('wgan.py:test')
  info = _info(805, x)
  pyr, gen, _ = adversarial._wgan_modules(config, info)
  state = adversarial.create_state(config, info, jax.random.key(0))
  args = (gen, pyr, 805, state.g_params, state.g_stats)
  rest = (256, config.model.noise_dim, True)
  p, _ = adversarial._generate_wgan(*args, jax.random.key(7), *rest, ('sigmoid', 1.0))
  d, _ = adversarial._generate_wgan(*args, jax.random.key(7), *rest, ('bernoulli', 1.0))
  p, d = np.asarray(p, np.float64), np.asarray(d)
  assert np.all(d[:, 805:] == 0) and set(np.unique(d[:, :805])) == {0.0, 1.0}
  noise = np.asarray(jax.random.logistic(jax.random.fold_in(jax.random.key(7), 2), (256, 805)))
  pc = np.clip(p[:, :805], 1e-6, 1 - 1e-6)
  agree = d[:, :805] == (np.log(pc / (1 - pc)) + noise > 0)
  assert agree.mean() > 0.999  # float32 logits vs float64 logit(sigmoid(.)) near 0
  batch = jnp.asarray(x[:config.train.batch_size])
  grads = {}
  for out in ('sigmoid', 'bernoulli'):
    config.model.output = out
    new, m = jax.jit(adversarial.make_train_step(config, info))(state, batch, jax.random.key(1))
    assert np.isfinite(float(m['generator_grad_norm'])) and float(m['generator_grad_norm']) > 0
    grads[out] = jax.tree.leaves(new.g_params)
  assert any(bool(jnp.any(a != b)) for a, b in zip(grads['sigmoid'], grads['bernoulli']))
  sample = jax.jit(adversarial.make_sampler(config, info), static_argnums=2)
  config.model.output = 'sigmoid'
  rounded = np.asarray(jax.jit(adversarial.make_sampler(config, info), static_argnums=2)(
      state, jax.random.key(5), 256))
  drawn = np.asarray(sample(state, jax.random.key(5), 256))
  assert drawn.dtype == np.uint8 and set(np.unique(drawn)) == {0, 1}
  assert 0 < np.mean(drawn != rounded) < 0.5  # draws differ from rounding where p is not 0/1


def test_output_options_are_checked():
  config = load('wgan.py:test')
  config.model.output = 'binary'
  with pytest.raises(ConfigError, match=r"output='binary': use one of sigmoid, bernoulli"):
    adversarial.create_state(config, _info(805), jax.random.key(0))
  config.model.output = 'bernoulli'
  config.model.st_temperature = 0.0
  with pytest.raises(ConfigError, match=r'st_temperature=0.0: must be > 0'):
    adversarial.create_state(config, _info(805), jax.random.key(0))


def test_mixed_matmul_values_and_derivatives_to_second_order(ds805):
  """wgan.matmul: 'float32' is x @ w; 'bfloat16' runs every dot of the value and of its first
  and second derivatives (the gradient penalty's double backward) on bf16 operands with f32
  accumulation, returns f32 gradients, and stays within bf16 rounding of the f32 result."""
  x = jnp.asarray(ds805.read_split('train')[:64, :300], jnp.float32).reshape(64, 20, 15)
  w = jax.random.normal(jax.random.key(0), (15, 9)) / 4
  v = jax.random.normal(jax.random.key(1), (9, 4))
  np.testing.assert_array_equal(wgan.matmul(x, w), x @ w)

  def penalty(w, dtype):  # a gradient-penalty-shaped loss: |d score / d x|^2, score through 2 dots
    score = lambda x: jnp.sum(jnp.tanh(wgan.matmul(jnp.tanh(wgan.matmul(x, w, dtype)), v, dtype)))
    return jnp.sum(jax.grad(score)(x) ** 2)

  for f in (lambda w, d: wgan.matmul(x, w, d).sum(), penalty):
    got, want = jax.value_and_grad(f)(w, 'bfloat16'), jax.value_and_grad(f)(w, 'float32')
    assert got[1].dtype == jnp.float32
    errs = [float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b)) for a, b in zip(got, want)]
    # Rounded (so bf16 did run: w is not exact in bf16), but only by about bf16's 2^-9. The
    # linear loss's gradient, x^T 1 with 0/1 haplotypes, is exact.
    assert errs[0] > 1e-6 and max(errs) < 1e-2, errs
  hlo = jax.jit(jax.grad(penalty), static_argnums=1).lower(w, 'bfloat16').as_text()
  dots = [l for l in hlo.splitlines() if 'dot_general' in l]
  assert len(dots) >= 6 and all('xbf16>' in l.split('->')[0] for l in dots), dots


def test_xla_cpu_ynnpack_off_reaches_the_compiled_program(caplog):
  """paper65k compiles its step and sampler without YNNPACK fusions (the default keeps them);
  an option this jaxlib does not know falls back to XLA's defaults with a warning."""
  assert adversarial.compiler_options(load('wgan.py:test')) is None
  options = adversarial.compiler_options(load('wgan.py:paper65k'))
  assert options == {'xla_cpu_experimental_ynn_fusion_type': ''}
  x, w = np.ones((64, 32), np.float32), np.ones((32, 16), np.float32)
  hlo = lambda **kw: jax.jit(lambda x, w: x @ w, **kw).lower(x, w).compile().as_text()
  assert 'ynn_fusion' in hlo() and 'ynn_fusion' not in hlo(compiler_options=options)
  from ag_jax import hardware  # pylint: disable=g-import-not-at-top
  assert hardware.cpu_compiler_options({'xla_cpu_no_such_option_here': 'x'}) is None
  assert 'not accepted by this jaxlib' in caplog.text


def test_compute_dtype_auto_follows_the_backend():
  config = load('wgan.py:test')
  assert config.model.compute_dtype == 'auto'
  assert adversarial.compute_dtype(config) == (
      'bfloat16' if wgan.bf16_is_fast() else 'float32')
  assert wgan.bf16_is_fast('tpu') and wgan.bf16_is_fast('gpu')
  config.model.compute_dtype = 'float32'
  assert adversarial.compute_dtype(config) == 'float32'
  config.model.compute_dtype, config.model.conv = 'auto', 'lax'
  assert adversarial.compute_dtype(config) == 'float32'
  config.model.compute_dtype = 'bfloat16'
  with pytest.raises(ConfigError, match="compute_dtype='bfloat16' needs model.conv='matmul'"):
    adversarial.create_state(config, _info(805), jax.random.key(0))


@pytest.mark.slow
def test_critic_microbatch_and_remat_leave_the_step_unchanged(ds805):
  """model.critic_microbatch (the critic loss in chunks of packed samples) and model.remat
  (the generator update rematerialised) change what is held in memory, not what is computed:
  one critic update on real haplotypes in f32 gives the same loss, penalty, gap and gradient
  norm in chunks of 2 as in one piece, and with remat the generator's loss and gradient norm
  are those without it.

  One critic update only: after it the two critics differ by whole Adam steps wherever a
  gradient is rounding noise (Adam's first step is +-lr whatever the gradient's size, e.g. the
  conv biases that InstanceNorm removes), and the model amplifies such differences (measured:
  with critic_iter=2 the second update's critic_gap differed by 0.25%)."""
  x = ds805.read_split('train')
  info = _info(805, x)

  def step(micro, remat):
    config = load('wgan.py:test')
    config.model.update(compute_dtype='float32', critic_microbatch=micro, remat=remat,
                        critic_iter=1)
    config.train.batch_size = 3 * config.model.batch_size
    state = adversarial.create_state(config, info, jax.random.key(0))
    batch = jnp.asarray(x[:config.train.batch_size])
    return jax.jit(adversarial.make_train_step(config, info))(state, batch, jax.random.key(3))

  (_, plain), (_, chunked), (_, remat) = step(0, False), step(2, False), step(0, True)
  for k in ('critic_gap', 'gp', 'critic_loss', 'critic_grad_norm'):
    np.testing.assert_allclose(chunked[k], plain[k], rtol=1e-4, atol=1e-6, err_msg=k)
  for k in ('generator_loss', 'generator_grad_norm', 'critic_grad_norm'):
    np.testing.assert_allclose(remat[k], plain[k], rtol=1e-4, atol=1e-6, err_msg=k)
  assert float(plain['gp']) > 0 and float(plain['generator_grad_norm']) > 0


@pytest.mark.slow
def test_scanned_critic_updates_are_the_unrolled_ones(ds805):
  """model.unroll_critic changes how the critic updates compile (one lax.scan body, or every
  update inlined), not what they compute: two steps of two critic updates each on real
  haplotypes give the same metrics at each step and the same weights and optimizer state,
  except the critic's convolution biases: InstanceNorm removes them, so their gradient is rounding noise, which
  Adam turns into +-lr steps that differ between any two compilations."""
  x = ds805.read_split('train')
  info = _info(805, x)

  def run(unroll):
    config = load('wgan.py:test')
    config.model.update(compute_dtype='float32', unroll_critic=unroll)
    state = adversarial.create_state(config, info, jax.random.key(0))
    step = jax.jit(adversarial.make_train_step(config, info))
    metrics = []
    for i in range(2):
      batch = jnp.asarray(x[i * config.train.batch_size:(i + 1) * config.train.batch_size])
      state, m = step(state, batch, jax.random.key(3 + i))
      metrics.append(m)
    return state, metrics

  (scanned, m_scan), (unrolled, m_unroll) = run(False), run(True)
  for i, (a, b) in enumerate(zip(m_scan, m_unroll)):
    for k in a:
      # Step 0 measured within 3e-6; step 1 starts from critics that differ by Adam's noise
      # steps on those biases (measured 2.1e-5 on critic_grad_norm).
      np.testing.assert_allclose(a[k], b[k], rtol=1e-5 if i == 0 else 1e-4, err_msg=f'step {i}: {k}')
  compared = 0
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(scanned), jax.tree.leaves(unrolled)):
    name = jax.tree_util.keystr(path)
    if name.startswith(('.c_params', '.c_opt')) and 'Conv' in name and 'bias' in name:
      continue  # the biases and their Adam moments
    # Within 1e-2 of the leaf's largest value plus a tenth of one Adam step of 5e-4: Adam
    # turns near-zero gradients' rounding into up to a twentieth of a step (measured 2.4e-5, a
    # generator BatchNorm bias, after the convs' hand-written backward changed the rounding); a
    # scan computing otherwise differs by steps. Adam's moments follow gradients that differ
    # by up to 0.2% after that (measured).
    atol = 1e-2 * float(jnp.abs(b).max()) + 0.1 * 5e-4
    np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=name)
    compared += 1
  assert compared > 100 and int(scanned.step) == 2 and float(m_scan[1]['gp']) > 0


def test_compilation_cache_is_reused_by_a_second_process(tmp_path):
  """ag_jax.compilation_cache.enable(): the first process writes the compiled program under
  $AG_JAX_CACHE/xla, the second loads it (a cache hit, no miss) and computes the same."""
  script = (
      'import jax, jax.numpy as jnp\n'
      'from ag_jax import compilation_cache\n'
      'events = []\n'
      'jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))\n'
      'print(compilation_cache.enable(min_compile_time_secs=0))\n'
      'print(float(jax.jit(lambda x: jnp.sin(x) * 3 + 1)(jnp.float32(2.0))))\n'
      "print(sum('cache_hits' in e for e in events), sum('cache_misses' in e for e in events))\n")
  env = {k: v for k, v in os.environ.items() if k != 'JAX_COMPILATION_CACHE_DIR'}
  env['AG_JAX_CACHE'] = str(tmp_path)
  runs = [subprocess.run([sys.executable, '-c', script], env=env, cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split('\n') for _ in range(2)]
  assert runs[0][0] == runs[1][0] == str(tmp_path / 'xla')
  assert runs[0][1] == runs[1][1]
  first, second = [tuple(map(int, r[2].split())) for r in runs]
  assert first[0] == 0 and first[1] >= 1  # compiled and written
  assert second[0] >= 1 and second[1] == 0  # loaded, nothing compiled
  assert any((tmp_path / 'xla').iterdir())


@pytest.mark.slow
def test_bf16_path_differs_from_f32_no_more_than_a_bf16_sized_weight_change(ds805):
  """model.compute_dtype='bfloat16' on real haplotypes (805 SNPs, c = 2, 8 packed samples):
  generated haplotypes, critic scores, the gradient penalty's input gradient and the critic /
  generator gradients move from the f32 values by about as much as the f32 model's own move
  when every parameter is scaled by 1 +- 2^-9 (bf16's rounding). The model is that sensitive
  at its initial weights (gradients move 60-80%); measured 2026-12-06: bf16 / perturbed
  relative errors fake 0.0019 / 0.0020, critic 0.071 / 0.057, penalty gradient 0.65 / 0.59,
  critic gradient 0.76 / 0.75, generator gradient 0.80 / 0.77 (docs/perf_wgan.md)."""
  pyr = wgan.pyramid_for(805)
  x = np.pad(ds805.read_split('train')[:24].astype(np.float32), ((0, 0), (0, pyr.length - 805)))
  real = jnp.transpose(jnp.asarray(x).reshape(3, 8, -1), (1, 2, 0))
  z, noise = adversarial._latents(pyr, jax.random.key(2), 24, 2)  # pylint: disable=protected-access

  def run(dtype, perturb):
    gen, critic = wgan.Generator(pyr, 2, compute_dtype=dtype), wgan.Critic(pyr, 2, compute_dtype=dtype)
    gv = gen.init(jax.random.key(0), z, noise, train=False)
    cv = critic.init(jax.random.key(1), real)
    if perturb:
      def scale(tree, seed):
        leaves, treedef = jax.tree.flatten(tree)
        keys = jax.random.split(jax.random.key(seed), len(leaves))
        return treedef.unflatten([a * (1 + 2.0 ** -9 * jax.random.rademacher(k, a.shape, a.dtype))
                                  for a, k in zip(leaves, keys)])
      gv, cv = {**gv, 'params': scale(gv['params'], 7)}, scale(cv, 8)
    fake, _ = gen.apply(gv, z, noise, train=True, mutable=['batch_stats'])
    fake = jnp.transpose(fake.reshape(3, 8, -1), (1, 2, 0))

    def critic_loss(c_params):
      score = lambda y: critic.apply({'params': c_params}, y).sum()
      grads = jax.grad(score)(0.3 * real + 0.7 * fake)
      penalty = jnp.mean((jnp.sqrt(jnp.sum(grads.reshape(8, -1) ** 2, axis=1)) - 1) ** 2)
      return score(fake) - score(real) + 10 * penalty, grads

    def generator_loss(g_params):
      out, _ = gen.apply({**gv, 'params': g_params}, z, noise, train=True, mutable=['batch_stats'])
      return -critic.apply(cv, jnp.transpose(out.reshape(3, 8, -1), (1, 2, 0))).sum()

    (_, gx), gc = jax.value_and_grad(critic_loss, has_aux=True)(cv['params'])
    return fake, critic.apply(cv, real), gx, gc, jax.grad(generator_loss)(gv['params'])

  def rel(a, b):
    a, b = (jnp.concatenate([t.ravel() for t in jax.tree.leaves(u)]) for u in (a, b))
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))

  ref = jax.jit(lambda: run('float32', False))()
  bf16 = jax.jit(lambda: run('bfloat16', False))()
  moved = jax.jit(lambda: run('float32', True))()
  for name, r, b, p in zip(['fake', 'critic', 'penalty grad', 'critic grad', 'generator grad'],
                           ref, bf16, moved):
    e_bf16, e_moved = rel(b, r), rel(p, r)
    assert 0 < e_bf16 < 2 * e_moved, (name, e_bf16, e_moved)
  assert rel(bf16[0], ref[0]) < 0.01 and rel(bf16[1], ref[1]) < 0.2
