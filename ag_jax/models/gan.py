"""The fully connected GAN of Yelmen et al. 2021 (docs/papers.md §4.1), in Flax Linen.

Generator: Dense(nSNP // 1.2) -> LReLU -> Dense(nSNP // 1.1) -> LReLU -> Dense(nSNP) -> tanh.
Discriminator: Dense(nSNP // 2) -> LReLU -> Dense(nSNP // 3) -> LReLU -> Dense(1) -> sigmoid.
Keras defaults: glorot-uniform kernels, zero biases; LeakyReLU slope 0.01.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

LATENT = 600


class Generator(nn.Module):
  num_snps: int

  @nn.compact
  def __call__(self, z):
    """z: [B, 600] -> tanh outputs [B, num_snps] in (-1, 1)."""
    x = nn.leaky_relu(nn.Dense(int(self.num_snps // 1.2), name='hidden1')(z), 0.01)
    x = nn.leaky_relu(nn.Dense(int(self.num_snps // 1.1), name='hidden2')(x), 0.01)
    return jnp.tanh(nn.Dense(self.num_snps, name='out')(x))


class Discriminator(nn.Module):
  num_snps: int

  @nn.compact
  def __call__(self, x):
    """x: [B, num_snps] -> logits [B] (sigmoid gives the probability of 'real')."""
    x = nn.leaky_relu(nn.Dense(self.num_snps // 2, name='hidden1')(x), 0.01)
    x = nn.leaky_relu(nn.Dense(self.num_snps // 3, name='hidden2')(x), 0.01)
    return nn.Dense(1, name='out')(x)[..., 0]


def l2_hidden(params) -> jax.Array:
  """Keras kernel_regularizer l2 on the hidden layers: sum of squared hidden kernels."""
  return sum(jnp.sum(params[n]['kernel'] ** 2) for n in ('hidden1', 'hidden2'))
