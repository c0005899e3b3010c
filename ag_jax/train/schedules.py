"""Learning-rate schedules shared by the model families (`model.lr_decay`, `model.lr_final`)."""

from __future__ import annotations

import optax

DECAYS = ('none', 'cosine', 'linear')


def decayed(config, lr: float, updates_per_step: int = 1) -> float | optax.Schedule:
  """`lr`, constant (`model.lr_decay='none'`, the default) or decayed to `lr * model.lr_final`
  ('cosine' or 'linear') over the run: `train.num_steps` x `updates_per_step` updates of the
  one optimizer the rate drives (a WGAN critic updates `critic_iter` times per step). A
  constant stays a float, so an optimizer built without a decay keeps the state it always had
  (checkpoints written before the option still load)."""
  m = config.model
  decay = m.lr_decay
  if decay == 'none':
    return lr
  steps = int(config.train.num_steps) * int(updates_per_step)
  final = float(m.lr_final)
  if decay == 'cosine':
    return optax.cosine_decay_schedule(lr, steps, alpha=final)
  if decay == 'linear':
    return optax.linear_schedule(lr, lr * final, steps)
  raise ValueError(f'config.model.lr_decay={decay!r}: use {", ".join(DECAYS[:-1])} or {DECAYS[-1]}.')
