//! What the adversarially trained latent-variable models share: the adversarial autoencoder
//! ([`crate::aae`], a discriminator on codes `z`) and adversarial variational Bayes
//! ([`crate::avb`], a discriminator `T(x, z)` on pairs). Both are an encoder/decoder pair (the
//! `gen` player: weights `gen.enc.*`, `gen.dec.*`) against a discriminator (`disc.*`), each
//! player with its own optimizer; both have a decoder likelihood, so the VAE family's
//! evaluation ([`genzoo_vae::eval`]) gives their ELBO and importance-sampled NLL.
//!
//! * [`LatentGame`]: the objective of the discriminator's game and the divergence bound.
//! * [`Critic`]: an MLP discriminator on vectors (LeakyReLU 0.2), one raw output per example.
//! * [`disc_update`], [`gen_update`]: one player's checked update (a diverging player never
//!   steps; [`crate::game::check_player`]).
//! * [`decode_prior_samples`]: seeded samples, prior draws through the decoder's mean.
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::game::{check_player, DISC, GEN};
use crate::nets::{Act, Mlp};
use crate::objective::Objective;
use genzoo_core::model::{Losses, Optimize};
use genzoo_core::{CoreError, Result};
use genzoo_vae::latent::LatentModel;

/// The discriminator's game of an adversarially trained latent-variable model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatentGame {
    /// The objective of the discriminator and of the encoder against it (the Wasserstein ones,
    /// which need clipping or a penalty, are refused).
    pub objective: Objective,
    /// A player whose loss exceeds this in absolute value has diverged: the step fails.
    pub max_loss: f64,
}

impl LatentGame {
    /// The non-saturating game with `max_loss` 1e5.
    pub fn non_saturating() -> LatentGame {
        LatentGame {
            objective: Objective::NonSaturating,
            max_loss: 1e5,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`objective`) for `wgan-clip` or `wgan-gp`, (`max_loss`) for a value
    /// that is not finite and positive.
    pub fn validate(&self) -> Result<()> {
        if matches!(self.objective, Objective::WganClip | Objective::WganGp) {
            return Err(CoreError::config(
                "objective",
                "the Wasserstein critics need weight clipping or a gradient penalty, which the latent-variable models do not apply: use non-saturating, minimax, lsgan, hinge or an f-GAN",
            ));
        }
        if !(self.max_loss.is_finite() && self.max_loss > 0.0) {
            return Err(CoreError::config("max_loss", "must be finite and > 0"));
        }
        Ok(())
    }
}

/// An MLP discriminator on vectors `[b, input]` to raw outputs `[b]`: `fc1..` under its path,
/// LeakyReLU 0.2 after every hidden layer, then dropout with probability `dropout` in training
/// (0: none).
#[derive(Debug)]
pub struct Critic {
    pub mlp: Mlp,
    pub dropout: f64,
}

impl Critic {
    /// Layers `input -> hidden... -> 1` under `p`.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`key`) for an input or hidden width below 1.
    pub fn new(p: &nn::Path, input: i64, hidden: &[i64], key: &str) -> Result<Self> {
        let sizes: Vec<i64> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain([1])
            .collect();
        Ok(Critic {
            mlp: Mlp::new(p, &sizes, Act::LeakyRelu, key)?,
            dropout: 0.0,
        })
    }

    /// The same critic with dropout `p` after each hidden layer in training.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`disc_dropout`) for `p` outside `[0, 1)`.
    pub fn with_dropout(mut self, p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(CoreError::config(
                "disc_dropout",
                format!("{p} must be in [0, 1)"),
            ));
        }
        self.dropout = p;
        Ok(self)
    }

    /// `[b, input]` to `[b]` in training (dropout on).
    ///
    /// # Errors
    /// A libtorch error (an input of another width).
    pub fn forward(&self, v: &Tensor) -> Result<Tensor> {
        self.forward_t(v, true)
    }

    /// `[b, input]` to `[b]`; `train` switches dropout on.
    ///
    /// # Errors
    /// A libtorch error (an input of another width).
    pub fn forward_t(&self, v: &Tensor, train: bool) -> Result<Tensor> {
        let layers = &self.mlp.layers;
        let mut h = v.shallow_clone();
        for (i, l) in layers.iter().enumerate() {
            h = l.forward(&h, train)?;
            if i + 1 < layers.len() {
                h = crate::nets::leaky_relu(&h, 0.2)?;
                if self.dropout > 0.0 {
                    h = h.f_dropout(self.dropout, train)?;
                }
            }
        }
        Ok(h.f_squeeze_dim(1)?)
    }
}

/// One discriminator update of `model`'s game at `opt.step()`: the objective's losses of the
/// outputs on positives `d_real` and negatives `d_fake`, with their means `d_real`, `d_fake`.
///
/// # Errors
/// [`CoreError::NonFinite`] or [`CoreError::Model`] when the player diverged (it does not step);
/// an optimizer or libtorch error.
pub fn disc_update(
    model: &str,
    game: &LatentGame,
    d_real: &Tensor,
    d_fake: &Tensor,
    opt: &mut dyn Optimize,
) -> Result<Losses> {
    let d = game.objective.d_losses(d_real, d_fake)?;
    let mut losses = Losses::empty();
    for (name, t) in d.parts() {
        losses = losses.with(name, t.shallow_clone());
    }
    let losses = losses
        .with("d_real", d_real.f_mean(Kind::Float)?.detach())
        .with("d_fake", d_fake.f_mean(Kind::Float)?.detach());
    check_player(model, opt.step(), DISC, &losses, game.max_loss)?;
    let loss = losses
        .get("d_loss")
        .ok_or_else(|| CoreError::Invalid("the objective returned no `d_loss`".into()))?
        .shallow_clone();
    opt.minimize(DISC, &loss)?;
    Ok(losses)
}

/// One update of the encoder/decoder player: `loss` (reported as `g_loss` after the parts in
/// `losses`) minimized over the `gen` group. The divergence bound applies to `adversarial`, the
/// player's adversarial part (a reconstruction NLL of continuous data can be legitimately
/// large early on); every part is checked for NaN and infinity.
///
/// # Errors
/// [`CoreError::NonFinite`] for a part that is not finite, [`CoreError::Model`] when
/// `|adversarial|` exceeds `max_loss` (both naming the step and every part; the player does
/// not step); an optimizer or libtorch error.
pub fn gen_update(
    model: &str,
    game: &LatentGame,
    losses: Losses,
    loss: &Tensor,
    adversarial: &Tensor,
    opt: &mut dyn Optimize,
) -> Result<Losses> {
    let losses = losses.with("g_loss", loss.shallow_clone());
    check_player(model, opt.step(), GEN, &losses, f64::INFINITY)?;
    let adv = adversarial.f_double_value(&[])?;
    if adv.abs() > game.max_loss {
        let parts = losses
            .to_map()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CoreError::model(
            model,
            format!(
                "the {GEN} player diverged at step {}: its adversarial loss |{adv}| > max_loss = {} ({parts})",
                opt.step(),
                game.max_loss
            ),
        ));
    }
    opt.minimize(GEN, loss)?;
    Ok(losses)
}

/// Samples of a latent-variable model from latent draws `z [n, d]`: the decoder's mean for
/// images (the usual sample grid), a draw from p(x|z) for vectors.
///
/// # Errors
/// The likelihood's error, or a libtorch error.
pub fn decode_prior_samples(model: &dyn LatentModel, z: &Tensor) -> Result<Tensor> {
    tch::no_grad(|| {
        let params = model.decode(z, None)?;
        if model.data().is_image() {
            model.likelihood().mean(&params)
        } else {
            model.likelihood().sample(&params)
        }
    })
}

/// `n >= 1`, or [`CoreError::Invalid`] naming `n`.
///
/// # Errors
/// As above.
pub fn check_n(n: i64) -> Result<()> {
    if n < 1 {
        return Err(CoreError::Invalid(format!(
            "sample: n = {n}, need at least 1"
        )));
    }
    Ok(())
}
