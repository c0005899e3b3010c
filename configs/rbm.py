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
    # 0.38) but, with 500 hidden units, privacy loss 0.072 and MIA AUC 0.55, over the limits
    # (README "AGBL4"); the CRBM's rate (1.0) is not measured for one 4,053-SNP window.
    # One window of 500 units over 4,053 dense SNPs memorises; less capacity trades LD for
    # privacy (one draw: 500 units, L2 1e-3 0.042, LD r 0.943; 100 units 0.023). Five AG draws
    # each: 64 units 0.021 +- 0.009, LD r 0.907; 100 units with L2 3e-4 0.019 +- 0.009 (2 of
    # 5 over 0.02), LD r 0.919, MIA AUC 0.504; with L2 1e-3 0.010 +- 0.004 (every draw
    # under), but LD r 0.872 and distance Wasserstein 62. The middle one is the default;
    # --config.model.l2=1e-3 for the margin. All three put AGs away from the real haplotypes
    # (aa_truth 0.98-0.999, the realism warning; 500 units: 0.73): the RBM is a baseline.
    c.model.lr = 0.25
    c.model.num_hidden = 100
    c.model.l2 = 3e-4
    # Sharpening the 500-unit RBM's last draw (model.sample_sharpen=1.5): LD r 0.995, privacy
    # loss 0.072-0.074 (two AG draws), and 0.14-0.18% exact copies (plain: none).
  c.lock()
  return c
