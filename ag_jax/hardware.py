"""What the backend is fast at: the one place the models' 'auto' precisions and the families'
XLA options ask. Importing it (every model does) also returns the heap XLA's compiler frees
after each long compile."""

import ctypes
import functools
import logging
import pathlib

import jax
import numpy as np


@functools.lru_cache(maxsize=None)
def bf16_is_fast(platform: str | None = None) -> bool:
  """Whether bf16 matmuls with f32 accumulation beat f32 ones on `platform` (default: the
  default backend): TPUs and GPUs, and CPUs with AMX-BF16 or AVX512-BF16 instructions (read
  from /proc/cpuinfo; there XLA:CPU's bf16 dots run 3-5.5x its f32 rate). A CPU without them
  emulates bf16, slower than f32 (AVX2-only AMD EPYC: 1.4-1.6x slower)."""
  platform = platform or jax.default_backend()
  if platform != 'cpu':
    return True
  try:
    flags = pathlib.Path('/proc/cpuinfo').read_text().split()
  except OSError:
    return False
  return 'amx_bf16' in flags or 'avx512_bf16' in flags


def cpu_compiler_options(options: dict[str, str]) -> dict[str, str] | None:
  """`options` for jax.jit(compiler_options=...) where the default backend is a CPU whose XLA
  accepts them, else None: on GPUs and TPUs, and (with a warning) where a jaxlib has renamed
  an experimental XLA:CPU option, the program compiles with XLA's defaults."""
  if not options or jax.default_backend() != 'cpu':
    return None
  items = tuple(sorted(options.items()))
  return dict(items) if _accepted(items) else None


@functools.lru_cache(maxsize=None)
def _accepted(items: tuple[tuple[str, str], ...]) -> bool:
  try:
    jax.jit(lambda x: x + 1, compiler_options=dict(items)).lower(np.float32(0)).compile()
    return True
  except Exception as e:  # pylint: disable=broad-except  (jaxlib's error type varies by version)
    logging.warning('XLA options %s not accepted by this jaxlib (%s); compiling with its '
                    'defaults.', dict(items), str(e).splitlines()[0][:200])
    return False


def release_freed_heap() -> None:
  """Returns the C heap's free pages to the OS (glibc's malloc_trim; a no-op elsewhere). XLA's
  compiler frees gigabytes that glibc keeps resident: after compiling the 16,383-SNP WGAN
  step, 2.1 of the process's 3.3 GiB (docs/perf_wgan.md)."""
  try:
    ctypes.CDLL(None).malloc_trim(0)
  except (OSError, AttributeError, TypeError):  # no glibc (musl, macOS) or no CDLL(None)
    pass


# Compiles shorter than this free little; trimming after each of the many small helpers'
# compiles would cost more than it returns.
TRIM_AFTER_COMPILE_SECS = 1.0


def _trim_after_long_compile(event: str, duration_secs: float, **_) -> None:
  if event == '/jax/core/compile/backend_compile_duration' and (
      duration_secs >= TRIM_AFTER_COMPILE_SECS):
    release_freed_heap()


# Every long compile in a process that uses ag_jax's models gives its freed heap back, whoever
# calls jit: the training loop, generate.py, the benchmarks.
jax.monitoring.register_event_duration_secs_listener(_trim_after_long_compile)
