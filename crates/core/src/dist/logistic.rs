//! The logistic distribution Logistic(mu, s): CDF `sigmoid((x - mu) / s)`, the building block of
//! PixelCNN++'s discretized mixture ([`super::dmol`]) and of the logistic prior of NICE (Dinh et
//! al. 2015, sec. 3.4).
//!
//! With `z = (x - mu) / s`: `log p(x) = -z - log s - 2 softplus(-z)` (computed through softplus,
//! finite for any z), `log F(x) = -softplus(-z)`, `log(1 - F(x)) = -softplus(z)`, entropy
//! `log s + 2`, reparameterized draws `mu + s (log u - log(1 - u))`, `u ~ U(0,1)`.
use tch::Tensor;

use super::{check_broadcast, check_float, check_same_shape, extended_shape};
use super::{float_kind_of, Distribution};
use crate::Result;

/// Independent logistic variables with `loc` and `log_scale` of the batch shape.
#[derive(Debug)]
pub struct Logistic {
    /// The location mu (the median).
    pub loc: Tensor,
    /// log s.
    pub log_scale: Tensor,
}

/// The standardized value `(x - loc) / exp(log_scale)` (validated `x`).
fn standardize(d: &Logistic, x: &Tensor) -> Result<Tensor> {
    check_broadcast("x", x, &d.batch_shape())?;
    let x = x.f_to_kind(float_kind_of(x, d.loc.kind()))?;
    Ok(x.f_sub(&d.loc)?.f_mul(&d.log_scale.f_neg()?.f_exp()?)?)
}

impl Logistic {
    /// From the location and the log-scale (same shape, floating kind).
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] when `loc` or `log_scale` is not floating-point, or when their
    /// shapes differ.
    pub fn new(loc: &Tensor, log_scale: &Tensor) -> Result<Self> {
        check_float("loc", loc)?;
        check_float("log_scale", log_scale)?;
        check_same_shape("loc", loc, "log_scale", log_scale)?;
        Ok(Self {
            loc: loc.shallow_clone(),
            log_scale: log_scale.shallow_clone(),
        })
    }

    /// The batch shape.
    pub fn batch_shape(&self) -> Vec<i64> {
        self.loc.size()
    }

    /// The fallible form of [`Distribution::log_prob`].
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a
    /// libtorch error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        let z = standardize(self, x)?;
        Ok(z.f_neg()?
            .f_sub(&self.log_scale)?
            .f_sub(&z.f_neg()?.f_softplus()?.f_mul_scalar(2.0)?)?)
    }

    /// `log F(x) = log sigmoid(z)`.
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a
    /// libtorch error.
    pub fn log_cdf(&self, x: &Tensor) -> Result<Tensor> {
        Ok(standardize(self, x)?.f_neg()?.f_softplus()?.f_neg()?)
    }

    /// `log(1 - F(x)) = log sigmoid(-z)`.
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a
    /// libtorch error.
    pub fn log_survival(&self, x: &Tensor) -> Result<Tensor> {
        Ok(standardize(self, x)?.f_softplus()?.f_neg()?)
    }
}

impl Distribution for Logistic {
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        tch::no_grad(|| {
            self.rsample(sample_shape)
                .expect("shapes validated at construction")
        })
    }

    fn rsample(&self, sample_shape: &[i64]) -> Result<Tensor> {
        let shape = extended_shape(sample_shape, &self.batch_shape());
        // u in [eps, 1 - eps] keeps the logit finite in f32
        let eps = if self.loc.kind() == tch::Kind::Double {
            1e-12
        } else {
            1e-6
        };
        let u = Tensor::f_rand(&shape, (self.loc.kind(), self.loc.device()))?
            .f_clamp(eps, 1.0 - eps)?;
        let z = u.f_log()?.f_sub(&u.f_neg()?.f_log1p()?)?;
        Ok(z.f_mul(&self.log_scale.f_exp()?)?.f_add(&self.loc)?)
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    fn entropy(&self) -> Result<Tensor> {
        Ok(self.log_scale.f_add_scalar(2.0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::{Device, Kind};

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn density_cdf_and_entropy_match_closed_forms() {
        let d = Logistic::new(
            &Tensor::from_slice(&[1.0f64]),
            &Tensor::from_slice(&[0.5f64.ln()]),
        )
        .unwrap();
        let x = 1.7f64;
        let z = (x - 1.0) / 0.5;
        let pdf = (-z).exp() / (0.5 * (1.0 + (-z).exp()).powi(2));
        let xt = Tensor::from_slice(&[x]);
        assert!((d.log_prob(&xt).unwrap().double_value(&[0]) - pdf.ln()).abs() < 1e-12);
        let cdf = 1.0 / (1.0 + (-z).exp());
        assert!((d.log_cdf(&xt).unwrap().double_value(&[0]) - cdf.ln()).abs() < 1e-12);
        assert!((d.log_survival(&xt).unwrap().double_value(&[0]) - (1.0 - cdf).ln()).abs() < 1e-12);
        assert!((d.entropy().unwrap().double_value(&[0]) - (0.5f64.ln() + 2.0)).abs() < 1e-12);
        // far tails stay finite: log p(mu +- 1e4 s) ~ -1e4 - log s
        let far = d
            .log_prob(&Tensor::from_slice(&[1.0 + 5e3, 1.0 - 5e3]))
            .unwrap();
        assert!((far.double_value(&[0]) + 1e4 - 2.0f64.ln()).abs() < 1e-6);
        assert!((far.double_value(&[1]) + 1e4 - 2.0f64.ln()).abs() < 1e-6);
    }

    #[test]
    fn density_integrates_to_one_and_samples_match_variance() {
        let d = Logistic::new(
            &Tensor::from_slice(&[0.3f64]),
            &Tensor::from_slice(&[-0.2f64]),
        )
        .unwrap();
        let grid = Tensor::linspace(-40.0, 40.0, 80_001, F64);
        let mass = d
            .log_prob(&grid)
            .unwrap()
            .exp()
            .sum(Kind::Double)
            .double_value(&[])
            * 80.0
            / 80_000.0;
        assert!((mass - 1.0).abs() < 1e-8, "{mass}");
        tch::manual_seed(5);
        let s = d.sample(&[200_000]);
        // Var = s^2 pi^2 / 3
        let want = (-0.4f64).exp() * std::f64::consts::PI.powi(2) / 3.0;
        let var = s.var(true).double_value(&[]);
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
        assert!((s.median().double_value(&[]) - 0.3).abs() < 0.01);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn log_prob_of_samples_is_finite(mu in -1e3f64..1e3, ls in -10f64..10.0, seed in 0i64..1000) {
            tch::manual_seed(seed);
            for kind in [Kind::Float, Kind::Double] {
                let o = (kind, Device::Cpu);
                let d = Logistic::new(&Tensor::full([4], mu, o), &Tensor::full([4], ls, o)).unwrap();
                let lp = d.log_prob(&d.sample(&[32])).unwrap();
                prop_assert!(bool::try_from(lp.isfinite().all()).unwrap());
            }
        }
    }
}
