//! genzoo-flow: normalizing flows with exact likelihoods by the change of variables.
//!
//! NICE (Dinh et al. 2015), RealNVP (Dinh et al. 2017), Glow (Kingma & Dhariwal 2018), MAF
//! (Papamakarios et al. 2017), IAF (Kingma et al. 2016), small coupling flows for 2-D toys and
//! class-conditional RealNVP, with uniform and variational (Flow++, Ho et al. 2019)
//! dequantization. Every layer is a [`Bijector`]; [`density::FlowCore`] turns a body into a
//! model (likelihood, sampling with temperature, round trips); [`registry`] lists the models.
pub mod bijector;
pub mod density;
pub mod dequant;
pub mod heatmap;
pub mod layers;
pub mod models;
pub mod multiscale;
pub mod prior;

pub use bijector::{Bijector, Ctx, Sequential};

use genzoo_core::data::DataKind;
use genzoo_core::model::ModelSpec;

fn images(d: &DataKind) -> bool {
    d.is_image()
}
fn vectors(d: &DataKind) -> bool {
    !d.is_image()
}
fn any(_: &DataKind) -> bool {
    true
}

/// The flow family's registry entries.
pub fn registry() -> Vec<ModelSpec> {
    use models::*;
    vec![
        ModelSpec { name: "nice", family: "flow", about: "NICE: additive couplings, diagonal scaling, logistic prior (Dinh et al. 2015)", presets: nice::PRESETS, accepts: any, build: nice::Nice::build },
        ModelSpec { name: "realnvp", family: "flow", about: "RealNVP: multi-scale affine couplings, logit input (Dinh et al. 2017)", presets: real_nvp::PRESETS, accepts: images, build: real_nvp::RealNvp::build },
        ModelSpec { name: "cond-realnvp", family: "flow", about: "class-conditional RealNVP (class one-hot into the coupling nets)", presets: real_nvp::PRESETS, accepts: images, build: real_nvp::RealNvp::build_conditional },
        ModelSpec { name: "glow", family: "flow", about: "Glow: ActNorm, invertible 1x1 conv, affine coupling, L levels of K steps (Kingma & Dhariwal 2018)", presets: glow::PRESETS, accepts: images, build: glow::Glow::build },
        ModelSpec { name: "maf", family: "flow", about: "MAF: masked autoregressive flow on MADE (Papamakarios et al. 2017)", presets: maf::PRESETS, accepts: any, build: maf::Maf::build },
        ModelSpec { name: "iaf", family: "flow", about: "IAF: inverse autoregressive flow as a density model on vectors (Kingma et al. 2016)", presets: iaf::PRESETS, accepts: vectors, build: iaf::Iaf::build },
        ModelSpec { name: "toy-flow", family: "flow", about: "small RealNVP coupling flow for 2-D toy densities", presets: toy_flow::PRESETS, accepts: vectors, build: toy_flow::ToyFlow::build },
        ModelSpec { name: "realnvp-2d", family: "flow", about: "alias of toy-flow", presets: toy_flow::PRESETS, accepts: vectors, build: toy_flow::ToyFlow::build },
    ]
}
