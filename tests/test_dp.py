"""DP-SGD for the RBM/CRBM (ag_jax/train/dp.py): the clipping bounds each haplotype's share of
an update, the noise has the stated scale, the step without noise or clipping is the plain
one, the accountant's epsilon sits between the Gaussian mechanism's exact value and the RDP
bound, and settings that would let a haplotype in some other way are refused."""

import functools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

from ag_jax.config_base import ConfigError
from ag_jax.models import rbm
from ag_jax.train import dp
from ag_jax.train import rbm as rbm_family
from ag_jax.train.setup import DataInfo
from test_rbm import _Cfg

PRIVATE = dict(persistent=False, centred=False, hidden='relu', restart_init='freq')


def _windows(ds805, n_w=3, b=8, v=60, h=8, seed=0):
  x = ds805.read_split('train')[:b, :n_w * v].astype(np.float32)
  v_pos = jnp.asarray(x.reshape(b, n_w, v).transpose(1, 0, 2))
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  v_neg = rbm.random_visible(k1, v_pos.shape, 0.3)
  params = rbm.RBMParams(w=0.3 * jax.random.normal(k2, (n_w, v, h)),
                         vb=jnp.zeros((n_w, v)), hb=0.1 * jax.random.normal(k3, (n_w, h)))
  return params, v_pos, v_neg


@functools.partial(jax.jit, static_argnames=('clip', 'noise', 'key'))
def _summed(params, v_pos, v_neg, clip, noise=0.0, key=0):
  g = dp.private_gradient(params, v_pos, v_neg, jax.random.key(key), clip=clip, noise=noise,
                          l2=0.0, hidden='relu', dtype='float32')
  return jax.tree.map(lambda a: a * v_pos.shape[1], g)  # the sum over rows


def _flat(tree):
  return np.concatenate([np.ravel(a) for a in jax.tree.leaves(tree)])


@pytest.mark.slow  # ~15 s: one summed update per left-out haplotype
def test_each_haplotype_moves_the_summed_update_by_at_most_the_clip(ds805):
  params, v_pos, v_neg = _windows(ds805)
  clip = 2.0
  full = _flat(_summed(params, v_pos, v_neg, clip))
  hid = lambda v: rbm.hidden_mean(jax.vmap(lambda p, x: rbm.hidden_logits(p, x))(params, v),
                                  'relu')
  h_pos, h_neg = hid(v_pos), hid(v_neg)
  for b in range(v_pos.shape[1]):
    drop = lambda a: jnp.delete(a, b, axis=1)
    without = _flat(_summed(params, drop(v_pos), drop(v_neg), clip))
    # Row b's unclipped gradient over all windows, written out.
    row = np.concatenate([
        np.ravel(jnp.einsum('wv,wh->wvh', v_pos[:, b], h_pos[:, b])
                 - jnp.einsum('wv,wh->wvh', v_neg[:, b], h_neg[:, b])),
        np.ravel(v_pos[:, b] - v_neg[:, b]), np.ravel(h_pos[:, b] - h_neg[:, b])])
    raw = np.linalg.norm(row)
    np.testing.assert_allclose(np.sqrt(jnp.sum(jax.vmap(dp.sq_norms)(
        v_pos[:, b:b + 1], h_pos[:, b:b + 1], v_neg[:, b:b + 1], h_neg[:, b:b + 1]))), raw,
                               rtol=1e-4)
    assert raw > clip  # so the clip acts on every row here
    np.testing.assert_allclose(np.linalg.norm(full - without), clip, rtol=1e-4)


def test_noise_has_the_stated_scale_and_no_clip_no_noise_is_the_plain_gradient(ds805):
  params, v_pos, v_neg = _windows(ds805)
  zero = _flat(_summed(params, v_pos, v_pos, clip=0.5, noise=3.0, key=1)) / (3.0 * 0.5)
  n = zero.size  # no signal: N(0, (noise * clip)^2) in every coordinate, 4 standard errors
  assert abs(zero.std() - 1) < 4 / np.sqrt(2 * n) and abs(zero.mean()) < 4 / np.sqrt(n)
  g = dp.private_gradient(params, v_pos, v_neg, jax.random.key(0), clip=1e9, noise=1e-16,
                          l2=0.01, hidden='relu', dtype='float32')
  plain = jax.vmap(lambda p, a, b: rbm.gradient(p, a, b, centred=False, l2=0.01,
                                                hidden='relu'))(params, v_pos, v_neg)
  np.testing.assert_allclose(_flat(g), _flat(plain), rtol=2e-4, atol=1e-6)


@pytest.mark.slow  # ~14 s: compiles the private and the plain step
def test_private_step_without_noise_or_clip_is_the_plain_step(ds805):
  """Through the family's train step (CRBM windows, the pinned halves skipped by the sweeps):
  the same chains, the same update when clipping and noise vanish."""
  x = ds805.read_split('train')[:, :350]
  info = DataInfo(350, np.full(350, 0.5, np.float32), None, len(x))  # DP starts from 0.5
  batch, key = jnp.asarray(x[:16]), jax.random.key(5)
  out = {}
  for name, extra in (('plain', {}), ('dp', dict(dp_noise=1e-16, dp_clip=1e9))):
    cfg = _Cfg(**PRIVATE, l2=1e-3, **extra)
    state = rbm_family.create_state(cfg, info, jax.random.key(0))
    out[name], _ = jax.jit(rbm_family.make_train_step(cfg, info))(state, batch, key)
  np.testing.assert_array_equal(out['plain'].chains, out['dp'].chains)
  np.testing.assert_allclose(_flat(out['dp'].params), _flat(out['plain'].params), rtol=1e-4,
                             atol=1e-6)
  # With DP on, the model never starts from the training allele frequencies.
  real = DataInfo(350, x.mean(0).astype(np.float32), None, len(x))
  cfg = _Cfg(**PRIVATE, dp_noise=1.0)
  assert np.all(rbm_family.create_state(cfg, real, jax.random.key(0)).params.vb == 0)
  np.testing.assert_array_equal(rbm_family.restart_probabilities(
      cfg, real, rbm_family.layout(cfg, real)), 0.5)


@pytest.mark.parametrize('field, value, match', [
    ('persistent', True, 'persistent=True'),
    ('centred', True, 'centred=True'),
    ('precondition', 'allele_sd', 'precondition'),
    ('dp_clip', 0.0, 'dp_clip=0.0'),
])
def test_settings_that_leak_past_the_clip_are_refused(field, value, match, ds805):
  info = DataInfo(350, np.full(350, 0.5, np.float32), None, 100)
  cfg = _Cfg(**{**PRIVATE, 'dp_noise': 1.0, field: value})
  with pytest.raises(ConfigError, match=match):
    rbm_family.create_state(cfg, info, jax.random.key(0))
  with pytest.raises(ConfigError, match='dp_noise=-1.0'):
    rbm_family.create_state(_Cfg(**PRIVATE, dp_noise=-1.0), info, jax.random.key(0))
  labelled = _Cfg(**PRIVATE, dp_noise=1.0)
  labelled.data.condition = 'super_population'
  with pytest.raises(ConfigError, match='condition=.super_population.*labels.json'):
    rbm_family.check_config(labelled)


def test_epsilon_lies_between_the_exact_gaussian_mechanism_and_the_rdp_bound():
  sigma, delta = 1.0, 1e-5
  # One update over all data is the Gaussian mechanism: its exact epsilon (Balle & Wang 2018)
  # is a lower bound, RDP with the classic conversion an upper one.
  exact_delta = lambda e: (stats.norm.cdf(-e * sigma + 1 / (2 * sigma))
                           - math.exp(e) * stats.norm.cdf(-e * sigma - 1 / (2 * sigma)))
  exact = optimize.brentq(lambda e: exact_delta(e) - delta, 1e-3, 50)
  classic = min(a / (2 * sigma ** 2) + math.log(1 / delta) / (a - 1) for a in range(2, 257))
  eps, d = dp.epsilon(sigma, batch_size=100, num_train=100, steps=1, delta=delta)
  assert d == delta and exact <= eps <= classic, (exact, eps, classic)
  # Less noise, more updates, larger batches: more epsilon.
  base = dp.epsilon(1.0, 64, 400, 600)[0]
  assert dp.epsilon(2.0, 64, 400, 600)[0] < base < dp.epsilon(1.0, 64, 400, 1200)[0]
  assert base < dp.epsilon(1.0, 128, 400, 600)[0]
  assert dp.epsilon(1.0, 64, 400, 600)[1] == 1e-5 and dp.delta_for(10**6) == 1e-7
  assert dp.epsilon(1.0, 64, 400, 600, per_person=True)[0] > base  # two haplotypes a person


@pytest.mark.slow  # the step test above covers the train step; this adds the loop and the log
def test_private_crbm_trains_end_to_end_and_logs_its_epsilon(tmp_path, caplog):
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.model.update(PRIVATE, dp_noise=1.0, dp_clip=1.0)
  with caplog.at_level('INFO', logger='ag_jax'):
    train.run(config, tmp_path)
  assert 'DP-SGD: noise multiplier 1, clip 1, batches of 32' in caplog.text
  assert 'per haplotype' in caplog.text and 'per person' in caplog.text
  rows = [json.loads(l) for l in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert rows and all(np.isfinite(r['reconstruction_error']) for r in rows
                      if 'reconstruction_error' in r)
  assert json.loads((tmp_path / 'config.json').read_text())['model']['dp_noise'] == 1.0
