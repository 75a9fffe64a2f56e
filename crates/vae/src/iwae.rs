//! The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016), trained on the
//! k-sample bound (eq. 8)
//! `L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)]`, `z_1..z_k ~ q(z|x)` independently,
//! which equals the ELBO for k = 1 and increases with k towards log p(x) (Theorem 1).
//! Gradients are pathwise through the reparameterized draws (eq. 14).
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::estimators;
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use genzoo_core::model::{EvalOptions, EvalReport, Losses, Optimize};
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::latent::GaussianLatent;
use crate::nets::{Activation, Arch};
use crate::obs::{Likelihood, Mode};
use crate::vae::{sample_latent, MNIST};
use genzoo_core::model::{Network, PartialSample, PerExampleNll, Reconstruct};

/// The IWAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub arch: Arch,
    pub latent_dim: i64,
    pub likelihood: Likelihood,
    pub data: DataKind,
    /// Importance samples per example in the training bound L_k.
    pub k: i64,
}

/// Preset names of `iwae`; the first is the default.
pub const PRESETS: &[&str] = &["burda-k5", "tiny", "burda-k50", "burda-k1"];

impl Config {
    /// `burda-kK`: the one-stochastic-layer MNIST architecture of Burda et al. (2016, sec. 5):
    /// two deterministic tanh layers of 200 units and 50 latent dimensions, Bernoulli decoder;
    /// `burda-k1` is the same network trained as a VAE (L_1 = ELBO).
    pub fn preset(name: &str) -> Option<Config> {
        let burda = |k| Config {
            arch: Arch::Mlp {
                hidden: vec![200, 200],
                activation: Activation::Tanh,
            },
            latent_dim: 50,
            likelihood: Likelihood::Bernoulli,
            data: MNIST,
            k,
        };
        Some(match name {
            "burda-k5" => burda(5),
            "burda-k50" => burda(50),
            "burda-k1" => burda(1),
            "tiny" => Config {
                arch: Arch::mlp(&[32]),
                latent_dim: 4,
                likelihood: Likelihood::Auto,
                data: MNIST,
                k: 5,
            },
            _ => return None,
        })
    }
}

/// The IWAE: the Gaussian-latent pair trained on L_k.
#[derive(Debug)]
pub struct Iwae {
    cfg: Config,
    pub lat: GaussianLatent,
}

impl Iwae {
    /// Builds the Gaussian-latent networks under `p / "enc"` and `p / "dec"`, trained on the bound
    /// L_k with `cfg.k` importance samples.
    ///
    /// # Errors
    /// [`CoreError::Config`] when `k < 1`, `latent_dim` is not positive, the likelihood does not
    /// fit the data, or the architecture does not (`arch.*`).
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        if cfg.k < 1 {
            return Err(CoreError::config(
                "k",
                format!("importance samples must be >= 1, got {}", cfg.k),
            ));
        }
        let lat = GaussianLatent::new(p, &cfg.arch, cfg.latent_dim, cfg.likelihood, cfg.data, 0)?;
        Ok(Iwae {
            cfg: cfg.clone(),
            lat,
        })
    }

    /// The training loss of a stored batch: `total = -L_k` (mean over the batch, nats), with
    /// `elbo` the average single-sample bound `mean_i log w_i` for comparison.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is data the likelihood cannot model (e.g. not `u8` pixels for
    /// an 8-bit likelihood); a libtorch error.
    pub fn loss(&self, x: &Tensor) -> Result<Losses> {
        let prep = self.lat.lik.prepare(x, Mode::Train)?;
        let log_w = self
            .lat
            .log_weights(&prep.input, &prep.target, None, self.cfg.k)?; // [k, b]
        let lk = estimators::log_mean_exp(&log_w, 0)?.f_mean(Kind::Float)?;
        let elbo = log_w.detach().f_mean(Kind::Float)?;
        Ok(Losses::new(lk.f_neg()?)
            .with("lk", lk.detach())
            .with("elbo", elbo))
    }
}

impl Network for Iwae {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        "iwae"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let losses = self.loss(&batch.x)?;
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let mut r = crate::eval::evaluate("iwae", &self.lat, data, opts)?;
        r.metrics.insert("train_k".to_string(), self.cfg.k as f64);
        Ok(r)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        sample_latent(&self.lat, n, seed, None)
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(&self.lat)
    }
    fn partial_sampler(&self) -> Option<&dyn PartialSample> {
        Some(&self.lat)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(&self.lat)
    }
}
