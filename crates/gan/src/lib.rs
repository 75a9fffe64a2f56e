//! genzoo-gan: generative adversarial networks, a generator and a discriminator trained against
//! each other (Goodfellow et al. 2014), with every objective on every pair of players.
//!
//! * [`objective`]: the games as small pure functions of the discriminator's outputs: minimax
//!   and non-saturating (Goodfellow et al. 2014), WGAN with weight clipping (Arjovsky et al.
//!   2017), WGAN-GP's gradient penalty (Gulrajani et al. 2017), LSGAN (Mao et al. 2017), hinge
//!   (Lim & Ye 2017; Miyato et al. 2018), f-GAN over core's f-divergences (Nowozin et al. 2016);
//!   the [`Objective`] that selects one.
//! * [`game`]: the [`Game`] settings (`objective`, `n_critic`, `gp_lambda`, `clip`, `max_loss`),
//!   the [`Adversarial`] trait of a generator/discriminator pair and [`Gan`], which makes one a
//!   `genzoo_core::model::Network`: a discriminator step per training step, a generator step
//!   after every `n_critic`-th, each player in its own parameter group (`disc`, `gen`) with its
//!   own optimizer, and a diverging player stopped before its update.
//! * [`mlp_gan`]: the 2014 GAN with multilayer perceptrons, on flattened images and 2-D toys.
//! * [`dcgan`]: DCGAN (Radford et al. 2016), transposed and strided convolutions with batch norm.
//! * [`cgan`]: the conditional GAN (Mirza & Osindero 2014), the label into both players, with
//!   the projection discriminator of Miyato & Koyama 2018 as an option.
//! * [`infogan`]: InfoGAN (Chen et al. 2016), categorical and continuous codes recovered by a Q
//!   head on the discriminator, the mutual-information lower bound reported, code traversals.
//! * [`aae`]: the adversarial autoencoder (Makhzani et al. 2016), a discriminator on codes in
//!   place of the KL, with a Gaussian or a 10-component mixture prior; [`avb`]: adversarial
//!   variational Bayes (Mescheder et al. 2017), an implicit encoder and a discriminator `T(x, z)`
//!   estimating the KL. Both are evaluated as the VAEs are (importance-sampled NLL, ELBO), with
//!   [`latent_game`] what they share.
//! * [`bigan`]: BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017), an encoder learned by a
//!   discriminator on `(x, z)` pairs; reconstructions `G(E(x))` reported.
//! * [`tricks`], [`head`], [`spectral_norm`]: the training tricks (feature matching, minibatch
//!   discrimination and standard deviation, historical averaging, one-sided label smoothing,
//!   instance noise, spectral normalization; the EMA is the trainer's), each a config switch.
//! * [`eval`]: no likelihood; the discriminator's view of test data against samples
//!   (`disc_auc`, `disc_accuracy`) and, on the Gaussian-mixture toys, the modes covered.
//! * [`nets`]: the shared building blocks.
//!
//! [`registry`] lists the models for the catalogue and [`build`] makes one from a preset. The
//! crates it stands on are re-exported ([`genzoo_core`], [`genzoo_data`], [`genzoo_train`]), so a
//! dependency on `genzoo-gan` alone is enough.
//!
//! # Example
//! Train the `tiny` DCGAN for a few steps on the shipped `mnist10k` (its own learning rate and
//! Adam's beta1 = 0.5 for each player, as DCGAN trains), evaluate it and draw seeded samples:
//! ```
//! use genzoo_gan::genzoo_core::model::EvalOptions;
//! use genzoo_gan::genzoo_core::tch::Device;
//! use genzoo_gan::genzoo_train::{OptimConfig, OptimOverride, TrainConfig, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let split = genzoo_gan::genzoo_data::load_mnist10k()?;
//! genzoo_gan::genzoo_core::seed::seed_torch_stream(0, "init", 0);
//! let mut model = genzoo_gan::build("dcgan", Some("tiny"), &split.train, Device::Cpu)?;
//! let mut cfg = TrainConfig {
//!     sample_count: 0,
//!     progress: false,
//!     optimizer: OptimConfig { lr: 2e-4, betas: [0.5, 0.999], ..OptimConfig::default() },
//!     ..TrainConfig::quick(20, 32, 2e-4)
//! };
//! // Two time-scale updates: the discriminator learns at 4e-4.
//! cfg.groups.insert("disc".into(), OptimOverride { lr: Some(4e-4), ..Default::default() });
//! let summary = Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
//! assert!(summary.last_losses.contains_key("d_loss") && summary.last_losses.contains_key("g_loss"));
//!
//! let opts = EvalOptions { max_examples: Some(200), ..EvalOptions::default() };
//! let report = model.evaluate(&split.test, &opts)?;
//! assert!(report.nll.is_none()); // a GAN has no likelihood
//! let auc = report.metrics["disc_auc"]; // P(D(test digit) > D(sample)), 1/2 when fooled
//! assert!((0.0..=1.0).contains(&auc));
//!
//! let samples = model.sample(16, 0)?; // f32 [16, 1, 28, 28] in [0, 1]
//! assert_eq!(samples.size(), [16, 1, 28, 28]);
//! assert!(samples.equal(&model.sample(16, 0)?)); // seeded
//! # Ok(())
//! # }
//! ```
pub mod aae;
pub mod avb;
pub mod bigan;
pub mod cgan;
pub mod dcgan;
pub mod eval;
pub mod game;
pub mod head;
pub mod infogan;
pub mod latent_game;
pub mod mlp_gan;
pub mod nets;
pub mod objective;
pub mod spectral_norm;
pub mod tricks;

#[cfg(test)]
mod tests;

pub use game::{Adversarial, Game, Gan};
pub use objective::Objective;

pub use genzoo_core;
pub use genzoo_data;
pub use genzoo_train;

use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::Family;
use genzoo_core::model::{build_network, GenerativeModel, ModelSpec};
use genzoo_core::Result;

/// Builds `name` of this family (see [`registry`]) from `preset` (default: the model's first)
/// for data like `data`.
///
/// # Errors
/// An unknown model or preset (the known ones listed), or data the model does not take.
pub fn build(
    name: &str,
    preset: Option<&str>,
    data: &Dataset,
    device: tch::Device,
) -> Result<Box<dyn GenerativeModel>> {
    genzoo_core::model::build_for(&registry(), name, preset, data, device)
}

fn images_or_vectors(k: &DataKind) -> bool {
    k.is_image() || k.is_vector()
}

/// Square images whose side halves to a base of at least 4 (28, 32, 64, ...).
fn dcgan_images(k: &DataKind) -> bool {
    matches!(*k, DataKind::Image { height, width, .. } if height == width && dcgan::levels(height).is_some())
}

/// The GAN family's catalogue entries.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: "gan-mlp",
            family: Family::Gan,
            about: "GAN with MLP players on flattened images or 2-D toys (Goodfellow et al. 2014)",
            presets: mlp_gan::PRESETS,
            accepts: images_or_vectors,
            build: |a| {
                build_network(
                    "gan-mlp",
                    a,
                    (mlp_gan::Config::preset, mlp_gan::PRESETS),
                    |c| c.data = a.data,
                    |p, c| Gan::new(p, mlp_gan::MlpGan::new(p, c)?),
                )
            },
        },
        ModelSpec {
            name: "cgan",
            family: Family::Gan,
            about: "conditional GAN: the label into both players, concatenated or projected (Mirza & Osindero 2014; Miyato & Koyama 2018)",
            presets: cgan::PRESETS,
            accepts: images_or_vectors,
            build: |a| {
                build_network(
                    "cgan",
                    a,
                    (cgan::Config::preset, cgan::PRESETS),
                    |c| {
                        c.data = a.data;
                        if let Some(k) = a.num_classes {
                            c.num_classes = k;
                        }
                    },
                    |p, c| Gan::new(p, cgan::Cgan::new(p, c)?),
                )
            },
        },
        ModelSpec {
            name: "dcgan",
            family: Family::Gan,
            about: "DCGAN: transposed/strided convolutions, batch norm (Radford et al. 2016)",
            presets: dcgan::PRESETS,
            accepts: dcgan_images,
            build: |a| {
                build_network(
                    "dcgan",
                    a,
                    (dcgan::Config::preset, dcgan::PRESETS),
                    |c| c.data = a.data,
                    |p, c| Gan::new(p, dcgan::Dcgan::new(p, c)?),
                )
            },
        },
        ModelSpec {
            name: "infogan",
            family: Family::Gan,
            about: "InfoGAN: categorical and continuous codes the samples vary with, without labels (Chen et al. 2016)",
            presets: infogan::PRESETS,
            accepts: dcgan_images,
            build: |a| {
                build_network(
                    "infogan",
                    a,
                    (infogan::Config::preset, infogan::PRESETS),
                    |c| c.players.data = a.data,
                    |p, c| Gan::new(p, infogan::InfoGan::new(p, c)?),
                )
            },
        },
        ModelSpec {
            name: "aae",
            family: Family::Gan,
            about: "adversarial autoencoder: codes matched to a Gaussian or mixture prior by a discriminator (Makhzani et al. 2016)",
            presets: aae::PRESETS,
            accepts: images_or_vectors,
            build: |a| {
                build_network(
                    "aae",
                    a,
                    (aae::Config::preset, aae::PRESETS),
                    |c| c.data = a.data,
                    aae::Aae::new,
                )
            },
        },
        ModelSpec {
            name: "avb",
            family: Family::Gan,
            about: "adversarial variational Bayes: an implicit encoder, its KL estimated by a discriminator T(x, z) (Mescheder et al. 2017)",
            presets: avb::PRESETS,
            accepts: images_or_vectors,
            build: |a| {
                build_network(
                    "avb",
                    a,
                    (avb::Config::preset, avb::PRESETS),
                    |c| c.data = a.data,
                    avb::Avb::new,
                )
            },
        },
        ModelSpec {
            name: "bigan",
            family: Family::Gan,
            about: "BiGAN / ALI: an encoder learned by a discriminator on (x, z) pairs (Donahue et al. 2017; Dumoulin et al. 2017)",
            presets: bigan::PRESETS,
            accepts: images_or_vectors,
            build: |a| {
                build_network(
                    "bigan",
                    a,
                    (bigan::Config::preset, bigan::PRESETS),
                    |c| c.data = a.data,
                    bigan::Bigan::new,
                )
            },
        },
    ]
}
