r"""Gibbs sweep rate against its own bare matmuls, same shapes, same precision, one run.

  python benchmarks/gibbs.py                        # default CRBM, harness shapes, small windows
  python benchmarks/gibbs.py --quick                # default CRBM and 805 x 500 only
  python benchmarks/gibbs.py --precision=float32,bfloat16_split   # several precisions
  taskset -c 1 python benchmarks/gibbs.py --quick --clock=cpu   # one core, CPU time

A sweep is v -> h -> v': two matmuls [C, V] x [V, H] (4 C V H flops, counted once whatever the
number of bf16 passes) plus the draws: hidden units (Bernoulli or truncated-normal ReLU) and
Bernoulli visibles. `matmul` is the sweep's two matmuls alone in the same precision
(`rbm._matmul`, the same passes and operand flags), so `ratio` = sweep rate / matmul rate says
what the draws cost on top. Breakdown (each timed alone on the sweep's shapes): `bits` the
random words (C (V + H) of them), `draws` both draws from given pre-activations (bits and
transcendental functions: sigmoid / exp, erfc, the normal quantile). Each row's timings are
interleaved, round by round; the figures are medians over rounds, and `(min)` is the ratio of
the fastest rounds (steadier on a shared machine, where other jobs only add time).
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import machine  # pylint: disable=g-import-not-at-top,wrong-import-position

from ag_jax import hardware  # pylint: disable=g-import-not-at-top,wrong-import-position
from ag_jax.models import rbm  # pylint: disable=g-import-not-at-top,wrong-import-position


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def interleaved(fns: dict, rounds: int, clock=time.perf_counter) -> tuple[dict, dict]:
  """{name: (fn, args)} -> ({name: median seconds}, {name: min seconds}), one untimed call each."""
  for fn, args in fns.values():
    jax.block_until_ready(fn(*args))
  times = {name: [] for name in fns}
  for _ in range(rounds):
    for name, (fn, args) in fns.items():
      t0 = clock()
      jax.block_until_ready(fn(*args))
      times[name].append(clock() - t0)
  return ({name: statistics.median(t) for name, t in times.items()},
          {name: min(t) for name, t in times.items()})


def bench(windows: int, v: int, h: int, chains: int, sweeps: int, hidden: str, precision: str,
          rounds: int, clock=time.perf_counter) -> dict:
  key = jax.random.key(0)
  kw, kx, km = jax.random.split(key, 3)
  w = 0.05 * jax.random.normal(kw, (windows, v, h))
  params = rbm.RBMParams(w, jnp.zeros((windows, v)), jnp.zeros((windows, h)))
  x = rbm.random_visible(kx, (windows, chains, v), 0.3)
  mu_h = 2.0 * jax.random.normal(km, (windows, chains, h))
  mu_v = 2.0 * jax.random.normal(km, (windows, chains, v))
  binary_h = hidden == 'bernoulli'
  run = jax.jit(jax.vmap(lambda p, x, k: rbm.run(p, x, k, sweeps, dtype=precision,
                                                 hidden=hidden), in_axes=(0, 0, None)))

  @jax.jit
  def matmuls(x, w):  # the sweep's two matmuls, no draws; one sweep
    hh = rbm._matmul(x, w, precision, binary_a=True)  # pylint: disable=protected-access
    hh = (hh > 0).astype(jnp.float32) if binary_h else jnp.maximum(hh, 0.0)
    return rbm._matmul(hh, jnp.swapaxes(w, 1, 2), precision, binary_a=binary_h)  # pylint: disable=protected-access

  @jax.jit
  def draws(k, mu_h, mu_v):  # the sweep's two draws from given pre-activations
    kh, kv = jax.random.split(k)
    return rbm.sample_hidden(kh, mu_h, hidden), rbm.bernoulli_logits(kv, mu_v)

  bits = jax.jit(lambda k: rbm.random_bits(k, (windows, chains, v + h)))
  t, t_min = interleaved({'sweep': (run, (params, x, key)), 'matmul': (matmuls, (x, w)),
                   'draws': (draws, (key, mu_h, mu_v)), 'bits': (bits, (key,))}, rounds, clock)
  flops = 4.0 * windows * chains * v * h
  return {'sweep_ms': 1e3 * t['sweep'] / sweeps, 'matmul_ms': 1e3 * t['matmul'],
          'draws_ms': 1e3 * t['draws'], 'bits_ms': 1e3 * t['bits'],
          'sweep_gflops': flops / (t['sweep'] / sweeps) / 1e9,
          'matmul_gflops': flops / t['matmul'] / 1e9,
          'ratio_min': t_min['matmul'] / (t_min['sweep'] / sweeps)}


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--quick', action='store_true')
  ap.add_argument('--rounds', type=int, default=7)
  ap.add_argument('--clock', choices=tuple(CLOCKS), default='wall',
                  help='cpu: process CPU time (all threads), steadier beside other jobs')
  ap.add_argument('--precision', default='auto',
                  help='comma-separated: auto, ' + ', '.join(rbm.MATMUL_PRECISIONS))
  args = ap.parse_args()
  precisions = []
  for p in args.precision.split(','):
    try:
      precisions.append(rbm.matmul_precision(p.strip()))
    except ValueError as e:
      print(f'error: --precision: {e}', file=sys.stderr)
      sys.exit(1)
  try:
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                            text=True, check=False).stdout.strip()
  except OSError:
    commit = '?'
  print({**machine(), 'commit': commit, 'bf16_fast': hardware.bf16_is_fast(),
         'auto': rbm.auto_matmul_precision(), 'clock': args.clock})
  # (windows, V, H, chains, sweeps): the default CRBM (805 SNPs, window 400), the harness's
  # 805 x 500 and 10,000 x 2,000 shapes, small windows.
  cases = [(4, 400, 256, 256, 10), (1, 805, 500, 500, 10)]
  if not args.quick:
    cases += [(1, 10000, 2000, 500, 2), (64, 200, 100, 64, 5)]
  print(f'{"hidden":>9} {"precision":>14} {"win":>4} {"V":>6} {"H":>5} {"C":>4}  {"sweep ms":>9}'
        f' {"matmul ms":>9} {"draws ms":>8} {"bits ms":>7}  {"sweep GF/s":>10} {"matmul GF/s":>11}'
        f' {"ratio":>5} {"(min)":>5}')
  for windows, v, h, c, sweeps in cases:
    for precision in precisions:
      for hidden in rbm.HIDDEN_TYPES:
        r = bench(windows, v, h, c, sweeps, hidden, precision, args.rounds, CLOCKS[args.clock])
        print(f'{hidden:>9} {precision:>14} {windows:>4} {v:>6} {h:>5} {c:>4}  '
              f'{r["sweep_ms"]:>9.2f} {r["matmul_ms"]:>9.2f} {r["draws_ms"]:>8.2f} '
              f'{r["bits_ms"]:>7.2f}  {r["sweep_gflops"]:>10.1f} {r["matmul_gflops"]:>11.1f} '
              f'{r["sweep_gflops"] / r["matmul_gflops"]:>5.2f} {r["ratio_min"]:>5.2f}', flush=True)


if __name__ == '__main__':
  main()
