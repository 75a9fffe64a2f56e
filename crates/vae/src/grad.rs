//! The variance of the encoder's gradient under the two estimators of [`crate::vae::Estimator`],
//! on the same model, batch and parameters: the pathwise (reparameterization) estimator of
//! Kingma & Welling (2014, sec. 2.4) against the score-function estimator (Williams 1992) with a
//! constant baseline (Mnih & Gregor 2014), as compared by Mohamed et al. (2020, "Monte Carlo
//! gradient estimation in machine learning", sec. 5 and 8).
//!
//! [`encoder_gradient_stats`] draws `repeats` independent single-sample gradients of the ELBO
//! with respect to the encoder's weights and returns their mean squared norm and total variance
//! (the sum over coordinates of the per-coordinate variance).
use genzoo_core::{CoreError, Result};
use tch::{nn, Kind, Tensor};

use crate::obs::Prepared;
use crate::vae::{Estimator, Objective, Vae};

/// Statistics of repeated gradient draws.
#[derive(Clone, Copy, Debug)]
pub struct GradStats {
    /// Squared norm of the mean gradient.
    pub mean_sq_norm: f64,
    /// Sum over coordinates of the variance across draws.
    pub total_variance: f64,
}

/// Encoder-gradient statistics of `vae` (weights in `vs`) on a prepared batch with `estimator`.
/// The score-function baseline is fixed at `baseline` (e.g. a prior estimate of the mean
/// `log p(x|z)`), so that draws are independent. Seeds torch from `seed`.
///
/// # Errors
/// [`CoreError::Invalid`] when `repeats < 2`; [`CoreError::Model`] when `vs` has no trainable
/// variables under `enc`; the errors of the loss on `prep`; a libtorch error (e.g. a backward pass
/// that does not reach the encoder).
pub fn encoder_gradient_stats(
    vae: &Vae,
    vs: &nn::VarStore,
    prep: &Prepared,
    estimator: Estimator,
    repeats: i64,
    baseline: f64,
    seed: u64,
) -> Result<GradStats> {
    if repeats < 2 {
        return Err(CoreError::Invalid(format!(
            "gradient statistics need repeats >= 2, got {repeats}"
        )));
    }
    let mut enc: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(n, t)| n.starts_with("enc.") && t.requires_grad())
        .collect();
    enc.sort_by(|a, b| a.0.cmp(&b.0));
    if enc.is_empty() {
        return Err(CoreError::model(
            vae_name(vae),
            "no encoder variables under `enc`",
        ));
    }
    let obj = Objective {
        estimator,
        warmup_steps: 0,
        free_bits: 0.0,
        ..vae.config().objective.clone()
    };
    genzoo_core::seed::seed_torch_stream(seed, "grad-variance", 0);
    let mut draws = Vec::new();
    for _ in 0..repeats {
        for (_, t) in enc.iter_mut() {
            t.zero_grad();
        }
        let b = Tensor::from(baseline as f32).to_device(vs.device());
        let losses = obj.loss(&vae.lat, prep, None, 0, &b)?;
        losses.total()?.f_backward()?;
        let g: Vec<Tensor> = enc
            .iter()
            .map(|(_, t)| t.grad().f_flatten(0, -1))
            .collect::<std::result::Result<_, _>>()?;
        draws.push(Tensor::f_cat(&g, 0)?.f_to_kind(Kind::Double)?);
    }
    for (_, t) in enc.iter_mut() {
        t.zero_grad();
    }
    let g = Tensor::f_stack(&draws, 0)?; // [repeats, params]
    let mean = g.f_mean_dim(0, false, Kind::Double)?;
    Ok(GradStats {
        mean_sq_norm: mean.f_square()?.f_sum(Kind::Double)?.f_double_value(&[])?,
        total_variance: g
            .f_var_dim(0, true, false)?
            .f_sum(Kind::Double)?
            .f_double_value(&[])?,
    })
}

fn vae_name(v: &Vae) -> String {
    use genzoo_core::model::Network;
    v.name().to_string()
}
