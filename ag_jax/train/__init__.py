"""Training: one loop (`loop.run`) over pure family modules (rbm.py, adversarial.py); set-up
and restore in setup.py, trained-model loading and generation in trained.py."""

from ag_jax.train.loop import NonFiniteError, run
from ag_jax.train.setup import DataInfo, ResumeError, WorkdirError
from ag_jax.train.trained import Trained, load_trained

__all__ = ['DataInfo', 'NonFiniteError', 'ResumeError', 'Trained', 'WorkdirError',
           'load_trained', 'run']
