"""Per-label evaluation of labelled AGs (population-conditional models; docs/conditional.md).

For each label L of a set's AGs, against the real haplotypes of label L:

  num_haplotypes, num_real_train, num_real_test   the sizes behind the figures
  af_r            Pearson r of allele frequencies, AGs of L vs real train of L
  af_r_pooled     the same r for the pooled real train frequencies: what an unconditioned model
                  with a perfect pooled fit would reach (how much the label matters)
  ld_r            the evaluation's LD r (pairs within ld_max_distance SNPs, equal sizes)
  fst, fst_se     Hudson's Fst(AGs of L, real train of L); ~0 when they are one population
  accuracy        fraction of the AGs of L that a classifier trained on the real train split
                  (logistic regression on 20 PCs) assigns to L; the real_test set's rows give
                  the same classifier's accuracy on real held-out haplotypes (the ceiling)
  privacy figures privacy_loss(_se), mia_auc(_se), the verdict and sizes (privacy.figures)
                  of the AGs of L against the real train and test haplotypes of L: small
                  groups leak first, and their figures rest on few haplotypes

`confusion`: counts [requested label, assigned label] over the set's labels and the
classifier's (the real train split's), for confusion.png.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ag_jax.data.labels import LabelError
from ag_jax.evaluate import privacy
from ag_jax.evaluate import stats

CLASSIFIER_PCS = 20


@dataclasses.dataclass
class Labels:
  """One label per haplotype: the real train (and test) split's and each labelled set's.

  `column` is the label kind (super_population, population or a study's own); sets missing
  from `sets` are evaluated pooled only. '' marks an unknown label (left out).
  """
  column: str
  train: np.ndarray
  test: np.ndarray | None = None
  sets: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    self.train = np.asarray(self.train).astype(str)
    self.test = None if self.test is None else np.asarray(self.test).astype(str)
    self.sets = {name: np.asarray(lab).astype(str) for name, lab in self.sets.items()}

  def check(self, real_train: np.ndarray, real_test: np.ndarray | None,
            synthetic: dict[str, np.ndarray]) -> None:
    """LabelError if a label array does not have one label per haplotype, or a set has a
    label the real train split does not have (nothing to compare it with)."""
    pairs = [('real train', self.train, real_train)]
    if self.test is not None and real_test is not None:
      pairs.append(('real test', self.test, real_test))
    for name in self.sets:
      if name not in synthetic:
        raise LabelError(f'labels given for {name!r}, which is not one of the sets '
                         f'({", ".join(synthetic)}).')
      pairs.append((name, self.sets[name], synthetic[name]))
    for name, lab, x in pairs:
      if lab.shape != (len(x),):
        raise LabelError(f'{name}: {lab.size} {self.column} labels for {len(x)} haplotypes; '
                         'give one per haplotype.')
    known = set(self.train.tolist()) - {''}
    if not known:
      raise LabelError(f'the real train split has no {self.column} labels to compare the AGs '
                       f'with: use real data with a {self.column} column (prepare_data.py '
                       '--panel).')
    for name in self.sets:
      unknown = sorted(set(self.sets[name].tolist()) - known - {''})
      if unknown:
        raise LabelError(f'{name}: {self.column} {unknown[0]!r} has no real train haplotypes '
                         f'(the real labels are {", ".join(sorted(known))}).')


def classifier(real_train: np.ndarray, labels: np.ndarray, seed: int = 0):
  """A function haplotypes -> label names: logistic regression on the first CLASSIFIER_PCS PCs
  of the labelled real train haplotypes."""
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  keep = labels != ''
  x, y = real_train[keep], labels[keep]
  mean, comps = stats.pca_fit(x, min(CLASSIFIER_PCS, *x.shape), seed=seed)
  model = LogisticRegression(max_iter=5000).fit(stats.pca_project(x, mean, comps), y)
  return lambda g: model.predict(stats.pca_project(g, mean, comps)).astype(str)


def ld_r(real: np.ndarray, synth: np.ndarray, ld_max_distance: int, max_haplotypes: int,
         rng: np.random.Generator) -> float:
  """The evaluation's LD r (evaluation.evaluate_set) of one label's haplotypes."""
  n = min(len(real), len(synth), max_haplotypes)
  keep = stats.polymorphic(real, synth)
  r2_real, r2_syn, _ = stats.ld_compare(real, synth, keep, ld_max_distance, n, rng)
  return stats.pearson(r2_real, r2_syn)


def evaluate(real_train: np.ndarray, synth: np.ndarray, labels: Labels, synth_labels, *,
             real_test: np.ndarray | None = None, classify=None, privacy_figures: bool = True,
             ld_max_distance: int = stats.LD_MAX_DISTANCE, max_haplotypes: int = 5000,
             privacy_draws: int = 5, seed: int = 0) -> tuple[dict, dict]:
  """({label: figures}, {'names', 'confusion'}) for one labelled set (module docstring)."""
  classify = classify or classifier(real_train, labels.train, seed)
  names = sorted(set(labels.train.tolist()) - {''})
  af_pooled = stats.allele_freq(real_train)
  assigned = classify(synth)
  synth_labels = np.asarray(synth_labels).astype(str)
  out = {}
  for k, name in enumerate(names):
    mine = synth_labels == name
    if mine.sum() < 2:
      continue
    rng = np.random.default_rng([seed, k])
    ags, real = synth[mine], real_train[labels.train == name]
    af_real = stats.allele_freq(real)
    m = {'num_haplotypes': int(mine.sum()), 'num_real_train': len(real),
         'af_r': stats.pearson(af_real, stats.allele_freq(ags)),
         'af_r_pooled': stats.pearson(af_real, af_pooled),
         'ld_r': ld_r(real, ags, ld_max_distance, max_haplotypes, rng),
         'accuracy': float(np.mean(assigned[mine] == name))}
    m['fst'], m['fst_se'] = stats.hudson_fst(ags, real)
    test = None if real_test is None or labels.test is None else real_test[labels.test == name]
    if test is not None:
      m['num_real_test'] = len(test)
    if privacy_figures and test is not None and len(test) >= 2:
      m.update(privacy.figures(real, test, ags, draws=privacy_draws,
                               max_haplotypes=max_haplotypes, seed=seed))
    out[name] = m
  index = {n: i for i, n in enumerate(names)}
  confusion = np.zeros((len(names), len(names)), np.int64)
  for want, got in zip(synth_labels.tolist(), assigned.tolist()):
    if want in index:
      confusion[index[want], index[got]] += 1
  return out, {'names': names, 'confusion': confusion}
