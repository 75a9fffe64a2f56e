//! The GAN game of Goodfellow et al. 2014: the value function
//! `V(D, G) = E_{p_data}[log D(x)] + E_{p_g}[log(1 - D(x))]` (eq. 1), its maximizer for a fixed
//! generator `D*(x) = p_data(x) / (p_data(x) + p_g(x))` (Proposition 1, eq. 2), and the value
//! there, `V(D*, G) = 2 JS(p_data || p_g) - log 4` (Theorem 1; [`super::js`]).
//!
//! Everything works from log-densities and logits: `D* = sigmoid(log p_data - log p_g)`, and
//! `log D = log_sigmoid(l)`, `log(1 - D) = log_sigmoid(-l)` for a discriminator logit l.
use tch::Tensor;

use crate::{CoreError, Result};

fn same_shape(a_name: &str, a: &Tensor, b_name: &str, b: &Tensor) -> Result<()> {
    if a.size() != b.size() {
        return Err(CoreError::shape(
            b_name,
            format!(
                "shape {:?} differs from `{a_name}` shape {:?}",
                b.size(),
                a.size()
            ),
        ));
    }
    Ok(())
}

/// The logit of the optimal discriminator, `log p_data(x) - log p_g(x)` (eq. 2).
///
/// # Errors
/// [`CoreError::Shape`] (`log_p_g`) when `log_p_g` differs in shape from `log_p_data`; a libtorch
/// error.
pub fn optimal_discriminator_logit(log_p_data: &Tensor, log_p_g: &Tensor) -> Result<Tensor> {
    same_shape("log_p_data", log_p_data, "log_p_g", log_p_g)?;
    Ok(log_p_data.f_sub(log_p_g)?)
}

/// The optimal discriminator `D*(x) = p_data / (p_data + p_g)` from log-densities (eq. 2).
///
/// # Errors
/// [`CoreError::Shape`] (`log_p_g`) when `log_p_g` differs in shape from `log_p_data`; a libtorch
/// error.
pub fn optimal_discriminator(log_p_data: &Tensor, log_p_g: &Tensor) -> Result<Tensor> {
    Ok(optimal_discriminator_logit(log_p_data, log_p_g)?.f_sigmoid()?)
}

/// Monte-Carlo `V(D, G)` from discriminator logits on data `[n]` and on generated samples
/// `[m]`: `mean log_sigmoid(l_real) + mean log_sigmoid(-l_fake)` (eq. 1).
///
/// # Errors
/// [`CoreError::Shape`] (`logits_real/logits_fake`) when either tensor is empty; a libtorch error.
pub fn gan_value_from_logits(logits_real: &Tensor, logits_fake: &Tensor) -> Result<Tensor> {
    if logits_real.numel() == 0 || logits_fake.numel() == 0 {
        return Err(CoreError::shape(
            "logits_real/logits_fake",
            "must be non-empty",
        ));
    }
    let a = logits_real.f_log_sigmoid()?;
    let b = logits_fake.f_neg()?.f_log_sigmoid()?;
    Ok(a.f_mean(a.kind())?.f_add(&b.f_mean(b.kind())?)?)
}

/// `V(D, G)` as a Riemann sum on a grid with spacing `dx`: `sum dx [p_data log D + p_g log(1 - D)]`
/// from log-densities and discriminator logits at the grid points (all the same shape).
///
/// # Errors
/// [`CoreError::Shape`] (`log_p_g` or `d_logits`) when it differs in shape from `log_p_data`;
/// [`CoreError::Invalid`] when `dx` is NaN or not positive; a libtorch error.
pub fn gan_value_on_grid(
    log_p_data: &Tensor,
    log_p_g: &Tensor,
    d_logits: &Tensor,
    dx: f64,
) -> Result<Tensor> {
    same_shape("log_p_data", log_p_data, "log_p_g", log_p_g)?;
    same_shape("log_p_data", log_p_data, "d_logits", d_logits)?;
    if dx.is_nan() || dx <= 0.0 {
        return Err(CoreError::Invalid(format!(
            "gan_value_on_grid: dx = {dx}, need > 0"
        )));
    }
    let a = log_p_data.f_exp()?.f_mul(&d_logits.f_log_sigmoid()?)?;
    let b = log_p_g
        .f_exp()?
        .f_mul(&d_logits.f_neg()?.f_log_sigmoid()?)?;
    let s = a.f_add(&b)?;
    Ok(s.f_sum(s.kind())?.f_mul_scalar(dx)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{DiagGaussian, Distribution};
    use crate::divergence::js::js_discrete;
    use tch::{Device, Kind};

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn normal(mu: f64, s: f64) -> DiagGaussian {
        DiagGaussian::from_scale(&Tensor::from_slice(&[mu]), &Tensor::from_slice(&[s])).unwrap()
    }

    #[test]
    fn value_at_the_optimal_discriminator_is_2js_minus_log4() {
        let (lo, hi, n) = (-12.0, 12.0, 24_001);
        let dx = (hi - lo) / (n - 1) as f64;
        let grid = Tensor::linspace(lo, hi, n, F64);
        let (pd, pg) = (normal(0.0, 1.0), normal(1.5, 0.7));
        let (lpd, lpg) = (pd.log_prob(&grid).unwrap(), pg.log_prob(&grid).unwrap());
        let d_star = optimal_discriminator_logit(&lpd, &lpg).unwrap();
        let v_star = gan_value_on_grid(&lpd, &lpg, &d_star, dx)
            .unwrap()
            .double_value(&[]);
        let js = js_discrete(&(&lpd + dx.ln()), &(&lpg + dx.ln()), 0)
            .unwrap()
            .double_value(&[]);
        let rhs = 2.0 * js - 4f64.ln();
        assert!(
            (v_star - rhs).abs() < 1e-8,
            "V(D*) = {v_star}, 2 JS - log 4 = {rhs}"
        );
        assert!(js > 0.2 && js < std::f64::consts::LN_2, "{js}");
        // D* is the maximizer: any other discriminator scores lower
        for other in [&d_star * 0.8, &d_star + 0.3, d_star.zeros_like()] {
            let v = gan_value_on_grid(&lpd, &lpg, &other, dx)
                .unwrap()
                .double_value(&[]);
            assert!(v < v_star, "{v} >= {v_star}");
        }
        // p_g = p_data: D* = 1/2 everywhere and V = -log 4
        let half = optimal_discriminator(&lpd, &lpd).unwrap();
        assert!((half - 0.5).abs().max().double_value(&[]) < 1e-15);
        let v = gan_value_on_grid(&lpd, &lpd, &lpd.zeros_like(), dx)
            .unwrap()
            .double_value(&[]);
        assert!((v + 4f64.ln()).abs() < 1e-8);
    }

    #[test]
    fn monte_carlo_value_agrees_with_the_grid() {
        tch::manual_seed(4);
        let (pd, pg) = (normal(0.0, 1.0), normal(1.5, 0.7));
        let (xr, xf) = (pd.sample(&[400_000]), pg.sample(&[400_000]));
        let lr =
            optimal_discriminator_logit(&pd.log_prob(&xr).unwrap(), &pg.log_prob(&xr).unwrap())
                .unwrap();
        let lf =
            optimal_discriminator_logit(&pd.log_prob(&xf).unwrap(), &pg.log_prob(&xf).unwrap())
                .unwrap();
        let mc = gan_value_from_logits(&lr, &lf).unwrap().double_value(&[]);
        let grid = Tensor::linspace(-12.0, 12.0, 24_001, F64);
        let (lpd, lpg) = (pd.log_prob(&grid).unwrap(), pg.log_prob(&grid).unwrap());
        let exact = gan_value_on_grid(&lpd, &lpg, &(&lpd - &lpg), 1e-3)
            .unwrap()
            .double_value(&[]);
        assert!((mc - exact).abs() < 5e-3, "{mc} vs {exact}");
        assert!(
            matches!(optimal_discriminator(&lpd, &lpg.narrow(0, 0, 3)), Err(CoreError::Shape { ref name, .. }) if name == "log_p_g")
        );
    }
}
