"""What the backend is fast at: the one place the models' 'auto' precisions ask."""

import functools
import pathlib

import jax


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
