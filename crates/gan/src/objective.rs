//! The GAN objectives as small pure functions of the discriminator's raw outputs (logits or
//! critic values, `[b]`), each returning its loss and the numbers reported beside it as named
//! [`Losses`] parts (`d_loss` or `g_loss` first), and the [`Objective`] that selects a pair:
//!
//! | objective | discriminator minimizes (`d_loss`) | generator minimizes (`g_loss`) | source |
//! |---|---|---|---|
//! | `minimax` | `-E log D(x) - E log(1 - D(G(z)))` | `E log(1 - D(G(z)))` | Goodfellow et al. 2014, eq. 1 |
//! | `non-saturating` | as `minimax` | `-E log D(G(z))` | Goodfellow et al. 2014, sec. 3 |
//! | `wgan-clip` | `E C(G(z)) - E C(x)`, weights clipped to `[-c, c]` | `-E C(G(z))` | Arjovsky et al. 2017, eq. 3, Algorithm 1 |
//! | `wgan-gp` | `E C(G(z)) - E C(x) + lambda E (\|grad C(x^)\| - 1)^2` | `-E C(G(z))` | Gulrajani et al. 2017, eq. 3 |
//! | `lsgan` | `E (D(x) - 1)^2 / 2 + E D(G(z))^2 / 2` | `E (D(G(z)) - 1)^2 / 2` | Mao et al. 2017, eq. 2 with a, b, c = 0, 1, 1 |
//! | `hinge` | `E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)))` | `-E D(G(z))` | Lim & Ye 2017; Miyato et al. 2018 |
//! | `f-gan` | `-F = -(E g_f(V(x)) - E f*(g_f(V(G(z)))))` | `F`'s generator term, `-E f*(g_f(V(G(z))))` | Nowozin et al. 2016, eq. 6 |
//!
//! `D = sigmoid(l)` for the logit `l` the discriminator outputs (computed as `log_sigmoid`, never
//! as the log of a probability); `C` and `V` are unbounded critic outputs. The f-GAN activation
//! `g_f` and conjugate `f*` are core's [`FDivergence`]. Every expectation is a batch mean.
use serde::{Deserialize, Serialize};
use tch::Tensor;

use genzoo_core::divergence::gan::gan_value_from_logits;
use genzoo_core::divergence::FDivergence;
use genzoo_core::model::Losses;
use genzoo_core::{CoreError, Result};

/// Which game the players play. Serialized in kebab-case: `"minimax"`, `"non-saturating"`,
/// `"wgan-clip"`, `"wgan-gp"`, `"lsgan"`, `"hinge"`, and `{"f-gan": "kullback_leibler"}` with
/// the divergence named as core's [`FDivergence`] names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The saturating minimax game, eq. 1 of Goodfellow et al. 2014.
    Minimax,
    /// Minimax for the discriminator, `-log D(G(z))` for the generator (Goodfellow et al. 2014).
    NonSaturating,
    /// WGAN with weight clipping to `[-clip, clip]` (Arjovsky et al. 2017).
    WganClip,
    /// WGAN with the gradient penalty of weight `gp_lambda` (Gulrajani et al. 2017).
    WganGp,
    /// Least squares, a-b-c = 0-1-1 (Mao et al. 2017).
    Lsgan,
    /// The hinge loss (Lim & Ye 2017; Miyato et al. 2018).
    Hinge,
    /// The variational f-divergence bound of f-GAN (Nowozin et al. 2016).
    FGan(FDivergence),
}

impl Objective {
    /// Every objective, f-GAN once per divergence of core's table.
    pub fn all() -> Vec<Objective> {
        let mut v = vec![
            Objective::Minimax,
            Objective::NonSaturating,
            Objective::WganClip,
            Objective::WganGp,
            Objective::Lsgan,
            Objective::Hinge,
        ];
        v.extend(FDivergence::ALL.map(Objective::FGan));
        v
    }

    /// The objective's name as serialized (`wgan-gp`; `f-gan:jensen_shannon`).
    pub fn label(&self) -> String {
        let name = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        };
        match self {
            Objective::FGan(d) => format!("f-gan:{}", name(serde_json::to_value(d))),
            other => name(serde_json::to_value(other)),
        }
    }

    /// The discriminator's loss from its outputs on real `[b]` and generated `[m]` examples:
    /// `d_loss` and the objective's reported numbers (the gradient penalty of `wgan-gp` is added
    /// by the caller, which holds the critic; see [`gradient_penalty`]).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`d_real/d_fake`) for empty outputs; a libtorch error.
    pub fn d_losses(&self, real: &Tensor, fake: &Tensor) -> Result<Losses> {
        nonempty(real, fake)?;
        match *self {
            Objective::Minimax | Objective::NonSaturating => minimax_d(real, fake),
            Objective::WganClip | Objective::WganGp => wgan_d(real, fake),
            Objective::Lsgan => lsgan_d(real, fake),
            Objective::Hinge => hinge_d(real, fake),
            Objective::FGan(div) => fgan_d(div, real, fake),
        }
    }

    /// The generator's loss `g_loss` from the discriminator's outputs on generated examples `[m]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`d_real/d_fake`) for empty outputs; a libtorch error.
    pub fn g_losses(&self, fake: &Tensor) -> Result<Losses> {
        nonempty(fake, fake)?;
        match *self {
            Objective::Minimax => minimax_g(fake),
            Objective::NonSaturating => non_saturating_g(fake),
            Objective::WganClip | Objective::WganGp => wgan_g(fake),
            Objective::Lsgan => lsgan_g(fake),
            Objective::Hinge => hinge_g(fake),
            Objective::FGan(div) => fgan_g(div, fake),
        }
    }

    /// Where the objective's discriminator says "real": `bool [b]` from outputs `[b]`, at the
    /// point its optimum takes for `p_data = p_g` (logit 0; 1/2 between LSGAN's labels 0 and 1;
    /// hinge 0; f-GAN where `g_f(v) = f'(1)`, the optimal critic of eq. 4 at density ratio 1).
    /// `None` for the Wasserstein critics, which have no such point (their values shift freely).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn says_real(&self, out: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(match *self {
            Objective::Minimax | Objective::NonSaturating | Objective::Hinge => out.f_gt(0.0)?,
            Objective::Lsgan => out.f_gt(0.5)?,
            Objective::FGan(div) => {
                let one = Tensor::from(1.0f64).to_device(out.device());
                let at_one = div.f_prime(&one)?.f_double_value(&[])?;
                div.activation(out)?.f_gt(at_one)?
            }
            Objective::WganClip | Objective::WganGp => return Ok(None),
        }))
    }
}

fn nonempty(real: &Tensor, fake: &Tensor) -> Result<()> {
    if real.numel() == 0 || fake.numel() == 0 {
        return Err(CoreError::shape(
            "d_real/d_fake",
            "discriminator outputs must be non-empty",
        ));
    }
    Ok(())
}

fn mean(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_mean(t.kind())?)
}

/// Minimax discriminator loss (Goodfellow et al. 2014, eq. 1): `d_loss = -V(D, G)` with
/// `V = mean log_sigmoid(real) + mean log_sigmoid(-fake)` from logits (core's
/// `gan_value_from_logits`), and `gan_value` = V (`-log 4` where D cannot tell, eq. 2-3).
///
/// # Errors
/// [`CoreError::Shape`] for empty logits; a libtorch error.
pub fn minimax_d(real: &Tensor, fake: &Tensor) -> Result<Losses> {
    let v = gan_value_from_logits(real, fake)?;
    Ok(Losses::empty()
        .with("d_loss", v.f_neg()?)
        .with("gan_value", v.detach()))
}

/// Minimax generator loss (Goodfellow et al. 2014, eq. 1): `g_loss = mean log(1 - D(G(z)))`
/// `= mean log_sigmoid(-fake)`, which saturates (vanishing gradient) while D rejects samples.
///
/// # Errors
/// A libtorch error.
pub fn minimax_g(fake: &Tensor) -> Result<Losses> {
    Ok(Losses::empty().with("g_loss", mean(&fake.f_neg()?.f_log_sigmoid()?)?))
}

/// Non-saturating generator loss (Goodfellow et al. 2014, sec. 3): `g_loss = -mean log D(G(z))`
/// `= -mean log_sigmoid(fake)`; same fixed point as minimax, strong gradients early on.
///
/// # Errors
/// A libtorch error.
pub fn non_saturating_g(fake: &Tensor) -> Result<Losses> {
    Ok(Losses::empty().with("g_loss", mean(&fake.f_log_sigmoid()?)?.f_neg()?))
}

/// WGAN critic loss (Arjovsky et al. 2017, eq. 3 and Algorithm 1): `d_loss = mean C(fake) -
/// mean C(real)`, and `wasserstein = mean C(real) - mean C(fake)`, the critic's estimate of
/// `W(p_data, p_g)` (up to the Lipschitz constant its clipping or penalty enforces).
///
/// # Errors
/// A libtorch error.
pub fn wgan_d(real: &Tensor, fake: &Tensor) -> Result<Losses> {
    let w = mean(real)?.f_sub(&mean(fake)?)?;
    Ok(Losses::empty()
        .with("d_loss", w.f_neg()?)
        .with("wasserstein", w.detach()))
}

/// WGAN generator loss (Arjovsky et al. 2017, Algorithm 1): `g_loss = -mean C(G(z))`.
///
/// # Errors
/// A libtorch error.
pub fn wgan_g(fake: &Tensor) -> Result<Losses> {
    Ok(Losses::empty().with("g_loss", mean(fake)?.f_neg()?))
}

/// LSGAN discriminator loss (Mao et al. 2017, eq. 2 with fake label a = 0, real label b = 1):
/// `d_loss = mean (D(x) - 1)^2 / 2 + mean D(G(z))^2 / 2`.
///
/// # Errors
/// A libtorch error.
pub fn lsgan_d(real: &Tensor, fake: &Tensor) -> Result<Losses> {
    let r = mean(&real.f_sub_scalar(1.0)?.f_square()?)?;
    let f = mean(&fake.f_square()?)?;
    Ok(Losses::empty().with("d_loss", r.f_add(&f)?.f_mul_scalar(0.5)?))
}

/// LSGAN generator loss (Mao et al. 2017, eq. 2 with target c = 1): `g_loss = mean (D(G(z)) -
/// 1)^2 / 2`.
///
/// # Errors
/// A libtorch error.
pub fn lsgan_g(fake: &Tensor) -> Result<Losses> {
    let g = mean(&fake.f_sub_scalar(1.0)?.f_square()?)?.f_mul_scalar(0.5)?;
    Ok(Losses::empty().with("g_loss", g))
}

/// Hinge discriminator loss (Lim & Ye 2017; Miyato et al. 2018): `d_loss = mean max(0, 1 -
/// D(x)) + mean max(0, 1 + D(G(z)))`.
///
/// # Errors
/// A libtorch error.
pub fn hinge_d(real: &Tensor, fake: &Tensor) -> Result<Losses> {
    let r = mean(&real.f_neg()?.f_add_scalar(1.0)?.f_relu()?)?;
    let f = mean(&fake.f_add_scalar(1.0)?.f_relu()?)?;
    Ok(Losses::empty().with("d_loss", r.f_add(&f)?))
}

/// Hinge generator loss (Lim & Ye 2017; Miyato et al. 2018): `g_loss = -mean D(G(z))`.
///
/// # Errors
/// A libtorch error.
pub fn hinge_g(fake: &Tensor) -> Result<Losses> {
    wgan_g(fake)
}

/// f-GAN critic loss (Nowozin et al. 2016, eq. 6): `d_loss = -F` with `F = mean g_f(V(x)) -
/// mean f*(g_f(V(G(z))))` (core's `FDivergence::fgan_objective`), and `f_bound = F`, a lower
/// bound on `D_f(p_data || p_g)` (eq. 3) for any critic.
///
/// # Errors
/// [`CoreError::Shape`] for empty outputs; a libtorch error.
pub fn fgan_d(div: FDivergence, real: &Tensor, fake: &Tensor) -> Result<Losses> {
    let f = div.fgan_objective(real, fake)?;
    Ok(Losses::empty()
        .with("d_loss", f.f_neg()?)
        .with("f_bound", f.detach()))
}

/// f-GAN generator loss (Nowozin et al. 2016, eq. 6): the generator minimizes `F`, whose term
/// in G is `g_loss = -mean f*(g_f(V(G(z))))` (the fused, stable `f*(g_f(v))` of core).
///
/// # Errors
/// A libtorch error.
pub fn fgan_g(div: FDivergence, fake: &Tensor) -> Result<Losses> {
    let t = mean(&div.conjugate_of_activation(fake)?)?;
    Ok(Losses::empty().with("g_loss", t.f_neg()?))
}

/// Random interpolates `x^ = e x + (1 - e) x~` of real and generated examples (`[b, ...]`
/// each), `e ~ U[0, 1]` per example from torch's generator: where WGAN-GP's penalty is taken
/// (Gulrajani et al. 2017, Algorithm 1). The result is detached.
///
/// # Errors
/// [`CoreError::Shape`] (`fake`) when the batches differ in shape; a libtorch error.
pub fn interpolates(real: &Tensor, fake: &Tensor) -> Result<Tensor> {
    if real.size() != fake.size() || real.dim() < 1 {
        return Err(CoreError::shape(
            "fake",
            format!(
                "shape {:?} differs from the real batch {:?}",
                fake.size(),
                real.size()
            ),
        ));
    }
    let mut shape = vec![real.size()[0]];
    shape.extend(std::iter::repeat_n(1, real.dim() - 1));
    let e = Tensor::f_rand(shape.as_slice(), (real.kind(), real.device()))?;
    let (r, f) = (real.detach(), fake.detach());
    Ok(f.f_add(&e.f_mul(&r.f_sub(&f)?)?)?)
}

/// The gradient penalty at points `x_hat [b, ...]`: `lambda mean_i (|grad_x C(x_hat_i)| - 1)^2`
/// (Gulrajani et al. 2017, eq. 3), with the input gradient taken with `create_graph`, so that the
/// penalty back-propagates into the critic's weights. `critic` maps `[b, ...]` to `[b]`.
///
/// # Errors
/// [`CoreError::Config`] (`gp_lambda`) for a negative or non-finite `lambda`; whatever `critic`
/// returns; a libtorch error (a critic whose output does not depend on its input).
pub fn gradient_penalty_at(
    critic: impl Fn(&Tensor) -> Result<Tensor>,
    x_hat: &Tensor,
    lambda: f64,
) -> Result<Tensor> {
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(CoreError::config(
            "gp_lambda",
            format!("{lambda} must be finite and >= 0"),
        ));
    }
    let x = x_hat.detach().f_set_requires_grad(true)?;
    let out = critic(&x)?;
    let total = out.f_sum(out.kind())?;
    let grads = Tensor::f_run_backward(&[&total], &[&x], true, true)?;
    let b = x.size()[0];
    let norm = grads[0]
        .f_reshape([b, -1])?
        .f_norm_scalaropt_dim(2, [1i64].as_slice(), false)?;
    Ok(mean(&norm.f_sub_scalar(1.0)?.f_square()?)?.f_mul_scalar(lambda)?)
}

/// WGAN-GP's gradient penalty (Gulrajani et al. 2017, eq. 3) on [`interpolates`] of `real` and
/// `fake`: [`gradient_penalty_at`] those points.
///
/// # Errors
/// As [`interpolates`] and [`gradient_penalty_at`].
pub fn gradient_penalty(
    critic: impl Fn(&Tensor) -> Result<Tensor>,
    real: &Tensor,
    fake: &Tensor,
    lambda: f64,
) -> Result<Tensor> {
    gradient_penalty_at(critic, &interpolates(real, fake)?, lambda)
}

/// WGAN's weight clipping (Arjovsky et al. 2017, Algorithm 1, line 7): clamps every tensor of
/// `vars` (a critic's parameter group) to `[-c, c]` in place, outside autograd.
///
/// # Errors
/// [`CoreError::Config`] (`clip`) for `c` not finite and > 0; a libtorch error.
pub fn clip_weights<'a>(vars: impl IntoIterator<Item = &'a Tensor>, c: f64) -> Result<()> {
    if !(c > 0.0 && c.is_finite()) {
        return Err(CoreError::config(
            "clip",
            format!("{c} must be finite and > 0"),
        ));
    }
    tch::no_grad(|| -> Result<()> {
        for v in vars {
            let _ = v.shallow_clone().f_clamp_(-c, c)?;
        }
        Ok(())
    })
}
