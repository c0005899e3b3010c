r"""Import phased haplotypes into an ag_jax training store (see docs/data.md).

  python experiments/prepare_data.py --input=a.vcf.gz --input=b.vcf.gz --output=data/mine
  python experiments/prepare_data.py --input=big.vcz --output=data/big    # bio2zarr's VCF Zarr
  python experiments/prepare_data.py --input=805_SNP_1000G_real.hapt.zip \
      --legend=805_SNP.legend --panel=integrated_call_samples_v3.20130502.ALL.panel --output=data/805

Bad input ends in one `error:` line naming the file or flag, exit status 1, and nothing written.
"""

import sys

from absl import app
from absl import flags

from ag_jax import data

_INPUT = flags.DEFINE_multi_string('input', None, '.vcf/.vcf.gz/.bcf (several: samples are '
                                   'concatenated), .vcz (bio2zarr VCF Zarr), or .hapt/.hapt.zip.')
_OUTPUT = flags.DEFINE_string('output', None, 'Store directory to write.')
_LEGEND = flags.DEFINE_string('legend', None, 'hapt only: `id position a0 a1` legend.')
_PANEL = flags.DEFINE_string('panel', None, '1000G-style panel (sample pop super_pop).')
_MIN_MAF = flags.DEFINE_float('min_maf', 0.0, 'Drop SNPs with minor allele frequency below '
                              '(in [0, 0.5); > 0 also drops monomorphic SNPs).')
_TEST_FRACTION = flags.DEFINE_float('test_fraction', 0.2, 'Fraction of individuals held out, '
                                    'in (0, 1).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the train/test split.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace --output if it is an ag_jax store '
                               '(anything else is refused).')
_WORKERS = flags.DEFINE_integer('workers', 0, 'bio2zarr worker processes for VCF conversion '
                                '(0: in this process; >1 partitions need a .csi/.tbi index).')
_PROGRESS = flags.DEFINE_bool('progress', True, 'Show progress bars.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  for name, flag in (('input', _INPUT), ('output', _OUTPUT)):
    if not flag.value:
      _fail(f'--{name}: required; see --help.')
  try:
    data.prepare(_INPUT.value, _OUTPUT.value, legend=_LEGEND.value, panel=_PANEL.value,
                 min_maf=_MIN_MAF.value, test_fraction=_TEST_FRACTION.value, seed=_SEED.value,
                 overwrite=_OVERWRITE.value, workers=_WORKERS.value, progress=_PROGRESS.value)
  except data.DataError as e:
    _fail(str(e))
  except OSError as e:  # e.g. the disk filled up: the temporary store was removed
    _fail(f'{e.filename or _OUTPUT.value}: {e.strerror or e}; nothing was written.')
  except KeyboardInterrupt:
    _fail('interrupted; nothing was written.')


def _fail(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(1)


if __name__ == '__main__':
  app.run(main)
