"""Shared benchmark helpers: timing medians after warm-up, peak memory, machine info."""

import platform
import resource
import statistics
import time

import jax


def median_time(fn, *args, repeats: int = 5, warmup: int = 1) -> float:
  """Median wall time of fn(*args) (blocked until ready), after `warmup` untimed calls."""
  for _ in range(warmup):
    jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def peak_rss_gib() -> float:
  """Peak resident set size of this process so far (GiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def compiled_memory_gib(compiled) -> float | None:
  """Temp + argument + output bytes XLA reports for a compiled function (GiB)."""
  try:
    m = compiled.memory_analysis()
    return (m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes) / 2**30
  except Exception:  # pylint: disable=broad-except
    return None


def machine() -> dict:
  d = jax.devices()[0]
  import flax  # pylint: disable=g-import-not-at-top
  return {'machine': platform.node(), 'cpu': platform.processor() or platform.machine(),
          'device_kind': d.device_kind, 'platform': d.platform, 'num_devices': jax.device_count(),
          'jax': jax.__version__, 'flax': flax.__version__}
