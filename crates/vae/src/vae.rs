//! The variational autoencoder (Kingma & Welling 2014) and, as configurations of it, the
//! beta-VAE (Higgins et al. 2017: the KL weighted by beta > 1), KL warm-up/annealing (Bowman et
//! al. 2016; Sonderby et al. 2016: the KL weight rises linearly from 0 to beta) and free bits
//! (Kingma et al. 2016, eq. 15: each latent dimension's batch-mean KL is floored at lambda).
//!
//! Loss per example (eq. 10 with the closed-form KL of appendix B, one draw z = mu + sigma * eps):
//! `recon = -log p(x|z)`, `kl = KL(q(z|x) || N(0, I))`, `total = recon + w(step) * kl`.
//!
//! The encoder's gradient of `E_q[log p(x|z)]` is estimated either pathwise (reparameterization,
//! sec. 2.4) or by the score function (REINFORCE, Williams 1992; with a baseline, Mnih & Gregor
//! 2014): `E_q[(log p(x|z) - b) grad log q(z|x)]` with `b` an exponential moving average of
//! `log p(x|z)` (the KL keeps its closed-form gradient in both cases).
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::dist::Distribution;
use genzoo_core::estimators::{self, Baseline as SfBaseline};
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use genzoo_core::model::{EvalOptions, EvalReport, Losses, Optimize};
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::latent::GaussianLatent;
use crate::nets::{Activation, Arch};
use crate::obs::{Likelihood, Mode, Prepared};
use genzoo_core::model::{Network, PartialSample, PerExampleNll, Reconstruct};

/// 28x28 grey-level images (MNIST, Fashion-MNIST): the default data of the presets.
pub const MNIST: DataKind = DataKind::Image {
    channels: 1,
    height: 28,
    width: 28,
};

/// How the encoder's gradient of the reconstruction term is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// The reparameterization trick (pathwise derivative).
    Pathwise,
    /// REINFORCE with a moving-average baseline.
    ScoreFunction,
}

/// The training objective: the weighted ELBO and its estimator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// Weight of the KL term once warmed up (1 = the ELBO; > 1 = beta-VAE).
    pub beta: f64,
    /// Steps over which the KL weight rises linearly from 0 to `beta` (0 = no warm-up).
    pub warmup_steps: u64,
    /// Free bits: per-dimension floor (nats) of the batch-mean KL in the loss (0 = none).
    pub free_bits: f64,
    /// Encoder gradient estimator.
    pub estimator: Estimator,
    /// Decay of the score-function baseline's moving average.
    pub baseline_decay: f64,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            beta: 1.0,
            warmup_steps: 0,
            free_bits: 0.0,
            estimator: Estimator::Pathwise,
            baseline_decay: 0.99,
        }
    }
}

impl Objective {
    /// Checks the values.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming `beta` or `free_bits` when negative or not finite, or
    /// `baseline_decay` when outside [0, 1).
    pub fn validate(&self) -> Result<()> {
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(CoreError::config(
                "beta",
                format!("must be finite and >= 0, got {}", self.beta),
            ));
        }
        if !(self.free_bits >= 0.0 && self.free_bits.is_finite()) {
            return Err(CoreError::config(
                "free_bits",
                format!("must be finite and >= 0, got {}", self.free_bits),
            ));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(CoreError::config(
                "baseline_decay",
                format!("must lie in [0, 1), got {}", self.baseline_decay),
            ));
        }
        Ok(())
    }

    /// The KL weight at `step`: `beta * min(1, step / warmup_steps)`.
    pub fn kl_weight(&self, step: u64) -> f64 {
        if self.warmup_steps == 0 {
            self.beta
        } else {
            self.beta * (step as f64 / self.warmup_steps as f64).min(1.0)
        }
    }

    /// The loss of one prepared batch: parts `total`, `recon` (-log p(x|z), nats per example),
    /// `kl` (nats per example), `elbo` (`-(recon + kl)`), `kl_weight`. `baseline` is the
    /// score-function baseline (a scalar buffer updated in place).
    ///
    /// # Errors
    /// The error of the likelihood's `log_prob` when `prep.target` does not fit it; a libtorch
    /// error (e.g. a `baseline` of more than one element under the score-function estimator).
    pub fn loss(
        &self,
        lat: &GaussianLatent,
        prep: &Prepared,
        cond: Option<&Tensor>,
        step: u64,
        baseline: &Tensor,
    ) -> Result<Losses> {
        let q = lat.encode(&prep.input, cond)?;
        let kl = lat.kl(&q)?; // [b, d]
        let (z, log_q) = match self.estimator {
            Estimator::Pathwise => (q.rsample(&[])?, None),
            Estimator::ScoreFunction => {
                let z = q.sample(&[]); // no gradient through z
                let log_q = q.f_log_prob(&z)?.f_sum_dim_intlist(1, false, Kind::Float)?; // [b]
                (z, Some(log_q))
            }
        };
        let log_px = lat.log_px(&lat.decode(&z, cond), &prep.target)?; // [b]
        let recon = log_px.f_mean(Kind::Float)?.f_neg()?;
        // The optimized reconstruction term: pathwise, or the decoder's own gradient plus the
        // score-function surrogate of core's estimators for the encoder.
        let recon_obj = match &log_q {
            None => recon.shallow_clone(),
            Some(log_q) => {
                let b = baseline.f_double_value(&[])?;
                let sur = estimators::score_function_surrogate(
                    &log_q.f_unsqueeze(0)?,
                    &log_px.f_unsqueeze(0)?,
                    SfBaseline::Constant(b),
                )?; // [b]
                let decoder_only = log_px.f_sub(&log_px.detach())?; // value 0, decoder gradient
                sur.f_add(&decoder_only)?.f_mean(Kind::Float)?.f_neg()?
            }
        };
        let kl_dims = kl.f_mean_dim(0, false, Kind::Float)?; // [d]
        let kl_total = kl_dims.f_sum(Kind::Float)?;
        let kl_obj = if self.free_bits > 0.0 {
            kl_dims.f_clamp_min(self.free_bits)?.f_sum(Kind::Float)?
        } else {
            kl_total.shallow_clone()
        };
        let w = self.kl_weight(step);
        let total = recon_obj.f_add(&kl_obj.f_mul_scalar(w)?)?;
        if log_q.is_some() {
            tch::no_grad(|| -> Result<()> {
                let lp = log_px.detach().f_mean(Kind::Float)?;
                let new = baseline
                    .f_mul_scalar(self.baseline_decay)?
                    .f_add(&lp.f_mul_scalar(1.0 - self.baseline_decay)?)?;
                baseline.shallow_clone().f_copy_(&new)?;
                Ok(())
            })?;
        }
        let elbo = recon.f_add(&kl_total)?.f_neg()?;
        Ok(Losses::new(total)
            .with("recon", recon)
            .with("kl", kl_total)
            .with("elbo", elbo)
            .with("kl_weight", Tensor::from(w)))
    }
}

/// The VAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Encoder/decoder architecture.
    pub arch: Arch,
    /// Latent dimensions.
    pub latent_dim: i64,
    /// Observation model p(x|z).
    pub likelihood: Likelihood,
    /// The data the model is built for (set from the dataset by the registry).
    pub data: DataKind,
    #[serde(flatten)]
    pub objective: Objective,
}

/// Preset names of `vae-mlp`; the first is the default.
pub const MLP_PRESETS: &[&str] = &[
    "classic",
    "tiny",
    "classic-logistic",
    "classic-categorical",
    "toy",
    "score-function",
];
/// Preset names of `vae-conv`.
pub const CONV_PRESETS: &[&str] = &["conv", "tiny", "conv-logistic", "conv-categorical"];
/// Preset names of `beta-vae`.
pub const BETA_PRESETS: &[&str] = &["higgins", "tiny", "warmup", "free-bits"];

impl Config {
    fn base(arch: Arch, latent_dim: i64, likelihood: Likelihood) -> Config {
        Config {
            arch,
            latent_dim,
            likelihood,
            data: MNIST,
            objective: Objective::default(),
        }
    }

    /// `vae-mlp` presets. `classic` is the 784-400-20 ReLU VAE of pytorch/examples (Kingma &
    /// Welling 2014 with a Bernoulli decoder); `-logistic`/`-categorical` model 8-bit levels;
    /// `toy` suits the 2-D toy densities; `score-function` is `classic` trained with REINFORCE.
    pub fn mlp_preset(name: &str) -> Option<Config> {
        let classic = Config::base(Arch::mlp(&[400]), 20, Likelihood::Bernoulli);
        Some(match name {
            "classic" => classic,
            "tiny" => Config::base(Arch::mlp(&[32]), 4, Likelihood::Auto),
            "classic-logistic" => Config {
                likelihood: Likelihood::Logistic,
                ..classic
            },
            "classic-categorical" => Config {
                likelihood: Likelihood::Categorical,
                ..classic
            },
            "toy" => Config {
                arch: Arch::Mlp {
                    hidden: vec![64, 64],
                    activation: Activation::Relu,
                },
                latent_dim: 2,
                likelihood: Likelihood::Gaussian,
                data: DataKind::Vector { dim: 2 },
                objective: Objective::default(),
            },
            "score-function" => Config {
                objective: Objective {
                    estimator: Estimator::ScoreFunction,
                    ..Objective::default()
                },
                ..classic
            },
            _ => return None,
        })
    }

    /// `vae-conv` presets: two stride-2 4x4 convolutions (32, 64 channels), a 256-wide fully
    /// connected layer, 32 latent dimensions.
    pub fn conv_preset(name: &str) -> Option<Config> {
        let conv = Config::base(Arch::conv(&[32, 64], 256), 32, Likelihood::Bernoulli);
        Some(match name {
            "conv" => conv,
            "tiny" => Config::base(Arch::conv(&[4, 8], 16), 4, Likelihood::Bernoulli),
            "conv-logistic" => Config {
                likelihood: Likelihood::Logistic,
                ..conv
            },
            "conv-categorical" => Config {
                likelihood: Likelihood::Categorical,
                ..conv
            },
            _ => return None,
        })
    }

    /// `beta-vae` presets. `higgins`: beta = 4 with 10 latents on the convolutional network
    /// (Higgins et al. 2017); `warmup`: the ELBO with the KL weight annealed over 10k steps;
    /// `free-bits`: lambda = 0.25 nats per dimension.
    pub fn beta_preset(name: &str) -> Option<Config> {
        let conv = Config::base(Arch::conv(&[32, 64], 256), 10, Likelihood::Bernoulli);
        let obj = Objective::default();
        Some(match name {
            "higgins" => Config {
                objective: Objective { beta: 4.0, ..obj },
                ..conv
            },
            "tiny" => Config {
                objective: Objective {
                    beta: 4.0,
                    warmup_steps: 10,
                    free_bits: 0.1,
                    ..obj
                },
                ..Config::base(Arch::conv(&[4, 8], 16), 3, Likelihood::Bernoulli)
            },
            "warmup" => Config {
                objective: Objective {
                    warmup_steps: 10_000,
                    ..obj
                },
                ..conv
            },
            "free-bits" => Config {
                objective: Objective {
                    free_bits: 0.25,
                    ..obj
                },
                latent_dim: 32,
                ..conv
            },
            _ => return None,
        })
    }
}

/// A VAE (or beta-VAE): encoder, decoder and the objective.
#[derive(Debug)]
pub struct Vae {
    name: String,
    cfg: Config,
    /// The encoder/decoder pair.
    pub lat: GaussianLatent,
    baseline: Tensor,
}

impl Vae {
    /// Builds the networks under `p / "enc"`, `p / "dec"` (registry name `vae-mlp`).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the objective fails validation (`beta`, `free_bits`,
    /// `baseline_decay`), `latent_dim` is not positive, the likelihood does not fit the data, or
    /// the architecture does not (`arch.*`).
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        Self::named(p, cfg, "vae")
    }

    /// As [`Vae::new`] with the registry name used in reports.
    ///
    /// # Errors
    /// [`CoreError::Config`] when the objective fails validation (`beta`, `free_bits`,
    /// `baseline_decay`), `latent_dim` is not positive, the likelihood does not fit the data, or
    /// the architecture does not (`arch.*`).
    pub fn named(p: &nn::Path, cfg: &Config, name: &str) -> Result<Self> {
        Self::with_likelihood(p, cfg, name, Box::new(cfg.likelihood.resolve(&cfg.data)?))
    }

    /// As [`Vae::named`] with any decoder likelihood in place of `cfg.likelihood` (a PixelCNN
    /// conditioned on decoder features, for the VLAE of the autoregressive family): the decoder
    /// outputs `lik.params()` values per data dimension.
    ///
    /// # Errors
    /// As [`Vae::named`].
    pub fn with_likelihood(
        p: &nn::Path,
        cfg: &Config,
        name: &str,
        lik: Box<dyn crate::decoder::DecoderLikelihood>,
    ) -> Result<Self> {
        cfg.objective.validate()?;
        let lat = GaussianLatent::with_likelihood(p, &cfg.arch, cfg.latent_dim, lik, cfg.data, 0)?;
        let baseline = p.zeros_no_train("sf_baseline", &[]);
        Ok(Vae {
            name: name.to_string(),
            cfg: cfg.clone(),
            lat,
            baseline,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The loss of a stored batch (dynamic binarization etc. as in training).
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is not stored as the likelihood needs (e.g. `u8` pixels); a
    /// libtorch error (e.g. `x` of another shape than the configured data).
    pub fn loss(&self, x: &Tensor, step: u64) -> Result<Losses> {
        let prep = self.lat.lik.prepare(x, Mode::Train)?;
        self.cfg
            .objective
            .loss(&self.lat, &prep, None, step, &self.baseline)
    }
}

/// Samples of a Gaussian-latent model: `z ~ N(0, I)` decoded to the mean of p(x|z) for images
/// (the usual sample grid) and to a draw from p(x|z) for continuous vectors. Seeded.
///
/// # Errors
/// [`CoreError::Invalid`] when `n < 1`; the error of the likelihood's `mean` or `sample`; a
/// libtorch error.
pub fn sample_latent(
    lat: &GaussianLatent,
    n: i64,
    seed: u64,
    cond: Option<&Tensor>,
) -> Result<Tensor> {
    if n < 1 {
        return Err(CoreError::Invalid(format!(
            "sample: n = {n}, need at least 1"
        )));
    }
    tch::no_grad(|| {
        genzoo_core::seed::seed_torch_stream(seed, "vae-sample", 0);
        let dev = lat.device;
        let z = Tensor::f_randn([n, lat.latent], (Kind::Float, dev))?;
        let params = lat.decode(&z, cond);
        if lat.data.is_image() {
            lat.lik.mean(&params)
        } else {
            lat.lik.sample(&params)
        }
    })
}

/// Reconstructions: the decoder mean at the posterior mean, for a stored batch.
///
/// # Errors
/// [`CoreError::Shape`] when `x` is data the likelihood cannot model (e.g. not `u8` pixels for an
/// 8-bit likelihood); a libtorch error.
pub fn reconstruct_latent(
    lat: &GaussianLatent,
    x: &Tensor,
    cond: Option<&Tensor>,
) -> Result<Tensor> {
    tch::no_grad(|| {
        let prep = lat.lik.prepare(x, Mode::Eval { seed: 0 })?;
        let q = lat.encode(&prep.input, cond)?;
        lat.lik.mean(&lat.decode(&q.loc, cond))
    })
}

/// The unconditional models' reconstructions ([`reconstruct_latent`] without a condition).
impl Reconstruct for GaussianLatent {
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        reconstruct_latent(self, x, None)
    }
}

impl Network for Vae {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let losses = self.loss(&batch.x, opt.step())?;
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        crate::eval::evaluate(&self.name, &self.lat, data, opts)
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
