r"""SNP-scaling throughput and memory of every model, from 1k SNPs to whole chromosomes.

  python benchmarks/snp_scaling.py [--models=crbm,rbm,wgan,gan]
      [--snps=1000,4000,16384,65535,262144,1000000] [--output=benchmarks/results/snp_scaling]

Each (model, SNP count) runs in a fresh subprocess (so peak RSS is its own) on synthetic 0/1
data with realistic allele frequencies (Beta(0.3, 0.3)), using the model's `bench` config with
the sizes below. After compilation it times the train step and a generation call (medians of
--repeats with block_until_ready). A case that fails to compile or run (e.g. out of memory)
or whose estimated memory exceeds --max_gib is recorded as skipped with the reason.
Writes CSV (with machine, device kind and library versions) and a log-log PNG.
"""

import argparse
import csv
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

# Per-model sizes used for scaling (the same on every SNP count).
OVERRIDES = {
    'crbm': {'model.window_size': 1000, 'model.num_hidden': 250, 'model.gibbs_steps': 10,
             'model.sample_sweeps': 10, 'train.batch_size': 64},
    'rbm': {'model.num_hidden': 250, 'model.gibbs_steps': 10, 'model.sample_sweeps': 10,
            'train.batch_size': 64},
    # max_latent 8 keeps the padding to the pyramid length <= 1.25x at these sizes (the
    # default 4 pads 16,384 and 262,144 SNPs 4x); `model_snps` in the CSV is that length.
    'wgan': {'model.channels': 4, 'model.batch_size': 4, 'model.critic_iter': 2,
             'model.max_latent': 8},
    'gan': {'train.batch_size': 32},
}


def load_config(model):
  spec = importlib.util.spec_from_file_location(f'cfg_{model}', ROOT / 'configs' / f'{model}.py')
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  c = mod.get_config('bench')
  c.unlock()
  for k, v in OVERRIDES[model].items():
    a, b = k.split('.')
    c[a][b] = v
  if model == 'wgan':
    c.train.batch_size = c.model.critic_iter * c.model.pack_m * c.model.batch_size
  return c


def run_case(model: str, snps: int, repeats: int, max_gib: float) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, str(HERE))
  from common import compiled_memory_gib, median_time, peak_rss_gib  # pylint: disable=g-import-not-at-top
  from ag_jax.train import setup  # pylint: disable=g-import-not-at-top
  config = load_config(model)
  fam = setup.family(config)
  rng = np.random.default_rng(0)
  freq = rng.beta(0.3, 0.3, snps).astype(np.float32)
  info = setup.DataInfo(snps, freq, np.arange(snps), 10000)
  b = config.train.batch_size
  batch = (rng.random((b, snps), dtype=np.float32) < freq).astype(np.uint8)
  state = jax.jit(lambda k: fam.create_state(config, info, k))(jax.random.key(0))
  t0 = time.time()
  step = jax.jit(fam.make_train_step(config, info)).lower(state, batch, jax.random.key(1)).compile()
  compile_s = time.time() - t0
  need = compiled_memory_gib(step)
  if need is not None and need > max_gib:
    return {'model': model, 'snps': snps, 'batch': b, 'compile_s': round(compile_s, 2),
            'xla_gib': need, 'status': f'skipped: step needs {need:.1f} GiB > --max_gib={max_gib}'}
  step_s = median_time(lambda: step(state, batch, jax.random.key(1)), repeats=repeats)
  gen_n = 64
  sampler = jax.jit(fam.make_sampler(config, info), static_argnums=2)
  gen_s = median_time(lambda: sampler(state, jax.random.key(2), gen_n), repeats=repeats)
  model_snps = snps
  if model == 'wgan':
    from ag_jax.models import wgan  # pylint: disable=g-import-not-at-top
    model_snps = wgan.pyramid_for(snps, config.model.max_latent).length
  return {'model': model, 'snps': snps, 'model_snps': model_snps, 'batch': b,
          'compile_s': round(compile_s, 2), 'step_s': step_s, 'train_hap_snps_per_s': b * snps / step_s,
          's_per_hap_snp': step_s / (b * snps), 'gen_haps_per_s': gen_n / gen_s,
          'xla_gib': compiled_memory_gib(step), 'peak_rss_gib': peak_rss_gib(), 'status': 'ok'}


def plot(rows, out_png):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  for model in sorted({r['model'] for r in rows}):
    ok = [r for r in rows if r['model'] == model and r['status'] == 'ok']
    if not ok:
      continue
    x = [int(r['snps']) for r in ok]
    axes[0].plot(x, [float(r['train_hap_snps_per_s']) for r in ok], 'o-', label=model)
    axes[1].plot(x, [float(r['peak_rss_gib']) for r in ok], 'o-', label=model)
  xs = sorted({int(r['snps']) for r in rows})
  for ax, title in ((axes[0], 'training throughput (haplotype x SNP / s)'),
                    (axes[1], 'peak RSS (GiB)')):
    ax.set(xscale='log', yscale='log', xlabel='SNPs', title=title)
    ax.legend()
  # Linear scaling reference: constant throughput / memory proportional to SNPs.
  ok = [r for r in rows if r['status'] == 'ok' and r['model'] == 'crbm']
  if ok:
    y0 = float(ok[0]['peak_rss_gib'])
    axes[1].plot(xs, [y0 * x / xs[0] for x in xs], 'k--', lw=0.8, label='linear')
    axes[1].legend()
  fig.tight_layout()
  fig.savefig(out_png, dpi=90)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--models', default='crbm,rbm,wgan,gan')
  ap.add_argument('--snps', default='1000,4000,16384,65535,262144,1000000')
  ap.add_argument('--output', default=str(HERE / 'results' / 'snp_scaling'))
  ap.add_argument('--repeats', type=int, default=3)
  ap.add_argument('--timeout', type=int, default=600)
  ap.add_argument('--max_gib', type=float, default=18.0,
                  help='skip a case whose compiled train step needs more memory than this')
  ap.add_argument('--case', help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.case:
    model, snps = args.case.split(':')
    print(json.dumps(run_case(model, int(snps), args.repeats, args.max_gib)))
    return
  out = pathlib.Path(args.output)
  out.mkdir(parents=True, exist_ok=True)
  sys.path.insert(0, str(HERE))
  from common import machine  # pylint: disable=g-import-not-at-top
  info = machine()
  rows = []
  t_all = time.time()
  for model in args.models.split(','):
    failed = False
    for snps in map(int, args.snps.split(',')):
      row = {'model': model, 'snps': snps}
      if failed:
        row.update(status='skipped: a smaller size already failed')
      else:
        t0 = time.time()
        try:
          r = subprocess.run([sys.executable, __file__, f'--case={model}:{snps}',
                              f'--repeats={args.repeats}', f'--max_gib={args.max_gib}'], capture_output=True, text=True,
                             timeout=args.timeout)
          if r.returncode == 0:
            row = json.loads(r.stdout.strip().splitlines()[-1])
            failed = row['status'] != 'ok'
          else:
            tail = (r.stderr.strip().splitlines() or ['?'])[-1][:150]
            row.update(status=f'failed (exit {r.returncode}): {tail}')
            failed = True
        except subprocess.TimeoutExpired:
          row.update(status=f'skipped: over {args.timeout}s')
          failed = True
        row['wall_s'] = round(time.time() - t0, 1)
      row.update(info)
      rows.append(row)
      print(json.dumps({k: (f'{v:.4g}' if isinstance(v, float) else v) for k, v in row.items()
                        if k not in info}), flush=True)
  keys = list(dict.fromkeys(k for r in rows for k in r))
  with open(out / 'snp_scaling.csv', 'w', newline='') as f:
    w = csv.DictWriter(f, keys)
    w.writeheader()
    w.writerows(rows)
  plot(rows, out / 'snp_scaling.png')
  print(f'wrote {out}/snp_scaling.csv and .png in {time.time() - t_all:.0f}s')


if __name__ == '__main__':
  main()
