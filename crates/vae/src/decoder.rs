//! The open decoder likelihood: what the parameters a decoder outputs for `z` mean as a
//! distribution p(x|z) over the data. The built-in observation models of [`crate::obs`]
//! (Bernoulli, 256-way categorical, discretized logistic, Gaussian) implement it; any other
//! decoder does too (a PixelCNN conditioned on decoder features, as in the VLAE of Chen et al.
//! 2017), and the Gaussian-latent models, their ELBO and importance-sampled NLL
//! ([`crate::eval`]) then work with it unchanged.
use genzoo_core::units::NllUnit;
use genzoo_core::Result;
use tch::Tensor;

use crate::obs::{Likelihood, Mode, Prepared};

/// An observation model p(x|z) over decoder outputs `params [n, P, ...shape]`.
pub trait DecoderLikelihood: std::fmt::Debug {
    /// Decoder outputs per data dimension, `P`.
    fn params(&self) -> i64;
    /// The unit its NLL is reported in (nats for binarized and continuous data, bits/dim for
    /// 8-bit levels).
    fn unit(&self) -> NllUnit;
    /// The preprocessing under evaluation seed `seed`, for [`genzoo_core::model::EvalReport::data`].
    fn data_label(&self, seed: u64) -> String;
    /// A stored batch (`u8 [b, c, h, w]` or `f32 [b, d]`) as encoder input and decoder target.
    ///
    /// # Errors
    /// Data this likelihood cannot model (naming the tensor), or a libtorch error.
    fn prepare(&self, x: &Tensor, mode: Mode) -> Result<Prepared>;
    /// `log p(target | params)` summed over each example's dimensions: `[n]` nats.
    ///
    /// # Errors
    /// Mismatched shapes, or a libtorch error.
    fn log_prob(&self, params: &Tensor, target: &Tensor) -> Result<Tensor>;
    /// `log p(target | params)` for `k` decoded rows per example: params `[k * b, P, ...]` (row
    /// `i * b + j` belongs to example `j`), target `[b, ...]` -> `[k * b]` nats: the
    /// importance-sampling hot path. Default: [`DecoderLikelihood::log_prob`] on the repeated
    /// target.
    ///
    /// # Errors
    /// As [`DecoderLikelihood::log_prob`].
    fn log_prob_repeated(&self, params: &Tensor, target: &Tensor, k: i64) -> Result<Tensor> {
        self.log_prob(params, &genzoo_core::obs::expand_rows(target, k)?)
    }
    /// The mean (or, where there is none in closed form, a representative draw) of p(x|z) in
    /// data space: images `f32 [n, c, h, w]` in \[0,1\], vectors `[n, d]`.
    ///
    /// # Errors
    /// A libtorch error.
    fn mean(&self, params: &Tensor) -> Result<Tensor>;
    /// A draw from p(x|z) in data space (layout of [`DecoderLikelihood::mean`]).
    ///
    /// # Errors
    /// A libtorch error.
    fn sample(&self, params: &Tensor) -> Result<Tensor>;
}

impl DecoderLikelihood for Likelihood {
    fn params(&self) -> i64 {
        Likelihood::params(*self)
    }
    fn unit(&self) -> NllUnit {
        Likelihood::unit(*self)
    }
    fn data_label(&self, seed: u64) -> String {
        Likelihood::data_label(*self, seed)
    }
    fn prepare(&self, x: &Tensor, mode: Mode) -> Result<Prepared> {
        Likelihood::prepare(*self, x, mode)
    }
    fn log_prob(&self, params: &Tensor, target: &Tensor) -> Result<Tensor> {
        Likelihood::log_prob(*self, params, target)
    }
    fn log_prob_repeated(&self, params: &Tensor, target: &Tensor, k: i64) -> Result<Tensor> {
        Likelihood::log_prob_repeated(*self, params, target, k)
    }
    fn mean(&self, params: &Tensor) -> Result<Tensor> {
        Likelihood::mean(*self, params)
    }
    fn sample(&self, params: &Tensor) -> Result<Tensor> {
        Likelihood::sample(*self, params)
    }
}
