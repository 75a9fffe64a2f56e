//! The Bernoulli distribution parameterized by logits l (p = sigmoid(l)), the decoder of
//! binarized-MNIST VAEs and the output of NADE/MADE/PixelCNN on binary pixels.
//!
//! `log p(x) = -(x softplus(-l) + (1 - x) softplus(l))` (= `-BCEWithLogits(l, x)`), which stays
//! finite for |l| = 1e4 because softplus never exponentiates a large positive number; the
//! entropy `p softplus(-l) + (1 - p) softplus(l)` likewise. `x` may lie anywhere in `[0, 1]` (the
//! cross-entropy used on grey-level pixels); it is a normalized mass only on {0,1}.
use tch::Tensor;

use super::Distribution;
use super::{check_broadcast, check_float, extended_shape, float_kind_of};
use crate::{CoreError, Result};

/// Independent Bernoulli variables with logits of the batch shape.
#[derive(Debug)]
pub struct Bernoulli {
    /// log(p / (1 - p)).
    pub logits: Tensor,
}

impl Bernoulli {
    /// From logits (floating kind, any shape).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`logits`) when `logits` is not a floating-point tensor.
    pub fn new(logits: &Tensor) -> Result<Self> {
        check_float("logits", logits)?;
        Ok(Self {
            logits: logits.shallow_clone(),
        })
    }

    /// The batch shape.
    pub fn batch_shape(&self) -> Vec<i64> {
        self.logits.size()
    }

    /// p = sigmoid(logits).
    pub fn probs(&self) -> Tensor {
        self.logits.sigmoid()
    }

    /// The fallible form of [`Distribution::log_prob`].
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape; a libtorch
    /// error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        check_broadcast("x", x, &self.batch_shape())?;
        let x = x.f_to_kind(float_kind_of(x, self.logits.kind()))?;
        let one = self.logits.f_neg()?.f_softplus()?; // -log p
        let zero = self.logits.f_softplus()?; // -log (1 - p)
        let nll = x
            .f_mul(&one)?
            .f_add(&x.f_neg()?.f_add_scalar(1.0)?.f_mul(&zero)?)?;
        Ok(nll.f_neg()?)
    }
}

impl Distribution for Bernoulli {
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        let p = self.probs().detach();
        let shape = extended_shape(sample_shape, &self.batch_shape());
        p.expand(&shape, false).bernoulli()
    }

    fn rsample(&self, _sample_shape: &[i64]) -> Result<Tensor> {
        Err(CoreError::Invalid(
            "Bernoulli has no reparameterized sampler; use a score-function estimator \
             (genzoo_core::estimators)"
                .into(),
        ))
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    fn entropy(&self) -> Result<Tensor> {
        let p = self.logits.f_sigmoid()?;
        let a = p.f_mul(&self.logits.f_neg()?.f_softplus()?)?;
        let b = p
            .f_neg()?
            .f_add_scalar(1.0)?
            .f_mul(&self.logits.f_softplus()?)?;
        Ok(a.f_add(&b)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::{Device, Kind};

    #[test]
    fn known_values() {
        let d = Bernoulli::new(&Tensor::from_slice(&[0.0f64, 2.0f64.ln()])).unwrap();
        // p = 1/2 and p = 2/3
        let lp1 = d.log_prob(&Tensor::from_slice(&[1.0f64, 1.0])).unwrap();
        let lp0 = d.log_prob(&Tensor::from_slice(&[0.0f64, 0.0])).unwrap();
        assert!((lp1.double_value(&[0]) - 0.5f64.ln()).abs() < 1e-12);
        assert!((lp1.double_value(&[1]) - (2.0f64 / 3.0).ln()).abs() < 1e-12);
        assert!((lp0.double_value(&[1]) - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        let h = d.entropy().unwrap();
        assert!((h.double_value(&[0]) - 2.0f64.ln()).abs() < 1e-12);
        let want = -(2.0f64 / 3.0) * (2.0f64 / 3.0).ln() - (1.0 / 3.0) * (1.0f64 / 3.0).ln();
        assert!((h.double_value(&[1]) - want).abs() < 1e-12);
        assert!(d.rsample(&[1]).is_err());
    }

    #[test]
    fn extreme_logits_are_finite() {
        for kind in [Kind::Float, Kind::Double] {
            let l = Tensor::from_slice(&[1e4f64, -1e4, 1e4, -1e4]).to_kind(kind);
            let d = Bernoulli::new(&l).unwrap();
            let x = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 1.0]).to_kind(kind);
            let lp = d.log_prob(&x).unwrap();
            assert!(bool::try_from(lp.isfinite().all()).unwrap(), "{lp:?}");
            // certain outcomes have log-probability 0, impossible ones -1e4
            assert!(lp.double_value(&[0]).abs() < 1e-6 && lp.double_value(&[1]).abs() < 1e-6);
            assert!(
                (lp.double_value(&[2]) + 1e4).abs() < 1e-2
                    && (lp.double_value(&[3]) + 1e4).abs() < 1e-2
            );
            let h = d.entropy().unwrap();
            assert!(
                bool::try_from(h.isfinite().all()).unwrap()
                    && h.abs().max().double_value(&[]) < 1e-6
            );
        }
    }

    #[test]
    fn sampling_frequency_matches_p() {
        tch::manual_seed(1);
        let d = Bernoulli::new(&Tensor::from_slice(&[(0.3f64 / 0.7).ln()])).unwrap();
        let m = d.sample(&[100_000]).mean(Kind::Double).double_value(&[]);
        assert!((m - 0.3).abs() < 0.01, "{m}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn normalizes_and_samples_are_finite(l in -1e4f64..1e4, seed in 0i64..1000) {
            tch::manual_seed(seed);
            let d = Bernoulli::new(&Tensor::full([3], l, (Kind::Double, Device::Cpu))).unwrap();
            let z = (d.log_prob(&Tensor::from_slice(&[0.0f64])).unwrap().exp()
                + d.log_prob(&Tensor::from_slice(&[1.0f64])).unwrap().exp()) - 1.0;
            prop_assert!(z.abs().max().double_value(&[]) < 1e-12);
            let lp = d.log_prob(&d.sample(&[8])).unwrap();
            prop_assert!(bool::try_from(lp.isfinite().all()).unwrap());
        }
    }
}
