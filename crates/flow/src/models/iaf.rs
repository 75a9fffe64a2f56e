//! IAF (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved Variational
//! Inference with Inverse Autoregressive Flow", eqs. 10-11) as a density model on vector data:
//! the same MADE stack as MAF ([`super::maf::autoregressive_core`]) but with MADE reading the
//! latent, so sampling takes one pass per layer and density evaluation (training) D passes.
//! Exact NLL in nats. The configuration is MAF's ([`super::maf::Config`]) with IAF's presets.
use tch::{nn, Device};

use crate::density::FlowCore;
use crate::models::maf::autoregressive_core;
use genzoo_core::data::DataKind;
use genzoo_core::engine::{config_from, BuildArgs, GenerativeModel};
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
    pub fn new(
        cfg: &Config,
        data: DataKind,
        num_classes: Option<i64>,
        device: Device,
    ) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let core = autoregressive_core(&vs.root(), cfg, data, num_classes, true)?;
        Ok(Iaf {
            vs,
            core,
            cfg: cfg.clone(),
        })
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

crate::impl_flow_model!(Iaf);
