//! genzoo-flow: normalizing flows with exact likelihoods by the change of variables.
//!
//! NICE (Dinh et al. 2015), RealNVP (Dinh et al. 2017), Glow (Kingma & Dhariwal 2018), MAF
//! (Papamakarios et al. 2017), IAF (Kingma et al. 2016), small coupling flows for 2-D toys and
//! class-conditional RealNVP, with uniform and variational (Flow++, Ho et al. 2019)
//! dequantization. Every layer is a [`Bijector`]; [`density::FlowCore`] turns a body into a
//! model (likelihood, sampling with temperature, round trips); [`registry`] lists the models and
//! [`build`] makes one from a preset. The crates it stands on are re-exported ([`genzoo_core`],
//! [`genzoo_data`], [`genzoo_train`]), so a dependency on `genzoo-flow` alone is enough.
//!
//! # Example
//! Train the `tiny` NICE for a few steps on the shipped `mnist10k` and get its test NLL: the
//! exact density of uniformly dequantized pixels plus the `D log 256` term, reported in bits/dim
//! as a `bound` on the discrete NLL:
//! ```
//! use genzoo_flow::genzoo_core::model::{EvalOptions, LikelihoodKind};
//! use genzoo_flow::genzoo_core::units::NllUnit;
//! use genzoo_flow::genzoo_core::tch::Device;
//! use genzoo_flow::genzoo_train::{TrainConfig, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let split = genzoo_flow::genzoo_data::load_mnist10k()?;
//! let mut model = genzoo_flow::build("nice", Some("tiny"), &split.train, Device::Cpu)?;
//! let cfg = TrainConfig { sample_count: 0, progress: false, ..TrainConfig::quick(20, 64, 1e-3) };
//! Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
//!
//! let report = model.evaluate(&split.test.take(100), &EvalOptions::default())?;
//! let nll = report.nll.expect("a flow has a likelihood");
//! assert_eq!((nll.unit, nll.kind), (NllUnit::BitsPerDim, LikelihoodKind::Bound));
//! println!("test NLL {nll}"); // "1.2345 bits/dim (bound)"
//! assert!(nll.value > 0.0);
//!
//! let samples = model.sample(16, 0)?; // f32 [16, 1, 28, 28] in [0, 1]
//! assert_eq!(samples.size(), [16, 1, 28, 28]);
//! # Ok(())
//! # }
//! ```
pub mod bijector;
pub mod density;
pub mod dequant;
pub mod layers;
pub mod model;
pub mod models;
pub mod multiscale;
pub mod prior;

pub use bijector::{Bijector, Ctx, Sequential};
pub use model::{Flow, FlowConfig};

pub use genzoo_core;
pub use genzoo_data;
pub use genzoo_train;

use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::Family;
use genzoo_core::model::{GenerativeModel, ModelSpec};
use genzoo_core::Result;

/// Builds flow `name` (see [`registry`]) from `preset` (default: the model's first) for data like
/// `data` (its kind, shape and class count).
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

fn images(d: &DataKind) -> bool {
    d.is_image()
}
fn vectors(d: &DataKind) -> bool {
    d.is_vector()
}
/// Images or vectors (not sequences or code grids, which these models do not take).
fn any(d: &DataKind) -> bool {
    d.is_image() || d.is_vector()
}

/// The flow family's registry entries.
pub fn registry() -> Vec<ModelSpec> {
    use models::*;
    vec![
        ModelSpec { name: "nice", family: Family::Flow, about: "NICE: additive couplings, diagonal scaling, logistic prior (Dinh et al. 2015)", presets: nice::PRESETS, accepts: any, build: nice::build },
        ModelSpec { name: "realnvp", family: Family::Flow, about: "RealNVP: multi-scale affine couplings, logit input (Dinh et al. 2017)", presets: real_nvp::PRESETS, accepts: images, build: real_nvp::build },
        ModelSpec { name: "cond-realnvp", family: Family::Flow, about: "class-conditional RealNVP (class one-hot into the coupling nets)", presets: real_nvp::PRESETS, accepts: images, build: real_nvp::build_conditional },
        ModelSpec { name: "glow", family: Family::Flow, about: "Glow: ActNorm, invertible 1x1 conv, affine coupling, L levels of K steps (Kingma & Dhariwal 2018)", presets: glow::PRESETS, accepts: images, build: glow::build },
        ModelSpec { name: "maf", family: Family::Flow, about: "MAF: masked autoregressive flow on MADE (Papamakarios et al. 2017)", presets: maf::PRESETS, accepts: any, build: maf::build },
        ModelSpec { name: "iaf", family: Family::Flow, about: "IAF: inverse autoregressive flow as a density model on vectors (Kingma et al. 2016)", presets: iaf::PRESETS, accepts: vectors, build: iaf::build },
        ModelSpec { name: "toy-flow", family: Family::Flow, about: "small RealNVP coupling flow for 2-D toy densities", presets: toy_flow::PRESETS, accepts: vectors, build: toy_flow::build },
        ModelSpec { name: "realnvp-2d", family: Family::Flow, about: "alias of toy-flow", presets: toy_flow::PRESETS, accepts: vectors, build: toy_flow::build },
    ]
}
