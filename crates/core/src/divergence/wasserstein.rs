//! Wasserstein distances between empirical distributions: exact W_p in one dimension through the
//! quantile functions, `W_p^p = int_0^1 |F^-1(t) - G^-1(t)|^p dt` (Villani 2009, Remark 2.30;
//! the W1 that WGAN's critic estimates, Arjovsky et al. 2017, eq. 1), and the sliced Wasserstein
//! distance in n dimensions, `SW_p^p = E_theta[W_p^p(theta.x, theta.y)]` with theta uniform on
//! the sphere (Bonneel et al. 2015; Deshpande et al. 2018), estimated with random projections.
//!
//! For samples of sizes n and m the quantile functions are step functions that change at the
//! levels i/n and j/m; the integral is an exact finite sum over the merged levels. Both
//! functions are differentiable in the sample values (through the sort).
use tch::{Kind, Tensor};

use crate::{CoreError, Result};

/// For sizes n and m: `(dt, ix, iy)` over the merged quantile levels, where on the k-th interval
/// of length `dt[k]` the quantile functions are `x_sorted[ix[k]]` and `y_sorted[iy[k]]`.
fn quantile_pieces(n: i64, m: i64, device: tch::Device) -> Result<(Tensor, Tensor, Tensor)> {
    let o = (Kind::Double, device);
    let lx = Tensor::f_arange_start(1, n + 1, o)?.f_div_scalar(n as f64)?;
    let ly = Tensor::f_arange_start(1, m + 1, o)?.f_div_scalar(m as f64)?;
    let (levels, _) = Tensor::f_cat(&[lx, ly], 0)?.f_sort(0, false)?;
    let prev = Tensor::f_cat(
        &[Tensor::f_zeros([1], o)?, levels.f_narrow(0, 0, n + m - 1)?],
        0,
    )?;
    let dt = levels.f_sub(&prev)?;
    let mid = levels.f_add(&prev)?.f_mul_scalar(0.5)?;
    let idx = |k: i64| -> Result<Tensor> {
        Ok(mid
            .f_mul_scalar(k as f64)?
            .f_floor()?
            .f_clamp(0.0, (k - 1) as f64)?
            .f_to_kind(Kind::Int64)?)
    };
    Ok((dt, idx(n)?, idx(m)?))
}

/// `W_p^p` per column for sorted columns `xs [n, L]`, `ys [m, L]`: a `[L]` tensor.
fn wpp_sorted_columns(xs: &Tensor, ys: &Tensor, p: f64) -> Result<Tensor> {
    let (n, m) = (xs.size()[0], ys.size()[0]);
    let (dt, ix, iy) = quantile_pieces(n, m, xs.device())?;
    let diff = xs
        .f_index_select(0, &ix)?
        .f_sub(&ys.f_index_select(0, &iy)?)?
        .f_abs()?; // [T, L]
    let diff = if p == 1.0 {
        diff
    } else {
        diff.f_pow_tensor_scalar(p)?
    };
    let w = dt.f_to_kind(diff.kind())?.f_unsqueeze(1)?;
    Ok(diff.f_mul(&w)?.f_sum_dim_intlist(0, false, diff.kind())?)
}

fn check_p(p: f64) -> Result<()> {
    if !(p >= 1.0 && p.is_finite()) {
        return Err(CoreError::Invalid(format!(
            "Wasserstein order p = {p}, need a finite p >= 1"
        )));
    }
    Ok(())
}

/// Exact `W_p` between the empirical distributions of `x [n]` and `y [m]` (a scalar tensor).
///
/// # Errors
/// [`CoreError::Invalid`] when `p` is not a finite number >= 1; [`CoreError::Shape`] (`x` or `y`)
/// when it is not a non-empty 1-D sample; a libtorch error.
pub fn wasserstein_1d(x: &Tensor, y: &Tensor, p: f64) -> Result<Tensor> {
    check_p(p)?;
    for (name, t) in [("x", x), ("y", y)] {
        if t.dim() != 1 || t.size()[0] < 1 {
            return Err(CoreError::shape(
                name,
                format!("expected a non-empty [n] sample, got {:?}", t.size()),
            ));
        }
    }
    let (xs, _) = x.f_sort(0, false)?;
    let (ys, _) = y.f_sort(0, false)?;
    let wpp = wpp_sorted_columns(&xs.f_unsqueeze(1)?, &ys.f_unsqueeze(1)?, p)?.f_squeeze_dim(0)?;
    Ok(wpp.f_pow_tensor_scalar(1.0 / p)?)
}

/// Exact `W_1` between the empirical distributions of `x [n]` and `y [m]`.
///
/// # Errors
/// [`CoreError::Shape`] (`x` or `y`) when it is not a non-empty 1-D sample; a libtorch error.
pub fn wasserstein1_1d(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    wasserstein_1d(x, y, 1.0)
}

/// The sliced `SW_p` between `x [n, d]` and `y [m, d]` with `n_projections` directions drawn
/// uniformly on the sphere from torch's generator: `(mean_l W_p^p(x theta_l, y theta_l))^(1/p)`.
///
/// # Errors
/// [`CoreError::Invalid`] when `p` is not a finite number >= 1 or `n_projections < 1`;
/// [`CoreError::Shape`] (`x` or `y`) when it is not a non-empty 2-D sample, or (`y`) when its
/// dimension differs from that of `x`; a libtorch error.
pub fn sliced_wasserstein(x: &Tensor, y: &Tensor, n_projections: i64, p: f64) -> Result<Tensor> {
    check_p(p)?;
    for (name, t) in [("x", x), ("y", y)] {
        if t.dim() != 2 || t.size()[0] < 1 {
            return Err(CoreError::shape(
                name,
                format!("expected non-empty [n, d] samples, got {:?}", t.size()),
            ));
        }
    }
    if x.size()[1] != y.size()[1] {
        return Err(CoreError::shape(
            "y",
            format!("dimension {} differs from x's {}", y.size()[1], x.size()[1]),
        ));
    }
    if n_projections < 1 {
        return Err(CoreError::Invalid(format!(
            "sliced_wasserstein: n_projections = {n_projections}, need >= 1"
        )));
    }
    let d = x.size()[1];
    let theta = Tensor::f_randn([d, n_projections], (x.kind(), x.device()))?;
    let theta = theta.f_div(
        &theta
            .f_square()?
            .f_sum_dim_intlist(0, true, theta.kind())?
            .f_sqrt()?,
    )?;
    let (xs, _) = x.f_matmul(&theta)?.f_sort(0, false)?; // [n, L]
    let (ys, _) = y.f_matmul(&theta)?.f_sort(0, false)?; // [m, L]
    let wpp = wpp_sorted_columns(&xs, &ys, p)?;
    Ok(wpp.f_mean(wpp.kind())?.f_pow_tensor_scalar(1.0 / p)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn w(x: &[f64], y: &[f64], p: f64) -> f64 {
        wasserstein_1d(&Tensor::from_slice(x), &Tensor::from_slice(y), p)
            .unwrap()
            .double_value(&[])
    }

    #[test]
    fn closed_forms_in_one_dimension() {
        // two point masses
        assert!((w(&[0.3], &[-1.2], 1.0) - 1.5).abs() < 1e-12);
        assert!((w(&[0.3], &[-1.2], 2.0) - 1.5).abs() < 1e-12);
        // a shifted sample (in any order) is at distance |shift| for every p
        tch::manual_seed(0);
        let x = Tensor::randn([500], F64);
        let y = (&x + 0.7).flip([0]);
        for p in [1.0, 2.0, 3.0] {
            let d = wasserstein_1d(&x, &y, p).unwrap().double_value(&[]);
            assert!((d - 0.7).abs() < 1e-12, "p = {p}: {d}");
        }
        // unequal sizes: {0, 1} vs {0, 1/2, 1}: |F^-1 - G^-1| = 1/2 on (1/3, 2/3] -> 1/6
        assert!((w(&[1.0, 0.0], &[0.0, 0.5, 1.0], 1.0) - 1.0 / 6.0).abs() < 1e-12);
        // W2 between a point mass and {-1, 1}: sqrt(1) for the mass at 0
        assert!((w(&[0.0], &[-1.0, 1.0], 2.0) - 1.0).abs() < 1e-12);
        // W1 = int |F - G|: {0,0,3} vs {1,2}: |F - G| = 2/3 on [0,1), 1/6 on [1,2), 1/3 on [2,3)
        assert!(
            (w(&[0.0, 0.0, 3.0], &[1.0, 2.0], 1.0) - (2.0 / 3.0 + 1.0 / 6.0 + 1.0 / 3.0)).abs()
                < 1e-12
        );
    }

    #[test]
    fn gradients_flow_to_the_samples() {
        let x = Tensor::from_slice(&[0.0f64, 1.0]).set_requires_grad(true);
        let y = Tensor::from_slice(&[2.0f64, 3.0]);
        wasserstein1_1d(&x, &y).unwrap().backward();
        // W1 = mean(y - x): d/dx_i = -1/2
        assert!((x.grad() + 0.5).abs().max().double_value(&[]) < 1e-12);
    }

    #[test]
    fn sliced_wasserstein_of_identical_and_shifted_sets() {
        tch::manual_seed(1);
        let x = Tensor::randn([300, 3], F64);
        let perm = Tensor::randperm(300, (Kind::Int64, Device::Cpu));
        let same = sliced_wasserstein(&x, &x.index_select(0, &perm), 64, 2.0)
            .unwrap()
            .double_value(&[]);
        assert!(same.abs() < 1e-12, "{same}");
        // a shift v: W2 along theta is |theta . v|, and E (theta . v)^2 = |v|^2 / d
        let v = Tensor::from_slice(&[3.0f64, 0.0, 0.0]);
        let sw = sliced_wasserstein(&x, &(&x + &v), 20_000, 2.0)
            .unwrap()
            .double_value(&[]);
        let want = (9.0f64 / 3.0).sqrt();
        assert!((sw - want).abs() < 0.03 * want, "{sw} vs {want}");
        // in one dimension every projection is +-1: sliced = exact
        let a = Tensor::randn([50, 1], F64);
        let b = Tensor::randn([70, 1], F64) * 2.0;
        let s1 = sliced_wasserstein(&a, &b, 3, 1.0)
            .unwrap()
            .double_value(&[]);
        let e1 = wasserstein1_1d(&a.view([50]), &b.view([70]))
            .unwrap()
            .double_value(&[]);
        assert!((s1 - e1).abs() < 1e-12);
    }

    #[test]
    fn invalid_inputs_are_named() {
        let x = Tensor::zeros([4, 2], F64);
        assert!(
            matches!(wasserstein1_1d(&x, &x), Err(CoreError::Shape { ref name, .. }) if name == "x")
        );
        assert!(
            matches!(sliced_wasserstein(&x, &Tensor::zeros([4, 3], F64), 8, 1.0), Err(CoreError::Shape { ref name, .. }) if name == "y")
        );
        assert!(wasserstein_1d(&Tensor::zeros([3], F64), &Tensor::zeros([3], F64), 0.5).is_err());
        assert!(sliced_wasserstein(&x, &x, 0, 1.0).is_err());
    }
}
