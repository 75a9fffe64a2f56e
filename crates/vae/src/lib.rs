//! genzoo-vae: the autoencoder family.
//!
//! * [`ae`]: the deterministic autoencoder (MLP and convolutional), no likelihood.
//! * [`vae`]: the VAE of Kingma & Welling (2014) with Bernoulli, 256-way categorical,
//!   discretized-logistic or Gaussian decoders; the beta-VAE, KL warm-up and free bits as
//!   configurations; pathwise or score-function encoder gradients.
//! * [`iwae`]: the importance-weighted autoencoder (Burda et al. 2016), trained on L_k.
//! * [`cvae`]: the conditional VAE (Sohn et al. 2015).
//! * [`vq_vae`], [`vq_vae2`]: VQ-VAE (van den Oord et al. 2017) and its two-level successor
//!   (Razavi et al. 2019) with [`quantizer`].
//! * [`nets`]: encoders and decoders reused by the GAN family (adversarial autoencoder) and the
//!   autoregressive family (VAE with a PixelCNN decoder); [`obs`]: the built-in decoder
//!   likelihoods behind the open [`decoder::DecoderLikelihood`]; [`latent`]: the Gaussian-latent
//!   encoder/decoder pair and the [`latent::LatentModel`] trait the evaluation runs on;
//!   [`eval`]: batched ELBO, IS-NLL, active units, mutual information; [`impute`]: partial
//!   sampling (completing masked inputs, Rezende et al. 2014); [`viz`]: PNG grids;
//!   [`grad`]: gradient-estimator variance.
//!
//! [`registry`] lists every model of the family (the catalogue the CLI uses too); [`build`] makes
//! one from a preset. The crates it stands on are re-exported: [`genzoo_core`] (the model
//! contract, units, data types), [`genzoo_data`] (the shipped `mnist10k`, IDX folders) and
//! [`genzoo_train`] (the trainer, checkpoints, run directories, PNG grids), so a dependency on
//! `genzoo-vae` alone is enough.
//!
//! # Example
//! Train the `tiny` preset of the classic VAE for a few steps on the shipped `mnist10k`, estimate
//! its test NLL and sample from it:
//! ```
//! use genzoo_vae::genzoo_core::model::{EvalOptions, LikelihoodKind};
//! use genzoo_vae::genzoo_core::tch::Device;
//! use genzoo_vae::genzoo_train::{TrainConfig, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 9,000 train / 1,000 test digits (`datasets/mnist10k`, or `$GENZOO_DATASETS/mnist10k`).
//! let split = genzoo_vae::genzoo_data::load_mnist10k()?;
//! genzoo_vae::genzoo_core::seed::seed_torch_stream(0, "init", 0); // reproducible initial weights
//! let mut model = genzoo_vae::build("vae-mlp", Some("tiny"), &split.train, Device::Cpu)?;
//! let cfg = TrainConfig { sample_count: 0, progress: false, ..TrainConfig::quick(150, 64, 3e-3) };
//! Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
//!
//! // The importance-sampled estimate of -log p(x) (IWAE bound, k = 10) in nats per digit, on
//! // the first 100 test digits under static binarization (seed 0).
//! let opts = EvalOptions { importance_samples: 10, ..EvalOptions::default() };
//! let report = model.evaluate(&split.test.take(100), &opts)?;
//! let nll = report.nll.expect("a VAE has a likelihood"); // value, unit and kind
//! assert_eq!(nll.kind, LikelihoodKind::IsEstimate);
//! println!("test NLL {nll} on {}", report.data); // "... nats (is-estimate) on mnist10k/test ..."
//! // Well below the 543.4 nats (784 ln 2) of a coin flip per pixel after 150 steps.
//! assert!(nll.value > 0.0 && nll.value < 400.0);
//!
//! let samples = model.sample(16, 0)?; // f32 [16, 1, 28, 28] in [0, 1]
//! assert_eq!(samples.size(), [16, 1, 28, 28]);
//! genzoo_vae::genzoo_train::image::save_grid(std::env::temp_dir().join("vae.png"), &samples, 4)?;
//! # Ok(())
//! # }
//! ```
pub mod ae;
pub mod cvae;
pub mod decoder;
pub mod eval;
pub mod grad;
pub mod impute;
pub mod iwae;
pub mod latent;
pub mod nets;
pub use genzoo_core::obs;
pub mod quantizer;
pub mod vae;
pub mod viz;
pub mod vq_vae;
pub mod vq_vae2;

#[cfg(test)]
mod tests;

pub use genzoo_core;
pub use genzoo_data;
pub use genzoo_train;

use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::Family;
use genzoo_core::model::{build_network as build_net, GenerativeModel, ModelSpec};
use genzoo_core::Result;

/// Builds model `name` of this family (see [`registry`]) from `preset` (default: the model's
/// first, the one to start with) for data like `data` (its kind, shape and class count).
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

/// Images or vectors (not sequences or code grids, which these models do not take).
fn any(d: &DataKind) -> bool {
    d.is_image() || d.is_vector()
}

fn images(k: &DataKind) -> bool {
    k.is_image()
}

/// A model's presets: its preset function and the preset names.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: "ae-mlp",
            family: Family::Vae,
            about: "deterministic MLP autoencoder (reconstruction error, no likelihood)",
            presets: ae::MLP_PRESETS,
            accepts: any,
            build: |a| {
                build_net(
                    "ae-mlp",
                    a,
                    (ae::Config::mlp_preset, ae::MLP_PRESETS),
                    |c| c.data = a.data,
                    ae::Autoencoder::new,
                )
            },
        },
        ModelSpec {
            name: "ae-conv",
            family: Family::Vae,
            about: "deterministic convolutional autoencoder",
            presets: ae::CONV_PRESETS,
            accepts: images,
            build: |a| {
                build_net(
                    "ae-conv",
                    a,
                    (ae::Config::conv_preset, ae::CONV_PRESETS),
                    |c| c.data = a.data,
                    ae::Autoencoder::new,
                )
            },
        },
        ModelSpec {
            name: "vae-mlp",
            family: Family::Vae,
            about: "VAE, MLP 784-400-20 (Kingma & Welling 2014; pytorch/examples)",
            presets: vae::MLP_PRESETS,
            accepts: any,
            build: |a| {
                build_net(
                    "vae-mlp",
                    a,
                    (vae::Config::mlp_preset, vae::MLP_PRESETS),
                    |c| c.data = a.data,
                    |p, c| vae::Vae::named(p, c, "vae-mlp"),
                )
            },
        },
        ModelSpec {
            name: "vae-conv",
            family: Family::Vae,
            about: "VAE with a convolutional encoder/decoder",
            presets: vae::CONV_PRESETS,
            accepts: images,
            build: |a| {
                build_net(
                    "vae-conv",
                    a,
                    (vae::Config::conv_preset, vae::CONV_PRESETS),
                    |c| c.data = a.data,
                    |p, c| vae::Vae::named(p, c, "vae-conv"),
                )
            },
        },
        ModelSpec {
            name: "beta-vae",
            family: Family::Vae,
            about: "beta-VAE, KL warm-up and free bits (Higgins et al. 2017)",
            presets: vae::BETA_PRESETS,
            accepts: images,
            build: |a| {
                build_net(
                    "beta-vae",
                    a,
                    (vae::Config::beta_preset, vae::BETA_PRESETS),
                    |c| c.data = a.data,
                    |p, c| vae::Vae::named(p, c, "beta-vae"),
                )
            },
        },
        ModelSpec {
            name: "iwae",
            family: Family::Vae,
            about: "importance-weighted autoencoder trained on L_k (Burda et al. 2016)",
            presets: iwae::PRESETS,
            accepts: any,
            build: |a| {
                build_net(
                    "iwae",
                    a,
                    (iwae::Config::preset, iwae::PRESETS),
                    |c| c.data = a.data,
                    iwae::Iwae::new,
                )
            },
        },
        ModelSpec {
            name: "cvae",
            family: Family::Vae,
            about: "conditional VAE on class labels (Sohn et al. 2015)",
            presets: cvae::PRESETS,
            accepts: any,
            build: |a| {
                build_net(
                    "cvae",
                    a,
                    (cvae::Config::preset, cvae::PRESETS),
                    |c| {
                        c.data = a.data;
                        if let Some(k) = a.num_classes {
                            c.num_classes = k;
                        }
                    },
                    cvae::Cvae::new,
                )
            },
        },
        ModelSpec {
            name: "vq-vae",
            family: Family::Vae,
            about: "VQ-VAE with EMA codebook (van den Oord et al. 2017)",
            presets: vq_vae::PRESETS,
            accepts: images,
            build: |a| {
                build_net(
                    "vq-vae",
                    a,
                    (vq_vae::Config::preset, vq_vae::PRESETS),
                    |c| c.data = a.data,
                    vq_vae::VqVae::new,
                )
            },
        },
        ModelSpec {
            name: "vq-vae2",
            family: Family::Vae,
            about: "two-level VQ-VAE-2 adapted to 28x28 (Razavi et al. 2019)",
            presets: vq_vae2::PRESETS,
            accepts: images,
            build: |a| {
                build_net(
                    "vq-vae2",
                    a,
                    (vq_vae2::preset, vq_vae2::PRESETS),
                    |c| c.data = a.data,
                    vq_vae2::VqVae2::new,
                )
            },
        },
    ]
}
