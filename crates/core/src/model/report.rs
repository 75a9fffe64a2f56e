//! What evaluation says: a likelihood is a number with its unit and its kind (exact, a bound, or
//! an importance-sampled estimate) or it is absent, never a number without a meaning.
use std::collections::BTreeMap;

use tch::Tensor;

use crate::units::NllUnit;

/// What a reported likelihood is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LikelihoodKind {
    /// Exact (flows, autoregressive models, closed-form baselines).
    #[serde(rename = "exact")]
    Exact,
    /// A bound: an upper bound on the NLL (the ELBO; a dequantization bound).
    #[serde(rename = "bound")]
    Bound,
    /// An importance-sampled estimate (IWAE with k samples): a stochastic upper bound on the NLL
    /// that tightens as k grows.
    #[serde(rename = "is-estimate")]
    IsEstimate,
    /// Not a likelihood: the number was computed, but what makes it one failed (a flow whose
    /// inverse does not reproduce its input has no change-of-variables density). Shown, never
    /// ranked.
    #[serde(rename = "invalid")]
    Invalid,
}

impl LikelihoodKind {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            LikelihoodKind::Exact => "exact",
            LikelihoodKind::Bound => "bound",
            LikelihoodKind::IsEstimate => "is-estimate",
            LikelihoodKind::Invalid => "invalid",
        }
    }
}

/// A test negative log-likelihood: the number, its unit and what it is.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Nll {
    /// The mean NLL over the evaluated examples, in `unit`.
    pub value: f64,
    pub unit: NllUnit,
    pub kind: LikelihoodKind,
}

impl Nll {
    /// `value` in `unit`, of kind `kind`.
    pub fn new(value: f64, unit: NllUnit, kind: LikelihoodKind) -> Self {
        Nll { value, unit, kind }
    }
    /// An NLL given in nats per example of `dims` dimensions, converted into `unit` (the one
    /// conversion, [`NllUnit::from_nats`]).
    pub fn from_nats(
        nats_per_example: f64,
        dims: usize,
        unit: NllUnit,
        kind: LikelihoodKind,
    ) -> Self {
        Nll::new(unit.from_nats(nats_per_example, dims), unit, kind)
    }
}

impl std::fmt::Display for Nll {
    /// `1.234 bits/dim (exact)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.4} {} ({})",
            self.value,
            self.unit.label(),
            self.kind.label()
        )
    }
}

/// Options for evaluation (`[train.eval]` in TOML: unset keys take the defaults, unknown keys
/// are rejected).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Importance samples per example for latent-variable models (k of the IWAE bound).
    pub importance_samples: usize,
    /// Examples per evaluation batch.
    pub batch_size: i64,
    /// Seed of every random choice in evaluation (static binarization, dequantization noise,
    /// importance samples).
    pub seed: u64,
    /// Evaluate on at most this many test examples.
    pub max_examples: Option<i64>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            importance_samples: 5000,
            batch_size: 100,
            seed: 0,
            max_examples: None,
        }
    }
}

impl EvalOptions {
    /// Checks every option, naming the key under `[train.eval]`.
    ///
    /// # Errors
    /// [`crate::CoreError::Config`] for `importance_samples` = 0, `batch_size` < 1 or
    /// `max_examples` < 1.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |k: &str| Err(crate::CoreError::config(format!("eval.{k}"), "must be > 0"));
        if self.batch_size <= 0 {
            return bad("batch_size");
        }
        if self.importance_samples == 0 {
            return bad("importance_samples");
        }
        if matches!(self.max_examples, Some(n) if n <= 0) {
            return bad("max_examples");
        }
        Ok(())
    }
}

/// The evaluation of a model on a dataset.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// The test NLL with its unit and kind, or `None` when the model defines no likelihood
    /// (GANs, the deterministic autoencoder, k-means).
    pub nll: Option<Nll>,
    /// Which data and preprocessing the numbers are on, e.g.
    /// `mnist10k/test (1000), static binarization seed 0` or `mnist10k/test (1000), 8-bit`.
    pub data: String,
    /// The family's own metrics (`elbo`, `kl`, `recon`, `active_units`, `kl_to_truth`, ...).
    pub metrics: BTreeMap<String, f64>,
}

impl EvalReport {
    /// The NLL's value, if the model has a likelihood.
    pub fn nll_value(&self) -> Option<f64> {
        self.nll.map(|n| n.value)
    }

    /// Checks the headline numbers of `model`'s report: the NLL must be finite and of a valid
    /// kind, and no metric may be NaN or infinite.
    ///
    /// # Errors
    /// [`crate::CoreError::Model`] naming the model and what is not a number (or the invalid
    /// likelihood and why).
    pub fn check_valid(&self, model: &str) -> crate::Result<()> {
        if let Some(n) = self.nll {
            if !n.value.is_finite() {
                return Err(crate::CoreError::model(
                    model,
                    format!("test NLL is {} on {}", n.value, self.data),
                ));
            }
            if n.kind == LikelihoodKind::Invalid {
                return Err(crate::CoreError::model(
                    model,
                    format!("test NLL {} is not a likelihood: {}", n.value, self.data),
                ));
            }
        }
        match self.metrics.iter().find(|(_, v)| !v.is_finite()) {
            Some((k, v)) => Err(crate::CoreError::model(
                model,
                format!("metric `{k}` is {v} on {}", self.data),
            )),
            None => Ok(()),
        }
    }
}

/// Per-example negative log-likelihoods of a dataset and what they are: the capability behind
/// `eval --per-example` (outlier scores, debugging, checking a model's normalization from
/// outside).
#[derive(Debug)]
pub struct ExampleNll {
    /// `f64 [n]`: example i's NLL in `unit`, in the order of the dataset.
    pub nll: Tensor,
    pub unit: NllUnit,
    /// Exact, bound or estimate, as for [`Nll::kind`].
    pub kind: LikelihoodKind,
    /// Which data and preprocessing the numbers are on (as [`EvalReport::data`]).
    pub data: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(value: f64, kind: LikelihoodKind, metric: f64) -> EvalReport {
        EvalReport {
            nll: Some(Nll::new(value, NllUnit::BitsPerDim, kind)),
            data: "d/test".into(),
            metrics: [("recon_error".to_string(), metric)].into(),
        }
    }

    /// A NaN or infinite headline number, or an invalid likelihood, is an
    /// error naming the model and what is wrong; a finite valid report passes.
    #[test]
    fn numbers_that_are_not_numbers_are_named() {
        report(1.8, LikelihoodKind::Bound, 1e-6)
            .check_valid("realnvp")
            .unwrap();
        let e = report(f64::NAN, LikelihoodKind::Bound, 0.0).check_valid("realnvp");
        assert!(e.unwrap_err().to_string().contains("realnvp"));
        let e = report(2.85e6, LikelihoodKind::Invalid, 1.05).check_valid("realnvp");
        assert!(e.unwrap_err().to_string().contains("not a likelihood"));
        let e = report(1.0, LikelihoodKind::Exact, f64::INFINITY).check_valid("m");
        assert!(e.unwrap_err().to_string().contains("recon_error"));
        assert_eq!(LikelihoodKind::Invalid.label(), "invalid");
    }
}
