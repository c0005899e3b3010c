"""Sharded training equals single-device training (per parameter, relative to what the steps
changed; also with per-SNP gradient factors); a 2-process job trains, checkpoints and
a single process resumes it; each process reads only its own rows."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

from ag_jax import data, parallel
from conftest import ROOT

HERE = pathlib.Path(__file__).parent


def _worker(*args):
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4')
  r = subprocess.run([sys.executable, str(HERE / 'parallel_worker.py'), *args],
                     capture_output=True, text=True, env=env)
  assert r.returncode == 0, r.stderr[-3000:]
  return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('model,meshes', [('crbm', ['4x1', '2x2', '1x4']), ('wgan', ['4x1']),
                                          ('crbm+allele_sd', ['2x2', '1x4'])])
def test_sharded_step_matches_single_device(model, meshes):
  out = _worker('equivalence', model, *meshes)
  for m in meshes:
    assert out[m]['max_rel_diff'] <= 1e-2, (m, out[m])
  if model.startswith('crbm'):  # the window axis really splits the stacked window parameters
    assert any("'window'" in s for s in out['2x2']['specs']), out['2x2']['specs']
  if model == 'crbm+allele_sd':  # the per-SNP factors changed the steps, not only matched them
    assert out['vs_plain'] > 0.1, out


def test_mesh_errors_are_clear():
  with pytest.raises(parallel.MeshError, match='only 1 are available'):
    parallel.mesh_shape(2, 2, 1)
  with pytest.raises(parallel.MeshError, match='does not divide'):
    parallel.mesh_shape(-1, 3, 4)
  mesh = parallel.make_mesh(type('M', (), {'data': 1, 'window': 1}))
  parallel.check_batch(mesh, 7)


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_train_then_one_process_resumes(tmp_path):
  port = _free_port()
  workdir = tmp_path / 'run'
  audit = tmp_path / 'rows'
  cmd = [sys.executable, str(ROOT / 'experiments' / 'train.py'),
         f'--config={ROOT / "configs" / "crbm.py"}:test', f'--workdir={workdir}',
         '--config.train.num_steps=6', '--config.train.checkpoint_every=3',
         '--config.sample.num_samples=8', '--config.sample.batch_size=8']
  procs = []
  for i in range(2):
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f'127.0.0.1:{port}', JAX_NUM_PROCESSES='2',
               JAX_PROCESS_ID=str(i), JAX_PLATFORMS='cpu', AG_JAX_CPU_DEVICES='2',
               AG_JAX_AUDIT_ROWS=str(audit))
    env.pop('XLA_FLAGS', None)
    procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True))
  outs = [p.communicate(timeout=300)[0] for p in procs]
  for p, o in zip(procs, outs):
    assert p.returncode == 0, o[-3000:]
  assert "mesh {'data': 4, 'window': 1}" in outs[0]  # 2 processes x 2 devices
  assert sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit()) == [3, 6]
  # Each process read only its half of every global batch.
  ds = data.open_dataset('1000g_805')
  loader = data.BatchLoader(ds, batch_size=32, seed=0)
  for i in range(2):
    lines = (tmp_path / f'rows.{i}').read_text().splitlines()
    steps = {}
    for line in lines:
      step, *rows = map(int, line.split())
      steps[step] = rows
    assert set(range(6)) <= set(steps)
    for step in range(6):
      np.testing.assert_array_equal(steps[step], loader.rows(step)[16 * i:16 * (i + 1)])
  # A single process (1 device) restores the 2-process checkpoint and continues.
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop('XLA_FLAGS', None)
  r = subprocess.run(cmd[:-3] + ['--config.train.num_steps=9', '--config.train.checkpoint_every=3',
                                 '--config.sample.num_samples=8'], env=env, capture_output=True, text=True)
  assert r.returncode == 0, r.stderr[-3000:]
  assert 'resuming from checkpoint step 6' in r.stderr
  assert 9 in [int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit()]
