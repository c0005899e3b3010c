"""Privacy gate of `generate.py --audit`: AGs as they are written, against the training split.

Figures (the evaluation's definitions, from stats.py, on a seeded subsample so it stays fast):

  exact_copy_rate       fraction of ALL written AGs identical to a training haplotype (hashes
                        of every AG against hashes of every training haplotype, streamed)
  real_copy_rate        the same for the held-out test split: what real data repeat by
                        themselves (the limit for copies)
  privacy_loss(_se), mia_auc(_se), privacy_verdict
                        as evaluate.py computes them (privacy.figures) on up to `sample`
                        train, held-out and AG haplotypes
  dcr_ratio             median distance of an AG to its nearest training haplotype over the
                        median distance to its nearest held-out one (equal-size sets): below
                        1 the AGs sit nearer the training data (printed; no limit of its own)

Limits are audit.py's (`audit.findings`): privacy_loss, copies and membership. They are no
proof of privacy: crossing none means only that these attacks see nothing.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ag_jax.evaluate import audit
from ag_jax.evaluate import privacy
from ag_jax.evaluate import stats

# Draws averaged for privacy_loss (as evaluate.py's privacy_draws default).
PRIVACY_DRAWS = 5
# Training rows read per block when hashing the split.
READ_ROWS = 4096


def _digests(x: np.ndarray) -> list[bytes]:
  """A 128-bit hash per haplotype (row of 0/1)."""
  packed = np.packbits(np.asarray(x, np.uint8), axis=1)
  return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in packed]


class Gate:
  """Watches the AG batches on their way to the writer (`observe`), then audits (`result`).

  `dataset` is the training data (ag_jax.data.Dataset); `sample` AGs (the first ones: every
  batch is an independent draw) and as many train and test haplotypes enter the distance
  figures.
  """

  def __init__(self, dataset, sample: int = 1000, seed: int = 0):
    if sample < 2:
      raise ValueError(f'--audit_sample={sample}: use 2 or more (distances are between pairs).')
    self.ds, self.sample, self.seed = dataset, sample, seed
    self.num_ags, self.copies = 0, 0
    self._kept: list[np.ndarray] = []
    self._num_kept = 0
    self._train = set(self._split_digests('train'))

  def _split_digests(self, split: str) -> list[bytes]:
    rows = self.ds.split_rows(split)
    out: list[bytes] = []
    for i in range(0, len(rows), READ_ROWS):
      out += _digests(self.ds.read(rows[i:i + READ_ROWS]))
    return out

  def observe(self, batches):
    """Yields the batches unchanged, counting copies and keeping the first `sample` AGs."""
    for batch in batches:
      batch = np.asarray(batch, np.uint8)
      self.copies += sum(d in self._train for d in _digests(batch))
      self.num_ags += len(batch)
      if self._num_kept < self.sample:
        take = batch[:self.sample - self._num_kept]
        self._kept.append(take.copy())
        self._num_kept += len(take)
      yield batch

  def result(self) -> dict:
    """The gate's figures (module docstring) and `findings`, the limits crossed."""
    rng = np.random.default_rng(self.seed)
    m = {'num_ags': self.num_ags,
         'exact_copy_rate': self.copies / max(self.num_ags, 1)}
    test_rows = self.ds.split_rows('test')
    if len(test_rows):
      m['real_copy_rate'] = float(np.mean([d in self._train
                                           for d in self._split_digests('test')]))
    synth = np.concatenate(self._kept) if self._kept else np.zeros((0, self.ds.num_snps), np.uint8)
    n = min(len(synth), len(test_rows), self.sample)
    if n >= 2:
      pick = lambda rows: np.sort(rng.choice(rows, min(self.sample, len(rows)), replace=False))
      train, test = self.ds.read(pick(self.ds.split_rows('train'))), self.ds.read(pick(test_rows))
      m.update(privacy.figures(train, test, synth, draws=PRIVACY_DRAWS, seed=self.seed))
      m['aats'] = m['privacy_aats_train']
      d_train, d_test = stats.nearest(synth[:n], train[:n]), stats.nearest(synth[:n], test[:n])
      m['dcr_ratio'] = float(np.median(d_train) / max(np.median(d_test), 1e-9))
      m['audit_n'] = n
    reference = {'exact_copy_rate': m.get('real_copy_rate', 0.0)}
    m['findings'] = audit.findings(
        {k: m[k] for k in ('privacy_loss', 'privacy_loss_se', 'exact_copy_rate', 'mia_auc')
         if k in m}, reference)
    return m


def summary(m: dict) -> str:
  """One line of the gate's figures, for the terminal."""
  parts = [f'{m["num_ags"]} AGs', f'exact copies {m["exact_copy_rate"]:.2%} '
           f'(held-out real: {m.get("real_copy_rate", float("nan")):.2%})']
  if 'privacy_loss' in m:
    parts += [f'privacy_loss {m["privacy_loss"]:.3f} ± {m["privacy_loss_se"]:.3f} '
              f'(limit {audit.PRIVACY_LOSS_LIMIT})',
              f'mia_auc {m["mia_auc"]:.3f} ± {m["mia_auc_se"]:.3f} (limit {audit.MIA_AUC_LIMIT})',
              f'dcr_ratio {m["dcr_ratio"]:.3f}', f'on {m["audit_n"]} AGs',
              m['privacy_verdict']]
  else:
    parts.append('no held-out split: distance figures skipped')
  return 'audit: ' + ', '.join(parts)
