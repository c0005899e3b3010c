"""Named random streams (ag_jax.rng): no key of one stream is a key of another."""

import jax
import numpy as np
import pytest

from ag_jax import rng
from ag_jax.train import loop


def _keys(seed: int, name: str, n: int) -> set[tuple[int, ...]]:
  data = jax.vmap(lambda i: jax.random.key_data(rng.key(seed, name, i)))(np.arange(n))
  return {tuple(row) for row in np.asarray(data).tolist()}


def test_stream_ids_are_distinct():
  assert len(set(rng.STREAMS.values())) == len(rng.STREAMS)


@pytest.mark.parametrize('seed', [0, 1])
def test_no_two_streams_share_a_key(seed):
  n = 3000  # past 0x5A4 = 1,444: the probe key of step s was the train key of step 0x5A4 + s
  per_stream = {name: _keys(seed, name, n) for name in rng.STREAMS}
  heads = {tuple(np.asarray(jax.random.key_data(rng.stream(seed, name))).tolist())
           for name in rng.STREAMS}
  everything = set().union(*per_stream.values())
  assert all(len(k) == n for k in per_stream.values())
  assert len(everything) == n * len(rng.STREAMS)  # fails if two streams share any key
  assert not heads & everything and len(heads) == len(rng.STREAMS)


def test_training_steps_use_the_train_stream():
  a = jax.random.key_data(loop.step_key(0, 1444))
  assert np.array_equal(a, jax.random.key_data(rng.key(0, 'train', 1444)))
  assert not np.array_equal(a, jax.random.key_data(rng.key(0, 'probe', 0)))
