r"""Write artificial genomes from a trained workdir; the format follows the extension.

  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.vcf.gz
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.vcz
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --sample_sweeps=200 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --sample_beta=1.05 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --sample_sharpen=1.5 --output=ags.hapt
  python experiments/generate.py --workdir=runs/wgan --step=4000 --output=ags_4000.hapt

VCF pairs consecutive haplotypes into phased diploid individuals (AG0 = haplotypes 0 and 1)
and carries the training data's contigs, positions, ids and alleles.
"""

import sys

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string('workdir', None, 'A training workdir (with checkpoints).')
_NUM = flags.DEFINE_integer('num_samples', 1000, 'Number of haplotypes to generate.')
_OUTPUT = flags.DEFINE_string('output', None, '.hapt, .vcf, .vcf.gz or .vcz')
_SEED = flags.DEFINE_integer(
    'seed', 0, 'Generation seed. The same seed gives the same AGs; across two models it gives '
    'the same chain starts and noise, so their AGs pair up (two 805-SNP CRBMs: paired AGs '
    '133 SNPs apart against 342 for independent ones). Pool sets drawn with different seeds.')
_BATCH = flags.DEFINE_integer('batch_size', 1000, 'Haplotypes generated per device call.')
_SWEEPS = flags.DEFINE_integer(
    'sample_sweeps', None, 'RBM/CRBM only: Gibbs sweeps per window, instead of the trained '
    "config's model.sample_sweeps (a sampling choice; no retraining).")
_BETA = flags.DEFINE_float(
    'sample_beta', None, 'RBM/CRBM only: inverse temperature the Gibbs chains end at, instead '
    "of the trained config's model.sample_beta (1 samples the model; above 1 colder).")
_SHARPEN = flags.DEFINE_float(
    'sample_sharpen', None, "RBM/CRBM only: factor on the inverse temperature of the last "
    "visible draw only (the AG itself), instead of the trained config's model.sample_sharpen "
    '(1: none; on dense data 1.5 restores part of the LD the last draw blurs, at some privacy '
    'cost; on unlinked SNPs the AGs clump).')
_STEP = flags.DEFINE_integer(
    'step', None, 'Checkpoint step to generate from (default: the latest); the workdir keeps '
    'the last config.train.keep_checkpoints.')
flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  from ag_jax.train import rbm as rbm_family  # pylint: disable=g-import-not-at-top
  out = _OUTPUT.value
  if not out.lower().endswith(('.hapt', '.vcf', '.vcf.gz', '.vcz')):
    print(f'error: {out}: unknown output format; use .hapt, .vcf, .vcf.gz or .vcz.', file=sys.stderr)
    sys.exit(1)
  if out.lower().endswith(('.vcf', '.vcf.gz', '.vcz')) and _NUM.value % 2:
    print(f'error: --num_samples={_NUM.value} is odd; VCF pairs haplotypes into diploid '
          'individuals, so generate an even number.', file=sys.stderr)
    sys.exit(1)
  if _SWEEPS.value is not None and _SWEEPS.value < 1:
    print(f'error: --sample_sweeps={_SWEEPS.value}: use 1 or more.', file=sys.stderr)
    sys.exit(1)
  try:
    if _BETA.value is not None:
      rbm_family.check_sample_beta(_BETA.value, '--sample_beta')
    if _SHARPEN.value is not None:
      rbm_family.check_sample_beta(_SHARPEN.value, '--sample_sharpen', rbm_family.SHARPEN_HELP)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  try:
    trained = train.load_trained(_WORKDIR.value, _STEP.value)
  except FileNotFoundError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  overrides = {k: v for k, v in (('sample_sweeps', _SWEEPS.value), ('sample_beta', _BETA.value),
                                 ('sample_sharpen', _SHARPEN.value)) if v is not None}
  if overrides and 'sample_sweeps' not in trained.config.model:
    print(f'error: --{" --".join(overrides)} needs an RBM/CRBM workdir ({_WORKDIR.value} is '
          f'{trained.config.model.name!r}).', file=sys.stderr)
    sys.exit(1)
  with trained.config.unlocked():  # sample_beta/_sharpen are newer than some workdirs' configs
    trained.config.model.update(overrides)
  batches = trained.generate(_NUM.value, seed=_SEED.value, batch_size=_BATCH.value)
  n = writers.write_genotypes(out, batches, trained.setup.dataset.variants)
  print(f'wrote {n} haplotypes x {trained.setup.info.num_snps} SNPs to {out} '
        f'(checkpoint step {int(trained.state.step)})')


if __name__ == '__main__':
  app.run(main)
