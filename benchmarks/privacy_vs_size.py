r"""Privacy and quality against the number of training haplotypes (small-cohort study).

  python benchmarks/privacy_vs_size.py --config=configs/crbm.py --dataset=1000g_805 \
      --sizes=200,500,1000,2000,all --draws=5 --output=benchmarks/results/privacy_vs_size_crbm_805
  python benchmarks/privacy_vs_size.py --config=configs/crbm.py --sizes=400,all --steps=500

For each size N, a seeded subsample of N train haplotypes (data.train_haplotypes; `all` = the
whole train split) is the train split of a split view (<output>/size<N>/data); the train
haplotypes left out join the held-out split, so the privacy figures of small N rest on
thousands of unseen haplotypes. The config is trained on it (experiments/train.py,
--steps overrides train.num_steps), --draws AG sets are drawn (generate.py, seeds 0..D-1) and
evaluated in this process: AF r and LD r per draw against the N train haplotypes
(evaluate.evaluate_set), privacy loss and MIA AUC per draw and on all draws together (more AGs:
a smaller synthetic side of the standard error; ag_jax.evaluate.privacy). Writes table.csv,
table.md, privacy_vs_size.png and provenance.json into --output. Finished runs and AG files are
reused. --baselines adds, per size, AG sets that know only the train split's allele frequencies
(pooled, or one vector per population): the privacy figures that fitting those alone gives.
"""

import csv
import io
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'experiments'))
import privacy_folds  # pylint: disable=g-import-not-at-top,wrong-import-position
import reproduce  # pylint: disable=g-import-not-at-top,wrong-import-position

COLUMNS = ('ags', 'size', 'train', 'held_out', 'af_r', 'af_r_sd', 'ld_r', 'ld_r_sd', 'privacy_loss',
           'privacy_loss_se', 'privacy_loss_draws_sd', 'mia_auc', 'mia_auc_se', 'verdict')


def baseline_draws(ds, train: np.ndarray, column: str, num: int, count: int
                   ) -> list[np.ndarray]:
  """`count` sets of `num` AGs that know only allele frequencies of the train split: pooled
  (column 'pooled'), or one frequency vector per value of a samples column (each AG takes a
  train haplotype's label at random, then draws every SNP independently from that label's
  frequencies). What fitting those frequencies alone costs in the privacy figures."""
  rng = np.random.default_rng(0)
  if column == 'pooled':
    labels = np.zeros(len(train), int)
  else:
    labels = np.unique(ds.split_samples(column, 'train'), return_inverse=True)[1]
  freq = np.stack([train[labels == k].mean(0) for k in range(labels.max() + 1)])
  return [(rng.random((num, train.shape[1])) < freq[rng.choice(labels, num)]).astype(np.uint8)
          for _ in range(count)]


def evaluate_size(ds, train: np.ndarray, test: np.ndarray, draws: list[np.ndarray], size: str,
                  ags: str) -> dict:
  """The row of one size: quality per draw (mean, SD) and privacy on all draws together."""
  from ag_jax import evaluate  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import privacy  # pylint: disable=g-import-not-at-top
  quality = [evaluate.evaluate_set(train, ags, None, distance_sample=200)[0] for ags in draws]
  per_draw = [privacy.figures(train, test, ags, seed=i)['privacy_loss']
              for i, ags in enumerate(draws)]
  pooled = privacy.figures(train, test, np.concatenate(draws))
  row = {'ags': ags, 'size': size, 'train': ds.num_train, 'held_out': ds.num_test,
         'privacy_loss': pooled['privacy_loss'], 'privacy_loss_se': pooled['privacy_loss_se'],
         'privacy_loss_draws_sd': float(np.std(per_draw, ddof=1)) if len(draws) > 1 else 0.0,
         'mia_auc': pooled['mia_auc'], 'mia_auc_se': pooled['mia_auc_se'],
         'verdict': pooled['privacy_verdict']}
  for key in ('af_r', 'ld_r'):
    values = [m[key] for m in quality]
    row[key] = float(np.mean(values))
    row[f'{key}_sd'] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
  return row


def plot(rows: list[dict], path: pathlib.Path, title: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import audit, privacy  # pylint: disable=g-import-not-at-top
  x = sorted({r['train'] for r in rows})
  fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
  sources = list(dict.fromkeys(r['ags'] for r in rows))  # the model first, then baselines
  for i, source in enumerate(sources):
    own = [r for r in rows if r['ags'] == source]
    style = dict(marker='o' if i == 0 else 'x', ls='-' if i == 0 else ':', capsize=3,
                 label=source)
    for ax, key in ((axes[0], 'privacy_loss'), (axes[1], 'mia_auc')):
      ax.errorbar([r['train'] for r in own], [r[key] for r in own],
                  yerr=[privacy.Z * r[f'{key}_se'] for r in own], **style)
    for ax, key in ((axes[2], 'af_r'), (axes[3], 'ld_r')):
      ax.errorbar([r['train'] for r in own], [r[key] for r in own],
                  yerr=[r[f'{key}_sd'] for r in own], **style)
  for ax, key, limit in ((axes[0], 'privacy_loss', audit.PRIVACY_LOSS_LIMIT),
                         (axes[1], 'mia_auc', audit.MIA_AUC_LIMIT)):
    ax.axhline(limit, color='r', ls='--', lw=0.8, label=f'limit {limit}')
    ax.set(title=f'{key} (± {privacy.Z:g} SE)')
  for ax, key in ((axes[2], 'af_r'), (axes[3], 'ld_r')):
    ax.set(title=f'{key} (± SD over draws)')
  axes[0].legend(fontsize=7)
  for ax in axes:
    ax.set(xscale='log', xlabel='training haplotypes')
    ax.minorticks_off()
    ax.set_xticks(x, [str(v) for v in x])
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  with writers.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=90, format='png')
  plt.close(fig)


def main() -> None:
  ap = privacy_folds.run_flags(__doc__, 'subsamples')
  ap.add_argument('--sizes', default='200,500,1000,2000,all',
                  help='training haplotypes per run, comma-separated; all = the train split')
  ap.add_argument('--draws', type=int, default=5, help='AG draws per size')
  ap.add_argument('--steps', type=int, default=0, help='train.num_steps (0: the config\'s)')
  ap.add_argument('--baselines', default='',
                  help='also score AGs that know only allele frequencies of each size\'s train '
                  'split, comma-separated: pooled, or a samples column (population, '
                  'super_population) for one frequency vector per label')
  ap.add_argument('--output', help='results directory (default benchmarks/results/'
                  'privacy_vs_size_<config>_<dataset>)')
  ap.add_argument('--workdir', help='split views, training runs and AG files (default '
                  'runs/privacy_vs_size_<config>_<dataset>)')
  args = ap.parse_args()
  try:
    sizes = [0 if s == 'all' else int(s) for s in args.sizes.split(',')]
  except ValueError:
    ap.error(f'--sizes={args.sizes}: use comma-separated counts or all')
  if args.draws < 1 or args.steps < 0 or any(s < 0 for s in sizes):
    ap.error('--draws must be 1 or more, --steps and --sizes 0 or more')
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  variant = args.config.partition(':')[2]
  name = pathlib.Path(args.config.split(':')[0]).stem + (f'_{variant}' if variant else '')
  name = f'privacy_vs_size_{name}_{pathlib.Path(args.dataset).name}'
  output = pathlib.Path(args.output or ROOT / 'benchmarks' / 'results' / name).resolve()
  workdir = pathlib.Path(args.workdir or ROOT / 'runs' / name).resolve()
  overrides = args.set + ([f'train.num_steps={args.steps}'] if args.steps else [])
  baselines = [b for b in args.baselines.split(',') if b]
  steps, rows, started = [], [], reproduce.now()
  for size in sizes:
    label = str(size or 'all')
    size_dir = workdir / f'size{label}'
    size_dir.mkdir(parents=True, exist_ok=True)
    try:
      view = data.open_dataset(args.dataset, train_haplotypes=size,
                               split_seed=args.split_seed).write_view(size_dir / 'data')
    except data.DataError as e:
      sys.exit(f'error: {e}')
    ds = data.Dataset(view)
    for column in set(baselines) - {'pooled'}:  # before any training
      values = ds.split_samples(column, 'train')
      if values is None or not np.char.str_len(values.astype(str)).any():
        sys.exit(f'error: --baselines={args.baselines}: {args.dataset} has no {column!r} '
                 'labels in its samples.tsv; use pooled or a labelled column.')
    files = privacy_folds.train_and_draw(view, args.config, overrides, size_dir / 'run',
                                         args.num_samples, range(args.draws), steps)
    draws = [data.read_hapt(str(f)).genotypes for f in files]
    train, test = ds.read_split('train'), ds.read_split('test')
    rows.append(evaluate_size(ds, train, test, draws, label, ' '.join([args.config] + args.set)))
    print(rows[-1], flush=True)
    for column in baselines:
      base = baseline_draws(ds, train, column, args.num_samples, args.draws)
      rows.append(evaluate_size(ds, train, test, base, label, f'allele frequencies: {column}'))
      print(rows[-1], flush=True)
  buf = io.StringIO()
  w = csv.DictWriter(buf, COLUMNS, lineterminator='\n')
  w.writeheader()
  w.writerows(rows)
  writers.write_text(output / 'table.csv', buf.getvalue())
  lines = ['| AGs | training haplotypes | held-out | AF r | LD r | privacy loss ± SE | '
           'MIA AUC ± SE | verdict |', '|---|---|---|---|---|---|---|---|']
  lines += [f"| {r['ags']} | {r['train']} | {r['held_out']} | {r['af_r']:.4f} | {r['ld_r']:.4f} | "
            f"{r['privacy_loss']:.4f} ± {r['privacy_loss_se']:.4f} | "
            f"{r['mia_auc']:.4f} ± {r['mia_auc_se']:.4f} | {r['verdict']} |" for r in rows]
  writers.write_text(output / 'table.md', '\n'.join(lines) + '\n')
  print('\n'.join(lines))
  plot(rows, output / 'privacy_vs_size.png',
       f'{args.config} on {args.dataset}; {args.draws} draws of {args.num_samples} AGs'
       + (f', {args.steps} steps' if args.steps else ''))
  config_json = workdir / f'size{rows[0]["size"]}' / 'run' / 'config.json'
  reproduce.write_provenance(
      output, steps, started, dataset=args.dataset, sizes=args.sizes, draws=args.draws,
      config=json.loads(config_json.read_text()) if config_json.exists() else None)
  print(f'wrote {output}/table.csv, table.md, privacy_vs_size.png, provenance.json')


if __name__ == '__main__':
  main()
