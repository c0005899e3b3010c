"""Training: one loop (`loop.run`) over pure family modules (rbm.py, adversarial.py)."""

from ag_jax.train.loop import DataInfo, NonFiniteError, ResumeError, Trained, load_trained, run

__all__ = ['DataInfo', 'NonFiniteError', 'ResumeError', 'Trained', 'load_trained', 'run']
