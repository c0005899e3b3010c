r"""Evaluate artificial genomes against real haplotypes: metrics.json, plots and report.html.

  python experiments/evaluate.py --real=1000g_805 \
      --synthetic=ag_jax/datasets/published_805/805_SNP_GAN_AG_20000epochs.hapt.zip \
      --synthetic=ag_jax/datasets/published_805/805_SNP_RBM_AG_800Epochs.hapt.zip --output=out/

--real takes a bundled dataset name or a prepared dataset directory (then the train and test
splits come from it), or a file (.hapt, .hapt.zip, .vcf, .vcf.gz, .vcz) used whole.
"""

import pathlib
import sys

from absl import app
from absl import flags
import numpy as np

_REAL = flags.DEFINE_string('real', None, 'Dataset name/dir, or a haplotype file.')
_SYNTHETIC = flags.DEFINE_multi_string('synthetic', None, 'AG files (.hapt[.zip], .vcf[.gz], .vcz).')
_TEST = flags.DEFINE_string('test', None, 'Held-out real haplotypes (file); default: the '
                            "dataset's test split.")
_OUTPUT = flags.DEFINE_string('output', None, 'Output directory.')
_LD_DISTANCE = flags.DEFINE_integer(
    'ld_max_distance', 200, 'LD pairs up to this many SNPs apart (among the sites polymorphic '
    'in both sets; the default is ag_jax.evaluate.stats.LD_MAX_DISTANCE, which the training '
    'probe sample_ld_r also uses).')
_MAX = flags.DEFINE_integer('max_haplotypes', 5000, 'Subsample sets above this size.')
_DISTANCE_SAMPLE = flags.DEFINE_integer(
    'distance_sample', 1000, 'Haplotypes per set drawn for the pairwise-distance statistics '
    '(distance_wasserstein). 1,000 draws leave this statistic noisy on structured data (on the '
    '805 SNPs its SD over --seed is up to 2.8); 5000 uses every haplotype of 5,000-AG sets '
    '(SD 0.15-0.32, as README says), at about 16x the memory and time of that step.')
_SEED = flags.DEFINE_integer('seed', 0, 'Subsampling seed.')
_POPULATIONS = flags.DEFINE_enum(
    'populations', 'super_population', ['super_population', 'population', 'none'],
    "Sample column whose labels split AA_truth by group (aa_truth_by_population, "
    "aats_by_population.png: which groups the AGs cover worse); from the dataset's samples.tsv "
    "or the real file's panel. 'none' skips it; unlabelled data skip it anyway.")
flags.mark_flags_as_required(['real', 'synthetic', 'output'])


def _set_name(path: str) -> str:
  name = pathlib.Path(path.rstrip('/')).name
  for ext in ('.zip', '.gz', '.hapt', '.vcf', '.vcz'):
    name = name[:-len(ext)] if name.endswith(ext) else name
  return name


def _read_file(path: str) -> tuple[np.ndarray, dict, dict]:
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  h = data.read_any([path])
  return h.genotypes, h.variants, h.samples


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from ag_jax import data, evaluate  # pylint: disable=g-import-not-at-top
  try:  # before reading any data
    evaluate.check_options(ld_max_distance=_LD_DISTANCE.value, max_haplotypes=_MAX.value,
                           distance_sample=_DISTANCE_SAMPLE.value)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  try:
    real = _REAL.value
    if real in data.BUNDLED or (pathlib.Path(real) / 'metadata.json').exists():
      ds = data.open_dataset(real)
      train, test = ds.read_split('train'), ds.read_split('test')
      variants = ds.variants
      labels = ds.split_samples(_POPULATIONS.value)
    else:
      train, variants, samples = _read_file(real)
      labels = samples.get(_POPULATIONS.value)
      test = None
    if _TEST.value:
      test, _, _ = _read_file(_TEST.value)
    synthetic = {}
    stems = [_set_name(p) for p in _SYNTHETIC.value]
    for path, stem in zip(_SYNTHETIC.value, stems):
      g, _, _ = _read_file(path)
      # Same file name in several workdirs (runs/crbm/ags.hapt, runs/wgan/ags.hapt), or the
      # trainer's generic name: name by the workdir.
      generic = stems.count(stem) > 1 or stem == 'ags'
      name = f'{pathlib.Path(path).parent.name}/{stem}' if generic else stem
      synthetic[name] = g
  except data.DataError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'real: {train.shape[0]} x {train.shape[1]}' + (f', test {test.shape[0]}' if test is not None else ''))
  try:
    evaluate.run_evaluation(train, synthetic, _OUTPUT.value, real_test=test,
                            positions=variants['pos'], chrom=variants['chrom'], seed=_SEED.value,
                            ld_max_distance=_LD_DISTANCE.value, max_haplotypes=_MAX.value,
                            distance_sample=_DISTANCE_SAMPLE.value, populations=labels)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'wrote {_OUTPUT.value}/metrics.json and report.html')


if __name__ == '__main__':
  app.run(main)
