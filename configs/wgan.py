r"""Convolutional WGAN-GP (Yelmen et al. 2023).

  python experiments/train.py --config=configs/wgan.py                 # bundled 805-SNP data
  python experiments/train.py --config=configs/wgan.py:1000g_agbl4     # 4,053 SNPs on chr1
  python experiments/train.py --config=configs/wgan.py:paper65k --config.data.path=DIR
  python experiments/train.py --config=configs/wgan.py:test            # tiny, seconds

The paper's settings (docs/papers.md §2.2) with a smaller channel multiplier and batch, so the
805 default trains in about an hour on a 2-core CPU; `paper65k` / `paper16k` are the paper's
sizes. Why each value is what it is, with the measurements: docs/wgan.md.
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
  m.max_latent = 4  # latent length cap (the paper's 4): larger pads less, loses distant LD
  m.critic_iter = 10  # critic updates per generator update (the paper's; 5 gave LD r 0.89)
  m.batch_size = 16  # packed samples per critic update
  m.gp_weight = 10.0
  m.label_noise = 0.1
  # Conditional models (data.condition): the critic's label head, 'projection' (closer to each
  # label per update) or 'classifier' (AC-GAN), and the classifier's loss weight (docs/wgan.md)
  m.label_head = 'projection'
  m.label_weight = 1.0
  m.g_lr = 5e-4
  m.c_lr = 5e-4
  m.beta1 = 0.5
  m.beta2 = 0.9
  m.lr_decay = 'none'  # or 'linear' / 'cosine' to lr * lr_final (no gain measured on AGBL4)
  m.lr_final = 0.0
  m.unroll_critic = True  # 805 SNPs: 1.17x faster steps than scanned, 5x the compile (perf_wgan.md)
  m.conv = 'matmul'  # convolutions as im2col matmuls (faster on XLA:CPU) or 'lax'
  m.compute_dtype = 'auto'  # bf16 operands where fast (GPU, TPU, AMX / AVX512-BF16), else f32
  m.critic_microbatch = 0  # critic update in chunks of this many packed samples (0 = all)
  m.remat = False  # generator update keeps only the convolutions' outputs (less memory)
  m.xla_cpu_ynnpack = True  # XLA:CPU's YNNPACK dots, reductions (off: less memory, longer compile)
  m.ema_decay = 0.999  # AGs from a moving average of the generator weights (0 = last weights)
  m.sample_batch_stats = False  # without the average: BatchNorm running stats (True: batch's)
  m.minibatch_std = 'none'  # 'features' | 'output': tried against clumping, worse
  m.real_noise = 0.0  # instance noise on real haplotypes: better PCA, worse LD at 0.1
  m.mode_seeking = 0.0  # MSGAN term weight: no gain against clumping at 1 or 10
  m.output = 'sigmoid'  # or 'bernoulli' (straight-through draws): lost all LD
  m.st_temperature = 1.0

  c.train.num_steps = 6000
  c.train.log_every = 50
  c.train.checkpoint_every = 1000
  c.train.sample_every = 250  # log the AF r / LD r of 1,000 fresh AGs (losses do not track them)
  for v in parse_variant(arg):
    if v == 'test':
      m.update(channels=2, critic_iter=2, batch_size=4)
      m.unroll_critic = False  # compiles in 50 s instead of 62, same step time (perf_wgan.md)
      tiny_run(c)
    elif v in ('paper65k', 'paper16k', 'bench'):
      m.update(channels=10, critic_iter=10, batch_size=96)  # 96 x pack 3 haplotypes per update
      m.unroll_critic = False  # 65,535 SNPs: compiles in 106 s, half the XLA memory
      if v != 'bench':  # critic in chunks: 65,535 SNPs, batch 8: XLA memory 3.8 GiB, not 4.5
        m.critic_microbatch = 4
        m.xla_cpu_ynnpack = False  # 65,535 SNPs: 2.7 GiB, not 3.8; 1.04x faster (perf_wgan.md)
    elif v == '1000g_805':
      c.data.name = v
    elif v == '1000g_agbl4':  # 4,053 SNPs -> 4,095: what one hour of both cores allows
      c.data.name = v
      c.train.num_steps = 3000
      m.update(critic_iter=5, g_lr=1e-3, c_lr=1e-3)  # twice the paper's rate learns faster
      m.unroll_critic = False  # 0.93x the unrolled step time, 63 s to compile instead of 152
    else:
      raise ValueError(f'unknown variant {v!r}; known: test, paper65k, paper16k, bench, '
                       '1000g_805, 1000g_agbl4.')
  # Each step consumes critic_iter x pack_m x batch_size real rows: a lazy product, so
  # --config.model.critic_iter=10 (or pack_m, batch_size) on the command line follows through.
  c.train.batch_size = m.get_ref('critic_iter') * m.get_ref('pack_m') * m.get_ref('batch_size')
  c.lock()
  return c
