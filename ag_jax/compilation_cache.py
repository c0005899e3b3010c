"""XLA's persistent compilation cache in a user cache directory, so a resumed or repeated run
loads its compiled steps instead of compiling them again (the 65,535-SNP WGAN step compiles
for minutes on a CPU).

  from ag_jax import compilation_cache
  compilation_cache.enable()  # before the first jit

The directory is $JAX_COMPILATION_CACHE_DIR if set, else <cache>/xla with <cache> the
directory ag_jax already caches prepared datasets in ($AG_JAX_CACHE, else ~/.cache/ag_jax).
Set JAX_COMPILATION_CACHE_DIR to an empty string to keep the cache off. Entries are keyed by
the program, the jax / jaxlib version, the backend and its flags, so a stale entry is never
used; the directory can be deleted at any time.
"""

from __future__ import annotations

import os
import pathlib

import jax

ENV = 'JAX_COMPILATION_CACHE_DIR'
# Only programs that took at least this long to compile are written: the WGAN and RBM steps
# (seconds to minutes), not the many small helpers (milliseconds), which would fill the
# directory with entries that cost more to read than to compile.
MIN_COMPILE_TIME_SECS = 1.0


def default_dir() -> pathlib.Path:
  """$AG_JAX_CACHE/xla, else ~/.cache/ag_jax/xla (as ag_jax.data.dataset's cache root)."""
  return pathlib.Path(os.environ.get('AG_JAX_CACHE') or '~/.cache/ag_jax').expanduser() / 'xla'


def enable(path: str | os.PathLike | None = None,
           min_compile_time_secs: float = MIN_COMPILE_TIME_SECS) -> pathlib.Path | None:
  """Turns on jax's persistent compilation cache and returns its directory (None if off).

  path: the directory; default $JAX_COMPILATION_CACHE_DIR if that is set (an empty value
  turns the cache off), else `default_dir()`. Call it before the first jit: jax opens the
  cache when it first compiles.
  """
  if path is None:
    env = os.environ.get(ENV)
    if env is not None and not env.strip():
      return None
    path = env or default_dir()
  path = pathlib.Path(path).expanduser()
  path.mkdir(parents=True, exist_ok=True)
  jax.config.update('jax_compilation_cache_dir', str(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', float(min_compile_time_secs))
  return path
