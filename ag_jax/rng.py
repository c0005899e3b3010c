"""Named random streams: every use of randomness in a run draws from its own stream.

The key of item i of stream `name` for seed s is fold_in(fold_in(key(s), STREAMS[name]), i):
training step i, the training probe at step i, generation batch i. Streams have distinct ids,
so no item of one stream is an item of another (before, the probe of step s used
fold_in(key(seed), 0x5A4 + s), which was the training key of step 0x5A4 + s).
"""

import jax

STREAMS = {'init': 0, 'train': 1, 'probe': 2, 'generate': 3}


def stream(seed: int, name: str) -> jax.Array:
  """The key of stream `name` (one of STREAMS) for `seed`."""
  return jax.random.fold_in(jax.random.key(seed), STREAMS[name])


def key(seed: int, name: str, i: int | jax.Array) -> jax.Array:
  """Item i of stream `name` for `seed`."""
  return jax.random.fold_in(stream(seed, name), i)
