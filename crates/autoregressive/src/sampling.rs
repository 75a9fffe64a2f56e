//! Seeded draws from one conditional p(x_i | x_<i) at a time, shared by naive and cached sampling.
//!
//! Every sampler of the family draws position `i` of example `b` by inverting the conditional's
//! CDF at one uniform `u[b, i]`, and all uniforms come from one seeded stream before the first
//! network pass. Two samplers that compute the same conditionals therefore draw the same sample,
//! whatever order of work they follow: that is how the tests show that cached sampling (Fast
//! PixelCNN++, Ramachandran et al. 2017; Fast WaveNet, Paine et al. 2016) equals naive sampling.
//! The temperature `T` divides the logits (Bernoulli, categorical) or multiplies the logistic
//! scale; `T = 1` samples the model itself. As `T -> 0` the draw tends to the most likely value;
//! at `T <=` [`GREEDY_TEMPERATURE`] it is that value exactly (greedy decoding: a Bernoulli takes 1
//! iff its logit is positive, a categorical its argmax, a logistic its location), since dividing
//! logits by such a `T` overflows `f32`.
use rand::Rng;
use tch::{Device, Kind, Tensor};

use genzoo_core::dist::dmol;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// `f32 [n, d]` uniforms in (0, 1) from the stream `(seed, "ar-sample", 0)`: the same on every
/// device and for every sampler.
///
/// # Errors
/// A libtorch error when the tensor cannot be placed on `device`.
pub fn uniforms(n: i64, d: i64, seed: u64, device: Device) -> Result<Tensor> {
    let mut rng = genzoo_core::seed::rng(seed, "ar-sample", 0);
    let v: Vec<f32> = (0..n * d)
        .map(|_| rng.gen_range(1e-6f32..1.0 - 1e-6))
        .collect();
    Ok(Tensor::from_slice(&v)
        .f_reshape([n, d])?
        .f_to_device(device)?)
}

/// At or below this temperature sampling is greedy (each position takes its most likely value):
/// the limit of `T -> 0`, computed without dividing logits by `T`.
pub const GREEDY_TEMPERATURE: f64 = 1e-6;

/// Checks a sampling temperature.
///
/// # Errors
/// [`CoreError::Config`] (`temperature`) unless `t` is finite and > 0.
pub fn check_temperature(t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(CoreError::config(
            "temperature",
            format!("must be a finite number > 0, got {t}"),
        ))
    }
}

/// One draw per row from the conditionals `params [n, P]` (the likelihood's parameters at one
/// position) with uniforms `u [n]`: the value in the likelihood's target space, `f32 [n]` (0/1
/// for Bernoulli, the level 0..255 for the 8-bit likelihoods, the class 0..K-1 for a K-way
/// categorical).
///
/// # Errors
/// [`CoreError::Config`] (`likelihood`) for a Gaussian (autoregressive models here are discrete);
/// a libtorch error when `params` has the wrong width.
pub fn draw(lik: Likelihood, params: &Tensor, u: &Tensor, temperature: f64) -> Result<Tensor> {
    match lik {
        Likelihood::Auto | Likelihood::Bernoulli if temperature <= GREEDY_TEMPERATURE => {
            Ok(params.f_select(1, 0)?.f_gt(0.0)?.f_to_kind(Kind::Float)?)
        }
        Likelihood::Categorical if temperature <= GREEDY_TEMPERATURE => {
            Ok(params.f_argmax(1, false)?.f_to_kind(Kind::Float)?)
        }
        Likelihood::Auto | Likelihood::Bernoulli => {
            let p = params
                .f_select(1, 0)?
                .f_div_scalar(temperature)?
                .f_sigmoid()?;
            Ok(u.f_lt_tensor(&p)?.f_to_kind(Kind::Float)?)
        }
        Likelihood::Categorical => {
            let probs = params
                .f_div_scalar(temperature)?
                .f_softmax(1, Kind::Float)?;
            let cdf = probs.f_cumsum(1, Kind::Float)?;
            let last = (params.size()[1] - 1) as f64;
            Ok(cdf
                .f_lt_tensor(&u.f_unsqueeze(1)?)?
                .f_sum_dim_intlist(1, false, Kind::Float)?
                .f_clamp_max(last)?)
        }
        Likelihood::Logistic => {
            let (loc, log_scale) = (params.f_select(1, 0)?, params.f_select(1, 1)?);
            let logit_u = u.f_log()?.f_sub(&u.f_neg()?.f_log1p()?)?;
            let x = loc.f_add(
                &log_scale
                    .f_exp()?
                    .f_mul_scalar(temperature)?
                    .f_mul(&logit_u)?,
            )?;
            Ok(dmol::unit_to_levels(&x.f_clamp(-1.0, 1.0)?, 256)?.f_to_kind(Kind::Float)?)
        }
        Likelihood::Gaussian => Err(CoreError::config(
            "likelihood",
            "autoregressive models sample discrete values: use bernoulli, categorical or logistic",
        )),
    }
}

/// A drawn value (target space, [`draw`]) as the network's input and as a sample in data space:
/// 0/1 for Bernoulli, `level / 255` in \[0,1\] for the 8-bit likelihoods (what
/// `Likelihood::prepare` feeds the network).
///
/// # Errors
/// A libtorch error only for a non-numeric tensor.
pub fn to_input(lik: Likelihood, value: &Tensor) -> Result<Tensor> {
    Ok(match lik {
        Likelihood::Auto | Likelihood::Bernoulli => value.shallow_clone(),
        _ => value.f_div_scalar(255.0)?,
    })
}
