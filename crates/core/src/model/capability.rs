//! Capabilities a caller discovers without running the model: each is a trait, and
//! [`super::GenerativeModel`] hands out `Option<&dyn Trait>` for the ones a model has.
//!
//! * [`PerExampleNll`]: the NLL of each example of any data kind (nats or bits/dim, `[n]`).
//! * [`Reconstruct`]: encode and decode a batch (autoencoders, flows' round trips).
//! * [`ConditionalSample`]: samples of given classes (cVAE, cGAN, class-conditional flows).
//! * [`PartialSample`]: complete an input given a mask of known values (inpainting; PixelCNN's
//!   sequential completion, a VAE's Markov chain of Rezende et al. 2014, sec. 5.4).
//! * [`Density`]: the exact log-density of continuous vectors (flows on toy data).
//! * [`CodePrior`]: a prior over grids of discrete codes (what a VQ model samples from and scores
//!   its codes with; the autoregressive family's PixelCNN plugs in here).
//! * [`Fit`]: fitted in closed form or by EM, not by gradient steps (the classical baselines).
//! * [`Traverse`]: grids that vary one latent factor while the others stay fixed (InfoGAN's
//!   codes, Chen et al. 2016, Fig. 2).
use std::collections::BTreeMap;

use tch::Tensor;

use super::report::{EvalOptions, ExampleNll};
use crate::data::Dataset;
use crate::Result;

/// Capability: the NLL of each example of any data kind the model takes. Its mean over a
/// dataset is the model's [`super::EvalReport::nll`] for the same options.
pub trait PerExampleNll {
    /// Per-example NLLs of the first `opts.max_examples` examples of `data` (all by default),
    /// with every random choice seeded by `opts.seed`.
    ///
    /// # Errors
    /// An empty dataset, data of another kind than the model's, a non-finite result (naming the
    /// model), or a libtorch error.
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll>;
}

/// Capability: reconstructions of a batch.
pub trait Reconstruct {
    /// Reconstructions of `x`, a batch as stored (`u8 [b, c, h, w]` images or `f32 [b, d]`
    /// vectors), in the layout of [`super::GenerativeModel::sample`] (`f32`, images in \[0,1\]).
    ///
    /// # Errors
    /// Data of another shape than the model's, or a libtorch error.
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor>;
}

/// Capability: class-conditional sampling.
pub trait ConditionalSample {
    /// How many classes the model is conditioned on (labels are `0..num_classes`).
    fn num_classes(&self) -> i64;
    /// One seeded sample per label: `labels` is `i64 [n]`; the result is laid out as
    /// [`super::GenerativeModel::sample`]'s, row i of class `labels[i]`.
    ///
    /// # Errors
    /// A label outside `0..num_classes` (naming it), or a libtorch error.
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor>;
    /// Whether the classes are the data's labels (cVAE, cGAN: class `k` means label `k`), or
    /// values of a code learned without labels whose order means nothing (InfoGAN).
    fn classes_are_labels(&self) -> bool {
        true
    }
}

/// Capability: latent traversals, samples in rows along which one latent factor varies.
pub trait Traverse {
    /// How many factors can be traversed (`0..factors()`).
    fn factors(&self) -> usize;
    /// A seeded grid of `rows x steps` samples, row-major, laid out as
    /// [`super::GenerativeModel::sample`]'s: along each row `factor` sweeps its range in `steps`
    /// values while the rest of the latent stays fixed; what differs between rows is the
    /// model's choice (InfoGAN: one row per category of its first categorical code).
    ///
    /// # Errors
    /// `factor >= factors()` or `steps < 2` (naming them), or a libtorch error.
    fn traverse(&self, factor: usize, steps: i64, seed: u64) -> Result<Tensor>;
}

/// Capability: partial sampling, completing an input given a mask of its known values.
pub trait PartialSample {
    /// Completes `x` (a batch as stored) where `known` (`bool`, the shape of `x`) is false, by
    /// sampling from the model given the known values; known values are returned unchanged.
    /// The result is laid out as [`super::GenerativeModel::sample`]'s.
    ///
    /// # Errors
    /// `known` not of `x`'s shape, data of another shape than the model's, or a libtorch error.
    fn complete(&self, x: &Tensor, known: &Tensor, seed: u64) -> Result<Tensor>;
}

/// Capability: the exact log-density of continuous vectors.
pub trait Density {
    /// `log p(x)` in nats of `x` (`f32 [n, d]`): `[n]`. What density heatmaps and KL-to-truth
    /// scores use.
    ///
    /// # Errors
    /// `x` not of shape `[n, d]` for the model's `d`, or a libtorch error.
    fn log_density(&self, x: &Tensor) -> Result<Tensor>;
}

/// A prior over grids of discrete codes (VQ-VAE's latent maps): `i64 [n, h, w]` in `0..K`.
///
/// The VQ models hold theirs as a `Box<dyn CodePrior>` and use it for sampling and for the
/// `-log pi(z_q)` term of their bound; any model of categorical grids (a PixelCNN over codes)
/// can take its place.
pub trait CodePrior: std::fmt::Debug {
    /// Codebook size K.
    fn num_codes(&self) -> i64;
    /// Grid `(h, w)`.
    fn grid(&self) -> (i64, i64);
    /// `log pi(codes)` in nats per grid: `codes` is `i64 [n, h, w]`, the result `f32 [n]`.
    ///
    /// # Errors
    /// Codes of another grid or outside `0..K`, or a libtorch error.
    fn log_prob(&self, codes: &Tensor) -> Result<Tensor>;
    /// `n` seeded code grids `i64 [n, h, w]`.
    ///
    /// # Errors
    /// A libtorch error.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// Sees a batch of training codes while the VQ model trains (a moving-average prior updates
    /// itself; a prior trained on its own ignores them). Default: nothing.
    ///
    /// # Errors
    /// Codes of another grid, or a libtorch error.
    fn observe(&self, _codes: &Tensor) -> Result<()> {
        Ok(())
    }
}

/// Capability: fitted in closed form or by EM on the whole training set, not by gradient steps.
pub trait Fit {
    /// Fits the model to `train`, every random choice seeded by `seed`; returns what the fit did
    /// (`iterations`, `converged` as 0/1, `train_log_lik` in nats, model-specific numbers).
    ///
    /// # Errors
    /// Data the model cannot fit (naming it), or a numerical failure (a singular covariance).
    fn fit(&mut self, train: &Dataset, seed: u64) -> Result<BTreeMap<String, f64>>;
}
