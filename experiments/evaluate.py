r"""Evaluate artificial genomes against real haplotypes: metrics.json, plots and report.html.

  python experiments/evaluate.py --real=1000g_805 \
      --synthetic=ag_jax/datasets/published_805/805_SNP_GAN_AG_20000epochs.hapt.zip \
      --synthetic=ag_jax/datasets/published_805/805_SNP_RBM_AG_800Epochs.hapt.zip --output=out/

--real takes a bundled dataset name or a prepared dataset directory (then the train and test
splits come from it), or a file (.hapt, .hapt.zip, .vcf, .vcf.gz, .vcz) used whole.
--synthetic takes .hapt(.zip), .vcf(.gz), .bcf, .vcz or .pgen (+ .pvar beside it).

Before computing anything, each synthetic set's sites (contig, position, REF, ALT) are checked
against the real data's where both have a variants table (a .hapt has none: then the SNP
count); a mismatch is one `error:` line naming the first differing site, exit status 1.
--fail_on_findings: after writing the report, exit status 2 if any synthetic set raises an
audit finding (privacy, copies, membership, diversity, realism, lost alleles), listing them.
Each set's privacy figures carry standard errors, their sizes and a verdict (no evidence of
leakage / leaks / too few haplotypes to conclude, with the size that would): docs/privacy.md.
"""

import pathlib
import sys

from absl import app
from absl import flags
import numpy as np

_REAL = flags.DEFINE_string('real', None, 'Dataset name/dir, or a haplotype file.')
_SYNTHETIC = flags.DEFINE_multi_string(
    'synthetic', None, 'AG files (.hapt[.zip], .vcf[.gz], .bcf, .vcz, .pgen).')
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
_BY_LABEL = flags.DEFINE_bool(
    'by_label', True, "Evaluate a set per label when its labels file is beside it "
    "(<set>.labels.tsv, written by generate.py for a conditional model): per-label AF r, LD r, "
    "Fst, classifier accuracy and privacy against the real haplotypes of each label, and "
    "confusion.png. The real data need the same label column.")
_FAIL = flags.DEFINE_bool(
    'fail_on_findings', False, 'Exit with status 2 (after writing the report) when any '
    'synthetic set raises an audit finding, so a pipeline stops before the AGs are shared.')
flags.mark_flags_as_required(['real', 'synthetic', 'output'])

FINDINGS_EXIT = 2


def _set_name(path: str) -> str:
  name = pathlib.Path(path.rstrip('/')).name
  for ext in ('.zip', '.gz', '.hapt', '.vcf', '.vcz', '.bcf', '.pgen'):
    name = name[:-len(ext)] if name.endswith(ext) else name
  return name


def _read_file(path: str) -> tuple[np.ndarray, dict, dict]:
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  h = data.read_any([path])
  return h.genotypes, h.variants, h.samples


def _labels(set_labels: dict, train_column, test_column):
  """evaluate.Labels of the sets with a labels file ({name: (path, column, labels)}) and of
  the real splits' same column; DataError if the sets' columns differ or the real data lack it."""
  from ag_jax import evaluate, data  # pylint: disable=g-import-not-at-top
  if not set_labels:
    return None
  columns = {column for _, column, _ in set_labels.values()}
  if len(columns) > 1:
    raise data.DataError(f'the labels files give {" and ".join(sorted(columns))} labels '
                         f'({", ".join(str(p) for p, _, _ in set_labels.values())}); evaluate '
                         'sets of one label column together, or pass --noby_label.')
  column = columns.pop()
  train = train_column(column)
  first = next(iter(set_labels.values()))[0]
  if train is None or not any(train):
    raise data.DataError(f'{first}: {column} labels, but the real train haplotypes (--real) '
                         f'have none; give real data with a {column} column (a store prepared '
                         'with --panel, or a file with its panel) or pass --noby_label.')
  for name, (path, _, _) in set_labels.items():
    print(f'{name}: per-label evaluation by {column} ({path})')
  test = test_column(column) if test_column is not None else None
  return evaluate.Labels(column, train, test,
                         sets={name: lab for name, (_, _, lab) in set_labels.items()})


def _fail(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from ag_jax import data, evaluate  # pylint: disable=g-import-not-at-top
  from ag_jax.data import labels as labels_lib  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import identity, report  # pylint: disable=g-import-not-at-top
  try:  # before reading any data
    evaluate.check_options(ld_max_distance=_LD_DISTANCE.value, max_haplotypes=_MAX.value,
                           distance_sample=_DISTANCE_SAMPLE.value)
  except ValueError as e:
    _fail(str(e))
  output = pathlib.Path(_OUTPUT.value)
  try:
    report.check_output_dir(output)
  except ValueError as e:
    _fail(f'--output={e}')
  try:
    real = _REAL.value
    if real in data.BUNDLED or (pathlib.Path(real) / 'metadata.json').exists():
      ds = data.open_dataset(real)
      train = ds.read_split('train')
      test = ds.read_split('test') if ds.num_test else None
      variants = ds.variants
      train_column = ds.split_samples
      test_column = (lambda c: ds.split_samples(c, 'test')) if ds.num_test else None
    else:
      train, variants, samples = _read_file(real)
      train_column, test, test_column = samples.get, None, None
    if _TEST.value:
      test, test_variants, test_samples = _read_file(_TEST.value)
      test_column = test_samples.get
      identity.check_same_sites(variants, train.shape[1], test_variants, test.shape[1],
                                f'--test={_TEST.value}')
    synthetic, set_labels = {}, {}
    stems = [_set_name(p) for p in _SYNTHETIC.value]
    for path, stem in zip(_SYNTHETIC.value, stems):
      g, synth_variants = identity.read_synthetic(path)
      compared = identity.check_same_sites(variants, train.shape[1], synth_variants,
                                           g.shape[1], path)
      print(f'{path}: {g.shape[0]} haplotypes; ' + (
          'sites (contig, position, REF, ALT) match the real data' if compared == 'sites' else
          'SNP count matches the real data (no variants table to compare)'))
      # Same file name in several workdirs (runs/crbm/ags.hapt, runs/wgan/ags.hapt), or the
      # trainer's generic name: name by the workdir.
      generic = stems.count(stem) > 1 or stem == 'ags'
      name = f'{pathlib.Path(path).parent.name}/{stem}' if generic else stem
      synthetic[name] = g
      labels_path = labels_lib.ag_labels_path(path)
      if _BY_LABEL.value and labels_path.exists():
        set_labels[name] = (labels_path, *labels_lib.read_ag_labels(labels_path, len(g)))
    by_label = _labels(set_labels, train_column, test_column)
  except (data.DataError, identity.IdentityError) as e:
    _fail(str(e))
  if test is None:
    print('warning: no test split (and no --test): the test-split metrics (aats_test, '
          'privacy_loss, mia_auc, fst_reference, the real_test row) are skipped.',
          file=sys.stderr)
  print(f'real: {train.shape[0]} x {train.shape[1]}' + (f', test {test.shape[0]}' if test is not None else ''))
  try:
    results = evaluate.run_evaluation(
        train, synthetic, output, real_test=test, positions=variants['pos'],
        chrom=variants['chrom'], seed=_SEED.value, ld_max_distance=_LD_DISTANCE.value,
        max_haplotypes=_MAX.value, distance_sample=_DISTANCE_SAMPLE.value,
        populations=None if _POPULATIONS.value == 'none' else train_column(_POPULATIONS.value),
        labels=by_label)
  except ValueError as e:
    _fail(str(e))
  except OSError as e:
    _fail(f'--output={output}: cannot write there ({e.strerror}); give a writable directory.')
  print(f'wrote {output}/metrics.json and report.html')
  if _FAIL.value:
    raised = {name: m['findings'] for name, m in results.items() if m.get('findings')}
    if raised:
      kinds = sorted({line.split(':')[0] for lines in raised.values() for line in lines})
      print(f'error: --fail_on_findings: {", ".join(kinds)} finding(s) in '
            f'{", ".join(raised)} (report: {output / "report.html"}); exit status '
            f'{FINDINGS_EXIT}.', file=sys.stderr)
      sys.exit(FINDINGS_EXIT)


if __name__ == '__main__':
  app.run(main)
