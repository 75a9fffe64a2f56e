//! IAF (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved Variational
//! Inference with Inverse Autoregressive Flow", eqs. 10-11) as a density model on vector data:
//! the same MADE stack as MAF ([`super::maf::autoregressive_core`]) but with MADE reading the
//! latent, so sampling takes one pass per layer and density evaluation (training) D passes.
//! Exact NLL in nats. The configuration is MAF's ([`super::maf::Config`]) with IAF's presets.
use tch::nn;

use crate::density::FlowCore;
use crate::models::maf::autoregressive_core;
use genzoo_core::data::DataKind;
use genzoo_core::model::{config_from, BuildArgs, GenerativeModel};
use genzoo_core::Result;

pub use crate::models::maf::Config;

pub const PRESETS: &[&str] = &["tiny", "toy"];

/// IAF's presets (vector data: the density direction costs D passes per layer).
pub fn preset(name: &str) -> Option<Config> {
    let toy = Config {
        batch_norm: false,
        ..Config::preset("toy")?
    };
    match name {
        "toy" => Some(toy),
        "tiny" => Config::preset("tiny"),
        _ => None,
    }
}

/// The IAF model.
pub struct Iaf {
    pub vs: nn::VarStore,
    pub core: FlowCore,
    pub cfg: Config,
}

impl Iaf {
    /// Builds the flow under `p` (see [`super::maf::autoregressive_core`]).
    pub fn core(
        p: &nn::Path,
        cfg: &Config,
        data: DataKind,
        num_classes: Option<i64>,
    ) -> Result<FlowCore> {
        autoregressive_core(p, cfg, data, num_classes, true)
    }

    /// Registry builder.
    pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
        let cfg: Config = config_from("iaf", args.preset, args.overrides, preset, PRESETS)?;
        Ok(Box::new(Iaf::new(
            &cfg,
            args.data,
            args.num_classes,
            args.device,
        )?))
    }
}

crate::impl_flow_new!(Iaf);
crate::impl_flow_model!(Iaf);
