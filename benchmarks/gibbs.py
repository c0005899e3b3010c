r"""Gibbs sweep FLOP/s against the same machine's dense matmul FLOP/s, same shapes, one run.

  python benchmarks/gibbs.py                       # paper sizes + window-parallel CRBMs
  python benchmarks/gibbs.py --quick               # smaller sizes

A sweep is v -> h -> v: two matmuls [C, V] x [V, H] (4 C V H flops) plus sigmoids and
Bernoulli draws (O(C (V + H))). The reference is the two bare matmuls of the same shapes.
"""

import argparse
import sys
import pathlib

import jax
import jax.numpy as jnp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import machine, median_time  # pylint: disable=g-import-not-at-top,wrong-import-position

from ag_jax.models import rbm  # pylint: disable=g-import-not-at-top,wrong-import-position


def bench(windows: int, v: int, h: int, chains: int, sweeps: int, repeats: int):
  key = jax.random.key(0)
  w = 0.01 * jax.random.normal(key, (windows, v, h))
  params = rbm.RBMParams(w, jnp.zeros((windows, v)), jnp.zeros((windows, h)))
  x = rbm.random_visible(key, (windows, chains, v))
  run = jax.jit(jax.vmap(lambda p, x, k: rbm.run(p, x, k, sweeps), in_axes=(0, 0, None)))
  ww = w

  @jax.jit
  def matmuls(x, ww):  # the two bare matmuls of one sweep, no loop
    hh = jnp.einsum('wcv,wvh->wch', x, ww)
    return jnp.einsum('wch,wvh->wcv', hh, ww)

  flops = 4.0 * windows * chains * v * h * sweeps
  t_gibbs = median_time(run, params, x, key, repeats=repeats)
  t_mm = sweeps * median_time(matmuls, x, ww, repeats=repeats)
  return flops / t_gibbs, flops / t_mm


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--quick', action='store_true')
  ap.add_argument('--repeats', type=int, default=3)
  args = ap.parse_args()
  print(machine())
  cases = [(1, 805, 500, 500, 10), (1, 2000, 500, 500, 5), (1, 10000, 2000, 500, 2)]
  cases += [(n, 200, 100, 64, 5) for n in (16, 64, 256)]
  if args.quick:
    cases = [(1, 805, 500, 500, 10), (16, 200, 100, 64, 5)]
  print(f'{"windows":>8} {"W":>6} {"H":>5} {"chains":>6}  {"gibbs GFLOP/s":>13} {"matmul GFLOP/s":>14} {"ratio":>6}')
  for windows, v, h, c, sweeps in cases:
    g, m = bench(windows, v, h, c, sweeps, args.repeats)
    print(f'{windows:>8} {v:>6} {h:>5} {c:>6}  {g / 1e9:>13.1f} {m / 1e9:>14.1f} {g / m:>6.2f}', flush=True)


if __name__ == '__main__':
  main()
