r"""Reproduce one row of the README's results table: train, draw AGs, evaluate, summarise.

  python experiments/reproduce.py crbm_805                 # the default CRBM, training seed 0
  python experiments/reproduce.py crbm_805 --train_seed=1  # another training seed
  python experiments/reproduce.py wgan_agbl4 --draws=2     # fewer AG draws
  python experiments/reproduce.py crbm_805 --set=train.num_steps=100 --draws=1 --num_samples=1000
  python experiments/reproduce.py crbm_805_super   # conditional: 1,000 AGs of each of 5 labels
  python experiments/reproduce.py --list

Each step is the user-facing command (experiments/train.py, generate.py, evaluate.py,
summarize.py), run as a subprocess and echoed. A finished training run in the workdir is reused
(train.py resumes it and stops at once). The output directory (default results/<row>[_s<seed>])
gets metrics.json, table.md, summary.md, report.html and plots from evaluate.py, and
provenance.json: the row, this command, every step's command, the trained config, the ag_jax
version, the git commit (and whether the tree was dirty), jax/python versions, the machine and
the wall time of each step.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PUBLISHED = ['ag_jax/datasets/published_805/805_SNP_GAN_AG_20000epochs.hapt.zip',
             'ag_jax/datasets/published_805/805_SNP_RBM_AG_800Epochs.hapt.zip']

# row -> (config, real dataset, extra --synthetic sets evaluated beside the draws[, train.py
# overrides]). A conditioned row draws every label of the model in equal numbers.
ROWS = {
    'crbm_805': ('configs/crbm.py', '1000g_805', PUBLISHED),
    'wgan_805': ('configs/wgan.py', '1000g_805', []),
    'rbm_805': ('configs/rbm.py', '1000g_805', []),
    'gan_805': ('configs/gan.py', '1000g_805', []),
    'crbm_agbl4': ('configs/crbm.py:1000g_agbl4', '1000g_agbl4', []),
    'wgan_agbl4': ('configs/wgan.py:1000g_agbl4', '1000g_agbl4', []),
    'rbm_agbl4': ('configs/rbm.py:1000g_agbl4', '1000g_agbl4', []),
    'crbm_805_super': ('configs/crbm.py', '1000g_805', [], ['data.condition=super_population']),
    'crbm_805_population': ('configs/crbm.py', '1000g_805', [], ['data.condition=population']),
    'wgan_805_super': ('configs/wgan.py', '1000g_805', [], ['data.condition=super_population']),
}


def git(*args: str) -> str:
  try:
    return subprocess.run(['git', '-C', str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return ''


def cpu_model() -> str:
  try:
    for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
      if line.startswith('model name'):
        return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.machine()


def now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def source_changed(output: pathlib.Path) -> bool:
  """Whether tracked files differ from the commit, the results this command wrote in `output`
  not counted (a tracked results directory is rewritten by the run it records)."""
  exclude = []
  if output.resolve().is_relative_to(ROOT):
    exclude = [f':(exclude){output.resolve().relative_to(ROOT)}']
  return bool(git('status', '--porcelain', '--untracked-files=no', '--', '.', *exclude))


def write_provenance(output: pathlib.Path, steps: list[dict], started: str, **fields) -> None:
  """output/provenance.json: this command, `fields`, every step's command and time, the ag_jax
  version and git commit (and whether the tree was dirty), jax/python versions, the machine;
  written to a temporary file, then renamed."""
  import jax  # pylint: disable=g-import-not-at-top
  import ag_jax  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  provenance = {
      'command': shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]), **fields,
      'steps': steps, 'ag_jax_version': ag_jax.__version__,
      'git_commit': git('rev-parse', 'HEAD'),
      'git_dirty': source_changed(output),
      'jax_version': jax.__version__, 'python': platform.python_version(),
      'machine': {'cpu': cpu_model(), 'cores': os.cpu_count(),
                  'devices': [str(d) for d in jax.devices()]},
      'started': started, 'finished': now()}
  writers.write_text(output / 'provenance.json', json.dumps(provenance, indent=1) + '\n')


def _count_flags(workdir: pathlib.Path, num: int) -> list[str]:
  """generate.py's count: `num` AGs, or for a conditional model (workdir/labels.json) num // K
  of each of its K labels."""
  vocab = workdir / 'labels.json'
  if not vocab.exists():
    return [f'--num_samples={num}']
  names = json.loads(vocab.read_text())['names']
  return [f'--populations={",".join(f"{k}:{max(num // len(names), 1)}" for k in names)}']


def run(cmd: list[str], steps: list[dict]) -> None:
  print('+', shlex.join(cmd), flush=True)
  t0 = time.time()
  rc = subprocess.run(cmd, cwd=ROOT).returncode
  steps.append({'command': shlex.join(cmd), 'seconds': round(time.time() - t0, 1)})
  if rc:
    print(f'error: step failed with status {rc}: {shlex.join(cmd)}', file=sys.stderr)
    sys.exit(1)


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('row', nargs='?', choices=sorted(ROWS))
  ap.add_argument('--list', action='store_true', help='list the rows and their configs')
  ap.add_argument('--train_seed', type=int, default=0, help='config.seed of the training run')
  ap.add_argument('--draws', type=int, default=5, help='AG draws (generation seeds 0..N-1)')
  ap.add_argument('--num_samples', type=int, default=5000, help='AGs per draw')
  ap.add_argument('--set', action='append', default=[], metavar='FIELD=VALUE',
                  help='a config override passed to train.py as --config.FIELD=VALUE')
  ap.add_argument('--workdir', help='training workdir (default runs/<row>[_s<seed>])')
  ap.add_argument('--output', help='results directory (default results/<row>[_s<seed>])')
  args = ap.parse_args()
  if args.list or not args.row:
    for name, (config, real, *_) in ROWS.items():
      print(f'{name:12s} {config:32s} {real}')
    return
  for flag in ('draws', 'num_samples'):
    if getattr(args, flag) < 1:
      ap.error(f'--{flag}={getattr(args, flag)}: use 1 or more')
  config, real, extra, overrides = (*ROWS[args.row], [])[:4]
  name = args.row + (f'_s{args.train_seed}' if args.train_seed else '')
  workdir = pathlib.Path(args.workdir or ROOT / 'runs' / name).resolve()
  output = pathlib.Path(args.output or ROOT / 'results' / name).resolve()
  py = sys.executable
  steps: list[dict] = []
  started = now()

  run([py, 'experiments/train.py', f'--config={config}', f'--config.seed={args.train_seed}',
       *[f'--config.{kv}' for kv in overrides + args.set], f'--workdir={workdir}'], steps)
  draws = []
  for seed in range(args.draws):
    ags = workdir / f'ags_seed{seed}.hapt'
    count = _count_flags(workdir, args.num_samples)
    run([py, 'experiments/generate.py', f'--workdir={workdir}', *count, f'--seed={seed}',
         f'--output={ags}'], steps)
    draws.append(str(ags))
  run([py, 'experiments/evaluate.py', f'--real={real}', *[f'--synthetic={s}' for s in draws + extra],
       f'--output={output}'], steps)
  run([py, 'experiments/summarize.py', str(output)], steps)

  config_json = workdir / 'config.json'
  write_provenance(output, steps, started, row=args.row,
                   config=json.loads(config_json.read_text()) if config_json.exists() else None)
  print(f'wrote {output / "provenance.json"}')


if __name__ == '__main__':
  main()
