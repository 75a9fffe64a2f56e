//! BiGAN (Donahue, Krähenbühl & Darrell 2017, "Adversarial Feature Learning") and ALI
//! (Dumoulin et al. 2017, "Adversarially Learned Inference"): a generator `G(z)`, an encoder
//! `E(x)` and a discriminator on joint pairs, `D(x, z)`, which tells data pairs `(x, E(x))` from
//! generated pairs `(G(z), z)`. At the optimum the two joint distributions match, so `E`
//! inverts `G` (BiGAN, Theorem 2): `G(E(x))` reconstructs `x`, although no reconstruction loss
//! is ever trained.
//!
//! * `encoder = "deterministic"`: BiGAN's `E(x)`.
//! * `encoder = "gaussian"`: ALI's stochastic `q(z|x) = N(mu(x), sigma(x)^2)`, reparameterized
//!   (sec. 2.2); reconstructions use its mean.
//!
//! The codes (ALI: the means) are soft-clamped to `(-4, 4)` ([`CODE_BOUND`]), where N(0, I)
//! keeps all but 1e-4 of its mass per dimension: unbounded, the encoder ran off to codes no prior
//! draw comes near and the game diverged.
//!
//! The discriminator's game is the objective's (eq. 3 of BiGAN for the logistic ones), the data
//! pairs positive. The generator and encoder are one player (`gen.g.*`, `gen.enc.*`): `G`
//! minimizes the objective's generator loss on `D(G(z), z)`, `E` the same loss on
//! `-D(x, E(x))`, which swaps the two sides for the logistic and hinge objectives (the inverted
//! labels of the papers' code). MLP networks (ReLU generator, LeakyReLU 0.2 encoder and
//! discriminator; the discriminator sees `[x, z]` concatenated, with dropout), batch norm in the
//! generator's and encoder's hidden layers (`batch_norm`, as the paper's MNIST networks: without
//! it the discriminator wins `mnist10k` outright within a few hundred steps and never lets go).
//! Differences from the papers: no separate x and z pathways in `D`, no batch norm in `D`,
//! Gaussian rather than uniform `z`.
//!
//! Evaluation ([`Network::evaluate`]): no likelihood; `d_real` (data pairs, with ALI's mean
//! codes rather than the sampled ones it trained on), `d_fake`, the discriminator's `disc_auc`
//! (dropout off), and `recon_mse`, the mean squared error of `G(E(x))` on test
//! images (pixels in `[0, 1]`; vectors as stored) beside `recon_mse_mean`, that of the test
//! set's mean example, the figure an encoder that ignored its input would reach. Catalogue name
//! `bigan`.
use genzoo_core::model::Family;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::eval::auc;
use crate::game::{model_space, player_groups, DISC, GEN};
use crate::latent_game::{check_n, disc_update, gen_update, Critic, LatentGame};
use crate::nets::{Act, Mlp};
use crate::objective::Objective;
use genzoo_core::data::{transforms, Batch, DataKind, Dataset};
use genzoo_core::model::{
    EvalOptions, EvalReport, Losses, Network, Optimize, ParamGroup, Reconstruct,
};
use genzoo_core::{CoreError, Result};

/// The encoder's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoder {
    /// BiGAN's `z = E(x)`.
    Deterministic,
    /// ALI's `z ~ N(mu(x), sigma(x)^2)`.
    Gaussian,
}

/// BiGAN's (ALI's) configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The data modelled (set from the dataset): images or vectors.
    pub data: DataKind,
    /// Latent dimensions, `z ~ N(0, I)`.
    pub latent_dim: i64,
    /// The generator's hidden widths (ReLU).
    pub gen_hidden: Vec<i64>,
    /// The encoder's hidden widths (LeakyReLU 0.2).
    pub enc_hidden: Vec<i64>,
    /// The discriminator's hidden widths on `[x, z]` (LeakyReLU 0.2).
    pub disc_hidden: Vec<i64>,
    /// Dropout after each of the discriminator's hidden layers in training (BiGAN's MNIST
    /// discriminator uses dropout; without it this one wins the game outright).
    #[serde(default)]
    pub disc_dropout: f64,
    /// Batch norm before each hidden activation of the generator and the encoder (the
    /// paper's MNIST networks; sampling and reconstructions use the running statistics).
    #[serde(default)]
    pub batch_norm: bool,
    pub encoder: Encoder,
    #[serde(flatten)]
    pub game: LatentGame,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "ali", "toy", "tiny"];

impl Config {
    /// A named preset (the catalogue sets `data`), each with the non-saturating game:
    /// * `paper`: BiGAN's MNIST setting as far as MLPs go (sec. 4.2): 50 latent dimensions,
    ///   1024-1024 generator, encoder and discriminator, a deterministic encoder, dropout 0.2
    ///   in the discriminator and batch norm in the generator and encoder (every preset but
    ///   `toy`).
    /// * `mnist`: 32 latent dimensions, 256-512 generator, 512-256 encoder and discriminator.
    /// * `ali`: `mnist` with ALI's Gaussian encoder.
    /// * `toy`: 2-D vectors, 2 latent dimensions, 64-64 networks, a deterministic encoder.
    /// * `tiny`: a few units for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let (latent_dim, gen_hidden, enc_hidden, encoder) = match name {
            "toy" => (2, vec![64, 64], vec![64, 64], Encoder::Deterministic),
            "paper" => (
                50,
                vec![1024, 1024],
                vec![1024, 1024],
                Encoder::Deterministic,
            ),
            "mnist" => (32, vec![256, 512], vec![512, 256], Encoder::Deterministic),
            "ali" => (32, vec![256, 512], vec![512, 256], Encoder::Gaussian),
            "tiny" => (3, vec![16], vec![16], Encoder::Gaussian),
            _ => return None,
        };
        let data = match name {
            "toy" => DataKind::Vector { dim: 2 },
            _ => crate::mlp_gan::MNIST,
        };
        Some(Config {
            data,
            latent_dim,
            disc_hidden: enc_hidden.clone(),
            disc_dropout: if name == "toy" { 0.0 } else { 0.2 },
            batch_norm: name != "toy",
            gen_hidden,
            enc_hidden,
            encoder,
            game: LatentGame::non_saturating(),
        })
    }
}

/// BiGAN / ALI: generator `gen.g.fc*`, encoder `gen.enc.fc*`, discriminator `disc.fc*`.
#[derive(Debug)]
pub struct Bigan {
    pub cfg: Config,
    pub gen: Mlp,
    pub enc: Mlp,
    pub disc: Critic,
    device: Device,
}

/// Where the encoder's codes (ALI: means) are soft-clamped, `CODE_BOUND tanh(h / CODE_BOUND)`:
/// N(0, 1) puts under 1e-4 of its mass beyond 4, and an unbounded encoder can run off to codes
/// no prior draw comes near, where the discriminator's logits explode (a 3,000-step `mnist10k`
/// run diverged so at step 2,098).
pub const CODE_BOUND: f64 = 4.0;

/// `CODE_BOUND tanh(h / CODE_BOUND)`: slope 1 at 0, within `(-CODE_BOUND, CODE_BOUND)`.
fn soft_bound(h: &Tensor) -> Result<Tensor> {
    Ok(h.f_div_scalar(CODE_BOUND)?
        .f_tanh()?
        .f_mul_scalar(CODE_BOUND)?)
}

/// The widths `input, hidden..., output`.
fn sizes(input: i64, hidden: &[i64], output: i64) -> Vec<i64> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain([output])
        .collect()
}

impl Bigan {
    /// Builds the three networks under `p / "gen" / "g"`, `p / "gen" / "enc"` and `p / "disc"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for data other than images or vectors (`data`), `latent_dim`
    /// below 1, a width below 1 (`gen_hidden`, `enc_hidden`, `disc_hidden`), an objective other
    /// than `minimax`, `non-saturating` or `hinge` (whose sides the encoder's loss can swap), or
    /// a bad `max_loss`.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        cfg.game.validate()?;
        if !matches!(
            cfg.game.objective,
            Objective::Minimax | Objective::NonSaturating | Objective::Hinge
        ) {
            return Err(CoreError::config(
                "objective",
                "bigan's encoder plays the generator's loss with the sides swapped, which holds for minimax, non-saturating and hinge only",
            ));
        }
        if !(cfg.data.is_image() || cfg.data.is_vector()) {
            return Err(CoreError::config("data", "bigan models images or vectors"));
        }
        if cfg.latent_dim < 1 {
            return Err(CoreError::config("latent_dim", "must be >= 1"));
        }
        let (d, z) = (cfg.data.dims(), cfg.latent_dim);
        let enc_out = match cfg.encoder {
            Encoder::Deterministic => z,
            Encoder::Gaussian => 2 * z,
        };
        let g = p / GEN;
        let normed = |m: Mlp, p: &nn::Path| {
            if cfg.batch_norm {
                m.with_batch_norm(p)
            } else {
                m
            }
        };
        let (gp, ep) = (&g / "g", &g / "enc");
        Ok(Bigan {
            gen: normed(
                Mlp::new(&gp, &sizes(z, &cfg.gen_hidden, d), Act::Relu, "gen_hidden")?,
                &gp,
            ),
            enc: normed(
                Mlp::new(
                    &ep,
                    &sizes(d, &cfg.enc_hidden, enc_out),
                    Act::LeakyRelu,
                    "enc_hidden",
                )?,
                &ep,
            ),
            disc: Critic::new(&(p / DISC), d + z, &cfg.disc_hidden, "disc_hidden")?
                .with_dropout(cfg.disc_dropout)?,
            device: p.device(),
            cfg: cfg.clone(),
        })
    }

    /// `G(z)`: `[b, latent_dim]` to examples `[b, ...shape]` in model space (images through
    /// tanh to `[-1, 1]`); `train`: batch norm on the batch's statistics.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn generate(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.gen.forward(z, train)?;
        let x = if self.cfg.data.is_image() {
            x.f_tanh()?
        } else {
            x
        };
        let mut shape = vec![z.size()[0]];
        shape.extend(self.cfg.data.example_shape());
        Ok(x.f_reshape(shape.as_slice())?)
    }

    /// `E(x)` for examples in model space: codes `[b, latent_dim]`; with the Gaussian encoder
    /// a reparameterized draw (`sample`) or the mean; `train`: batch norm on the batch's
    /// statistics (else the running ones).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn encode(&self, x: &Tensor, sample: bool, train: bool) -> Result<Tensor> {
        let h = self.enc.forward(&x.f_reshape([x.size()[0], -1])?, train)?;
        match self.cfg.encoder {
            Encoder::Deterministic => soft_bound(&h),
            Encoder::Gaussian => {
                let parts = h.f_chunk(2, 1)?;
                let mu = soft_bound(&parts[0])?;
                if !sample {
                    return Ok(mu);
                }
                let scale = parts[1].f_clamp(-10.0, 2.0)?.f_exp()?;
                let eps = mu.f_randn_like()?;
                Ok(mu.f_add(&eps.f_mul(&scale)?)?)
            }
        }
    }

    /// `D(x, z)`: examples in model space `[b, ...shape]` and codes `[b, latent_dim]` to raw
    /// outputs `[b]`.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn discriminate(&self, x: &Tensor, z: &Tensor) -> Result<Tensor> {
        self.discriminate_t(x, z, true)
    }

    /// [`Bigan::discriminate`] with dropout on (`train`) or off.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn discriminate_t(&self, x: &Tensor, z: &Tensor, train: bool) -> Result<Tensor> {
        let flat = x.f_reshape([x.size()[0], -1])?;
        self.disc
            .forward_t(&Tensor::f_cat(&[flat, z.shallow_clone()], 1)?, train)
    }

    fn noise(&self, b: i64) -> Result<Tensor> {
        Ok(Tensor::f_randn(
            [b, self.cfg.latent_dim],
            (Kind::Float, self.device),
        )?)
    }

    /// One step: the discriminator on `(x, E(x))` against `(G(z), z)`, then the generator and
    /// encoder together. Parts: `d_loss`, the objective's parts, `d_real`, `d_fake`,
    /// `g_generator`, `g_encoder`, `g_loss` (their sum).
    ///
    /// # Errors
    /// Data of another shape than the model's; a diverging player (named with the step); a
    /// libtorch error.
    pub fn step(&self, x: &Tensor, opt: &mut dyn Optimize) -> Result<Losses> {
        let x = model_space("bigan", self.cfg.data, self.device, x)?;
        let z = self.noise(x.size()[0])?;
        let (ex, gz) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
            Ok((self.encode(&x, true, true)?, self.generate(&z, true)?))
        })?;
        let (d_real, d_fake) = (self.discriminate(&x, &ex)?, self.discriminate(&gz, &z)?);
        let d = disc_update("bigan", &self.cfg.game, &d_real, &d_fake, opt)?;
        let objective = self.cfg.game.objective;
        let g_side = |out: &Tensor| -> Result<Tensor> {
            objective
                .g_losses(out)?
                .get("g_loss")
                .map(Tensor::shallow_clone)
                .ok_or_else(|| CoreError::Invalid("the objective returned no `g_loss`".into()))
        };
        let g = g_side(&self.discriminate(&self.generate(&z, true)?, &z)?)?;
        let e = g_side(
            &self
                .discriminate(&x, &self.encode(&x, true, true)?)?
                .f_neg()?,
        )?;
        let losses = d
            .with("g_generator", g.detach())
            .with("g_encoder", e.detach());
        let loss = g.f_add(&e)?;
        gen_update("bigan", &self.cfg.game, losses, &loss, &loss, opt)
    }

    /// `G(E(x))` in model space for examples in model space (the encoder's mean).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn reconstruct_model_space(&self, x: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| self.generate(&self.encode(x, false, false)?, false))
    }

    /// Model space to the layout of samples (images to `[0, 1]`).
    fn to_sample_space(&self, x: Tensor) -> Tensor {
        if self.cfg.data.is_image() {
            transforms::symmetric_to_unit(&x)
        } else {
            x
        }
    }
}

impl Reconstruct for Bigan {
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        let x = model_space("bigan", self.cfg.data, self.device, x)?;
        Ok(self.to_sample_space(self.reconstruct_model_space(&x)?))
    }
}

/// Mean squared error per element between `a` and `b` (same shapes).
fn mse(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok(a.f_sub(b)?
        .f_square()?
        .f_mean(Kind::Double)?
        .f_double_value(&[])?)
}

impl Network for Bigan {
    fn name(&self) -> &str {
        "bigan"
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
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let data = genzoo_vae::eval::eval_subset(data, opts)?;
        let n = data.len();
        let mut metrics = std::collections::BTreeMap::new();
        tch::no_grad(|| -> Result<()> {
            let x = model_space("bigan", self.cfg.data, self.device, &data.x)?;
            genzoo_core::seed::seed_torch_stream(opts.seed, "bigan-eval", 0);
            let z = self.noise(n)?;
            let r = self.discriminate_t(&x, &self.encode(&x, false, false)?, false)?;
            let f = self.discriminate_t(&self.generate(&z, false)?, &z, false)?;
            metrics.insert(
                "d_real".into(),
                r.f_mean(Kind::Double)?.f_double_value(&[])?,
            );
            metrics.insert(
                "d_fake".into(),
                f.f_mean(Kind::Double)?.f_double_value(&[])?,
            );
            metrics.insert("disc_auc".into(), auc(&r, &f)?);
            let unit = self.to_sample_space(x.shallow_clone());
            let rec = self.to_sample_space(self.reconstruct_model_space(&x)?);
            let mean = unit.f_mean_dim(0, true, Kind::Float)?.f_expand_as(&unit)?;
            metrics.insert("recon_mse".into(), mse(&rec, &unit)?);
            metrics.insert("recon_mse_mean".into(), mse(&mean, &unit)?);
            Ok(())
        })?;
        Ok(EvalReport {
            nll: None,
            data: format!(
                "{} ({n}); bigan ({:?} encoder): no likelihood; recon_mse of G(E(x)) on {} beside recon_mse_mean, the test mean's",
                data.name,
                self.cfg.encoder,
                if self.cfg.data.is_image() { "[0, 1] pixels" } else { "the vectors" }
            ),
            metrics,
        })
    }
    fn adam_betas(&self) -> Option<[f64; 2]> {
        Some([0.5, 0.999])
    }
    /// `z ~ N(0, I)` (seeded) through `G`.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        check_n(n)?;
        let x = tch::no_grad(|| {
            genzoo_core::seed::seed_torch_stream(seed, "bigan-sample", 0);
            self.generate(&self.noise(n)?, false)
        })?;
        Ok(self.to_sample_space(x))
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(self)
    }
}
