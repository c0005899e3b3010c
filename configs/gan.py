r"""Fully connected GAN baseline (Yelmen et al. 2021).

  python experiments/train.py --config=configs/gan.py
  python experiments/train.py --config=configs/gan.py:test

Original settings (docs/papers.md §4.1): latent 600, Adam g 1e-4 / d 8e-4, batch 32, L2 1e-4
on hidden layers, real inputs minus U(0, 0.1) noise, real labels 1 - U(0, 0.1).
"""

import ml_collections

from ag_jax.config_base import base_config, parse_variant, tiny_run


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = base_config()
  m = c.model
  m.name = 'gan'
  m.g_lr = 1e-4
  m.c_lr = 8e-4
  m.l2 = 1e-4
  m.input_noise = 0.1
  m.label_smoothing = 0.1
  m.ema_decay = 0.0  # the 2021 baseline samples its last weights; > 0 averages (configs/wgan.py)
  c.train.batch_size = 32
  c.train.num_steps = 20000
  c.train.log_every = 1000
  c.train.checkpoint_every = 5000
  c.train.sample_every = 5000  # log the AF r of 1,000 fresh AGs (GAN losses do not track it)
  for v in parse_variant(arg):
    if v == 'test':
      tiny_run(c)
    elif v == '1000g_805':
      c.data.name = v
    elif v == '1000g_agbl4':  # 4,053 SNPs: ~0.3 s per step here (quadratic FC layers)
      c.data.name = v
      c.train.num_steps = 3000
      c.train.sample_every = 1000
    elif v == 'bench':
      pass
    else:
      raise ValueError(f'unknown variant {v!r}; known: test, bench, 1000g_805, 1000g_agbl4.')
  c.lock()
  return c
