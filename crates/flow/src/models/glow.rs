//! Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions"):
//! L levels of (squeeze, K steps of flow, split), a step being ActNorm (sec. 3.1, data-dependent
//! init), an invertible 1x1 convolution (sec. 3.2, plain or LU-decomposed, eq. 10) and an affine
//! coupling on channel halves with scale `sigmoid(h + 2)` (sec. 3.3; additive with
//! `additive = true`). Split levels use a learned Gaussian prior conditioned on the kept half; the
//! top prior is a learned diagonal Gaussian. The `mnist` and `tiny` presets soft-clamp the
//! coupling log-scale (`scale_clamp`, Behrmann et al. 2021's remedy for exploding inverses).
//! Input `y - 1/2`. Exact bits/dim with uniform dequantization, a bound with variational.
//! Sampling at temperature T (sec. 5).
use tch::nn;

use crate::bijector::Sequential;
use crate::density::{BodyInput, FlowCore};
use crate::dequant::DequantKind;
use crate::layers::{
    ActNorm, Conv1x1, Coupling, CouplingKind, MaskKind, NetConfig, NetKind, Preprocess, Squeeze,
};
use crate::model::{build_flow, Flow, FlowConfig};
use crate::multiscale::{Level, MultiScale};
use crate::prior::{Prior, PriorKind};
use genzoo_core::data::DataKind;
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::{CoreError, Result};

/// Glow's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Levels L (3 on CIFAR-10).
    pub levels: i64,
    /// Steps of flow per level K (32).
    pub steps: i64,
    /// Channels of the coupling nets (512).
    pub hidden: i64,
    /// LU-decomposed 1x1 convolutions.
    pub lu: bool,
    /// Additive instead of affine couplings.
    pub additive: bool,
    pub prior: PriorKind,
    pub dequant: DequantKind,
    pub temperature: f64,
    pub conditional: bool,
    /// Soft clamp `alpha` of each coupling's log-scale, `s <- alpha tanh(s / alpha)`
    /// ([`Coupling::with_scale_clamp`]): bounds how much one coupling's inverse can expand, so
    /// that the samples of an under-trained model stay finite. `None` (the paper, and runs made
    /// before this key existed): the unbounded `log sigmoid(h + 2)`.
    #[serde(default)]
    pub scale_clamp: Option<f64>,
}

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    pub fn preset(name: &str) -> Option<Config> {
        let paper = Config {
            levels: 3,
            steps: 32,
            hidden: 512,
            lu: true,
            additive: false,
            prior: PriorKind::LearnedGaussian,
            dequant: DequantKind::Uniform,
            temperature: 0.7,
            conditional: false,
            scale_clamp: None,
        };
        match name {
            "paper" => Some(paper),
            "mnist" => Some(Config {
                levels: 2,
                steps: 8,
                hidden: 128,
                scale_clamp: Some(3.0),
                ..paper
            }),
            "tiny" => Some(Config {
                levels: 2,
                steps: 2,
                hidden: 16,
                scale_clamp: Some(3.0),
                ..paper
            }),
            _ => None,
        }
    }
}

/// The Glow model: a [`Flow`] of its [`Config`].
pub type Glow = Flow<Config>;

impl FlowConfig for Config {
    /// Builds the flow under `p`.
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        let cfg = self;
        let [c0, h0, w0] = super::image_shape("glow", &data)?;
        if cfg.levels < 1 || cfg.steps < 1 {
            return Err(CoreError::config(
                "glow.levels",
                "levels and steps must be >= 1",
            ));
        }
        let k = super::classes("glow", cfg.conditional, num_classes)?;
        let net = NetConfig {
            kind: NetKind::Glow,
            hidden: cfg.hidden,
            depth: 1,
        };
        let kind = if cfg.additive {
            CouplingKind::Additive
        } else {
            CouplingKind::AffineSigmoid
        };
        let (mut c, mut h, mut w) = (c0, h0, w0);
        let mut levels = Vec::new();
        for l in 0..cfg.levels {
            if h % 2 != 0 || w % 2 != 0 {
                return Err(CoreError::config(
                    "glow.levels",
                    format!(
                        "level {l} sees {h}x{w} images, which cannot be squeezed: use fewer levels"
                    ),
                ));
            }
            let q = p / format!("level{l}");
            let mut steps = Sequential::new();
            steps.push(Squeeze);
            (c, h, w) = (4 * c, h / 2, w / 2);
            for s in 0..cfg.steps {
                let sp = &q / format!("step{s}");
                steps.push(ActNorm::new(&(&sp / "actnorm"), c));
                steps.push(Conv1x1::new(&(&sp / "invconv"), c, cfg.lu));
                steps.push(
                    Coupling::new(
                        &(&sp / "coupling"),
                        &[c, h, w],
                        MaskKind::Channel,
                        0,
                        kind,
                        &net,
                        k.unwrap_or(0),
                    )?
                    .with_scale_clamp(cfg.scale_clamp)?,
                );
            }
            let last = l == cfg.levels - 1;
            levels.push(Level {
                steps,
                shape: vec![c, h, w],
                split: !last,
            });
            if !last {
                c /= 2;
            }
        }
        let body = MultiScale::new(&(p / "split"), &[c0, h0, w0], levels, true)?;
        let vdq = cfg.dequant.build(&(p / "dequant"), &[c0, h0, w0])?;
        Ok(FlowCore {
            model: "glow".into(),
            data,
            pre: Preprocess::Center.bijector(),
            prior: Prior::new(&(p / "prior"), cfg.prior, body.dim())?,
            body: Box::new(body),
            body_input: BodyInput::Image,
            vdq,
            num_classes: k,
            temperature: cfg.temperature,
            device: p.device(),
            init_flag: Some(p.f_zeros_no_train("data_init_done", &[1])?),
        })
    }
}

/// Catalogue builder (`glow`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("glow", args, Config::preset, PRESETS, |_| {})
}
