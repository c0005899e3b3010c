r"""Convolutional WGAN-GP (Yelmen et al. 2023).

  python experiments/train.py --config=configs/wgan.py                 # bundled 805-SNP data
  python experiments/train.py --config=configs/wgan.py:1000g_agbl4     # 4,053 SNPs on chr1
  python experiments/train.py --config=configs/wgan.py:paper65k --config.data.path=DIR
  python experiments/train.py --config=configs/wgan.py:test            # tiny, seconds

Paper defaults (paper_notes.md 2.2): Adam 5e-4 (0.5, 0.9), 10 critic updates per generator
update, GP weight 10, packing 3, label noise U(0, 0.1), channel multiplier 10, batch 96. The
805-SNP default keeps the 10 critic updates but uses a smaller multiplier (4) and batch
(16 x 3), so its 6,000 updates train in under an hour on both cores of a 2-core CPU (about
1 h 25 min on one core beside another job; --config.model.critic_iter=5: 49 min there). The
AGBL4 variant's 3,000 updates take 58 min on both cores.
The pyramid depth follows the SNP count (ag_jax.models.wgan.pyramid_for).
"""

import ml_collections

from ag_jax.config_base import base_config, parse_variant, tiny_run


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = base_config()
  m = c.model
  m.name = 'wgan'
  m.channels = 4  # the paper's c = 10 is the paper65k / paper16k variants
  m.noise_dim = 2
  m.pack_m = 3
  # Latent length cap (the paper: 4). Larger pads less at big SNP counts but distant SNPs
  # then get independent latents (no genome-wide structure); see wgan.pyramid_for. AGBL4 at
  # 16 (pyramid (16, 2)), 3,000 updates: LD r 0.703 vs 0.714-0.729, PCA 0.66 vs 0.42-0.46,
  # AF r 0.997 vs 0.996 (faster early: LD r 0.575 vs 0.425 at 1,500; README "AGBL4"); steps
  # 1.16x faster (benchmarks/wgan_step.py --max_latent=4,16).
  # Resumed to 6,000 updates (2 h 19 min): LD r 0.793, PCA 0.46, still short of 0.9.
  m.max_latent = 4
  # 805-SNP default: the paper's 10 critic updates, of 16 packed samples (48 haplotypes) each.
  # benchmarks/wgan_step.py --snps=805 --batch=16 --channels=4 --critic_iter=10: 0.42 s/step on
  # both cores (0.70 on one), so 6,000 updates took 52 min (compile 2.5 min). Five AG draws:
  # LD r 0.947, PCA 0.313, distance 11.6 (training seed 0; seed 1, five draws: 0.892 / 0.367 /
  # 15.7, so runs vary widely) vs 0.894 / 0.415 / 14.7 with 5 critic updates (the
  # default until 2026-12-03; README "805 SNPs"). 20 critic updates: 19 min to compile
  # unrolled and 2.1 s per update (3,000 updates about 2 h); at 1,500 updates LD r 0.683, PCA
  # 0.469, distance 21.8 (results/quality/README.md). paper65k / paper16k / bench: the paper's
  # c and batch.
  m.critic_iter = 10
  m.batch_size = 16  # packed samples per critic update
  m.gp_weight = 10.0
  m.label_noise = 0.1
  m.g_lr = 5e-4
  m.c_lr = 5e-4
  m.beta1 = 0.5
  m.beta2 = 0.9
  # Both rates constant ('none', the paper) or decayed over the run to lr * lr_final ('linear',
  # WGAN-GP's recipe with lr_final 0, or 'cosine'); the critic's over its critic_iter x
  # num_steps updates. AGBL4, 1,500 updates, 'linear' to 0: LD r 0.385 vs 0.425 constant, AF r
  # 0.980 vs 0.993 (results/quality/README.md).
  m.lr_decay = 'none'
  m.lr_final = 0.0
  # Unrolled critic updates run ~6x faster on XLA:CPU but compile slower as SNPs grow;
  # set False for very long genomes or when compile time dominates.
  m.unroll_critic = True
  # How convolutions are computed (same parameters, so checkpoints move between the two):
  # 'matmul' (im2col; 1.40-1.47x faster steps on XLA:CPU at 805-16,383 SNPs, ~30% more XLA
  # memory) or 'lax' (flax.linen.Conv / ConvTranspose). Unmeasured on GPU/TPU: run
  # benchmarks/wgan_step.py --conv=matmul,lax there before a long job.
  m.conv = 'matmul'
  # Operand dtype of the matmul convolutions: 'bfloat16' (bf16 operands, f32 accumulation,
  # f32 weights, normalisation and optimizer), 'float32', or 'auto' = bfloat16 where the
  # backend is fast at it (GPU, TPU, CPUs with AMX / AVX512-BF16), else float32.
  # docs/perf_wgan.md has the measurements.
  m.compute_dtype = 'auto'
  # Critic updates in chunks of this many packed samples (0 = the whole batch at once): the
  # same loss and gradient (every term is per sample), the activations of one chunk held
  # instead of the batch's. docs/perf_wgan.md.
  m.critic_microbatch = 0
  # Generator update rematerialised (jax.checkpoint): only the convolutions' outputs are kept
  # for the backward pass, the elementwise rest is recomputed. docs/perf_wgan.md.
  m.remat = False
  # AGs come from a moving average of the generator weights (0 = the last weights). Measured
  # on the 805 data: the mean of checkpoints 4,000-6,000 gave AF r 0.974 vs 0.954 for the last.
  # The warm-up (adversarial._update_ema) keeps the decay below 0.999 for 8,990 updates. 0.995
  # measured: AF r 0.995 / LD 0.876 / AATS 0.608 vs 0.993 / 0.887 / 0.563 here (README).
  m.ema_decay = 0.999
  # Without the average: BatchNorm running averages (False) or the statistics of each generated
  # batch (True; at step 1,000 AF r 0.856 vs 0.857, no gain). The average always uses batch ones.
  m.sample_batch_stats = False
  # Tried against the AGs' clumping (aa_syn 1.000 on the 805 data), both off (README WGAN):
  # a minibatch-std feature in the critic ('none' = the paper, 'features', 'output'; see
  # ag_jax.models.wgan.Critic): 'output' AF r 0.963 / LD 0.755 vs 0.990 / 0.823 at 4,000
  # updates and tighter clumps; 'features' AF r 0.60 at 2,000.
  m.minibatch_std = 'none'
  # Instance noise on the real haplotypes the critic sees (0 = none): alleles become
  # U(0, a) / 1 - U(0, a), so exact 0/1 is no cue. 0.1 at 4,000 updates: PCA 0.358 / distance
  # 11.2 vs 0.425 / 16.0, but LD 0.786 vs 0.823 and AATS 0.644 vs 0.552.
  m.real_noise = 0.0
  # Mode-seeking term against the clumping (Mao et al. 2019; 0 = off, the paper): adds
  # weight / (ratio + 1e-5) to the generator loss, the ratio being mean |G(a) - G(b)| over
  # mean |a - b| for pairs of latents (adversarial.mode_seeking_ratio, logged either way).
  # Weight 1 (training seed 0): LD r 0.944, PCA 0.357, distance 10.7 vs 0.947 / 0.313 / 11.6,
  # still clumped; the ratio rose only to 0.385 (0.35-0.37 without). Weight 10: 0.906 / 0.393
  # / 12.8, AGs noisier and far from real ones (AATS 0.84). Stays off.
  m.mode_seeking = 0.0
  # What the critic sees of the generator: 'sigmoid' (the paper: probabilities; AGs are
  # rounded) or 'bernoulli' (0/1 draws from them, with the straight-through gradient of the
  # relaxed draw at st_temperature; AGs are draws). Real haplotypes are 0/1 draws around their
  # population's frequencies, which a saturated sigmoid can only mimic from its latent noise.
  # Measured (README): with 'bernoulli' the generator stopped using its latents: AF r 0.97-0.985
  # but LD r 0.00 at 2,000-3,000 updates (independent SNPs). Stays off.
  m.output = 'sigmoid'
  m.st_temperature = 1.0

  c.train.num_steps = 6000
  c.train.log_every = 50
  c.train.checkpoint_every = 1000
  c.train.sample_every = 250  # log the AF r of 1,000 fresh AGs (critic losses do not track it)
  for v in parse_variant(arg):
    if v == 'test':
      m.channels = 2
      m.critic_iter = 2
      m.batch_size = 4
      tiny_run(c)
    elif v in ('paper65k', 'paper16k', 'bench'):
      m.channels = 10
      m.critic_iter = 10
      m.batch_size = 96  # packed samples (x pack_m 3 haplotypes) per critic update
    elif v == '1000g_805':
      c.data.name = v
    elif v == '1000g_agbl4':  # 4,053 SNPs -> pyramid (4, 3) = 4,095; ~4x 805's per critic update
      c.data.name = v
      # What one hour of both cores allows (58 min at 0.9 steps/s; one core beside another job
      # runs 0.46 steps/s, so 1,500 updates; on 2026-12-04 this VM ran both cores at 0.43-0.47
      # steps/s, the same code: 3,000 updates would take 1 h 50 min), at twice the paper's rate
      # (Adam 1e-3 for both nets). Five AG draws: AF r 0.996, LD r 0.71, PCA 0.46, privacy loss
      # 0.003; at 1,500 updates 0.993 / 0.43 / 1.37 / 0.014, and at 5e-4 0.971 / 0.28 / 1.92 /
      # 0.011. The AGs still lie away from every real haplotype and the training probe's LD r
      # (then over raw columns up to 50 apart) levelled off at about 0.78; a 1,500-update run's
      # AGs have one allele at 34% of the SNPs (fixed_sites; README "AGBL4"). (On the 805 data
      # 1e-3 learns faster early but ends no better at 6,000 updates, so the 805 default keeps
      # 5e-4.)
      c.train.num_steps = 3000
      m.critic_iter = 5  # what the AGBL4 figures were measured with
      m.g_lr = 1e-3
      m.c_lr = 1e-3
    else:
      raise ValueError(f'unknown variant {v!r}; known: test, paper65k, paper16k, bench, '
                       '1000g_805, 1000g_agbl4.')
  # Each step consumes critic_iter x pack_m x batch_size real rows: a lazy product, so
  # --config.model.critic_iter=10 (or pack_m, batch_size) on the command line follows through.
  c.train.batch_size = m.get_ref('critic_iter') * m.get_ref('pack_m') * m.get_ref('batch_size')
  c.lock()
  return c
