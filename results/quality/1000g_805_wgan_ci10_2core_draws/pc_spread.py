"""SD of each set on PC1-6 (PCA fit on the 805 train split) relative to the real train split.

  python results/quality/1000g_805_wgan_ci10_2core_draws/pc_spread.py AGS.hapt [AGS2.hapt ...]
"""
import sys
import numpy as np
from ag_jax import data
ds = data.open_dataset('1000g_805'); tr = ds.read_split('train').astype(np.float64)
mu = tr.mean(0); u, s, vt = np.linalg.svd(tr - mu, full_matrices=False); V = vt[:6].T
sd_real = ((tr - mu) @ V).std(0)
for p in sys.argv[1:]:
  x = data.read_any([p]).genotypes.astype(np.float64)
  print(p.split('/')[-2] + '/' + p.split('/')[-1], ' '.join(f'{v:.2f}' for v in ((x - mu) @ V).std(0) / sd_real))
