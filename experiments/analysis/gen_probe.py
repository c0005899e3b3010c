"""Generation-time probes on a trained WGAN (no retraining): latent scale, and Bernoulli draws
from the generator's probabilities instead of rounding them. Each mode is
KIND:Z_SCALE:NOISE_SCALE (KIND round or bern; the scales multiply the global latent z and the
per-scale noise); each writes 5,000 AGs to OUTDIR/KIND_zZ_nN.hapt for evaluate.py.

  python experiments/analysis/gen_probe.py WORKDIR OUTDIR round:1:1,bern:1:1 [SEED]
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

from ag_jax import train
from ag_jax.data import writers
from ag_jax.train import adversarial as adv


def main(workdir, outdir, modes, seed=0):
  t = train.load_trained(workdir)
  cfg, info = t.config, t.setup.info
  pyr, gen, _ = adv._wgan_modules(cfg, info)  # pylint: disable=protected-access
  pathlib.Path(outdir).mkdir(parents=True, exist_ok=True)

  @jax.jit
  def probs(key, z_scale, noise_scale):  # the averaged generator, batch statistics (as AGs)
    # pylint: disable=protected-access
    z, noise = adv._latents(pyr, key, 1000, cfg.model.noise_dim)
    out, _ = adv._generate_wgan(gen, pyr, info.num_snps, t.state.g_ema, t.state.g_stats, key, 1000,
                                cfg.model.noise_dim, True,
                                latents=(z * z_scale, [n * noise_scale for n in noise]))
    return out[:, :info.num_snps]

  for mode in modes:
    kind, zs, ns = (mode.split(':') + ['1', '1'])[:3]
    if kind not in ('round', 'bern'):
      raise SystemExit(f'{mode}: KIND must be round or bern')
    rows, inner = [], []
    for b in range(5):
      key = jax.random.fold_in(jax.random.key(seed), b)
      p = probs(key, float(zs), float(ns))
      x = jnp.rint(p) if kind == 'round' else jax.random.bernoulli(jax.random.fold_in(key, 7), p)
      rows.append(np.asarray(x, np.uint8))
      inner.append(float(((p > 0.05) & (p < 0.95)).mean()))
    name = f'{kind}_z{float(zs)}_n{float(ns)}.hapt'
    writers.write_genotypes(f'{outdir}/{name}', iter(rows), t.setup.dataset.variants)
    print(f'{name}: probabilities in (0.05, 0.95): {np.mean(inner):.3f}')


if __name__ == '__main__':
  main(sys.argv[1], sys.argv[2], sys.argv[3].split(','), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
