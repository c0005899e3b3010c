"""SD of each set on PC1-6 (PCA fit on the 805 train split) relative to the real train split.

Uses the PCA the evaluation's pca_wasserstein uses (ag_jax.evaluate.stats.pca_fit).

  python experiments/analysis/pc_spread.py AGS.hapt [AGS2.hapt ...]
"""
import pathlib
import sys

from ag_jax import data
from ag_jax.evaluate import stats

train = data.open_dataset('1000g_805').read_split('train')
mean, components = stats.pca_fit(train, k=6)
sd_real = stats.pca_project(train, mean, components).std(0)
for p in sys.argv[1:]:
  sd = stats.pca_project(data.read_any([p]).genotypes, mean, components).std(0) / sd_real
  print('/'.join(pathlib.Path(p).parts[-2:]), ' '.join(f'{v:.2f}' for v in sd))
