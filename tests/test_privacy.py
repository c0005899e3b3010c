"""Privacy figures (ag_jax/evaluate/privacy.py): standard errors against the spread of
repeated experiments, the verdict's thresholds, sets of any sizes, pooling folds."""

import numpy as np
import pytest

from ag_jax.evaluate import audit
from ag_jax.evaluate import privacy


def population(rng, n, prototypes, flip=0.08):
  """n haplotypes of a structured population: one of a few prototypes with random flips."""
  k = rng.integers(len(prototypes), size=n)
  return (prototypes[k] ^ (rng.random((n, prototypes.shape[1])) < flip)).astype(np.uint8)


@pytest.mark.parametrize('sizes,draws,reps', [((200, 200, 200), 1, 200),
                                              ((200, 1000, 2000), 5, 80)])
def test_standard_errors_match_the_spread_of_repeated_experiments(sizes, draws, reps):
  """No leak (train, held-out and AGs drawn from one population), many independent
  experiments: each figure's mean SE within 25% of its SD over the experiments, and the
  figures centred on their no-leak values. The second case has more held-out haplotypes and
  AGs than train ones: the draws use them and the SE shrinks accordingly."""
  rng = np.random.default_rng(7)
  prototypes = (rng.random((6, 150)) < 0.3).astype(np.uint8)
  runs = [privacy.figures(*(population(rng, n, prototypes) for n in sizes), draws=draws, seed=r)
          for r in range(reps)]
  for key, null in (('privacy_loss', 0.0), ('mia_auc', 0.5)):
    values = np.array([m[key] for m in runs])
    se = np.mean([m[f'{key}_se'] for m in runs])
    assert 0.75 < se / values.std(ddof=1) < 1.25, (key, se, values.std(ddof=1))
    assert abs(values.mean() - null) < 3 * values.std(ddof=1) / np.sqrt(reps), key
  assert runs[0]['privacy_draws'] == draws
  if draws > 1:  # every draw takes 200 of each set; the held-out side and the AGs add rows
    assert runs[0]['privacy_loss_n'] == 200 and runs[0]['privacy_loss_n_test'] > 600
    assert runs[0]['privacy_loss_n_ags'] > 1000
    assert (runs[0]['mia_n_members'], runs[0]['mia_n_nonmembers']) == (200, 1000)


def test_a_copying_generator_leaks_and_more_ags_than_real_rows_are_used():
  """AGs that are noisy copies of the train haplotypes, 10x more AGs than train rows: the
  privacy loss and MIA AUC are far above their limits and the verdict says 'leaks'."""
  rng = np.random.default_rng(0)
  prototypes = (rng.random((6, 150)) < 0.3).astype(np.uint8)
  train, test = population(rng, 300, prototypes), population(rng, 600, prototypes)
  copies = train[rng.integers(300, size=3000)] ^ (rng.random((3000, 150)) < 0.01)
  m = privacy.figures(train, test, copies.astype(np.uint8))
  assert m['privacy_loss_n'] == 300 and m['privacy_loss_n_ags'] > 1500  # 10 draws of 300: ~1,950 distinct
  assert m['privacy_loss'] > audit.PRIVACY_LOSS_LIMIT + 2 * m['privacy_loss_se']
  assert m['mia_auc'] > audit.MIA_AUC_LIMIT + 2 * m['mia_auc_se']
  assert m['privacy_verdict'] == privacy.LEAKS and m['privacy_need_haplotypes'] == 0


@pytest.mark.parametrize('estimate,se,want,need', [
    (0.0, 0.005, privacy.NO_LEAK, 0),     # upper bound 0.01 < 0.02
    (0.05, 0.01, privacy.LEAKS, 0),       # lower bound 0.03 > 0.02
    (0.01, 0.01, 'too few', 1600),        # 2 SE = 0.02 must shrink to the gap 0.01: 4x n
    (0.0, 0.01, 'too few', 400),          # upper bound on the limit: not under it
    (0.03, 0.01, 'too few', 1600),        # lower bound 0.01: not above it
    (0.0199, 0.011, 'too few', 19360000),  # on the limit: no number (more than 100x n)
])
def test_verdict_thresholds(estimate, se, want, need):
  text, n = privacy.verdict(estimate, se, audit.PRIVACY_LOSS_LIMIT, 400)
  assert text.startswith(want) and n == need, (text, n)
  if 0 < need <= privacy.NEED_CAP * 400:
    assert f'(need ~{need:,})' in text
  elif need:
    assert 'sits on the limit 0.02: more than 100x these haplotypes' in text


def test_the_set_verdict_combines_both_figures():
  clear = {'privacy_loss': 0.0, 'privacy_loss_se': 0.002, 'privacy_loss_n': 1000,
           'mia_auc': 0.5, 'mia_auc_se': 0.01, 'mia_n_members': 1000, 'mia_n_nonmembers': 1000}
  assert privacy.conclude(clear)['privacy_verdict'] == privacy.NO_LEAK
  assert privacy.conclude(dict(clear, mia_auc=0.6))['privacy_verdict'] == privacy.LEAKS
  # An unclear MIA AUC (0.53 + 2 x 0.02 > 0.55) decides the need: n (2 x 0.02 / 0.02)^2.
  m = privacy.conclude(dict(clear, mia_auc=0.53, mia_auc_se=0.02))
  assert m['privacy_verdict'].startswith('too few') and m['privacy_need_haplotypes'] == 4000


def test_pooled_folds_average_by_size_and_shrink_the_se():
  part = {'privacy_loss': 0.01, 'privacy_loss_se': 0.02, 'privacy_loss_n': 500,
          'mia_auc': 0.52, 'mia_auc_se': 0.02, 'mia_n_members': 500, 'mia_n_nonmembers': 500}
  other = dict(part, privacy_loss=0.03, mia_auc=0.50)
  m = privacy.pool([part, other])
  assert m['privacy_loss'] == pytest.approx(0.02) and m['mia_auc'] == pytest.approx(0.51)
  assert m['privacy_loss_se'] == pytest.approx(0.02 / np.sqrt(2))
  assert (m['privacy_loss_n'], m['mia_n_nonmembers'], m['folds']) == (1000, 1000, 2)
  assert 'privacy_verdict' in m


@pytest.mark.slow  # two tiny trainings, generations and evaluations in subprocesses (~90 s)
def test_privacy_folds_trains_per_fold_and_pools_the_whole_cohort(tmp_path):
  """configs/crbm.py:test with K=2: each fold's model is evaluated on its own held-out fold
  (the two folds partition the 5,008 haplotypes), and the pooled figures rest on all of them."""
  import json  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from conftest import ROOT  # pylint: disable=g-import-not-at-top
  r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'privacy_folds.py'),
                      '--config=configs/crbm.py:test', '--folds=2', '--num_samples=200',
                      f'--output={tmp_path}'], capture_output=True, text=True, cwd=ROOT)
  assert r.returncode == 0, r.stderr[-3000:]
  result = json.loads((tmp_path / 'privacy.json').read_text())
  folds, pooled = result['folds'], result['pooled']
  assert [f['mia_n_nonmembers'] for f in folds] == [f['mia_n_members'] for f in folds[::-1]]
  assert pooled['mia_n_nonmembers'] == 5008 and pooled['folds'] == 2
  assert pooled['privacy_loss_se'] < min(f['privacy_loss_se'] for f in folds)
  assert pooled['privacy_verdict'] in (privacy.NO_LEAK, privacy.LEAKS) or \
      pooled['privacy_verdict'].startswith('too few haplotypes to conclude')
  provenance = json.loads((tmp_path / 'provenance.json').read_text())
  assert provenance['folds'] == 2 and len(provenance['steps']) == 6  # train, generate, evaluate
  assert 'pooled' in (tmp_path / 'summary.md').read_text()
