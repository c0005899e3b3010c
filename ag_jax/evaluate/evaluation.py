"""The evaluation of artificial genomes against real data: metrics.json, PNG plots, report.html.

`run_evaluation(real_train, {'name': ags, ...}, out_dir, real_test=...)` computes, per
synthetic set (docs/papers.md §5):

  af_r                 Pearson r of allele frequencies (all haplotypes of both sets)
  fixed_sites          fraction of the SNPs polymorphic in the real train split that the set
                       has only one allele of; fixed_sites_expected what a set of the same size
                       drawn from the train frequencies would fix by chance (rare alleles)
  ld_r                 Pearson r of r^2 over SNP pairs within `ld_max_distance` SNPs (sites
                       polymorphic in every set; diagonal excluded)
  pca_wasserstein      mean over PC1..PC6 of the 1-D Wasserstein distance (PCA fit on real)
  pca2d_ot             exact 2-D optimal-transport distance on (PC1, PC2)
  distance_wasserstein Wasserstein distance between within-real and within-AG Hamming
                       distance distributions
  three_point_r        Pearson r of connected 3-point correlations (section 5.7)
  sfs_distance         total-variation distance between the set's folded site frequency
                       spectrum and the real train split's, both projected to `sfs_size`
                       haplotypes (sfs, sfs_real: the spectra; sfs.png)
  pi, pi_real, pi_ratio  nucleotide diversity of the set and of the real train split
                       (scikit-allel sequence_diversity per bp on one chromosome with
                       positions, else the per-SNP mean pairwise difference: pi_unit)
  fst, fst_se          Hudson's Fst between the set and the real train split (scikit-allel
                       average_hudson_fst, block-jackknife SE); fst_reference the held-out
                       test split's against train (two samples of one population)
  aats                 nearest-neighbour adversarial accuracy vs train (aa_truth, aa_syn)
  aats_test, privacy_loss(_se), mia_auc(_se), privacy_verdict
                       the privacy figures with their standard errors, sizes and verdict
                       (ag_jax/evaluate/privacy.py, docs/privacy.md)
  ld_decay_within      (one chromosome, with a test split) fraction of bp-distance bins where
                       |mean r^2 AG - train| <= |mean r^2 test - train|; ld_decay_gap and
                       ld_decay_spread are the largest of each over the bins; ld_decay
                       the curves per bin (train, test, AG mean r^2 and pair counts)
  ld_by_maf            mean r^2 of the LD pairs by the pair's rarer minor-allele frequency
                       (train split's; bins 0-1-5-20-50%), AG and real: where LD is lost
  exact_copy_rate      fraction of AGs identical to a training haplotype
  aa_truth_by_population  (with `populations`, one label per real train haplotype) AA_truth
                       of the real haplotypes of each group: 0.5 = the AGs cover that group as
                       closely as its own haplotypes do; above 0.5 the group's real haplotypes
                       lie nearer each other than to any AG (the generator serves it worse),
                       below 0.5 AGs crowd it. {label: {'aa_truth': ..., 'n': ...}}

Sets of any sizes are compared: where a statistic needs equal sizes (AATS, the privacy loss)
the larger set is drawn down to the smaller (seeded; at most `max_haplotypes`; the privacy loss
averages `privacy_draws` such draws), and the sizes used are recorded in metrics.json (aats_n,
privacy_loss_n*, mia_n_members / _nonmembers, exact_copy_n_ags / _train) and stated in the
report.
"""

from __future__ import annotations

import json
import os
import pathlib
import time

import numpy as np
import scipy.stats

from ag_jax.data import writers
from ag_jax.evaluate import by_label
from ag_jax.evaluate import privacy
from ag_jax.evaluate import stats
from ag_jax.evaluate import report as report_lib
from ag_jax.evaluate.audit import findings

METRIC_KEYS = ('af_r', 'fixed_sites', 'ld_r', 'pca_wasserstein', 'pca2d_ot',
               'distance_wasserstein', 'three_point_r', 'ld_decay_within', 'sfs_distance',
               'pi_ratio', 'fst', 'aats', 'aats_test', 'privacy_loss', 'privacy_loss_se',
               'exact_copy_rate', 'mia_auc', 'mia_auc_se')


# Smallest value each size option takes, and why (the message a caller sees).
_OPTION_MINIMUM = {
    'ld_max_distance': (1, 'LD pairs are SNPs 1 or more apart'),
    'max_haplotypes': (2, 'the statistics compare pairs of haplotypes'),
    'distance_sample': (2, 'distances are between pairs of haplotypes'),
    'privacy_draws': (1, 'privacy loss averages over draws of the sets'),
}


def check_options(**options: int) -> None:
  """Raises ValueError naming the first size option below its minimum (`_OPTION_MINIMUM`).

  Called by `evaluate_set` and `run_evaluation` before any work or output, and by
  experiments/evaluate.py before it reads data; the message uses the CLI's flag spelling.
  """
  for name, value in options.items():
    low, why = _OPTION_MINIMUM[name]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
      raise ValueError(f'--{name}={value}: use an integer of {low} or more ({why}).')


def aa_truth_by_group(a: dict, labels: np.ndarray) -> dict[str, dict]:
  """AA_truth per label of the real rows `a` (from stats.aats) was computed on."""
  hit = a['d_ts'] > a['d_tt']
  labels = np.asarray(labels).astype(str)
  return {g: {'aa_truth': float(hit[labels == g].mean()), 'n': int((labels == g).sum())}
          for g in sorted(set(labels.tolist())) if g}


def evaluate_set(real: np.ndarray, synth: np.ndarray, test: np.ndarray | None, *,
                 ld_max_distance: int = stats.LD_MAX_DISTANCE, max_haplotypes: int = 5000,
                 privacy_draws: int = 5, distance_sample: int = 1000, seed: int = 0,
                 positions=None, single_chromosome: bool = False, pca=None, trip=None,
                 populations=None, sfs_size: int | None = None) -> tuple[dict, dict]:
  """Metrics of one synthetic set and the arrays the plots need.

  `populations`: optional label per row of `real` (e.g. super-population); adds
  aa_truth_by_population. Every other figure is the same with or without it.
  `sfs_size`: haplotypes the spectra are projected to (default: stats.SFS_SIZE or the
  smallest set); run_evaluation passes one size for all its sets.
  """
  for name, x in (('real', real), ('synthetic', synth), ('test', test)):
    if x is not None and len(x) < 2:
      raise ValueError(f'the {name} set has {len(x)} haplotype(s); the statistics compare '
                       'pairs of haplotypes: give 2 or more.')
  check_options(ld_max_distance=ld_max_distance, max_haplotypes=max_haplotypes,
                privacy_draws=privacy_draws, distance_sample=distance_sample)
  rng = np.random.default_rng(seed)
  m, extra = {}, {}
  af_real, af_syn = stats.allele_freq(real), stats.allele_freq(synth)
  m['af_r'] = stats.pearson(af_real, af_syn)
  extra['af'] = (af_real, af_syn)
  # Sites the real train split has both alleles of and the set only one (a generator that
  # never draws a rare allele): ld_r and the LD curves are computed without them.
  m['fixed_sites'], m['fixed_sites_expected'] = stats.fixed_sites(af_real, af_syn, len(synth))
  m.update(_popgen(real, synth, test, positions if single_chromosome else None, sfs_size, extra))

  keep = stats.polymorphic(real, synth)
  ld_n = min(len(real), len(synth), max_haplotypes)
  r2_real, r2_syn, idx = stats.ld_compare(real, synth, keep, ld_max_distance, ld_n, rng)
  m['ld_r'] = stats.pearson(r2_real, r2_syn)
  extra['ld'] = (r2_real, r2_syn)
  # Where LD is lost: mean r^2 by the pair's rarer MAF (train split's), AG against real.
  maf = np.minimum(af_real, 1 - af_real)[keep]
  (lr, count), (ls, _) = (stats.ld_by_maf(r, idx, maf) for r in (r2_real, r2_syn))
  m['ld_by_maf'] = {'maf_edges': list(stats.MAF_EDGES), 'pairs': count.tolist(),
                    'mean_r2_real': lr.tolist(), 'mean_r2': ls.tolist()}
  extra['ld_by_maf'] = (lr, ls, count)
  if single_chromosome and positions is not None and len(r2_real) == 0:
    m['ld_decay_gap'] = m['ld_decay_spread'] = m['ld_decay_within'] = float('nan')
  elif single_chromosome and positions is not None:
    pos = np.asarray(positions)[keep]
    span = max(pos[-1] - pos[0], 2)
    bins = np.unique(np.logspace(0, np.log10(span), 30).astype(np.int64))
    d_real, d_syn = stats.ld_decay(r2_real, idx, pos, bins), stats.ld_decay(r2_syn, idx, pos, bins)
    extra['ld_decay'] = (bins, d_real, d_syn)
    if test is not None and len(test):
      # The real spread: the held-out test split's curve against the train curve, per bin.
      r2_test, _ = stats.ld_pairs(stats.subsample(test, ld_n, rng), keep, ld_max_distance)
      d_test = stats.ld_decay(r2_test, idx, pos, bins)
      gap, spread = np.abs(d_syn[0] - d_real[0]), np.abs(d_test[0] - d_real[0])
      ok = np.isfinite(gap) & np.isfinite(spread)
      m['ld_decay_gap'] = float(gap[ok].max())
      m['ld_decay_spread'] = float(spread[ok].max())
      m['ld_decay_within'] = float(np.mean(gap[ok] <= spread[ok]))
      extra['ld_decay_test'] = d_test
      # Per bin, so a miss can be located (the plot's spread band is too thin to read).
      m['ld_decay'] = {'bin_edges_bp': bins.tolist(), 'pairs': d_real[2].tolist(),
                       'mean_r2_real': d_real[0].tolist(), 'mean_r2_test': d_test[0].tolist(),
                       'mean_r2': d_syn[0].tolist()}

  mean, comps = pca if pca is not None else stats.pca_fit(real, seed=seed)
  n = min(len(real), len(synth), max_haplotypes)
  pr = stats.pca_project(stats.subsample(real, n, rng), mean, comps)
  ps = stats.pca_project(stats.subsample(synth, n, rng), mean, comps)
  m['pca_wasserstein'] = float(np.mean([scipy.stats.wasserstein_distance(pr[:, i], ps[:, i])
                                        for i in range(pr.shape[1])]))
  k = min(n, 1000)
  m['pca2d_ot'] = stats.ot_2d(pr[:k, :2], ps[:k, :2])
  extra['pca'] = (pr, ps)

  k = min(distance_sample, len(real), len(synth))
  d_real = stats.within_distances(stats.subsample(real, k, rng))
  d_syn = stats.within_distances(stats.subsample(synth, k, rng))
  d_between = stats.hamming(stats.subsample(synth, k, rng), stats.subsample(real, k, rng)).ravel()
  m['distance_wasserstein'] = float(scipy.stats.wasserstein_distance(d_real, d_syn))
  m['distance_between_wasserstein'] = float(scipy.stats.wasserstein_distance(d_real, d_between))
  extra['distances'] = (d_real, d_syn, d_between)

  trip = trip if trip is not None else stats.triplets(real.shape[1])
  m['three_point_r'] = stats.pearson(stats.three_point(real, trip).ravel(),
                                     stats.three_point(synth, trip).ravel())

  n = min(len(real), len(synth), max_haplotypes)
  rows = stats.subsample_rows(len(real), n, rng)  # the draw stats.subsample(real, n, rng) makes
  a = stats.aats(real[rows], stats.subsample(synth, n, rng))
  m.update(aats=a['aats'], aa_truth=a['aa_truth'], aa_syn=a['aa_syn'], aats_n=n)
  m.update(exact_copy_n_ags=len(synth), exact_copy_n_train=len(real))
  if populations is not None:
    m['aa_truth_by_population'] = aa_truth_by_group(a, np.asarray(populations)[rows])
  extra['aats'] = a
  m['exact_copy_rate'] = stats.exact_copy_rate(synth, real)
  if test is not None and len(test):
    m.update(privacy.figures(real, test, synth, draws=privacy_draws,
                             max_haplotypes=max_haplotypes, seed=seed))
  return m, extra


def _popgen(real, synth, test, positions, sfs_size, extra) -> dict:
  """Site frequency spectrum, nucleotide diversity and Hudson Fst (scikit-allel)."""
  m = {}
  size = min(sfs_size or stats.SFS_SIZE, len(real), len(synth))
  sfs_real, sfs_syn = (stats.sfs_folded_projected(x, size) for x in (real, synth))
  m['sfs_size'] = size
  m['sfs'], m['sfs_real'] = sfs_syn.tolist(), sfs_real.tolist()
  m['sfs_distance'] = stats.sfs_distance(sfs_syn, sfs_real)
  extra['sfs'] = (sfs_real, sfs_syn)
  extra['sfs_size'] = size
  (m['pi'], m['pi_unit']), (m['pi_real'], _) = (stats.nucleotide_diversity(x, positions)
                                                for x in (synth, real))
  m['pi_ratio'] = m['pi'] / m['pi_real'] if m['pi_real'] > 0 else float('nan')
  m['fst'], m['fst_se'] = stats.hudson_fst(synth, real)
  if test is not None and len(test):
    m['fst_reference'], m['fst_reference_se'] = stats.hudson_fst(test, real)
    if len(test) >= size:
      extra['sfs_test'] = stats.sfs_folded_projected(test, size)
  return m


def run_evaluation(real_train: np.ndarray, synthetic: dict[str, np.ndarray],
                   output_dir: str | os.PathLike, real_test: np.ndarray | None = None,
                   positions=None, chrom=None, populations=None, seed: int = 0,
                   ld_max_distance: int = stats.LD_MAX_DISTANCE, max_haplotypes: int = 5000,
                   distance_sample: int = 1000, include_real_reference: bool = True,
                   labels: by_label.Labels | None = None, progress: bool = True) -> dict:
  """Evaluates each synthetic set; writes metrics.json, PNGs and report.html into output_dir.

  With `real_test` and `include_real_reference`, the test split itself is evaluated as a set
  (`real_test`): the real-vs-real ceiling any generator can reach. `populations` (one label
  per real_train haplotype, '' = unknown) adds AA_truth by label and aats_by_population.png.
  `labels` (the AGs' labels of a conditional model, and the real splits' of the same column)
  adds `by_label` to each labelled set and to real_test (the ceiling; ag_jax.evaluate.by_label)
  and confusion.png.
  """
  check_options(ld_max_distance=ld_max_distance, max_haplotypes=max_haplotypes,
                distance_sample=distance_sample)  # before output_dir exists
  if populations is not None:
    populations = np.asarray(populations).astype(str)
    if populations.shape != (len(real_train),):
      raise ValueError(f'populations: {populations.shape[0] if populations.ndim else 0} labels '
                       f'for {len(real_train)} real train haplotypes; give one per haplotype.')
    if not any(populations):
      populations = None  # no labels known (e.g. a VCF without a panel)
  if labels is not None:
    labels.check(real_train, real_test, synthetic)
  out = pathlib.Path(output_dir)
  report_lib.check_output_dir(out)
  out.mkdir(parents=True, exist_ok=True)
  chroms = set(np.asarray(chrom).tolist()) if chrom is not None else set()
  single = len(chroms) == 1 and '.' not in chroms  # '.' = unknown (hapt without legend)
  pca = stats.pca_fit(real_train, seed=seed)
  trip = stats.triplets(real_train.shape[1])
  sets = dict(synthetic)
  if real_test is not None and include_real_reference:
    sets = {'real_test': real_test, **sets}
  # One projection size for every spectrum (sfs.png puts them on one axis).
  sfs_size = min([stats.SFS_SIZE, len(real_train)] + [len(x) for x in sets.values()] +
                 ([len(real_test)] if real_test is not None and len(real_test) else []))
  results, extras, audit = {}, {}, {}
  labelled = dict(labels.sets) if labels is not None else {}
  if labelled and real_test is not None and labels.test is not None and 'real_test' in sets:
    labelled = {'real_test': labels.test, **labelled}
  classify = by_label.classifier(real_train, labels.train, seed) if labelled else None
  for name, synth in sets.items():
    t0 = time.time()
    if synth.shape[1] != real_train.shape[1]:
      raise ValueError(f'{name}: {synth.shape[1]} SNPs, but the real data has '
                       f'{real_train.shape[1]}; the sets must share their SNPs.')
    test = None if name == 'real_test' else real_test
    m, e = evaluate_set(real_train, np.asarray(synth, np.uint8), test, seed=seed,
                        positions=positions, single_chromosome=single, pca=pca, trip=trip,
                        ld_max_distance=ld_max_distance, max_haplotypes=max_haplotypes,
                        distance_sample=distance_sample, populations=populations,
                        sfs_size=max(sfs_size, 2))
    m['num_haplotypes'] = int(len(synth))
    if name in labelled:
      m['by_label'], e['by_label'] = by_label.evaluate(
          real_train, synth, labels, labelled[name], real_test=test, classify=classify,
          ld_max_distance=ld_max_distance, max_haplotypes=max_haplotypes, seed=seed)
    results[name], extras[name] = m, e
    audit[name] = findings(m, results.get('real_test'))
    if name != 'real_test':
      m['findings'] = audit[name]  # metrics.json tells a pipeline what was raised
    if progress:
      print(f'evaluated {name} ({len(synth)} x {synth.shape[1]}) in {time.time() - t0:.1f}s: '
            + ', '.join(f'{k} {m[k]:.4f}' for k in METRIC_KEYS if k in m), flush=True)
      if 'aa_truth_by_population' in m:
        print('  aa_truth by population (0.5 = covered as closely as by its own haplotypes): '
              + ', '.join(f"{g} {v['aa_truth']:.3f}"
                          for g, v in m['aa_truth_by_population'].items()), flush=True)
      if 'privacy_verdict' in m:
        print(f"  privacy: {m['privacy_verdict']} ({report_lib.privacy_sizes(m)})", flush=True)
      for label, b in m.get('by_label', {}).items():
        print(f"  {labels.column} {label}: {b['num_haplotypes']} AGs, AF r {b['af_r']:.4f}, "
              f"LD r {b['ld_r']:.4f}, Fst {b['fst']:.4f}, classified as {label} "
              f"{b['accuracy']:.3f}" + (f", privacy: {b['privacy_verdict']}"
                                        if 'privacy_verdict' in b else ''), flush=True)
      for line in audit[name]:
        print(f'  warning: {line}', flush=True)
  writers.write_text(out / 'metrics.json', json.dumps(results, indent=2, sort_keys=True) + '\n')
  report_lib.write_report(out, results, extras, real_train, sets, audit)
  return results
