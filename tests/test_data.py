"""Import, store and loader, checked against independent readings of the real files."""

import gzip
import importlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import allel
import numpy as np
import pytest
import tensorstore as ts

from ag_jax import data
from ag_jax.data import writers
from conftest import AGBL4, HAPT_805, LEGEND_805, PANEL, ROOT, VCF_140KB

prepare_lib = importlib.import_module('ag_jax.data.prepare')  # the module; data.prepare is the function


def _plain_hapt(path):
  """Independent reader: the zip member parsed with numpy."""
  with zipfile.ZipFile(path) as zf:
    text = zf.read(zf.namelist()[0]).decode()
  rows = [l.split() for l in text.splitlines() if l.strip()]
  return [r[1] for r in rows], np.array([r[2:] for r in rows], dtype=np.uint8)


def _read_store(path):
  arr = ts.open({'driver': 'zarr3', 'kvstore': {'driver': 'file', 'path': str(path / 'haplotypes')}}).result()
  return arr.read().result()


def test_prepare_805_hapt(tmp_path):
  out = tmp_path / 'd805'
  meta = data.prepare([HAPT_805], out, legend=LEGEND_805, panel=PANEL, progress=False)
  assert (meta['num_haplotypes'], meta['num_snps']) == (5008, 805)
  on_disk = json.loads((out / 'metadata.json').read_text())
  assert on_disk['format'] == prepare_lib.FORMAT
  assert on_disk['num_haplotypes'] == 5008 and on_disk['num_snps'] == 805
  assert on_disk['num_train'] + on_disk['num_test'] == 5008
  ids, expected = _plain_hapt(HAPT_805)
  np.testing.assert_array_equal(_read_store(out), expected)
  ds = data.open_dataset(out)
  assert list(ds.samples['haplotype']) == ids
  assert np.all(ds.samples['population'] != '')  # every haplotype labelled from the panel
  assert ds.samples['population'][0] == 'GBR'  # HG00096 is British in the 1000G panel
  legend = np.loadtxt(LEGEND_805, dtype=str, skiprows=1)
  np.testing.assert_array_equal(ds.variants['pos'], legend[:, 1].astype(int))
  np.testing.assert_array_equal(ds.variants['alt'], legend[:, 3])


def test_split_keeps_individuals_together(ds805):
  s = ds805.samples
  for ind in np.unique(s['individual'])[:500]:
    assert len(set(s['split'][s['individual'] == ind])) == 1
  frac = (s['split'] == 'test').mean()
  assert abs(frac - 0.2) < 0.01
  again = prepare_lib.split_individuals(s['individual'], 0.2, 0)
  np.testing.assert_array_equal(again, s['split'])
  other = prepare_lib.split_individuals(s['individual'], 0.2, 1)
  assert np.any(other != s['split'])


@pytest.mark.slow  # ~18 s: imports the bundled AGBL4 VCFs, then reads them with scikit-allel
def test_prepare_agbl4_vcfs_matches_scikit_allel(tmp_path):
  out = tmp_path / 'agbl4'
  meta = data.prepare(AGBL4, out, progress=False)
  assert (meta['num_haplotypes'], meta['num_snps']) == (5008, 4053)
  assert meta['skipped']['multi_allelic'] + meta['skipped']['not_snp'] > 0
  got = _read_store(out)
  blocks = []
  for path in AGBL4:
    cs = allel.read_vcf(str(path), fields=['variants/POS', 'variants/REF', 'variants/ALT',
                                            'variants/numalt', 'calldata/GT'], alt_number=3)
    snp = (cs['variants/numalt'] == 1) & np.array([len(r) == 1 for r in cs['variants/REF']]) & \
          np.array([len(a) == 1 for a in cs['variants/ALT'][:, 0]])
    gt = cs['calldata/GT'][snp]  # [V, S, 2]
    blocks.append(gt.transpose(1, 2, 0).reshape(-1, gt.shape[0]))
    pos = cs['variants/POS'][snp]
  np.testing.assert_array_equal(got, np.concatenate(blocks).astype(np.uint8))
  np.testing.assert_array_equal(data.open_dataset(out).variants['pos'], pos)


def test_loader_is_pure_and_partitions_processes(ds805):
  a = data.BatchLoader(ds805, batch_size=64, seed=3)
  b = data.BatchLoader(ds805, batch_size=64, seed=3, in_memory='no')
  np.testing.assert_array_equal(a.batch(7), b.batch(7))  # memory and tensorstore agree
  assert not np.array_equal(a.rows(7), a.rows(8))
  parts = [data.BatchLoader(ds805, batch_size=64, seed=3, process_index=p, process_count=4)
           for p in range(4)]
  np.testing.assert_array_equal(np.concatenate([p.rows(7) for p in parts]), a.rows(7))
  assert set(a.rows(7)) <= set(ds805.train_rows)
  window = data.BatchLoader(ds805, batch_size=64, seed=3, snps=slice(100, 300), in_memory='no')
  np.testing.assert_array_equal(window.batch(7), a.batch(7)[:, 100:300])
  steps = [(s, x) for s, x in a.iterate(5, num_steps=3)]
  assert [s for s, _ in steps] == [5, 6, 7]
  np.testing.assert_array_equal(steps[2][1], a.batch(7))


def _people(ds, rows):
  return set(ds.samples['individual'][rows].tolist())


def test_subsampled_split_moves_unseen_train_haplotypes_to_test(ds805):
  """data.train_haplotypes=N: N train haplotypes (whole individuals), seeded; every other
  haplotype of the store is in the test split, which the loader never reads."""
  sub = data.open_dataset(ds805.path, train_haplotypes=400)
  assert (sub.num_train, sub.num_test) == (400, ds805.num_haplotypes - 400)
  assert set(sub.train_rows) <= set(ds805.train_rows)
  assert not set(sub.train_rows) & set(sub.test_rows)
  assert set(sub.test_rows) == set(range(ds805.num_haplotypes)) - set(sub.train_rows)
  assert not _people(sub, sub.train_rows) & _people(sub, sub.test_rows)
  again = data.open_dataset(ds805.path, train_haplotypes=400)
  np.testing.assert_array_equal(again.train_rows, sub.train_rows)
  other = data.open_dataset(ds805.path, train_haplotypes=400, split_seed=1)
  assert set(other.train_rows) != set(sub.train_rows)
  # The in-memory and the streaming loader read the same rows, all of the subsample.
  a = data.BatchLoader(sub, batch_size=64, seed=3)
  b = data.BatchLoader(sub, batch_size=64, seed=3, in_memory='no')
  np.testing.assert_array_equal(a.batch(7), b.batch(7))
  assert set(a.rows(7)) <= set(sub.train_rows)
  np.testing.assert_array_equal(a.batch(7), ds805.read(a.rows(7)))
  np.testing.assert_array_equal(sub.read_split('test')[:3], ds805.read(sub.test_rows[:3]))


def test_folds_partition_the_cohort(ds805):
  """data.folds=K: the K test splits are disjoint, cover every haplotype once, keep
  individuals whole, and each fold's train split is the rest."""
  folds = [data.open_dataset(ds805.path, folds=3, fold=k) for k in range(3)]
  tests = [set(f.test_rows.tolist()) for f in folds]
  assert sum(map(len, tests)) == ds805.num_haplotypes == len(set().union(*tests))
  for f, t in zip(folds, tests):
    assert set(f.train_rows.tolist()) == set(range(ds805.num_haplotypes)) - t
    assert not _people(f, f.train_rows) & _people(f, f.test_rows)
    assert abs(f.num_test - ds805.num_haplotypes / 3) < 10
  # A subsample of a fold's train split: the left-out rows join that fold's test split.
  both = data.open_dataset(ds805.path, folds=3, fold=1, train_haplotypes=300)
  assert both.num_train == 300 and set(both.train_rows) <= set(folds[1].train_rows)


def test_a_split_view_is_a_store_with_that_split(ds805, tmp_path):
  sub = data.open_dataset(ds805.path, train_haplotypes=200, split_seed=2)
  view = data.Dataset(sub.write_view(tmp_path / 'view'))
  np.testing.assert_array_equal(view.train_rows, sub.train_rows)
  np.testing.assert_array_equal(view.read_split('train'), sub.read_split('train'))
  assert json.loads((tmp_path / 'view' / 'metadata.json').read_text())['split_of'][
      'train_haplotypes'] == 200
  assert sub.write_view(tmp_path / 'view') == tmp_path / 'view'  # the same split: reused
  with pytest.raises(data.DataError, match='is not this split'):
    data.open_dataset(ds805.path, train_haplotypes=300).write_view(tmp_path / 'view')


@pytest.mark.parametrize('options,words', [
    ({'train_haplotypes': 999_999}, 'data.train_haplotypes=999999: use 0 (all) to 4006'),
    ({'train_haplotypes': -1}, 'data.train_haplotypes=-1'),
    ({'folds': 1}, 'data.folds=1'),
    ({'folds': 3, 'fold': 3}, 'data.fold=3'),
    ({'folds': 100_000}, 'exceeds its'),
])
def test_bad_split_options_are_one_data_error(ds805, options, words):
  with pytest.raises(data.DataError, match=re.escape(words)):
    data.open_dataset(ds805.path, **options)


# ------------------------------------------------------------------------------- bad input


def _vcf_lines(n_records=30):
  with gzip.open(VCF_140KB, 'rt') as f:
    header, records = [], []
    for line in f:
      (header if line.startswith('#') else records).append(line)
      if len(records) >= n_records:
        break
  return header, records


def _write_vcf(path, header, records):
  path.write_text(''.join(header + records))
  return path


def _edit_gt(record, sample_index, new_gt):
  fields = record.rstrip('\n').split('\t')
  fields[9 + sample_index] = new_gt
  return '\t'.join(fields) + '\n'


def _run_prepare(args, **kwargs):
  return subprocess.run([sys.executable, str(ROOT / 'experiments' / 'prepare_data.py'),
                         '--noprogress', *args], capture_output=True, text=True, **kwargs)


def _bad_vcf_cases(tmp):
  header, records = _vcf_lines()
  pos = records[5].split('\t')[1]
  cases = {}
  for name, gt in [('unphased', '0/1'), ('missing', '.|.'), ('haploid', '1'),
                   ('polyploid', '0|1|1')]:
    recs = list(records)
    recs[5] = _edit_gt(recs[5], 3, gt)
    cases[name] = ([_write_vcf(tmp / f'{name}.vcf', header, recs)], f'1:{pos}')
  other = list(records)
  f = other[7].split('\t')
  f[1] = str(int(f[1]) + 1)
  other[7] = '\t'.join(f)
  a = _write_vcf(tmp / 'a.vcf', header, records)
  b = _write_vcf(tmp / 'b.vcf', header, other)
  cases['sites_differ'] = ([a, b], 'b.vcf')
  return cases


@pytest.mark.parametrize('case', ['unphased', 'missing', 'haploid', 'polyploid', 'sites_differ'])
def test_bad_vcf(tmp_path, case):
  inputs, where = _bad_vcf_cases(tmp_path)[case]
  out = tmp_path / 'out'
  with pytest.raises(data.DataError) as e:
    data.prepare(inputs, out, progress=False)
  msg = str(e.value)
  assert where in msg and str(inputs[-1]) in msg, msg
  assert not out.exists()
  assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]  # no temp left


def _hapt_text(n=6):
  with zipfile.ZipFile(HAPT_805) as zf:
    return zf.read(zf.namelist()[0]).decode().splitlines()[:n]


@pytest.mark.parametrize('case', ['ragged', 'value', 'legend', 'empty', 'missing_path'])
def test_bad_hapt_cli(tmp_path, case):
  lines = _hapt_text()
  legend = None
  if case == 'ragged':
    lines[3] = lines[3] + ' 1'
    where = ':4:'
  elif case == 'value':
    lines[2] = lines[2][:-1] + '2'
    where = ':3:'
  elif case == 'legend':
    legend = tmp_path / 'short.legend'
    legend.write_text(''.join(LEGEND_805.read_text().splitlines(True)[:100]))
    where = '99 SNP rows'
  hapt = tmp_path / 'x.hapt'
  if case == 'empty':
    hapt.write_text('')
    where = 'empty'
  elif case == 'missing_path':
    hapt = tmp_path / 'nope.hapt'
    where = 'no such file'
  else:
    hapt.write_text('\n'.join(lines) + '\n')
  out = tmp_path / 'out'
  args = [f'--input={hapt}', f'--output={out}'] + ([f'--legend={legend}'] if legend else [])
  r = _run_prepare(args)
  assert r.returncode != 0
  err = r.stderr.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('error: '), r.stderr  # one message, no traceback
  assert where in err[0] and str(legend or hapt) in err[0], err[0]
  assert not out.exists()


def test_write_text_is_all_or_nothing(tmp_path):
  path = tmp_path / 'metrics.json'
  writers.write_text(path, 'old\n')
  with pytest.raises(TypeError):
    writers.write_text(path, None)  # fails after the temporary file was made
  assert path.read_text() == 'old\n'
  assert [p.name for p in tmp_path.iterdir()] == ['metrics.json']  # no temporary left behind
  writers.write_text(path, 'new\n')
  assert path.read_text() == 'new\n'


# ------------------------------------------------------------------------- filters, split


def test_min_maf_filter_matches_numpy_and_provenance(tmp_path):
  # PROVENANCE.md: of the 805 columns, 3 are monomorphic and 792 have MAF >= 0.05.
  meta = data.prepare([HAPT_805], tmp_path / 'm', legend=LEGEND_805, min_maf=0.05,
                      progress=False)
  assert meta['num_snps'] == 792
  assert meta['skipped']['monomorphic'] == 3 and meta['skipped']['below_min_maf'] == 10
  _, g = _plain_hapt(HAPT_805)
  freq = g.mean(axis=0)
  keep = np.minimum(freq, 1 - freq) >= 0.05
  np.testing.assert_array_equal(_read_store(tmp_path / 'm'), g[:, keep])
  legend = np.loadtxt(LEGEND_805, dtype=str, skiprows=1)
  np.testing.assert_array_equal(data.open_dataset(tmp_path / 'm').variants['id'], legend[keep, 0])


@pytest.mark.slow  # ~12-35 s: converts the 2,504-sample fixture
def test_blocks_and_slabs_match_scikit_allel(tmp_path, monkeypatch):
  """Many row blocks, column slabs and read spans (small sizes) give the same matrix."""
  monkeypatch.setattr(prepare_lib, 'ROW_BLOCK_SAMPLES', 300)
  monkeypatch.setattr(prepare_lib, 'SNP_CHUNK', 700)
  monkeypatch.setattr(prepare_lib, 'ROW_CHUNK', 8)
  meta = data.prepare([VCF_140KB], tmp_path / 's', min_maf=0.001, progress=False)
  cs = allel.read_vcf(str(VCF_140KB), fields=['variants/POS', 'variants/REF', 'variants/ALT',
                                               'variants/numalt', 'calldata/GT'], alt_number=3)
  snp = (cs['variants/numalt'] == 1) & np.array([len(r) == 1 for r in cs['variants/REF']]) & \
        np.array([len(a) == 1 for a in cs['variants/ALT'][:, 0]])
  gt = cs['calldata/GT'][snp]
  g = gt.transpose(1, 2, 0).reshape(-1, gt.shape[0]).astype(np.uint8)
  freq = g.mean(axis=0)
  keep = np.minimum(freq, 1 - freq) >= 0.001
  assert meta['num_snps'] == keep.sum() < snp.sum()  # the filter dropped some
  assert meta['num_snps'] > 2 * 700  # several column slabs
  np.testing.assert_array_equal(_read_store(tmp_path / 's'), g[:, keep])
  np.testing.assert_array_equal(data.open_dataset(tmp_path / 's').variants['pos'],
                                cs['variants/POS'][snp][keep])


def _bgzipped_fixture(tmp_path, n_records=None):
  """The fixture VCF as BGZF with a CSI index (bio2zarr partitions by the index)."""
  plain = tmp_path / 'fixture.vcf'
  with gzip.open(VCF_140KB, 'rt') as f, open(plain, 'w') as out:
    n = 0
    for line in f:
      if not line.startswith('#'):
        n += 1
        if n_records and n > n_records:
          break
      out.write(line)
  import pysam  # pylint: disable=g-import-not-at-top
  return pathlib.Path(pysam.tabix_index(str(plain), preset='vcf', csi=True, force=True))


@pytest.mark.slow
def test_vcz_from_distributed_bio2zarr_equals_vcf_import(tmp_path):
  vcf = _bgzipped_fixture(tmp_path)
  icf, vcz = tmp_path / 'x.icf', tmp_path / 'x.vcz'
  cli = [sys.executable, '-m', 'bio2zarr', 'vcf2zarr']

  def run(*args):
    return subprocess.run([*cli, *map(str, args)], check=True, capture_output=True).stdout

  init = json.loads(run('dexplode-init', '-Q', '--json', '-n', 2, vcf, icf))
  assert init['num_partitions'] == 2 and init['num_variants'] == 4296
  for i in range(2):
    run('dexplode-partition', icf, i)
  run('dexplode-finalise', icf)
  run('dencode-init', '-Q', '-n', 2, '--variants-chunk-size', 1000, icf, vcz)
  for i in range(2):
    run('dencode-partition', vcz, i)
  run('dencode-finalise', '-Q', vcz)
  from_vcz = data.prepare([vcz], tmp_path / 'a', progress=False)
  from_vcf = data.prepare([vcf], tmp_path / 'b', progress=False, workers=2)
  assert from_vcz['num_snps'] == from_vcf['num_snps'] > 3000
  np.testing.assert_array_equal(_read_store(tmp_path / 'a'), _read_store(tmp_path / 'b'))
  a, b = data.open_dataset(tmp_path / 'a'), data.open_dataset(tmp_path / 'b')
  for key in ('pos', 'ref', 'alt', 'id'):
    np.testing.assert_array_equal(a.variants[key], b.variants[key])
  np.testing.assert_array_equal(a.samples['split'], b.samples['split'])


# ----------------------------------------------------------------- output: --overwrite, umask


def _no_temporaries(parent):
  return [p.name for p in parent.iterdir() if p.name.startswith('.')] == []


def test_overwrite_refuses_what_ag_jax_did_not_write(tmp_path):
  """A user's file in a plain directory, in a store, or as the output path itself survives."""
  plain = tmp_path / 'plain'
  plain.mkdir()
  (plain / 'precious.txt').write_text('keep me')
  store = tmp_path / 'store'
  data.prepare([HAPT_805], store, legend=LEGEND_805, progress=False)
  (store / 'notes.txt').write_text('mine')
  afile = tmp_path / 'afile'
  afile.write_text('a file')
  for target, why in [(plain, 'not an ag_jax store'), (store, 'notes.txt'),
                      (afile, 'not a directory')]:
    r = _run_prepare([f'--input={HAPT_805}', f'--output={target}', '--overwrite'])
    err = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(err) == 1 and err[0].startswith('error: '), r.stderr
    assert str(target) in err[0] and why in err[0], err[0]
  assert (plain / 'precious.txt').read_text() == 'keep me'
  assert sorted(p.name for p in plain.iterdir()) == ['precious.txt']
  assert (store / 'notes.txt').read_text() == 'mine' and (store / 'metadata.json').exists()
  assert afile.read_text() == 'a file'
  assert _no_temporaries(tmp_path)


def test_overwrite_replaces_a_store_and_keeps_it_on_failure(tmp_path):
  out = tmp_path / 'out'
  data.prepare([HAPT_805], out, legend=LEGEND_805, progress=False)
  r = _run_prepare([f'--input={HAPT_805}', f'--output={out}'])
  assert r.returncode == 1 and '--overwrite' in r.stderr and str(out) in r.stderr
  before = (out / 'samples.tsv').read_text()
  # A failing import (unphased genotype, found after conversion) leaves the old store whole.
  header, records = _vcf_lines()
  records[5] = _edit_gt(records[5], 3, '0/1')
  bad = _write_vcf(tmp_path / 'bad.vcf', header, records)
  with pytest.raises(data.DataError, match='unphased'):
    data.prepare([bad], out, overwrite=True, progress=False)
  assert (out / 'samples.tsv').read_text() == before
  np.testing.assert_array_equal(_read_store(out), _plain_hapt(HAPT_805)[1])
  # A store written before the format marker (same layout) is replaced too.
  meta = json.loads((out / 'metadata.json').read_text())
  del meta['format']
  (out / 'metadata.json').write_text(json.dumps(meta))
  data.prepare([HAPT_805], out, legend=LEGEND_805, seed=1, overwrite=True, progress=False)
  assert (out / 'samples.tsv').read_text() != before  # another split
  assert json.loads((out / 'metadata.json').read_text())['format'] == prepare_lib.FORMAT
  assert _no_temporaries(tmp_path)


@pytest.mark.parametrize('umask', [0o022, 0o027, 0o002])
def test_store_keeps_the_users_umask(tmp_path, umask):
  old = os.umask(umask)
  try:
    data.prepare([HAPT_805], tmp_path / 'u', legend=LEGEND_805, progress=False)
  finally:
    os.umask(old)
  for p in [tmp_path / 'u', *(tmp_path / 'u').rglob('*')]:
    want = (0o777 if p.is_dir() else 0o666) & ~umask
    assert p.stat().st_mode & 0o777 == want, (p, oct(p.stat().st_mode))


# ------------------------------------------------------------------------------ bad input


def _cut_columns(lines, n):
  return ['\t'.join(l.rstrip('\n').split('\t')[:n]) + '\n' for l in lines]


def _bad_cli_case(tmp_path, case):
  """(args, words the one error line must hold); each input is made from the real fixture."""
  header, records = _vcf_lines(200)
  out = f'--output={tmp_path / "out"}'
  vcf = tmp_path / 'x.vcf'
  if case == 'empty':
    vcf.write_text('')
    return [f'--input={vcf}', out], [str(vcf), 'empty']
  if case == 'header_only':
    _write_vcf(vcf, header, [])
    return [f'--input={vcf}', out], [str(vcf), 'no variant records']
  if case == 'no_samples':
    _write_vcf(vcf, header[:-1] + _cut_columns(header[-1:], 8), _cut_columns(records, 8))
    return [f'--input={vcf}', out], [str(vcf), 'no samples']
  if case == 'one_sample':
    _write_vcf(vcf, header[:-1] + _cut_columns(header[-1:], 10), _cut_columns(records, 10))
    return [f'--input={vcf}', out], [str(vcf), '1 individual', 'more samples']
  if case == 'truncated_bgzf':
    gz = _bgzipped_fixture(tmp_path, n_records=200)
    raw = gz.read_bytes()
    cut = tmp_path / 'cut.vcf.gz'
    cut.write_bytes(raw[:len(raw) * 2 // 3])
    return [f'--input={cut}', out], [str(cut), 'truncated']
  if case == 'truncated_gzip':  # plain gzip, like the bundled AGBL4 files
    raw = AGBL4[0].read_bytes()
    cut = tmp_path / 'cut.vcf.gz'
    cut.write_bytes(raw[:len(raw) // 2])
    return [f'--input={cut}', out], [str(cut), 'truncated']
  if case == 'png':
    import matplotlib.image  # pylint: disable=g-import-not-at-top
    png = tmp_path / 'photo.vcf'
    matplotlib.image.imsave(png, np.zeros((4, 4)), format='png')
    return [f'--input={png}', out], [str(png), 'not a VCF', 'PNG image']
  if case == 'unwritable_output':
    (tmp_path / 'afile').write_text('x')
    return [f'--input={HAPT_805}', f'--output={tmp_path / "afile" / "store"}'], [
        '--output', 'cannot create', 'is a file, not a directory', 'can write to']
  if case == 'relative_input':
    return ['--input=ag_jax/datasets/1000g_805/805_SNP_1000G_real.hapt.zip', out], [
        'ag_jax/datasets/1000g_805', 'current directory', str(tmp_path / 'elsewhere'),
        'absolute path']
  if case.startswith('test_fraction'):
    value = case.split('=')[1]
    return [f'--input={HAPT_805}', out, f'--test_fraction={value}'], [
        f'--test_fraction={float(value)}', 'above 0 and below 1']
  if case.startswith('min_maf'):
    value = case.split('=')[1]
    return [f'--input={HAPT_805}', out, f'--min_maf={value}'], [
        f'--min_maf={float(value)}', 'below 0.5']
  if case == 'no_test_split':  # 3 individuals: 10% of them rounds to none
    hapt = tmp_path / 'three.hapt'
    hapt.write_text('\n'.join(_hapt_text(6)) + '\n')
    return [f'--input={hapt}', out, '--test_fraction=0.1'], [
        '--test_fraction=0.1', 'holds out none of the 3 individuals', 'raise it']
  raise ValueError(case)


BAD_CLI = ['empty', 'header_only', 'no_samples', 'one_sample', 'truncated_bgzf',
           'truncated_gzip', 'png', 'unwritable_output', 'relative_input', 'test_fraction=0',
           'test_fraction=-0.2', 'test_fraction=1', 'test_fraction=1.5', 'min_maf=-0.01',
           'min_maf=0.5', 'min_maf=0.7', 'no_test_split']


@pytest.mark.parametrize('case', BAD_CLI)
def test_bad_input_is_one_error_line(tmp_path, case):
  args, words = _bad_cli_case(tmp_path, case)
  cwd = tmp_path / 'elsewhere'
  cwd.mkdir()
  before = sorted(p.name for p in tmp_path.rglob('*'))
  r = _run_prepare(args, cwd=cwd)
  err = r.stderr.strip().splitlines()
  assert r.returncode == 1, (r.returncode, r.stderr)
  assert len(err) == 1 and err[0].startswith('error: '), r.stderr  # one line, no traceback
  for w in words:
    assert w in err[0], (w, err[0])
  assert sorted(p.name for p in tmp_path.rglob('*')) == before  # nothing written


def test_missing_vcf_package_is_blamed_not_the_file(tmp_path):
  code = ('import runpy, sys; sys.modules["cyvcf2"] = None; '
          f'sys.argv = ["prepare_data.py", "--input={AGBL4[0]}", "--output={tmp_path / "o"}"]; '
          f'runpy.run_path("{ROOT / "experiments" / "prepare_data.py"}", run_name="__main__")')
  r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
  err = r.stderr.strip().splitlines()
  assert r.returncode == 1 and len(err) == 1, r.stderr
  assert 'cyvcf2' in err[0] and 'pip install' in err[0] and 'could not' not in err[0], err[0]
  assert not (tmp_path / 'o').exists()


def test_vcf_import_dependencies_come_with_the_package():
  """`pip install -e .` alone must bring VCF import: bio2zarr[vcf] is required, and pulls cyvcf2."""
  import configparser  # pylint: disable=g-import-not-at-top
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  cfg = configparser.ConfigParser()
  cfg.read(ROOT / 'setup.cfg')
  requires = cfg['options']['install_requires'].split()
  assert any(r.startswith('bio2zarr[vcf]') for r in requires), requires
  b2z = metadata.requires('bio2zarr') or []
  assert any(r.startswith('cyvcf2') and 'extra == "vcf"' in r for r in b2z), b2z
