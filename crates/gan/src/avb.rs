//! Adversarial variational Bayes (Mescheder, Nowozin & Geiger 2017, "Adversarial Variational
//! Bayes: Unifying Variational Autoencoders and Generative Adversarial Networks", sec. 3): a
//! VAE whose encoder is implicit, `z = f(x, eps)` with noise `eps ~ N(0, I)` fed beside `x`, so
//! that q(z|x) has no density to put in the ELBO. A discriminator `T(x, z)` is trained by
//! logistic regression to tell pairs `(x, z ~ q(z|x))` from `(x, z ~ p(z))` (eq. 3.3); its
//! optimum is `T*(x, z) = log q(z|x) - log p(z)` (Proposition 1), so the ELBO becomes
//!
//! `E_{p_D(x)} E_{q(z|x)} [-T*(x, z) + log p(x|z)]`  (eq. 3.6),
//!
//! which the encoder and decoder maximize through the reparameterized `z` (Algorithm 1; the
//! gradient of `T` with respect to its parameters vanishes at the optimum, eq. 3.9).
//!
//! Evaluation, each number stated for what it is:
//! * `avb_elbo_nats`: eq. 3.6 with the trained `T` in place of `T*`: an estimate of the ELBO,
//!   biased by `T`'s error (neither a bound nor exact);
//! * the report's NLL: the VAE family's importance-sampled estimate of log p(x) (Burda et al.
//!   2016) with a Gaussian proposal moment-matched per example to [`PROPOSAL_DRAWS`] draws of
//!   the implicit encoder: a stochastic lower bound that needs no density of q (the paper
//!   used annealed importance sampling instead); `neg_elbo` beside it is that proposal's ELBO.
//!
//! Networks: the VAE family's encoder with the noise entering where a label would
//! (`gen.enc.*`), its decoder (`gen.dec.*`), an MLP `T` on `[x, z]` (`disc.fc1..`). Differences
//! from the paper: no adaptive contrast (sec. 4), MLP `T`. Catalogue name `avb`.
use genzoo_core::model::Family;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::game::{player_groups, DISC, GEN};
use crate::latent_game::{
    check_n, decode_prior_samples, disc_update, gen_update, Critic, LatentGame,
};
use crate::objective::Objective;
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::dist::DiagGaussian;
use genzoo_core::model::{
    EvalOptions, EvalReport, ExampleNll, Losses, Network, Optimize, ParamGroup, PerExampleNll,
};
use genzoo_core::obs::{Likelihood, Mode};
use genzoo_core::{CoreError, Result};
use genzoo_vae::decoder::DecoderLikelihood;
use genzoo_vae::latent::{expand_rows, LatentModel};
use genzoo_vae::nets::{Arch, VectorDecoder, VectorEncoder};

/// Encoder draws per example in `avb_elbo_nats`.
pub const ELBO_DRAWS: i64 = 8;
/// Encoder draws per example that the evaluation's Gaussian proposal is fitted to.
pub const PROPOSAL_DRAWS: i64 = 64;
/// The proposal's standard deviations are floored at this (a collapsed implicit encoder would
/// otherwise give a zero-width proposal).
pub const PROPOSAL_MIN_STD: f64 = 1e-3;

/// AVB's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The data modelled (set from the dataset).
    pub data: DataKind,
    /// Encoder/decoder architecture (the VAE family's).
    pub arch: Arch,
    /// Latent dimensions.
    pub latent_dim: i64,
    /// Dimensions of the encoder's noise `eps`.
    pub noise_dim: i64,
    /// Observation model p(x|z) (`auto`: Bernoulli on images, Gaussian on vectors).
    pub likelihood: Likelihood,
    /// `T`'s hidden widths.
    pub disc_hidden: Vec<i64>,
    #[serde(flatten)]
    pub game: LatentGame,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "toy", "tiny"];

impl Config {
    /// A named preset (the catalogue sets `data`), each with a Bernoulli decoder on images:
    /// * `paper`: sec. 6.2's MNIST latent size, 32 dimensions, on the VAE family's
    ///   convolutional pair (32-64 maps, 256 units; the paper's networks differ), 32 noise
    ///   dimensions, a 512-512 `T`.
    /// * `mnist`: a 512-512 MLP pair, 8 latent and 16 noise dimensions, a 512-256 `T`.
    /// * `toy`: 2-D vectors (a Gaussian decoder), a 64-64 pair, 2 latent and 2 noise
    ///   dimensions, a 64-64 `T`.
    /// * `tiny`: a few units for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let (arch, latent_dim, noise_dim, disc_hidden) = match name {
            "toy" => (Arch::mlp(&[64, 64]), 2, 2, vec![64, 64]),
            "paper" => (Arch::conv(&[32, 64], 256), 32, 32, vec![512, 512]),
            "mnist" => (Arch::mlp(&[512, 512]), 8, 16, vec![512, 256]),
            "tiny" => (Arch::mlp(&[16]), 2, 3, vec![8]),
            _ => return None,
        };
        let data = match name {
            "toy" => DataKind::Vector { dim: 2 },
            _ => crate::mlp_gan::MNIST,
        };
        Some(Config {
            data,
            arch,
            latent_dim,
            noise_dim,
            likelihood: Likelihood::Auto,
            disc_hidden,
            game: LatentGame::non_saturating(),
        })
    }
}

/// AVB: the implicit encoder `gen.enc`, the decoder `gen.dec`, `T` (`disc.fc1..`).
#[derive(Debug)]
pub struct Avb {
    pub cfg: Config,
    pub enc: VectorEncoder,
    pub dec: VectorDecoder,
    pub lik: Box<dyn DecoderLikelihood>,
    pub t: Critic,
    device: tch::Device,
}

impl Avb {
    /// Builds the networks under `p / "gen"` and `p / "disc"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for `latent_dim` or `noise_dim` below 1, an objective other than
    /// the logistic ones (`minimax`, `non-saturating`), a bad game ([`LatentGame::validate`]), or
    /// the VAE family's errors for the architecture and likelihood.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        cfg.game.validate()?;
        if !matches!(
            cfg.game.objective,
            Objective::Minimax | Objective::NonSaturating
        ) {
            return Err(CoreError::config(
                "objective",
                "AVB's T estimates log q(z|x) - log p(z) only at the optimum of the logistic loss (Proposition 1): use non-saturating or minimax",
            ));
        }
        for (key, v) in [("latent_dim", cfg.latent_dim), ("noise_dim", cfg.noise_dim)] {
            if v < 1 {
                return Err(CoreError::config(key, format!("must be >= 1, got {v}")));
            }
        }
        let lik = cfg.likelihood.resolve(&cfg.data)?;
        let shape = cfg.data.example_shape();
        let g = p / GEN;
        Ok(Avb {
            enc: VectorEncoder::new(
                &(&g / "enc"),
                &cfg.arch,
                &shape,
                cfg.noise_dim,
                cfg.latent_dim,
            )?,
            dec: VectorDecoder::new(
                &(&g / "dec"),
                &cfg.arch,
                cfg.latent_dim,
                0,
                &shape,
                lik.params(),
            )?,
            lik: Box::new(lik),
            t: Critic::new(
                &(p / DISC),
                cfg.data.dims() + cfg.latent_dim,
                &cfg.disc_hidden,
                "disc_hidden",
            )?,
            device: p.device(),
            cfg: cfg.clone(),
        })
    }

    /// `z = f(x, eps)`: encoder inputs `[b, ...shape]` and fresh noise to codes `[b, d]`
    /// (differentiable).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn encode(&self, input: &Tensor) -> Result<Tensor> {
        let eps = Tensor::f_randn(
            [input.size()[0], self.cfg.noise_dim],
            (Kind::Float, self.device),
        )?;
        Ok(self.enc.forward(input, Some(&eps)))
    }

    /// `T(x, z)` for encoder inputs `[b, ...shape]` and codes `[b, d]`: `[b]` nats (at the
    /// optimum, `log q(z|x) - log p(z)`).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn t(&self, input: &Tensor, z: &Tensor) -> Result<Tensor> {
        let x = input.f_reshape([input.size()[0], -1])?;
        self.t.forward(&Tensor::f_cat(&[x, z.shallow_clone()], 1)?)
    }

    /// One step (Algorithm 1): `T` on `(x, z ~ q)` (positives) against `(x, z ~ p)`, then the
    /// encoder and decoder on `-log p(x|z) + T(x, z)`. Parts: `d_loss`, the objective's parts,
    /// `d_real`, `d_fake`, `recon` (nats per example), `t_kl` (the batch mean of `T`, the KL
    /// estimate), `g_loss` (`recon + t_kl`, the negative ELBO estimate).
    ///
    /// # Errors
    /// Data the likelihood cannot take; a diverging player (named with the step); a libtorch
    /// error.
    pub fn step(&self, x: &Tensor, opt: &mut dyn Optimize) -> Result<Losses> {
        let prep = self.lik.prepare(x, Mode::Train)?;
        let b = prep.input.size()[0];
        let z_q = tch::no_grad(|| self.encode(&prep.input))?;
        let z_p = Tensor::f_randn([b, self.cfg.latent_dim], (Kind::Float, self.device))?;
        let (d_q, d_p) = (self.t(&prep.input, &z_q)?, self.t(&prep.input, &z_p)?);
        let d = disc_update("avb", &self.cfg.game, &d_q, &d_p, opt)?;
        let z = self.encode(&prep.input)?;
        let log_px = self
            .lik
            .log_prob(&self.dec.forward(&z, None), &prep.target)?;
        let recon = log_px.f_mean(Kind::Float)?.f_neg()?;
        let t_kl = self.t(&prep.input, &z)?.f_mean(Kind::Float)?;
        let loss = recon.f_add(&t_kl)?;
        let losses = d.with("recon", recon.detach()).with("t_kl", t_kl.detach());
        gen_update("avb", &self.cfg.game, losses, &loss, &t_kl, opt)
    }

    /// `E_q[log p(x|z) - T(x, z)]` in nats over `data` (the evaluation's static binarization
    /// seeded by `opts.seed`), [`ELBO_DRAWS`] encoder draws per example: AVB's own ELBO estimate (eq. 3.6 with the trained `T`).
    ///
    /// # Errors
    /// Data the likelihood cannot take; a libtorch error.
    pub fn t_elbo(&self, data: &Dataset, opts: &EvalOptions) -> Result<f64> {
        let data = genzoo_vae::eval::eval_subset(data, opts)?;
        let prep = self.lik.prepare(&data.x, Mode::Eval { seed: opts.seed })?;
        genzoo_core::seed::seed_torch_stream(opts.seed, "avb-elbo", 0);
        let (n, bs) = (data.len(), opts.batch_size.max(1));
        let mut total = 0.0;
        tch::no_grad(|| -> Result<()> {
            for _ in 0..ELBO_DRAWS {
                let mut i = 0;
                while i < n {
                    let m = bs.min(n - i);
                    let (input, target) = (prep.input.narrow(0, i, m), prep.target.narrow(0, i, m));
                    let z = self.encode(&input)?;
                    let lp = self.lik.log_prob(&self.dec.forward(&z, None), &target)?;
                    let v = lp.f_sub(&self.t(&input, &z)?)?;
                    total += v.f_sum(Kind::Double)?.f_double_value(&[])?;
                    i += m;
                }
            }
            Ok(())
        })?;
        Ok(total / (n as f64 * ELBO_DRAWS as f64))
    }
}

impl LatentModel for Avb {
    fn latent_dim(&self) -> i64 {
        self.cfg.latent_dim
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn likelihood(&self) -> &dyn DecoderLikelihood {
        self.lik.as_ref()
    }
    /// The Gaussian moment-matched to [`PROPOSAL_DRAWS`] draws of the implicit encoder per
    /// example (standard deviations floored at [`PROPOSAL_MIN_STD`]).
    fn posterior(&self, input: &Tensor, cond: Option<&Tensor>) -> Result<DiagGaussian> {
        let _ = cond;
        let b = input.size()[0];
        let z = self
            .encode(&expand_rows(input, PROPOSAL_DRAWS)?)?
            .f_reshape([PROPOSAL_DRAWS, b, self.cfg.latent_dim])?;
        let loc = z.f_mean_dim(0, false, Kind::Float)?;
        let std = z.f_std_dim(0, true, false)?.f_clamp_min(PROPOSAL_MIN_STD)?;
        DiagGaussian::from_scale(&loc, &std)
    }
    fn log_prior(&self, z: &Tensor) -> Result<Tensor> {
        let n = z.size().last().copied().unwrap_or(0) as f64;
        Ok(z.f_square()?
            .f_sum_dim_intlist(-1, false, Kind::Float)?
            .f_mul_scalar(-0.5)?
            .f_sub_scalar(0.5 * n * (2.0 * std::f64::consts::PI).ln())?)
    }
    fn decode(&self, z: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        Ok(self.dec.forward(z, cond))
    }
}

impl PerExampleNll for Avb {
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll> {
        genzoo_vae::eval::is_nll_per_example(self, data, opts)
    }
}

impl Network for Avb {
    fn name(&self) -> &str {
        "avb"
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
    /// The VAE family's report with the moment-matched proposal (see the module), and
    /// `avb_elbo_nats`, AVB's own ELBO estimate.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let mut r = genzoo_vae::eval::evaluate("avb", self, data, opts)?;
        r.metrics
            .insert("avb_elbo_nats".into(), self.t_elbo(data, opts)?);
        r.data.push_str(&format!(
            "; proposal: a Gaussian moment-matched to {PROPOSAL_DRAWS} draws of the implicit encoder; avb_elbo_nats uses the trained T (an estimate)"
        ));
        Ok(r)
    }
    /// Adam with beta1 = 0.5 for both players, as the GANs.
    fn adam_betas(&self) -> Option<[f64; 2]> {
        Some([0.5, 0.999])
    }
    /// `z ~ N(0, I)` (seeded) through the decoder's mean.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        check_n(n)?;
        genzoo_core::seed::seed_torch_stream(seed, "avb-sample", 0);
        let z = Tensor::f_randn([n, self.cfg.latent_dim], (Kind::Float, self.device))?;
        decode_prior_samples(self, &z)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(self)
    }
}
