r"""Privacy with the power of the whole cohort: train once per fold, pool the held-out folds.

  python experiments/privacy_folds.py --config=configs/crbm.py --dataset=1000g_805 --folds=5 \
      --output=results/privacy_folds_crbm_805
  python experiments/privacy_folds.py --config=configs/crbm.py:test --folds=2 --num_samples=500 \
      --output=/tmp/folds --set=train.num_steps=50

The dataset's individuals (train and test pooled) are split into K seeded folds. For each fold
k, the other folds form the train split of a split view (<output>/fold<k>/data, a store that
reads the dataset's array), experiments/train.py trains the config on it
(<output>/fold<k>/run), generate.py draws --num_samples AGs and evaluate.py evaluates them
against fold k, unseen by that model (<output>/fold<k>/eval: metrics.json, report.html). The
folds' privacy loss and MIA AUC are pooled (weighted by held-out size; docs/privacy.md), so
the estimate rests on every haplotype of the cohort. <output> gets privacy.json (per fold and
pooled), summary.md and provenance.json (commands, configs, versions, machine). Finished
steps are reused: a fold's run resumes, its AGs and evaluation are kept if present.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'experiments'))
import reproduce  # pylint: disable=g-import-not-at-top,wrong-import-position


def train_and_draw(view: pathlib.Path, config: str, overrides: list[str], workdir: pathlib.Path,
                   num_samples: int, seeds: range, steps: list[dict]) -> list[pathlib.Path]:
  """Trains `config` on the split view (resuming a finished run returns at once) and writes
  one AG file per generation seed (kept if present)."""
  py = sys.executable
  # The run's own end-of-training report would evaluate once more what the caller evaluates.
  reproduce.run([py, 'experiments/train.py', f'--config={config}', f'--config.data.path={view}',
                 '--config.evaluate.at_end=False', *[f'--config.{kv}' for kv in overrides],
                 f'--workdir={workdir}'], steps)
  files = []
  for seed in seeds:
    ags = workdir / f'ags_seed{seed}.hapt'
    if not ags.exists():
      reproduce.run([py, 'experiments/generate.py', f'--workdir={workdir}',
                     f'--num_samples={num_samples}', f'--seed={seed}', f'--output={ags}'], steps)
    files.append(ags)
  return files


def run_flags(doc: str, split: str) -> argparse.ArgumentParser:
  """The flags of a study that trains a config on split views of a dataset."""
  ap = argparse.ArgumentParser(description=doc.split('\n')[0])
  ap.add_argument('--config', default='configs/crbm.py', help='a config, as train.py takes it')
  ap.add_argument('--dataset', default='1000g_805', help='bundled name or prepared directory')
  ap.add_argument('--split_seed', type=int, default=0, help=f'seed of the {split}')
  ap.add_argument('--num_samples', type=int, default=5000, help='AGs per draw')
  ap.add_argument('--set', action='append', default=[], metavar='FIELD=VALUE',
                  help='a config override passed to train.py as --config.FIELD=VALUE')
  return ap


def main() -> None:
  ap = run_flags(__doc__, 'folds')
  ap.add_argument('--folds', type=int, default=5, help='K folds (2 or more)')
  ap.add_argument('--output', required=True, help='results directory')
  args = ap.parse_args()
  if args.folds < 2:
    ap.error(f'--folds={args.folds}: use 2 or more')
  if args.num_samples < 2 or args.num_samples % 2:
    ap.error(f'--num_samples={args.num_samples}: use an even number of 2 or more')
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import privacy  # pylint: disable=g-import-not-at-top
  output = pathlib.Path(args.output).resolve()
  steps, parts, started = [], [], reproduce.now()
  for k in range(args.folds):
    fold_dir = output / f'fold{k}'
    fold_dir.mkdir(parents=True, exist_ok=True)
    try:
      view = data.open_dataset(args.dataset, folds=args.folds, fold=k,
                               split_seed=args.split_seed).write_view(fold_dir / 'data')
    except data.DataError as e:
      sys.exit(f'error: {e}')
    (ags,) = train_and_draw(view, args.config, args.set, fold_dir / 'run', args.num_samples,
                            range(1), steps)
    metrics_path = fold_dir / 'eval' / 'metrics.json'
    if not metrics_path.exists():
      reproduce.run([sys.executable, 'experiments/evaluate.py', f'--real={view}',
                     f'--synthetic={ags}', f'--output={fold_dir / "eval"}'], steps)
    metrics = json.loads(metrics_path.read_text())
    (m,) = [v for name, v in metrics.items() if name != 'real_test']
    parts.append(m)
  pooled = privacy.pool(parts)
  keys = ('privacy_loss', 'privacy_loss_se', 'privacy_loss_n', 'mia_auc', 'mia_auc_se',
          'mia_n_members', 'mia_n_nonmembers', 'privacy_verdict', 'af_r', 'ld_r')
  result = {'pooled': pooled, 'folds': [{k: m.get(k) for k in keys} for m in parts]}
  writers.write_text(output / 'privacy.json', json.dumps(result, indent=1) + '\n')
  lines = ['| fold | privacy loss ± SE | MIA AUC ± SE | held-out | verdict | AF r | LD r |',
           '|---|---|---|---|---|---|---|']
  for k, m in [*enumerate(parts), ('pooled', pooled)]:
    lines.append(f"| {k} | {m['privacy_loss']:.4f} ± {m['privacy_loss_se']:.4f} | "
                 f"{m['mia_auc']:.4f} ± {m['mia_auc_se']:.4f} | {m['mia_n_nonmembers']} | "
                 f"{m['privacy_verdict']} | {m.get('af_r', float('nan')):.4f} | "
                 f"{m.get('ld_r', float('nan')):.4f} |")
  writers.write_text(output / 'summary.md', '\n'.join(lines) + '\n')
  print('\n'.join(lines))
  config_json = output / 'fold0' / 'run' / 'config.json'
  config = json.loads(config_json.read_text()) if config_json.exists() else None
  reproduce.write_provenance(output, steps, started, dataset=args.dataset, folds=args.folds,
                             split_seed=args.split_seed, config=config)
  print(f'wrote {output}/privacy.json, summary.md, provenance.json')


if __name__ == '__main__':
  main()
