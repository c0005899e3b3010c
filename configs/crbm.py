r"""CRBM chain (Yelmen et al. 2023): windows of W SNPs, stride W/2, each pinned on its first half.

  python experiments/train.py --config=configs/crbm.py                   # bundled 805-SNP data
  python experiments/train.py --config=configs/crbm.py:1000g_agbl4       # 4,053 SNPs on chr1
  python experiments/train.py --config=configs/crbm.py:dense --config.data.path=DIR  # one region
  python experiments/train.py --config=configs/crbm.py:test              # tiny, seconds

The default is tuned on genome-wide SNPs (the 805 data): ReLU hidden units trained out of
equilibrium. `dense` is tuned on contiguous SNPs of one region. Why each value is what it is,
with the measurements: docs/crbm.md.
"""

import ml_collections

from ag_jax.config_base import base_config, parse_variant, tiny_run

# The 2023 code's CRBM (Bernoulli hiddens, centred gradient, persistent chains, constant rate):
# the base of the variants below and of the RBM baseline (configs/rbm.py).
ORIGINAL = dict(hidden='bernoulli', gibbs_steps=10, persistent=True, restart_init='uniform',
                centred=True, lr=0.01, lr_decay='none', l2=0.0, sample_sweeps=2000)
ORIGINAL_BASED = ('test', 'bench', 'chromosome', 'dense', '1000g_agbl4')
# Contiguous SNPs of one region: strong local LD needs large couplings (docs/crbm.md "dense").
DENSE = dict(lr=1.0, lr_decay='cosine', persistent=False, restart_init='freq', sample_sweeps=10)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = defaults()
  if set(parse_variant(arg)) & set(ORIGINAL_BASED):
    c.model.update(ORIGINAL)
    c.train.num_steps = 3000
  apply_variants(c, arg)
  c.lock()
  return c


def defaults() -> ml_collections.ConfigDict:
  """The default CRBM, unlocked (configs/rbm.py builds on it)."""
  c = base_config()
  m = c.model
  m.name = 'crbm'
  m.window_size = 400  # W visibles per window (even); stride W/2
  m.num_hidden = 256
  m.hidden = 'relu'  # truncated-Gaussian units carry population structure ('bernoulli')
  m.gibbs_steps = 20  # sweeps per update (the original: 50)
  # Out of equilibrium: chains restart each update from Bernoulli(allele frequency) ('freq')
  # and AGs are drawn with the same sweeps; persistent=True is PCD, 'uniform' the original.
  m.persistent = False
  m.restart_init = 'freq'
  m.centred = False  # the centred gradient (the original's) diverged with ReLU hiddens
  m.optimizer = 'sgd'  # or 'adam'
  m.precondition = 'none'  # 'allele_sd': rare SNPs' steps scaled by (0.5 / sd) ** power
  m.precondition_power = 1.0
  m.lr = 0.02
  m.lr_decay = 'cosine'  # 'none' | 'cosine' | 'linear', over train.num_steps to lr * lr_final
  m.lr_final = 0.0
  m.momentum = 0.0
  m.l2 = 1e-3  # halves the privacy loss of 1e-4 at 6,000 updates, quality unchanged
  m.init_std = 1e-4
  m.window_block = 0  # windows updated together: 0 = auto (cache-sized blocks), -1 = all
  m.matmul_dtype = 'auto'  # bf16 (hi/lo weights) if fast: AMX/AVX512-BF16, GPU, TPU; else float32
  m.sample_sweeps = 20  # = gibbs_steps: the sampler repeats what training fitted
  m.sample_init = 'freq'  # chain starts: Bernoulli(training allele frequency), or 'uniform'
  m.sample_beta_start = 1.0  # < 1 anneals from a flatter distribution over the first half
  m.sample_beta = 1.0  # inverse temperature sampling ends at (1 = the model; > 1 colder)
  m.sample_sharpen = 1.0  # factor on the last visible draw's inverse temperature only
  # DP-SGD (0 = off): per-haplotype clipping to dp_clip, Gaussian noise dp_noise * dp_clip
  # (docs/privacy.md "Differentially private training").
  m.dp_noise = 0.0
  m.dp_clip = 1.0

  c.train.batch_size = 256
  c.train.num_steps = 6000  # 3,000 left PCA and |AATS - 0.5| worse; 9,000 leaked more
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  return c


def apply_variants(c: ml_collections.ConfigDict, arg: str | None) -> None:
  """The variants of configs/crbm.py and configs/rbm.py (`arg` is 'a,b,...')."""
  m = c.model
  for v in parse_variant(arg):
    if v == '1000g_805':
      c.data.name = v
    elif v in ('1000g_agbl4', 'dense'):
      c.data.name = v if v == '1000g_agbl4' else c.data.name
      m.update(DENSE)
    elif v == 'test':
      m.update(num_hidden=16, gibbs_steps=2, sample_sweeps=10)
      m.window_size = 100 if m.name == 'crbm' else m.window_size
      c.train.batch_size = 32
      tiny_run(c)
    elif v == 'chromosome':  # ~10^6 SNPs streamed from --config.data.path (no in-memory copy)
      m.update(window_size=1000, num_hidden=64, gibbs_steps=5, sample_sweeps=100)
      c.train.update(batch_size=32, num_steps=300, log_every=25, checkpoint_every=100)
      c.sample.update(num_samples=100, batch_size=100)
      c.data.in_memory = 'no'
      c.evaluate.at_end = False
    elif v == 'bench':  # the side-by-side benchmark's CRBM: the original's sizes
      m.update(window_size=10000, num_hidden=2000, gibbs_steps=50)
      c.train.batch_size = 500
    else:
      raise ValueError(f'unknown variant {v!r}; known: test, bench, chromosome, dense, '
                       '1000g_805, 1000g_agbl4.')
