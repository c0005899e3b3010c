"""Mean ± SD over evaluation seeds of each set's metrics, as a Markdown table.

  python results/quality/1000g_805_crbm_seeds/summarize.py results/quality/1000g_805_crbm_seeds

reads <dir>/eval_seed*/metrics.json (one evaluate.py run per --seed, same sets) and prints the
table that README's per-seed bullet quotes (also written to <dir>/summary.md).
"""

import json
import pathlib
import sys

import numpy as np

from ag_jax.data import writers

COLUMNS = ('af_r', 'ld_r', 'pca_wasserstein', 'distance_wasserstein', 'aats', 'privacy_loss',
           'exact_copy_rate', 'mia_auc')


def main(root: str) -> None:
  files = sorted(pathlib.Path(root).glob('eval_seed*/metrics.json'))
  if not files:
    sys.exit(f'error: no {root}/eval_seed*/metrics.json')
  runs = [json.loads(f.read_text()) for f in files]
  lines = [f'Mean ± SD over {len(runs)} evaluation seeds ({", ".join(f.parent.name for f in files)}).',
           '', '| set | ' + ' | '.join(COLUMNS) + ' |', '|---' * (len(COLUMNS) + 1) + '|']
  for name in runs[0]:
    cells = []
    for c in COLUMNS:
      v = np.array([r[name].get(c, np.nan) for r in runs], float)
      digits = 2 if c == 'distance_wasserstein' else 4
      cells.append('' if np.isnan(v).all() else
                   f'{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}')
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  text = '\n'.join(lines) + '\n'
  writers.write_text(pathlib.Path(root) / 'summary.md', text)  # whole file or none
  print(text, end='')


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else str(pathlib.Path(__file__).parent))
