"""Subprocess body for tests/test_parallel.py (needs fake CPU devices set before JAX starts).

  python parallel_worker.py equivalence <model>[+allele_sd] <data>x<window> ...
      -> prints, per mesh, the largest parameter difference relative to what the steps changed

`crbm+allele_sd` runs the CRBM with model.precondition='allele_sd' (per-SNP gradient factors,
a [windows, W] constant that must be split like the window parameters); its output also
carries the single-device difference from the plain CRBM, so the factor provably acts.
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
from ag_jax.train import loop, setup as train_setup  # pylint: disable=g-import-not-at-top


def run_steps(model, mesh_shape, num_steps=3):
  model, _, precondition = model.partition('+')
  config = load(f'{model}.py:test')
  if precondition:
    config.model.precondition = precondition
  config.mesh.data, config.mesh.window = mesh_shape
  setup = train_setup.build(config)
  state = train_setup.init_state(setup)
  init = jax.device_get(state)
  step_fn = train_setup.make_step_fn(setup, donate=False)
  loader = data.BatchLoader(setup.dataset, batch_size=config.train.batch_size, seed=0)
  for s in range(num_steps):
    state, _ = step_fn(state, parallel.global_batch(setup.mesh, loader.batch(s)),
                       loop.step_key(config.seed, s))
  shardings = {str(type(x.sharding).__name__) + str(x.sharding.spec) for x in jax.tree.leaves(state)
               if hasattr(x.sharding, 'spec')}
  return init, jax.device_get(state), sorted(shardings)


def _f64(state):
  return [np.asarray(x, np.float64) for x in jax.tree.leaves(state)]


def relative_diff(got, ref, init):
  """Max over leaves of max|got - ref| / max|ref - init|: differences measured against what
  the steps changed, so a 1e-6 weight update is checked as strictly as a 10-unit bias (a leaf
  the steps left unchanged must stay unchanged: its difference counts against 1e-12)."""
  return max(float(np.max(np.abs(g - r)) / max(float(np.max(np.abs(r - i))), 1e-12))
             for g, r, i in zip(_f64(got), _f64(ref), _f64(init)))


def main():
  model, meshes = sys.argv[2], sys.argv[3:]
  init, ref, _ = run_steps(model, (1, 1))
  out = {}
  for m in meshes:
    d, w = map(int, m.split('x'))
    _, got, specs = run_steps(model, (d, w))
    out[m] = {'max_rel_diff': relative_diff(got, ref, init), 'specs': specs}
  if '+' in model:  # the per-SNP factors changed the steps, not only matched them
    _, plain, _ = run_steps(model.partition('+')[0], (1, 1))
    out['vs_plain'] = relative_diff(ref, plain, init)
  print(json.dumps(out))


if __name__ == '__main__':
  main()
