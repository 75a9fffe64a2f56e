//! The conditional VAE (Sohn, Lee & Yan 2015; Kingma et al. 2014's M2 with observed labels):
//! q(z|x,y), p(z) = N(0, I), p(x|z,y), the label entering encoder and decoder as a one-hot
//! vector. Trained on the conditional ELBO (Sohn et al. eq. 4)
//! `log p(x|y) >= E_q[log p(x|z,y)] - KL(q(z|x,y) || p(z))`; evaluation reports the
//! IS-estimated conditional NLL -log p(x|y). Samples cycle through the classes (row i has
//! label i mod classes), so a grid with `nrow = classes` shows one class per column.
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use genzoo_core::model::{EvalOptions, EvalReport, Losses, Optimize};
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::latent::GaussianLatent;
use crate::nets::Arch;
use crate::obs::{Likelihood, Mode};
use crate::vae::{reconstruct_latent, sample_latent, Objective, MNIST};
use genzoo_core::data::transforms::one_hot;
use genzoo_core::model::{ConditionalSample, Network, PerExampleNll};

/// The cVAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub arch: Arch,
    pub latent_dim: i64,
    pub likelihood: Likelihood,
    pub data: DataKind,
    /// Number of classes of the conditioning label (set from the dataset by the registry).
    pub num_classes: i64,
    #[serde(flatten)]
    pub objective: Objective,
}

/// Preset names of `cvae`; the first is the default.
pub const PRESETS: &[&str] = &["classic", "tiny", "conv"];

impl Config {
    /// `classic`: the 784-400-20 MLP VAE with the label appended to the encoder's input and to
    /// the code; `conv`: the convolutional network of `vae-conv`.
    pub fn preset(name: &str) -> Option<Config> {
        let base = |arch, latent_dim| Config {
            arch,
            latent_dim,
            likelihood: Likelihood::Bernoulli,
            data: MNIST,
            num_classes: 10,
            objective: Objective::default(),
        };
        Some(match name {
            "classic" => base(Arch::mlp(&[400]), 20),
            "tiny" => Config {
                likelihood: Likelihood::Auto,
                ..base(Arch::mlp(&[32]), 4)
            },
            "conv" => base(Arch::conv(&[32, 64], 256), 32),
            _ => return None,
        })
    }
}

/// The conditional VAE.
#[derive(Debug)]
pub struct Cvae {
    cfg: Config,
    pub lat: GaussianLatent,
    baseline: Tensor,
}

impl Cvae {
    /// Builds the conditional Gaussian-latent networks under `p / "enc"` and `p / "dec"`,
    /// conditioned on one-hot labels of `cfg.num_classes` classes.
    ///
    /// # Errors
    /// [`CoreError::Config`] when `num_classes < 1`, the objective fails validation (`beta`,
    /// `free_bits`, `baseline_decay`), `latent_dim` is not positive, the likelihood does not fit
    /// the data, or the architecture does not (`arch.*`).
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        if cfg.num_classes < 1 {
            return Err(CoreError::config(
                "num_classes",
                format!("must be >= 1, got {}", cfg.num_classes),
            ));
        }
        cfg.objective.validate()?;
        let lat = GaussianLatent::new(
            p,
            &cfg.arch,
            cfg.latent_dim,
            cfg.likelihood,
            cfg.data,
            cfg.num_classes,
        )?;
        let baseline = p.zeros_no_train("sf_baseline", &[]);
        Ok(Cvae {
            cfg: cfg.clone(),
            lat,
            baseline,
        })
    }

    fn labels(&self, y: Option<&Tensor>) -> Result<Tensor> {
        let y = y.ok_or_else(|| {
            CoreError::shape("batch.y", "the conditional VAE needs labelled data")
        })?;
        one_hot(y, self.cfg.num_classes)
    }

    /// The loss of a stored batch with labels `y [b]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is data the likelihood cannot model (e.g. not `u8` pixels for
    /// an 8-bit likelihood), (`batch.y`) when `y` is `None`, or (`labels`) when it is not `[b]`
    /// with values in `0..num_classes`; a libtorch error.
    pub fn loss(&self, x: &Tensor, y: Option<&Tensor>, step: u64) -> Result<Losses> {
        let prep = self.lat.lik.prepare(x, Mode::Train)?;
        let c = self.labels(y)?;
        self.cfg
            .objective
            .loss(&self.lat, &prep, Some(&c), step, &self.baseline)
    }

    /// Samples of the given labels `y [n]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`labels`) when `y` is not `[n]` with values in `0..num_classes`;
    /// [`CoreError::Invalid`] when `y` is empty; a libtorch error.
    pub fn sample_labels(&self, y: &Tensor, seed: u64) -> Result<Tensor> {
        let c = one_hot(y, self.cfg.num_classes)?;
        sample_latent(&self.lat, y.size()[0], seed, Some(&c))
    }
}

impl Network for Cvae {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        "cvae"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let losses = self.loss(&batch.x, batch.y.as_ref(), opt.step())?;
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        crate::eval::evaluate("cvae", &self.lat, data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        let y = Tensor::f_arange(n, (Kind::Int64, self.lat.device))?
            .f_remainder(self.cfg.num_classes)?;
        self.sample_labels(&y, seed)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(&self.lat)
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        Some(self)
    }
}

impl ConditionalSample for Cvae {
    fn num_classes(&self) -> i64 {
        self.cfg.num_classes
    }
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        self.sample_labels(labels, seed)
    }
}

impl Cvae {
    /// Reconstructions of a stored batch with its labels.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`labels`) when `y` is not `[b]` with values in `0..num_classes`, or
    /// when `x` is data the likelihood cannot model (e.g. not `u8` pixels for an 8-bit likelihood);
    /// a libtorch error.
    pub fn reconstruct_labelled(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let c = one_hot(y, self.cfg.num_classes)?;
        reconstruct_latent(&self.lat, x, Some(&c))
    }
}
