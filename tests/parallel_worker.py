"""Subprocess body for tests/test_parallel.py (needs fake CPU devices set before JAX starts).

  python parallel_worker.py equivalence <model> <data>x<window> ...  -> prints max abs diffs
"""

import json
import os
import sys

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.dirname(__file__))
from configs_loader import load  # pylint: disable=g-import-not-at-top
from ag_jax import data, parallel  # pylint: disable=g-import-not-at-top
from ag_jax.train import loop  # pylint: disable=g-import-not-at-top


def run_steps(model, mesh_shape, num_steps=3):
  config = load(f'{model}.py:test')
  config.mesh.data, config.mesh.window = mesh_shape
  setup = loop.build(config)
  state = loop.init_state(setup)
  step_fn = loop.make_step_fn(setup, donate=False)
  loader = data.BatchLoader(setup.dataset, batch_size=config.train.batch_size, seed=0)
  for s in range(num_steps):
    state, _ = step_fn(state, parallel.global_batch(setup.mesh, loader.batch(s)),
                       loop.step_key(config.seed, s))
  shardings = {str(type(x.sharding).__name__) + str(x.sharding.spec) for x in jax.tree.leaves(state)
               if hasattr(x.sharding, 'spec')}
  return jax.device_get(state), sorted(shardings)


def main():
  model, meshes = sys.argv[2], sys.argv[3:]
  ref, _ = run_steps(model, (1, 1))
  out = {}
  for m in meshes:
    d, w = map(int, m.split('x'))
    got, specs = run_steps(model, (d, w))
    diffs = [float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
             for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(got))]
    scale = max(float(np.max(np.abs(np.asarray(a, np.float64)))) for a in jax.tree.leaves(ref))
    out[m] = {'max_abs_diff': max(diffs), 'scale': scale, 'specs': specs}
  print(json.dumps(out))


if __name__ == '__main__':
  main()
