"""Generative models (VAE, VQ-VAE, GAN, DDPM/DDIM) on certnn's autograd, with their identities checked (issue #15)."""
