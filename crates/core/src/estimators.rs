//! Monte-Carlo estimators shared by the families.
//!
//! * [`iwae_log_likelihood`]: the importance-weighted estimate of log p(x) from k log-weights
//!   `log w_i = log p(x, z_i) - log q(z_i | x)`, `z_i ~ q`: `log (1/k) sum_i w_i` (log-mean-exp).
//!   Its expectation is the IWAE bound L_k (Burda et al. 2016, eq. 8), a lower bound on log p(x)
//!   that increases with k (Theorem 1) and reaches it as k -> inf; k = 1 is the ELBO. In nats.
//! * [`score_function_estimate`]: the likelihood-ratio (REINFORCE, Williams 1992) gradient
//!   `grad E_p[f(x)] = E_p[(f(x) - b) grad log p(x)]`, with an optional baseline b that leaves it
//!   unbiased (a constant, or the leave-one-out mean of the other draws).
//! * [`pathwise_estimate`]: the reparameterization gradient `grad E_eps[f(g(eps))]` through
//!   [`Distribution::rsample`] (Kingma & Welling 2014, sec. 2.4).
//!
//! Both gradient estimators return a differentiable surrogate over the batch shape whose value
//! is the Monte-Carlo mean of f and whose gradient (call `backward` on its sum) is the estimate.
use tch::Tensor;

use crate::dist::Distribution;
use crate::{CoreError, Result};

/// `log mean_i exp(x_i)` along `dim`, computed with log-sum-exp.
///
/// # Errors
/// [`CoreError::Shape`] (`x`) when `x` is a scalar, `dim` is out of range or that dimension is
/// empty; a libtorch error.
///
/// # Example
/// `log((e^0 + e^(ln 3)) / 2) = ln 2`, and no overflow where `exp` alone would overflow:
/// ```
/// use genzoo_core::estimators::log_mean_exp;
/// use tch::Tensor;
/// let x = Tensor::from_slice(&[0.0f64, 3f64.ln()]);
/// assert!((log_mean_exp(&x, 0)?.double_value(&[]) - 2f64.ln()).abs() < 1e-12);
/// let big = Tensor::from_slice(&[1000.0f64, 1000.0]);
/// assert!((log_mean_exp(&big, 0)?.double_value(&[]) - 1000.0).abs() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn log_mean_exp(x: &Tensor, dim: i64) -> Result<Tensor> {
    let n = dim_size("x", x, dim)?;
    Ok(x.f_logsumexp([dim], false)?.f_sub_scalar((n as f64).ln())?)
}

fn dim_size(name: &str, x: &Tensor, dim: i64) -> Result<i64> {
    let d = x.dim() as i64;
    if d == 0 || dim < -d || dim >= d {
        return Err(CoreError::shape(
            name,
            format!("dimension {dim} out of range for shape {:?}", x.size()),
        ));
    }
    let n = x.size()[dim.rem_euclid(d) as usize];
    if n < 1 {
        return Err(CoreError::shape(
            name,
            format!("dimension {dim} is empty in shape {:?}", x.size()),
        ));
    }
    Ok(n)
}

/// The importance-sampled estimate of log p(x), `[b]`, from log-weights `log_w [k, b]`: an
/// estimate whose expectation is the IWAE lower bound L_k (Burda et al. 2016, eq. 8), in nats.
///
/// # Errors
/// [`CoreError::Shape`] (`log_w`) when `log_w` is not 2-D or has no samples (k = 0); a libtorch
/// error.
pub fn iwae_log_likelihood(log_w: &Tensor) -> Result<Tensor> {
    if log_w.dim() != 2 {
        return Err(CoreError::shape(
            "log_w",
            format!("expected [k, b] log-weights, got {:?}", log_w.size()),
        ));
    }
    log_mean_exp(log_w, 0)
}

/// A control variate for the score-function estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    /// No baseline: `f(x) grad log p(x)`.
    None,
    /// A constant b (e.g. a running mean of f): `(f(x) - b) grad log p(x)`.
    Constant(f64),
    /// The mean of f over the other draws of the same batch element (needs >= 2 draws); still
    /// unbiased because it is independent of the draw it multiplies.
    LeaveOneOut,
}

/// The score-function surrogate from `log_prob [s, ..]` (differentiable in the parameters) and
/// `f_values [s, ..]` of s draws: `mean_s [f + (f - b) (log_prob - stopgrad(log_prob))]` with f
/// and b treated as constants. Its value is `mean_s f`; its gradient is the estimate.
///
/// # Errors
/// [`CoreError::Shape`] (`f_values`) when it differs in shape from `log_prob`, or (`log_prob`) when
/// `log_prob` is a scalar or has no draws; [`CoreError::Invalid`] for [`Baseline::LeaveOneOut`]
/// with fewer than 2 draws; a libtorch error.
pub fn score_function_surrogate(
    log_prob: &Tensor,
    f_values: &Tensor,
    baseline: Baseline,
) -> Result<Tensor> {
    if log_prob.size() != f_values.size() {
        return Err(CoreError::shape(
            "f_values",
            format!(
                "shape {:?} differs from log_prob {:?}",
                f_values.size(),
                log_prob.size()
            ),
        ));
    }
    let s = dim_size("log_prob", log_prob, 0)?;
    let f = f_values.f_detach()?;
    let centred = match baseline {
        Baseline::None => f.shallow_clone(),
        Baseline::Constant(b) => f.f_sub_scalar(b)?,
        Baseline::LeaveOneOut => {
            if s < 2 {
                return Err(CoreError::Invalid(
                    "leave-one-out baseline needs at least 2 draws".into(),
                ));
            }
            let others = f
                .f_sum_dim_intlist(0, true, f.kind())?
                .f_sub(&f)?
                .f_div_scalar((s - 1) as f64)?;
            f.f_sub(&others)?
        }
    };
    let score_term = centred.f_mul(&log_prob.f_sub(&log_prob.f_detach()?)?)?;
    let total = f.f_add(&score_term)?;
    Ok(total.f_mean_dim(0, false, total.kind())?)
}

/// The score-function estimate of `grad E_p[f(x)]` with `num_samples` draws per batch element:
/// a `[batch]` surrogate (see [`score_function_surrogate`]). f maps `[s, batch..]` draws to
/// values of the same shape; it is evaluated without gradient.
///
/// # Errors
/// [`CoreError::Invalid`] when `num_samples < 1` (or < 2 with [`Baseline::LeaveOneOut`]); the error
/// of `dist.log_prob` on its own samples; [`CoreError::Shape`] (`f_values`) when `f` changes the
/// shape of the draws; a libtorch error.
pub fn score_function_estimate(
    dist: &dyn Distribution,
    f: impl Fn(&Tensor) -> Tensor,
    num_samples: i64,
    baseline: Baseline,
) -> Result<Tensor> {
    if num_samples < 1 {
        return Err(CoreError::Invalid(format!(
            "score_function_estimate: num_samples = {num_samples}, need >= 1"
        )));
    }
    let x = dist.sample(&[num_samples]);
    let fx = tch::no_grad(|| f(&x));
    score_function_surrogate(&dist.log_prob(&x)?, &fx, baseline)
}

/// The pathwise (reparameterization) estimate of `grad E_p[f(x)]`: `mean_s f(rsample)`, a
/// `[batch]` tensor through which gradients flow; an error for distributions without `rsample`.
///
/// # Errors
/// [`CoreError::Invalid`] when `num_samples < 1` or `dist` has no reparameterized sampler
/// (Bernoulli, Categorical); a libtorch error.
pub fn pathwise_estimate(
    dist: &dyn Distribution,
    f: impl Fn(&Tensor) -> Tensor,
    num_samples: i64,
) -> Result<Tensor> {
    if num_samples < 1 {
        return Err(CoreError::Invalid(format!(
            "pathwise_estimate: num_samples = {num_samples}, need >= 1"
        )));
    }
    let fx = f(&dist.rsample(&[num_samples])?);
    Ok(fx.f_mean_dim(0, false, fx.kind())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{Bernoulli, DiagGaussian, StandardNormal};
    use tch::{Device, Kind};

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn log_normal(x: f64, var: f64) -> f64 {
        -0.5 * x * x / var - 0.5 * (2.0 * std::f64::consts::PI * var).ln()
    }

    #[test]
    fn log_mean_exp_is_stable() {
        let x = Tensor::from_slice(&[1000.0f64, 1000.0, -1e4]);
        let got = log_mean_exp(&x, 0).unwrap().double_value(&[]);
        assert!((got - (1000.0 + (2.0f64 / 3.0).ln())).abs() < 1e-9);
        assert!(
            matches!(log_mean_exp(&x, 1), Err(CoreError::Shape { ref name, .. }) if name == "x")
        );
        assert!(
            matches!(iwae_log_likelihood(&x), Err(CoreError::Shape { ref name, .. }) if name == "log_w")
        );
    }

    /// z ~ N(0,1), x | z ~ N(z,1): p(x) = N(0, 2), p(z | x) = N(x/2, 1/2).
    fn log_weights(x: &Tensor, q: &DiagGaussian, k: i64) -> Tensor {
        let z = q.sample(&[k]); // [k, b]
        let prior = StandardNormal::new(&[x.size()[0]], Kind::Double, Device::Cpu).unwrap();
        let lik = DiagGaussian::new(&z, &z.zeros_like()).unwrap();
        lik.log_prob(x).unwrap() + prior.log_prob(&z).unwrap() - q.log_prob(&z).unwrap()
    }

    #[test]
    fn iwae_is_exact_with_the_posterior_and_a_tightening_bound_with_the_prior() {
        tch::manual_seed(0);
        let xs = [-1.5f64, 0.3, 2.0];
        let x = Tensor::from_slice(&xs);
        let exact: Vec<f64> = xs.iter().map(|&v| log_normal(v, 2.0)).collect();
        // the true posterior as proposal: every weight equals p(x), for any k
        let post =
            DiagGaussian::from_log_var(&(&x / 2.0), &Tensor::full([3], 0.5f64.ln(), F64)).unwrap();
        for k in [1, 7] {
            let est = iwae_log_likelihood(&log_weights(&x, &post, k)).unwrap();
            for i in 0..3 {
                assert!((est.double_value(&[i as i64]) - exact[i]).abs() < 1e-12);
            }
        }
        // the prior as proposal: E[L_1] < E[L_10] < log p(x), and L_k -> log p(x)
        let prior = DiagGaussian::new(&Tensor::zeros([3], F64), &Tensor::zeros([3], F64)).unwrap();
        let mean_bound = |k: i64, reps: i64| -> Tensor {
            let xr = x.repeat([reps]);
            let q = DiagGaussian::new(
                &Tensor::zeros([3 * reps], F64),
                &Tensor::zeros([3 * reps], F64),
            )
            .unwrap();
            iwae_log_likelihood(&log_weights(&xr, &q, k))
                .unwrap()
                .view([reps, 3])
                .mean_dim(0, false, Kind::Double)
        };
        let (l1, l10) = (mean_bound(1, 20_000), mean_bound(10, 20_000));
        let big = iwae_log_likelihood(&log_weights(&x, &prior, 200_000)).unwrap();
        for i in 0..3i64 {
            let (a, b, e) = (
                l1.double_value(&[i]),
                l10.double_value(&[i]),
                exact[i as usize],
            );
            assert!(
                a < b && b < e,
                "x = {}: L1 {a}, L10 {b}, log p {e}",
                xs[i as usize]
            );
            // E[L_1] is the ELBO: E_prior[log N(x; z, 1)] = log N(x; 0, 1) - 1/2
            assert!(
                (a - (log_normal(xs[i as usize], 1.0) - 0.5)).abs() < 0.05,
                "{a}"
            );
            assert!(
                (big.double_value(&[i]) - e).abs() < 0.02,
                "{} vs {e}",
                big.double_value(&[i])
            );
        }
    }

    fn grad_samples(mu: f64, n: i64, which: &str) -> Tensor {
        // one independent estimator (8 draws) per batch element of a vector of copies of mu
        let loc = Tensor::full([n], mu, F64).set_requires_grad(true);
        let d = DiagGaussian::new(&loc, &Tensor::zeros([n], F64)).unwrap();
        let f = |x: &Tensor| x.square();
        let est = match which {
            "score" => score_function_estimate(&d, f, 8, Baseline::None),
            "score+const" => score_function_estimate(&d, f, 8, Baseline::Constant(mu * mu + 1.0)),
            "score+loo" => score_function_estimate(&d, f, 8, Baseline::LeaveOneOut),
            _ => pathwise_estimate(&d, f, 8),
        }
        .unwrap();
        est.sum(Kind::Double).backward();
        loc.grad()
    }

    #[test]
    fn gradient_estimators_are_unbiased_and_baselines_reduce_variance() {
        // d/dmu E_{N(mu, 1)}[x^2] = 2 mu. At mu = 1, per draw (x = 1 + eps): score x^2 eps has
        // Var 30; with the constant baseline E f = 2, (x^2 - 2) eps has Var 18; pathwise 2x has Var 4
        let (mu, n) = (1.0, 40_000);
        tch::manual_seed(2);
        let mut var = std::collections::BTreeMap::new();
        for which in ["score", "score+const", "score+loo", "pathwise"] {
            let g = grad_samples(mu, n, which);
            let (m, v) = (
                g.mean(Kind::Double).double_value(&[]),
                g.var(true).double_value(&[]),
            );
            println!(
                "{which:>12}: mean {m:.4} (want {}), variance {v:.3} (8 draws)",
                2.0 * mu
            );
            assert!(
                (m - 2.0 * mu).abs() < 4.0 * (v / n as f64).sqrt(),
                "{which}: biased, {m}"
            );
            var.insert(which, v);
        }
        // closed forms for 8 draws: 30/8, 18/8 and 4/8
        assert!((var["pathwise"] / 0.5 - 1.0).abs() < 0.05, "{var:?}");
        assert!((var["score+const"] / 2.25 - 1.0).abs() < 0.15, "{var:?}");
        assert!((var["score"] / 3.75 - 1.0).abs() < 0.15, "{var:?}");
        assert!(
            var["score"] > var["score+const"] && var["score"] > var["score+loo"],
            "{var:?}"
        );
        assert!(var["score+loo"] > var["pathwise"], "{var:?}");
    }

    #[test]
    fn score_function_works_for_discrete_distributions() {
        // d/dl E_{Bernoulli(sigmoid(l))}[x] = sigmoid'(l) = p (1 - p)
        tch::manual_seed(3);
        let l = Tensor::full([20_000], 0.4, F64).set_requires_grad(true);
        let d = Bernoulli::new(&l).unwrap();
        let est =
            score_function_estimate(&d, |x| x.shallow_clone(), 4, Baseline::LeaveOneOut).unwrap();
        let value = est.mean(Kind::Double).double_value(&[]);
        est.sum(Kind::Double).backward();
        let p = 1.0 / (1.0 + (-0.4f64).exp());
        let g = l.grad();
        let (m, se) = (
            g.mean(Kind::Double).double_value(&[]),
            (g.var(true).double_value(&[]) / 20_000.0).sqrt(),
        );
        assert!(
            (m - p * (1.0 - p)).abs() < 4.0 * se,
            "{m} vs {}",
            p * (1.0 - p)
        );
        assert!(
            (value - p).abs() < 0.01,
            "surrogate value {value} should be E f = {p}"
        );
        assert!(pathwise_estimate(&d, |x| x.shallow_clone(), 2).is_err());
        assert!(score_function_surrogate(
            &Tensor::zeros([1, 3], F64),
            &Tensor::zeros([1, 3], F64),
            Baseline::LeaveOneOut
        )
        .is_err());
        assert!(
            matches!(score_function_surrogate(&Tensor::zeros([2, 3], F64), &Tensor::zeros([2, 2], F64), Baseline::None), Err(CoreError::Shape { ref name, .. }) if name == "f_values")
        );
    }
}
