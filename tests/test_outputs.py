"""Outputs of generate.py: standard formats read back by libraries other than the writer's,
provenance, no user file lost, file modes, bad flags, and the privacy gate."""

import functools
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import types

import ml_collections
import numpy as np
import pytest

from ag_jax.data import writers
from conftest import AGBL4, HAPT_805, PUBLISHED_RBM, ROOT

GENERATE = str(ROOT / 'experiments' / 'generate.py')
PROV = writers.Provenance(model='crbm', checkpoint_step=40, seed=7)
# Lengths as a VCF header would give them (GRCh37 chromosome 1 and 2; others unknown).
LENGTHS = {'1': 249250621, '2': 243199373}


@pytest.fixture(scope='module')
def real(ds805):
  """40 real held-out haplotypes of the 805-SNP set, written as AGs would be (two batches)."""
  return ds805.read_split('test')[:40]


def _write(tmp_path, name, g, variants, **kw):
  path = tmp_path / name
  kw.setdefault('provenance', PROV)
  n = writers.write_genotypes(path, iter([g[:16], g[16:]]), variants, **kw)
  assert n == len(g)
  return path


def _vcf_rows(records):
  rows, pos = [], []
  for v in records:
    rows.append([a for gt in v.genotypes for a in gt[:2]])
    assert all(gt[2] for gt in v.genotypes)  # phased
    pos.append(v.POS)
  return np.array(rows, np.uint8).T, np.array(pos)


@pytest.mark.parametrize('name', ['ags.vcf.gz', 'ags.bcf'])
def test_indexed_vcf_region_query_returns_that_region(tmp_path, ds805, real, name):
  """BGZF/BCF with a CSI index beside it: cyvcf2 (not pysam, the writer) answers a region
  query with exactly the haplotypes of the SNPs in that region."""
  import cyvcf2  # pylint: disable=g-import-not-at-top
  path = _write(tmp_path, name, real, ds805.variants, contig_lengths=LENGTHS)
  assert (tmp_path / f'{name}.csi').is_file() and not (tmp_path / f'{name}.tbi').exists()
  if name.endswith('.gz'):
    head = path.read_bytes()[:18]
    assert head[:4] == b'\x1f\x8b\x08\x04' and head[12:14] == b'BC'  # BGZF block header
  vcf = cyvcf2.VCF(str(path))
  start, end = 30_000_000, 120_000_000
  got, pos = _vcf_rows(vcf(f'2:{start}-{end}'))
  chrom, p = ds805.variants['chrom'], ds805.variants['pos']
  want = (chrom == '2') & (p >= start) & (p <= end)
  assert 3 < want.sum() < (chrom == '2').sum()  # a real sub-range of a contig
  np.testing.assert_array_equal(pos, p[want])
  np.testing.assert_array_equal(got, real[:, want])
  assert vcf.samples == [f'AG{i}' for i in range(20)]
  all_rows, _ = _vcf_rows(cyvcf2.VCF(str(path)))
  np.testing.assert_array_equal(all_rows, real)


def test_vcz_is_bio2zarrs_layout_and_vcztools_view_equals_the_vcf(tmp_path, ds805, real):
  import zarr  # pylint: disable=g-import-not-at-top
  vcz = _write(tmp_path, 'ags.vcz', real, ds805.variants, contig_lengths=LENGTHS)
  vcf = _write(tmp_path, 'ags.vcf', real, ds805.variants, contig_lengths=LENGTHS)
  root = zarr.open_group(str(vcz), mode='r')
  assert root.metadata.zarr_format == 3
  assert root['call_genotype'].metadata.dimension_names == ('variants', 'samples', 'ploidy')
  assert root['sample_id'][:].tolist() == [f'AG{i}' for i in range(20)]
  lengths = dict(zip(root['contig_id'][:].tolist(), root['contig_length'][:].tolist()))
  assert lengths['1'] == LENGTHS['1'] and lengths['2'] == LENGTHS['2']
  assert root['call_genotype_phased'][:].all()
  view = subprocess.run([sys.executable, '-m', 'vcztools', 'view', str(vcz)],
                        capture_output=True, text=True, check=True).stdout
  records = lambda text: [l for l in text.splitlines() if not l.startswith('#')]
  assert len(records(view)) == real.shape[1]
  assert records(view) == records(vcf.read_text())
  header = [l for l in view.splitlines() if l.startswith('#CHROM')][0]
  assert header == [l for l in vcf.read_text().splitlines() if l.startswith('#CHROM')][0]


def test_pgen_reads_back_with_pgenlib(tmp_path, ds805, real):
  import pgenlib  # pylint: disable=g-import-not-at-top
  path = _write(tmp_path, 'ags.pgen', real, ds805.variants)
  reader = pgenlib.PgenReader(str(path).encode())
  num_snps = ds805.num_snps
  assert (reader.get_raw_sample_ct(), reader.get_variant_ct()) == (20, num_snps)
  assert reader.hardcall_phase_present()
  alleles = np.empty((num_snps, 40), np.int32)
  phased = np.empty((num_snps, 20), np.uint8)
  reader.read_alleles_and_phasepresent_range(0, num_snps, alleles, phased)
  np.testing.assert_array_equal(alleles.T, real)  # haplotype 2i, 2i+1 = individual i
  het = alleles[:, 0::2] != alleles[:, 1::2]
  assert het.any() and phased[het].all()
  pvar = [l.split('\t') for l in path.with_suffix('.pvar').read_text().splitlines()
          if not l.startswith('##')]
  assert pvar[0] == ['#CHROM', 'POS', 'ID', 'REF', 'ALT']
  assert [int(r[1]) for r in pvar[1:]] == ds805.variants['pos'].tolist()
  assert [r[3] for r in pvar[1:]] == ds805.variants['ref'].tolist()
  psam = [l for l in path.with_suffix('.psam').read_text().splitlines() if not l.startswith('##')]
  assert psam == ['#IID'] + [f'AG{i}' for i in range(20)]


def test_provenance_in_every_output(tmp_path, ds805, real):
  import cyvcf2  # pylint: disable=g-import-not-at-top
  import zarr  # pylint: disable=g-import-not-at-top
  lines = ['##ag_jaxVersion=0.1.0', '##ag_jaxModel=crbm', '##ag_jaxCheckpointStep=40',
           '##ag_jaxSeed=7', '##ag_jaxNumHaplotypes=40', '##syntheticSamples=true']
  for name in ('ags.vcf', 'ags.vcf.gz', 'ags.bcf'):
    header = cyvcf2.VCF(str(_write(tmp_path, name, real, ds805.variants))).raw_header
    assert all(l in header.splitlines() for l in lines), name
  pgen = _write(tmp_path, 'ags.pgen', real, ds805.variants)
  for companion in ('.pvar', '.psam'):
    text = pgen.with_suffix(companion).read_text().splitlines()
    assert text[:len(lines)] == lines
  attrs = zarr.open_group(str(_write(tmp_path, 'ags.vcz', real, ds805.variants)), mode='r').attrs
  assert attrs['ag_jax'] == {'format': writers.MARKER, 'synthetic_samples': True,
                             'ag_jax_version': '0.1.0', 'model': 'crbm', 'checkpoint_step': 40,
                             'seed': 7, 'num_haplotypes': 40}
  hapt = _write(tmp_path, 'ags.hapt', real, None)
  first = hapt.read_text().splitlines()[0].split()
  assert first[:2] == ['AG', 'AG0'] and len(first) == 2 + ds805.num_snps  # no header line
  meta = json.loads((tmp_path / 'ags.hapt.json').read_text())
  assert meta['synthetic_samples'] is True and meta['checkpoint_step'] == 40
  for p in (tmp_path / 'ags.vcf.gz', tmp_path / 'ags.bcf', tmp_path / 'ags.vcz', pgen, hapt):
    assert writers.written_by_ag_jax(p), p


def _listing(d: pathlib.Path) -> dict[str, bytes]:
  return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else b'')
          for p in sorted(d.rglob('*'))}


@pytest.mark.parametrize('name', ['ags.vcz', 'ags.vcf', 'ags.vcf.gz', 'ags.vcf.gz.csi', 'ags.bcf',
                                  'ags.pgen', 'ags.pvar', 'ags.psam', 'ags.hapt', 'ags.hapt.json'])
def test_a_users_directory_at_an_output_path_survives(tmp_path, ds805, real, name):
  """A directory holding a user's file, at the output path or a companion's: the write is
  refused with why, and the directory and file are untouched; nothing else is written."""
  user = tmp_path / name
  user.mkdir()
  (user / 'notes.txt').write_text('mine')
  before = _listing(tmp_path)
  out = {'.csi': 'ags.vcf.gz', '.pvar': 'ags.pgen', '.psam': 'ags.pgen',
         '.json': 'ags.hapt'}.get(pathlib.Path(name).suffix, name)
  with pytest.raises(writers.OutputError, match='did not write|does not delete') as e:
    writers.write_genotypes(tmp_path / out, iter([real]), ds805.variants, provenance=PROV)
  assert name in str(e.value)
  assert _listing(tmp_path) == before


def test_an_ag_jax_vcz_is_replaced_and_a_users_file_is_not(tmp_path, ds805, real):
  import zarr  # pylint: disable=g-import-not-at-top
  path = _write(tmp_path, 'ags.vcz', real, ds805.variants)
  _write(tmp_path, 'ags.vcz', real[::-1].copy(), ds805.variants)  # ag_jax's: replaced
  got = zarr.open_group(str(path), mode='r')['call_genotype'][:]
  np.testing.assert_array_equal(got.transpose(1, 2, 0).reshape(40, -1), real[::-1])
  assert sorted(p.name for p in tmp_path.iterdir()) == ['ags.vcz']  # no temporary left
  user = tmp_path / 'theirs.vcf'
  user.write_text('##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')
  with pytest.raises(writers.OutputError, match='ag_jax did not write it'):
    writers.check_replaceable(user)  # generate.py's check: files too
  stale_tbi = tmp_path / 'ags.vcf.gz.tbi'
  stale_tbi.write_text('x')
  with pytest.raises(writers.OutputError, match='htslib would read it'):
    writers.check_replaceable(tmp_path / 'ags.vcf.gz')


def test_failed_write_keeps_the_old_output_and_leaves_no_temporary(tmp_path, ds805, real):
  def failing():
    yield real[:20]
    raise RuntimeError('interrupted')
  for name in ('ags.vcf.gz', 'ags.pgen', 'ags.vcz', 'ags.hapt'):
    path = _write(tmp_path, name, real, ds805.variants)
    before = _listing(tmp_path)
    with pytest.raises(RuntimeError, match='interrupted'):
      writers.write_genotypes(path, failing(), ds805.variants, provenance=PROV)
    assert _listing(tmp_path) == before, name


@pytest.mark.parametrize('umask', [0o022, 0o027])
def test_file_modes_follow_the_umask(tmp_path, ds805, real, umask):
  old = os.umask(umask)
  try:
    for name in ('ags.hapt', 'ags.vcf', 'ags.vcf.gz', 'ags.bcf', 'ags.pgen', 'ags.vcz'):
      _write(tmp_path, name, real, ds805.variants)
    writers.write_text(tmp_path / 'metrics.json', '{}\n')
  finally:
    os.umask(old)
  for p in [tmp_path, *tmp_path.rglob('*')]:
    if p == tmp_path:
      continue
    want = (0o777 if p.is_dir() else 0o666) & ~umask
    assert p.stat().st_mode & 0o777 == want, (p, oct(p.stat().st_mode))


def test_contig_lengths_come_from_the_training_vcf_header():
  """The bundled AGBL4 VCFs are plain gzip (pysam refuses them); their header still gives the
  length of chromosome 1 for the outputs. A .hapt source gives none."""
  generate = _load_generate()
  assert generate._vcf_contig_lengths(str(AGBL4[0])) == {'1': 249250621}
  ds = types.SimpleNamespace(metadata={'sources': [str(p) for p in AGBL4] + [str(HAPT_805)]})
  assert generate._contig_lengths(ds) == {'1': 249250621}


def test_unsorted_or_unknown_variants_are_refused(tmp_path, ds805, real):
  variants = {k: v[::-1].copy() for k, v in ds805.variants.items()}
  for name in ('ags.vcf.gz', 'ags.vcz', 'ags.bcf'):
    with pytest.raises(writers.OutputError, match='sorted by position|one run'):
      writers.write_genotypes(tmp_path / name, iter([real[:, ::-1]]), variants)
  assert list(tmp_path.iterdir()) == []
  assert writers.write_genotypes(tmp_path / 'ags.vcf', iter([real[:, ::-1]]), variants) == 40
  # A .hapt prepared without a legend has no contigs or alleles: only .hapt can carry it.
  n = ds805.num_snps
  unknown = {'chrom': np.full(n, '.'), 'pos': np.arange(1, n + 1), 'id': np.full(n, 'snp'),
             'ref': np.full(n, 'N'), 'alt': np.full(n, 'N')}
  for name in ('x.vcf', 'x.pgen', 'x.vcz'):
    with pytest.raises(writers.OutputError, match='--legend'):
      writers.write_genotypes(tmp_path / name, iter([real]), unknown)
  assert writers.write_genotypes(tmp_path / 'x.hapt', iter([real]), unknown) == 40


# ------------------------------------------------------------------------------- privacy gate


def test_gate_finds_a_copier_and_passes_the_published_rbm(ds805):
  """A 'model' that emits its training haplotypes crosses the copy, privacy and membership
  limits; the published 805-SNP RBM AGs (trained on all of 1000 Genomes, so train and test
  splits alike) cross none."""
  from ag_jax import data  # pylint: disable=g-import-not-at-top
  from ag_jax.evaluate import gate  # pylint: disable=g-import-not-at-top
  train = ds805.read_split('train')
  leak = gate.Gate(ds805, sample=1000)
  assert [len(b) for b in leak.observe(iter([train[:2000], train[2000:]]))] == [2000, 2006]
  m = leak.result()
  assert m['exact_copy_rate'] == 1.0 and m['num_ags'] == len(train) and m['audit_n'] == 1000
  assert m['privacy_loss'] > 0.1 and m['mia_auc'] > 0.55
  assert [f.split(':')[0] for f in m['findings']] == ['privacy', 'copies', 'membership']
  _, _, published = data.readers.read_hapt_matrix(PUBLISHED_RBM)
  fresh = gate.Gate(ds805, sample=1000)
  list(fresh.observe(iter([published])))
  m = fresh.result()
  assert m['exact_copy_rate'] == 0.0 and m['findings'] == [], m
  assert abs(m['privacy_loss']) < 2 * m['privacy_loss_se'] + 0.01
  assert 0.9 < m['dcr_ratio'] < 1.1


@functools.cache
def _load_generate():
  """experiments/generate.py as a module (once: it defines its absl flags on import)."""
  spec = importlib.util.spec_from_file_location('generate_cli', GENERATE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_fail_on_findings_writes_the_ags_and_exits_3(tmp_path, ds805, monkeypatch, capsys):
  """generate.py --fail_on_findings with a generator that copies its training haplotypes:
  the AGs are written, the findings printed, and the exit status is 3."""
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  rows = ds805.read_split('train')[:200]
  fake = types.SimpleNamespace(
      config=ml_collections.ConfigDict({'model': {'name': 'copier'}}),
      setup=types.SimpleNamespace(dataset=ds805,
                                  info=types.SimpleNamespace(num_snps=805, labels=None)),
      state=types.SimpleNamespace(step=12),
      generate=lambda num, seed, batch_size, labels: iter([rows[:num]]))
  monkeypatch.setattr(train, 'load_trained', lambda workdir, step: fake)
  out = tmp_path / 'ags.vcf.gz'
  code = _main(f'--workdir={tmp_path}', '--num_samples=200', f'--output={out}',
               '--fail_on_findings', '--audit_sample=200')
  assert code == 3
  printed = capsys.readouterr()
  assert 'finding: copies: 100.0% of AGs' in printed.out
  assert printed.err.strip().splitlines()[-1].startswith('error: --fail_on_findings:')
  assert writers.written_by_ag_jax(out) and (tmp_path / 'ags.vcf.gz.csi').exists()


# ------------------------------------------------------------------------------- CLI errors


def _main(*args) -> int:
  """Runs generate.py's main in this process (no JAX start-up per case); the exit status."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  generate = _load_generate()
  flags.FLAGS.unparse_flags()
  flags.FLAGS(['generate.py', *args])
  try:
    generate.main(['generate.py'])
    return 0
  except SystemExit as e:
    return e.code
  finally:
    flags.FLAGS.unparse_flags()


def test_generate_bad_flags_are_one_line_and_write_nothing(tmp_path, capsys):
  """Each bad flag a new user gives: exit 1, one `error:` line naming the flag or file, no
  traceback, nothing written or removed. (In this process; a few again as subprocesses.)"""
  wd = tmp_path / 'wd'
  wd.mkdir()
  (tmp_path / 'afile').write_text('mine')
  user_vcz = tmp_path / 'theirs.vcz'
  user_vcz.mkdir()
  (user_vcz / 'keep.txt').write_text('mine')
  (tmp_path / 'theirs.vcf').write_text('##fileformat=VCFv4.2\n')
  out = tmp_path / 'ags.vcf'
  cases = [
      (['--num_samples=0', f'--output={out}'], '--num_samples=0'),
      (['--num_samples=-4', f'--output={out}'], '--num_samples=-4'),
      (['--num_samples=5', f'--output={out}'], 'is odd'),
      (['--num_samples=5', f'--output={tmp_path / "x.pgen"}'], 'is odd'),
      (['--batch_size=0', f'--output={out}'], '--batch_size=0'),
      ([f'--output={tmp_path / "ags.txt"}'], 'unknown output format'),
      ([f'--output={tmp_path / "afile" / "ags.vcf"}'], 'is a file, not a directory'),
      ([f'--output={user_vcz}'], 'ag_jax did not write'),
      ([f'--output={tmp_path / "theirs.vcf"}'], 'ag_jax did not write it'),
      (['--audit', '--audit_sample=1', f'--output={out}'], '--audit_sample=1'),
      ([f'--output={out}'], 'not a training workdir'),
      ([f'--workdir={tmp_path / "nope"}', f'--output={out}'], 'nope: no such directory'),
  ]
  if os.geteuid() == 0 and os.path.isdir('/sys'):  # root writes anywhere but in /sys
    cases.append((['--output=/sys/ags.vcf'], 'cannot write in /sys'))
  else:
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o555)
    cases.append(([f'--output={locked / "ags.vcf"}'], 'cannot write in'))
  before = _listing(tmp_path)
  for args, says in cases:
    assert _main(f'--workdir={wd}', *args) == 1, args
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and says in lines[0], (args, lines)
    assert _listing(tmp_path) == before, args
  for args, says in [cases[0], cases[7], cases[-2]]:  # as a user runs them
    r = subprocess.run([sys.executable, GENERATE, f'--workdir={wd}', *args],
                       capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and says in lines[0], (args, r.stderr[-2000:])
  assert _listing(tmp_path) == before


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  from configs_loader import load  # pylint: disable=g-import-not-at-top
  from ag_jax import train  # pylint: disable=g-import-not-at-top
  config = load('crbm.py:test')
  config.evaluate.at_end = False
  wd = tmp_path_factory.mktemp('crbm')
  train.run(config, wd)
  return wd


def _run(*args):
  return subprocess.run([sys.executable, GENERATE, *args], capture_output=True, text=True)


@pytest.mark.slow
def test_generate_writes_every_format_from_a_trained_workdir(tmp_path, workdir, ds805):
  """A trained tiny CRBM: .vcf.gz and .pgen through the CLI carry its checkpoint step and
  seed, hold the same AGs, and a step that is not kept is one error line."""
  import cyvcf2  # pylint: disable=g-import-not-at-top
  import pgenlib  # pylint: disable=g-import-not-at-top
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  for name in ('ags.vcf.gz', 'ags.pgen'):
    r = _run(f'--workdir={workdir}', '--num_samples=64', '--seed=3', '--audit',
             f'--output={tmp_path / name}')
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'(checkpoint step {steps[-1]})' in r.stdout and 'audit: 64 AGs' in r.stdout
  vcf = cyvcf2.VCF(str(tmp_path / 'ags.vcf.gz'))
  assert f'##ag_jaxCheckpointStep={steps[-1]}' in vcf.raw_header
  assert '##ag_jaxSeed=3' in vcf.raw_header and '##ag_jaxModel=crbm' in vcf.raw_header
  from_vcf, _ = _vcf_rows(vcf)
  alleles = np.empty((ds805.num_snps, 64), np.int32)
  pgenlib.PgenReader(str(tmp_path / 'ags.pgen').encode()).read_alleles_range(
      0, ds805.num_snps, alleles)
  np.testing.assert_array_equal(alleles.T, from_vcf)  # same seed, same AGs
  assert 0.1 < from_vcf.mean() < 0.9
  # Replacing its own output is allowed; a step that is not kept is refused.
  r = _run(f'--workdir={workdir}', '--num_samples=64', f'--output={tmp_path / "ags.vcf.gz"}')
  assert r.returncode == 0, r.stderr[-2000:]
  before = _listing(tmp_path)
  r = _run(f'--workdir={workdir}', '--step=3', f'--output={tmp_path / "x.vcf.gz"}')
  assert r.returncode == 1 and 'Traceback' not in r.stderr
  assert f'no checkpoint at step 3; it keeps steps {", ".join(map(str, steps))}' in r.stderr
  assert _listing(tmp_path) == before
