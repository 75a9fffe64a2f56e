//! IAF (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved Variational
//! Inference with Inverse Autoregressive Flow", eqs. 10-11) as a density model on vector data:
//! the same MADE stack as MAF ([`super::maf::autoregressive_core`]) but with MADE reading the
//! latent, so sampling takes one pass per layer and density evaluation (training) D passes.
//! Exact NLL in nats. The configuration holds MAF's fields ([`super::maf::Config`]) with IAF's
//! presets.
use tch::nn;

use crate::density::FlowCore;
use crate::model::{build_flow, Flow, FlowConfig};
use crate::models::maf::{self, autoregressive_core};
use genzoo_core::data::DataKind;
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::Result;

/// IAF's configuration: MAF's fields (serialized as they are), built in IAF's direction.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Config(pub maf::Config);

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["toy", "tiny"];

/// IAF's presets (vector data: the density direction costs D passes per layer).
pub fn preset(name: &str) -> Option<Config> {
    let toy = maf::Config {
        batch_norm: false,
        ..maf::Config::preset("toy")?
    };
    match name {
        "toy" => Some(Config(toy)),
        "tiny" => maf::Config::preset("tiny").map(Config),
        _ => None,
    }
}

/// The Iaf model: a [`Flow`] of its [`Config`].
pub type Iaf = Flow<Config>;

impl FlowConfig for Config {
    /// Builds the flow under `p` (see [`super::maf::autoregressive_core`]).
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        autoregressive_core(p, &self.0, data, num_classes, true)
    }
}

/// Catalogue builder (`iaf`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("iaf", args, preset, PRESETS, |_| {})
}
