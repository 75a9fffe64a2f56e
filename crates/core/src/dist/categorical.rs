//! The categorical distribution over K classes parameterized by unnormalized logits, including
//! the 256-way softmax over pixel values of PixelRNN/PixelCNN (van den Oord et al. 2016, sec. 5.3).
//!
//! The logits are normalized once with a log-softmax (log-sum-exp), so `log p(k) = l_k -
//! logsumexp(l)` is finite for logits of +-1e4. The class dimension is the last one; use
//! [`Categorical::with_class_dim`] for layouts such as PixelCNN's `[b, 256, c, h, w]`.
use tch::{Kind, Tensor};

use super::{check_broadcast, check_float, extended_shape, Distribution};
use crate::{CoreError, Result};

/// Independent categorical variables; `log_probs` is `batch_shape ++ [K]`.
#[derive(Debug)]
pub struct Categorical {
    /// Normalized log-probabilities, `[.., K]`.
    pub log_probs: Tensor,
}

impl Categorical {
    /// From logits whose last dimension indexes the K >= 1 classes.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`logits`) when `logits` is not floating-point, is a scalar or has an
    /// empty last dimension; a libtorch error from the log-softmax.
    pub fn new(logits: &Tensor) -> Result<Self> {
        check_float("logits", logits)?;
        if logits.dim() == 0 || logits.size()[logits.dim() - 1] < 1 {
            return Err(CoreError::shape(
                "logits",
                format!(
                    "need a last (class) dimension of size >= 1, got shape {:?}",
                    logits.size()
                ),
            ));
        }
        Ok(Self {
            log_probs: logits.f_log_softmax(-1, logits.kind())?,
        })
    }

    /// From logits whose classes lie along `dim` (e.g. `dim = 1` for `[b, 256, c, h, w]`); the
    /// batch shape is the remaining dimensions in order (`[b, c, h, w]`).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`logits`) when `dim` is out of range for the shape of `logits`, or for
    /// the reasons of [`Categorical::new`]; a libtorch error.
    pub fn with_class_dim(logits: &Tensor, dim: i64) -> Result<Self> {
        let n = logits.dim() as i64;
        if dim < -n || dim >= n {
            return Err(CoreError::shape(
                "logits",
                format!("class dim {dim} out of range for shape {:?}", logits.size()),
            ));
        }
        Self::new(&logits.f_movedim_int(dim, -1)?)
    }

    /// The number of classes K.
    pub fn num_classes(&self) -> i64 {
        self.log_probs.size()[self.log_probs.dim() - 1]
    }

    /// The batch shape (the logits' shape without the class dimension).
    pub fn batch_shape(&self) -> Vec<i64> {
        let s = self.log_probs.size();
        s[..s.len() - 1].to_vec()
    }

    /// Class probabilities, `[.., K]`.
    pub fn probs(&self) -> Tensor {
        self.log_probs.exp()
    }

    /// The fallible form of [`Distribution::log_prob`]: `x` holds class indices (an integer
    /// tensor, or a floating one holding whole numbers) broadcast against the batch shape.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape, holds
    /// non-whole floating values, or holds indices outside `0..K`; a libtorch error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        let shape = check_broadcast("x", x, &self.batch_shape())?;
        let k = self.num_classes();
        if super::is_float_kind(x.kind())
            && x.numel() > 0
            && x.f_ne_tensor(&x.f_round()?)?.f_any()?.f_int64_value(&[])? != 0
        {
            return Err(CoreError::shape("x", "class indices must be whole numbers"));
        }
        let idx = x.f_to_kind(Kind::Int64)?;
        if idx.numel() > 0 {
            let (lo, hi) = (
                idx.f_min()?.f_int64_value(&[])?,
                idx.f_max()?.f_int64_value(&[])?,
            );
            if lo < 0 || hi >= k {
                return Err(CoreError::shape(
                    "x",
                    format!("class indices span [{lo}, {hi}], outside [0, {}]", k - 1),
                ));
            }
        }
        let idx = idx.f_expand(&shape, false)?.f_unsqueeze(-1)?;
        let mut full = shape.clone();
        full.push(k);
        let lp = self.log_probs.f_expand(&full, false)?;
        Ok(lp.f_gather(-1, &idx, false)?.f_squeeze_dim(-1)?)
    }
}

impl Distribution for Categorical {
    /// Class indices (`Int64`) of shape `sample_shape ++ batch_shape`.
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        let batch = self.batch_shape();
        let shape = extended_shape(sample_shape, &batch);
        let n_draws: i64 = sample_shape.iter().product();
        let n_batch: i64 = batch.iter().product();
        if n_draws == 0 || n_batch == 0 {
            return Tensor::zeros(&shape, (Kind::Int64, self.log_probs.device()));
        }
        let probs = self
            .log_probs
            .detach()
            .exp()
            .to_kind(Kind::Double)
            .reshape([n_batch, self.num_classes()]);
        // [n_batch, n_draws] -> [n_draws, n_batch] -> sample_shape ++ batch_shape
        probs
            .multinomial(n_draws, true)
            .transpose(0, 1)
            .reshape(&shape)
    }

    fn rsample(&self, _sample_shape: &[i64]) -> Result<Tensor> {
        Err(CoreError::Invalid(
            "Categorical has no reparameterized sampler; use a score-function estimator \
             (genzoo_core::estimators)"
                .into(),
        ))
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    /// `-sum_k p_k log p_k`, with 0 log 0 = 0.
    fn entropy(&self) -> Result<Tensor> {
        let p = self.log_probs.f_exp()?;
        let plogp = p.f_mul(&self.log_probs)?;
        let plogp = plogp.f_where_self(&p.f_gt(0.0)?, &plogp.f_zeros_like()?)?;
        Ok(plogp.f_sum_dim_intlist(-1, false, plogp.kind())?.f_neg()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn known_values_and_entropy() {
        let d = Categorical::new(&Tensor::from_slice(&[0.0f64, 1.0f64.ln(), 2.0f64.ln()])).unwrap();
        // probabilities 1/4, 1/4, 1/2
        let lp = d.log_prob(&Tensor::from_slice(&[2i64])).unwrap();
        assert!((lp.double_value(&[0]) - 0.5f64.ln()).abs() < 1e-12);
        let h = d.entropy().unwrap().double_value(&[]);
        assert!((h - 1.5 * 2.0f64.ln()).abs() < 1e-12, "{h}");
        let masked = Categorical::new(&Tensor::from_slice(&[0.0f64, f64::NEG_INFINITY])).unwrap();
        assert!((masked.entropy().unwrap().double_value(&[])).abs() < 1e-12);
    }

    #[test]
    fn extreme_logits_are_finite() {
        let l = Tensor::from_slice(&[1e4f32, -1e4, 0.0]);
        let d = Categorical::new(&l).unwrap();
        let lp = d
            .log_prob(&Tensor::from_slice(&[0i64, 1, 2]).view([3, 1]))
            .unwrap();
        assert!(bool::try_from(lp.isfinite().all()).unwrap(), "{lp:?}");
        assert!(lp.double_value(&[0, 0]).abs() < 1e-6);
        assert!((lp.double_value(&[1, 0]) + 2e4).abs() < 1.0);
        assert!(bool::try_from(d.entropy().unwrap().isfinite().all()).unwrap());
    }

    #[test]
    fn pixel_layout_and_sampling() {
        tch::manual_seed(3);
        // [b=2, 256, c=1, h=2, w=1] with all mass on value 7 for the first image
        let logits = Tensor::zeros([2, 256, 1, 2, 1], F64);
        let _ = logits.narrow(1, 7, 1).narrow(0, 0, 1).fill_(50.0);
        let d = Categorical::with_class_dim(&logits, 1).unwrap();
        assert_eq!(d.batch_shape(), vec![2, 1, 2, 1]);
        let s = d.sample(&[3]);
        assert_eq!(s.size(), vec![3, 2, 1, 2, 1]);
        assert_eq!(s.narrow(1, 0, 1).min().int64_value(&[]), 7);
        assert_eq!(s.narrow(1, 0, 1).max().int64_value(&[]), 7);
        let lp = d
            .log_prob(&Tensor::full([2, 1, 2, 1], 7, (Kind::Uint8, Device::Cpu)))
            .unwrap();
        assert!((lp.double_value(&[1, 0, 0, 0]) + 256f64.ln()).abs() < 1e-12);
        // empirical frequencies of a 3-way categorical
        let d = Categorical::new(&Tensor::from_slice(&[0.2f64, 0.3, 0.5]).log()).unwrap();
        let s = d.sample(&[60_000]);
        let f2 = s
            .eq(2)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
        assert!((f2 - 0.5).abs() < 0.01, "{f2}");
    }

    #[test]
    fn invalid_indices_are_errors() {
        let d = Categorical::new(&Tensor::zeros([2, 4], F64)).unwrap();
        for bad in [
            Tensor::from_slice(&[4i64, 0]),
            Tensor::from_slice(&[-1i64, 0]),
        ] {
            assert!(
                matches!(d.f_log_prob(&bad), Err(CoreError::Shape { ref name, .. }) if name == "x")
            );
        }
        assert!(d.f_log_prob(&Tensor::from_slice(&[0.5f64, 1.0])).is_err());
        assert!(d.f_log_prob(&Tensor::from_slice(&[0i64, 1, 2])).is_err());
        assert!(Categorical::new(&Tensor::zeros([0], F64)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn normalizes_over_256_values(seed in 0i64..10_000, scale in 0.1f64..1e4) {
            tch::manual_seed(seed);
            let logits = Tensor::randn([3, 256], F64) * scale;
            let d = Categorical::new(&logits).unwrap();
            let values = Tensor::arange(256, (Kind::Int64, Device::Cpu)).view([256, 1]);
            let total = d.log_prob(&values).unwrap().exp().sum_dim_intlist(0, false, Kind::Double);
            prop_assert!((total - 1.0).abs().max().double_value(&[]) < 1e-9);
            let lp = d.log_prob(&d.sample(&[5])).unwrap();
            prop_assert!(bool::try_from(lp.isfinite().all()).unwrap());
        }
    }
}
