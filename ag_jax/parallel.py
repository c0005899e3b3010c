"""Device mesh, shardings and multi-host start-up.

One mesh with named axes serves every model:

- `data`: the batch (and the persistent Gibbs chains) is split over it; parameters are
  replicated along it and gradients are averaged by XLA's collectives.
- `window`: CRBM only; the stacked per-window parameters `[n_windows, ...]` and the windows of
  each batch are split over it, so a chromosome-long chain is spread over devices.

Everything here is JAX's own machinery (`jax.make_mesh`, `NamedSharding`,
`jax.distributed.initialize`, `jax.make_array_from_process_local_data`); nothing home-made.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
from jax.sharding import NamedSharding, PartitionSpec as P
import numpy as np

DATA = 'data'
WINDOW = 'window'

_COORDINATOR_VARS = ('JAX_COORDINATOR_ADDRESS', 'AG_JAX_COORDINATOR_ADDRESS')


class MeshError(ValueError):
  """A mesh request the devices or the config cannot satisfy."""


def initialize_distributed() -> bool:
  """Starts JAX's multi-host runtime when the environment asks for it.

  Triggers on (a) `JAX_COORDINATOR_ADDRESS` (or `AG_JAX_COORDINATOR_ADDRESS`) with
  `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`, (b) a Slurm job step with more than one task,
  or (c) a multi-host Cloud TPU (`TPU_WORKER_HOSTNAMES` lists several hosts); in (b) and (c)
  JAX's own cluster auto-detection fills in the details. Idempotent. Returns True when the
  process is part of a multi-process job.
  """
  if jax.distributed.is_initialized():
    return True
  coordinator = next((os.environ[v] for v in _COORDINATOR_VARS if os.environ.get(v)), None)
  if coordinator:
    try:
      num_processes = int(os.environ['JAX_NUM_PROCESSES'])
      process_id = int(os.environ['JAX_PROCESS_ID'])
    except KeyError as e:
      raise MeshError(
          f'{coordinator=} is set but {e.args[0]} is not: set JAX_NUM_PROCESSES and '
          'JAX_PROCESS_ID for every process.') from None
    if os.environ.get('JAX_PLATFORMS', '').startswith('cpu'):
      # CPU-only multi-process (tests, CPU clusters): cross-process collectives via gloo.
      jax.config.update('jax_cpu_collectives_implementation', 'gloo')
      if os.environ.get('AG_JAX_CPU_DEVICES'):
        jax.config.update('jax_num_cpu_devices', int(os.environ['AG_JAX_CPU_DEVICES']))
    jax.distributed.initialize(coordinator_address=coordinator,
                               num_processes=num_processes, process_id=process_id)
  elif int(os.environ.get('SLURM_NTASKS', '1')) > 1 or _multi_host_tpu():
    jax.distributed.initialize()  # JAX's cluster auto-detection (Slurm, Cloud TPU).
  else:
    return False
  logging.info('jax.distributed: process %d of %d, %d local / %d global devices',
               jax.process_index(), jax.process_count(), jax.local_device_count(),
               jax.device_count())
  return True


def _multi_host_tpu() -> bool:
  hosts = os.environ.get('TPU_WORKER_HOSTNAMES', '')
  return len([h for h in hosts.split(',') if h]) > 1


def mesh_shape(data: int, window: int, num_devices: int) -> tuple[int, int]:
  """Resolves `data=-1` ("all the rest") and checks the request against the devices."""
  if window < 1:
    raise MeshError(f'mesh.window must be >= 1, got {window}.')
  if data == -1:
    if num_devices % window:
      raise MeshError(f'mesh.window={window} does not divide the {num_devices} devices.')
    data = num_devices // window
  if data < 1:
    raise MeshError(f'mesh.data must be >= 1 or -1 (all devices), got {data}.')
  if data * window > num_devices:
    raise MeshError(
        f'mesh.data x mesh.window = {data} x {window} = {data * window} devices requested, '
        f'but only {num_devices} are available ({jax.devices()[0].platform}).')
  return data, window


def make_mesh(mesh_config: Any) -> jax.sharding.Mesh:
  """The (data, window) mesh from `config.mesh` (fields `data`, `window`)."""
  data, window = mesh_shape(int(mesh_config.data), int(mesh_config.window), jax.device_count())
  axis_types = (jax.sharding.AxisType.Auto,) * 2
  return jax.make_mesh((data, window), (DATA, WINDOW), axis_types=axis_types)


def check_batch(mesh: jax.sharding.Mesh, batch_size: int, what: str = 'train.batch_size'):
  """The global batch must split evenly over the data axis and over processes."""
  n = mesh.shape[DATA]
  if batch_size % n:
    raise MeshError(f'{what}={batch_size} is not divisible by mesh.data={n}; '
                    f'use a multiple of {n}.')
  if batch_size % jax.process_count():
    raise MeshError(f'{what}={batch_size} is not divisible by the {jax.process_count()} '
                    'processes.')


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Batches `[batch, snps]`: rows split over `data`."""
  return NamedSharding(mesh, P(DATA))


def global_batch(mesh: jax.sharding.Mesh, local_rows: np.ndarray) -> jax.Array:
  """This process's rows `[batch / process_count, snps]` -> the global `[batch, snps]` array."""
  return jax.make_array_from_process_local_data(batch_sharding(mesh), local_rows)


def shardings_from_specs(mesh: jax.sharding.Mesh, specs: Any) -> Any:
  """A pytree of PartitionSpecs -> the same tree of NamedShardings on `mesh`."""
  return jax.tree.map(lambda s: NamedSharding(mesh, s), specs,
                      is_leaf=lambda x: isinstance(x, P))
