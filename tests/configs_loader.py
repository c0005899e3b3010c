"""Load `configs/<file>.py[:variant]` the way experiments/train.py does (unlocked copy)."""

import importlib.util

from conftest import ROOT


def load(spec: str):
  path, _, arg = spec.partition(':')
  s = importlib.util.spec_from_file_location(f'cfg_{path[:-3]}', ROOT / 'configs' / path)
  mod = importlib.util.module_from_spec(s)
  s.loader.exec_module(mod)
  config = mod.get_config(arg or None)
  config.unlock()
  return config
