"""Privacy statistics with their standard errors, sizes and a verdict (docs/privacy.md).

`figures(train, test, synth)` is what the evaluation, the generation gate and the cohort
studies call:

  aats_test            AATS of the AGs against held-out haplotypes, mean over `draws` draws
  privacy_aats_train   AATS against the train haplotypes at the same size, mean over draws
  privacy_loss(_se)    aats_test - privacy_aats_train and its standard error
  privacy_loss_n       real haplotypes per side of one draw (= AGs per side); _n_test,
                       _n_train, _n_ags the distinct rows all draws used (the SE rests on them)
  mia_auc(_se)         distance-to-closest-AG membership AUC (train vs held-out) and its
                       DeLong standard error; mia_n_members, mia_n_nonmembers
  privacy_verdict      'no evidence of leakage' | 'leaks' | 'too few haplotypes to conclude
                       (need ~N)'; privacy_need_haplotypes N (0 when concluded)

Sets of any size are compared: each draw takes `n` = the smallest set (at most
`max_haplotypes`) from every set, so more AGs or more held-out haplotypes than train ones shrink
their side of the variance instead of being left out.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from ag_jax.evaluate import audit
from ag_jax.evaluate import stats

# Confidence bounds are estimate ± Z SE: the audit's "two standard errors" (~95%).
Z = 2.0
NO_LEAK, LEAKS = 'no evidence of leakage', 'leaks'
NEED_CAP = 100  # a verdict needing more than this many times the haplotypes names no number


def aats_var(aa_truth: float, aa_syn: float, n_real: int, n_synth: int) -> float:
  """Variance of AATS = (AA_truth + AA_syn) / 2 with each a mean of independent 0/1 outcomes,
  one per distinct real (n_real) and synthetic (n_synth) haplotype behind it."""
  return (aa_truth * (1 - aa_truth) / n_real + aa_syn * (1 - aa_syn) / n_synth) / 4


def auc_delong(members: np.ndarray, nonmembers: np.ndarray) -> tuple[float, float]:
  """AUC = P(member score > non-member score) + P(tie) / 2 and its DeLong standard error
  (placement values with midranks, so integer distances with ties are handled)."""
  n1, n2 = len(members), len(nonmembers)
  ranks = scipy.stats.rankdata(np.concatenate([members, nonmembers]))
  v10 = (ranks[:n1] - scipy.stats.rankdata(members)) / n2  # per member: share of non-members below
  v01 = 1 - (ranks[n1:] - scipy.stats.rankdata(nonmembers)) / n1
  auc = float(v10.mean())
  if n1 < 2 or n2 < 2:
    return auc, float('nan')
  return auc, float(math.sqrt(v10.var(ddof=1) / n1 + v01.var(ddof=1) / n2))


def membership(synth: np.ndarray, members: np.ndarray, nonmembers: np.ndarray) -> dict:
  """Distance-to-closest-record attack: a real haplotype's score is minus its Hamming distance
  to the nearest AG (a memorised member sits closer); every row of each set is used."""
  auc, se = auc_delong(-stats.nearest(members, synth), -stats.nearest(nonmembers, synth))
  return {'mia_auc': auc, 'mia_auc_se': se, 'mia_n_members': len(members),
          'mia_n_nonmembers': len(nonmembers)}


def _draw(num_rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
  return np.arange(num_rows) if num_rows <= n else np.sort(rng.choice(num_rows, n, replace=False))


def privacy_loss(train: np.ndarray, test: np.ndarray, synth: np.ndarray, *, draws: int = 5,
                 max_haplotypes: int = 5000, rng: np.random.Generator | None = None) -> dict:
  """AATS against held-out minus AATS against train haplotypes, at one size n per draw.

  Each of `draws` draws takes n rows of each set (fresh AGs for each side); with nothing to
  draw (every set of size n) one draw is all there is. The standard error treats every distinct
  haplotype that entered a side as one independent outcome (`aats_var`).
  """
  rng = rng if rng is not None else np.random.default_rng(0)
  n = min(len(train), len(test), len(synth), max_haplotypes)
  if max(len(train), len(test), len(synth)) == n:
    draws = 1
  used = {k: set() for k in ('test', 'train', 'ags_test', 'ags_train')}
  sides = {'test': [], 'train': []}
  for _ in range(draws):
    for side, real in (('test', test), ('train', train)):
      r, s = _draw(len(real), n, rng), _draw(len(synth), n, rng)
      used[side].update(r.tolist())
      used[f'ags_{side}'].update(s.tolist())
      sides[side].append(stats.aats(real[r], synth[s]))
  out = {'privacy_loss_n': n, 'privacy_draws': draws,
         'privacy_loss_n_test': len(used['test']), 'privacy_loss_n_train': len(used['train']),
         'privacy_loss_n_ags': len(used['ags_test'] | used['ags_train'])}
  var = 0.0
  for side in ('test', 'train'):
    t, s = (float(np.mean([a[k] for a in sides[side]])) for k in ('aa_truth', 'aa_syn'))
    out['aats_test' if side == 'test' else 'privacy_aats_train'] = (t + s) / 2
    var += aats_var(t, s, len(used[side]), len(used[f'ags_{side}']))
  out['privacy_loss'] = out['aats_test'] - out['privacy_aats_train']
  out['privacy_loss_se'] = math.sqrt(var)
  return out


def verdict(estimate: float, se: float, limit: float, n: int) -> tuple[str, int]:
  """('no evidence of leakage', 0) when estimate + Z se < limit, ('leaks', 0) when
  estimate - Z se > limit, else 'too few haplotypes to conclude (need ~N)' and N: the size at
  which Z se, shrinking as 1/sqrt(n), would fit between the estimate and the limit."""
  if not (np.isfinite(estimate) and np.isfinite(se)):
    return 'too few haplotypes to conclude', 0
  if estimate + Z * se < limit:
    return NO_LEAK, 0
  if estimate - Z * se > limit:
    return LEAKS, 0
  gap = abs(limit - estimate)
  need = math.ceil(round(n * (Z * se / gap) ** 2, 6)) if gap > 0 else 0
  # An estimate on (or within a tenth of Z SE of) the limit is not concluded by more data
  # alone: the N of the formula would be absurd (a 0.0199 loss against 0.02 needs millions).
  if not need or need > NEED_CAP * n:
    return (f'too few haplotypes to conclude (the estimate {estimate:.3f} sits on the limit '
            f'{limit:g}: more than {NEED_CAP}x these haplotypes)'), need
  return f'too few haplotypes to conclude (need ~{need:,})', need


def conclude(m: dict) -> dict:
  """The set's verdict from its privacy_loss and mia_auc (each against the audit's limit):
  leaks if either does, no evidence if both are clear, else too few (the larger need)."""
  parts = []
  if 'privacy_loss' in m:
    parts.append(verdict(m['privacy_loss'], m['privacy_loss_se'], audit.PRIVACY_LOSS_LIMIT,
                         m['privacy_loss_n']))
  if 'mia_auc' in m:
    parts.append(verdict(m['mia_auc'], m['mia_auc_se'], audit.MIA_AUC_LIMIT,
                         min(m['mia_n_members'], m['mia_n_nonmembers'])))
  if not parts:
    return {}
  texts = [p[0] for p in parts]
  if LEAKS in texts:
    return {'privacy_verdict': LEAKS, 'privacy_need_haplotypes': 0}
  if all(t == NO_LEAK for t in texts):
    return {'privacy_verdict': NO_LEAK, 'privacy_need_haplotypes': 0}
  worst = max((p for p in parts if p[0] != NO_LEAK), key=lambda p: (p[1] == 0, p[1]))
  return {'privacy_verdict': worst[0], 'privacy_need_haplotypes': worst[1]}


def figures(train: np.ndarray, test: np.ndarray, synth: np.ndarray, *, draws: int = 5,
            max_haplotypes: int = 5000, seed: int = 0) -> dict:
  """privacy_loss, mia_auc (each with SE and sizes) and the verdict: the module docstring."""
  rng = np.random.default_rng([seed, 48])
  m = privacy_loss(train, test, synth, draws=draws, max_haplotypes=max_haplotypes, rng=rng)
  members = train[_draw(len(train), max_haplotypes, rng)]
  nonmembers = test[_draw(len(test), max_haplotypes, rng)]
  m.update(membership(synth, members, nonmembers))
  m.update(conclude(m))
  return m


def pool(parts: list[dict]) -> dict:
  """One estimate from disjoint held-out sets (k-fold): each figure the mean of the parts
  weighted by their held-out sizes, its SE from theirs (the parts independent), n their sum."""
  w = np.array([p['mia_n_nonmembers'] for p in parts], np.float64)
  w /= w.sum()
  m = {'folds': len(parts)}
  for key in ('privacy_loss', 'mia_auc'):
    m[key] = float(np.dot(w, [p[key] for p in parts]))
    m[f'{key}_se'] = float(np.sqrt(np.dot(w ** 2, [p[f'{key}_se'] ** 2 for p in parts])))
  # Sizes: the SE shrinks as if n real haplotypes per side had entered one estimate.
  m['privacy_loss_n'] = int(sum(p['privacy_loss_n'] for p in parts))
  m['mia_n_members'] = int(sum(p['mia_n_members'] for p in parts))
  m['mia_n_nonmembers'] = int(sum(p['mia_n_nonmembers'] for p in parts))
  m.update(conclude(m))
  return m
