"""Sharded training equals single-device training (per parameter, relative to what the steps
changed; also with per-SNP gradient factors); a 2-process job trains, checkpoints and
a single process resumes it; each process reads only its own rows."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

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
@pytest.mark.slow
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


def _two_processes(cmd, **env_extra):
  """Starts `cmd` as a 2-process JAX job on CPU (2 devices each); output merged per process."""
  port = _free_port()
  procs = []
  for i in range(2):
    env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f'127.0.0.1:{port}', JAX_NUM_PROCESSES='2',
               JAX_PROCESS_ID=str(i), JAX_PLATFORMS='cpu', AG_JAX_CPU_DEVICES='2', **env_extra)
    env.pop('XLA_FLAGS', None)
    procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True))
  return procs


def _outputs(procs, timeout):
  """Each process's whole output; a job still running after `timeout` s is killed (a hang)."""
  try:
    return [p.communicate(timeout=timeout)[0] for p in procs]
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    outs = [p.communicate()[0] for p in procs]
    pytest.fail(f'the 2-process job hung (killed after {timeout} s); last output of each: '
                + ' | '.join(o[-1500:] for o in outs))


def _train_cmd(workdir, *flags):
  return [sys.executable, str(ROOT / 'experiments' / 'train.py'),
          f'--config={ROOT / "configs" / "crbm.py"}:test', f'--workdir={workdir}', *flags]


@pytest.mark.slow
def test_two_processes_train_then_one_process_resumes(tmp_path):
  workdir = tmp_path / 'run'
  audit = tmp_path / 'rows'
  cmd = _train_cmd(workdir, '--config.train.num_steps=6', '--config.train.checkpoint_every=3',
                   '--config.sample.num_samples=8', '--config.sample.batch_size=8')
  procs = _two_processes(cmd, AG_JAX_AUDIT_ROWS=str(audit))
  outs = _outputs(procs, timeout=300)
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


@pytest.mark.slow
def test_sigterm_to_one_process_stops_every_process_at_one_saved_step(tmp_path):
  """A preemption notice may reach one host of a pod job, or the hosts at different steps.
  The checkpoint save is collective, so a process that stopped and saved alone would wait
  for the others forever. Every process must stop after the same step, having saved it."""
  workdir = tmp_path / 'run'
  cmd = _train_cmd(workdir, '--config.train.num_steps=1000000', '--config.train.log_every=1000',
                   '--config.train.checkpoint_every=1000000',
                   '--config.train.signal_check_every=7')
  procs = _two_processes(cmd)
  seen = []
  for line in procs[1].stdout:  # process 1 (not the one that logs and writes): once training
    seen.append(line)
    if 'compiled in' in line:
      break
  time.sleep(2)  # some steps in
  procs[1].send_signal(signal.SIGTERM)
  outs = _outputs(procs, timeout=180)
  outs[1] = ''.join(seen) + outs[1]
  saved = []
  for p, o in zip(procs, outs):
    assert p.returncode == 0, o[-3000:]
    m = re.search(r'SIGTERM received(?: by process \d+)?: saved step (\d+)', o)
    assert m, o[-3000:]
    saved.append(int(m.group(1)))
  assert saved[0] == saved[1], saved
  # Stopped at an agreed step: a multiple of signal_check_every (or the first step).
  assert saved[0] % 7 == 0 or saved[0] == 1, saved
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps == [saved[0]], steps
