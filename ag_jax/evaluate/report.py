"""Plots (matplotlib, PNG) and the HTML report that shows several AG sets side by side."""

from __future__ import annotations

import html
import json
import pathlib

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from ag_jax.data import writers  # pylint: disable=g-import-not-at-top,wrong-import-position
from ag_jax.evaluate import audit as audit_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from ag_jax.evaluate import by_label as by_label_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from ag_jax.evaluate import privacy  # pylint: disable=g-import-not-at-top,wrong-import-position
from ag_jax.evaluate import stats  # pylint: disable=g-import-not-at-top,wrong-import-position

COLUMNS = ('af_r', 'fixed_sites', 'ld_r', 'pca_wasserstein', 'pca2d_ot', 'distance_wasserstein',
           'three_point_r', 'ld_decay_within', 'sfs_distance', 'pi_ratio', 'fst', 'aats',
           'aats_test', 'privacy_loss', 'privacy_loss_se', 'exact_copy_rate', 'mia_auc',
           'mia_auc_se', 'num_haplotypes')


PLOTS = ('af.png', 'sfs.png', 'ld.png', 'ld_decay.png', 'ld_by_maf.png', 'ld_heatmap.png',
         'pca.png', 'distances.png', 'aats.png', 'aats_by_population.png', 'confusion.png')
FILES = ('metrics.json', 'report.html', 'table.md') + PLOTS  # what an evaluation writes
_TITLE = '<title>ag_jax evaluation</title>'


def _is_ours(out: pathlib.Path) -> bool:
  """Whether `out` holds an evaluation ag_jax wrote: report.html with its title, or metrics.json
  of sets that each carry num_haplotypes (the committed results/ directories have no report)."""
  try:
    if _TITLE in (out / 'report.html').read_text(errors='replace')[:4096]:
      return True
  except OSError:
    pass
  try:
    sets = json.loads((out / 'metrics.json').read_text())
  except (OSError, ValueError):
    return False
  return (isinstance(sets, dict) and bool(sets) and
          all(isinstance(m, dict) and 'num_haplotypes' in m for m in sets.values()))


def check_output_dir(out: pathlib.Path) -> None:
  """Raises OutputError if writing an evaluation into `out` would replace a file ag_jax did not
  write: a directory holding any of FILES must hold an earlier ag_jax evaluation."""
  out = pathlib.Path(out)
  if out.exists() and not out.is_dir():
    raise writers.OutputError(f'{out}: is a file; give a directory (created if absent).')
  taken = [name for name in FILES if (out / name).exists()]
  if taken and not _is_ours(out):
    raise writers.OutputError(
        f'{out}: holds {", ".join(taken)}, not from an ag_jax evaluation (no ag_jax report.html '
        'or metrics.json there); they are left untouched: choose another output directory.')


def _save(fig, path: pathlib.Path):
  fig.tight_layout()
  try:
    with writers.atomic_path(path) as tmp:  # a failed save leaves neither a part nor a temporary
      fig.savefig(tmp, dpi=90, format='png')
  finally:
    plt.close(fig)


def _grid(n: int, size: float = 3.6):
  fig, axes = plt.subplots(1, n, figsize=(size * n, size), squeeze=False)
  return fig, axes[0]


def plot_af(out, extras) -> str:
  fig, axes = _grid(len(extras) * 2)
  for i, (name, e) in enumerate(extras.items()):
    real, syn = e['af']
    for ax, zoom in ((axes[2 * i], False), (axes[2 * i + 1], True)):
      sel = real <= 0.2 if zoom else np.ones(real.shape, bool)
      lost = sel & (real > 0) & (real < 1) & ((syn == 0) | (syn == 1))  # fixed_sites
      ax.scatter(real[sel & ~lost], syn[sel & ~lost], s=4, alpha=0.5)
      if lost.any():
        ax.scatter(real[lost], syn[lost], s=4, alpha=0.5, color='tab:red',
                   label=f'one allele in the AGs ({lost.sum()})')
        ax.legend(loc='upper left', fontsize=7)
      lim = 0.2 if zoom else 1
      ax.plot([0, lim], [0, lim], 'k--', lw=0.8)
      ax.set(xlabel='real allele frequency', ylabel=f'{name}',
             title=f'{name}{" (real AF<=0.2)" if zoom else ""}\nr={stats.pearson(real[sel], syn[sel]):.4f}')
  _save(fig, out / 'af.png')
  return 'af.png'


def plot_ld(out, extras) -> str:
  fig, axes = _grid(len(extras))
  rng = np.random.default_rng(0)
  for ax, (name, e) in zip(axes, extras.items()):
    real, syn = e['ld']
    k = rng.choice(len(real), min(10000, len(real)), replace=False)
    ax.scatter(real[k], syn[k], s=3, alpha=0.3)
    ax.plot([0, 1], [0, 1], 'k--', lw=0.8)
    ax.set(xlabel='real r$^2$', ylabel=f'{name} r$^2$', title=f'{name}\nLD r={stats.pearson(real, syn):.4f}')
  _save(fig, out / 'ld.png')
  return 'ld.png'


def plot_ld_decay(out, extras) -> str | None:
  """Mean r^2 by distance (left) and each curve's difference from the train curve in % of it
  (right: misses of a few % are invisible on the left), with the train-test spread as a band."""
  items = [(n, e['ld_decay']) for n, e in extras.items() if 'ld_decay' in e]
  if not items:
    return None
  fig, (ax, rel) = plt.subplots(1, 2, figsize=(12, 4.5))
  bins, real, _ = items[0][1]
  x = bins[:-1]
  base = np.where(real[0] > 0, real[0], np.nan)
  pct = lambda curve: 100 * (curve - real[0]) / base
  ax.errorbar(x, real[0], yerr=real[1], label='real train', color='k', lw=2)
  rel.axhline(0, color='k', lw=2, label='real train')
  tests = [e['ld_decay_test'] for e in extras.values() if 'ld_decay_test' in e]
  if tests:  # the real spread: train vs held-out test, the band an AG curve should stay in
    lo, hi = np.minimum(real[0], tests[0][0]), np.maximum(real[0], tests[0][0])
    ax.fill_between(x, lo, hi, color='0.6', alpha=0.5, label='real train-test spread')
    half = np.abs(pct(tests[0][0]))
    rel.fill_between(x, -half, half, color='0.6', alpha=0.5, label='|test - train|')
  for name, (_, _, syn) in items:
    line = ax.errorbar(x, syn[0], yerr=syn[1], label=name, alpha=0.8)
    rel.plot(x, pct(syn[0]), marker='.', color=line[0].get_color(), label=name, alpha=0.8)
  ax.set(xscale='log', xlabel='distance (bp)', ylabel='mean r$^2$', title='LD decay')
  rel.set(xscale='log', xlabel='distance (bp)', ylabel='mean r$^2$ - train (% of train)',
          title='LD decay against the train split')
  ax.legend(fontsize=8)
  _save(fig, out / 'ld_decay.png')
  return 'ld_decay.png'


def plot_ld_by_maf(out, extras) -> str | None:
  """Mean r^2 of each set over the real train split's, per MAF bin of the pair's rarer SNP."""
  items = [(n, e['ld_by_maf']) for n, e in extras.items() if 'ld_by_maf' in e]
  if not items:
    return None
  edges = stats.MAF_EDGES
  labels = [f'{100 * a:g}-{100 * b:g}%' for a, b in zip(edges[:-1], edges[1:])]
  fig, ax = plt.subplots(figsize=(8, 4))
  x, width = np.arange(len(labels)), 0.8 / len(items)
  for k, (name, (real, syn, _)) in enumerate(items):
    with np.errstate(invalid='ignore', divide='ignore'):
      ax.bar(x + (k - (len(items) - 1) / 2) * width, syn / real, width, label=name,
             color='0.5' if name == 'real_test' else None)
  ax.axhline(1.0, color='k', lw=1)
  counts = items[0][1][2]
  ax.set_xticks(x, [f'{lab}\n{c} pairs' for lab, c in zip(labels, counts)])
  ax.set(xlabel="rarer SNP's minor-allele frequency (train split)",
         ylabel='mean r$^2$ / real train', title='LD by allele frequency')
  ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1))  # beside, not over, bars
  _save(fig, out / 'ld_by_maf.png')
  return 'ld_by_maf.png'


def plot_sfs(out, extras) -> str | None:
  """Folded site frequency spectra, projected to one size: real train, real test, each set."""
  items = [(n, e['sfs']) for n, e in extras.items() if 'sfs' in e]
  if not items:
    return None
  real = items[0][1][0]
  test = next((e['sfs_test'] for e in extras.values() if 'sfs_test' in e), None)
  if test is None and 'real_test' in extras:
    test = extras['real_test']['sfs'][1]
  size = next(e['sfs_size'] for e in extras.values() if 'sfs_size' in e)
  x = np.arange(len(real))
  fig, ax = plt.subplots(figsize=(8, 4))
  frac = lambda a: a / a.sum()
  ax.plot(x, frac(real), 'k-o', ms=3, lw=2, label='real train')
  if test is not None and len(test) == len(real):
    ax.plot(x, frac(test), '-o', color='0.55', ms=3, lw=2, label='real test')
  for name, (_, syn) in items:
    if name != 'real_test':
      ax.plot(x, frac(syn), '-o', ms=3, alpha=0.8, label=name)
  ax.set(yscale='log', xlabel=f'minor-allele count among {size} haplotypes '
         '(projected; 0 = monomorphic)', ylabel='fraction of SNPs',
         title='folded site frequency spectrum')
  ax.legend(fontsize=8)
  _save(fig, out / 'sfs.png')
  return 'sfs.png'


def plot_ld_heatmap(out, real_train, synthetic_first: tuple[str, np.ndarray] | None) -> str | None:
  if synthetic_first is None:
    return None
  name, syn = synthetic_first
  k = min(200, real_train.shape[1])
  r = stats.r2_matrix(real_train[:, :k])
  s = stats.r2_matrix(syn[:, :k])
  m = np.where(np.triu(np.ones((k, k), bool), 1), s, r)
  fig, ax = plt.subplots(figsize=(5, 4.5))
  im = ax.imshow(m, cmap='viridis', vmin=0, vmax=1)
  ax.set_title(f'LD r$^2$, first {k} SNPs\n{name} (upper) vs real (lower)', fontsize=8)
  fig.colorbar(im, ax=ax)
  _save(fig, out / 'ld_heatmap.png')
  return 'ld_heatmap.png'


def plot_pca(out, extras) -> str:
  fig, axes = _grid(len(extras))
  for ax, (name, e) in zip(axes, extras.items()):
    pr, ps = e['pca']
    ax.scatter(pr[:, 0], pr[:, 1], s=3, alpha=0.3, label='real train', color='k')
    ax.scatter(ps[:, 0], ps[:, 1], s=3, alpha=0.3, label=name, color='C1')
    ax.set(xlabel='PC1', ylabel='PC2', title=name)
    ax.legend(fontsize=7, markerscale=3)
  _save(fig, out / 'pca.png')
  return 'pca.png'


def plot_distances(out, extras) -> str:
  fig, axes = _grid(len(extras))
  for ax, (name, e) in zip(axes, extras.items()):
    d_real, d_syn, d_between = e['distances']
    bins = np.linspace(0, max(d_real.max(), d_syn.max(), d_between.max()) + 1, 60)
    ax.hist(d_real, bins, density=True, alpha=0.5, label='within real', color='k')
    ax.hist(d_syn, bins, density=True, alpha=0.5, label=f'within {name}')
    ax.hist(d_between, bins, density=True, histtype='step', label=f'{name} vs real')
    ax.set(xlabel='Hamming distance', title=name)
    ax.legend(fontsize=7)
  _save(fig, out / 'distances.png')
  return 'distances.png'


def plot_aats(out, results) -> str:
  names = list(results)
  fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names)), 3.6))
  x = np.arange(len(names))
  for j, key in enumerate(('aats', 'aa_truth', 'aa_syn', 'aats_test')):
    ax.bar(x + 0.2 * j - 0.3, [results[n].get(key, np.nan) for n in names], 0.2, label=key)
  ax.axhline(0.5, color='k', ls='--', lw=0.8)
  ax.set_xticks(x, names, rotation=20)
  ax.set(ylim=(0, 1), title='nearest-neighbour adversarial accuracy (ideal 0.5)')
  ax.legend(fontsize=7)
  _save(fig, out / 'aats.png')
  return 'aats.png'


def plot_aats_by_population(out, results) -> str | None:
  """AA_truth of each population's real haplotypes, per set: which groups a generator covers."""
  names = sorted((n for n in results if 'aa_truth_by_population' in results[n]),
                 key=lambda n: n != 'real_test')  # the real reference first
  if not names:
    return None
  groups = sorted({g for n in names for g in results[n]['aa_truth_by_population']})
  fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(groups) * max(1, len(names) / 3)), 3.6))
  x, width = np.arange(len(groups)), 0.8 / len(names)
  for j, n in enumerate(names):
    by = results[n]['aa_truth_by_population']
    ax.bar(x + width * (j - (len(names) - 1) / 2),
           [by[g]['aa_truth'] if g in by else np.nan for g in groups], width, label=n)
  ax.axhline(0.5, color='k', ls='--', lw=0.8)
  ax.set_xticks(x, groups)
  ax.set(ylim=(0, 1), ylabel='AA_truth of the real haplotypes',
         title='AA_truth by population (ideal 0.5; above it the AGs cover the group worse)')
  ax.title.set_fontsize(9)
  ax.legend(fontsize=7)
  _save(fig, out / 'aats_by_population.png')
  return 'aats_by_population.png'


def plot_confusion(out, extras) -> str | None:
  """Per labelled set: the share of each requested label's haplotypes the real-data classifier
  assigns to each label (rows sum to 1; a perfect conditional model matches real_test's)."""
  names = [n for n, e in extras.items() if 'by_label' in e]
  if not names:
    return None
  k = len(extras[names[0]]['by_label']['names'])
  fig, axes = _grid(len(names), size=max(3.2, 0.45 * k + 1.5))
  for ax, n in zip(axes, names):
    labels, counts = extras[n]['by_label']['names'], extras[n]['by_label']['confusion']
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    ax.imshow(share, vmin=0, vmax=1, cmap='Blues')
    if k <= 8:
      for (i, j), v in np.ndenumerate(share):
        ax.text(j, i, f'{v:.2f}', ha='center', va='center', fontsize=7,
                color='w' if v > 0.5 else 'k')
    ticks = np.arange(k)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=6 if k > 8 else 8)
    ax.set_yticks(ticks, labels, fontsize=6 if k > 8 else 8)
    ax.set(xlabel='assigned by the classifier', ylabel='requested label')
    ax.set_title(n, fontsize=9)
  _save(fig, out / 'confusion.png')
  return 'confusion.png'


BY_LABEL_COLUMNS = ('num_haplotypes', 'num_real_train', 'num_real_test', 'af_r', 'af_r_pooled',
                    'ld_r', 'fst', 'accuracy', 'privacy_loss', 'privacy_loss_se', 'mia_auc')


def by_label_table(results: dict) -> str:
  """Markdown: one row per labelled set and label (by_label; '' when a set has none)."""
  rows = [(n, label, b) for n, m in results.items() for label, b in m.get('by_label', {}).items()]
  if not rows:
    return ''
  lines = ['| set | label | ' + ' | '.join(BY_LABEL_COLUMNS) + ' | privacy verdict |',
           '|---' * (len(BY_LABEL_COLUMNS) + 3) + '|']
  for n, label, b in rows:
    lines.append(f'| {n} | {label} | ' + ' | '.join(_cell(b, c) for c in BY_LABEL_COLUMNS)
                 + f" | {b.get('privacy_verdict', '')} |")
  return '\n'.join(lines) + '\n'


def write_report(out: pathlib.Path, results: dict, extras: dict, real_train: np.ndarray,
                 synthetic: dict[str, np.ndarray],
                 audit: dict[str, list[str]]) -> pathlib.Path:
  """report.html and table.md; `audit` is each set's findings (ag_jax.evaluate.audit)."""
  first = next(((n, x) for n, x in synthetic.items() if n != 'real_test'), None)
  images = [plot_af(out, extras), plot_sfs(out, extras), plot_ld(out, extras),
            plot_ld_decay(out, extras),
            plot_ld_by_maf(out, extras), plot_ld_heatmap(out, real_train, first),
            plot_pca(out, extras), plot_distances(out, extras), plot_aats(out, results),
            plot_aats_by_population(out, results), plot_confusion(out, extras)]
  rows = []
  for name, m in results.items():
    cells = ''.join(f'<td>{_cell(m, c)}</td>' for c in COLUMNS)
    rows.append(f'<tr><th>{html.escape(name)}</th>{cells}</tr>')
  warn = [f'<li><b>{html.escape(name)}</b>: {html.escape(line)}</li>'
          for name, lines in audit.items() for line in lines]
  audit_html = (f'<h2>Findings</h2><ul>{"".join(warn)}</ul>' if warn else
                '<h2>Findings</h2><p>No set crosses the privacy, copy or diversity limits.</p>')
  sizes = ''.join(f'<li><b>{html.escape(name)}</b>: '
                  + (f"<b>{html.escape(m['privacy_verdict'])}</b>. " if 'privacy_verdict' in m else '')
                  + f'{html.escape(privacy_sizes(m))}</li>' for name, m in results.items())
  label_rows = ''.join(
      f'<tr><th>{html.escape(n)}</th><th>{html.escape(label)}</th>'
      + ''.join(f'<td>{_cell(b, c)}</td>' for c in BY_LABEL_COLUMNS)
      + f"<td>{html.escape(b.get('privacy_verdict', ''))}</td></tr>"
      for n, m in results.items() for label, b in m.get('by_label', {}).items())
  label_html = '' if not label_rows else f"""<h2>By label</h2>
<p>Each labelled set's AGs of one label against the real haplotypes of that label:
af_r_pooled is what the pooled real frequencies reach (how much the label matters); accuracy
is the share a logistic regression on {by_label_lib.CLASSIFIER_PCS} PCs of the real train split
assigns to the requested label, whose real_test rows are the ceiling (confusion.png); the
privacy figures rest on the label's haplotypes only (num_real_test per side at most).</p>
<table><tr><th>set</th><th>label</th>{''.join(f'<th>{c}</th>' for c in BY_LABEL_COLUMNS)}<th>privacy verdict</th></tr>
{label_rows}</table>"""
  figs = ''.join(f'<figure><img src="{i}" alt="{i}"><figcaption>{i}</figcaption></figure>'
                 for i in images if i)
  page = f"""<!doctype html><html><head><meta charset="utf-8">{_TITLE}
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}img{{max-width:100%}}
figure{{margin:1em 0}}</style></head><body>
<h1>ag_jax evaluation</h1>
<p>Real training set: {real_train.shape[0]} haplotypes x {real_train.shape[1]} SNPs.
Metrics as in Yelmen et al. (docs/papers.md §5); <code>real_test</code> is the held-out
real split evaluated like a synthetic set (the ceiling). privacy_loss = aats_test - aats
at one size; mia_auc 0.5 = no membership leakage; _se: standard errors (docs/privacy.md).</p>
Population genetics (scikit-allel): sfs_distance = total-variation distance between folded
site frequency spectra projected to the same number of haplotypes (0 = same); pi_ratio =
nucleotide diversity of the set / real train; fst = Hudson's Fst against the real train split
(the <code>real_test</code> row: what two samples of one population give).</p>
<table><tr><th>set</th>{''.join(f'<th>{c}</th>' for c in COLUMNS)}</tr>{''.join(rows)}</table>
{label_html}
{audit_html}
<h2>Privacy verdict and the haplotypes behind each figure</h2>
<p>"no evidence of leakage": privacy_loss + {privacy.Z:g} SE &lt; {audit_lib.PRIVACY_LOSS_LIMIT} and
mia_auc + {privacy.Z:g} SE &lt; {audit_lib.MIA_AUC_LIMIT}; "leaks": either figure minus {privacy.Z:g} SE
above its limit; otherwise too few haplotypes to conclude, with the number of real haplotypes
per side at which the standard error would decide.</p><ul>{sizes}</ul>
{figs}</body></html>"""
  path = out / 'report.html'
  table = markdown_table(results) + ('\n' + by_label_table(results) if label_rows else '')
  for name, text in ((path.name, page), ('table.md', table)):
    writers.write_text(out / name, text)
  return path


def privacy_sizes(m: dict) -> str:
  """How many haplotypes each privacy figure of one set rests on (from its metrics)."""
  parts = []
  if 'aats_n' in m:
    parts.append(f"aats: {m['aats_n']} real train + {m['aats_n']} AGs")
  if 'privacy_loss_n' in m:
    n, d = m['privacy_loss_n'], m['privacy_draws']
    parts.append(
        f"privacy_loss {m['privacy_loss']:.3f} ± {m['privacy_loss_se']:.3f}: {d} draw(s) of {n} "
        f"held-out + {n} AGs against {n} train + {n} AGs ({m['privacy_loss_n_test']} held-out, "
        f"{m['privacy_loss_n_train']} train and {m['privacy_loss_n_ags']} AG haplotypes in all)")
  if 'exact_copy_n_ags' in m:
    parts.append(f"exact_copy_rate: all {m['exact_copy_n_ags']} AGs against all "
                 f"{m['exact_copy_n_train']} train haplotypes")
  if 'mia_n_members' in m:
    parts.append(f"mia_auc {m['mia_auc']:.3f} ± {m['mia_auc_se']:.3f}: {m['mia_n_members']} "
                 f"train members + {m['mia_n_nonmembers']} held-out non-members against "
                 f"{m.get('exact_copy_n_ags', 'the')} AGs")
  return '; '.join(parts) + '.'


def _cell(m: dict, column: str) -> str:
  v = m.get(column, '')
  return f'{v:.4f}' if isinstance(v, float) else str(v)


def markdown_table(results: dict) -> str:
  """The report's table as Markdown (what the README quotes), 4 decimals."""
  cols = [c for c in COLUMNS if any(c in m for m in results.values())]
  lines = ['| set | ' + ' | '.join(cols) + ' |', '|---' * (len(cols) + 1) + '|']
  for name, m in results.items():
    cells = [_cell(m, c) for c in cols]
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'
