r"""CRBM chain (Yelmen et al. 2023): windows of W SNPs, stride W/2, each pinned on its first half.

  python experiments/train.py --config=configs/crbm.py                   # bundled 805-SNP data
  python experiments/train.py --config=configs/crbm.py:1000g_agbl4       # 4,053 SNPs on chr1
  python experiments/train.py --config=configs/crbm.py:test              # tiny, seconds
  python experiments/train.py --config=configs/crbm.py --config.data.path=DIR  # your own data
  python experiments/train.py --config=configs/crbm.py:dense --config.data.path=DIR  # one region

Defaults follow the original code where known (SGD, vbias = data log-odds, W ~ N(0, 1e-4));
sizes are chosen to finish on a 2-core CPU in minutes. The bare config is tuned on the 805
genome-wide SNPs (ReLU hidden units, README "Quality on real data"); `dense` (and
`1000g_agbl4`) on contiguous SNPs of one region (Bernoulli hidden units, centred gradient,
trained out of equilibrium: `model.restart_init`).
"""

import ml_collections

from ag_jax.config_base import base_config, parse_variant, tiny_run


def model_config(name: str = 'crbm') -> ml_collections.ConfigDict:
  m = ml_collections.ConfigDict()
  m.name = name
  m.window_size = 400  # W visibles per window (even); stride W/2
  m.num_hidden = 256
  m.hidden = 'bernoulli'  # 'relu': truncated-Gaussian ReLU hidden units (the 2021 Julia RBM)
  m.gibbs_steps = 10  # k sweeps per update (the original: 50)
  m.persistent = True  # PCD; False = the original random restart each minibatch
  # With persistent=False, where restarts start: 'uniform' (the original) or 'freq' (the
  # sampler's Bernoulli(allele frequency) start; pair with sample_sweeps = gibbs_steps).
  m.restart_init = 'uniform'
  m.centred = True  # centred gradient as the original code
  m.optimizer = 'sgd'
  m.precondition = 'none'  # 'allele_sd': rare SNPs' gradients scaled by (0.5 / sd) ** power
  m.precondition_power = 1.0  # 1: up to 7.1x; 0.5: up to 2.7x
  m.lr = 0.01
  m.lr_decay = 'none'  # 'cosine' | 'linear': decay over train.num_steps to lr * lr_final
  m.lr_final = 0.0
  m.momentum = 0.0
  m.l2 = 0.0
  m.init_std = 1e-4
  m.window_block = 0  # windows updated together: 0 = auto (cache-sized blocks), -1 = all
  m.matmul_dtype = 'auto'  # bf16 (hi/lo weights) if fast: AMX/AVX512-BF16, GPU, TPU; else float32
  # How AGs are drawn (design.md "Known pitfalls"): sweeps per window, start state, annealing.
  m.sample_sweeps = 2000  # measured: 500 -> AF r 0.975, 2000 -> 0.998 (805 data)
  m.sample_init = 'freq'  # 'freq': Bernoulli(training allele frequency) starts; 'uniform'
  m.sample_beta_start = 1.0  # < 1 anneals from a flatter distribution over the first half
  m.sample_beta = 1.0  # inverse temperature sampling ends at (1 = the model; > 1 colder)
  # Factor on the inverse temperature of the last visible draw only (the AG itself; the chain
  # is not moved). On unlinked SNPs (805 data) any sharpening clumps the AGs (1.5: aa_syn
  # 0.999); on dense data it restores the short-range LD the per-SNP draw loses (`dense`).
  m.sample_sharpen = 1.0
  return m


# Updates of the genome-wide default (its cosine schedule spans them). Out of equilibrium on the
# 805 SNPs with L2 1e-4, five AG draws each: 3,000 updates PCA Wasserstein 0.210, |AATS - 0.5|
# 0.034, privacy loss 0.012; 6,000: PCA 0.145, |AATS - 0.5| 0.007, privacy loss 0.019 (seed 1:
# 0.140, 0.001, 0.027); 9,000: PCA 0.124, AATS 0.486 (past 0.5), privacy loss 0.024 (README).
GENOME_WIDE_STEPS = 6000
# L2 of the genome-wide default, over those 6,000 updates (three training seeds x five AG
# draws): 1e-4 privacy loss 0.019 / 0.027 / 0.020 (9 of 15 draws over 0.02); 1e-3 0.014 /
# 0.020 / 0.014 (4 of 15 over), PCA 0.135 / 0.144 / 0.149, |AATS - 0.5| 0.005 / 0.009 / 0.005;
# 3e-4 (seed 0) 0.020; 3e-3 0.014 / 0.024. Lower on every seed, but by half a draw's standard
# error (0.012): a small gain near the evaluation's resolution (README).
GENOME_WIDE_L2 = 1e-3


def relu_genome_wide(m: ml_collections.ConfigDict) -> None:
  """The CRBM default, tuned on the 805 genome-wide SNPs (README "805 SNPs").

  ReLU hiddens carry population structure as continuous directions: PCA Wasserstein 0.19
  against 0.34-0.37 with Bernoulli hiddens, |AATS - 0.5| 0.008 against 0.05 (2,000 AGs). They
  need the plain (uncentred) gradient (centred at lr 0.01 diverged), a cosine-decayed rate
  (lr 0.03 and 0.04 diverged; 0.01 underfits: AF r 0.991; 0.02 without L2 leaks: privacy loss
  0.037, with L2 1e-4: 0.001; 0.015 without L2: PCA 0.242) and long sampling chains (lr 0.02
  weights: AF r 0.934 / 0.949 / 0.982 / 0.999 from 200 / 500 / 2,000 / 5,000 sweeps).
  All of this was tuned on training seed 0 with 10 Gibbs steps per update; seeds 1-3 then gave
  AF r 0.96-0.98 and PCA Wasserstein 0.38-0.50 (Bernoulli hiddens vary as much). 20 steps per
  update (1.8x the training time) brought seeds 1-3 to AF r 0.989-0.996 and PCA 0.23-0.31
  (seed 0: PCA 0.200, privacy loss 0.008), presumably because longer persistent chains leave
  fewer of the modes a 5,000-sweep sampling chain finds uncorrected by training.
  Even so, persistent chains left the model a draw: five runs (four seeds and a rerun of seed
  0) gave AF r 0.974-0.999, PCA Wasserstein 0.20-0.40. Trained out of equilibrium instead
  (chains restarted every update from Bernoulli(train allele frequency), 20 sweeps, and AGs
  drawn with the same 20 sweeps), three seeds gave AF r 0.9993-0.9994, LD r 0.975, PCA 0.19-0.20,
  AATS 0.525-0.529, privacy loss 0.015-0.025, and 5,000 AGs in seconds instead of 17 min.
  Five AG draws of one such model put PCA at 0.195-0.221 (the published GAN: 0.205), so twice
  the updates (GENOME_WIDE_STEPS; 512 hidden units, 40 sweeps, larger windows were no better),
  which fit the training haplotypes closer (privacy loss 0.023), so ten times the L2
  (GENOME_WIDE_L2: 0.016, quality unchanged).
  """
  m.hidden = 'relu'
  m.gibbs_steps = 20
  m.centred = False
  m.lr = 0.02
  m.lr_decay = 'cosine'
  m.l2 = GENOME_WIDE_L2
  m.persistent = False
  m.restart_init = 'freq'
  m.sample_sweeps = 20  # = gibbs_steps: the sampler repeats what training fitted


# Variants that bring their own model settings (Bernoulli hiddens, centred gradient).
OWN_MODEL_SETTINGS = ('test', 'bench', 'chromosome', 'dense', '1000g_agbl4')


def apply_variants(c: ml_collections.ConfigDict, arg: str | None) -> ml_collections.ConfigDict:
  for v in parse_variant(arg):
    if v == 'test':
      c.model.window_size = 100 if c.model.name == 'crbm' else c.model.window_size
      c.model.num_hidden = 16
      c.model.gibbs_steps = 2
      c.model.sample_sweeps = 10
      c.train.batch_size = 32
      tiny_run(c)
    elif v == '1000g_805':
      c.data.name = v
    elif v in ('1000g_agbl4', 'dense'):  # AGBL4: 4,053 contiguous SNPs, 20 windows of 400
      c.data.name = v if v != 'dense' else c.data.name
      # Strong local LD needs large couplings: lr 0.01 for 3,000 steps gave LD r 0.43 (flat in
      # sampling sweeps 100 -> 1,000, so the model, not the sampler); constant lr 0.1: LD r
      # 0.80 from 1,000 sweeps. Cosine-decayed (5,000 AGs, README "AGBL4"): from 0.1, LD r
      # 0.82 (1,000 sweeps); from 0.1 over 6,000 steps 0.883 (100); from 0.2, 0.8975 / 0.8998
      # / 0.884 from 50 / 100 / 200 sweeps (longer sampling drifts to weaker LD); from 0.25,
      # 0.919 (50 sweeps); from 0.3, 0.906.
      # Those were persistent chains (PCD), whose short-range mean r^2 stayed at ~0.38 against
      # the real 0.55 and AATS at 0.85. Trained out of equilibrium instead (chains restarted
      # every minibatch from the sampler's own Bernoulli(allele frequency) start, 10 sweeps,
      # and AGs drawn with the same 10 sweeps): from lr 0.25, LD r 0.983, PCA Wasserstein 0.14
      # (was 0.63), distance 9.6 (19.7), AATS 0.66; from 0.5, LD r 0.993, PCA 0.14, distance
      # 7.7, AATS 0.65, privacy loss -0.006 (20 sweeps over 1,500 updates: LD r 0.951); from
      # 1.0, LD r 0.996, distance 7.7, AATS 0.638, LD-decay gap 0.078 (0.5: 0.115; rare-pair
      # r^2 0.94 of the real's, 0.5: 0.90), privacy loss 0.015 +- 0.012, under the 0.02 limit
      # (seed 1: 0.016). From 2.0: LD r 0.998, decay gap 0.062, but PCA 0.154 (1.0: 0.134)
      # and AATS 0.648 (0.638), a trade, so 1.0 stays (README "AGBL4"). Per-SNP step sizes
      # (model.precondition='allele_sd', power 0.5): LD r 0.998, decay gap 0.054, PCA 0.134,
      # but privacy loss 0.043 +- 0.012, over the limit (with L2 1e-4: 0.033, decay gap
      # 0.094), so off. Adam: far off after 500 updates.
      c.model.lr = 1.0
      c.model.lr_decay = 'cosine'
      c.model.persistent = False
      c.model.restart_init = 'freq'
      c.model.sample_sweeps = 10  # = gibbs_steps: the sampler repeats what training fitted
      # The last per-SNP draw blurs LD: mean r^2 1-18% under the real at every distance (0-2
      # of 24 bins within the test-vs-train spread, three trained models). Drawn at 1.5x the
      # inverse temperature (model.sample_sharpen=1.5): 5-12 of 24 over five AG draws of one
      # model (13 on another), LD r 0.997-0.998, PCA and distance better, AATS ~0.01 further
      # from 0.5, but privacy loss 0.023 averaged over the five draws (plain: 0.015), at the
      # 0.02 limit, so it stays an opt-in (README "AGBL4"). A perfect generator: 18-22 of 24.
    elif v == 'chromosome':  # ~10^6 SNPs streamed from --config.data.path (no in-memory copy)
      c.model.window_size = 1000
      c.model.num_hidden = 64
      c.model.gibbs_steps = 5
      c.model.sample_sweeps = 100
      c.train.batch_size = 32
      c.train.num_steps = 300
      c.train.log_every = 25
      c.train.checkpoint_every = 100
      c.data.in_memory = 'no'
      c.sample.num_samples = 100
      c.sample.batch_size = 100
      c.evaluate.at_end = False
    elif v == 'bench':
      c.model.window_size = 10000
      c.model.num_hidden = 2000
      c.model.gibbs_steps = 50
      c.train.batch_size = 500
    else:
      raise ValueError(f'unknown variant {v!r}; known: test, bench, chromosome, dense, '
                       '1000g_805, 1000g_agbl4.')
  return c


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = base_config()
  c.model = model_config('crbm')
  c.train.batch_size = 256
  c.train.num_steps = 3000
  if not set(parse_variant(arg)) & set(OWN_MODEL_SETTINGS):  # genome-wide: 805 or user data
    relu_genome_wide(c.model)
    c.train.num_steps = GENOME_WIDE_STEPS
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  c = apply_variants(c, arg)
  c.lock()
  return c
