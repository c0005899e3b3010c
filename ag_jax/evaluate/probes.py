"""Probes of fresh AGs logged during training (train.sample_every): the evaluation's
statistics on a sample, cheap enough to run every few hundred steps.
"""

from __future__ import annotations

import math

import numpy as np

from ag_jax.evaluate import privacy
from ag_jax.evaluate import stats


class LdProbe:
  """LD r of fresh AGs, computed as the evaluation's ld_r (ag_jax.evaluate) is, on a sample of
  its pairs: Pearson r between the AGs' r^2 and the train split's over SNP pairs at most
  `max_gap` columns apart among the sites polymorphic in both (default: the evaluation's
  stats.LD_MAX_DISTANCE), `num_pairs` of them drawn at random from that set, within the first
  `max_snps` SNPs; the reference is `num` train haplotypes, kept for the run (100 MB at most).

  A generator that fixes sites (never draws their rare allele) is measured over wider spans,
  as in the evaluation: an earlier probe took pairs of raw columns up to 50 apart and read
  0.63 where the evaluation gave 0.39 (an AGBL4 WGAN that fixed a third of the SNPs and made
  spurious LD 51-200 SNPs apart). AF r alone cannot tell a generator that learnt only the
  allele frequencies (independent SNPs, LD r ~0) from a good one: a WGAN whose critic sees
  0/1 draws reached AF r 0.98 with LD r 0.00 on the 805 data."""

  def __init__(self, dataset, seed: int, num: int = 1000, num_pairs: int = 10_000,
               max_gap: int | None = None, max_snps: int = 100_000):
    self.max_gap = stats.LD_MAX_DISTANCE if max_gap is None else int(max_gap)
    self.num_snps = min(dataset.num_snps, max_snps)
    self.seed, self.num_pairs = seed, num_pairs
    rng = np.random.default_rng(seed)
    rows = dataset.train_rows
    rows = np.sort(rng.choice(rows, min(num, rows.size), replace=False))
    self.real = dataset.read(rows, slice(0, self.num_snps))

  def pairs(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column pairs (i, j), i < j, drawn uniformly from the pairs of kept columns at most
    `max_gap` kept columns apart (the evaluation's pair set); the same draw for the same
    `keep`, so successive calls differ only where the AGs' polymorphic sites do."""
    cols = np.flatnonzero(keep)
    m = cols.size
    if m < 2:
      return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gaps = np.arange(1, min(self.max_gap, m - 1) + 1)
    rng = np.random.default_rng(self.seed)
    d = rng.choice(gaps, self.num_pairs, p=(m - gaps) / (m - gaps).sum())  # pairs per gap
    i = np.minimum((rng.random(self.num_pairs) * (m - d)).astype(np.int64), m - d - 1)
    return cols[i], cols[i + d]

  def __call__(self, ags: np.ndarray) -> float:
    ags = np.asarray(ags)[:, :self.num_snps]
    i, j = self.pairs(stats.polymorphic(self.real, ags))
    return pearson_or_zero(pair_r2(ags, i, j), pair_r2(self.real, i, j))


class PrivacyProbe:
  """Privacy loss and MIA AUC (ag_jax.evaluate.privacy) of fresh AGs against `num` seeded
  haplotypes of the train split (seen) and of the held-out split (unseen), kept for the run:
  how close the generator is drawing to the haplotypes it trains on, as it trains. With 1,000
  AGs and 1,000 haplotypes per side its standard error is ~0.015 (logged beside it). It reads
  the held-out split, so it is a monitor: nothing in training acts on it (a decision taken on
  it would bias the final audit, which uses the same haplotypes)."""

  def __init__(self, dataset, seed: int, num: int = 1000, max_snps: int = 100_000):
    rng = np.random.default_rng([seed, 48])
    cols = slice(0, min(dataset.num_snps, max_snps))
    pick = lambda rows: np.sort(rng.choice(rows, min(num, rows.size), replace=False))
    self.seen_rows, self.unseen_rows = pick(dataset.train_rows), pick(dataset.test_rows)
    self.seen = dataset.read(self.seen_rows, cols)
    self.unseen = dataset.read(self.unseen_rows, cols)
    self.num_snps = cols.stop

  def __call__(self, ags: np.ndarray, seed: int = 0) -> dict[str, float]:
    m = privacy.figures(self.seen, self.unseen, np.asarray(ags)[:, :self.num_snps], draws=1,
                        seed=seed)
    return {'probe_privacy_loss': m['privacy_loss'], 'probe_privacy_loss_se': m['privacy_loss_se'],
            'probe_mia_auc': m['mia_auc']}


def pair_r2(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
  """r^2 between 0/1 columns i[k] and j[k] of x (NaN where either is monomorphic)."""
  a, b = x[:, i].astype(np.float32), x[:, j].astype(np.float32)
  pa, pb = a.mean(0), b.mean(0)
  cov = (a * b).mean(0) - pa * pb
  var = pa * (1 - pa) * pb * (1 - pb)
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where(var > 0, cov ** 2 / var, np.nan)


def pearson_or_zero(a: np.ndarray, b: np.ndarray) -> float:
  """The evaluation's Pearson r, 0 where it is undefined (a constant side), so a collapsed
  generator logs 0 rather than NaN."""
  r = stats.pearson(a, b)
  return 0.0 if math.isnan(r) else r


def sample_stats(ags: np.ndarray, allele_freq: np.ndarray, ld_probe: LdProbe | None = None,
                 privacy_probe: PrivacyProbe | None = None) -> dict[str, float]:
  """sample_af_r, sample_fixed_sites (sample_ld_r with `ld_probe`, the probe_* privacy figures
  with `privacy_probe`) of fresh AGs (uint8 [n, num_snps]) against the train split's allele
  frequencies."""
  af, real = ags.mean(0), np.asarray(allele_freq)
  # The evaluation's fixed_sites on these AGs (rare alleles the generator never draws);
  # chance fixes ~0 of them at 1,000 AGs unless many train alleles are rarer than 1 in 1,000.
  fixed, _ = stats.fixed_sites(real, af, len(ags))
  out = {'sample_af_r': pearson_or_zero(af, real),
         'sample_fixed_sites': 0.0 if math.isnan(fixed) else fixed}
  if ld_probe is not None:
    out['sample_ld_r'] = ld_probe(ags)
  if privacy_probe is not None:
    out.update(privacy_probe(ags))
  return out
