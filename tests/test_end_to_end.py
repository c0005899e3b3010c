"""Every model family, tiny (`:test`), trained end to end on the bundled 805-SNP data, then
reloaded from its workdir and sampled: the fast loop's proof that each family still works."""

import json

import numpy as np
import pytest

from ag_jax import train
from ag_jax.data import readers
from configs_loader import load


@pytest.mark.parametrize('model', ['crbm', 'rbm', 'wgan', 'gan'])
def test_family_trains_resumes_and_generates(tmp_path, model, ds805):
  config = load(f'{model}.py:test')
  out = train.run(config, tmp_path)
  assert not out.get('stopped')
  steps = [json.loads(line)['step'] for line in
           (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert steps[-1] == config.train.num_steps
  ags = readers.read_hapt_matrix(tmp_path / 'ags.hapt')[2]
  assert ags.shape == (config.sample.num_samples, ds805.num_snps)
  assert set(np.unique(ags)) <= {0, 1}

  trained = train.load_trained(tmp_path)
  assert int(trained.state.step) == config.train.num_steps
  a = np.concatenate(list(trained.generate(40, seed=1, batch_size=16, progress=False)))
  b = np.concatenate(list(trained.generate(40, seed=1, batch_size=16, progress=False)))
  c = np.concatenate(list(trained.generate(40, seed=2, batch_size=16, progress=False)))
  assert a.shape == (40, ds805.num_snps) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)  # a generation seed is a set
  assert (a != c).any()  # another seed is another set
  if model in ('crbm', 'rbm'):  # visible biases start at the data's log-odds, so even 20
    # updates draw common alleles commonly (the GANs start from noise and need thousands)
    freq = ds805.allele_frequencies('train')
    assert np.corrcoef(a.mean(0), freq)[0, 1] > 0.3


def test_conditional_crbm_trains_with_train_run_and_generates_each_label(tmp_path, ds805):
  """train.run on a conditioned config saves the vocabulary and feeds each batch its labels;
  the reloaded model's AGs of a label move away from the pooled allele frequencies the way
  that label's real haplotypes do (AFR and EAS, far apart at these SNPs)."""
  from ag_jax.data import labels as labels_lib  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.data.condition = 'super_population'
  config.model.lr = 0.1  # as test_conditional's learning test: the tiny model learns the labels
  config.train.update(num_steps=1000, log_every=250, checkpoint_every=500)
  train.run(config, tmp_path)
  vocab = labels_lib.load(tmp_path)
  assert vocab is not None and vocab.names == ('AFR', 'AMR', 'EAS', 'EUR', 'SAS')
  trained = train.load_trained(tmp_path)
  pops = ds805.split_samples('super_population')
  real = ds805.read_split('train')
  pooled = real.mean(0)
  for p in ('AFR', 'EAS'):
    label = np.full(1000, vocab.names.index(p))
    ags = np.concatenate(list(trained.generate(1000, seed=0, progress=False, labels=label)))
    r = np.corrcoef(ags.mean(0) - pooled, real[pops == p].mean(0) - pooled)[0, 1]
    assert r > 0.3, (p, r)  # an unconditioned model: ~0 (its labels differ only by noise)
