"""Each statistic against an independent implementation, on the real 805 data and the
published AGs; privacy metrics on constructed leaks; writers read back with cyvcf2."""

import json
import pathlib
import subprocess
import sys

import allel
import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats
from sklearn.decomposition import PCA

from ag_jax import data, evaluate
from ag_jax.data import labels as labels_lib
from ag_jax.data import writers
from ag_jax.evaluate import by_label
from ag_jax.evaluate import privacy
from ag_jax.evaluate import report
from ag_jax.evaluate import stats
from conftest import HAPT_805, LEGEND_805, PUBLISHED_GAN, PUBLISHED_RBM, ROOT


@pytest.fixture(scope='module')
def sets():
  real = data.read_hapt(HAPT_805, legend=LEGEND_805)
  _, _, gan = data.readers.read_hapt_matrix(PUBLISHED_GAN)
  _, _, rbm = data.readers.read_hapt_matrix(PUBLISHED_RBM)
  return real, gan, rbm


def test_allele_frequency_r_matches_published_figures(sets):
  real, gan, rbm = sets
  assert round(stats.pearson(stats.allele_freq(real.genotypes), stats.allele_freq(gan)), 4) == 0.9818
  assert round(stats.pearson(stats.allele_freq(real.genotypes), stats.allele_freq(rbm)), 4) == 0.9937


def test_ld_matches_scikit_allel(sets):
  real = sets[0].genotypes[:600, :300]
  keep = stats.polymorphic(real)
  r2, idx = stats.ld_pairs(real, keep, max_distance=40)
  # scikit-allel's Rogers-Huff r on the (haploid) 0/1 matrix, variants x samples.
  full = allel.rogers_huff_r(real[:, keep].T.astype('i1')) ** 2
  sq = scipy.spatial.distance.squareform(full, checks=False)
  np.testing.assert_allclose(r2, sq[idx[:, 0], idx[:, 1]], atol=1e-4)
  assert idx.shape[0] == sum(min(40, keep.sum() - 1 - i) for i in range(keep.sum()))


def test_ld_by_maf_matches_a_direct_loop(sets):
  x = sets[0].genotypes[:800, :120]
  keep = stats.polymorphic(x)
  r2, idx = stats.ld_pairs(x, keep, max_distance=15)
  f = x[:, keep].mean(0)
  maf = np.minimum(f, 1 - f)
  mean, count = stats.ld_by_maf(r2, idx, maf)
  sums, ns = np.zeros(4), np.zeros(4, int)
  kept = x[:, keep].astype(np.float64)
  for i, j in idx:
    lo = min(maf[i], maf[j])
    b = 0 if lo < 0.01 else 1 if lo < 0.05 else 2 if lo < 0.2 else 3
    sums[b] += np.corrcoef(kept[:, i], kept[:, j])[0, 1] ** 2
    ns[b] += 1
  assert ns.sum() == len(idx) and (ns > 0).sum() >= 3
  np.testing.assert_array_equal(count, ns)
  with np.errstate(invalid='ignore'):
    np.testing.assert_allclose(mean, sums / ns, atol=1e-4)


def test_pca_matches_scikit_learn(sets):
  real, gan, _ = sets
  x = real.genotypes[:1000]
  mean, comps = stats.pca_fit(x, k=4)
  ref = PCA(n_components=4, svd_solver='full').fit(x.astype(np.float64))
  ours = stats.pca_project(gan[:300], mean, comps)
  theirs = ref.transform(gan[:300].astype(np.float64))
  for i in range(4):  # components are defined up to sign
    s = np.sign(np.dot(ours[:, i], theirs[:, i]))
    np.testing.assert_allclose(s * ours[:, i], theirs[:, i], atol=1e-3)


def test_hamming_and_aats_match_brute_force(sets):
  real, gan, _ = sets
  t, s = real.genotypes[:300], gan[:300]
  np.testing.assert_array_equal(stats.hamming(t, s), scipy.spatial.distance.cdist(t, s, 'cityblock'))
  d_tt = scipy.spatial.distance.cdist(t, t, 'cityblock')
  d_ss = scipy.spatial.distance.cdist(s, s, 'cityblock')
  d_ts = scipy.spatial.distance.cdist(t, s, 'cityblock')
  np.fill_diagonal(d_tt, np.inf)
  np.fill_diagonal(d_ss, np.inf)
  expected = (np.mean(d_ts.min(1) > d_tt.min(1)) + np.mean(d_ts.min(0) > d_ss.min(1))) / 2
  assert stats.aats(t, s)['aats'] == pytest.approx(expected)
  w = scipy.stats.wasserstein_distance(stats.within_distances(t), stats.within_distances(s))
  within_t = scipy.spatial.distance.pdist(t, 'cityblock')
  within_s = scipy.spatial.distance.pdist(s, 'cityblock')
  assert w == pytest.approx(scipy.stats.wasserstein_distance(within_t, within_s))


def test_three_point_matches_direct_formula(sets):
  x = sets[0].genotypes[:500]
  trip = np.array([[0, 2, 4], [10, 20, 30]])
  got = stats.three_point(x, trip)
  i, j, k = (x[:, trip[1, c]] for c in range(3))
  a, b, c = 1, 0, 1
  f = lambda *m: np.mean(np.all(m, axis=0))
  expected = (f(i == a, j == b, k == c) - f(i == a, j == b) * f(k == c) - f(j == b, k == c) * f(i == a)
              - f(i == a, k == c) * f(j == b) + 2 * f(i == a) * f(j == b) * f(k == c))
  assert got[1, 5] == pytest.approx(expected)  # (a, b, c) = (1, 0, 1) is combination 5


def test_privacy_metrics_catch_copies(ds805):
  train, test = ds805.read_split('train')[:800], ds805.read_split('test')[:400]
  copies = train[:400]
  assert stats.exact_copy_rate(copies, train) == 1.0
  assert privacy.membership(copies, train, test)['mia_auc'] > 0.7
  # AGs independent of train (here: held-out real people) leak nothing.
  other = ds805.read_split('test')[400:800]
  assert stats.exact_copy_rate(other, train) < 0.05
  m = privacy.membership(other, train, test)
  assert abs(m['mia_auc'] - 0.5) < 0.1 and 0.01 < m['mia_auc_se'] < 0.05, m  # populations differ


@pytest.mark.slow  # ~30 s: two evaluations against the 805 train split
def test_privacy_loss_and_its_standard_error(ds805):
  """Copies of the training people: privacy loss many standard errors above 0. Held-out
  real people as the 'AGs': within 3 standard errors of 0. The standard error is the binomial
  one of AATS at the test size (~0.5 sqrt(0.5 / n) for AATS near 0.5)."""
  train, test = ds805.read_split('train'), ds805.read_split('test')
  held_out, test = test[:500], test[500:1000]
  leak, _ = evaluate.evaluate_set(train, train[:2000], test)
  fair, _ = evaluate.evaluate_set(train[:3000], np.concatenate([held_out, train[3000:3500]]), test)
  for m in (leak, fair):
    assert 0.005 < m['privacy_loss_se'] < 0.05, m
  assert leak['privacy_loss'] > 5 * leak['privacy_loss_se'], leak
  # Half the 'fair' set are train-split people not in `train[:3000]`: no one is a member.
  assert abs(fair['privacy_loss']) < 3 * fair['privacy_loss_se'], fair
  # The audit names the leak (and the copies behind it) and nothing for real people.
  kinds = [line.split(':')[0] for line in evaluate.findings(leak)]
  assert {'privacy', 'copies', 'membership'} <= set(kinds), kinds
  assert evaluate.findings(fair) == []


@pytest.mark.slow  # ~20 s: a full evaluation of two published sets
def test_run_evaluation_ranks_published_sets(tmp_path, sets, ds805):
  _, gan, rbm = sets
  train, test = ds805.read_split('train'), ds805.read_split('test')
  res = evaluate.run_evaluation(train[:2000], {'gan': gan[:2000], 'rbm': rbm[:2000]}, tmp_path,
                                real_test=test, progress=False)
  assert res['rbm']['ld_r'] > res['gan']['ld_r']
  assert abs(res['rbm']['aats'] - 0.5) < abs(res['gan']['aats'] - 0.5)
  assert res['real_test']['af_r'] > 0.99
  m = json.loads((tmp_path / 'metrics.json').read_text())
  for key in ('af_r', 'ld_r', 'pca_wasserstein', 'distance_wasserstein', 'three_point_r', 'aats',
              'aats_test', 'privacy_loss', 'exact_copy_rate', 'mia_auc'):
    assert np.isfinite(m['gan'][key]), key
  page = (tmp_path / 'report.html').read_text()
  for img in ('af.png', 'ld.png', 'pca.png', 'distances.png', 'aats.png'):
    assert f'src="{img}"' in page and (tmp_path / img).stat().st_size > 1000
  # The published GAN's AGs clump (aa_syn > 0.9, README); the RBM's and real people's do not.
  audit = page[page.index('<h2>Findings</h2>'):page.index('<h2>Privacy verdict')]
  assert '<b>gan</b>: diversity' in audit
  assert '<b>rbm</b>' not in audit and '<b>real_test</b>' not in audit
  # fixed_sites against scikit-allel: of the SNPs segregating in the real set, those that
  # are not segregating in the AGs.
  for name, ags in (('gan', gan[:2000]), ('rbm', rbm[:2000])):
    seg_real = allel.HaplotypeArray(train[:2000].T).count_alleles().is_segregating()
    seg_ags = allel.HaplotypeArray(ags.T).count_alleles().is_segregating()
    assert m[name]['fixed_sites'] == pytest.approx(np.mean(~seg_ags[seg_real]))
  assert m['gan']['fixed_sites'] > 0  # the published GAN never draws some rare alleles
  table = (tmp_path / 'table.md').read_text().splitlines()
  assert [r.split(' | ')[0] for r in table[2:]] == ['| real_test', '| gan', '| rbm']
  assert f"{m['rbm']['ld_r']:.4f}" in table[4]


def test_vcf_and_hapt_writers_read_back(tmp_path, ds805):
  import cyvcf2  # pylint: disable=g-import-not-at-top
  g = ds805.read_split('test')[:10]
  for name in ('ags.vcf', 'ags.vcf.gz'):
    writers.write_vcf(tmp_path / name, iter([g[:4], g[4:]]), ds805.variants)
    rows, pos = [], []
    for v in cyvcf2.VCF(str(tmp_path / name)):
      rows.append([a for gt in v.genotypes for a in gt[:2]])
      pos.append(v.POS)
      assert all(gt[2] for gt in v.genotypes)  # phased
    np.testing.assert_array_equal(np.array(rows).T, g)
    np.testing.assert_array_equal(pos, ds805.variants['pos'])
  writers.write_hapt(tmp_path / 'ags.hapt', g)
  _, ids, back = data.readers.read_hapt_matrix(tmp_path / 'ags.hapt')
  np.testing.assert_array_equal(back, g)
  assert list(ids[:2]) == ['AG0', 'AG1']
  writers.write_vcz(tmp_path / 'ags.vcz', g, ds805.variants)
  np.testing.assert_array_equal(data.read_vcz(tmp_path / 'ags.vcz').genotypes, g)


@pytest.mark.slow
def test_evaluate_cli(tmp_path):
  out = tmp_path / 'ev'
  r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'), '--real=1000g_805',
                      f'--synthetic={PUBLISHED_RBM}', f'--output={out}', '--max_haplotypes=800'],
                     capture_output=True, text=True)
  assert r.returncode == 0, r.stderr[-2000:]
  m = json.loads((out / 'metrics.json').read_text())
  assert set(m) == {'real_test', '805_SNP_RBM_AG_800Epochs'}
  bad = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'), '--real=1000g_805',
                        f'--synthetic={tmp_path / "nope.hapt"}', f'--output={out}'],
                       capture_output=True, text=True)
  assert bad.returncode == 1 and 'nope.hapt' in bad.stderr and 'Traceback' not in bad.stderr


@pytest.mark.slow
def test_ld_decay_within_real_spread(tmp_path):
  """On one chromosome: a copy of the train split lies inside the train-test LD-decay spread
  at every bin; the same alleles shuffled per SNP (no LD) lie outside at short distances."""
  from conftest import VCF_140KB  # pylint: disable=g-import-not-at-top
  h = data.read_vcf(VCF_140KB)
  g = h.genotypes
  rng = np.random.default_rng(0)
  order = rng.permutation(len(g))
  train, test = g[order[:1500]], g[order[1500:2000]]
  no_ld = np.stack([rng.permutation(col) for col in train.T], axis=1)
  collapsed = np.repeat(train[:1], 500, axis=0)  # a mode-collapsed GAN: every SNP fixed
  res = evaluate.run_evaluation(train, {'copy': train, 'no_ld': no_ld, 'collapsed': collapsed},
                                tmp_path, real_test=test, positions=h.variants['pos'],
                                chrom=h.variants['chrom'], progress=False)
  assert res['copy']['ld_decay_within'] == 1.0 and res['copy']['ld_decay_gap'] == 0.0
  assert res['no_ld']['ld_decay_gap'] > 3 * res['no_ld']['ld_decay_spread']
  assert res['no_ld']['ld_decay_within'] < 0.5
  # The per-bin curves behind those figures: the copy's curve is the train curve; the
  # largest |test - train| over filled bins is the reported spread.
  dec = res['no_ld']['ld_decay']
  n_bins = len(dec['bin_edges_bp']) - 1
  assert all(len(dec[k]) == n_bins for k in ('pairs', 'mean_r2_real', 'mean_r2_test', 'mean_r2'))
  assert sum(dec['pairs']) == sum(res['copy']['ld_by_maf']['pairs'])
  np.testing.assert_allclose(res['copy']['ld_decay']['mean_r2'], dec['mean_r2_real'], rtol=1e-6)
  spread = np.abs(np.array(dec['mean_r2_test']) - np.array(dec['mean_r2_real']))
  assert np.nanmax(spread) == pytest.approx(res['no_ld']['ld_decay_spread'])
  # No SNP polymorphic in the AGs: LD is undefined (NaN), not a crash; the rest is measured.
  assert np.isnan(res['collapsed']['ld_r']) and np.isnan(res['collapsed']['ld_decay_within'])
  assert res['collapsed']['exact_copy_rate'] == 1.0 and np.isfinite(res['collapsed']['af_r'])
  assert res['copy']['fixed_sites'] == 0.0 and res['collapsed']['fixed_sites'] == 1.0
  # What chance fixes at a set's size, against sets drawn site by site from the train
  # frequencies (Monte Carlo, 400 sets of 1,500); the audit names a set that loses far more.
  f = stats.allele_freq(train)
  f = f[(f > 0) & (f < 1)]
  counts = rng.binomial(len(no_ld), f, size=(400, f.size))
  simulated = np.mean((counts == 0) | (counts == len(no_ld)))
  assert simulated > 0.001
  assert res['no_ld']['fixed_sites_expected'] == pytest.approx(simulated, rel=0.1)
  kinds = lambda name: [line.split(':')[0] for line in evaluate.findings(res[name])]
  assert 'lost alleles' in kinds('collapsed') and 'lost alleles' not in kinds('copy')
  # LD by allele frequency: the copy matches the real train split in every bin; without LD
  # every bin's mean r^2 collapses (to the ~1/n sampling floor).
  copy, flat = res['copy']['ld_by_maf'], res['no_ld']['ld_by_maf']
  filled = np.array(copy['pairs']) > 0
  assert filled.sum() >= 3 and copy['pairs'] == flat['pairs']
  np.testing.assert_allclose(np.array(copy['mean_r2'])[filled],
                             np.array(copy['mean_r2_real'])[filled], rtol=1e-6)
  assert np.all(np.array(flat['mean_r2'])[filled]
                < 0.5 * np.array(flat['mean_r2_real'])[filled])
  page = (tmp_path / 'report.html').read_text()
  assert 'src="ld_decay.png"' in page and 'src="ld_by_maf.png"' in page


def test_distance_sample_covering_the_sets_is_exact_and_seed_free(sets):
  """Drawing as many haplotypes as the sets hold (equal sizes: both are drawn to the smaller),
  distance_wasserstein is the Wasserstein distance between the full within-set distance
  distributions (scipy on brute-force Hamming) whatever the seed; from a 150-haplotype draw it
  depends on the seed (the noise the flag exists to remove)."""
  real, _, rbm = sets
  train, synth = real.genotypes[:300], rbm[:300]
  brute = lambda x: scipy.spatial.distance.pdist(x, 'hamming') * x.shape[1]
  want = scipy.stats.wasserstein_distance(brute(train), brute(synth))
  full = [evaluate.evaluate_set(train, synth, None, distance_sample=400, seed=s)[0]
          ['distance_wasserstein'] for s in (0, 1)]
  np.testing.assert_allclose(full, [want, want], rtol=1e-6)
  small = [evaluate.evaluate_set(train, synth, None, distance_sample=150, seed=s)[0]
           ['distance_wasserstein'] for s in (0, 1)]
  assert small[0] != small[1]


def test_evaluate_cli_rejects_a_distance_sample_below_two(tmp_path):
  r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'), '--real=1000g_805',
                      f'--synthetic={PUBLISHED_RBM}', f'--output={tmp_path / "ev"}',
                      '--distance_sample=1'], capture_output=True, text=True)
  assert r.returncode == 1 and '--distance_sample=1' in r.stderr and 'Traceback' not in r.stderr
  assert not (tmp_path / 'ev').exists()


@pytest.mark.parametrize('option, value', [('distance_sample', 1), ('max_haplotypes', 0),
                                           ('ld_max_distance', 0), ('distance_sample', 2.5)])
def test_run_evaluation_rejects_a_bad_size_option_before_writing(sets, tmp_path, option, value):
  """Python callers get the CLI's check (one message naming the option), not scipy's error on
  an empty array halfway through, and no output directory."""
  real, _, rbm = sets
  with pytest.raises(ValueError, match=f'--{option}={value}: use an integer of'):
    evaluate.run_evaluation(real.genotypes[:200], {'rbm': rbm[:200]}, tmp_path / 'ev',
                            progress=False, **{option: value})
  assert not (tmp_path / 'ev').exists()
  with pytest.raises(ValueError, match=f'--{option}={value}'):
    evaluate.evaluate_set(real.genotypes[:200], rbm[:200], None, **{option: value})


def test_aa_truth_by_population(tmp_path, sets, ds805):
  _, _, rbm = sets
  rows = np.sort(np.random.default_rng(0).choice(ds805.num_train, 800, replace=False))
  train, test = ds805.read_split('train')[rows], ds805.read_split('test')
  pops = ds805.samples['super_population']  # the file is sorted by population: draw rows
  labels, test_labels = pops[ds805.train_rows][rows], pops[ds805.test_rows]
  assert set(labels.tolist()) == {'AFR', 'AMR', 'EAS', 'EUR', 'SAS'}
  kwargs = dict(max_haplotypes=800, privacy_draws=1, distance_sample=200)
  plain, _ = evaluate.evaluate_set(train, rbm[:800], None, **kwargs)
  m, _ = evaluate.evaluate_set(train, rbm[:800], None, populations=labels, **kwargs)
  by = m.pop('aa_truth_by_population')
  assert m == plain  # the labels add a figure and change no other
  assert set(by) == set(labels.tolist()) and sum(v['n'] for v in by.values()) == 800
  assert np.isclose(sum(v['aa_truth'] * v['n'] for v in by.values()) / 800, m['aa_truth'])
  # One group against scipy's Hamming distances: nearest other real vs nearest AG.
  d_rr = scipy.spatial.distance.cdist(train, train, 'hamming')
  np.fill_diagonal(d_rr, np.inf)
  d_rs = scipy.spatial.distance.cdist(train, rbm[:800], 'hamming')
  eas = labels == 'EAS'
  assert np.isclose(by['EAS']['aa_truth'], np.mean(d_rs.min(1)[eas] > d_rr.min(1)[eas]))
  # AGs that are held-out EUR people cover EUR and leave AFR uncovered.
  eur_only = np.resize(test[test_labels == 'EUR'], (800, train.shape[1]))
  m, _ = evaluate.evaluate_set(train, eur_only, None, populations=labels, **kwargs)
  by = m['aa_truth_by_population']
  assert by['AFR']['aa_truth'] > 0.9 and by['EUR']['aa_truth'] < 0.65, by
  # Through run_evaluation: the plot, and one clear error for a label count that does not fit.
  evaluate.run_evaluation(train, {'rbm': rbm[:800]}, tmp_path / 'ev', populations=labels,
                          distance_sample=200, progress=False)
  assert (tmp_path / 'ev' / 'aats_by_population.png').stat().st_size > 1000
  assert 'src="aats_by_population.png"' in (tmp_path / 'ev' / 'report.html').read_text()
  with pytest.raises(ValueError, match='799 labels for 800 real train haplotypes'):
    evaluate.run_evaluation(train, {'rbm': rbm[:800]}, tmp_path / 'bad', populations=labels[:799])
  assert not (tmp_path / 'bad').exists()


# ------------------------------------------------------------------ identity of the sites


def _variants(ds):
  return {k: np.asarray(v).copy() for k, v in ds.variants.items()}


def test_identity_check_names_the_first_mismatching_site(ds805):
  from ag_jax.evaluate import identity  # pylint: disable=g-import-not-at-top
  real, n = _variants(ds805), ds805.num_snps
  assert identity.check_same_sites(real, n, _variants(ds805), n, 'ags.vcf') == 'sites'
  swapped = _variants(ds805)
  swapped['ref'][100], swapped['alt'][100] = real['alt'][100], real['ref'][100]
  moved = _variants(ds805)
  moved['pos'][7] += 1
  contig = _variants(ds805)
  contig['chrom'][:] = 'chr' + contig['chrom']
  for variants, site, what in ((swapped, 101, 'REF and ALT swapped'),
                               (moved, 8, 'another position'), (contig, 1, 'another contig')):
    with pytest.raises(identity.IdentityError, match=f'ags.vcf: SNP {site} is .* but the real '
                       f'data has {real["chrom"][site - 1]}:{real["pos"][site - 1]} .*{what}'):
      identity.check_same_sites(real, n, variants, n, 'ags.vcf')
  fewer = {k: v[:-1] for k, v in real.items()}
  with pytest.raises(identity.IdentityError, match=f'804 SNPs, but the real data has 805 .*lacks '
                     f'the real SNP 805, {real["chrom"][-1]}:{real["pos"][-1]}'):
    identity.check_same_sites(real, n, fewer, n - 1, 'ags.vcf')
  # A .hapt carries no table: only the count is compared.
  assert identity.check_same_sites(real, n, None, n, 'ags.hapt') == 'SNP count'
  with pytest.raises(identity.IdentityError, match='ags.hapt: 804 SNPs, but the real data has 805'):
    identity.check_same_sites(real, n, None, n - 1, 'ags.hapt')
  placeholder = data.read_hapt(PUBLISHED_RBM).variants  # no legend: contig '.', alleles 'N'
  assert not identity.has_table(placeholder) and identity.has_table(real)
  assert identity.check_same_sites(placeholder, n, real, n, 'ags.vcf') == 'SNP count'


def test_evaluate_cli_refuses_a_set_with_swapped_alleles_before_computing(tmp_path, ds805):
  """A .vcf.gz of real held-out haplotypes whose REF/ALT are swapped at one site: one error
  line naming it, exit 1, no output; the same haplotypes as .pgen with the right table are
  read back (pgenlib) exactly and pass."""
  from ag_jax.evaluate import identity  # pylint: disable=g-import-not-at-top
  g = ds805.read_split('test')[:200]
  variants = _variants(ds805)
  writers.write_genotypes(tmp_path / 'ok.pgen', iter([g]), variants)
  back, back_variants = identity.read_synthetic(str(tmp_path / 'ok.pgen'))
  np.testing.assert_array_equal(back, g)
  assert identity.check_same_sites(variants, 805, back_variants, 805, 'ok.pgen') == 'sites'
  variants['ref'][100], variants['alt'][100] = variants['alt'][100], variants['ref'][100]
  writers.write_genotypes(tmp_path / 'swapped.vcf.gz', iter([g]), variants)
  out = tmp_path / 'ev'
  r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'), '--real=1000g_805',
                      f'--synthetic={tmp_path / "swapped.vcf.gz"}', f'--output={out}'],
                     capture_output=True, text=True)
  assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
  err = [l for l in r.stderr.splitlines() if l.strip() and 'tpu' not in l.lower()]
  want = f'error: {tmp_path / "swapped.vcf.gz"}: SNP 101 is '
  assert len(err) == 1 and err[0].startswith(want), r.stderr
  assert 'REF and ALT swapped' in err[0]
  assert not out.exists()


# ------------------------------------------------------------- population genetics


def test_projected_sfs_is_allels_at_full_size_and_a_subsample_mean_below(ds805):
  test = ds805.read_split('test')
  full = stats.sfs_folded_projected(test, len(test))
  np.testing.assert_allclose(full, allel.sfs_folded(stats.allele_counts(test), n=len(test)))
  # Projection to 20 haplotypes = the mean folded SFS of random draws of 20 (Monte Carlo).
  rng = np.random.default_rng(0)
  draw = lambda: test[rng.choice(len(test), 20, replace=False)]
  draws = np.mean([allel.sfs_folded(stats.allele_counts(draw()), n=20) for _ in range(400)], axis=0)
  proj = stats.sfs_folded_projected(test, 20)
  assert proj.sum() == pytest.approx(test.shape[1])
  np.testing.assert_allclose(proj, draws, rtol=0.1, atol=2)
  assert stats.sfs_distance(proj, proj) == 0


def test_diversity_and_fst_on_real_populations(ds805):
  """pi: the per-site mean pairwise difference by hand; per bp on one chromosome, allel's
  sequence_diversity. Fst: two samples of the same people ~0, AFR vs EUR far above it."""
  train, test = ds805.read_split('train'), ds805.read_split('test')
  pi, unit = stats.nucleotide_diversity(test)
  p, n = test.mean(0), len(test)
  assert unit == 'per_site' and pi == pytest.approx(np.mean(2 * p * (1 - p) * n / (n - 1)))
  pos = np.cumsum(np.full(test.shape[1], 10))
  pi_bp, unit = stats.nucleotide_diversity(test, pos)
  assert unit == 'per_bp' and pi_bp == pytest.approx(pi * test.shape[1] / (pos[-1] - pos[0] + 1))
  fst, se = stats.hudson_fst(test, train)
  assert abs(fst) < max(3 * se, 0.003), (fst, se)
  sup = ds805.samples['super_population'][ds805.train_rows]
  afr_eur, se2 = stats.hudson_fst(train[sup == 'AFR'], train[sup == 'EUR'])
  assert afr_eur > 0.1 and afr_eur > 20 * se2, (afr_eur, se2)


def test_sets_of_any_sizes_and_the_sizes_behind_the_privacy_figures(tmp_path, ds805):
  """400 AGs against 1,500 real train and 1,002 test haplotypes: AATS and the privacy figures
  draw the larger set down (seeded), metrics.json and the report give the sizes used."""
  rows = np.random.default_rng(0).permutation(ds805.num_train)  # the file is sorted by population
  everyone, test = ds805.read_split('train'), ds805.read_split('test')
  train, ags = everyone[rows[:1500]], everyone[rows[1500:1900]]  # the AGs: non-members
  a = stats.aats(train, ags, seed=3)
  assert a['n'] == 400 and len(a['rows_real']) == 400
  assert a['aats'] == stats.aats(train[a['rows_real']], ags)['aats']
  res = evaluate.run_evaluation(train, {'ags': ags}, tmp_path, real_test=test, progress=False,
                                distance_sample=200)
  m = json.loads((tmp_path / 'metrics.json').read_text())['ags']
  assert (m['aats_n'], m['privacy_loss_n'], m['privacy_draws']) == (400, 400, 5)
  # Every draw takes 400 of each set: more of the 1,500 train and 1,002 held-out rows enter.
  assert 400 < m['privacy_loss_n_train'] <= 1500 and 400 < m['privacy_loss_n_test'] <= 1002
  assert m['privacy_loss_n_ags'] == 400
  assert (m['mia_n_members'], m['mia_n_nonmembers']) == (1500, 1002)
  assert (m['exact_copy_n_ags'], m['exact_copy_n_train']) == (400, 1500)
  # (No findings asserted: these AGs include the partner haplotypes of train individuals.)
  assert m['sfs_size'] == 100 and len(m['sfs']) == 51 and isinstance(m['findings'], list)
  assert abs(m['fst']) < 0.01 and 0.9 < m['pi_ratio'] < 1.1 and m['sfs_distance'] < 0.05
  assert res['real_test']['fst'] == pytest.approx(m['fst_reference'])
  page = (tmp_path / 'report.html').read_text()
  assert '<b>ags</b>: <b>' + m['privacy_verdict'] + '</b>. aats: 400 real train + 400 AGs' in page
  assert ': 5 draw(s) of 400 held-out + 400 AGs against 400 train + 400 AGs' in page
  assert '1500 train members + 1002 held-out non-members against 400 AGs' in page
  assert 'src="sfs.png"' in page and (tmp_path / 'sfs.png').stat().st_size > 1000
  assert 'sfs_distance' in (tmp_path / 'table.md').read_text()


@pytest.mark.slow  # two evaluations in subprocesses
def test_fail_on_findings_exits_2_after_writing_the_report(tmp_path, sets, ds805):
  """The published GAN's AGs clump (a diversity finding): status 2, the report written, the
  finding named; held-out real people as the AGs raise nothing: status 0."""
  _, gan, _ = sets
  rng = np.random.default_rng(0)  # the splits are sorted by population: draw at random
  # (mia_auc has no standard error: at 300 members vs 300 non-members, chance reached the
  # 0.55 limit on held-out people; at 500 its SD is ~0.018.)
  train = ds805.read_split('train')[rng.permutation(ds805.num_train)[:1500]]
  test = ds805.read_split('test')[rng.permutation(ds805.num_test)]
  writers.write_hapt(tmp_path / 'train.hapt', train)
  writers.write_hapt(tmp_path / 'test.hapt', test[:500])
  writers.write_hapt(tmp_path / 'gan.hapt', gan[:500])
  writers.write_hapt(tmp_path / 'people.hapt', test[500:1000])
  base = [sys.executable, str(ROOT / 'experiments' / 'evaluate.py'),
          f'--real={tmp_path / "train.hapt"}', f'--test={tmp_path / "test.hapt"}',
          '--distance_sample=200', '--fail_on_findings']
  r = subprocess.run(base + [f'--synthetic={tmp_path / "gan.hapt"}', f'--output={tmp_path / "g"}'],
                     capture_output=True, text=True)
  assert r.returncode == 2, r.stderr[-3000:]
  last = r.stderr.strip().splitlines()[-1]
  assert last.startswith('error: --fail_on_findings: ') and 'diversity' in last and 'gan' in last
  m = json.loads((tmp_path / 'g' / 'metrics.json').read_text())
  assert any(f.startswith('diversity') for f in m['gan']['findings'])
  assert (tmp_path / 'g' / 'report.html').exists()
  r = subprocess.run(base + [f'--synthetic={tmp_path / "people.hapt"}',
                             f'--output={tmp_path / "p"}'], capture_output=True, text=True)
  assert r.returncode == 0, r.stderr[-3000:]
  assert json.loads((tmp_path / 'p' / 'metrics.json').read_text())['people']['findings'] == []


def test_evaluation_replaces_only_an_evaluation_ag_jax_wrote(tmp_path, sets):
  """A directory holding a user's metrics.json or af.png is refused, before any data is read,
  and left as it was; an earlier ag_jax evaluation there (report.html, or only the committed
  metrics.json of a results/ directory) is rewritten; every file written is in report.FILES."""
  real, _, rbm = sets
  train, ags = real.genotypes[:100], rbm[:100]
  for name in ('metrics.json', 'af.png'):
    user = tmp_path / f'user_{name}'
    user.mkdir()
    (user / name).write_text('mine\n')
    (user / 'notes.txt').write_text('mine too\n')
    if name == 'metrics.json':
      r = subprocess.run([sys.executable, str(ROOT / 'experiments' / 'evaluate.py'),
                          '--real=1000g_805', f'--synthetic={tmp_path / "absent.hapt"}',
                          f'--output={user}'], capture_output=True, text=True)
      assert r.returncode == 1 and r.stderr.startswith(f'error: --output={user}: holds {name}')
      assert 'Traceback' not in r.stderr and 'absent.hapt' not in r.stderr
    with pytest.raises(ValueError, match='not from an ag_jax evaluation'):
      evaluate.run_evaluation(train, {'rbm': ags}, user, progress=False)
    assert sorted(p.name for p in user.iterdir()) == sorted([name, 'notes.txt'])
    assert (user / name).read_text() == 'mine\n'
  out = tmp_path / 'ev'
  evaluate.run_evaluation(train, {'rbm': ags}, out, progress=False, distance_sample=50)
  assert {p.name for p in out.iterdir()} <= set(report.FILES)
  (out / 'notes.txt').write_text('kept\n')
  html, metrics = (out / 'report.html').read_text(), (out / 'metrics.json').read_text()
  (out / 'metrics.json').unlink()
  report.check_output_dir(out)  # ours by its report.html
  (out / 'metrics.json').write_text(metrics)
  (out / 'report.html').unlink()
  report.check_output_dir(out)  # ours by its metrics.json, as in a clean clone's results/<row>/
  (out / 'metrics.json').write_text('{"rbm": {"af_r": 1.0}}')
  with pytest.raises(ValueError, match='not from an ag_jax evaluation'):
    report.check_output_dir(out)
  (out / 'report.html').write_text(html)
  evaluate.run_evaluation(train, {'again': ags}, out, progress=False, distance_sample=50)
  assert set(json.loads((out / 'metrics.json').read_text())) == {'again'}
  assert (out / 'notes.txt').read_text() == 'kept\n'


def _labelled_805(ds805):
  train, test = ds805.read_split('train'), ds805.read_split('test')
  column = 'super_population'
  return train, test, ds805.split_samples(column), ds805.split_samples(column, 'test')


def test_by_label_tells_right_labels_from_swapped_ones(ds805):
  """Real held-out haplotypes as 'AGs' with their own super-population score like the real
  test split (AF r >= 0.98 against their label's train haplotypes, Fst ~0, the classifier's
  accuracy); the same haplotypes with AFR and EUR swapped score AF r ~0, Fst > 0.3, accuracy 0
  for those two and unchanged for the rest; the confusion matrix counts the swap."""
  train, test, lab_train, lab_test = _labelled_805(ds805)
  labels = evaluate.Labels('super_population', lab_train, lab_test)
  classify = by_label.classifier(train, lab_train)
  right, _ = by_label.evaluate(train, test, labels, lab_test, classify=classify,
                               privacy_figures=False)
  swapped = np.where(lab_test == 'AFR', 'EUR', np.where(lab_test == 'EUR', 'AFR', lab_test))
  wrong, extra = by_label.evaluate(train, test, labels, swapped, classify=classify,
                                   privacy_figures=False)
  assert sorted(right) == ['AFR', 'AMR', 'EAS', 'EUR', 'SAS']
  for name, m in right.items():
    assert m['num_haplotypes'] == (lab_test == name).sum()
    assert m['af_r'] > 0.98 and abs(m['fst']) < 0.005 and m['accuracy'] > 0.9
    assert m['af_r'] > m['af_r_pooled']
    if name in ('AFR', 'EUR'):
      assert abs(wrong[name]['af_r']) < 0.1 and wrong[name]['fst'] > 0.3
      assert wrong[name]['accuracy'] == 0
    else:
      assert wrong[name] == m
  names, confusion = extra['names'], extra['confusion']
  assert confusion.sum() == len(test)
  afr, eur = names.index('AFR'), names.index('EUR')
  assert confusion[afr, eur] > 0.9 * (lab_test == 'EUR').sum()  # asked AFR, looks EUR


def test_by_label_privacy_is_per_label(ds805):
  """AGs that copy 142 of AMR's 552 train haplotypes (and are real held-out haplotypes of the
  other labels) leak for AMR only, and the audit names the label."""
  train, test, lab_train, lab_test = _labelled_805(ds805)
  amr = np.flatnonzero(lab_train == 'AMR')[:142]
  ags = np.concatenate([train[amr], test[lab_test != 'AMR']])
  ag_labels = np.concatenate([lab_train[amr], lab_test[lab_test != 'AMR']])
  # Every label's train haplotypes but AMR's copied ones are disjoint from the AGs.
  labels = evaluate.Labels('super_population', lab_train, lab_test)
  m, _ = by_label.evaluate(train, ags, labels, ag_labels, real_test=test, privacy_draws=2)
  assert m['AMR']['privacy_verdict'] == 'leaks' and m['AMR']['privacy_loss'] > 0.05
  assert m['AMR']['privacy_loss_n'] == 142
  for name in ('AFR', 'EAS', 'EUR', 'SAS'):
    assert m[name]['privacy_loss'] < 0  # the held-out side is the AGs themselves
  assert evaluate.findings({'by_label': m})[0].startswith('privacy (AMR)')


def test_labels_refuse_what_does_not_fit(ds805):
  train, test, lab_train, lab_test = _labelled_805(ds805)
  ags = test[:10]
  cases = [({'ags': lab_test[:9]}, 'ags: 9 super_population labels for 10 haplotypes'),
           ({'ags': np.array(['XYZ'] * 10)}, "ags: super_population 'XYZ' has no real train"),
           ({'other': lab_test[:10]}, "labels given for 'other'")]
  for sets_, message in cases:
    labels = evaluate.Labels('super_population', lab_train, lab_test, sets_)
    with pytest.raises(ValueError, match=message):
      labels.check(train, test, {'ags': ags})
  with pytest.raises(ValueError, match='the real train split has no super_population'):
    evaluate.Labels('super_population', np.full(len(train), ''), None,
                    {'ags': lab_test[:10]}).check(train, None, {'ags': ags})


def test_ag_labels_file_per_haplotype_or_per_individual(tmp_path):
  vocab = labels_lib.Vocabulary('population', ('CEU', 'YRI'), (10, 10))
  lab = np.array([1, 1, 0, 0, 1, 1])
  for diploid, rows in ((False, 6), (True, 3)):
    path = labels_lib.write_ag_labels(tmp_path / f'{diploid}.labels.tsv', vocab, lab, diploid)
    assert len(path.read_text().splitlines()) == rows + 1 and labels_lib.is_ag_labels(path)
    column, names = labels_lib.read_ag_labels(path, 6)
    assert column == 'population' and names.tolist() == ['YRI', 'YRI', 'CEU', 'CEU', 'YRI', 'YRI']
    with pytest.raises(data.DataError, match='labels for 5 haplotypes'):
      labels_lib.read_ag_labels(path, 5)
  (tmp_path / 'x.tsv').write_text('id\tpop\nAG0\tYRI\n')
  assert not labels_lib.is_ag_labels(tmp_path / 'x.tsv')
  with pytest.raises(data.DataError, match='not an AG labels file'):
    labels_lib.read_ag_labels(tmp_path / 'x.tsv', 1)
