"""ag_jax: artificial human genomes with JAX."""

__version__ = '0.1.0'
