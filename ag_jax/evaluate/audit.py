"""The evaluation's audit: plain-language warnings when a set crosses a privacy, copy or
diversity limit (printed by experiments/evaluate.py, listed in report.html)."""

from __future__ import annotations

# Limits of the audit (`findings`): the quality issue's privacy limits, and nearest-neighbour
# accuracies a real held-out split never comes near (0.47-0.51 on the bundled data).
PRIVACY_LOSS_LIMIT = 0.02
MIA_AUC_LIMIT = 0.55
AA_LIMIT = 0.9
# Fixed sites above what chance leaves at the set's size (fixed_sites_expected).
FIXED_SITES_EXCESS = 0.05


def findings(m: dict, reference: dict | None = None) -> list[str]:
  """Plain-language warnings about one evaluated set: privacy leaks, copies, lost diversity,
  lost alleles.

  `m` is one set's metrics (`evaluate_set`); `reference` the real held-out split's
  (`real_test`), whose exact-copy rate is what real data repeat by themselves. Empty when
  nothing is wrong by these limits, which are no proof of privacy.
  """
  out = []
  loss, se = m.get('privacy_loss'), m.get('privacy_loss_se', 0.0)
  if loss is not None and loss > PRIVACY_LOSS_LIMIT and loss > 2 * se:
    out.append(f'privacy: AGs are nearer the training haplotypes than held-out ones '
               f'(privacy_loss {loss:.3f} ± {se:.3f} > {PRIVACY_LOSS_LIMIT}).')
  for label, b in m.get('by_label', {}).items():  # small groups leak first
    loss, se = b.get('privacy_loss'), b.get('privacy_loss_se', 0.0)
    if loss is not None and loss > PRIVACY_LOSS_LIMIT and loss > 2 * se:
      out.append(f'privacy ({label}): the AGs of {label} are nearer its training haplotypes '
                 f'than its held-out ones (privacy_loss {loss:.3f} ± {se:.3f} > '
                 f'{PRIVACY_LOSS_LIMIT}; {b["privacy_loss_n"]} haplotypes per side).')
  copies = m.get('exact_copy_rate', 0.0)
  base = (reference or {}).get('exact_copy_rate', 0.0)
  if copies > base:
    out.append(f'copies: {copies:.1%} of AGs are identical to a training haplotype '
               f'(held-out real haplotypes: {base:.1%}).')
  if m.get('mia_auc', 0.5) > MIA_AUC_LIMIT:
    out.append(f'membership: distance-to-closest-record attack AUC {m["mia_auc"]:.3f} > '
               f'{MIA_AUC_LIMIT}.')
  if m.get('aa_syn', 0.5) > AA_LIMIT:
    out.append(f'diversity: {m["aa_syn"]:.1%} of AGs have another AG nearer than any real '
               f'haplotype (aa_syn; real data ~50%): the AGs clump, as in mode collapse '
               f'(distances.png).')
  if m.get('aa_truth', 0.5) > AA_LIMIT:
    out.append(f'realism: {m["aa_truth"]:.1%} of real haplotypes have another real one nearer '
               f'than any AG (aa_truth; real data ~50%): the AGs lie away from the real data.')
  fixed, chance = m.get('fixed_sites'), m.get('fixed_sites_expected')
  if fixed is not None and chance is not None and fixed > chance + FIXED_SITES_EXCESS:
    out.append(f'lost alleles: {fixed:.1%} of the SNPs polymorphic in the real data have one '
               f'allele in the AGs (by chance at this size: {chance:.1%}); ld_r and the LD '
               f'curves leave those sites out (red in af.png).')
  return out
