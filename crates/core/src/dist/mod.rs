//! Distributions over tensors, in the spirit of `torch.distributions`: parameters are tensors of
//! a batch shape, `log_prob` is elementwise over that shape (callers sum over event dimensions),
//! `sample` uses torch's global generator (seed it with [`crate::seed`]).
use tch::Tensor;

use crate::Result;

/// The common interface of genzoo's distributions.
pub trait Distribution {
    /// Draws `sample_shape ++ batch_shape` values without gradient.
    fn sample(&self, sample_shape: &[i64]) -> Tensor;
    /// Reparameterized draws through which gradients flow to the parameters; an error for
    /// distributions that have none (Bernoulli, Categorical).
    fn rsample(&self, sample_shape: &[i64]) -> Result<Tensor>;
    /// Elementwise log-density (log-mass for discrete ones) of `x`, broadcast against the
    /// parameters.
    fn log_prob(&self, x: &Tensor) -> Tensor;
    /// Elementwise entropy, where it has a closed form.
    fn entropy(&self) -> Result<Tensor>;
}
