//! Distributions over tensors, in the spirit of `torch.distributions`: parameters are tensors of
//! a batch shape, `log_prob` is elementwise over that shape (callers sum over event dimensions),
//! `sample` uses torch's global generator (seed it with [`crate::seed`]).
//!
//! * [`gaussian`]: diagonal Gaussian ([`DiagGaussian`]) and [`StandardNormal`].
//! * [`bernoulli`]: [`Bernoulli`] parameterized by logits.
//! * [`categorical`]: [`Categorical`] over logits (including 256-way pixel logits).
//! * [`logistic`]: the [`Logistic`] distribution (location, log-scale).
//! * [`dmol`]: the discretized logistic mixture of PixelCNN++ (Salimans et al. 2017, sec. 2.1),
//!   per dimension ([`DiscretizedLogisticMixture`]) and with PixelCNN++'s RGB coupling
//!   ([`dmol::pixelcnnpp_log_prob`]).
//!
//! Every distribution validates its parameters at construction (`new` returns
//! [`crate::Result`]) and [`Distribution::log_prob`] is fallible: an `x` whose shape does not
//! broadcast against the batch shape is a [`crate::CoreError::Shape`] (each type's inherent
//! `f_log_prob` is the same function). All log-densities are computed in log space (softplus,
//! log-softmax, log-sum-exp) so that logits of +-1e4 give finite values.
use tch::{Kind, Tensor};

use crate::{CoreError, Result};

pub mod bernoulli;
pub mod categorical;
pub mod dmol;
pub mod gaussian;
pub mod logistic;

pub use bernoulli::Bernoulli;
pub use categorical::Categorical;
pub use dmol::DiscretizedLogisticMixture;
pub use gaussian::{DiagGaussian, StandardNormal};
pub use logistic::Logistic;

/// The common interface of genzoo's distributions.
pub trait Distribution {
    /// Draws `sample_shape ++ batch_shape` values without gradient.
    fn sample(&self, sample_shape: &[i64]) -> Tensor;
    /// Reparameterized draws through which gradients flow to the parameters; an error for
    /// distributions that have none (Bernoulli, Categorical).
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] for distributions without a reparameterized sampler
    /// (Bernoulli, Categorical, the discretized logistic mixture); a libtorch error.
    fn rsample(&self, sample_shape: &[i64]) -> Result<Tensor>;
    /// Elementwise log-density (log-mass for discrete ones) of `x`, broadcast against the
    /// parameters.
    ///
    /// # Errors
    /// [`crate::CoreError::Shape`] when `x` does not broadcast against the batch shape (or holds
    /// values outside the support's index range, for discrete ones); a libtorch error.
    fn log_prob(&self, x: &Tensor) -> Result<Tensor>;
    /// Elementwise entropy, where it has a closed form.
    ///
    /// # Errors
    /// An error where an implementation has no closed-form entropy; a libtorch error (the genzoo
    /// distributions fail only there).
    fn entropy(&self) -> Result<Tensor>;
}

/// The shape two shapes broadcast to under numpy/torch rules, or `None` when they do not.
pub fn broadcast_shapes(a: &[i64], b: &[i64]) -> Option<Vec<i64>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Checks that the tensor `name` broadcasts against `shape` (an error naming it otherwise).
///
/// # Errors
/// [`CoreError::Shape`] naming `name` when the shape of `x` does not broadcast against `shape`.
pub fn check_broadcast(name: &str, x: &Tensor, shape: &[i64]) -> Result<Vec<i64>> {
    broadcast_shapes(&x.size(), shape).ok_or_else(|| {
        CoreError::shape(
            name,
            format!(
                "shape {:?} does not broadcast against batch shape {:?}",
                x.size(),
                shape
            ),
        )
    })
}

/// Checks that two parameter tensors have the same shape.
///
/// # Errors
/// [`CoreError::Shape`] naming `name_b` when `b` and `a` differ in shape.
pub fn check_same_shape(name_a: &str, a: &Tensor, name_b: &str, b: &Tensor) -> Result<()> {
    if a.size() != b.size() {
        return Err(CoreError::shape(
            name_b,
            format!(
                "shape {:?} differs from `{name_a}` shape {:?}",
                b.size(),
                a.size()
            ),
        ));
    }
    Ok(())
}

/// Whether `kind` is a real floating-point kind (half, bfloat16, float, double).
pub fn is_float_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}

/// Checks that the tensor `name` has a floating-point kind.
///
/// # Errors
/// [`CoreError::Shape`] naming `name` when `t` is not of a floating-point kind.
pub fn check_float(name: &str, t: &Tensor) -> Result<()> {
    if is_float_kind(t.kind()) {
        Ok(())
    } else {
        Err(CoreError::shape(
            name,
            format!("expected a floating-point tensor, got {:?}", t.kind()),
        ))
    }
}

/// `sample_shape ++ batch_shape`.
pub fn extended_shape(sample_shape: &[i64], batch_shape: &[i64]) -> Vec<i64> {
    sample_shape
        .iter()
        .chain(batch_shape.iter())
        .copied()
        .collect()
}

/// The floating kind used for computations on `x` given the parameter kind: integer inputs
/// (pixel values, class indices) are computed in the parameters' kind.
pub(crate) fn float_kind_of(x: &Tensor, param_kind: Kind) -> Kind {
    if is_float_kind(x.kind()) {
        x.kind()
    } else {
        param_kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[], &[2, 5]), Some(vec![2, 5]));
        assert_eq!(broadcast_shapes(&[2, 3], &[3, 3]), None);
        let x = Tensor::zeros([2, 3], (Kind::Float, tch::Device::Cpu));
        match check_broadcast("x", &x, &[4, 3]) {
            Err(CoreError::Shape { name, .. }) => assert_eq!(name, "x"),
            other => panic!("expected a shape error, got {other:?}"),
        }
    }
}
