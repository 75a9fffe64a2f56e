//! RealNVP (Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP") for 8-bit
//! images: logit pre-processing (sec. 4.1), a multi-scale architecture (sec. 3.6) whose levels are
//! 3 checkerboard affine couplings, a squeeze, 3 channel-wise affine couplings and a factor-out of
//! half the channels, ending with 4 checkerboard couplings; ResNet coupling nets; the scale is
//! `exp(g) tanh(h)` (bounded); optional batch normalization as a flow layer (sec. 3.7) after each
//! coupling. With `conditional = true` the coupling nets also see the class one-hot
//! (registry name `cond-realnvp`). Exact NLL in bits/dim with uniform dequantization, a bound with
//! variational dequantization.
use tch::nn;

use crate::bijector::Sequential;
use crate::density::{BodyInput, FlowCore};
use crate::dequant::DequantKind;
use crate::layers::{
    BatchNormFlow, Coupling, CouplingKind, MaskKind, NetConfig, NetKind, Preprocess, Squeeze,
};
use crate::model::{build_flow, Flow, FlowConfig};
use crate::multiscale::{Level, MultiScale};
use crate::prior::{Prior, PriorKind};
use genzoo_core::data::DataKind;
use genzoo_core::model::{BuildArgs, GenerativeModel};
use genzoo_core::{CoreError, Result};

/// RealNVP's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Levels of the multi-scale architecture (each but the last squeezes and factors out).
    pub scales: i64,
    /// Couplings per mask type in a level (3 in the paper).
    pub couplings: i64,
    /// Checkerboard couplings of the last level (4).
    pub final_couplings: i64,
    /// Channels of the ResNet coupling nets (64 on CIFAR-10).
    pub hidden: i64,
    /// Residual blocks per coupling net (8 on CIFAR-10).
    pub blocks: i64,
    /// Batch normalization after each coupling.
    pub batch_norm: bool,
    /// The logit's alpha (0.05).
    pub alpha: f64,
    pub prior: PriorKind,
    pub dequant: DequantKind,
    pub temperature: f64,
    /// Class-conditional coupling nets.
    pub conditional: bool,
}

/// Preset names; the first, the one a user starts with, is the default.
pub const PRESETS: &[&str] = &["mnist", "paper", "quick", "tiny"];

impl Config {
    pub fn preset(name: &str) -> Option<Config> {
        let paper = Config {
            scales: 3,
            couplings: 3,
            final_couplings: 4,
            hidden: 64,
            blocks: 8,
            batch_norm: true,
            alpha: 0.05,
            prior: PriorKind::StandardGaussian,
            dequant: DequantKind::Uniform,
            temperature: 1.0,
            conditional: false,
        };
        match name {
            "paper" => Some(paper),
            "mnist" => Some(Config {
                scales: 2,
                hidden: 32,
                blocks: 4,
                ..paper
            }),
            // `mnist` with 2 ResNet blocks instead of 4, for `compare --quick`: half the cost per
            // step; at 300 steps on mnist10k 1.850 bits/dim against `mnist`'s 1.816 (batch norm
            // is what learns fast there: without it, 3.47).
            "quick" => Some(Config {
                scales: 2,
                hidden: 32,
                blocks: 2,
                ..paper
            }),
            "tiny" => Some(Config {
                scales: 2,
                couplings: 2,
                final_couplings: 2,
                hidden: 16,
                blocks: 1,
                batch_norm: false,
                ..paper
            }),
            _ => None,
        }
    }
}

/// The RealNvp model: a [`Flow`] of its [`Config`].
pub type RealNvp = Flow<Config>;

impl FlowConfig for Config {
    /// Builds the flow under `p`.
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore> {
        let cfg = self;
        let name = if cfg.conditional {
            "cond-realnvp"
        } else {
            "realnvp"
        };
        let [c0, h0, w0] = super::image_shape(name, &data)?;
        if cfg.scales < 1 || cfg.couplings < 1 || cfg.final_couplings < 1 {
            return Err(CoreError::config(
                format!("{name}.scales"),
                "scales, couplings and final_couplings must be >= 1",
            ));
        }
        let k = super::classes(name, cfg.conditional, num_classes)?;
        let kc = k.unwrap_or(0);
        let net = NetConfig {
            kind: NetKind::Resnet,
            hidden: cfg.hidden,
            depth: cfg.blocks,
        };
        let (mut c, mut h, mut w) = (c0, h0, w0);
        let mut levels = Vec::new();
        for s in 0..cfg.scales {
            let q = p / format!("scale{s}");
            let mut steps = Sequential::new();
            let last = s == cfg.scales - 1;
            let n_cb = if last {
                cfg.final_couplings
            } else {
                cfg.couplings
            };
            for i in 0..n_cb {
                steps.push(Coupling::new(
                    &(&q / format!("cb{i}")),
                    &[c, h, w],
                    MaskKind::Checkerboard,
                    i % 2,
                    CouplingKind::AffineTanh,
                    &net,
                    kc,
                )?);
                if cfg.batch_norm {
                    steps.push(BatchNormFlow::new(&(&q / format!("cb{i}_bn")), c));
                }
            }
            if !last {
                if h % 2 != 0 || w % 2 != 0 {
                    return Err(CoreError::config(
                        format!("{name}.scales"),
                        format!("level {s} sees {h}x{w} images, which cannot be squeezed: use fewer scales"),
                    ));
                }
                steps.push(Squeeze);
                (c, h, w) = (4 * c, h / 2, w / 2);
                for i in 0..cfg.couplings {
                    steps.push(Coupling::new(
                        &(&q / format!("ch{i}")),
                        &[c, h, w],
                        MaskKind::Channel,
                        i % 2,
                        CouplingKind::AffineTanh,
                        &net,
                        kc,
                    )?);
                    if cfg.batch_norm {
                        steps.push(BatchNormFlow::new(&(&q / format!("ch{i}_bn")), c));
                    }
                }
            }
            levels.push(Level {
                steps,
                shape: vec![c, h, w],
                split: !last,
            });
            if !last {
                c /= 2;
            }
        }
        let body = MultiScale::new(&(p / "split"), &[c0, h0, w0], levels, false)?;
        let vdq = cfg.dequant.build(&(p / "dequant"), &[c0, h0, w0])?;
        Ok(FlowCore {
            model: name.into(),
            data,
            pre: Preprocess::Logit { alpha: cfg.alpha }.bijector(),
            prior: Prior::new(&(p / "prior"), cfg.prior, body.dim())?,
            body: Box::new(body),
            body_input: BodyInput::Image,
            vdq,
            num_classes: k,
            temperature: cfg.temperature,
            device: p.device(),
            init_flag: None,
        })
    }
}

/// Catalogue builder (`realnvp`).
///
/// # Errors
/// An unknown preset, a bad override, or a configuration or data the model does not take
/// (as its `FlowConfig::core`).
pub fn build(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("realnvp", args, Config::preset, PRESETS, |_| {})
}

/// Catalogue builder (`cond-realnvp`): RealNVP with `conditional = true`.
///
/// # Errors
/// As [`build`], and data without labels of >= 2 classes.
pub fn build_conditional(args: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    build_flow("cond-realnvp", args, Config::preset, PRESETS, |c| {
        c.conditional = true
    })
}

impl RealNvp {
    /// Class-conditional samples at temperature `temperature`: `labels` `[n]` picks each
    /// sample's class.
    ///
    /// # Errors
    /// Labels not of shape `[n]` with `n >= 1` or outside the model's classes, a temperature
    /// that is negative or not finite, or a libtorch error.
    pub fn sample_classes_at(
        &self,
        labels: &tch::Tensor,
        temperature: f64,
        seed: u64,
    ) -> Result<tch::Tensor> {
        self.core.sample(
            labels.size().first().copied().unwrap_or(0),
            temperature,
            seed,
            Some(labels),
        )
    }
}
