//! The [`Baseline`] contract every classical model implements, and what a fit reports.
use std::collections::BTreeMap;

use tch::Tensor;

use genzoo_core::Result;

/// What a fit did.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FitStats {
    /// Iterations run (1 for closed-form fits).
    pub iterations: usize,
    /// Whether an iterative fit met its tolerance (true for closed-form fits).
    pub converged: bool,
    /// Mean training log-likelihood per example in nats (None for k-means).
    pub train_log_lik: Option<f64>,
    /// Model-specific numbers (`distortion`, `sigma2`, ...).
    pub metrics: BTreeMap<String, f64>,
    /// What makes the fit degenerate (a latent dimension at or above the data's rank, a variance
    /// floor the fit sits on), each a sentence; shown in the report and flagged as
    /// `degenerate_fit`.
    pub warnings: Vec<String>,
}

/// The interface every classical baseline implements.
pub trait Baseline {
    /// Registry name (`gaussian`, `gmm-full`, `ppca`, ...).
    fn name(&self) -> &str;
    /// The configuration, as JSON (written next to results).
    fn config_json(&self) -> serde_json::Value;
    /// Fits to `x`, a floating `[n, d]` tensor. `seed` drives every random choice (k-means++).
    ///
    /// # Errors
    /// [`CoreError::Shape`](genzoo_core::CoreError::Shape) naming `x` when it is not a finite floating `[n, d]` tensor with enough
    /// rows for the model; [`CoreError::Shape`](genzoo_core::CoreError::Shape) when a fitted covariance is not positive definite
    /// (raise `ridge`); a libtorch error.
    fn fit(&mut self, x: &Tensor, seed: u64) -> Result<FitStats>;
    /// Whether the model defines a density (k-means does not).
    fn has_density(&self) -> bool {
        true
    }
    /// Log-density of each row of `x` (`[n, d]`) in nats: `f64 [n]`.
    ///
    /// # Errors
    /// [`CoreError::Model`](genzoo_core::CoreError::Model) before `fit` or for a model without a density (k-means);
    /// [`CoreError::Shape`](genzoo_core::CoreError::Shape) naming `x` when it is not a finite floating `[n, d]` tensor with the
    /// fitted `d`; a libtorch error.
    fn log_prob(&self, x: &Tensor) -> Result<Tensor>;
    /// `n` samples seeded by `seed`: `f32 [n, d]` on the model's device.
    ///
    /// # Errors
    /// [`CoreError::Model`](genzoo_core::CoreError::Model) before `fit`; [`CoreError::Invalid`](genzoo_core::CoreError::Invalid) when `n` is negative; a libtorch
    /// error.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// Number of free parameters of the fitted model (0 before `fit`).
    fn num_params(&self) -> usize;
    /// Model-specific metrics on data `x` (`[n, d]`), e.g. k-means distortion.
    ///
    /// # Errors
    /// [`CoreError::Model`](genzoo_core::CoreError::Model) before `fit` (for models with metrics); [`CoreError::Shape`](genzoo_core::CoreError::Shape) naming `x`
    /// when it is not a finite floating `[n, d]` tensor with the fitted `d`; a libtorch error. The
    /// default implementation never fails.
    fn metrics(&self, _x: &Tensor) -> Result<BTreeMap<String, f64>> {
        Ok(BTreeMap::new())
    }
}
