r"""RBM baseline (Yelmen et al. 2021): one Bernoulli RBM over all SNPs.

  python experiments/train.py --config=configs/rbm.py
  python experiments/train.py --config=configs/rbm.py:test
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crbm  # pylint: disable=g-import-not-at-top,wrong-import-position

from ag_jax.config_base import base_config  # pylint: disable=g-import-not-at-top,wrong-import-position


def get_config(arg: str | None = None):
  c = base_config()
  c.model = crbm.model_config('rbm')
  c.model.num_hidden = 500  # the PyTorch "Gene805" script: Nh 500
  # 805 data, 3,000 updates: a constant rate 0.01 gave AF r 0.91, LD r 0.78, privacy loss
  # 0.025; cosine-decayed from 0.01, AF r 0.957, LD r 0.949, privacy loss 0.003.
  c.model.lr_decay = 'cosine'
  c.train.batch_size = 256
  c.train.num_steps = 3000
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  c = crbm.apply_variants(c, arg)
  if c.model.restart_init == 'freq' and not c.model.persistent:  # 1000g_agbl4, dense
    # Out of equilibrium from lr 0.25 (AGBL4, 5,000 AGs): LD r 0.983 (persistent chains:
    # 0.38) but privacy loss 0.072 and MIA AUC 0.55, over the limits (README "AGBL4"); the
    # CRBM's rate (1.0) is not measured for one 4,053-SNP window. L2 1e-3: privacy loss
    # 0.042, LD r 0.943; 100 hidden units: 0.023, LD r 0.943; both still over, so neither.
    c.model.lr = 0.25
    # Sharpening its last draw (model.sample_sharpen=1.5): LD r 0.995, still privacy loss
    # 0.072-0.074 (two AG draws), and 0.14-0.18% exact copies (plain: none).
  c.lock()
  return c
