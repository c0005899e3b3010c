"""Import, store and loader, checked against independent readings of the real files."""

import gzip
import json
import pathlib
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
  again = data.prepare.__globals__['split_individuals'](s['individual'], 0.2, 0)
  np.testing.assert_array_equal(again, s['split'])
  other = data.prepare.__globals__['split_individuals'](s['individual'], 0.2, 1)
  assert np.any(other != s['split'])


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


def _run_prepare(args):
  return subprocess.run([sys.executable, str(ROOT / 'experiments' / 'prepare_data.py'), *args],
                        capture_output=True, text=True)


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


def test_existing_output_needs_overwrite(tmp_path):
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'precious.txt').write_text('keep me')
  r = _run_prepare([f'--input={HAPT_805}', f'--output={out}'])
  assert r.returncode != 0 and '--overwrite' in r.stderr and str(out) in r.stderr
  assert (out / 'precious.txt').read_text() == 'keep me'


def test_write_text_is_all_or_nothing(tmp_path):
  path = tmp_path / 'metrics.json'
  writers.write_text(path, 'old\n')
  with pytest.raises(TypeError):
    writers.write_text(path, None)  # fails after the temporary file was made
  assert path.read_text() == 'old\n'
  assert [p.name for p in tmp_path.iterdir()] == ['metrics.json']  # no temporary left behind
  writers.write_text(path, 'new\n')
  assert path.read_text() == 'new\n'
