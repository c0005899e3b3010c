"""Mean ± SD over AG draws of one model, beside the single-set rows, as a Markdown table.

  python experiments/summarize.py DIR

reads DIR/metrics.json (one evaluate.py run over several AG draws, named ags_seed<N>, and other
sets), prints one row per group: the draws' mean ± SD (and range) and each other set as is.
Labelled draws (a conditional model's) add one row per label: the per-label figures' mean ± SD
over the draws, beside the real test split's classifier accuracy for that label (the ceiling).
Writes DIR/summary.md.
"""

import json
import pathlib
import sys

import numpy as np

from ag_jax.data import writers

# Metrics an earlier evaluation lacks (e.g. fixed_sites, sfs_distance) stay blank.
COLUMNS = ('af_r', 'fixed_sites', 'ld_r', 'pca_wasserstein', 'distance_wasserstein',
           'three_point_r', 'ld_decay_within', 'sfs_distance', 'pi_ratio', 'fst', 'aats',
           'privacy_loss', 'exact_copy_rate', 'mia_auc')


BY_LABEL = ('af_r', 'ld_r', 'fst', 'accuracy', 'privacy_loss', 'privacy_loss_se', 'mia_auc')


def cell(values: np.ndarray, column: str) -> str:
  digits = 2 if column == 'distance_wasserstein' else 5 if column == 'fst' else 4
  if np.isnan(values).all():
    return ''
  if len(values) == 1:
    return f'{values[0]:.{digits}f}'
  return (f'{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f} '
          f'({values.min():.{digits}f}-{values.max():.{digits}f})')


def main(root: str) -> None:
  path = pathlib.Path(root) / 'metrics.json'
  if not path.exists():
    sys.exit(f'error: no {path}')
  metrics = json.loads(path.read_text())
  draws = sorted(n for n in metrics if n.startswith('ags_seed'))
  if not draws:
    sys.exit(f'error: {path} has no set named ags_seed<N>')
  groups = [(f'{len(draws)} AG draws ({", ".join(draws)})', draws)]
  groups += [(n, [n]) for n in metrics if n not in draws]
  lines = ['Mean ± SD (min-max) over the AG draws; other sets as evaluated beside them.', '',
           '| set | ' + ' | '.join(COLUMNS) + ' |', '|---' * (len(COLUMNS) + 1) + '|']
  for label, names in groups:
    cells = [cell(np.array([metrics[n].get(c, np.nan) for n in names], float), c)
             for c in COLUMNS]
    lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
  lines += by_label_lines(metrics, draws)
  text = '\n'.join(lines) + '\n'
  writers.write_text(pathlib.Path(root) / 'summary.md', text)  # whole file or none
  print(text, end='')


def by_label_lines(metrics: dict, draws: list[str]) -> list[str]:
  """The per-label table of labelled draws (empty when the draws carry no by_label)."""
  labels = sorted({k for n in draws for k in metrics[n].get('by_label', {})})
  if not labels:
    return []
  ceiling = metrics.get('real_test', {}).get('by_label', {})
  lines = ['', f'Per label, mean ± SD over the {len(draws)} draws (AGs of each label against '
           "the real haplotypes of that label); real_test accuracy: the classifier's on the real "
           'test split (the ceiling).', '',
           '| label | AGs per draw | ' + ' | '.join(BY_LABEL) + ' | real_test accuracy |',
           '|---' * (len(BY_LABEL) + 3) + '|']
  for k in labels:
    rows = [metrics[n]['by_label'][k] for n in draws if k in metrics[n].get('by_label', {})]
    sizes = sorted({r['num_haplotypes'] for r in rows})
    cells = [cell(np.array([r.get(c, np.nan) for r in rows], float), c) for c in BY_LABEL]
    top = ceiling.get(k, {}).get('accuracy')
    lines.append(f'| {k} | {"/".join(map(str, sizes))} | ' + ' | '.join(cells)
                 + f' | {"" if top is None else f"{top:.4f}"} |')
  return lines


if __name__ == '__main__':
  if len(sys.argv) != 2:
    sys.exit('usage: python experiments/summarize.py RESULTS_DIR')
  main(sys.argv[1])
