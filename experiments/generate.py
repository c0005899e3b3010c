r"""Write artificial genomes from a trained workdir; the format follows the extension.

  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.vcf.gz
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.bcf
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.vcz
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.pgen
  python experiments/generate.py --workdir=runs/crbm --num_samples=5000 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --output=ags.vcf.gz --fail_on_findings
  python experiments/generate.py --workdir=runs/crbm --sample_sweeps=200 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --sample_beta=1.05 --output=ags.hapt
  python experiments/generate.py --workdir=runs/crbm --sample_sharpen=1.5 --output=ags.hapt
  python experiments/generate.py --workdir=runs/wgan --step=4000 --output=ags_4000.hapt
  python experiments/generate.py --workdir=runs/cond --population=EAS --output=eas.vcf.gz
  python experiments/generate.py --workdir=runs/cond --populations=EUR:2000,EAS:1000 \
      --output=cohort.vcf.gz

A model trained with --config.data.condition (docs/conditional.md) draws AGs of the labels
asked for (--population, --populations; default: the training proportions) and writes each
AG's label to <output>.labels.tsv (`sample` and the label column; AGi is an individual in
VCF/VCZ/PLINK outputs, a haplotype in .hapt).

Formats (docs/formats.md): .hapt (the papers' format, provenance in <output>.json), .vcf,
.vcf.gz (BGZF + .csi index), .bcf (+ .csi), .vcz (VCF Zarr, bio2zarr's layout), .pgen
(+ .pvar, .psam; PLINK 2, phased). All but .hapt pair consecutive haplotypes into phased
diploid individuals (AG0 = haplotypes 0 and 1) and carry the training data's contigs,
positions, ids and alleles. Every output carries provenance (ag_jax version, model, checkpoint
step, seed, number of haplotypes, synthetic-samples marker).

An existing output is replaced only if ag_jax wrote it (its provenance says so), atomically.

--audit checks the AGs against the training split (exact copies among all AGs; privacy loss,
membership AUC and nearest-neighbour distance ratio on --audit_sample of them) and prints the
figures. --fail_on_findings (implies --audit) exits with status 3 when a limit is crossed,
after writing the AGs: a pipeline stops before they are shared; the user can inspect them.
Exit status: 0 done, 1 bad input (one `error:` line, nothing written), 3 audit findings.
"""

import gzip
import os
import pathlib
import re
import sys
import tempfile

from absl import app
from absl import flags
import numpy as np

_WORKDIR = flags.DEFINE_string('workdir', None, 'A training workdir (with checkpoints).')
_NUM = flags.DEFINE_integer('num_samples', 1000, 'Number of haplotypes to generate.')
_OUTPUT = flags.DEFINE_string('output', None, '.hapt, .vcf, .vcf.gz, .bcf, .vcz or .pgen')
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
_AUDIT = flags.DEFINE_bool(
    'audit', False, 'Check the written AGs against the training split (exact copies, privacy '
    'loss, membership AUC, nearest-neighbour distance ratio) and print the figures.')
_FAIL = flags.DEFINE_bool(
    'fail_on_findings', False, 'Implies --audit; exit with status 3 when a limit is crossed '
    '(the AGs are still written; the status tells a pipeline not to share them).')
_POPULATION = flags.DEFINE_string(
    'population', '', 'Conditional models only: every AG of this label (one the model was '
    'trained on: its workdir/labels.json).')
_POPULATIONS = flags.DEFINE_string(
    'populations', '', "Conditional models only: haplotypes per label, 'EUR:2000,EAS:1000'; "
    'the counts add up to --num_samples, which may then be left out. Even counts for '
    'diploid outputs (an individual has one label).')
_AUDIT_SAMPLE = flags.DEFINE_integer(
    'audit_sample', 1000, 'AGs (and as many train and held-out haplotypes) in the audit\'s '
    'distance figures; exact copies are checked on all AGs.')
flags.mark_flags_as_required(['workdir', 'output'])


def _fail(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(1)


def _check_output_dir(out: pathlib.Path):
  """The nearest existing ancestor of the output must be a writable directory."""
  parent = out.absolute().parent
  while not parent.exists():
    parent = parent.parent
  if not parent.is_dir():
    _fail(f'--output={out}: {parent} is a file, not a directory; choose an --output in a '
          'directory.')
  try:  # an unnamed file (O_TMPFILE where possible): nothing appears in the directory
    with tempfile.TemporaryFile(dir=parent):
      pass
  except OSError as e:
    _fail(f'--output={out}: cannot write in {parent} ({e.strerror}); choose a writable '
          'directory.')


def _check_labels_replaceable(path: pathlib.Path):
  """The labels file beside an output replaces only one ag_jax wrote (its header)."""
  from ag_jax.data import labels as labels_lib  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  if path.exists() and not labels_lib.is_ag_labels(path):
    raise writers.OutputError(f'{path}: exists and was not written by ag_jax (not an AG labels '
                              'file); it would be replaced, so nothing was written. Move it or '
                              'choose another --output.')


def _vcf_contig_lengths(path: str) -> dict[str, int]:
  """`##contig=<ID=..,length=..>` of a VCF's header (text or gzip; pysam refuses a .vcf.gz
  that is plain gzip rather than BGZF, as the bundled AGBL4 files are)."""
  with open(path, 'rb') as f:
    gz = f.read(2) == b'\x1f\x8b'
  lengths = {}
  with (gzip.open(path, 'rt') if gz else open(path)) as f:
    for line in f:
      if not line.startswith('##'):
        break
      m = re.match(r'##contig=<ID=([^,>]+)(?:,.*?)?,length=(\d+)', line)
      if m:
        lengths[m.group(1)] = int(m.group(2))
  return lengths


def _contig_lengths(ds) -> dict[str, int]:
  """Contig lengths from the headers of the dataset's VCF/VCZ sources, where they say them
  (a .hapt/legend source has none; the outputs then name contigs without lengths)."""
  lengths = {}
  for src in ds.metadata.get('sources', []):
    try:
      if src.lower().endswith(('.vcf', '.vcf.gz')) and os.path.isfile(src):
        lengths.update(_vcf_contig_lengths(src))
      elif src.lower().endswith('.vcz') and os.path.isdir(src):
        import zarr  # pylint: disable=g-import-not-at-top
        root = zarr.open_group(src, mode='r')
        if 'contig_length' in root:
          lengths.update(zip(root['contig_id'][:].tolist(), root['contig_length'][:].tolist()))
    except (OSError, ValueError, KeyError, EOFError):
      continue  # lengths are optional
  return {str(k): int(v) for k, v in lengths.items()}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from ag_jax.data import labels as labels_lib  # pylint: disable=g-import-not-at-top
  from ag_jax.data import writers  # pylint: disable=g-import-not-at-top
  out = pathlib.Path(_OUTPUT.value)
  fmt = writers.output_format(out)
  if fmt is None:
    _fail(f'--output={out}: unknown output format; use {", ".join(writers.FORMATS)}.')
  num = 0 if _POPULATIONS.value and not _NUM.present else _NUM.value  # 0: the counts' sum
  if num < 1 and not (_POPULATIONS.value and not _NUM.present):
    _fail(f'--num_samples={_NUM.value}: use 1 or more (haplotypes to generate).')
  if fmt in writers.DIPLOID and num % 2:
    _fail(f'--num_samples={_NUM.value} is odd; {fmt} pairs haplotypes into diploid '
          'individuals, so generate an even number (or write .hapt).')
  if _BATCH.value < 1:
    _fail(f'--batch_size={_BATCH.value}: use 1 or more (haplotypes per device call).')
  audit = _AUDIT.value or _FAIL.value
  if audit and _AUDIT_SAMPLE.value < 2:
    _fail(f'--audit_sample={_AUDIT_SAMPLE.value}: use 2 or more (distances are between pairs).')
  _check_output_dir(out)
  labels_path = labels_lib.ag_labels_path(out)
  try:
    writers.check_replaceable(out)
    _check_labels_replaceable(labels_path)
  except writers.OutputError as e:
    _fail(str(e))
  workdir = pathlib.Path(_WORKDIR.value)
  if not workdir.is_dir():
    _fail(f'--workdir={workdir}: no such directory; give the --workdir a training run wrote.')

  from ag_jax import compilation_cache  # pylint: disable=g-import-not-at-top
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  from ag_jax.config_base import ConfigError  # pylint: disable=g-import-not-at-top
  compilation_cache.enable()  # the sampler compiled by training (or an earlier draw) is reused
  overrides = {k: v for k, v in (('sample_sweeps', _SWEEPS.value), ('sample_beta', _BETA.value),
                                 ('sample_sharpen', _SHARPEN.value)) if v is not None}
  try:  # the saved config and the sampling flags pass the validation training uses
    trained = train.load_trained(workdir, _STEP.value)
    vocab = trained.setup.info.labels
    labels = labels_lib.request(vocab, num, _POPULATION.value, _POPULATIONS.value,
                                ploidy=2 if fmt in writers.DIPLOID else 1)
    num = num or len(labels)
    batches = trained.generate(num, seed=_SEED.value, batch_size=_BATCH.value,
                               labels=labels, **overrides)
  except ConfigError as e:
    _fail(f'bad config: {e}')
  except (FileNotFoundError, ValueError) as e:
    _fail(str(e))
  ds = trained.setup.dataset
  try:
    writers.check_variants(ds.variants, out)
  except writers.OutputError as e:
    _fail(str(e))
  step = int(trained.state.step)
  provenance = writers.Provenance(model=trained.config.model.name, checkpoint_step=step,
                                  seed=_SEED.value)
  gate = None
  if audit:
    from ag_jax.evaluate import gate as gate_lib  # pylint: disable=g-import-not-at-top
    gate = gate_lib.Gate(ds, sample=_AUDIT_SAMPLE.value, seed=_SEED.value)
    batches = gate.observe(batches)
  try:
    n = writers.write_genotypes(out, batches, ds.variants, provenance=provenance,
                                contig_lengths=_contig_lengths(ds), progress=True,
                                hapt_tags=labels_lib.names(vocab, labels))
  except (writers.OutputError, OSError) as e:
    _fail(f'{e}' if isinstance(e, writers.OutputError) else f'--output={out}: {e}')
  print(f'wrote {n} haplotypes x {trained.setup.info.num_snps} SNPs to {out} '
        f'(checkpoint step {step})')
  if labels is not None:
    labels_lib.write_ag_labels(labels_path, vocab, labels, diploid=fmt in writers.DIPLOID)
    counts = np.bincount(labels, minlength=vocab.size)
    print(f'labels in {labels_path}: ' + ', '.join(
        f'{name} {c}' for name, c in zip(vocab.names, counts.tolist()) if c))
  if gate is None:
    return
  result = gate.result()
  print(gate_lib.summary(result))
  for line in result['findings']:
    print(f'  finding: {line}')
  if result['findings'] and _FAIL.value:
    print(f'error: --fail_on_findings: {len(result["findings"])} audit limit(s) crossed (above); '
          f'{out} was written but should not be shared.', file=sys.stderr)
    sys.exit(3)


if __name__ == '__main__':
  app.run(main)
