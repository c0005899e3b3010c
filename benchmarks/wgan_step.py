r"""WGAN-GP train-step time per haplotype and memory for 805, 16,383 and 65,535 SNPs.

  python benchmarks/wgan_step.py [--snps=805,16383,65535] [--batch=8] [--channels=10]
      [--critic_iter=10] [--compute_dtype=float32,auto] [--unroll_critic=0,1]
      [--critic_microbatch=K] [--remat=0|1] [--xla_cpu_ynnpack=0|1] [--conv=matmul,lax]
      [--cores=1,2] [--max_latent=4,16]

--compute_dtype times each `model.compute_dtype` side by side ('float32': f32 matmul
convolutions; 'auto': the default, bf16 operands with f32 accumulation on backends fast at it)
and prints the step-time ratio first / last. --unroll_critic=0,1 does the same for
`model.unroll_critic` (the critic updates as one lax.scan body, or inlined one after another).
--critic_microbatch, --remat and --xla_cpu_ynnpack default to configs/wgan.py's values; setting
one applies it to every measurement of the run.
The header names the machine, jax and the commit.

One step = critic_iter critic updates (each on batch packed samples of pack_m haplotypes)
plus one generator update, as the paper. Times are medians after compilation. Each SNP count
runs in its own process, so the peak RSS printed is that size's own.

--conv times the two forms of `model.conv`: `matmul` (the default: ag_jax.models.wgan.Conv and
ConvTranspose, one matmul each) and/or `lax` (flax.linen.Conv and ConvTranspose, the form
before 2026-12-02; same parameters and outputs), each SNP count with both side by side, and
prints the step-time ratio lax / matmul: run it on an accelerator to choose `model.conv` there.

--cores=1,2 runs each measurement once per core count, its process pinned to that many of the
CPUs this one may use (os.sched_setaffinity), one after the other in the same invocation, and
prints the step-time ratio fewest / most cores: what a second core buys on XLA:CPU.

--max_latent=4,16 times each `model.max_latent` (the generator's latent length cap; see
ag_jax.models.wgan.pyramid_for) side by side and prints the step-time ratio first / last: a
longer latent means fewer upsampling levels and can change the padded length.
"""

import argparse
import itertools
import os
import pathlib
import subprocess
import sys
import time

# A child of --cores pins itself before jax starts (XLA:CPU sizes its thread pool from this).
_PIN = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--pin=')]
if _PIN:
  os.sched_setaffinity(0, {int(c) for c in _PIN[-1].split(',')})

import jax  # pylint: disable=wrong-import-position
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import compiled_memory_gib, machine, median_time, peak_rss_gib  # pylint: disable=wrong-import-position

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / 'tests'))
from ag_jax.train import adversarial  # pylint: disable=wrong-import-position
from ag_jax.train.setup import DataInfo  # pylint: disable=wrong-import-position


def get_config(channels, batch, critic_iter, conv='matmul', max_latent=4, compute_dtype='auto',
               **overrides):
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(__file__).parent.parent / 'configs' / 'wgan.py'
  spec = importlib.util.spec_from_file_location('wgan_cfg', path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  c = mod.get_config('bench')
  c.unlock()
  c.model.channels, c.model.batch_size, c.model.critic_iter = channels, batch, critic_iter
  c.train.batch_size = critic_iter * c.model.pack_m * batch
  c.model.conv = conv
  c.model.max_latent = max_latent
  c.model.compute_dtype = compute_dtype
  c.model.ema_decay = 0.0  # as the side-by-side harness
  for k, v in overrides.items():
    if v is not None:
      c.model[k] = type(c.model[k])(v)
  return c


def _commit() -> str:
  try:
    return subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=pathlib.Path(__file__).parent,
                          check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return 'unknown'


def print_ratios(n, steps, axes, compared):
  """Step-time ratios, one axis at a time: for each axis (conv, cores, latent, dtype) whose two
  compared values were both measured, first / second at every setting of the other axes.

  steps maps (conv, cores, latent, dtype) to ms per haplotype; axes maps each axis to the values run;
  compared maps it to the pair (first, second). Settings of an axis run at one value only are
  left out of the label.
  """
  names = list(axes)
  for i, name in enumerate(names):
    first, second = compared[name]
    if first == second or first not in axes[name] or second not in axes[name]:
      continue
    for key in itertools.product(*(axes[m] for m in names if m != name)):  # in the order run
      a, b = key[:i] + (first,) + key[i:], key[:i] + (second,) + key[i:]
      if a not in steps or b not in steps:
        continue
      others = [f'{m} {"all" if v is None else v}' for m, v in zip(names[:i] + names[i + 1:], key)
                if len(axes[m]) > 1]
      label = ' '.join([f'{n:>7}', *others])
      print(f'{label}: step time {name} {"all" if first is None else first} / '
            f'{"all" if second is None else second}: {steps[a] / steps[b]:.2f}x', flush=True)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--snps', default='805,16383,65535')
  ap.add_argument('--batch', type=int, default=8)
  ap.add_argument('--channels', type=int, default=10)
  ap.add_argument('--critic_iter', type=int, default=10)
  ap.add_argument('--unroll_critic', default=None,
                  help='comma-separated 0 (scanned) / 1 (unrolled critic updates), each timed; '
                  'default: config')
  ap.add_argument('--critic_microbatch', type=int, default=None,
                  help='model.critic_microbatch (0: whole batch); default: config')
  ap.add_argument('--remat', type=int, default=None, help='model.remat 0/1; default: config')
  ap.add_argument('--xla_cpu_ynnpack', type=int, default=None,
                  help='model.xla_cpu_ynnpack 0/1; default: config')
  ap.add_argument('--compute_dtype', default='float32,auto',
                  help='comma-separated model.compute_dtype values, each timed')
  ap.add_argument('--conv', default='matmul,lax',
                  help='comma-separated: matmul (the model as written), lax (flax convolutions)')
  ap.add_argument('--cores', default='',
                  help='comma-separated core counts to pin each measurement to (default: all)')
  ap.add_argument('--max_latent', default='4',
                  help='comma-separated latent length caps (model.max_latent), each timed')
  ap.add_argument('--repeats', type=int, default=3,
                  help='timed steps after a warm-up one; 0: compile time and memory only')
  ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
  ap.add_argument('--pin', help=argparse.SUPPRESS)  # read before jax starts (top of the file)
  args = ap.parse_args()
  sizes = args.snps.split(',')
  forms = args.conv.split(',')
  dtypes = args.compute_dtype.split(',')
  if any(d not in adversarial.wgan_lib.COMPUTE_DTYPES for d in dtypes):
    ap.error(f'--compute_dtype={args.compute_dtype}: use float32, bfloat16, auto')
  if any(f not in adversarial.wgan_lib.CONV_FORMS for f in forms):
    ap.error(f'--conv={args.conv}: use matmul, lax or both')
  available = sorted(os.sched_getaffinity(0))
  try:
    cores = [int(k) for k in args.cores.split(',')] if args.cores else [None]
  except ValueError:
    ap.error(f'--cores={args.cores}: use comma-separated core counts, e.g. 1,2')
  if any(k is not None and not 1 <= k <= len(available) for k in cores):
    ap.error(f'--cores={args.cores}: this process may use {len(available)} CPUs')
  try:
    latents = [int(k) for k in args.max_latent.split(',')]
  except ValueError:
    ap.error(f'--max_latent={args.max_latent}: use comma-separated integers, e.g. 4,16')
  if any(k < 4 for k in latents):
    ap.error(f'--max_latent={args.max_latent}: each must be >= 4 (the paper\'s latent)')
  try:
    unrolls = [None] if args.unroll_critic is None else [
        bool(int(u)) for u in args.unroll_critic.split(',')]
  except ValueError:
    ap.error(f'--unroll_critic={args.unroll_critic}: use 0, 1 or 0,1')
  overrides = {'unroll_critic': unrolls[0], 'critic_microbatch': args.critic_microbatch,
               'remat': args.remat, 'xla_cpu_ynnpack': args.xla_cpu_ynnpack}
  if not args.child:
    c = get_config(args.channels, args.batch, args.critic_iter, **overrides)
    print({**machine(), 'commit': _commit()})
    print(f'channels {args.channels}, batch {args.batch} packed x 3, critic_iter {args.critic_iter}, '
          f'critic_microbatch {c.model.critic_microbatch}, '
          f'remat {c.model.remat}, xla_cpu_ynnpack {c.model.xla_cpu_ynnpack}; '
          f'compute_dtype auto = {adversarial.compute_dtype(c)} here')
    print(f'{"snps":>7} {"conv":>6} {"cores":>5} {"latent":>6} {"dtype":>8} {"unroll":>6} {"padded":>7} '
          f'{"haps/step":>9} '
          f'{"compile s":>9} {"step s":>8} {"ms/haplotype":>12} {"XLA GiB":>8} {"peak RSS GiB":>12}',
          flush=True)
    argv = [a for a in sys.argv[1:]
            if not a.startswith(('--snps', '--conv', '--cores', '--max_latent', '--compute_dtype',
                                 '--unroll_critic'))]
    for n in sizes:
      steps = {}  # (conv, cores, max_latent, dtype, unroll) -> ms per haplotype
      for form, lat, k, dt, unroll in itertools.product(forms, latents, cores, dtypes, unrolls):
        pin = [] if k is None else [f'--pin={",".join(map(str, available[:k]))}']
        flag = [] if unroll is None else [f'--unroll_critic={int(unroll)}']
        out = subprocess.run(
            [sys.executable, __file__, f'--snps={n}', f'--conv={form}', f'--max_latent={lat}',
             f'--compute_dtype={dt}', '--child', *pin, *flag, *argv],
            check=False, stdout=subprocess.PIPE, text=True).stdout
        print(out, end='', flush=True)
        fields = out.split()
        if len(fields) >= 11:
          steps[form, k, lat, dt, unroll] = float(fields[10])  # ms per haplotype: more digits
      print_ratios(n, steps, {'conv': forms, 'cores': cores, 'latent': latents, 'dtype': dtypes,
                              'unroll': unrolls},
                   {'conv': ('lax', 'matmul'), 'cores': (cores[0], cores[-1]),
                    'latent': (latents[0], latents[-1]), 'dtype': (dtypes[0], dtypes[-1]),
                    'unroll': (unrolls[0], unrolls[-1])})
    return
  for n in map(int, sizes):
    config = get_config(args.channels, args.batch, args.critic_iter, forms[0], latents[0],
                        dtypes[0], **overrides)
    info = DataInfo(n, np.full(n, 0.3, np.float32), None, 1000)
    state = jax.jit(lambda k: adversarial.create_state(config, info, k))(jax.random.key(0))
    batch = jax.random.bernoulli(jax.random.key(1), 0.3, (config.train.batch_size, n)).astype(np.uint8)
    t0 = time.time()
    step = jax.jit(adversarial.make_train_step(config, info), donate_argnums=0,
                   compiler_options=adversarial.compiler_options(config)).lower(
                       state, batch, jax.random.key(2)).compile()
    compile_s = time.time() - t0
    holder = [state]  # donated, as the training loop and the side-by-side harness do

    def call():
      holder[0], metrics = step(holder[0], batch, jax.random.key(2))
      return holder[0], metrics
    t = median_time(call, repeats=args.repeats) if args.repeats > 0 else float('nan')
    haps = config.train.batch_size
    mem = compiled_memory_gib(step)
    padded = adversarial.wgan_lib.pyramid_for(n, config.model.max_latent).length
    print(f'{n:>7} {forms[0]:>6} {len(os.sched_getaffinity(0)):>5} {latents[0]:>6} '
          f'{adversarial.compute_dtype(config):>8} {int(config.model.unroll_critic):>6} {padded:>7} '
          f'{haps:>9} {compile_s:>9.1f} '
          f'{t:>8.2f} {1000 * t / haps:>12.2f} '
          f'{mem if mem is not None else float("nan"):>8.2f} {peak_rss_gib():>12.2f}', flush=True)


if __name__ == '__main__':
  main()
