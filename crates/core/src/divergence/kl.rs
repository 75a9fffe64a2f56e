//! Kullback-Leibler divergences: the closed form between diagonal Gaussians (the VAE's KL term,
//! Kingma & Welling 2014, appendix B), the discrete KL of two mass vectors, and a Monte-Carlo
//! estimate `KL(p || q) = E_p[log p(x) - log q(x)]` for any pair of [`Distribution`]s.
//!
//! Closed form, elementwise: `KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2)
//! / (2 s2^2) - 1/2`; against N(0, 1): `-(1 + log s^2 - m^2 - s^2) / 2`.
use tch::{Kind, Tensor};

use crate::dist::{broadcast_shapes, DiagGaussian, Distribution};
use crate::{CoreError, Result};

/// Elementwise `KL(p || q)` between diagonal Gaussians (sum over event dimensions yourself).
///
/// # Errors
/// [`CoreError::Shape`] (`q.loc`) when the shape of `q` does not broadcast against that of `p`; a
/// libtorch error.
pub fn kl_diag_gaussians(p: &DiagGaussian, q: &DiagGaussian) -> Result<Tensor> {
    if broadcast_shapes(&p.loc.size(), &q.loc.size()).is_none() {
        return Err(CoreError::shape(
            "q.loc",
            format!(
                "shape {:?} does not broadcast against p's {:?}",
                q.loc.size(),
                p.loc.size()
            ),
        ));
    }
    let var_ratio = p
        .log_scale
        .f_sub(&q.log_scale)?
        .f_mul_scalar(2.0)?
        .f_exp()?; // s1^2 / s2^2
    let t = p
        .loc
        .f_sub(&q.loc)?
        .f_mul(&q.log_scale.f_neg()?.f_exp()?)?
        .f_square()?; // (m1-m2)^2/s2^2
    Ok(q.log_scale
        .f_sub(&p.log_scale)?
        .f_add(&var_ratio.f_add(&t)?.f_sub_scalar(1.0)?.f_mul_scalar(0.5)?)?)
}

/// Elementwise `KL(N(mean, exp(log_var)) || N(0, 1)) = -(1 + log_var - mean^2 - exp(log_var)) / 2`,
/// the KL term of the VAE objective (Kingma & Welling 2014, appendix B).
///
/// # Errors
/// [`CoreError::Shape`] (`log_var`) when `log_var` differs in shape from `mean`; a libtorch error.
///
/// # Example
/// `KL(N(1, 1) || N(0, 1)) = 1/2` and `KL(N(0, e) || N(0, 1)) = (e - 2) / 2`:
/// ```
/// use genzoo_core::divergence::kl::kl_std_normal;
/// use tch::Tensor;
/// let kl = kl_std_normal(&Tensor::from_slice(&[1.0f64, 0.0]), &Tensor::from_slice(&[0.0f64, 1.0]))?;
/// let kl = Vec::<f64>::try_from(&kl)?;
/// assert!((kl[0] - 0.5).abs() < 1e-12);
/// assert!((kl[1] - (std::f64::consts::E - 2.0) / 2.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn kl_std_normal(mean: &Tensor, log_var: &Tensor) -> Result<Tensor> {
    if mean.size() != log_var.size() {
        return Err(CoreError::shape(
            "log_var",
            format!(
                "shape {:?} differs from mean {:?}",
                log_var.size(),
                mean.size()
            ),
        ));
    }
    let inner = log_var
        .f_add_scalar(1.0)?
        .f_sub(&mean.f_square()?)?
        .f_sub(&log_var.f_exp()?)?;
    Ok(inner.f_mul_scalar(-0.5)?)
}

/// `KL(p || q) = sum_k p_k (log p_k - log q_k)` over dimension `dim` from normalized
/// log-masses (0 log 0 = 0; `+inf` where q_k = 0 < p_k).
///
/// # Errors
/// [`CoreError::Shape`] (`log_q`) when `log_q` differs in shape from `log_p`; a libtorch error
/// (e.g. `dim` out of range).
pub fn kl_discrete(log_p: &Tensor, log_q: &Tensor, dim: i64) -> Result<Tensor> {
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
    let p = log_p.f_exp()?;
    let terms = p.f_mul(&log_p.f_sub(log_q)?)?;
    let terms = terms.f_where_self(&p.f_gt(0.0)?, &terms.f_zeros_like()?)?;
    Ok(terms.f_sum_dim_intlist(dim, false, terms.kind())?)
}

/// A Monte-Carlo estimate with its standard error (both over the batch shape).
#[derive(Debug)]
pub struct McEstimate {
    /// The sample mean.
    pub estimate: Tensor,
    /// The standard error of the mean, `std / sqrt(n)`.
    pub std_error: Tensor,
}

/// The mean and standard error over dimension 0 of `values [n, ..]`.
pub(crate) fn mc_mean(values: &Tensor) -> Result<McEstimate> {
    let n = values.size()[0];
    let estimate = values.f_mean_dim(0, false, values.kind())?;
    let std_error = if n > 1 {
        values
            .f_std_dim(0, true, false)?
            .f_div_scalar((n as f64).sqrt())?
    } else {
        estimate.f_full_like(f64::INFINITY)?
    };
    Ok(McEstimate {
        estimate,
        std_error,
    })
}

/// Monte-Carlo `KL(p || q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)]`, `x_i ~ p`, elementwise
/// over the batch shape (unbiased; it can be negative for small `n`). Uses torch's generator.
///
/// # Errors
/// [`CoreError::Invalid`] when `n < 1`; the error of `p.log_prob` or `q.log_prob` on the samples of
/// `p` (e.g. [`CoreError::Shape`] when the batch shapes do not broadcast); a libtorch error.
pub fn kl_monte_carlo(p: &dyn Distribution, q: &dyn Distribution, n: i64) -> Result<McEstimate> {
    if n < 1 {
        return Err(CoreError::Invalid(format!(
            "kl_monte_carlo: n = {n}, need >= 1"
        )));
    }
    let x = p.sample(&[n]);
    let d = tch::no_grad(|| -> Result<Tensor> { Ok(p.log_prob(&x)? - q.log_prob(&x)?) })?;
    let d = if d.kind() == Kind::Half || d.kind() == Kind::BFloat16 {
        d.f_to_kind(Kind::Float)?
    } else {
        d
    };
    mc_mean(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{Bernoulli, Categorical, StandardNormal};
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn closed_form_known_values() {
        // KL(N(1, 2^2) || N(0, 1)) = (4 + 1 - 1 - log 4) / 2
        let p = DiagGaussian::from_scale(
            &Tensor::from_slice(&[1.0f64]),
            &Tensor::from_slice(&[2.0f64]),
        )
        .unwrap();
        let q = DiagGaussian::new(&Tensor::zeros([1], F64), &Tensor::zeros([1], F64)).unwrap();
        let kl = kl_diag_gaussians(&p, &q).unwrap().double_value(&[0]);
        assert!((kl - (4.0 - 4f64.ln()) / 2.0).abs() < 1e-12, "{kl}");
        let kl2 = kl_std_normal(&p.loc, &(&p.log_scale * 2.0))
            .unwrap()
            .double_value(&[0]);
        assert!((kl - kl2).abs() < 1e-12);
        // KL(p || p) = 0
        assert!(kl_diag_gaussians(&p, &p).unwrap().double_value(&[0]).abs() < 1e-15);
        // discrete: KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 log 2 + 1/2 log(2/3)
        let a = Tensor::from_slice(&[0.5f64, 0.5]).log();
        let b = Tensor::from_slice(&[0.25f64, 0.75]).log();
        let kd = kl_discrete(&a, &b, 0).unwrap().double_value(&[]);
        assert!((kd - 0.5 * (2f64.ln() + (2.0f64 / 3.0).ln())).abs() < 1e-12);
        let c = Tensor::from_slice(&[1.0f64, 0.0]).log();
        assert!((kl_discrete(&c, &b, 0).unwrap().double_value(&[]) - 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn monte_carlo_agrees_with_closed_form() {
        tch::manual_seed(0);
        let p = DiagGaussian::new(
            &Tensor::from_slice(&[0.5f64, -1.0, 2.0]),
            &Tensor::from_slice(&[0.2f64, -0.5, 0.0]),
        )
        .unwrap();
        let q = DiagGaussian::new(
            &Tensor::from_slice(&[0.0f64, 0.0, 1.5]),
            &Tensor::from_slice(&[0.0f64, 0.3, -0.4]),
        )
        .unwrap();
        let exact = kl_diag_gaussians(&p, &q).unwrap();
        let mc = kl_monte_carlo(&p, &q, 200_000).unwrap();
        let z = ((&mc.estimate - &exact) / &mc.std_error)
            .abs()
            .max()
            .double_value(&[]);
        assert!(z < 4.0, "MC {:?} vs exact {:?}", mc.estimate, exact);
        assert!(mc.std_error.max().double_value(&[]) < 0.01);
        // against the standard normal, and for discrete pairs against the exact sum
        let sn = StandardNormal::new(&[3], Kind::Double, Device::Cpu).unwrap();
        let mc = kl_monte_carlo(&p, &sn, 200_000).unwrap();
        let exact = kl_std_normal(&p.loc, &(&p.log_scale * 2.0)).unwrap();
        assert!(
            ((&mc.estimate - &exact) / &mc.std_error)
                .abs()
                .max()
                .double_value(&[])
                < 4.0
        );
        let lp = Tensor::from_slice(&[0.1f64, 0.6, 0.3]).log();
        let lq = Tensor::from_slice(&[0.3f64, 0.3, 0.4]).log();
        let mc = kl_monte_carlo(
            &Categorical::new(&lp).unwrap(),
            &Categorical::new(&lq).unwrap(),
            200_000,
        )
        .unwrap();
        let exact = kl_discrete(&lp, &lq, 0).unwrap();
        assert!(
            ((&mc.estimate - &exact) / &mc.std_error)
                .abs()
                .double_value(&[])
                < 4.0
        );
        let bp = Bernoulli::new(&Tensor::from_slice(&[1.0f64])).unwrap();
        let bq = Bernoulli::new(&Tensor::from_slice(&[-1.0f64])).unwrap();
        let mc = kl_monte_carlo(&bp, &bq, 200_000).unwrap();
        let (a, b) = (1.0 / (1.0 + (-1f64).exp()), 1.0 / (1.0 + 1f64.exp()));
        let exact = a * (a / b).ln() + (1.0 - a) * ((1.0 - a) / (1.0 - b)).ln();
        assert!(
            ((mc.estimate.double_value(&[0]) - exact) / mc.std_error.double_value(&[0])).abs()
                < 4.0
        );
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let a = Tensor::zeros([3], F64);
        assert!(
            matches!(kl_std_normal(&a, &Tensor::zeros([2], F64)), Err(CoreError::Shape { ref name, .. }) if name == "log_var")
        );
        assert!(
            matches!(kl_discrete(&a, &Tensor::zeros([2], F64), 0), Err(CoreError::Shape { ref name, .. }) if name == "log_q")
        );
        let p = DiagGaussian::new(&a, &a).unwrap();
        let q = DiagGaussian::new(&Tensor::zeros([2], F64), &Tensor::zeros([2], F64)).unwrap();
        assert!(kl_diag_gaussians(&p, &q).is_err());
    }
}
