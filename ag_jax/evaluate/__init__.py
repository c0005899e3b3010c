"""Evaluation of artificial genomes against real data: metrics.json, PNG plots, report.html.

The public API (the implementation is in evaluation.py; privacy figures in privacy.py):

  run_evaluation(real_train, {'name': ags, ...}, out_dir, real_test=...) -> {name: metrics}
  evaluate_set(real, synth, test) -> (metrics, arrays for the plots)
  check_options(...)   size options checked before any work (the CLI's one-line errors)
  findings(metrics)    the audit's plain-language warnings (audit.py)
  Labels(column, train, test, sets={'name': ...})   labelled AGs: run_evaluation(...,
                       labels=) adds per-label figures and confusion.png (by_label.py)
"""

from ag_jax.evaluate.audit import findings
from ag_jax.evaluate.by_label import Labels
from ag_jax.evaluate.evaluation import METRIC_KEYS, check_options, evaluate_set, run_evaluation

__all__ = ['METRIC_KEYS', 'Labels', 'check_options', 'evaluate_set', 'findings',
           'run_evaluation']
