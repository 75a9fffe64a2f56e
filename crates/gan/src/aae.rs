//! The adversarial autoencoder (Makhzani et al. 2016, "Adversarial Autoencoders", sec. 2): an
//! autoencoder whose aggregated posterior `q(z) = E_x q(z|x)` is matched to a prior `p(z)` by a
//! discriminator on codes, in place of the VAE's KL term. Each training step has the paper's
//! two phases: the regularization phase updates the discriminator (prior draws are positives,
//! codes of the batch negatives), then the reconstruction phase updates the encoder and decoder
//! on `-log p(x|z) + adv_weight * g_loss`, the encoder fooling the discriminator.
//!
//! The encoder and decoder are the VAE family's ([`genzoo_vae::latent::GaussianLatent`],
//! `gen.enc.*`, `gen.dec.*`): a Gaussian q(z|x) (the paper's "Gaussian posterior" option,
//! sec. 2.1), the decoder's likelihood (Bernoulli on binarized images, as the VAEs). The
//! discriminator is an MLP on `z` (`disc.fc1..`). Priors ([`Prior`]): N(0, I), or a mixture of
//! `components` Gaussians (the paper's 10-component mixture of Fig. 2 and 4) whose means lie on a
//! circle of `radius` in the first two dimensions, standard deviation `std` there and N(0, 1) in
//! the others.
//!
//! Its likelihood ([`Network::evaluate`]): the VAE family's importance-sampled estimate of
//! log p(x) with the encoder as proposal (Burda et al. 2016, eq. 8), a stochastic lower bound,
//! and the ELBO beside it. The encoder was never trained to be a good proposal (no KL term
//! rewards its spread), so the estimate can be loose: it is reported as an estimate, never as
//! exact. The paper reported Parzen-window log-likelihoods instead, which are not comparable.
//! Catalogue name `aae`.
use genzoo_core::model::Family;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::game::{player_groups, DISC, GEN};
use crate::latent_game::{
    check_n, decode_prior_samples, disc_update, gen_update, Critic, LatentGame,
};
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::dist::{DiagGaussian, Distribution};
use genzoo_core::model::{
    EvalOptions, EvalReport, ExampleNll, Losses, Network, Optimize, ParamGroup, PerExampleNll,
    Reconstruct,
};
use genzoo_core::obs::{Likelihood, Mode};
use genzoo_core::{CoreError, Result};
use genzoo_vae::decoder::DecoderLikelihood;
use genzoo_vae::latent::{GaussianLatent, LatentModel};
use genzoo_vae::nets::Arch;

/// The prior the aggregated posterior is matched to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Prior {
    /// N(0, I).
    Gaussian,
    /// Equal-weight Gaussians with means `radius (cos 2 pi k / K, sin 2 pi k / K)` in the first
    /// two dimensions (standard deviation `std` there), N(0, 1) in the other dimensions.
    Mixture {
        components: i64,
        radius: f64,
        std: f64,
    },
}

impl Prior {
    /// Checks the prior for `latent` dimensions.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`prior`) for a mixture with fewer than 2 latent dimensions or 1
    /// component, a negative radius or a standard deviation that is not positive.
    pub fn validate(&self, latent: i64) -> Result<()> {
        if let Prior::Mixture {
            components,
            radius,
            std,
        } = *self
        {
            if latent < 2
                || components < 1
                || !radius.is_finite()
                || radius < 0.0
                || !std.is_finite()
                || std <= 0.0
            {
                return Err(CoreError::config(
                    "prior",
                    format!("a mixture needs latent_dim >= 2 (got {latent}), components >= 1 (got {components}), a finite radius >= 0 (got {radius}) and a finite std > 0 (got {std})"),
                ));
            }
        }
        Ok(())
    }

    /// The mixture's means `[K, 2]` in the first two dimensions.
    fn means(components: i64, radius: f64, device: Device) -> Result<Tensor> {
        let theta = Tensor::f_arange(components, (Kind::Float, device))?
            .f_mul_scalar(2.0 * std::f64::consts::PI / components as f64)?;
        Ok(Tensor::f_stack(&[theta.f_cos()?, theta.f_sin()?], 1)?.f_mul_scalar(radius)?)
    }

    /// `n` draws `[n, d]` from torch's generator.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn sample(&self, n: i64, d: i64, device: Device) -> Result<Tensor> {
        let z = Tensor::f_randn([n, d], (Kind::Float, device))?;
        match *self {
            Prior::Gaussian => Ok(z),
            Prior::Mixture {
                components,
                radius,
                std,
            } => {
                let k = Tensor::f_randint(components, [n], (Kind::Int64, device))?;
                let mu = Self::means(components, radius, device)?.f_index_select(0, &k)?;
                let plane = z.f_narrow(1, 0, 2)?.f_mul_scalar(std)?.f_add(&mu)?;
                Ok(Tensor::f_cat(&[plane, z.f_narrow(1, 2, d - 2)?], 1)?)
            }
        }
    }

    /// `log p(z)` in nats, summed over the last dimension: `z [.., d]` -> `[..]`.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn log_prob(&self, z: &Tensor) -> Result<Tensor> {
        let std_normal = |v: &Tensor| -> Result<Tensor> {
            let n = v.size().last().copied().unwrap_or(0) as f64;
            Ok(v.f_square()?
                .f_sum_dim_intlist(-1, false, Kind::Float)?
                .f_mul_scalar(-0.5)?
                .f_sub_scalar(0.5 * n * (2.0 * std::f64::consts::PI).ln())?)
        };
        match self {
            Prior::Gaussian => std_normal(z),
            Prior::Mixture { .. } => {
                let d = z.size().last().copied().unwrap_or(0);
                let rest = std_normal(&z.f_narrow(-1, 2, d - 2)?)?;
                Ok(self.log_prob_plane(&z.f_narrow(-1, 0, 2)?)?.f_add(&rest)?)
            }
        }
    }

    /// The mixture's log-density of the first two dimensions `[.., 2]` -> `[..]` (0 for the
    /// Gaussian prior, whose plane has no special role).
    fn log_prob_plane(&self, v: &Tensor) -> Result<Tensor> {
        let Prior::Mixture {
            components,
            radius,
            std,
        } = *self
        else {
            return Ok(v
                .f_sum_dim_intlist(-1, false, Kind::Float)?
                .f_zeros_like()?);
        };
        let mu = Self::means(components, radius, v.device())?; // [K, 2]
        let diff = v.f_unsqueeze(-2)?.f_sub(&mu)?.f_div_scalar(std)?; // [.., K, 2]
        let comp = diff
            .f_square()?
            .f_sum_dim_intlist(-1, false, Kind::Float)?
            .f_mul_scalar(-0.5)?
            .f_sub_scalar(2.0 * std.ln() + (2.0 * std::f64::consts::PI).ln())?;
        Ok(comp
            .f_logsumexp([-1], false)?
            .f_sub_scalar((components as f64).ln())?)
    }
}

/// The AAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The data modelled (set from the dataset).
    pub data: DataKind,
    /// Encoder/decoder architecture (the VAE family's).
    pub arch: Arch,
    /// Latent dimensions.
    pub latent_dim: i64,
    /// Observation model p(x|z) (`auto`: Bernoulli on images, Gaussian on vectors).
    pub likelihood: Likelihood,
    pub prior: Prior,
    /// The discriminator's hidden widths.
    pub disc_hidden: Vec<i64>,
    /// Weight of the encoder's adversarial loss beside the reconstruction NLL (nats).
    pub adv_weight: f64,
    #[serde(flatten)]
    pub game: LatentGame,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "mixture", "toy", "tiny"];

impl Config {
    /// A named preset (the catalogue sets `data`), each with a Bernoulli decoder on images and
    /// the non-saturating game:
    /// * `paper`: sec. 3's MNIST sizes, encoder and decoder 1000-1000 ReLU, 8 latent
    ///   dimensions, a 1000-1000 discriminator, N(0, I).
    /// * `mnist`: a 512-512 pair, 8 latent dimensions, a 256-256 discriminator, N(0, I).
    /// * `mixture`: `mnist` with the 10-component mixture prior (radius 4, std 0.5).
    /// * `toy`: 2-D vectors (a Gaussian decoder), a 64-64 pair, 2 latent dimensions, a 64-64
    ///   discriminator, N(0, I).
    /// * `tiny`: a few units, a 3-component mixture, for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let mixture = Prior::Mixture {
            components: 10,
            radius: 4.0,
            std: 0.5,
        };
        let (hidden, latent_dim, disc_hidden, prior) = match name {
            "paper" => (vec![1000, 1000], 8, vec![1000, 1000], Prior::Gaussian),
            "mnist" => (vec![512, 512], 8, vec![256, 256], Prior::Gaussian),
            "mixture" => (vec![512, 512], 8, vec![256, 256], mixture),
            "toy" => (vec![64, 64], 2, vec![64, 64], Prior::Gaussian),
            "tiny" => (
                vec![16],
                2,
                vec![8],
                Prior::Mixture {
                    components: 3,
                    radius: 2.0,
                    std: 0.5,
                },
            ),
            _ => return None,
        };
        let data = match name {
            "toy" => DataKind::Vector { dim: 2 },
            _ => crate::mlp_gan::MNIST,
        };
        Some(Config {
            data,
            arch: Arch::mlp(&hidden),
            latent_dim,
            likelihood: Likelihood::Auto,
            prior,
            disc_hidden,
            adv_weight: 1.0,
            game: LatentGame::non_saturating(),
        })
    }
}

/// The adversarial autoencoder: encoder and decoder (`gen.enc`, `gen.dec`), the discriminator on
/// codes (`disc.fc1..`), the prior.
#[derive(Debug)]
pub struct Aae {
    pub cfg: Config,
    pub lat: GaussianLatent,
    pub disc: Critic,
}

impl Aae {
    /// Builds the networks under `p / "gen"` and `p / "disc"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for a bad prior ([`Prior::validate`]), game ([`LatentGame::validate`]),
    /// `adv_weight` negative or not finite, or the VAE family's errors for the architecture,
    /// latent size and likelihood.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        cfg.game.validate()?;
        cfg.prior.validate(cfg.latent_dim)?;
        if !(cfg.adv_weight.is_finite() && cfg.adv_weight >= 0.0) {
            return Err(CoreError::config("adv_weight", "must be finite and >= 0"));
        }
        let lat = GaussianLatent::new(
            &(p / GEN),
            &cfg.arch,
            cfg.latent_dim,
            cfg.likelihood,
            cfg.data,
            0,
        )?;
        Ok(Aae {
            disc: Critic::new(&(p / DISC), cfg.latent_dim, &cfg.disc_hidden, "disc_hidden")?,
            lat,
            cfg: cfg.clone(),
        })
    }

    /// One training step on a stored batch: the regularization phase (the discriminator) and
    /// the reconstruction phase (encoder and decoder). Parts: `d_loss`, the objective's parts,
    /// `d_real` (prior draws), `d_fake` (codes), `recon` (-log p(x|z), nats per example),
    /// `g_adversarial`, `g_loss` (`recon + adv_weight * g_adversarial`).
    ///
    /// # Errors
    /// Data the likelihood cannot take; a diverging player (named with the step); a libtorch
    /// error.
    pub fn step(&self, x: &Tensor, opt: &mut dyn Optimize) -> Result<Losses> {
        let prep = self.lat.lik.prepare(x, Mode::Train)?;
        let b = prep.input.size()[0];
        let q = self.lat.encode(&prep.input, None)?;
        let prior = self
            .cfg
            .prior
            .sample(b, self.cfg.latent_dim, self.lat.device)?;
        let z_fake = q.sample(&[]);
        let (d_real, d_fake) = (self.disc.forward(&prior)?, self.disc.forward(&z_fake)?);
        let d = disc_update("aae", &self.cfg.game, &d_real, &d_fake, opt)?;
        // Reconstruction phase: the encoder's codes fool the updated discriminator.
        let z = q.rsample(&[])?;
        let log_px = self.lat.log_px(&self.lat.decode(&z, None), &prep.target)?;
        let recon = log_px.f_mean(Kind::Float)?.f_neg()?;
        let g = self.cfg.game.objective.g_losses(&self.disc.forward(&z)?)?;
        let g_adv = g
            .get("g_loss")
            .ok_or_else(|| CoreError::Invalid("the objective returned no `g_loss`".into()))?
            .shallow_clone();
        let loss = recon.f_add(&g_adv.f_mul_scalar(self.cfg.adv_weight)?)?;
        let losses = d
            .with("recon", recon.detach())
            .with("g_adversarial", g_adv.detach());
        gen_update("aae", &self.cfg.game, losses, &loss, &g_adv, opt)
    }
}

impl LatentModel for Aae {
    fn latent_dim(&self) -> i64 {
        self.cfg.latent_dim
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn likelihood(&self) -> &dyn DecoderLikelihood {
        self.lat.lik.as_ref()
    }
    fn posterior(&self, input: &Tensor, cond: Option<&Tensor>) -> Result<DiagGaussian> {
        self.lat.encode(input, cond)
    }
    fn log_prior(&self, z: &Tensor) -> Result<Tensor> {
        self.cfg.prior.log_prob(z)
    }
    fn decode(&self, z: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        Ok(self.lat.decode(z, cond))
    }
    /// N(0, I): the closed form per dimension. The mixture: the closed form against N(0, 1) for
    /// dimensions 2 and up, and for the first two a Monte Carlo estimate of their joint KL
    /// (`MIXTURE_KL_DRAWS` draws from q) split equally between them (the mixture does not
    /// factorize over them).
    fn kl(&self, q: &DiagGaussian) -> Result<Tensor> {
        let closed =
            genzoo_core::divergence::kl::kl_std_normal(&q.loc, &q.log_scale.f_mul_scalar(2.0)?)?;
        if self.cfg.prior == Prior::Gaussian {
            return Ok(closed);
        }
        let plane = DiagGaussian::new(&q.loc.f_narrow(1, 0, 2)?, &q.log_scale.f_narrow(1, 0, 2)?)?;
        let z = plane.rsample(&[MIXTURE_KL_DRAWS])?;
        let log_q = plane
            .f_log_prob(&z)?
            .f_sum_dim_intlist(-1, false, Kind::Float)?;
        let mc = log_q
            .f_sub(&self.cfg.prior.log_prob_plane(&z)?)?
            .f_mean_dim(0, false, Kind::Float)?
            .f_mul_scalar(0.5)?
            .f_unsqueeze(1)?; // [b, 1]
        let d = self.cfg.latent_dim;
        Ok(Tensor::f_cat(
            &[mc.f_repeat([1, 2])?, closed.f_narrow(1, 2, d - 2)?],
            1,
        )?)
    }
}

/// Draws per example of the Monte Carlo KL to the mixture prior.
pub const MIXTURE_KL_DRAWS: i64 = 64;

impl PerExampleNll for Aae {
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll> {
        genzoo_vae::eval::is_nll_per_example(self, data, opts)
    }
}

impl Network for Aae {
    fn name(&self) -> &str {
        "aae"
    }
    fn family(&self) -> Family {
        Family::Gan
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn param_groups(&self, vs: &nn::VarStore) -> Option<Vec<ParamGroup>> {
        Some(player_groups(vs))
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        self.step(&batch.x, opt)
    }
    /// The VAE family's report: the importance-sampled NLL with the encoder as proposal (an
    /// estimate), the ELBO (a bound), KL, active units, mutual information.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        genzoo_vae::eval::evaluate("aae", self, data, opts)
    }
    /// Adam with beta1 = 0.5 for both players, as the GANs (the paper used SGD with momentum).
    fn adam_betas(&self) -> Option<[f64; 2]> {
        Some([0.5, 0.999])
    }
    /// Prior draws (seeded) through the decoder's mean.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        check_n(n)?;
        genzoo_core::seed::seed_torch_stream(seed, "aae-sample", 0);
        let z = self
            .cfg
            .prior
            .sample(n, self.cfg.latent_dim, self.lat.device)?;
        decode_prior_samples(self, &z)
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(&self.lat)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(self)
    }
}
