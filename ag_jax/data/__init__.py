"""Haplotype data: readers, the prepared training store, and the streaming batch loader."""

from ag_jax.data.dataset import BUNDLED, Dataset, open_config, open_dataset
from ag_jax.data.loader import BatchLoader
from ag_jax.data.prepare import prepare
from ag_jax.data.readers import DataError, Haplotypes, read_any, read_hapt, read_vcf, read_vcz

__all__ = ['BUNDLED', 'BatchLoader', 'DataError', 'Dataset', 'Haplotypes', 'open_config',
           'open_dataset', 'prepare', 'read_any', 'read_hapt', 'read_vcf', 'read_vcz']
