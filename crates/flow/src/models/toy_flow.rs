//! Small coupling flows for the 2-D toy densities (RealNVP, Dinh et al. 2017, fig. 1 style):
//! alternating affine couplings (`s = exp(g) tanh(h)`) with MLP nets on `[b, 2]` vectors, optional
//! ActNorm between them, a standard Gaussian prior. Exact NLL in nats; with a known true density,
//! the KL to it on a grid (see `genzoo_train::heatmap`). Registry names `toy-flow` and `realnvp-2d`.
use tch::nn;

use crate::bijector::Sequential;
use crate::density::{BodyInput, FlowCore};
use crate::layers::{ActNorm, Coupling, CouplingKind, MaskKind, NetConfig, NetKind, Preprocess};
use crate::model::{build_flow, Flow, FlowConfig};
use crate::prior::{Prior, PriorKind};
use genzoo_core::data::DataKind;
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::{CoreError, Result};

/// The toy flow's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub couplings: i64,
    pub hidden: i64,
    pub depth: i64,
    pub actnorm: bool,
    pub prior: PriorKind,
    pub temperature: f64,
    pub conditional: bool,
}

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["paper", "tiny"];

impl Config {
    pub fn preset(name: &str) -> Option<Config> {
        let paper = Config {
            couplings: 8,
            hidden: 64,
            depth: 2,
            actnorm: true,
            prior: PriorKind::StandardGaussian,
            temperature: 1.0,
            conditional: false,
        };
        match name {
            "paper" => Some(paper),
            "tiny" => Some(Config {
                couplings: 4,
                hidden: 32,
                ..paper
            }),
            _ => None,
        }
    }
}

/// The ToyFlow model: a [`Flow`] of its [`Config`].
pub type ToyFlow = Flow<Config>;

impl FlowConfig for Config {
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        let cfg = self;
        let DataKind::Vector { dim } = data else {
            return Err(CoreError::config(
                "toy-flow.data",
                format!("toy-flow models vectors, got {data:?}"),
            ));
        };
        if cfg.couplings < 1 {
            return Err(CoreError::config("toy-flow.couplings", "must be >= 1"));
        }
        let k = super::classes("toy-flow", cfg.conditional, num_classes)?;
        let net = NetConfig {
            kind: NetKind::Mlp,
            hidden: cfg.hidden,
            depth: cfg.depth,
        };
        let mut body = Sequential::new();
        for i in 0..cfg.couplings {
            if cfg.actnorm {
                body.push(ActNorm::new(&(p / format!("actnorm{i}")), dim));
            }
            body.push(Coupling::new(
                &(p / format!("coupling{i}")),
                &[dim],
                MaskKind::Alternate,
                i % 2,
                CouplingKind::AffineTanh,
                &net,
                k.unwrap_or(0),
            )?);
        }
        Ok(FlowCore {
            model: "toy-flow".into(),
            data,
            pre: Preprocess::None.bijector(),
            body: Box::new(body),
            body_input: BodyInput::Flat,
            prior: Prior::new(&(p / "prior"), cfg.prior, dim)?,
            vdq: None,
            num_classes: k,
            temperature: cfg.temperature,
            device: p.device(),
            init_flag: if cfg.actnorm {
                Some(p.f_zeros_no_train("data_init_done", &[1])?)
            } else {
                None
            },
        })
    }
}

/// Catalogue builder (`toy-flow`, `realnvp-2d`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("toy-flow", args, Config::preset, PRESETS, |_| {})
}
