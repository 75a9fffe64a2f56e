//! The Jensen-Shannon divergence `JS(p, q) = KL(p || m)/2 + KL(q || m)/2`, `m = (p + q)/2`
//! (Goodfellow et al. 2014, sec. 4.1: the GAN's value at the optimal discriminator is
//! `2 JS - log 4`, see [`super::gan`]). It lies in [0, log 2]: 0 iff p = q, log 2 iff their
//! supports are disjoint.
//!
//! `log m = logaddexp(log p, log q) - log 2` keeps it finite for log-masses of -1e4.
use tch::Tensor;

use super::kl::{mc_mean, McEstimate};
use crate::dist::Distribution;
use crate::{CoreError, Result};

/// `JS(p, q)` over dimension `dim` from normalized log-masses `log_p`, `log_q` (same shape).
///
/// # Errors
/// [`CoreError::Shape`] (`log_q`) when `log_q` differs in shape from `log_p`; a libtorch error
/// (e.g. `dim` out of range).
///
/// # Example
/// Two distributions on disjoint supports are `ln 2` apart, the largest Jensen-Shannon divergence
/// (the value the minimax GAN's discriminator drives towards, Goodfellow et al. 2014):
/// ```
/// use genzoo_core::divergence::js::js_discrete;
/// use tch::Tensor;
/// let p = Tensor::from_slice(&[0.5f64, 0.5, 0.0, 0.0]).log();
/// let q = Tensor::from_slice(&[0.0f64, 0.0, 0.25, 0.75]).log();
/// let js = js_discrete(&p, &q, 0)?.double_value(&[]);
/// assert!((js - std::f64::consts::LN_2).abs() < 1e-12);
/// assert_eq!(js_discrete(&p, &p, 0)?.double_value(&[]), 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn js_discrete(log_p: &Tensor, log_q: &Tensor, dim: i64) -> Result<Tensor> {
    if log_p.size() != log_q.size() {
        return Err(CoreError::shape(
            "log_q",
            format!(
                "shape {:?} differs from log_p {:?}",
                log_q.size(),
                log_p.size()
            ),
        ));
    }
    let log_m = log_p
        .f_logaddexp(log_q)?
        .f_sub_scalar(std::f64::consts::LN_2)?;
    let half_kl = |lp: &Tensor| -> Result<Tensor> {
        let p = lp.f_exp()?;
        let t = p.f_mul(&lp.f_sub(&log_m)?)?;
        Ok(t.f_where_self(&p.f_gt(0.0)?, &t.f_zeros_like()?)?
            .f_sum_dim_intlist(dim, false, t.kind())?)
    };
    Ok(half_kl(log_p)?.f_add(&half_kl(log_q)?)?.f_mul_scalar(0.5)?)
}

/// Monte-Carlo `JS(p, q) = E_p[log p - log m]/2 + E_q[log q - log m]/2` with `n` draws from each,
/// elementwise over the batch shape; the standard error combines both halves.
///
/// # Errors
/// [`CoreError::Invalid`] when `n < 2`; the error of `p.log_prob` or `q.log_prob` on the other's
/// samples (e.g. [`CoreError::Shape`] when the batch shapes do not broadcast); a libtorch error.
pub fn js_monte_carlo(p: &dyn Distribution, q: &dyn Distribution, n: i64) -> Result<McEstimate> {
    if n < 2 {
        return Err(CoreError::Invalid(format!(
            "js_monte_carlo: n = {n}, need >= 2"
        )));
    }
    let half = |a: &dyn Distribution, b: &dyn Distribution| -> Result<McEstimate> {
        let x = a.sample(&[n]);
        let (la, lb) = tch::no_grad(|| -> Result<_> { Ok((a.log_prob(&x)?, b.log_prob(&x)?)) })?;
        let log_m = la.f_logaddexp(&lb)?.f_sub_scalar(std::f64::consts::LN_2)?;
        mc_mean(&la.f_sub(&log_m)?)
    };
    let (a, b) = (half(p, q)?, half(q, p)?);
    let estimate = a.estimate.f_add(&b.estimate)?.f_mul_scalar(0.5)?;
    let std_error = a
        .std_error
        .f_square()?
        .f_add(&b.std_error.f_square()?)?
        .f_sqrt()?
        .f_mul_scalar(0.5)?;
    Ok(McEstimate {
        estimate,
        std_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::DiagGaussian;
    use crate::divergence::kl::kl_discrete;
    use std::f64::consts::LN_2;
    use tch::{Device, Kind};

    #[test]
    fn identical_is_zero_and_disjoint_is_log_2() {
        let p = Tensor::from_slice(&[0.2f64, 0.3, 0.5, 0.0]).log();
        assert!(js_discrete(&p, &p, 0).unwrap().double_value(&[]).abs() < 1e-15);
        let a = Tensor::from_slice(&[0.5f64, 0.5, 0.0, 0.0]).log();
        let b = Tensor::from_slice(&[0.0f64, 0.0, 0.3, 0.7]).log();
        assert!((js_discrete(&a, &b, 0).unwrap().double_value(&[]) - LN_2).abs() < 1e-15);
        // log-masses of -1e4 instead of -inf: still log 2, finite
        let a = Tensor::from_slice(&[0.0f32, -1e4]);
        let b = Tensor::from_slice(&[-1e4f32, 0.0]);
        let js = js_discrete(&a, &b, 0).unwrap().double_value(&[]);
        assert!((js - LN_2).abs() < 1e-6, "{js}");
    }

    #[test]
    fn matches_the_definition_and_is_symmetric() {
        let p = Tensor::from_slice(&[0.1f64, 0.6, 0.3]);
        let q = Tensor::from_slice(&[0.4f64, 0.4, 0.2]);
        let lm = ((&p + &q) / 2.0).log();
        let want: Tensor =
            (kl_discrete(&p.log(), &lm, 0).unwrap() + kl_discrete(&q.log(), &lm, 0).unwrap()) * 0.5;
        let got = js_discrete(&p.log(), &q.log(), 0).unwrap();
        assert!((&got - want).abs().double_value(&[]) < 1e-14);
        let rev = js_discrete(&q.log(), &p.log(), 0).unwrap();
        assert!((got - rev).abs().double_value(&[]) < 1e-15);
    }

    #[test]
    fn monte_carlo_limits() {
        tch::manual_seed(9);
        let o = (Kind::Double, Device::Cpu);
        let p = DiagGaussian::new(&Tensor::zeros([1], o), &Tensor::zeros([1], o)).unwrap();
        let far = DiagGaussian::new(&Tensor::full([1], 100.0, o), &Tensor::zeros([1], o)).unwrap();
        let same = js_monte_carlo(&p, &p, 10_000).unwrap();
        assert!(same.estimate.double_value(&[0]).abs() < 1e-12);
        let apart = js_monte_carlo(&p, &far, 10_000).unwrap();
        assert!((apart.estimate.double_value(&[0]) - LN_2).abs() < 1e-9);
        assert!(
            matches!(js_discrete(&Tensor::zeros([2], o), &Tensor::zeros([3], o), 0), Err(CoreError::Shape { ref name, .. }) if name == "log_q")
        );
    }
}
