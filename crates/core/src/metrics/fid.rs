//! The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, eq. 6,
//! "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"):
//!
//! `d^2 = |m_1 - m_2|^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})`.
//!
//! The matrix square roots are exact: both are square roots of symmetric positive semi-definite
//! matrices, taken by eigendecomposition in double precision (eigenvalues that rounding makes
//! slightly negative are clamped at 0). `tr((S_1 S_2)^{1/2})` equals
//! `tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2})` because the two matrices are similar, and the symmetric
//! form avoids the non-symmetric `sqrtm` that Python implementations call.
use tch::{Kind, Tensor};

use super::check_features;
use crate::Result;

/// The mean `[d]` and covariance `[d, d]` (unbiased, `n - 1` in the denominator) of a feature
/// set, in double precision.
#[derive(Debug)]
pub struct FeatureStats {
    pub mean: Tensor,
    pub cov: Tensor,
    /// Examples the statistics come from.
    pub n: i64,
}

impl FeatureStats {
    /// Statistics of `features [n, d]` (n >= 2).
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] (`features`) when it is not a floating-point `[n >= 2, d]`
    /// tensor or holds a value that is not finite; a libtorch error.
    pub fn of(features: &Tensor) -> Result<FeatureStats> {
        check_features("features", features)?;
        let x = features.f_to_kind(Kind::Double)?;
        let n = x.size()[0];
        let mean = x.f_mean_dim(0, false, Kind::Double)?;
        let c = x.f_sub(&mean)?;
        let cov = c
            .f_transpose(0, 1)?
            .f_matmul(&c)?
            .f_div_scalar((n - 1) as f64)?;
        Ok(FeatureStats { mean, cov, n })
    }
}

/// The symmetric square root `V diag(sqrt(max(l, 0))) V^T` of a symmetric PSD matrix `[d, d]`.
///
/// # Errors
/// A libtorch error (e.g. a matrix that is not square).
pub fn sqrtm_psd(m: &Tensor) -> Result<Tensor> {
    let sym = m.f_add(&m.f_transpose(0, 1)?)?.f_mul_scalar(0.5)?;
    let (l, v) = sym.f_linalg_eigh("L")?;
    let root = l.f_clamp_min(0.0)?.f_sqrt()?;
    Ok(v.f_mul(&root.f_unsqueeze(0)?)?
        .f_matmul(&v.f_transpose(0, 1)?)?)
}

/// The Fréchet distance `d^2` between the Gaussians of `a` and `b` (eq. 6 of Heusel et al.);
/// 0 for identical statistics, in squared feature units.
///
/// # Errors
/// [`crate::CoreError::Shape`] (`b`) when the feature dimensions differ; a libtorch error.
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    if a.mean.size() != b.mean.size() {
        return Err(crate::CoreError::shape(
            "b",
            format!(
                "features of dimension {:?}, but the other set has {:?}",
                b.mean.size(),
                a.mean.size()
            ),
        ));
    }
    let diff = a.mean.f_sub(&b.mean)?.f_square()?.f_sum(Kind::Double)?;
    let s1 = sqrtm_psd(&a.cov)?;
    let inner = s1.f_matmul(&b.cov)?.f_matmul(&s1)?;
    let inner = inner.f_add(&inner.f_transpose(0, 1)?)?.f_mul_scalar(0.5)?;
    let tr_sqrt = inner
        .f_linalg_eigvalsh("L")?
        .f_clamp_min(0.0)?
        .f_sqrt()?
        .f_sum(Kind::Double)?;
    let tr = a.cov.f_trace()?.f_add(&b.cov.f_trace()?)?;
    let d2 = diff
        .f_add(&tr)?
        .f_sub(&tr_sqrt.f_mul_scalar(2.0)?)?
        .f_double_value(&[])?;
    // Rounding can leave -1e-12 for identical sets: the distance is never below 0.
    Ok(d2.max(0.0))
}

/// FID between feature sets `x [n, d]` and `y [m, d]`: [`frechet_distance`] of their statistics.
///
/// # Errors
/// As [`FeatureStats::of`] (naming `x` or `y`) and [`frechet_distance`].
///
/// # Example
/// A set against itself is at distance 0; shifting every feature by 1 in each of `d` dimensions adds
/// `d` (the squared distance of the means), the covariances being equal:
/// ```
/// use genzoo_core::metrics::fid::fid;
/// use tch::{Device, Kind, Tensor};
/// tch::manual_seed(0);
/// let x = Tensor::randn([500, 4], (Kind::Double, Device::Cpu));
/// assert!(fid(&x, &x)? < 1e-6);
/// assert!((fid(&x, &(&x + 1.0))? - 4.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fid(x: &Tensor, y: &Tensor) -> Result<f64> {
    check_features("x", x)?;
    check_features("y", y)?;
    frechet_distance(&FeatureStats::of(x)?, &FeatureStats::of(y)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn a_set_against_itself_is_zero() {
        tch::manual_seed(1);
        let x = Tensor::randn([500, 16], F64).matmul(&Tensor::randn([16, 16], F64));
        let d = fid(&x, &x).unwrap();
        assert!(d.abs() < 1e-8, "{d}");
    }

    #[test]
    fn the_square_root_squares_back() {
        tch::manual_seed(2);
        let a = Tensor::randn([6, 6], F64);
        let spd = a.matmul(&a.transpose(0, 1));
        let r = sqrtm_psd(&spd).unwrap();
        let err = (r.matmul(&r) - &spd).abs().max().double_value(&[]);
        assert!(err < 1e-9, "{err}");
    }

    /// Two Gaussians with diagonal covariances: `|m1 - m2|^2 + sum_i (s1_i - s2_i)^2`. The
    /// estimate from samples is biased upwards by O(d / n); averaged over seeds it converges to
    /// the closed form as n grows.
    #[test]
    fn samples_of_two_gaussians_converge_to_the_closed_form() {
        let d = 4;
        let s1 = Tensor::from_slice(&[1.0f64, 2.0, 0.5, 1.5]);
        let s2 = Tensor::from_slice(&[1.5f64, 1.0, 0.5, 3.0]);
        let m2 = Tensor::from_slice(&[0.3f64, 0.0, -0.2, 0.0]);
        let want = m2.square().sum(Kind::Double).double_value(&[])
            + (&s1 - &s2).square().sum(Kind::Double).double_value(&[]);
        let mean_err = |n: i64| {
            let mut e = 0.0;
            for s in 0..8 {
                tch::manual_seed(10 + s);
                let x = Tensor::randn([n, d], F64) * &s1;
                let y = Tensor::randn([n, d], F64) * &s2 + &m2;
                e += fid(&x, &y).unwrap() - want;
            }
            e / 8.0
        };
        let (small, large) = (mean_err(50), mean_err(20_000));
        assert!(large.abs() < 0.03, "n = 20000: mean error {large}");
        assert!(
            small > 3.0 * large.abs(),
            "no O(d/n) bias at n = 50: {small} vs {large}"
        );
    }

    #[test]
    fn the_closed_form_for_full_covariances() {
        // Commuting covariances S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T: tr term is
        // sum (a + b - 2 sqrt(ab)) = sum (sqrt a - sqrt b)^2.
        tch::manual_seed(3);
        let (q, _) = Tensor::linalg_qr(&Tensor::randn([5, 5], F64), "reduced");
        let a = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0]);
        let b = Tensor::from_slice(&[2.0f64, 2.0, 1.0, 9.0, 0.5]);
        let cov = |v: &Tensor| (&q * v.unsqueeze(0)).matmul(&q.transpose(0, 1));
        let sa = FeatureStats {
            mean: Tensor::zeros([5], F64),
            cov: cov(&a),
            n: 2,
        };
        let sb = FeatureStats {
            mean: Tensor::ones([5], F64),
            cov: cov(&b),
            n: 2,
        };
        let want = 5.0
            + (a.sqrt() - b.sqrt())
                .square()
                .sum(Kind::Double)
                .double_value(&[]);
        let got = frechet_distance(&sa, &sb).unwrap();
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn bad_features_are_named() {
        let x = Tensor::zeros([10, 3], F64);
        let err = fid(&x, &Tensor::zeros([10, 4], F64))
            .unwrap_err()
            .to_string();
        assert!(err.contains('b') || err.contains('y'), "{err}");
        let nan = Tensor::full([10, 3], f64::NAN, F64);
        assert!(fid(&x, &nan).unwrap_err().to_string().contains('y'));
        assert!(fid(&Tensor::zeros([1, 3], F64), &x).is_err());
    }
}
