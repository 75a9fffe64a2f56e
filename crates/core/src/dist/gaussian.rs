//! The diagonal Gaussian N(mu, diag(sigma^2)) and the standard normal N(0, I).
//!
//! Parameterized by `loc` and `log_scale` (log sigma) so that VAEs can emit unconstrained
//! values; `from_log_var` takes Kingma & Welling's (2014) log-variance head. Reparameterized
//! draws `x = mu + sigma * eps`, `eps ~ N(0, I)` (Kingma & Welling 2014, sec. 2.4).
//! Elementwise: `log N(x; mu, sigma) = -((x - mu)/sigma)^2 / 2 - log sigma - log(2 pi) / 2`,
//! entropy `1/2 + log(2 pi)/2 + log sigma`.
use tch::{Device, Kind, Tensor};

use super::{check_broadcast, check_float, check_same_shape, extended_shape};
use super::{float_kind_of, Distribution};
use crate::{CoreError, Result};

/// `log(2 pi) / 2`.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// A Gaussian with diagonal covariance; `loc` and `log_scale` share the batch shape.
#[derive(Debug)]
pub struct DiagGaussian {
    /// The mean mu.
    pub loc: Tensor,
    /// log sigma.
    pub log_scale: Tensor,
}

impl DiagGaussian {
    /// From the mean and the log standard deviation (same shape, floating kind).
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `loc` or `log_scale` is not floating-point, or when their shapes
    /// differ.
    pub fn new(loc: &Tensor, log_scale: &Tensor) -> Result<Self> {
        check_float("loc", loc)?;
        check_float("log_scale", log_scale)?;
        check_same_shape("loc", loc, "log_scale", log_scale)?;
        Ok(Self {
            loc: loc.shallow_clone(),
            log_scale: log_scale.shallow_clone(),
        })
    }

    /// From the mean and the standard deviation, which must be positive.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`scale`) when `scale` is not floating-point or holds a value <= 0, or
    /// for the reasons of [`DiagGaussian::new`]; a libtorch error.
    pub fn from_scale(loc: &Tensor, scale: &Tensor) -> Result<Self> {
        check_float("scale", scale)?;
        if scale.numel() > 0 && scale.f_le(0.0)?.f_any()?.f_int64_value(&[])? != 0 {
            return Err(CoreError::shape(
                "scale",
                "standard deviations must be positive",
            ));
        }
        Self::new(loc, &scale.f_log()?)
    }

    /// From the mean and the log-variance (`log_scale = log_var / 2`).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`log_var`) when `log_var` is not floating-point, or for the reasons of
    /// [`DiagGaussian::new`].
    pub fn from_log_var(loc: &Tensor, log_var: &Tensor) -> Result<Self> {
        check_float("log_var", log_var)?;
        Self::new(loc, &(log_var * 0.5))
    }

    /// The batch shape.
    pub fn batch_shape(&self) -> Vec<i64> {
        self.loc.size()
    }

    /// sigma.
    pub fn scale(&self) -> Tensor {
        self.log_scale.exp()
    }

    /// The fallible form of [`Distribution::log_prob`].
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a libtorch
    /// error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        check_broadcast("x", x, &self.batch_shape())?;
        let x = x.f_to_kind(float_kind_of(x, self.loc.kind()))?;
        let z = x
            .f_sub(&self.loc)?
            .f_mul(&self.log_scale.f_neg()?.f_exp()?)?;
        Ok(z.f_square()?
            .f_mul_scalar(-0.5)?
            .f_sub(&self.log_scale)?
            .f_sub_scalar(HALF_LN_2PI)?)
    }
}

impl Distribution for DiagGaussian {
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        tch::no_grad(|| {
            self.rsample(sample_shape)
                .expect("shapes validated at construction")
        })
    }

    fn rsample(&self, sample_shape: &[i64]) -> Result<Tensor> {
        let shape = extended_shape(sample_shape, &self.batch_shape());
        let eps = Tensor::f_randn(&shape, (self.loc.kind(), self.loc.device()))?;
        Ok(eps.f_mul(&self.log_scale.f_exp()?)?.f_add(&self.loc)?)
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    fn entropy(&self) -> Result<Tensor> {
        Ok(self.log_scale.f_add_scalar(0.5 + HALF_LN_2PI)?)
    }
}

/// N(0, I) over a fixed batch shape (the prior of VAEs and flows).
#[derive(Clone, Debug)]
pub struct StandardNormal {
    shape: Vec<i64>,
    kind: Kind,
    device: Device,
}

impl StandardNormal {
    /// A standard normal of batch shape `shape`, drawing values of `kind` on `device`.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `kind` is not a floating kind or `shape` has a negative
    /// dimension.
    pub fn new(shape: &[i64], kind: Kind, device: Device) -> Result<Self> {
        if !super::is_float_kind(kind) {
            return Err(CoreError::Invalid(format!(
                "StandardNormal: kind {kind:?} is not floating"
            )));
        }
        if shape.iter().any(|&d| d < 0) {
            return Err(CoreError::Invalid(format!(
                "StandardNormal: negative dimension in {shape:?}"
            )));
        }
        Ok(Self {
            shape: shape.to_vec(),
            kind,
            device,
        })
    }

    /// The batch shape.
    pub fn batch_shape(&self) -> Vec<i64> {
        self.shape.clone()
    }

    /// The fallible form of [`Distribution::log_prob`].
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a libtorch
    /// error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        let shape = check_broadcast("x", x, &self.shape)?;
        let x = x.f_to_kind(float_kind_of(x, self.kind))?;
        let lp = x
            .f_square()?
            .f_mul_scalar(-0.5)?
            .f_sub_scalar(HALF_LN_2PI)?;
        Ok(lp.f_expand(&shape, false)?)
    }
}

impl Distribution for StandardNormal {
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        Tensor::randn(
            extended_shape(sample_shape, &self.shape),
            (self.kind, self.device),
        )
    }

    fn rsample(&self, sample_shape: &[i64]) -> Result<Tensor> {
        Ok(Tensor::f_randn(
            extended_shape(sample_shape, &self.shape),
            (self.kind, self.device),
        )?)
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    fn entropy(&self) -> Result<Tensor> {
        Ok(Tensor::f_full(
            &self.shape,
            0.5 + HALF_LN_2PI,
            (self.kind, self.device),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn log_prob_matches_closed_form() {
        let d = DiagGaussian::from_scale(
            &Tensor::from_slice(&[1.0f64]),
            &Tensor::from_slice(&[2.0f64]),
        )
        .unwrap();
        let lp = d
            .log_prob(&Tensor::from_slice(&[3.0f64]))
            .unwrap()
            .double_value(&[0]);
        // N(3; 1, 2^2) = exp(-1/2) / (2 sqrt(2 pi))
        let want = (-0.5f64).exp() / (2.0 * (2.0 * std::f64::consts::PI).sqrt());
        assert!((lp - want.ln()).abs() < 1e-12, "{lp} vs {}", want.ln());
        let h = d.entropy().unwrap().double_value(&[0]);
        let want_h = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * 4.0).ln();
        assert!((h - want_h).abs() < 1e-12);
        let sn = StandardNormal::new(&[2], Kind::Double, Device::Cpu).unwrap();
        let lp0 = sn.log_prob(&Tensor::zeros([2], F64)).unwrap();
        assert!((lp0.double_value(&[1]) + HALF_LN_2PI).abs() < 1e-12);
        assert!((HALF_LN_2PI - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
    }

    #[test]
    fn log_var_and_log_scale_agree() {
        let loc = Tensor::from_slice(&[0.5f64, -1.0]);
        let lv = Tensor::from_slice(&[0.3f64, -2.0]);
        let a = DiagGaussian::from_log_var(&loc, &lv).unwrap();
        let b = DiagGaussian::from_scale(&loc, &(&lv * 0.5).exp()).unwrap();
        let x = Tensor::from_slice(&[0.1f64, 0.2]);
        let diff = (a.log_prob(&x).unwrap() - b.log_prob(&x).unwrap())
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-12);
    }

    #[test]
    fn samples_have_the_right_moments_and_rsample_carries_gradients() {
        tch::manual_seed(0);
        let loc = Tensor::from_slice(&[2.0f64, -1.0]).set_requires_grad(true);
        let ls = Tensor::from_slice(&[0.0f64, 1.0f64.ln()]).set_requires_grad(true);
        let d =
            DiagGaussian::new(&loc, &(&ls + Tensor::from_slice(&[0.0f64, 0.5f64.ln()]))).unwrap();
        let x = d.sample(&[50_000]);
        assert_eq!(x.size(), vec![50_000, 2]);
        let m = x.mean_dim(0, false, Kind::Double);
        let s = x.std_dim(0, true, false);
        assert!(
            (m.double_value(&[0]) - 2.0).abs() < 0.02 && (m.double_value(&[1]) + 1.0).abs() < 0.01
        );
        assert!(
            (s.double_value(&[0]) - 1.0).abs() < 0.02 && (s.double_value(&[1]) - 0.5).abs() < 0.01
        );
        let r = d.rsample(&[7]).unwrap();
        r.sum(Kind::Double).backward();
        // d/dmu sum(mu + sigma eps) = number of draws
        assert!((loc.grad().double_value(&[0]) - 7.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let l = Tensor::zeros([3], F64);
        assert!(
            matches!(DiagGaussian::new(&l, &Tensor::zeros([2], F64)), Err(CoreError::Shape { ref name, .. }) if name == "log_scale")
        );
        assert!(
            matches!(DiagGaussian::from_scale(&l, &Tensor::zeros([3], F64)), Err(CoreError::Shape { ref name, .. }) if name == "scale")
        );
        let d = DiagGaussian::new(&l, &l).unwrap();
        assert!(
            matches!(d.f_log_prob(&Tensor::zeros([4], F64)), Err(CoreError::Shape { ref name, .. }) if name == "x")
        );
        assert!(StandardNormal::new(&[2], Kind::Int64, Device::Cpu).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn log_prob_of_samples_is_finite(mu in -1e3f64..1e3, ls in -20f64..20.0, seed in 0i64..1000) {
            tch::manual_seed(seed);
            let d = DiagGaussian::new(&Tensor::full([4], mu, F64), &Tensor::full([4], ls, F64)).unwrap();
            let x = d.sample(&[16]);
            let lp = d.log_prob(&x).unwrap();
            prop_assert!(bool::try_from(lp.isfinite().all()).unwrap());
            let sn = StandardNormal::new(&[3], Kind::Float, Device::Cpu).unwrap();
            let lp = sn.log_prob(&sn.sample(&[5])).unwrap();
            prop_assert!(bool::try_from(lp.isfinite().all()).unwrap());
        }
    }
}
