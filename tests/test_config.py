"""One home for defaults: a saved config.json merged over today's defaults (ag_jax.configuration),
and one validation, the same one-line error from train.py and generate.py."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ag_jax import configuration
from ag_jax import train
from ag_jax.config_base import ConfigError
from ag_jax.train import adversarial
from configs_loader import load
from conftest import ROOT

# Fields added to the configs over time: a config.json written before them lacks them.
ADDED = ('matmul_dtype', 'window_block', 'sample_sharpen', 'precondition', *(
    k.split('.')[1] for k in configuration.LEGACY))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A finished crbm:test run (4 steps, no report)."""
  config = load('crbm.py:test')
  config.train.update(num_steps=4, log_every=2, checkpoint_every=4)
  config.evaluate.at_end = False
  wd = tmp_path_factory.mktemp('crbm')
  train.run(config, wd)
  return wd


def _rewrite(workdir, edit):
  path = workdir / 'config.json'
  saved = json.loads(path.read_text())
  edit(saved)
  path.write_text(json.dumps(saved))


def _draw(workdir):
  return np.concatenate(list(train.load_trained(workdir).generate(16, seed=3, progress=False)))


def test_old_config_without_recent_fields_loads_todays_defaults_and_generates(trained, tmp_path):
  """A config.json from before the fields in ADDED existed loads with today's defaults for
  them (LEGACY where absence meant another behaviour) and draws the same AGs as the complete
  one: crbm:test's values of those fields are today's defaults or the legacy ones."""
  old = tmp_path / 'old'
  shutil.copytree(trained, old)
  _rewrite(old, lambda c: [c['model'].pop(k) for k in ADDED if k in c['model']])
  assert not set(ADDED) & set(json.loads((old / 'config.json').read_text())['model'])
  config = train.load_trained(old).config
  today = configuration.defaults('crbm')
  for field in ADDED:
    key = f'model.{field}'
    if key in today:
      assert config.model[field] == configuration.LEGACY.get(key, today[key]), field
  np.testing.assert_array_equal(_draw(old), _draw(trained))


def test_a_saved_field_that_no_longer_exists_is_dropped_with_one_warning(trained, tmp_path, capfd):
  wd = tmp_path / 'wd'
  shutil.copytree(trained, wd)
  _rewrite(wd, lambda c: c['model'].update(retired_option=3))
  capfd.readouterr()
  got = _draw(wd)
  err = [l for l in capfd.readouterr().err.splitlines() if l.startswith('warning:')]
  assert len(err) == 1 and 'model.retired_option: no such setting' in err[0], err
  assert 'retired_option' not in train.load_trained(wd).config.model
  np.testing.assert_array_equal(got, _draw(trained))


def test_wgan_config_without_recent_fields_migrates_and_validates():
  """critic_microbatch (added later) takes today's default; a config saved before the
  generator average samples its own weights (ema_decay 0), not today's 0.999."""
  saved = json.loads(load('wgan.py:test').to_json_best_effort())
  for k in ('critic_microbatch', 'ema_decay', 'remat'):
    del saved['model'][k]
  config, dropped = configuration.migrate(saved)
  today = configuration.defaults('wgan')
  assert not dropped
  assert config.model.critic_microbatch == today['model.critic_microbatch']
  assert config.model.remat == today['model.remat']
  assert config.model.ema_decay == configuration.LEGACY['model.ema_decay'] != today['model.ema_decay']
  configuration.validate(config, adversarial)
  assert config.train.batch_size == saved['train']['batch_size']  # saved values win


def test_not_an_ag_jax_config_or_an_unknown_model_is_one_config_error():
  with pytest.raises(ConfigError, match=r'x.json: not an ag_jax config \(no model.name\)'):
    configuration.migrate({'my': 'settings'}, 'x.json')
  with pytest.raises(ConfigError, match=r"x.json: config.model.name='vae': known models are"):
    configuration.migrate({'model': {'name': 'vae'}}, 'x.json')


def test_sampling_option_of_another_model_is_one_config_error():
  config = configuration.migrate({'model': {'name': 'wgan'}})[0]
  with pytest.raises(ConfigError, match=r"config.model.sample_sweeps: the 'wgan' model has no"):
    configuration.override(config, 'model', {'sample_sweeps': 3})


@pytest.mark.parametrize('field, value', [('sample_beta', -1), ('sample_sharpen', 0),
                                          ('sample_sweeps', 0)])
def test_train_and_generate_give_the_same_one_line_error(trained, tmp_path, field, value):
  """The same bad value set in the training config or given to generate.py for one draw is
  the same `error: bad config:` line, exit 1, nothing written."""
  cmds = {
      'train': [str(ROOT / 'experiments' / 'train.py'), f'--config={ROOT / "configs"}/crbm.py:test',
                f'--workdir={tmp_path / "new"}', f'--config.model.{field}={value}'],
      'generate': [str(ROOT / 'experiments' / 'generate.py'), f'--workdir={trained}',
                   f'--output={tmp_path / "ags.hapt"}', f'--{field}={value}'],
  }
  lines = {}
  for name, cmd in cmds.items():
    r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    err = [l for l in r.stderr.splitlines() if l.startswith('error:')]
    assert len(err) == 1, r.stderr
    lines[name] = err[0]
  assert lines['train'] == lines['generate'], lines
  assert lines['train'].startswith(f'error: bad config: config.model.{field}=')
  assert not (tmp_path / 'new').exists() and not (tmp_path / 'ags.hapt').exists()
