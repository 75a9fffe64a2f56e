//! Shared checks and linear algebra of the baselines: input and ridge checks, Cholesky factors,
//! Gaussian log-densities and seeded draws, all in `f64`.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use tch::{Device, Kind, Tensor};

use genzoo_core::{seed, CoreError, Result};

use crate::*;

/// Checks that `x` is a finite floating `[n, d]` tensor with `n >= min_rows` (and `d == want_d`
/// when given) and returns it as `f64`.
pub(crate) fn check_input(
    x: &Tensor,
    what: &str,
    min_rows: i64,
    want_d: Option<i64>,
) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 2 {
        return Err(CoreError::shape(
            what,
            format!("expected [n, d], got shape {size:?}"),
        ));
    }
    if !matches!(
        x.kind(),
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    ) {
        return Err(CoreError::shape(
            what,
            format!("expected a floating tensor, got {:?}", x.kind()),
        ));
    }
    if size[0] < min_rows {
        return Err(CoreError::shape(
            what,
            format!("needs at least {min_rows} rows, got {}", size[0]),
        ));
    }
    if let Some(d) = want_d {
        if size[1] != d {
            return Err(CoreError::shape(
                what,
                format!("the model was fitted on {d} dimensions, got {}", size[1]),
            ));
        }
    }
    let x = x.to_kind(Kind::Double);
    if !bool::try_from(x.f_isfinite()?.all())? {
        return Err(CoreError::shape(what, "holds NaN or infinite values"));
    }
    Ok(x)
}

/// The error for a method called before `fit`.
pub(crate) fn not_fitted(model: &str) -> CoreError {
    CoreError::model(model, "not fitted: call `fit` first")
}

/// Lower Cholesky factor of the symmetric matrices `cov` (`[.., d, d]`), or an error naming `what`.
pub(crate) fn cholesky(cov: &Tensor, what: &str) -> Result<Tensor> {
    let (l, info) = cov.f_linalg_cholesky_ex(false, false)?;
    if info.f_ne(0)?.any().int64_value(&[]) != 0 {
        return Err(CoreError::shape(
            what,
            "covariance is not positive definite: raise `ridge` (constant or collinear dimensions)",
        ));
    }
    Ok(l)
}

/// `log N(x | mean, L L^T)` for each row of `x` (`f64 [n, d]`), with `l` the lower Cholesky
/// factor (`[d, d]`) and `mean` `[d]`: `-(d ln 2pi + log|S| + |L^-1 (x - mean)|^2) / 2`. `[n]`.
pub(crate) fn mvn_log_prob_chol(x: &Tensor, mean: &Tensor, l: &Tensor) -> Result<Tensor> {
    let d = x.size()[1];
    let xc = (x - mean).transpose(0, 1); // [d, n]
    let z = l.f_linalg_solve_triangular(&xc, false, true, false)?; // [d, n]
    let maha = z.square().sum_dim_intlist(0, false, Kind::Double); // [n]
    let logdet = 2.0 * l.diagonal(0, -2, -1).log().sum(Kind::Double);
    Ok((maha + logdet + d as f64 * LN_2PI) * -0.5)
}

/// `f64 [n, d]` standard normal draws from the Rust stream `(seed, name, index)`, on `device`.
pub(crate) fn std_normal(
    n: i64,
    d: i64,
    seed_: u64,
    name: &str,
    index: u64,
    device: Device,
) -> Tensor {
    let mut rng = seed::rng(seed_, name, index);
    let v: Vec<f64> = (0..n * d)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_slice(&v).reshape([n, d]).to_device(device)
}

/// `n` draws of an index in `0..weights.len()` with probability proportional to `weights`
/// (non-negative, not all zero), from `rng`.
pub(crate) fn categorical(weights: &[f64], n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    (0..n)
        .map(|_| {
            let mut u = rng.gen::<f64>() * total;
            for (i, &w) in weights.iter().enumerate() {
                if u < w {
                    return i;
                }
                u -= w;
            }
            // Rounding left u just above the last weight: the last positive one.
            weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
        })
        .collect()
}

/// Validates a ridge value from a config.
pub(crate) fn check_ridge(key: &str, ridge: f64) -> Result<()> {
    if !(ridge.is_finite() && ridge >= 0.0) {
        return Err(CoreError::config(
            key,
            format!("must be finite and >= 0, got {ridge}"),
        ));
    }
    Ok(())
}
