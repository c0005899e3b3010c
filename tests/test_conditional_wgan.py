"""Population-conditional conv WGAN (docs/wgan.md, "Conditional"; issue 47): the label as
one-hot latent channels of the generator and a projection head on the critic, K = 0 adding
nothing, the conditional step and sampler, and the label errors."""

import types

from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ag_jax.config_base import ConfigError
from ag_jax.data import labels as labels_lib
from ag_jax.train import adversarial
from configs_loader import load

VOCAB = labels_lib.Vocabulary('super_population', ('AFR', 'EAS', 'EUR'), (5, 3, 2))


def _info(n=805, vocab=None):
  return types.SimpleNamespace(num_snps=n, positions=None, num_train=100,
                               allele_freq=np.full(n, 0.5, np.float32), labels=vocab)


def _config(condition='super_population'):
  config = load('wgan.py:test')
  config.data.condition = condition
  return config


def _traced_state(config, info):
  """create_state traced, not run (as tests/test_wgan.py: no op-by-op initialisation)."""
  return jax.eval_shape(lambda k: adversarial.create_state(config, info, k), jax.random.key(0))


def _shapes(tree):
  return {'/'.join(k): v.shape for k, v in traverse_util.flatten_dict(tree).items()}


def test_unconditioned_wgan_has_no_label_parameters():
  """K = 0 adds nothing: the generator's latent convolution sees noise_dim + 1 channels (the
  location channel), the critic has no embedding, and the parameter count is that of the
  model before conditioning existed (99,641 for configs/wgan.py:test at 805 SNPs). K labels
  add exactly K input channels to that convolution and, on the critic, a K x (7 x 56)
  embedding (the projection head) or with the classifier head a Dense layer from the last
  block's 7 x 56 features to K logits per packed sample (pack 3)."""
  plain = _traced_state(_config('none'), _info())
  cond = _traced_state(_config(), _info(vocab=VOCAB))
  classifier = _config()
  classifier.model.label_head = 'classifier'
  clf = _traced_state(classifier, _info(vocab=VOCAB))
  assert sum(x.size for x in jax.tree.leaves((plain.g_params, plain.c_params))) == 99641
  g0, g1 = _shapes(plain.g_params), _shapes(cond.g_params)
  c0, c1 = _shapes(plain.c_params), _shapes(cond.c_params)
  first = 'Conv_0/kernel'
  assert g0[first] == (3, 2 + 1, g0[first][2]) and g1[first] == (3, 2 + 1 + 3, g0[first][2])
  assert {k: v for k, v in g1.items() if k != first} == {k: v for k, v in g0.items() if k != first}
  assert not any('label' in k for k in c0)
  assert c1 == dict(c0, **{'label_embed/embedding': (3, 7 * 56)})
  assert _shapes(clf.c_params) == dict(c0, **{'label_logits/kernel': (7 * 56, 3 * 3),
                                              'label_logits/bias': (9,)})
  assert _shapes(clf.g_params) == g1
  assert _shapes(cond.g_ema) == g1 and _shapes(cond.g_stats) == _shapes(plain.g_stats)


@pytest.mark.slow  # traces the whole step: ~10 s the fast suite has no margin for
@pytest.mark.parametrize('head', ['classifier', 'projection'])
def test_conditional_step_and_sampler_shapes(head):
  """The step takes labelled batches [rows, K + SNPs] and keeps the state's shapes; the
  sampler gives one AG per label."""
  config, info = _config(), _info(vocab=VOCAB)
  config.model.label_head = head
  state = _traced_state(config, info)
  batch = jax.ShapeDtypeStruct((config.train.batch_size, 3 + 805), jnp.uint8)
  new, metrics = jax.eval_shape(adversarial.make_train_step(config, info), state, batch,
                                jax.random.key(1))
  assert jax.tree.map(lambda a: a.shape, new) == jax.tree.map(lambda a: a.shape, state)
  assert metrics['critic_loss'].shape == ()
  assert ('label_accuracy_fake' in metrics) == (head == 'classifier')
  sampler = adversarial.make_sampler(config, info)
  ags = jax.eval_shape(lambda s, k, y: sampler(s, k, 6, y), state, jax.random.key(2),
                       jnp.zeros(6, jnp.int32))
  assert ags.shape == (6, 805) and ags.dtype == jnp.uint8


def test_label_errors():
  """A conditional WGAN without labels, labels for an unconditioned one: one LabelError each;
  a conditioned config whose data info has no labels, and a conditioned FC GAN: ConfigError."""
  config, info = _config(), _info(vocab=VOCAB)
  state = _traced_state(config, info)
  sampler = adversarial.make_sampler(config, info)
  with pytest.raises(labels_lib.LabelError, match='conditional WGAN draws AGs of given labels'):
    jax.eval_shape(lambda s, k: sampler(s, k, 6), state, jax.random.key(2))
  plain_config, plain_info = _config('none'), _info()
  plain = _traced_state(plain_config, plain_info)
  plain_sampler = adversarial.make_sampler(plain_config, plain_info)
  with pytest.raises(labels_lib.LabelError, match='trained without labels'):
    jax.eval_shape(lambda s, k, y: plain_sampler(s, k, 6, y), plain, jax.random.key(2),
                   jnp.zeros(6, jnp.int32))
  with pytest.raises(ConfigError, match='config.data.condition=super_population: no labels'):
    _traced_state(config, _info())
  gan = load('gan.py:test')
  gan.data.condition = 'super_population'
  with pytest.raises(ConfigError, match='the gan model cannot be conditioned'):
    adversarial.check_config(gan)



@pytest.mark.slow  # ~30 s: compiles the state's initialisation and a conditional sampler
def test_an_ags_label_not_its_batch_sets_it():
  """A conditional sampler normalises by the statistics of a reference batch in the training
  proportions, so an AG is the same whether the rest of its batch has its label or others.
  (With each batch's own statistics a one-label batch lost its label's mean in every
  BatchNorm: per-label AF r 0.08 instead of 0.62 for AFR, docs/wgan.md.)"""
  config, info = _config(), _info(n=63, vocab=VOCAB)
  state = jax.jit(lambda k: adversarial.create_state(config, info, k))(jax.random.key(0))
  sampler = jax.jit(adversarial.make_sampler(config, info), static_argnums=2)
  num = 12
  alone = np.asarray(sampler(state, jax.random.key(3), num, jnp.zeros(num, jnp.int32)))
  mixed_labels = jnp.asarray(np.arange(num) % 3, jnp.int32)
  mixed = np.asarray(sampler(state, jax.random.key(3), num, mixed_labels))
  zero = np.flatnonzero(np.arange(num) % 3 == 0)
  np.testing.assert_array_equal(mixed[zero], alone[zero])
  assert not np.array_equal(mixed, alone)  # the other labels did change their own AGs
