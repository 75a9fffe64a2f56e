//! MAF (Papamakarios, Pavlakou & Murray 2017, "Masked Autoregressive Flow for Density
//! Estimation"): a stack of MADE-based autoregressive affine layers (eqs. 2-4) with the ordering
//! reversed between layers (or random: order-agnostic) and optional batch normalization between
//! them (sec. 3.4). Density evaluation takes one pass per layer; sampling D passes. On 8-bit images
//! (flattened, as in the paper's MNIST experiments) the input is uniformly dequantized and
//! logit-transformed (alpha = 1e-6); on vectors it is used as is. Exact NLL.
//! The shared builder [`autoregressive_core`] also builds IAF.
use tch::nn;

use crate::bijector::Sequential;
use crate::density::{BodyInput, FlowCore};
use crate::layers::{AutoregressiveAffine, BatchNormFlow, Preprocess};
use crate::model::{build_flow, Flow, FlowConfig};
use crate::prior::{Prior, PriorKind};
use genzoo_core::data::DataKind;
use genzoo_core::layers::{MadeConfig, Ordering};
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::{CoreError, Result};

/// The configuration of MAF (and IAF).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Autoregressive layers (5 in the paper).
    pub layers: i64,
    /// Hidden units per MADE layer (1024 on MNIST).
    pub hidden: i64,
    /// Hidden layers per MADE (1).
    pub depth: i64,
    /// Batch normalization between layers.
    pub batch_norm: bool,
    /// Random orderings (order-agnostic) instead of natural/reversed.
    pub random_order: bool,
    /// Random hidden degrees (connectivity-agnostic).
    pub random_degrees: bool,
    /// Seed of random orderings and degrees.
    pub seed: u64,
    /// The logit's alpha for images.
    pub alpha: f64,
    pub prior: PriorKind,
    pub temperature: f64,
    /// Class one-hot as MADE context.
    pub conditional: bool,
}

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["paper", "toy", "tiny"];

impl Config {
    pub fn preset(name: &str) -> Option<Config> {
        let paper = Config {
            layers: 5,
            hidden: 1024,
            depth: 1,
            batch_norm: true,
            random_order: false,
            random_degrees: false,
            seed: 0,
            alpha: 1e-6,
            prior: PriorKind::StandardGaussian,
            temperature: 1.0,
            conditional: false,
        };
        match name {
            "paper" => Some(paper),
            "toy" => Some(Config {
                layers: 5,
                hidden: 64,
                depth: 2,
                batch_norm: false,
                ..paper
            }),
            "tiny" => Some(Config {
                layers: 2,
                hidden: 32,
                depth: 1,
                batch_norm: false,
                ..paper
            }),
            _ => None,
        }
    }
}

/// Builds an autoregressive flow (MAF when `iaf` is false) under `p`.
///
/// # Errors
/// [`CoreError::Config`] for `layers`, `depth` or `hidden` < 1, a conditional model without
/// labelled data of >= 2 classes, or an invalid MADE configuration.
pub fn autoregressive_core(
    p: &nn::Path,
    cfg: &Config,
    data: DataKind,
    num_classes: Option<i64>,
    iaf: bool,
) -> Result<FlowCore> {
    let name = if iaf { "iaf" } else { "maf" };
    if cfg.layers < 1 || cfg.depth < 1 || cfg.hidden < 1 {
        return Err(CoreError::config(
            format!("{name}.layers"),
            "layers, depth and hidden must be >= 1",
        ));
    }
    let k = super::classes(name, cfg.conditional, num_classes)?;
    let d = data.dims();
    let mut body = Sequential::new();
    for i in 0..cfg.layers {
        let ordering = if cfg.random_order {
            Ordering::Random(genzoo_core::seed::derive(cfg.seed, "maf-order", i as u64))
        } else if i % 2 == 0 {
            Ordering::Natural
        } else {
            Ordering::Reversed
        };
        let made = MadeConfig {
            input_dim: d,
            hidden: vec![cfg.hidden; cfg.depth as usize],
            out_per_dim: 2,
            ordering,
            random_degrees: cfg
                .random_degrees
                .then(|| genzoo_core::seed::derive(cfg.seed, "maf-degrees", i as u64)),
            context_dim: k.unwrap_or(0),
        };
        body.push(AutoregressiveAffine::new(
            &(p / format!("layer{i}")),
            &made,
            iaf,
        )?);
        if cfg.batch_norm && i + 1 < cfg.layers {
            body.push(BatchNormFlow::new(&(p / format!("bn{i}")), d));
        }
    }
    let pre = if data.is_image() {
        Preprocess::Logit { alpha: cfg.alpha }
    } else {
        Preprocess::None
    };
    Ok(FlowCore {
        model: name.into(),
        data,
        pre: pre.bijector(),
        body: Box::new(body),
        body_input: BodyInput::Flat,
        prior: Prior::new(&(p / "prior"), cfg.prior, d)?,
        vdq: None,
        num_classes: k,
        temperature: cfg.temperature,
        device: p.device(),
        init_flag: None,
    })
}

/// The Maf model: a [`Flow`] of its [`Config`].
pub type Maf = Flow<Config>;

impl FlowConfig for Config {
    /// Builds the flow under `p` (see [`autoregressive_core`]).
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        let cfg = self;
        autoregressive_core(p, cfg, data, num_classes, false)
    }
}

/// Catalogue builder (`maf`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("maf", args, Config::preset, PRESETS, |_| {})
}
