"""Writers for artificial genomes: .hapt (the papers' format), VCF (.vcf, BGZF .vcf.gz, .bcf),
VCF Zarr (.vcz) and PLINK 2 (.pgen/.pvar/.psam).

Every writer takes an iterable of haplotype batches (uint8 [n, snps] in {0, 1}) so that
100,000 AGs of 65,535 SNPs never sit in memory at once. The variant-major formats stage the
rows in a temporary file and read it back in blocks of SNPs (bounded memory). The standard
formats are written by the field's libraries: BGZF, CSI indexes and BCF by pysam (htslib), VCF
Zarr by bio2zarr, .pgen by pgenlib; only the text of the VCF records is formatted here.

Nothing is half-written: every file is written to a temporary sibling and renamed into place
when complete; an output of several files (a .vcf.gz and its .csi, the .pgen trio, a .hapt and
its provenance sidecar) is renamed together at the end. Files keep the user's umask. A
directory (.vcz) is replaced only if ag_jax wrote it (its root attributes carry `ag_jax`), and
the old one is kept until the new one is complete. Every output carries provenance
(`Provenance`: ag_jax version, model, checkpoint step, seed, number of haplotypes, and a marker
that the samples are synthetic); docs/formats.md lists the fields.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import pathlib
import secrets
import shutil
from typing import Iterable, Iterator

import numpy as np

import ag_jax

# Output formats by extension; all but .hapt pair haplotypes 2i, 2i+1 into individual i.
FORMATS = ('.hapt', '.vcf', '.vcf.gz', '.bcf', '.vcz', '.pgen')
DIPLOID = ('.vcf', '.vcf.gz', '.bcf', '.vcz', '.pgen')
# Marker of the files ag_jax writes: the .hapt sidecar's "format" and the VCZ attribute key.
MARKER = 'ag_jax-synthetic-genomes'
# Bytes of staged genotypes read per block when writing variant-major formats, and the
# fewest SNPs a block holds (whole pages of each row when there are very many haplotypes).
BLOCK_BYTES = 16 << 20
MIN_BLOCK_SNPS = 512


class OutputError(ValueError):
  """An output that cannot be written as asked; the message names the path and what to do."""


def output_format(path: str | os.PathLike) -> str | None:
  """The format (one of FORMATS) that `path` names by its extension, or None."""
  name = str(path).lower()
  for ext in sorted(FORMATS, key=len, reverse=True):  # .vcf.gz before .vcf
    if name.endswith(ext):
      return ext
  return None


def output_paths(path: str | os.PathLike, fmt: str | None = None) -> list[pathlib.Path]:
  """Every path an output at `path` consists of, the named one first (index, .pvar/.psam or
  provenance sidecar after it); they are replaced together. `fmt` overrides the extension."""
  path = pathlib.Path(path)
  fmt = fmt or output_format(path)
  if fmt in ('.vcf.gz', '.bcf'):
    return [path, path.with_name(path.name + '.csi')]
  if fmt == '.pgen':
    return [path, path.with_suffix('.pvar'), path.with_suffix('.psam')]
  if fmt == '.hapt':
    return [path, path.with_name(path.name + '.json')]
  return [path]


@dataclasses.dataclass(frozen=True)
class Provenance:
  """Where a set of AGs comes from; written into every output (docs/formats.md)."""
  model: str | None = None
  checkpoint_step: int | None = None
  seed: int | None = None
  num_haplotypes: int | None = None
  version: str = ag_jax.__version__

  def header(self) -> dict[str, str]:
    """The VCF/.pvar/.psam `##key=value` fields, in order; unknown fields left out."""
    fields = {'ag_jaxVersion': self.version, 'ag_jaxModel': self.model,
              'ag_jaxCheckpointStep': self.checkpoint_step, 'ag_jaxSeed': self.seed,
              'ag_jaxNumHaplotypes': self.num_haplotypes, 'syntheticSamples': 'true'}
    return {k: str(v) for k, v in fields.items() if v is not None}

  def header_lines(self) -> str:
    return ''.join(f'##{k}={v}\n' for k, v in self.header().items())

  def as_dict(self) -> dict:
    """The .hapt sidecar and the VCZ `ag_jax` attribute."""
    return {'format': MARKER, 'synthetic_samples': True, 'ag_jax_version': self.version,
            'model': self.model, 'checkpoint_step': self.checkpoint_step, 'seed': self.seed,
            'num_haplotypes': self.num_haplotypes}


# ------------------------------------------------------------------------- atomic replacement


def _umask() -> int:
  """The process umask, read without changing it where Linux allows."""
  with contextlib.suppress(OSError, ValueError):
    for line in pathlib.Path('/proc/self/status').read_text().splitlines():
      if line.startswith('Umask:'):
        return int(line.split()[1], 8)
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def _temp_name(path: pathlib.Path, suffix: str = '.tmp') -> pathlib.Path:
  return path.with_name(f'.{path.name}.{secrets.token_hex(4)}{suffix}')


def _new_temp_file(path: pathlib.Path) -> pathlib.Path:
  """An empty temporary sibling of `path`, created with the mode a new file gets under the
  user's umask (tempfile.mkstemp would make it 0600)."""
  while True:
    tmp = _temp_name(path)
    try:
      os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
      return tmp
    except FileExistsError:
      continue


def _new_temp_dir(path: pathlib.Path) -> pathlib.Path:
  """A temporary sibling directory of `path` (mode under the umask; mkdtemp makes 0700)."""
  while True:
    tmp = _temp_name(path)
    try:
      tmp.mkdir(0o777)
      return tmp
    except FileExistsError:
      continue


def _remove(p: pathlib.Path):
  if p.is_dir() and not p.is_symlink():
    shutil.rmtree(p, ignore_errors=True)
  else:
    p.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike) -> Iterator[list[pathlib.Path]]:
  """Yields one temporary sibling file per path; renamed onto the paths only if the block
  succeeds, otherwise removed.

  The first path is the main file, the others its companions (index, .pvar/.psam, sidecar):
  old companions are removed first, then the files renamed in order, so a crash in between
  leaves a main file without its companions (readers refuse it), never a mismatched set.
  """
  paths = [pathlib.Path(p) for p in paths]
  for p in paths:
    p.parent.mkdir(parents=True, exist_ok=True)
  tmps = []
  try:
    for p in paths:
      tmps.append(_new_temp_file(p))
    yield tmps
    for p in paths[1:]:
      p.unlink(missing_ok=True)
    for tmp, p in zip(tmps, paths):
      os.replace(tmp, p)
  except BaseException:
    for tmp in tmps:
      _remove(tmp)
    raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Yields a temporary sibling path; renamed onto `path` only if the block succeeds."""
  with atomic_paths(path) as (tmp,):
    yield tmp


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
  """Writes `text` to `path` through a temporary sibling: readers see the old file or the new
  one, never a part (an interrupted run leaves no half-written metrics or config)."""
  with atomic_path(path) as tmp:
    tmp.write_text(text)
  return pathlib.Path(path)


# ------------------------------------------------------------------------------- ownership


def _header_is_ours(path: pathlib.Path, limit: int = 64 << 20) -> bool:
  """Whether the `##` header of a VCF (text, BGZF or BCF) or .pvar carries ag_jax's
  provenance (or the `##source=ag_jax` of older versions). Read directly: htslib would print
  its own complaints about a file that is not a VCF."""
  try:
    with open(path, 'rb') as raw:
      gz = raw.read(2) == b'\x1f\x8b'
    with (gzip.open(path, 'rb') if gz else open(path, 'rb')) as f:
      head = b''
      while b'\n#CHROM' not in head and len(head) < limit:
        chunk = f.read(1 << 16)
        if not chunk:
          break
        head += chunk
  except (OSError, EOFError, gzip.BadGzipFile):
    return False
  head = b'\n' + head.split(b'\n#CHROM')[0] + b'\n'
  return b'\n##ag_jaxVersion=' in head or b'\n##source=ag_jax\n' in head


def _vcz_is_ours(path: pathlib.Path) -> bool:
  for meta in ('zarr.json', '.zattrs'):
    with contextlib.suppress(OSError, ValueError):
      attrs = json.loads((path / meta).read_text())
      attrs = attrs.get('attributes', attrs)
      if isinstance(attrs.get('ag_jax'), dict) or attrs.get('source') == 'ag_jax':
        return True
  return False


def _hapt_is_ours(path: pathlib.Path) -> bool:
  with contextlib.suppress(OSError, ValueError):
    meta = json.loads(path.with_name(path.name + '.json').read_text())
    return isinstance(meta, dict) and meta.get('format') == MARKER
  return False


def written_by_ag_jax(path: str | os.PathLike, fmt: str | None = None) -> bool:
  """Whether the existing output at `path` carries ag_jax's provenance marker."""
  path = pathlib.Path(path)
  fmt = fmt or output_format(path)
  if fmt == '.vcz':
    return path.is_dir() and _vcz_is_ours(path)
  if not path.is_file():
    return False
  if fmt in ('.vcf', '.vcf.gz', '.bcf'):
    return _header_is_ours(path)
  if fmt == '.pgen':
    return _header_is_ours(path.with_suffix('.pvar'))
  if fmt == '.hapt':
    return _hapt_is_ours(path)
  return False


def check_replaceable(path: str | os.PathLike, files: bool = True, fmt: str | None = None) -> None:
  """Raises OutputError unless writing `path` replaces only what ag_jax wrote.

  A directory (.vcz, or in the way of a file output) must carry ag_jax's marker; companions
  (.csi, .pvar/.psam, .hapt.json) are replaced with the main file only. With `files` an existing
  main file must carry the marker too (generate.py); without it a file the caller names is
  overwritten, as the trainer does with workdir/ags.hapt.
  """
  path = pathlib.Path(path)
  fmt = fmt or output_format(path)
  if fmt is None:
    raise OutputError(f'{path}: unknown output format; use {", ".join(FORMATS)}.')
  main, *companions = output_paths(path, fmt)
  if fmt == '.vcz':
    if main.exists() and not (main.is_dir() and _vcz_is_ours(main)):
      what = 'a directory' if main.is_dir() else 'a file'
      raise OutputError(f'{main}: exists and is {what} ag_jax did not write (no ag_jax '
                        'attribute in its zarr.json); it is left untouched: remove it yourself '
                        'or choose another --output.')
    return
  for p in (main, *companions):
    if p.is_dir():
      raise OutputError(f'{p}: is a directory; ag_jax writes a file there and does not delete '
                        'directories it did not write: choose another --output.')
  ours = written_by_ag_jax(main, fmt) if main.exists() else None
  if files and ours is False:
    raise OutputError(f'{main}: exists and ag_jax did not write it (no ag_jax provenance); it '
                      'is left untouched: remove it yourself or choose another --output.')
  for p in companions:
    if p.exists() and not ours:
      raise OutputError(f'{p}: exists beside no {main.name} that ag_jax wrote; ag_jax would '
                        'replace it: remove it yourself or choose another --output.')
  if fmt in ('.vcf.gz', '.bcf'):
    tbi = main.with_name(main.name + '.tbi')
    if tbi.exists():
      raise OutputError(f'{tbi}: an index ag_jax does not write; htslib would read it instead '
                        'of the new .csi: remove it yourself or choose another --output.')


# ------------------------------------------------------------------------------- staging


@contextlib.contextmanager
def _work_dir(path: pathlib.Path) -> Iterator[pathlib.Path]:
  """A temporary sibling directory for staging (on the output's filesystem, which has room
  for the output, unlike a small /tmp), removed at the end."""
  path.parent.mkdir(parents=True, exist_ok=True)
  work = _new_temp_dir(path)
  try:
    yield work
  finally:
    shutil.rmtree(work, ignore_errors=True)


def _batches(genotypes) -> Iterable[np.ndarray]:
  if isinstance(genotypes, np.ndarray):
    yield genotypes
  else:
    yield from genotypes


def _check_batch(batch, num_snps: int | None, path) -> np.ndarray:
  batch = np.asarray(batch)
  if batch.ndim != 2 or (num_snps is not None and batch.shape[1] != num_snps):
    raise OutputError(f'{path}: AGs of shape {batch.shape}, but the variant table has '
                      f'{num_snps} SNPs; generate from the model trained on this data.')
  return batch.astype(np.uint8, copy=False)


class _Staged:
  """Haplotype rows appended to a raw uint8 file, read back variant-major in SNP blocks."""

  def __init__(self, genotypes, num_snps: int, tmpdir, path, progress: bool = False):
    self.file = os.path.join(tmpdir, 'rows.u8')
    self.num_snps, self.n, self.path, self.progress = num_snps, 0, path, progress
    with open(self.file, 'wb') as f:
      for batch in _batches(genotypes):
        batch = _check_batch(batch, num_snps, path)
        f.write(np.ascontiguousarray(batch).tobytes())
        self.n += batch.shape[0]

  def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
    """(first SNP, uint8 [snps in block, haplotypes]), ~BLOCK_BYTES per block (at least
    MIN_BLOCK_SNPS SNPs), each row's segment read with its own pread. (A memory map of the
    file made the kernel map whole rows around each segment: resident memory grew to the
    size of the matrix.)"""
    if not self.n:
      return
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    step = min(self.num_snps, max(MIN_BLOCK_SNPS, BLOCK_BYTES // self.n))
    buf = np.empty((self.n, step), np.uint8)
    fd = os.open(self.file, os.O_RDONLY)
    try:
      with tqdm(total=self.num_snps, unit='SNP', desc=f'writing {pathlib.Path(self.path).name}',
                disable=not self.progress) as bar:
        for j in range(0, self.num_snps, step):
          width = min(step, self.num_snps - j)
          for i in range(self.n):
            if os.preadv(fd, [buf[i, :width]], i * self.num_snps + j) != width:
              raise OSError(f'{self.file}: short read')
          yield j, np.ascontiguousarray(buf[:, :width].T)
          bar.update(width)
    finally:
      os.close(fd)


def _check_diploid(n: int, path):
  if n % 2:
    raise OutputError(f'{path}: {n} haplotypes cannot be paired into diploid individuals; '
                      'generate an even number.')
  if n == 0:
    raise OutputError(f'{path}: no haplotypes to write; generate at least 2.')


def check_variants(variants: dict[str, np.ndarray], path) -> None:
  """Raises OutputError if the variant table cannot make records of the format of `path`:
  unknown contigs (a .hapt dataset without a legend: chrom '.', alleles 'N'), or, for the
  indexed formats, records out of order (`check_sorted`)."""
  fmt = output_format(path)
  if fmt == '.hapt':
    return
  chrom = np.asarray(variants['chrom']).astype(str)
  if (chrom == '.').any():
    raise OutputError(f'{path}: the training data has no contig, position or alleles for SNP '
                      f'{int(np.argmax(chrom == "."))} (a .hapt prepared without a legend); '
                      f'{fmt} needs them: write .hapt, or prepare the data with --legend.')
  if fmt in ('.vcf.gz', '.bcf', '.vcz'):
    check_sorted(variants, path)


def check_sorted(variants: dict[str, np.ndarray], path) -> None:
  """Raises OutputError unless each contig's records are contiguous and sorted by position
  (what an index needs)."""
  chrom, pos = np.asarray(variants['chrom']).astype(str), np.asarray(variants['pos'])
  seen = set()
  for i in range(len(chrom)):
    if i and chrom[i] == chrom[i - 1]:
      if pos[i] < pos[i - 1]:
        raise OutputError(f'{path}: SNP {i} ({chrom[i]}:{pos[i]}) comes after '
                          f'{chrom[i]}:{pos[i - 1]}; an indexed file needs records sorted by '
                          'position: write .vcf or .hapt instead.')
    elif chrom[i] in seen:
      raise OutputError(f'{path}: contig {chrom[i]} appears in two runs of the variant table '
                        f'(SNP {i}); an indexed file needs each contig in one run: write .vcf '
                        'or .hapt instead.')
    seen.add(chrom[i])


def _contigs(variants, contig_lengths: dict[str, int] | None) -> list[tuple[str, int | None]]:
  lengths = contig_lengths or {}
  return [(c, lengths.get(c)) for c in dict.fromkeys(np.asarray(variants['chrom']).astype(str))]


# -------------------------------------------------------------------------------------- .hapt


def write_hapt(path, genotypes, ids: list[str] | None = None, tag: str = 'AG',
               provenance: Provenance | None = None, tags: list[str] | None = None) -> int:
  """`AG AG0 0 1 ...` lines (no header: the papers' format); ids default to AG0, AG1, ...
  `tags`: the first column per haplotype instead of `tag` (a conditional model's labels).

  The provenance goes to a sidecar `<path>.json`. Returns the number of haplotypes written.
  """
  check_replaceable(path, files=False, fmt='.hapt')
  n = 0
  with atomic_paths(*output_paths(path, '.hapt')) as (tmp, tmp_json):
    with open(tmp, 'wb') as f:
      for batch in _batches(genotypes):
        batch = _check_batch(batch, None, path)
        # Each row's text `0 1 ...\n`, formatted in numpy (a Python join per row was 50x slower).
        text = np.full((batch.shape[0], 2 * batch.shape[1]), ord(' '), np.uint8)
        text[:, 0::2] = (batch > 0).view(np.uint8) + ord('0')
        text[:, -1] = ord('\n')
        for row in text:
          name = ids[n] if ids is not None else f'{tag}{n}'
          f.write(f'{tag if tags is None else tags[n]} {name} '.encode() + row.tobytes())
          n += 1
    prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=n)
    tmp_json.write_text(json.dumps(prov.as_dict(), indent=2) + '\n')
  return n


# -------------------------------------------------------------------------------------- VCF


def _vcf_header(variants, num_ind: int, sample_prefix: str, provenance: Provenance,
                contig_lengths) -> str:
  lines = ['##fileformat=VCFv4.2\n', '##source=ag_jax\n', provenance.header_lines()]
  for c, length in _contigs(variants, contig_lengths):
    lines.append(f'##contig=<ID={c},length={length}>\n' if length else f'##contig=<ID={c}>\n')
  lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Phased genotype">\n')
  lines.append('#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t'
               + '\t'.join(f'{sample_prefix}{i}' for i in range(num_ind)) + '\n')
  return ''.join(lines)


def _vcf_records(staged: _Staged, variants) -> Iterator[bytes]:
  """The records, one bytes object per SNP block: `a|b` per individual, formatted in numpy."""
  chrom, pos, vid = variants['chrom'], variants['pos'], variants['id']
  ref, alt = variants['ref'], variants['alt']
  num_ind = staged.n // 2
  for j0, block in staged.blocks():
    gt = np.empty((block.shape[0], num_ind, 4), np.uint8)
    gt[:, :, 0] = block[:, 0::2] + ord('0')
    gt[:, :, 1] = ord('|')
    gt[:, :, 2] = block[:, 1::2] + ord('0')
    gt[:, :, 3] = ord('\t')
    gt[:, -1, 3] = ord('\n')
    out = []
    for k in range(block.shape[0]):
      j = j0 + k
      out.append(f'{chrom[j]}\t{pos[j]}\t{vid[j]}\t{ref[j]}\t{alt[j]}\t.\tPASS\t.\tGT\t'.encode())
      out.append(gt[k].tobytes())
    yield b''.join(out)


def _write_vcf_text(dest, staged, variants, sample_prefix, provenance, contig_lengths,
                    bgzf: bool):
  head = _vcf_header(variants, staged.n // 2, sample_prefix, provenance, contig_lengths).encode()
  if bgzf:
    from pysam import libcbgzf  # pylint: disable=g-import-not-at-top
    f = libcbgzf.BGZFile(str(dest), 'wb')
  else:
    f = open(dest, 'wb')
  try:
    f.write(head)
    for chunk in _vcf_records(staged, variants):
      f.write(chunk)
  finally:
    f.close()


def _index(path: pathlib.Path, index: pathlib.Path, fmt: str):
  """A CSI index of a BGZF VCF or a BCF, written by htslib through pysam."""
  import pysam  # pylint: disable=g-import-not-at-top
  if fmt == '.bcf':
    from pysam import bcftools  # pylint: disable=g-import-not-at-top
    bcftools.index('--csi', '--force', '-o', str(index), str(path))
  else:
    pysam.tabix_index(str(path), preset='vcf', csi=True, index=str(index), force=True)


def _vcf_to_bcf(src: pathlib.Path, dest: pathlib.Path):
  import pysam  # pylint: disable=g-import-not-at-top
  with pysam.VariantFile(str(src)) as fin, \
       pysam.VariantFile(str(dest), 'wb', header=fin.header) as fout:
    for rec in fin:
      fout.write(rec)


def _stage_vcf(path, genotypes, variants, tmpdir, sample_prefix, provenance, contig_lengths,
               progress=False):
  """Stages the rows and writes `tmpdir/ags.vcf.gz` (+ .csi); returns (that path, n)."""
  staged = _Staged(genotypes, len(variants['pos']), tmpdir, path, progress)
  _check_diploid(staged.n, path)
  prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=staged.n)
  vcf = pathlib.Path(tmpdir) / 'ags.vcf.gz'
  _write_vcf_text(vcf, staged, variants, sample_prefix, prov, contig_lengths, bgzf=True)
  os.unlink(staged.file)  # the disk it took is free for the conversion that follows
  _index(vcf, pathlib.Path(tmpdir) / 'ags.vcf.gz.csi', '.vcf.gz')
  return vcf, staged.n


def write_vcf(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG',
              provenance: Provenance | None = None,
              contig_lengths: dict[str, int] | None = None, progress: bool = False) -> int:
  """Phased diploid VCF: haplotypes 2i and 2i+1 form individual `<prefix><i>`.

  `.vcf` is text; `.vcf.gz` is BGZF with a CSI index `<path>.csi` (htslib, through pysam);
  `.bcf` is BCF with a CSI index. Records follow the variant table, which must be sorted for
  the indexed forms. Returns the number of haplotypes written.
  """
  path = pathlib.Path(path)
  fmt = output_format(path)
  if fmt not in ('.vcf', '.vcf.gz', '.bcf'):
    raise OutputError(f'{path}: write_vcf writes .vcf, .vcf.gz or .bcf.')
  check_replaceable(path, files=False)
  if fmt != '.vcf':
    check_sorted(variants, path)
  with _work_dir(path) as tmpdir:
    if fmt == '.vcf':
      staged = _Staged(genotypes, len(variants['pos']), tmpdir, path, progress)
      _check_diploid(staged.n, path)
      prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=staged.n)
      with atomic_path(path) as tmp:
        _write_vcf_text(tmp, staged, variants, sample_prefix, prov, contig_lengths, bgzf=False)
      return staged.n
    with atomic_paths(*output_paths(path)) as (tmp, tmp_index):
      if fmt == '.vcf.gz':
        # Written straight to its final directory, as BGZF, then indexed there.
        staged = _Staged(genotypes, len(variants['pos']), tmpdir, path, progress)
        _check_diploid(staged.n, path)
        prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=staged.n)
        _write_vcf_text(tmp, staged, variants, sample_prefix, prov, contig_lengths, bgzf=True)
        _index(tmp, tmp_index, fmt)
        return staged.n
      vcf, n = _stage_vcf(path, genotypes, variants, tmpdir, sample_prefix, provenance,
                          contig_lengths, progress)
      _vcf_to_bcf(vcf, tmp)
      _index(tmp, tmp_index, fmt)
      return n


# ------------------------------------------------------------------------------- VCF Zarr


def _swap_dir(new: pathlib.Path, path: pathlib.Path):
  """Moves directory `new` to `path`; an old `path` (checked to be ag_jax's) is moved aside
  first and deleted only after the new one is in place."""
  old = None
  if path.exists():
    old = _temp_name(path, '.old')
    os.rename(path, old)
  try:
    os.rename(new, path)
  except BaseException:
    if old is not None:
      os.rename(old, path)
    raise
  if old is not None:
    shutil.rmtree(old, ignore_errors=True)


def write_vcz(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG',
              provenance: Provenance | None = None,
              contig_lengths: dict[str, int] | None = None, progress: bool = False) -> int:
  """VCF Zarr as bio2zarr writes it (zarr v3, dimension_names, contig lengths when known,
  sample ids): a BGZF VCF of the AGs is converted by bio2zarr's own `vcf.convert`, in a
  temporary sibling directory that is then renamed into place. The root attribute `ag_jax`
  holds the provenance (and marks the store as ag_jax's, so a later run may replace it).
  """
  from bio2zarr import vcf as b2z_vcf  # pylint: disable=g-import-not-at-top
  import zarr  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  check_replaceable(path, files=False)
  check_sorted(variants, path)
  with _work_dir(path) as work:
    vcf, n = _stage_vcf(path, genotypes, variants, str(work), sample_prefix, provenance,
                        contig_lengths, progress)
    out = work / 'ags.vcz'
    b2z_vcf.convert([str(vcf)], str(out), worker_processes=0, zarr_format=3,
                    icf_path=str(work / 'icf'), show_progress=progress)
    prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=n)
    root = zarr.open_group(str(out), mode='r+')
    root.attrs['ag_jax'] = prov.as_dict()
    check_replaceable(path, files=False)  # again: the user may have made it meanwhile
    _swap_dir(out, path)
  return n


# ------------------------------------------------------------------------------- PLINK 2


def write_pgen(path, genotypes, variants: dict[str, np.ndarray], sample_prefix: str = 'AG',
               provenance: Provenance | None = None,
               contig_lengths: dict[str, int] | None = None, progress: bool = False) -> int:
  """PLINK 2 fileset: phased hard calls in `.pgen` (pgenlib's PgenWriter), `.pvar` and `.psam`
  as text, each with the provenance as `##` header lines (PLINK 2 skips them in .psam)."""
  import pgenlib  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  check_replaceable(path, files=False)
  num_snps = len(variants['pos'])
  with _work_dir(path) as tmpdir, \
       atomic_paths(*output_paths(path)) as (tmp, tmp_pvar, tmp_psam):
    staged = _Staged(genotypes, num_snps, tmpdir, path, progress)
    _check_diploid(staged.n, path)
    num_ind = staged.n // 2
    prov = dataclasses.replace(provenance or Provenance(), num_haplotypes=staged.n)
    with pgenlib.PgenWriter(str(tmp).encode(), num_ind, variant_ct=num_snps,
                            nonref_flags=False, hardcall_phase_present=True) as w:
      for _, block in staged.blocks():
        w.append_alleles_batch(block.astype(np.int32), all_phased=True)
    with open(tmp_pvar, 'w') as f:
      f.write(prov.header_lines())
      for c, length in _contigs(variants, contig_lengths):
        f.write(f'##contig=<ID={c},length={length}>\n' if length else f'##contig=<ID={c}>\n')
      f.write('#CHROM\tPOS\tID\tREF\tALT\n')
      for c, p, i, r, a in zip(variants['chrom'], variants['pos'], variants['id'],
                               variants['ref'], variants['alt']):
        f.write(f'{c}\t{p}\t{i}\t{r}\t{a}\n')
    with open(tmp_psam, 'w') as f:
      f.write(prov.header_lines() + '#IID\n')
      f.write(''.join(f'{sample_prefix}{i}\n' for i in range(num_ind)))
  return staged.n


def write_genotypes(path, genotypes, variants: dict[str, np.ndarray] | None = None,
                    provenance: Provenance | None = None,
                    contig_lengths: dict[str, int] | None = None, progress: bool = False,
                    hapt_tags: list[str] | None = None) -> int:
  """Dispatches on the extension: .hapt, .vcf, .vcf.gz, .bcf, .vcz, .pgen. `hapt_tags`: a
  .hapt's first column per haplotype (a conditional model's labels; default AG)."""
  fmt = output_format(path)
  if fmt is None:
    raise OutputError(f'{path}: unknown output format; use {", ".join(FORMATS)}.')
  if fmt == '.hapt':
    return write_hapt(path, genotypes, provenance=provenance, tags=hapt_tags)
  if variants is None:
    raise OutputError(f'{path}: {fmt} output needs the variant table of the training data.')
  check_variants(variants, path)
  if fmt == '.vcz':
    return write_vcz(path, genotypes, variants, provenance=provenance,
                     contig_lengths=contig_lengths, progress=progress)
  if fmt == '.pgen':
    return write_pgen(path, genotypes, variants, provenance=provenance,
                      contig_lengths=contig_lengths, progress=progress)
  return write_vcf(path, genotypes, variants, provenance=provenance,
                   contig_lengths=contig_lengths, progress=progress)
