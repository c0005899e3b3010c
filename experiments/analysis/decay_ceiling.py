r"""How many LD-decay bins a perfect generator gets within the test-vs-train spread.

The quality issue asks for an AG LD-decay curve within |test - train| at every distance bin.
Here the "AGs" are 5,000 haplotypes resampled (with replacement) from the train split itself,
a generator that is exactly the empirical distribution; each draw is evaluated like a set
(evaluate.evaluate_set, evaluation seed = draw). Run from the repository root:

  python experiments/analysis/decay_ceiling.py
"""

import numpy as np

from ag_jax import data, evaluate

DRAWS = 6

ds = data.open_dataset('1000g_agbl4')
train, test = ds.read_split('train'), ds.read_split('test')
within = []
for s in range(DRAWS):
  boot = train[np.random.default_rng(100 + s).integers(0, len(train), 5000)]
  m, _ = evaluate.evaluate_set(train, boot, test, positions=ds.variants['pos'],
                               single_chromosome=True, seed=s, privacy_draws=1)
  d = m['ld_decay']
  real, test_r2, syn = (np.array(d[k], float) for k in ('mean_r2_real', 'mean_r2_test', 'mean_r2'))
  ok = np.isfinite(syn)
  miss = np.flatnonzero(ok & (np.abs(syn - real) > np.abs(test_r2 - real)))
  within.append(m['ld_decay_within'])
  print(f'draw {s}: {round(m["ld_decay_within"] * ok.sum())} of {ok.sum()} bins within '
        f'(ld_decay_within {m["ld_decay_within"]:.3f}); missed bins {miss.tolist()}', flush=True)
print(f'mean ld_decay_within {np.mean(within):.3f}, range {min(within):.3f}-{max(within):.3f} '
      f'over {DRAWS} draws')
