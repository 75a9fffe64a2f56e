//! InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
//! Maximizing Generative Adversarial Nets"): the generator's input is noise `z` and a latent code
//! `c` (categorical codes, one-hot, uniform over their categories; continuous codes uniform on
//! `[-1, 1]`), and an auxiliary network Q(c|x), a head on the discriminator's body (sec. 5),
//! recovers the code from the generated image. Maximizing the variational lower bound on the
//! mutual information (eq. 4-5)
//!
//! `L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)}[log Q(c|x)] + H(c) <= I(c; G(z, c))`
//!
//! makes each code a factor the samples vary with (the digit class, the slant, the width on
//! MNIST, without labels). Both players add `-lambda L_I` to their losses (eq. 6; the official
//! code adds it to the discriminator's and the generator's, which trains Q with the
//! discriminator's body). Q: a categorical head per categorical code, a factored Gaussian (mean
//! and log standard deviation, the latter soft-clamped to `(-2.5, 2.5)` by `2.5 tanh(s / 2.5)`,
//! or the standard deviation fixed at 1 as the official code's with `q_scale = "fixed"`) for the
//! continuous codes.
//!
//! The players are DCGAN's ([`crate::dcgan`]) with the code appended to the noise; Q is
//! `disc.q.fc1` (LeakyReLU 0.2) and `disc.q.fc2` on the discriminator's last maps. Differences
//! from the paper's MNIST network: no batch norm in Q, no FC1024 layer in either player (Q
//! branches from the flattened maps), DCGAN's convolutional sizes, Gaussian noise.
//!
//! Reported with every step: `mi_lower_bound` (nats, the bound above on the step's batch; its
//! categorical part is at most `sum ln K`, its continuous part uses differential entropies and,
//! with Q's scale learned, can pass `H(c)`), `q_cat_ce` and `q_cont_nll` (nats). `wgan-clip` is refused (clipping Q's
//! weights with the critic's would silence the information term). Catalogue name `infogan`.
use crate::game::DISC;
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{nn, Device, Kind, Tensor};

use crate::dcgan::{self, Dcgan};
use crate::game::{Adversarial, Game};
use crate::nets::leaky_relu;
use genzoo_core::data::DataKind;
use genzoo_core::model::Losses;
use genzoo_core::{CoreError, Result};

/// The latent code `c`: categorical codes (one-hot blocks) then continuous ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Codes {
    /// The categories of each categorical code (MNIST: `[10]`).
    pub categorical: Vec<i64>,
    /// How many continuous codes, each uniform on `[-1, 1]`.
    pub continuous: i64,
}

impl Codes {
    /// Width of `c`: the categories summed, plus the continuous codes.
    pub fn dims(&self) -> i64 {
        self.categorical.iter().sum::<i64>() + self.continuous
    }

    /// `H(c)` in nats: `sum ln K_i` over the categorical codes plus `ln 2` (the differential
    /// entropy of U(-1, 1)) per continuous code. The ceiling of the mutual information with the
    /// categorical codes; the continuous codes' part is differential and has none.
    pub fn entropy(&self) -> f64 {
        self.categorical
            .iter()
            .map(|&k| (k as f64).ln())
            .sum::<f64>()
            + self.continuous as f64 * 2f64.ln()
    }

    /// Q's outputs: the logits of each categorical code, then a mean and a log standard
    /// deviation per continuous code.
    fn q_outputs(&self) -> i64 {
        self.categorical.iter().sum::<i64>() + 2 * self.continuous
    }

    /// Checks the sizes.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`codes.categorical`) for a code of fewer than 2 categories,
    /// (`codes.continuous`) for a negative count, (`codes`) for no code at all.
    pub fn validate(&self) -> Result<()> {
        if self.categorical.iter().any(|&k| k < 2) {
            return Err(CoreError::config(
                "codes.categorical",
                format!("{:?}: every code needs >= 2 categories", self.categorical),
            ));
        }
        if self.continuous < 0 {
            return Err(CoreError::config("codes.continuous", "must be >= 0"));
        }
        if self.dims() == 0 {
            return Err(CoreError::config(
                "codes",
                "InfoGAN needs at least one categorical or continuous code",
            ));
        }
        Ok(())
    }

    /// `b` codes `[b, dims]` from torch's generator; the first categorical code set to
    /// `first` (`i64 [b]`) when given.
    ///
    /// # Errors
    /// A libtorch error (labels outside the first code's categories).
    pub fn sample(&self, b: i64, first: Option<&Tensor>, device: Device) -> Result<Tensor> {
        let mut parts = vec![];
        for (i, &k) in self.categorical.iter().enumerate() {
            let idx = match first.filter(|_| i == 0) {
                Some(y) => y.f_to_device(device)?.f_to_kind(Kind::Int64)?,
                None => Tensor::f_randint(k, [b], (Kind::Int64, device))?,
            };
            parts.push(idx.f_one_hot(k)?.f_to_kind(Kind::Float)?);
        }
        if self.continuous > 0 {
            let u = Tensor::f_rand([b, self.continuous], (Kind::Float, device))?;
            parts.push(u.f_mul_scalar(2.0)?.f_sub_scalar(1.0)?);
        }
        Ok(Tensor::f_cat(&parts, 1)?)
    }
}

/// The bound of the continuous codes' log standard deviation in Q, `|log sigma| < 2.5`.
pub const LOG_SCALE_BOUND: f64 = 2.5;

/// The standard deviation of Q's Gaussian for the continuous codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QScale {
    /// Q's second output per code, soft-clamped to `(-LOG_SCALE_BOUND, LOG_SCALE_BOUND)`.
    #[default]
    Learned,
    /// 1, as the official code's `Uniform(fix_std=True)`: the continuous part is
    /// `(c - mu)^2 / 2 + ln(2 pi) / 2` per code, and a small learned scale cannot multiply its
    /// gradient (by up to `e^5` at the bound) over the categorical code's. Q's log-scale
    /// outputs stay in the network, unused.
    Fixed,
}

/// The parts of `-L_I` for codes `c [b, dims]` and Q's outputs `[b, q_outputs]`: the
/// categorical cross-entropies summed over codes and the continuous codes' Gaussian NLLs summed,
/// each a batch mean in nats, with Q's standard deviations as `scale` says.
/// `E[log Q(c|x)] = -(ce + nll)`, so `L_I = H(c) - ce - nll`.
///
/// # Errors
/// A libtorch error (shapes that do not fit `codes`).
pub fn q_nll(codes: &Codes, c: &Tensor, q: &Tensor, scale: QScale) -> Result<(Tensor, Tensor)> {
    let dev = c.device();
    let mut ce = Tensor::f_zeros([], (Kind::Float, dev))?;
    let mut off = 0;
    for &k in &codes.categorical {
        let target = c.f_narrow(1, off, k)?.f_argmax(1, false)?;
        let logp = q.f_narrow(1, off, k)?.f_log_softmax(1, Kind::Float)?;
        let nll = logp
            .f_gather(1, &target.f_unsqueeze(1)?, false)?
            .f_mean(Kind::Float)?
            .f_neg()?;
        ce = ce.f_add(&nll)?;
        off += k;
    }
    let n = codes.continuous;
    let nll = if n > 0 {
        let value = c.f_narrow(1, off, n)?;
        let loc = q.f_narrow(1, off, n)?;
        // Soft-clamped to (-LOG_SCALE_BOUND, LOG_SCALE_BOUND): a hard clamp's zero gradient
        // would freeze an output that starts outside the range.
        let log_scale = match scale {
            QScale::Learned => q
                .f_narrow(1, off + n, n)?
                .f_div_scalar(LOG_SCALE_BOUND)?
                .f_tanh()?
                .f_mul_scalar(LOG_SCALE_BOUND)?,
            QScale::Fixed => loc.f_zeros_like()?,
        };
        let g = genzoo_core::dist::DiagGaussian::new(&loc, &log_scale)?;
        g.f_log_prob(&value)?
            .f_sum_dim_intlist(1, false, Kind::Float)?
            .f_mean(Kind::Float)?
            .f_neg()?
    } else {
        Tensor::f_zeros([], (Kind::Float, dev))?
    };
    Ok((ce, nll))
}

/// InfoGAN's configuration: DCGAN's keys (`latent_dim` the noise dimensions, the [`Game`] keys
/// at the top level), the codes and the weights of `L_I`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub players: dcgan::Config,
    pub codes: Codes,
    /// Weight lambda of the categorical codes' part of `L_I`.
    pub lambda_cat: f64,
    /// Weight lambda of the continuous codes' part (smaller keeps it on the GAN loss's scale,
    /// sec. 6).
    pub lambda_cont: f64,
    /// Q's hidden width.
    pub q_hidden: i64,
    /// Q's standard deviation for the continuous codes (`learned`, the default, or `fixed` at 1).
    #[serde(default)]
    pub q_scale: QScale,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "tiny"];

impl Config {
    /// A named preset for 28x28 grey images (the catalogue sets `data` from the dataset), each
    /// with the non-saturating loss:
    /// * `paper`: the MNIST setting of sec. 6 and appendix C.1: 62 noise dimensions, one
    ///   10-way categorical code and 2 continuous codes, lambda 1 for both (the official code's
    ///   `info_reg_coeff`), 128 generator maps at 7x7, a 64-128 discriminator, Q of width 128;
    ///   unlike the paper's network, no FC1024 layer in either player, Gaussian rather than
    ///   uniform noise, no batch norm in Q, and Q's scale learned (`q_scale = "fixed"` is the
    ///   official code's).
    /// * `mnist`: DCGAN's `mnist` sizes (64 maps, a 32-64 discriminator) with the same codes,
    ///   lambda_cont 0.5.
    /// * `tiny`: a few maps, a 3-way code and one continuous code, for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let mut players = dcgan::Config::preset(if name == "tiny" { "tiny" } else { "mnist" })?;
        let mnist_codes = Codes {
            categorical: vec![10],
            continuous: 2,
        };
        let (codes, lambda_cont, q_hidden) = match name {
            "paper" => {
                players.latent_dim = 62;
                players.gen_channels = 128;
                players.disc_channels = 64;
                (mnist_codes, 1.0, 128)
            }
            "mnist" => (mnist_codes, 0.5, 128),
            "tiny" => (
                Codes {
                    categorical: vec![3],
                    continuous: 1,
                },
                1.0,
                8,
            ),
            _ => return None,
        };
        Some(Config {
            players,
            codes,
            lambda_cat: 1.0,
            lambda_cont,
            q_hidden,
            q_scale: QScale::Learned,
        })
    }
}

/// InfoGAN: DCGAN's players with the code appended to the noise, and Q on the discriminator.
#[derive(Debug)]
pub struct InfoGan {
    pub cfg: Config,
    pub players: Dcgan,
    q1: nn::Linear,
    q2: nn::Linear,
}

impl InfoGan {
    /// Builds the players under `p / "gen"`, `p / "disc"` and Q under `p / "disc" / "q"`.
    ///
    /// # Errors
    /// DCGAN's configuration errors ([`Dcgan::new`]), bad codes ([`Codes::validate`]), a
    /// negative or non-finite lambda (`lambda_cat`, `lambda_cont`), `q_hidden` below 1.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        cfg.codes.validate()?;
        for (key, v) in [
            ("lambda_cat", cfg.lambda_cat),
            ("lambda_cont", cfg.lambda_cont),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(CoreError::config(
                    key,
                    format!("{v} must be finite and >= 0"),
                ));
            }
        }
        if cfg.q_hidden < 1 {
            return Err(CoreError::config("q_hidden", "must be >= 1"));
        }
        if cfg.players.game.objective == crate::Objective::WganClip {
            return Err(CoreError::config(
                "objective",
                "wgan-clip would clip Q's weights with the critic's, silencing the information term: use wgan-gp or a logistic objective",
            ));
        }
        let mut inner = cfg.players.clone();
        inner.latent_dim += cfg.codes.dims();
        let players = Dcgan::new(p, &inner)?;
        if let Some(n) = cfg.players.game.tricks.virtual_batch_norm {
            // The reference batch comes from the generator's own input distribution.
            let z = Tensor::f_randn([n, cfg.players.latent_dim], (Kind::Float, p.device()))?;
            let c = cfg.codes.sample(n, None, p.device())?;
            players.gen.set_vbn_reference(&Tensor::f_cat(&[z, c], 1)?)?;
        }
        let features = players.disc.features();
        let q = p / DISC / "q";
        Ok(InfoGan {
            q1: nn::linear(&q / "fc1", features, cfg.q_hidden, Default::default()),
            q2: nn::linear(
                &q / "fc2",
                cfg.q_hidden,
                cfg.codes.q_outputs(),
                Default::default(),
            ),
            players,
            cfg: cfg.clone(),
        })
    }

    /// Q's outputs `[b, q_outputs]` for the discriminator's features `[b, k]`.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn q(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self
            .q2
            .forward(&leaky_relu(&self.q1.forward(features), 0.2)?))
    }

    fn noise_dim(&self) -> i64 {
        self.cfg.players.latent_dim
    }
}

impl Adversarial for InfoGan {
    fn name(&self) -> &str {
        "infogan"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn game(&self) -> &Game {
        &self.cfg.players.game
    }
    fn data(&self) -> DataKind {
        self.cfg.players.data
    }
    fn latent_dim(&self) -> i64 {
        self.noise_dim() + self.cfg.codes.dims()
    }
    fn device(&self) -> Device {
        self.players.device()
    }
    fn sample_latent(&self, b: i64, classes: Option<&Tensor>) -> Result<Tensor> {
        let dev = self.device();
        let z = Tensor::f_randn([b, self.noise_dim()], (Kind::Float, dev))?;
        let c = self.cfg.codes.sample(b, classes, dev)?;
        Ok(Tensor::f_cat(&[z, c], 1)?)
    }
    fn latent_classes(&self) -> Option<i64> {
        self.cfg.codes.categorical.first().copied()
    }
    fn info_loss(&self, z: &Tensor, features: &Tensor) -> Result<Option<Losses>> {
        let codes = &self.cfg.codes;
        let c = z.f_narrow(1, self.noise_dim(), codes.dims())?;
        let (ce, nll) = q_nll(codes, &c, &self.q(features)?, self.cfg.q_scale)?;
        let total = ce
            .f_mul_scalar(self.cfg.lambda_cat)?
            .f_add(&nll.f_mul_scalar(self.cfg.lambda_cont)?)?;
        let bound = ce.f_add(&nll)?.f_neg()?.f_add_scalar(codes.entropy())?;
        Ok(Some(
            Losses::new(total)
                .with("mi_lower_bound", bound.detach())
                .with("q_cat_ce", ce.detach())
                .with("q_cont_nll", nll.detach()),
        ))
    }
    /// Each continuous code is a factor; with none, the first categorical code's categories.
    fn traversal_factors(&self) -> usize {
        self.cfg.codes.continuous.max(1) as usize
    }
    /// One row per category of the first categorical code (one row without such a code), each
    /// row with its own noise and its own draw of any further categorical codes; continuous code
    /// `factor` sweeps `[-2, 2]` (beyond the trained `[-1, 1]`, as Fig. 2 of the paper), the
    /// other continuous codes at 0. Without continuous
    /// codes: the categories sweep along one row per noise draw (10 rows).
    fn traversal_latent(&self, factor: usize, steps: i64) -> Result<Tensor> {
        let codes = &self.cfg.codes;
        let dev = self.device();
        if factor >= self.traversal_factors() {
            return Err(CoreError::Invalid(format!(
                "infogan has {} traversable codes; got factor {factor}",
                self.traversal_factors()
            )));
        }
        let rows = if codes.continuous == 0 {
            10
        } else {
            self.latent_classes().unwrap_or(1)
        };
        let n = rows * steps;
        let row = Tensor::f_arange(n, (Kind::Int64, dev))?.f_div_scalar_mode(steps, "floor")?;
        let col = Tensor::f_arange(n, (Kind::Int64, dev))?.f_remainder(steps)?;
        let noise = Tensor::f_randn([rows, self.noise_dim()], (Kind::Float, dev))?
            .f_index_select(0, &row)?;
        // Each row's own draw of the other categorical codes; continuous codes at 0.
        let c = codes.sample(rows, None, dev)?.f_index_select(0, &row)?;
        let n_cat = codes.categorical.iter().sum::<i64>();
        if codes.continuous > 0 {
            let _ = c.f_narrow(1, n_cat, codes.continuous)?.f_zero_()?;
        }
        if let Some(&k) = codes.categorical.first() {
            let cat = if codes.continuous == 0 {
                col.f_remainder(k)?
            } else {
                row.f_remainder(k)?
            };
            c.f_narrow(1, 0, k)?
                .f_copy_(&cat.f_one_hot(k)?.f_to_kind(Kind::Float)?)?;
        }
        if codes.continuous > 0 {
            let sweep = col
                .f_to_kind(Kind::Float)?
                .f_mul_scalar(4.0 / (steps - 1) as f64)?
                .f_sub_scalar(2.0)?;
            let off = codes.categorical.iter().sum::<i64>() + factor as i64;
            c.f_narrow(1, off, 1)?.f_copy_(&sweep.f_unsqueeze(1)?)?;
        }
        Ok(Tensor::f_cat(&[noise, c], 1)?)
    }
    fn generate(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.players.generate(z, y, train)
    }
    fn disc_features(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        self.players.disc_features(x, y, train)
    }
    fn disc_params(&self) -> Vec<Tensor> {
        let mut v = self.players.disc_params();
        for l in [&self.q1, &self.q2] {
            v.extend(crate::nets::layer_params(&l.ws, l.bs.as_ref()));
        }
        v
    }
    fn gen_params(&self) -> Vec<Tensor> {
        self.players.gen_params()
    }
}
