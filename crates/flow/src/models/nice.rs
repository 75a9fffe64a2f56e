//! NICE (Dinh, Krueger & Bengio 2015, "NICE: Non-linear Independent Components Estimation"):
//! additive couplings (eq. 5) with alternating partitions of the flattened input, MLP coupling
//! nets, the diagonal scaling layer (sec. 3.3) and a logistic prior (sec. 3.4). On 8-bit images
//! the input is uniformly dequantized to \[0,1\]^D (sec. 5.1); NLL in bits/dim with the D log 256
//! term. Also runs on vector data (nats).
use tch::nn;

use crate::bijector::Sequential;
use crate::density::{BodyInput, FlowCore};
use crate::dequant::{DequantKind, VariationalDequantizer};
use crate::layers::{Coupling, CouplingKind, DiagScale, MaskKind, NetConfig, NetKind, Preprocess};
use crate::model::{build_flow, Flow, FlowConfig};
use crate::prior::{Prior, PriorKind};
use genzoo_core::data::DataKind;
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::{CoreError, Result};

/// NICE's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Additive coupling layers (4 in the paper).
    pub couplings: i64,
    /// Hidden units per coupling-net layer (1000).
    pub hidden: i64,
    /// Hidden layers per coupling net (5).
    pub depth: i64,
    pub prior: PriorKind,
    pub dequant: DequantKind,
    /// Sampling temperature.
    pub temperature: f64,
    /// Class-conditional coupling nets.
    pub conditional: bool,
}

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    pub fn preset(name: &str) -> Option<Config> {
        let base = Config {
            couplings: 4,
            hidden: 1000,
            depth: 5,
            prior: PriorKind::Logistic,
            dequant: DequantKind::Uniform,
            temperature: 1.0,
            conditional: false,
        };
        match name {
            "paper" => Some(base),
            // The `compare` table's preset: the paper's four couplings with 4 x 500 nets, which
            // train in minutes on 2 CPU cores.
            "mnist" => Some(Config {
                hidden: 500,
                depth: 4,
                ..base
            }),
            "tiny" => Some(Config {
                hidden: 64,
                depth: 2,
                ..base
            }),
            _ => None,
        }
    }
}

/// The Nice model: a [`Flow`] of its [`Config`].
pub type Nice = Flow<Config>;

impl FlowConfig for Config {
    /// Builds the flow under `p`.
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        let cfg = self;
        if cfg.couplings < 1 {
            return Err(CoreError::config(
                "nice.couplings",
                format!("{} < 1", cfg.couplings),
            ));
        }
        let k = super::classes("nice", cfg.conditional, num_classes)?;
        let d = data.dims();
        let net = NetConfig {
            kind: NetKind::Mlp,
            hidden: cfg.hidden,
            depth: cfg.depth,
        };
        let mut body = Sequential::new();
        for i in 0..cfg.couplings {
            body.push(Coupling::new(
                &(p / format!("coupling{i}")),
                &[d],
                MaskKind::Alternate,
                i % 2,
                CouplingKind::Additive,
                &net,
                k.unwrap_or(0),
            )?);
        }
        body.push(DiagScale::new(&(p / "scale"), &[d]));
        let vdq = match (cfg.dequant, data) {
            (
                DequantKind::Variational,
                DataKind::Image {
                    channels,
                    height,
                    width,
                },
            ) => Some(VariationalDequantizer::new(
                &(p / "dequant"),
                &[channels, height, width],
                4,
                32,
            )?),
            _ => None,
        };
        Ok(FlowCore {
            model: "nice".into(),
            data,
            pre: Preprocess::None.bijector(),
            body: Box::new(body),
            body_input: BodyInput::Flat,
            prior: Prior::new(&(p / "prior"), cfg.prior, d)?,
            vdq,
            num_classes: k,
            temperature: cfg.temperature,
            device: p.device(),
            init_flag: None,
        })
    }
}

/// Catalogue builder (`nice`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("nice", args, Config::preset, PRESETS, |_| {})
}
