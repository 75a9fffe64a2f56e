//! NADE (Larochelle & Murray 2011, "The Neural Autoregressive Distribution Estimator", eq. 2-3)
//! over binarized images in raster order, with its tied weights:
//!
//! `h_i = sigmoid(c + W[:, <i] x_<i)`, `p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i)`,
//!
//! where one matrix `W [H, D]` serves every conditional. The pre-activations of all `D` hidden
//! layers come from one cumulative sum, `a_i = c + sum_{j<i} W[:, j] x_j`, so the training pass
//! costs `O(DH)` per example (sec. 2). Sampling uses the same recursion one pixel at a time (the
//! model's own cache: `a_{i+1} = a_i + W[:, i] x_i`).
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::model::{check_input, commit, Autoregressive, CachedSample, SampleJob};
use crate::sampling;
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// NADE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset); binarized, Bernoulli conditionals.
    pub data: DataKind,
    /// Hidden units H.
    pub hidden: i64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let hidden = match name {
            // Sec. 4: 500 hidden units on binarized MNIST.
            "paper" | "mnist" => 500,
            "tiny" => 8,
            _ => return None,
        };
        Some(Config {
            data: DataKind::Image {
                channels: 1,
                height: 28,
                width: 28,
            },
            hidden,
        })
    }
}

/// The NADE network: `w [H, D]`, `c [H]`, `v [D, H]`, `b [D]`.
#[derive(Debug)]
pub struct Nade {
    pub cfg: Config,
    pub w: Tensor,
    pub c: Tensor,
    pub v: Tensor,
    pub b: Tensor,
    device: tch::Device,
}

impl Nade {
    /// # Errors
    /// [`CoreError::Config`] for non-image data or `hidden < 1`.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        if !cfg.data.is_image() || cfg.hidden < 1 {
            return Err(CoreError::config(
                "nade",
                "NADE here models binarized images with hidden >= 1",
            ));
        }
        let (d, h) = (cfg.data.dims(), cfg.hidden);
        let init = |fan_in: i64| nn::Init::Uniform {
            lo: -1.0 / (fan_in as f64).sqrt(),
            up: 1.0 / (fan_in as f64).sqrt(),
        };
        Ok(Nade {
            cfg: cfg.clone(),
            w: p.var("w", &[h, d], init(d)),
            c: p.zeros("c", &[h]),
            v: p.var("v", &[d, h], init(h)),
            b: p.zeros("b", &[d]),
            device: p.device(),
        })
    }

    /// Logit of conditional `i` from the hidden pre-activation `a [n, H]`: `[n]`.
    fn logit(&self, a: &Tensor, i: i64) -> Result<Tensor> {
        Ok(a.f_sigmoid()?
            .f_matmul(&self.v.f_select(0, i)?)?
            .f_add(&self.b.f_select(0, i)?)?)
    }
}

impl Autoregressive for Nade {
    fn name(&self) -> &str {
        "nade"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn device(&self) -> tch::Device {
        self.device
    }
    fn likelihood(&self) -> Likelihood {
        Likelihood::Bernoulli
    }
    fn params(&self, input: &Tensor, _labels: Option<&Tensor>, _train: bool) -> Result<Tensor> {
        check_input(&self.cfg.data, input)?;
        let mut shape = input.size();
        let x = input.f_reshape([shape[0], -1])?; // [n, D]
                                                  // W[:, j] x_j for every j: [n, D, H]; the exclusive cumulative sum gives a_i.
        let contrib = x.f_unsqueeze(2)?.f_mul(&self.w.f_tr()?.f_unsqueeze(0)?)?;
        let a = contrib
            .f_cumsum(1, Kind::Float)?
            .f_sub(&contrib)?
            .f_add(&self.c)?;
        let logits = a
            .f_sigmoid()?
            .f_mul(&self.v.f_unsqueeze(0)?)?
            .f_sum_dim_intlist(2, false, Kind::Float)?
            .f_add(&self.b)?;
        shape.insert(1, 1);
        Ok(logits.f_reshape(shape.as_slice())?)
    }
    fn cached(&self) -> Option<&dyn CachedSample> {
        Some(self)
    }
}

impl CachedSample for Nade {
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor> {
        let shape = self.cfg.data.example_shape();
        let mut full = vec![job.n];
        full.extend(&shape);
        let canvas = Tensor::f_zeros(full.as_slice(), (Kind::Float, job.u.device()))?;
        let mut a = self
            .c
            .f_unsqueeze(0)?
            .f_expand([job.n, self.cfg.hidden], false)?;
        let flat = canvas.f_view([job.n, -1])?;
        for i in 0..self.cfg.data.dims() {
            let logit = self.logit(&a, i)?.f_unsqueeze(1)?; // [n, 1]
            let value = sampling::draw(
                Likelihood::Bernoulli,
                &logit,
                &job.u.f_select(1, i)?,
                job.temperature,
            )?;
            commit(&canvas, i, Likelihood::Bernoulli, &value, job)?;
            let x_i = flat.f_select(1, i)?.f_unsqueeze(1)?; // [n, 1]
            a = a.f_add(&x_i.f_mul(&self.w.f_select(1, i)?.f_unsqueeze(0)?)?)?;
        }
        Ok(canvas)
    }
}
