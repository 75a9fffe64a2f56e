//! genzoo-gan: generative adversarial networks (Goodfellow et al. 2014; DCGAN, cGAN, InfoGAN,
//! BiGAN/ALI, AAE, WGAN, LSGAN, f-GAN). The models land with the family's issue; until then this
//! crate holds only its documentation. The divergences they minimize already live in
//! `genzoo_core::divergence`.
