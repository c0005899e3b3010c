r"""Train a model on phased haplotypes, then write AGs (and a report) into the workdir.

  python experiments/train.py --config=configs/crbm.py [--workdir=runs/crbm]
  python experiments/train.py --config=configs/wgan.py:1000g_agbl4 --config.train.num_steps=5000

Re-running the same command resumes from the latest checkpoint in the workdir (a damaged one
is moved aside to <workdir>/damaged_checkpoints with a warning, and training resumes from the
newest kept step that restores). SIGTERM (or Ctrl-C) saves a checkpoint and exits cleanly.
A --workdir that exists with other content than an ag_jax workdir's is refused untouched.
Every mistake in a flag or config value is one `error:` line on stderr and exit status 1.
"""

import logging as std_logging
import os
import pathlib
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file('config', None, 'configs/<model>.py[:variant]',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Default: runs/<config stem>[_<variant>].')
flags.mark_flags_as_required(['config'])


def default_workdir(config_arg: str) -> str:
  path, _, variant = config_arg.partition(':')
  name = pathlib.Path(path).stem + (f'_{variant.replace(",", "_")}' if variant else '')
  return os.path.join('runs', name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:  # ml_collections defers a config file's load error to the first access
    _CONFIG.value.get('model')
  except OSError as e:
    why = str(e).strip().splitlines()[-1].strip()
    _fail(f'--config={_config_arg()}: cannot load it ({why}); give configs/<model>.py[:variant].')
  logging.set_verbosity(logging.WARNING)  # absl (Orbax is chatty at INFO)
  handler = std_logging.StreamHandler()
  handler.setFormatter(std_logging.Formatter('%(asctime)s %(levelname)s %(message)s', '%H:%M:%S'))
  log = std_logging.getLogger('ag_jax')
  log.addHandler(handler)
  log.setLevel(std_logging.INFO)
  log.propagate = False
  from ag_jax import parallel  # pylint: disable=g-import-not-at-top
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  from ag_jax.config_base import ConfigError  # pylint: disable=g-import-not-at-top
  from ag_jax.data import DataError  # pylint: disable=g-import-not-at-top
  from ag_jax import compilation_cache  # pylint: disable=g-import-not-at-top
  compilation_cache.enable()  # a resumed run loads its compiled step instead of compiling again
  workdir = _WORKDIR.value or default_workdir(_config_arg())
  try:
    train.run(_CONFIG.value, workdir)
  except ConfigError as e:
    _fail(f'bad config: {e}')
  except parallel.MeshError as e:
    _fail(f'bad config: config.{e}')
  except DataError as e:  # config.data.path / data.name: the message names the file
    _fail(f'config.data: {e}')
  # ResumeError: the cause (Orbax's shape/tree mismatch) is noise here. NonFiniteError: the
  # message names the step range and what to change.
  except (train.WorkdirError, train.ResumeError, train.NonFiniteError) as e:
    _fail(str(e))


def _fail(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(1)


def _config_arg() -> str:
  for arg in sys.argv[1:]:
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
  return 'run'


def _parse_flags(argv):
  """absl's parser, but a config typo or bad value is one line, not a traceback."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError, ValueError, TypeError) as e:
    text = str(e)
    if 'Traceback (most recent call last)' in text:  # the config file's own error, embedded
      text = text.split(': Error', 1)[0] + ': ' + text.strip().splitlines()[-1].strip()
    msg = ' '.join(text.replace('\\n', ' ').replace("\\'", "'").split()).replace("'", '')
    _fail(f'bad command line: {msg}')


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
