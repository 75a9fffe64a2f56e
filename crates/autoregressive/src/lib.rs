//! genzoo-autoregressive: models with an exact likelihood by the chain rule,
//! `p(x) = prod_i p(x_i | x_<i)`.
//!
//! * [`nade`]: NADE with tied weights (Larochelle & Murray 2011).
//! * [`made`]: MADE with order- and connectivity-agnostic training and the test-time ensemble
//!   (Germain et al. 2015), on `genzoo_core::layers::made`.
//! * [`pixel_cnn`]: PixelCNN with type A/B masks and channel masks for RGB (van den Oord et al.
//!   2016).
//! * [`gated_pixel_cnn`]: Gated PixelCNN, vertical and horizontal stacks without the blind spot,
//!   optionally class-conditional (van den Oord et al. 2016).
//! * [`pixel_cnn_pp`]: PixelCNN++, down-(right-)shifted convolutions in two streams, gated
//!   resnet blocks in a U-net with short-cuts, and the discretized logistic mixture over whole
//!   pixels (Salimans et al. 2017).
//! * [`pixel_rnn`]: PixelRNN, Row LSTM and Diagonal BiLSTM layers (van den Oord et al. 2016).
//! * [`vlae`]: the VLAE / PixelVAE, a VAE with a small Gated PixelCNN decoder and free bits
//!   (Chen et al. 2017; Gulrajani et al. 2017).
//! * [`vq_prior`]: a Gated PixelCNN prior over VQ-VAE codes, and VQ-VAE + prior as one two-stage
//!   model (van den Oord et al. 2017).
//! * [`vq_vae2_prior`]: VQ-VAE-2 with a top prior and a bottom prior given the top (Razavi et al.
//!   2019), trained in two stages.
//! * [`wavenet`]: WaveNet, dilated causal convolutions over mu-law audio (van den Oord et al. 2016).
//!
//! Shared parts: [`masked_conv`] (causal convolutions), [`layers`] (gated units, output heads,
//! sampling caches), [`sampling`] (seeded per-position draws, temperature) and [`model`] (the
//! [`model::Autoregressive`] trait every image model implements, and [`model::Ar`], which makes
//! it a `genzoo_core::model::Network`).
//!
//! Every model has an exact likelihood: nats per digit on statically binarized images (the same
//! binarization as the VAE family's, so the rows compare), bits/dim on 8-bit images, bits per
//! sample on mu-law audio. Sampling goes one position at a time; PixelCNN, Gated PixelCNN, NADE
//! and WaveNet also have cached samplers that draw the same samples faster.
//!
//! # Example
//! Train the `tiny` Gated PixelCNN on the shipped `mnist10k` for a few steps, evaluate its exact
//! test NLL and sample from it:
//! ```
//! use genzoo_autoregressive::genzoo_core::model::{EvalOptions, LikelihoodKind};
//! use genzoo_autoregressive::genzoo_core::tch::Device;
//! use genzoo_autoregressive::genzoo_train::{TrainConfig, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let split = genzoo_autoregressive::genzoo_data::load_mnist10k()?;
//! genzoo_autoregressive::genzoo_core::seed::seed_torch_stream(0, "init", 0);
//! let mut model =
//!     genzoo_autoregressive::build("gated-pixelcnn", Some("tiny"), &split.train, Device::Cpu)?;
//! let cfg = TrainConfig { sample_count: 0, progress: false, ..TrainConfig::quick(100, 32, 1e-2) };
//! Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
//!
//! // The exact -log p(x) in nats per digit on the first 200 test digits (static binarization).
//! let report = model.evaluate(&split.test.take(200), &EvalOptions::default())?;
//! let nll = report.nll.expect("exact likelihood");
//! assert_eq!(nll.kind, LikelihoodKind::Exact);
//! println!("test NLL {nll} on {}", report.data);
//! // Below the 543.4 nats (784 ln 2) of a coin flip per pixel.
//! assert!(nll.value > 0.0 && nll.value < 400.0);
//!
//! let samples = model.sample(4, 0)?; // f32 [4, 1, 28, 28], 0 or 1
//! assert_eq!(samples.size(), [4, 1, 28, 28]);
//! # Ok(())
//! # }
//! ```
pub mod gated_pixel_cnn;
pub mod layers;
pub mod made;
pub mod masked_conv;
pub mod model;
pub mod nade;
pub mod pixel_cnn;
pub mod pixel_cnn_pp;
pub mod pixel_rnn;
pub mod sampling;
pub mod vlae;
pub mod vq_prior;
pub mod vq_vae2_prior;
pub mod wavenet;

#[cfg(test)]
mod tests;

pub use genzoo_core;
pub use genzoo_data;
pub use genzoo_train;
pub use genzoo_vae;

use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::Family;
use genzoo_core::model::{build_network, BuildArgs, GenerativeModel, ModelSpec, Presets};
use genzoo_core::Result;

use model::{Ar, Autoregressive};

/// Builds `name` of this family from a preset for `data`.
///
/// # Errors
/// An unknown model or preset, or a model that does not take `data`'s kind.
pub fn build(
    name: &str,
    preset: Option<&str>,
    data: &Dataset,
    device: tch::Device,
) -> Result<Box<dyn GenerativeModel>> {
    genzoo_core::model::build_for(&registry(), name, preset, data, device)
}

fn images(k: &DataKind) -> bool {
    k.is_image()
}

fn mu_law(k: &DataKind) -> bool {
    matches!(
        k,
        DataKind::Sequence {
            channels: 1,
            encoding: genzoo_core::data::SequenceEncoding::MuLaw8,
            ..
        }
    )
}

fn grey(k: &DataKind) -> bool {
    matches!(k, DataKind::Image { channels: 1, .. })
}

fn grey_or_rgb(k: &DataKind) -> bool {
    matches!(
        k,
        DataKind::Image {
            channels: 1 | 3,
            ..
        }
    )
}

/// The catalogue entry's builder for an image model: the preset, the data kind from the dataset,
/// then the network wrapped in [`Ar`].
fn build_ar<C, N>(
    name: &str,
    args: &BuildArgs,
    presets: Presets<'_, C>,
    adjust: impl FnOnce(&mut C),
    new: fn(&tch::nn::Path, &C) -> Result<N>,
) -> Result<Box<dyn GenerativeModel>>
where
    C: serde::Serialize + serde::de::DeserializeOwned,
    N: Autoregressive + 'static,
{
    build_network(name, args, presets, adjust, |p, c| Ok(Ar::new(new(p, c)?)))
}

/// Every model of the family, as the CLI builds them.
pub fn registry() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: "nade",
            family: Family::Autoregressive,
            about: "NADE, tied weights, binarized images (Larochelle & Murray 2011)",
            presets: nade::PRESETS,
            accepts: grey,
            build: |a| {
                build_ar(
                    "nade",
                    a,
                    (nade::Config::preset, nade::PRESETS),
                    |c| c.data = a.data,
                    nade::Nade::new,
                )
            },
        },
        ModelSpec {
            name: "made",
            family: Family::Autoregressive,
            about: "MADE, order-agnostic, mask ensemble, binarized images (Germain et al. 2015)",
            presets: made::PRESETS,
            accepts: grey,
            build: |a| {
                build_ar(
                    "made",
                    a,
                    (made::Config::preset, made::PRESETS),
                    |c| c.data = a.data,
                    made::Made::new,
                )
            },
        },
        ModelSpec {
            name: "pixelcnn",
            family: Family::Autoregressive,
            about: "PixelCNN, masked convolutions A/B, residual blocks (van den Oord et al. 2016)",
            presets: pixel_cnn::PRESETS,
            accepts: images,
            build: |a| {
                build_ar(
                    "pixelcnn",
                    a,
                    (pixel_cnn::Config::preset, pixel_cnn::PRESETS),
                    |c| c.data = a.data,
                    pixel_cnn::PixelCnn::new,
                )
            },
        },
        ModelSpec {
            name: "gated-pixelcnn",
            family: Family::Autoregressive,
            about: "Gated PixelCNN, no blind spot, optional class conditioning (van den Oord et al. 2016)",
            presets: gated_pixel_cnn::PRESETS,
            accepts: images,
            build: |a| {
                build_ar(
                    "gated-pixelcnn",
                    a,
                    (gated_pixel_cnn::Config::preset, gated_pixel_cnn::PRESETS),
                    |c| {
                        c.data = a.data;
                        c.num_classes = if c.conditional {
                            a.num_classes.unwrap_or(0)
                        } else {
                            0
                        };
                    },
                    gated_pixel_cnn::GatedPixelCnn::new,
                )
            },
        },
        ModelSpec {
            name: "pixelcnn++",
            family: Family::Autoregressive,
            about: "PixelCNN++, shifted convolutions, U-net, logistic mixture (Salimans et al. 2017)",
            presets: pixel_cnn_pp::PRESETS,
            accepts: grey_or_rgb,
            build: |a| {
                build_ar(
                    "pixelcnn++",
                    a,
                    (pixel_cnn_pp::Config::preset, pixel_cnn_pp::PRESETS),
                    |c| c.data = a.data,
                    pixel_cnn_pp::PixelCnnPp::new,
                )
            },
        },
        ModelSpec {
            name: "pixelrnn-row",
            family: Family::Autoregressive,
            about: "PixelRNN with Row LSTM layers (van den Oord et al. 2016, sec. 3.1)",
            presets: pixel_rnn::PRESETS,
            accepts: grey_or_rgb,
            build: |a| {
                build_ar(
                    "pixelrnn-row",
                    a,
                    (pixel_rnn::Config::row_preset, pixel_rnn::PRESETS),
                    |c| {
                        c.data = a.data;
                        c.fit_colour_groups();
                    },
                    pixel_rnn::PixelRnn::new,
                )
            },
        },
        ModelSpec {
            name: "pixelrnn-diag",
            family: Family::Autoregressive,
            about: "PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016, sec. 3.2)",
            presets: pixel_rnn::PRESETS,
            accepts: grey_or_rgb,
            build: |a| {
                build_ar(
                    "pixelrnn-diag",
                    a,
                    (pixel_rnn::Config::diagonal_preset, pixel_rnn::PRESETS),
                    |c| {
                        c.data = a.data;
                        c.fit_colour_groups();
                    },
                    pixel_rnn::PixelRnn::new,
                )
            },
        },
        ModelSpec {
            name: "vlae",
            family: Family::Autoregressive,
            about: "VLAE / PixelVAE: VAE with a Gated PixelCNN decoder, free bits (Chen et al. 2017)",
            presets: vlae::PRESETS,
            accepts: grey,
            build: |a| {
                build_network(
                    "vlae",
                    a,
                    (vlae::Config::preset, vlae::PRESETS),
                    |c| c.vae.data = a.data,
                    vlae::Vlae::new,
                )
            },
        },
        ModelSpec {
            name: "vq-vae-pixelcnn",
            family: Family::Autoregressive,
            about: "VQ-VAE, then a Gated PixelCNN prior over its codes (two stages, one run)",
            presets: vq_prior::PRESETS,
            accepts: grey,
            build: |a| {
                build_network(
                    "vq-vae-pixelcnn",
                    a,
                    (vq_prior::Config::preset, vq_prior::PRESETS),
                    |c| c.vq.data = a.data,
                    vq_prior::VqVaePixelCnn::new,
                )
            },
        },
        ModelSpec {
            name: "vq-vae2-pixelcnn",
            family: Family::Autoregressive,
            about: "VQ-VAE-2, then Gated PixelCNN priors p(top) p(bottom | top) (two stages, one run)",
            presets: vq_vae2_prior::PRESETS,
            accepts: grey,
            build: |a| {
                build_network(
                    "vq-vae2-pixelcnn",
                    a,
                    (vq_vae2_prior::Config::preset, vq_vae2_prior::PRESETS),
                    |c| c.vq.data = a.data,
                    vq_vae2_prior::VqVae2PixelCnn::new,
                )
            },
        },
        ModelSpec {
            name: "wavenet",
            family: Family::Autoregressive,
            about: "WaveNet, dilated causal convolutions, mu-law audio, Fast WaveNet queues",
            presets: wavenet::PRESETS,
            accepts: mu_law,
            build: |a| {
                build_network(
                    "wavenet",
                    a,
                    (wavenet::Config::preset, wavenet::PRESETS),
                    |c| {
                        c.data = a.data;
                        c.num_classes = if c.conditional {
                            a.num_classes.unwrap_or(0)
                        } else {
                            0
                        };
                    },
                    wavenet::WaveNet::new,
                )
            },
        },
    ]
}
