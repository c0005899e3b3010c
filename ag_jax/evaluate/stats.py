"""The papers' statistics (docs/papers.md §5) and the privacy audit, chunked for scale.

Inputs are haplotype matrices uint8 [n, snps] in {0, 1}. Quadratic pieces (Hamming distances
between sets, LD within a band of SNPs) run as jitted JAX matmuls over row/column chunks, so
5,000 x 65,535 sets fit in a few GiB.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# ------------------------------------------------------------------------ allele frequency


def allele_freq(x: np.ndarray) -> np.ndarray:
  return np.asarray(x, np.float64).mean(axis=0)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.size < 2 or a.std() == 0 or b.std() == 0:
    return float('nan')
  return float(np.corrcoef(a, b)[0, 1])


# ------------------------------------------------------------------------------------- LD


@functools.partial(jax.jit, static_argnames=('band',))
def _band_r2(z: jax.Array, start: jax.Array, band: int) -> jax.Array:
  """r^2 between SNP block [start, start+band) and [start, start+2 band): [band, 2 band]."""
  n = z.shape[0]
  a = jax.lax.dynamic_slice_in_dim(z, start, band, axis=1)
  b = jax.lax.dynamic_slice_in_dim(z, start, 2 * band, axis=1)
  r = (a.T @ b) / n
  return r * r


def _standardise(x: np.ndarray, keep: np.ndarray, pad: int) -> jax.Array:
  x = np.asarray(x, np.float32)[:, keep]
  mu, sd = x.mean(0), x.std(0)
  z = (x - mu) / np.where(sd > 0, sd, 1)
  return jnp.asarray(np.pad(z, ((0, 0), (0, pad))))


def fixed_sites(af_real: np.ndarray, af_syn: np.ndarray, num_syn: int) -> tuple[float, float]:
  """(fixed, expected): the fraction of the SNPs polymorphic in the real set that the synthetic
  set has one allele of (rare alleles a generator never draws), and what a set of `num_syn`
  haplotypes drawn from the real frequencies would fix by chance, (1 - f)^N + f^N per site.
  NaN when no SNP is polymorphic in the real set."""
  seg = (af_real > 0) & (af_real < 1)
  if not seg.any():
    return float('nan'), float('nan')
  f = np.asarray(af_real, np.float64)[seg]
  one_allele = (af_syn[seg] == 0) | (af_syn[seg] == 1)
  return float(one_allele.mean()), float(np.mean((1 - f) ** num_syn + f ** num_syn))


# SNP pairs up to this many columns apart (among the sites polymorphic in both sets) enter
# ld_r: the evaluation's default, which the training probe (train.loop.LdProbe) also uses.
LD_MAX_DISTANCE = 200


def subsample_rows(num_rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
  """Sorted rows of a seeded draw of n of num_rows (all rows, no draw, when n >= num_rows)."""
  if num_rows <= n:
    return np.arange(num_rows)
  return np.sort(rng.choice(num_rows, n, replace=False))


def subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
  return x if len(x) <= n else x[subsample_rows(len(x), n, rng)]


def ld_compare(real: np.ndarray, synth: np.ndarray, keep: np.ndarray, max_distance: int,
               n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(r^2 real, r^2 synthetic, pair index) over the pairs of `keep` sites within max_distance,
  each set a seeded draw of at most n rows: the evaluation's ld_r is the Pearson r of the two."""
  r2_real, idx = ld_pairs(subsample(real, n, rng), keep, max_distance)
  r2_syn, _ = ld_pairs(subsample(synth, n, rng), keep, max_distance)
  return r2_real, r2_syn, idx


def ld_pairs(x: np.ndarray, keep: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
  """r^2 for all pairs (i < j) of kept SNPs with j - i <= max_distance (SNP index among kept).

  Returns (r2 [pairs], (i, j) index pairs [pairs, 2]) in a fixed order, so two sets give
  aligned vectors.
  """
  m = int(keep.sum())
  if m < 2:  # e.g. a collapsed generator: every SNP fixed in the AGs, no pair to correlate
    return np.zeros(0, np.float32), np.zeros((0, 2), np.int64)
  band = max(1, min(max_distance, m))
  nblocks = -(-m // band)
  z = _standardise(x, keep, nblocks * band + band - m)
  ii, jj = np.meshgrid(np.arange(band), np.arange(2 * band), indexing='ij')
  out_r2, out_idx = [], []
  for blk in range(nblocks):
    s = blk * band
    r2 = np.asarray(_band_r2(z, s, band))
    gi, gj = ii + s, jj + s
    sel = (gj > gi) & (gj - gi <= max_distance) & (gj < m) & (gi < m)
    out_r2.append(r2[sel])
    out_idx.append(np.stack([gi[sel], gj[sel]], axis=1))
  return np.concatenate(out_r2), np.concatenate(out_idx)


def polymorphic(*sets: np.ndarray) -> np.ndarray:
  """SNPs not fixed in any of the sets (r^2 is undefined at fixed sites)."""
  keep = None
  for x in sets:
    f = allele_freq(x)
    k = (f > 0) & (f < 1)
    keep = k if keep is None else keep & k
  return keep


def _binned(r2: np.ndarray, key: np.ndarray, edges) -> tuple[np.ndarray, ...]:
  """Mean, SEM and count of r2 per bin [edges[b], edges[b+1]) of key; keys outside dropped."""
  which = np.digitize(key, edges) - 1
  mean, sem, count = [], [], []
  for b in range(len(edges) - 1):
    v = r2[which == b]
    count.append(v.size)
    mean.append(v.mean() if v.size else np.nan)
    sem.append(v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan)
  return np.array(mean), np.array(sem), np.array(count)


def ld_decay(r2: np.ndarray, idx: np.ndarray, positions: np.ndarray, bins: np.ndarray):
  """Mean r^2 and SEM per bp-distance bin: (mean [nbins], sem [nbins], count [nbins])."""
  return _binned(r2, np.abs(positions[idx[:, 1]] - positions[idx[:, 0]]), bins)


MAF_EDGES = (0.0, 0.01, 0.05, 0.2, 0.5)


def ld_by_maf(r2: np.ndarray, idx: np.ndarray, maf: np.ndarray, edges=MAF_EDGES):
  """Mean r^2 per bin of the pair's rarer minor-allele frequency: (mean [bins], count [bins]).

  `maf` is per kept SNP (the index space of `idx`), normally the real train split's, so two
  sets' curves bin the same pairs. The last bin includes MAF 0.5.
  """
  pair = np.minimum(maf[idx[:, 0]], maf[idx[:, 1]]) if len(idx) else np.zeros(0)
  closed = np.append(edges[:-1], np.nextafter(edges[-1], np.inf))  # MAF 0.5 in the last bin
  mean, _, count = _binned(r2, pair, closed)
  return mean, count


def r2_matrix(x: np.ndarray) -> np.ndarray:
  """Full r^2 matrix (for heat maps of a few hundred SNPs); NaN where a site is fixed."""
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.corrcoef(np.asarray(x, np.float64), rowvar=False) ** 2


# -------------------------------------------------------------------------------- distances


@jax.jit
def _hamming_block(a: jax.Array, b: jax.Array) -> jax.Array:
  """Hamming distances [len(a), len(b)] of 0/1 rows: a(1-b) + (1-a)b summed over SNPs."""
  a = a.astype(jnp.float32)
  b = b.astype(jnp.float32)
  return a.sum(1)[:, None] + b.sum(1)[None, :] - 2 * a @ b.T


def hamming(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
  """All Hamming distances between the rows of a and b: float32 [len(a), len(b)]."""
  out = np.empty((a.shape[0], b.shape[0]), np.float32)
  bj = jnp.asarray(b, jnp.uint8)
  for i in range(0, a.shape[0], chunk):
    out[i:i + chunk] = np.asarray(_hamming_block(jnp.asarray(a[i:i + chunk], jnp.uint8), bj))
  return np.rint(out)


def nearest(a: np.ndarray, b: np.ndarray, exclude_self: bool = False, chunk: int = 512) -> np.ndarray:
  """Distance from each row of a to its nearest row of b (excluding itself if a is b)."""
  out = np.empty(a.shape[0], np.float32)
  bj = jnp.asarray(b, jnp.uint8)
  for i in range(0, a.shape[0], chunk):
    d = np.rint(np.asarray(_hamming_block(jnp.asarray(a[i:i + chunk], jnp.uint8), bj)))
    if exclude_self:
      rows = np.arange(d.shape[0])
      d[rows, rows + i] = np.inf
    out[i:i + chunk] = d.min(axis=1)
  return out


def within_distances(x: np.ndarray) -> np.ndarray:
  d = hamming(x, x)
  return d[np.triu_indices(len(x), k=1)]


def aats(real: np.ndarray, synth: np.ndarray, seed: int = 0) -> dict[str, float]:
  """Nearest-neighbour adversarial accuracy (Yale et al.; docs/papers.md §5.5) on equal-size sets:
  the larger set is drawn down to the smaller (seeded, without replacement); `n` is the size
  used (and `rows_real`, `rows_synth` the rows drawn)."""
  n = min(len(real), len(synth))
  rng = np.random.default_rng(seed)
  rows_real, rows_synth = (np.arange(len(x)) if len(x) == n else
                           np.sort(rng.choice(len(x), n, replace=False)) for x in (real, synth))
  real, synth = real[rows_real], synth[rows_synth]
  d_tt = nearest(real, real, exclude_self=True)
  d_ss = nearest(synth, synth, exclude_self=True)
  d_ts = nearest(real, synth)
  d_st = nearest(synth, real)
  aa_truth = float(np.mean(d_ts > d_tt))
  aa_syn = float(np.mean(d_st > d_ss))
  return {'aats': (aa_truth + aa_syn) / 2, 'aa_truth': aa_truth, 'aa_syn': aa_syn,
          'd_tt': d_tt, 'd_ss': d_ss, 'd_ts': d_ts, 'd_st': d_st, 'n': n,
          'rows_real': rows_real, 'rows_synth': rows_synth}


def exact_copy_rate(synth: np.ndarray, train: np.ndarray) -> float:
  """Fraction of AGs identical to some training haplotype."""
  return float(np.mean(nearest(synth, train) == 0))


# -------------------------------------------------------------------------------------- PCA


def pca_fit(real: np.ndarray, k: int = 6, seed: int = 0):
  """PCA of the real set (centred, no scaling, as sklearn): returns (mean, components [k, p])."""
  from sklearn.decomposition import PCA  # pylint: disable=g-import-not-at-top
  solver = 'full' if real.shape[1] <= 2000 else 'randomized'
  pca = PCA(n_components=k, svd_solver=solver, random_state=seed).fit(np.asarray(real, np.float32))
  return pca.mean_, pca.components_


def pca_project(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
  return (np.asarray(x, np.float32) - mean) @ components.T


def ot_2d(a: np.ndarray, b: np.ndarray) -> float:
  """Exact optimal-transport (earth mover's) distance between two equal-size 2-D point sets,
  Euclidean ground cost, by the assignment problem (uniform weights)."""
  from scipy.optimize import linear_sum_assignment  # pylint: disable=g-import-not-at-top
  from scipy.spatial.distance import cdist  # pylint: disable=g-import-not-at-top
  cost = cdist(a, b)
  r, c = linear_sum_assignment(cost)
  return float(cost[r, c].mean())


# ------------------------------------------------------------------------ 3-point correlation

GAPS = (1, 4, 16, 64, 256, 512, 1024)


def triplets(num_snps: int, per_gap: int = 1000, seed: int = 3) -> np.ndarray:
  """SNP triplets (x, x+g+1, x+2(g+1)) for each gap g that fits, plus fully random ones."""
  rng = np.random.default_rng(seed)
  out = []
  for g in GAPS:
    span = 2 * (g + 1)
    if num_snps - span <= 0:
      continue
    x = rng.integers(0, num_snps - span, per_gap)
    out.append(np.stack([x, x + g + 1, x + span], axis=1))
  out.append(np.sort(np.stack([rng.choice(num_snps, 3, replace=False) for _ in range(per_gap)]), 1))
  return np.concatenate(out)


def three_point(x: np.ndarray, trip: np.ndarray) -> np.ndarray:
  """Connected 3-point correlations C3(a, b, c) for all 8 allele combinations: [len(trip), 8]."""
  x = np.asarray(x, np.float64)
  out = []
  for a in (0, 1):
    for b in (0, 1):
      for c in (0, 1):
        i = x[:, trip[:, 0]] == a
        j = x[:, trip[:, 1]] == b
        k = x[:, trip[:, 2]] == c
        f0, f1, f2 = i.mean(0), j.mean(0), k.mean(0)
        f01, f12, f02 = (i & j).mean(0), (j & k).mean(0), (i & k).mean(0)
        f012 = (i & j & k).mean(0)
        out.append(f012 - f01 * f2 - f12 * f0 - f02 * f1 + 2 * f0 * f1 * f2)
  return np.stack(out, axis=1)


# ------------------------------------------------------------- population genetics (allel)


def allele_counts(x: np.ndarray):
  """scikit-allel AlleleCountsArray [snps, 2] of a 0/1 haplotype matrix [n, snps]."""
  import allel  # pylint: disable=g-import-not-at-top
  return allel.HaplotypeArray(np.ascontiguousarray(np.asarray(x, np.int8).T)).count_alleles(
      max_allele=1)


# Haplotypes every set's site frequency spectrum is projected to (or fewer, for smaller sets).
SFS_SIZE = 100


def sfs_folded_projected(x: np.ndarray, m: int) -> np.ndarray:
  """Folded site frequency spectrum of the 0/1 matrix x [n, snps] projected to m haplotypes:
  the expected number of SNPs whose minor allele a random draw of m of the n haplotypes
  (without replacement, hypergeometric) carries i times, i = 0..m // 2; sums to the SNP
  count. Exact, no random draw, so sets of different sizes compare (their raw spectra
  differ by size alone). At m = n it is scikit-allel's sfs_folded."""
  import allel  # pylint: disable=g-import-not-at-top
  n = len(x)
  if not 1 <= m <= n:
    raise ValueError(f'cannot project a set of {n} haplotypes to {m}.')
  ac = allele_counts(x)
  unfolded_n = allel.sfs(ac[:, 1], n=n)  # SNPs by count k of allele 1, k = 0..n
  k = np.flatnonzero(unfolded_n)[:, None]  # the counts that occur
  unfolded_m = unfolded_n[k[:, 0]] @ _hypergeom_pmf(n, k, m, np.arange(m + 1)[None, :])
  j = np.arange(m + 1)
  folded = np.zeros(m // 2 + 1)
  np.add.at(folded, np.minimum(j, m - j), unfolded_m)
  return folded


def _hypergeom_pmf(n: int, k: np.ndarray, m: int, j: np.ndarray) -> np.ndarray:
  """P(j of k marked among m drawn from n), by log-gamma (scipy's hypergeom.pmf is ~100x
  slower on these grids); 0 where j is impossible."""
  from scipy.special import gammaln  # pylint: disable=g-import-not-at-top
  lc = lambda a, b: gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)
  ok = (j <= k) & (m - j <= n - k)
  with np.errstate(invalid='ignore'):
    logp = lc(k, j) + lc(n - k, m - j) - lc(n, m)
  return np.where(ok, np.exp(np.where(ok, logp, 0)), 0.0)


def sfs_distance(a: np.ndarray, b: np.ndarray) -> float:
  """Total-variation distance between two spectra as distributions over classes (0: equal,
  1: disjoint)."""
  return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def nucleotide_diversity(x: np.ndarray, positions: np.ndarray | None = None) -> tuple[float, str]:
  """(pi, unit). With the SNPs' bp positions on one contig: scikit-allel's
  sequence_diversity, mean pairwise differences per bp over [first, last position] ('per_bp';
  the SNPs that are not polymorphic in any set still count their bp). Otherwise the mean over
  SNPs of the mean pairwise difference ('per_site'). Both are unbiased for sample size."""
  import allel  # pylint: disable=g-import-not-at-top
  ac = allele_counts(x)
  if positions is not None:
    pos = np.asarray(positions, np.int64)
    if pos.size > 1 and np.all(np.diff(pos) > 0):
      pi = allel.sequence_diversity(pos, ac, start=int(pos[0]), stop=int(pos[-1]))
      return float(pi), 'per_bp'
  return float(np.mean(allel.mean_pairwise_difference(ac))), 'per_site'


def hudson_fst(x: np.ndarray, y: np.ndarray, blocks: int = 20) -> tuple[float, float]:
  """(Fst, standard error): Hudson's Fst between two haplotype sets, ratio of averages over the
  SNPs polymorphic in either (scikit-allel's average_hudson_fst, standard error by block
  jackknife over `blocks` blocks of adjacent SNPs). ~0 for two samples of one population."""
  import allel  # pylint: disable=g-import-not-at-top
  ac1, ac2 = allele_counts(x), allele_counts(y)
  seg = (ac1[:, 1] + ac2[:, 1] > 0) & (ac1[:, 0] + ac2[:, 0] > 0)
  if seg.sum() < 2 * blocks:
    return float('nan'), float('nan')
  fst, se, _, _ = allel.average_hudson_fst(ac1[seg], ac2[seg], blen=int(seg.sum()) // blocks)
  return float(fst), float(se)
