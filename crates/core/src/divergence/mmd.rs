//! The unbiased estimate of the squared maximum mean discrepancy (Gretton et al. 2012, JMLR,
//! Lemma 6, eq. 3) with a sum of Gaussian RBF kernels of several bandwidths (as in GMMN, Li et
//! al. 2015, and MMD-GAN):
//!
//! `MMD_u^2 = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
//!            - 2/(nm) sum_{i,j} k(x_i, y_j)`,  `k(a, b) = sum_s exp(-|a - b|^2 / (2 s^2))`.
//!
//! The estimate is unbiased, so it can be slightly negative when both samples come from the same
//! distribution. Everything is differentiable (a generator can be trained on it).
use tch::{Kind, Tensor};

use crate::{CoreError, Result};

fn check_samples(name: &str, x: &Tensor) -> Result<()> {
    if x.dim() != 2 || x.size()[0] < 2 {
        return Err(CoreError::shape(
            name,
            format!("expected [n >= 2, d] samples, got {:?}", x.size()),
        ));
    }
    if !crate::dist::is_float_kind(x.kind()) {
        return Err(CoreError::shape(
            name,
            format!("expected a floating-point tensor, got {:?}", x.kind()),
        ));
    }
    Ok(())
}

/// Pairwise squared Euclidean distances `[n, m]` between rows of `x [n, d]` and `y [m, d]`.
///
/// # Errors
/// [`CoreError::Shape`] (`y`) when `x` or `y` is not 2-D or their second dimensions differ; a
/// libtorch error.
pub fn pairwise_sq_dists(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if x.dim() != 2 || y.dim() != 2 || x.size()[1] != y.size()[1] {
        return Err(CoreError::shape(
            "y",
            format!(
                "shape {:?} is not [m, d] for x of shape {:?}",
                y.size(),
                x.size()
            ),
        ));
    }
    let xx = x.f_square()?.f_sum_dim_intlist(1, true, x.kind())?; // [n, 1]
    let yy = y
        .f_square()?
        .f_sum_dim_intlist(1, true, y.kind())?
        .f_transpose(0, 1)?; // [1, m]
    let xy = x.f_matmul(&y.f_transpose(0, 1)?)?; // [n, m]
    Ok(xx
        .f_add(&yy)?
        .f_sub(&xy.f_mul_scalar(2.0)?)?
        .f_clamp_min(0.0)?)
}

/// The multi-bandwidth RBF kernel matrix `[n, m]`: `sum_s exp(-|x_i - y_j|^2 / (2 s^2))`.
///
/// # Errors
/// [`CoreError::Invalid`] when `bandwidths` is empty or holds a value that is not positive and
/// finite; [`CoreError::Shape`] when `x` and `y` are not `[n, d]` and `[m, d]`; a libtorch error.
pub fn rbf_kernel(x: &Tensor, y: &Tensor, bandwidths: &[f64]) -> Result<Tensor> {
    if bandwidths.is_empty() || bandwidths.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
        return Err(CoreError::Invalid(format!(
            "rbf_kernel: bandwidths {bandwidths:?} must be positive and non-empty"
        )));
    }
    let d2 = pairwise_sq_dists(x, y)?;
    let mut k = d2.f_zeros_like()?;
    for &s in bandwidths {
        k = k.f_add(&d2.f_mul_scalar(-0.5 / (s * s))?.f_exp()?)?;
    }
    Ok(k)
}

/// The unbiased MMD^2 between samples `x [n, d]` and `y [m, d]` (n, m >= 2): a scalar tensor.
///
/// # Errors
/// [`CoreError::Shape`] (`x` or `y`) when it is not a floating-point `[n, d]` tensor with n >= 2,
/// or when the two differ in `d`; [`CoreError::Invalid`] for bad `bandwidths` (see [`rbf_kernel`]);
/// a libtorch error.
pub fn mmd2_unbiased(x: &Tensor, y: &Tensor, bandwidths: &[f64]) -> Result<Tensor> {
    check_samples("x", x)?;
    check_samples("y", y)?;
    mmd2_unbiased_from_kernels(
        &rbf_kernel(x, x, bandwidths)?,
        &rbf_kernel(y, y, bandwidths)?,
        &rbf_kernel(x, y, bandwidths)?,
    )
}

/// The unbiased MMD^2 (Gretton et al. 2012, Lemma 6) from kernel matrices of any kernel:
/// `k_xx [n, n]`, `k_yy [m, m]` (their diagonals are left out) and `k_xy [n, m]`; a scalar
/// tensor. KID uses it with the cubic polynomial kernel.
///
/// # Errors
/// [`CoreError::Shape`] naming the matrix that is not square (`k_xx`, `k_yy`, with n, m >= 2) or
/// does not match (`k_xy`); a libtorch error.
pub fn mmd2_unbiased_from_kernels(k_xx: &Tensor, k_yy: &Tensor, k_xy: &Tensor) -> Result<Tensor> {
    let square = |name: &str, k: &Tensor| -> Result<f64> {
        match k.size()[..] {
            [a, b] if a == b && a >= 2 => Ok(a as f64),
            _ => Err(CoreError::shape(
                name,
                format!("expected [n, n] with n >= 2, got {:?}", k.size()),
            )),
        }
    };
    let (n, m) = (square("k_xx", k_xx)?, square("k_yy", k_yy)?);
    if k_xy.size() != [n as i64, m as i64] {
        return Err(CoreError::shape(
            "k_xy",
            format!("expected [{n}, {m}], got {:?}", k_xy.size()),
        ));
    }
    let off_diag_mean = |k: &Tensor, n: f64| -> Result<Tensor> {
        let total = k
            .f_sum(k.kind())?
            .f_sub(&k.f_diagonal(0, 0, 1)?.f_sum(k.kind())?)?;
        Ok(total.f_div_scalar(n * (n - 1.0))?)
    };
    let kxx = off_diag_mean(k_xx, n)?;
    let kyy = off_diag_mean(k_yy, m)?;
    let kxy = k_xy.f_mean(k_xy.kind())?;
    Ok(kxx.f_add(&kyy)?.f_sub(&kxy.f_mul_scalar(2.0)?)?)
}

/// The median heuristic bandwidth: the median pairwise distance in the pooled sample.
///
/// # Errors
/// [`CoreError::Shape`] (`x` or `y`) when it is not a floating-point `[n, d]` tensor with n >= 2,
/// or when the two differ in `d`; a libtorch error.
pub fn median_bandwidth(x: &Tensor, y: &Tensor) -> Result<f64> {
    check_samples("x", x)?;
    check_samples("y", y)?;
    let z = Tensor::f_cat(&[x, y], 0)?.f_to_kind(Kind::Double)?;
    let d2 = pairwise_sq_dists(&z, &z)?;
    let n = z.size()[0];
    let mask = Tensor::f_ones([n, n], (Kind::Bool, z.device()))?.f_triu(1)?;
    Ok(d2
        .f_masked_select(&mask)?
        .f_median()?
        .f_sqrt()?
        .f_double_value(&[])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn hand_computed_value() {
        // x = {0, 1}, y = {0, 2}, bandwidths {1, 2}:
        // sum_s [k_s(0,1) + k_s(0,2)... ] = (e^-2 + e^-1/2) / 2 - 1
        let x = Tensor::from_slice(&[0.0f64, 1.0]).view([2, 1]);
        let y = Tensor::from_slice(&[0.0f64, 2.0]).view([2, 1]);
        let got = mmd2_unbiased(&x, &y, &[1.0, 2.0])
            .unwrap()
            .double_value(&[]);
        let want = 0.5 * ((-2.0f64).exp() + (-0.5f64).exp()) - 1.0;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn same_distribution_is_near_zero_and_a_shift_matches_the_population_value() {
        tch::manual_seed(0);
        let n = 1500;
        let x = Tensor::randn([n, 2], F64);
        let x2 = Tensor::randn([n, 2], F64);
        let shift = Tensor::from_slice(&[1.0f64, 0.0]);
        let y = Tensor::randn([n, 2], F64) + &shift;
        let same = mmd2_unbiased(&x, &x2, &[1.0]).unwrap().double_value(&[]);
        let shifted = mmd2_unbiased(&x, &y, &[1.0]).unwrap().double_value(&[]);
        // population MMD^2 for N(0, I_2) vs N(delta, I_2), bandwidth 1:
        // 2 c (1 - exp(-|delta|^2 / (2 (1 + 2)))), c = (1 / (1 + 2))^(d/2)
        let c = 1.0 / 3.0;
        let want = 2.0 * c * (1.0 - (-1.0f64 / 6.0).exp());
        assert!(same.abs() < 0.01, "{same}");
        assert!((shifted - want).abs() < 0.02, "{shifted} vs {want}");
        // several bandwidths still separate them
        let multi = mmd2_unbiased(&x, &y, &[0.5, 1.0, 2.0, 4.0])
            .unwrap()
            .double_value(&[]);
        assert!(multi > 0.1, "{multi}");
        let h = median_bandwidth(&x.narrow(0, 0, 200), &y.narrow(0, 0, 200)).unwrap();
        assert!(h > 1.0 && h < 3.0, "{h}");
    }

    #[test]
    fn invalid_inputs_are_named() {
        let x = Tensor::zeros([4, 2], F64);
        assert!(
            matches!(mmd2_unbiased(&x, &Tensor::zeros([4, 3], F64), &[1.0]), Err(CoreError::Shape { ref name, .. }) if name == "y")
        );
        assert!(
            matches!(mmd2_unbiased(&Tensor::zeros([1, 2], F64), &x, &[1.0]), Err(CoreError::Shape { ref name, .. }) if name == "x")
        );
        assert!(mmd2_unbiased(&x, &x, &[]).is_err());
        assert!(mmd2_unbiased(&x, &x, &[-1.0]).is_err());
    }
}
