r"""Import phased haplotypes into an ag_jax training store.

  python experiments/prepare_data.py --input=a.vcf.gz --input=b.vcf.gz --output=data/mine
  python experiments/prepare_data.py --input=805_SNP_1000G_real.hapt.zip \
      --legend=805_SNP.legend --panel=integrated_call_samples_v3.20130502.ALL.panel --output=data/805
"""

import sys

from absl import app
from absl import flags

from ag_jax import data

_INPUT = flags.DEFINE_multi_string('input', None, '.vcf/.vcf.gz (several: samples are '
                                   'concatenated), .vcz, or .hapt/.hapt.zip.')
_OUTPUT = flags.DEFINE_string('output', None, 'Dataset directory to write.')
_LEGEND = flags.DEFINE_string('legend', None, 'hapt only: `id position a0 a1` legend.')
_PANEL = flags.DEFINE_string('panel', None, '1000G-style panel (sample pop super_pop).')
_MIN_MAF = flags.DEFINE_float('min_maf', 0.0, 'Drop SNPs with minor allele frequency below.')
_TEST_FRACTION = flags.DEFINE_float('test_fraction', 0.2, 'Fraction of individuals held out.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the train/test split.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace an existing non-empty --output.')
flags.mark_flags_as_required(['input', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    data.prepare(_INPUT.value, _OUTPUT.value, legend=_LEGEND.value, panel=_PANEL.value,
                 min_maf=_MIN_MAF.value, test_fraction=_TEST_FRACTION.value, seed=_SEED.value,
                 overwrite=_OVERWRITE.value)
  except data.DataError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
