r"""RBM baseline (Yelmen et al. 2021): one Bernoulli RBM over all SNPs.

  python experiments/train.py --config=configs/rbm.py
  python experiments/train.py --config=configs/rbm.py:1000g_agbl4
  python experiments/train.py --config=configs/rbm.py:test

The one-window case of the CRBM code, with the 2021 settings: docs/crbm.md "RBM baseline".
"""

import ml_collections

from configs import crbm


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = crbm.defaults()
  c.model.update(crbm.ORIGINAL, name='rbm')
  c.model.num_hidden = 500  # the PyTorch "Gene805" script
  c.model.lr_decay = 'cosine'  # a constant 0.01 gave AF r 0.91, LD r 0.78 (805 data)
  c.train.num_steps = 3000
  crbm.apply_variants(c, arg)
  if c.model.restart_init == 'freq':  # dense data: one 4,053-SNP window memorises at 500 units
    c.model.update(lr=0.25, num_hidden=100, l2=3e-4)  # privacy loss 0.019, LD r 0.92
  c.lock()
  return c
