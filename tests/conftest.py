"""Shared test set-up: a private dataset cache, paths to the bundled data, key-reuse checks."""

import os
import pathlib
import tempfile

# Bundled datasets are prepared on first use into this cache; keep tests off the user's.
os.environ.setdefault('AG_JAX_CACHE', tempfile.mkdtemp(prefix='ag_jax_test_cache_'))
# One XLA compilation cache for the session, inherited by the training subprocesses: a resumed
# run (SIGTERM, SIGKILL, a second process count) loads the executable its first run compiled
# instead of compiling again (the tiny WGAN: 178 s -> 58 s per run on an idle 2-core CPU). It
# starts empty, so every program is compiled at least once; it holds no results.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR',
                      os.path.join(os.environ['AG_JAX_CACHE'], 'xla_compilation_cache'))
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top

jax.config.update('jax_debug_key_reuse', True)

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / 'ag_jax' / 'datasets'
HAPT_805 = DATA / '1000g_805' / '805_SNP_1000G_real.hapt.zip'
LEGEND_805 = DATA / '1000g_805' / '805_SNP.legend'
PANEL = DATA / '1000g_805' / 'integrated_call_samples_v3.20130502.ALL.panel'
AGBL4 = [DATA / '1000g_agbl4' / 'AGBL4_split1.vcf.gz', DATA / '1000g_agbl4' / 'AGBL4_split2.vcf.gz']
VCF_140KB = DATA / 'fixtures' / 'chr1_140kb.vcf.gz'
PUBLISHED_GAN = DATA / 'published_805' / '805_SNP_GAN_AG_20000epochs.hapt.zip'
PUBLISHED_RBM = DATA / 'published_805' / '805_SNP_RBM_AG_800Epochs.hapt.zip'



def step_sizes(tx, n: int) -> list[float]:
  """The first n + 1 step sizes of optimizer `tx` under a constant gradient of ones: the rate
  itself for SGD and for Adam (whose normalised step is then exactly the rate)."""
  g = {'w': jnp.ones(2)}
  state, out = tx.init(g), []
  for _ in range(n + 1):
    u, state = tx.update(g, state)
    out.append(-float(u['w'][0]))
  return out


@pytest.fixture(scope='session')
def ds805():
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  return data.open_dataset('1000g_805')
