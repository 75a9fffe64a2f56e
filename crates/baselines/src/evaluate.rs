//! Fitting on a train split and scoring a test split, saying what the number is: the library
//! side of the baselines' rows in `cargo xtask compare`.
use genzoo_core::model::Family;
use std::collections::BTreeMap;
use std::time::Instant;

use tch::{Kind, Tensor};

use genzoo_core::data::{transforms, DataKind, Dataset};
use genzoo_core::model::{EvalReport, LikelihoodKind, Nll};
use genzoo_core::units::{self, NllUnit};
use genzoo_core::{seed, CoreError, Result};
use genzoo_data::toy::{self, TrueDensity};

use crate::*;

/// One row of a comparison table for a baseline.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BaselineResult {
    pub model: String,
    /// Always `baseline`.
    pub family: String,
    pub config: serde_json::Value,
    /// Free parameters of the fitted model.
    pub params: usize,
    /// Wall-clock seconds of `fit` on the training split.
    pub fit_seconds: f64,
    /// Samples per second of `sample` (1,000 samples, timed once after a warm-up call).
    pub samples_per_second: f64,
    /// Test NLL with its unit, kind and data, plus metrics (`train_nll` in the same unit,
    /// `iterations`, `converged`, and each model's own).
    pub report: EvalReport,
}

/// Fits `model` on `train` and scores `test`, the library side of `cargo xtask compare`.
///
/// * 8-bit images: the model is fitted to uniformly dequantized data `y = (x + u) / 256` in
///   `[0,1]^D` (u ~ U[0,1)^D, one seeded draw per split) and the test NLL is reported in bits/dim
///   as `-log p(y) + D log 256` through [`genzoo_core::units`]. For a density on the dequantized data
///   this is exact; as a number about the discrete 8-bit data its expectation over u is an upper
///   bound on `-log P(x)` (Theis et al. 2016), so the report's kind is [`LikelihoodKind::Bound`].
/// * Continuous vectors (toy sets): exact NLL in nats per example ([`LikelihoodKind::Exact`]).
/// * k-means defines no density: `nll` is `None`; its distortion is a metric.
///
/// # Errors
/// The errors of [`evaluate_against`] without a true density: [`CoreError::Invalid`] when `train`
/// and `test` hold different kinds of data, [`CoreError::Config`] (`data`) for data that is neither
/// 8-bit images nor vectors, and the errors of the model's `fit`, `log_prob`, `metrics` and
/// `sample`.
pub fn evaluate(
    model: &mut dyn Baseline,
    train: &Dataset,
    test: &Dataset,
    seed: u64,
) -> Result<BaselineResult> {
    evaluate_against(model, train, test, seed, None)
}

/// [`evaluate`], plus, when the data's true density is known (toy sets with a closed form, e.g.
/// `data::toy::Toy::EightGaussians`), the metrics `kl_to_truth` and `kl_to_truth_se`:
/// KL(true || model) in nats by Monte Carlo over 20,000 fresh true samples, with its standard
/// error ([`genzoo_data::toy::kl_monte_carlo`]).
///
/// # Errors
/// [`CoreError::Invalid`] when `train` and `test` hold different kinds of data or `truth` has a
/// different dimension than the data; [`CoreError::Config`] (`data`) for data that is neither 8-bit
/// images nor vectors; the errors of the model's `fit`, `log_prob`, `metrics` and `sample` (e.g.
/// [`CoreError::Shape`] for a covariance that is not positive definite) and of the Monte-Carlo KL;
/// a libtorch error.
pub fn evaluate_against(
    model: &mut dyn Baseline,
    train: &Dataset,
    test: &Dataset,
    seed: u64,
    truth: Option<&dyn TrueDensity>,
) -> Result<BaselineResult> {
    if train.kind != test.kind {
        return Err(CoreError::Invalid(format!(
            "train `{}` ({:?}) and test `{}` ({:?}) hold different kinds of data",
            train.name, train.kind, test.name, test.kind
        )));
    }
    let ytrain = prepare(train, seed, 0)?;
    let t0 = Instant::now();
    let stats = model.fit(&ytrain, seed)?;
    let fit_seconds = t0.elapsed().as_secs_f64();
    let report = score(model, &stats, test, seed, truth)?;

    let n_samples = 1000;
    let _warm = model.sample(8, seed::derive(seed, "baseline-sample", 1))?; // first-call costs
    let t1 = Instant::now();
    let s = model.sample(n_samples, seed::derive(seed, "baseline-sample", 0))?;
    let _ = s.sum(Kind::Double).double_value(&[]); // sync the device before stopping the clock
    let samples_per_second = n_samples as f64 / t1.elapsed().as_secs_f64().max(1e-9);

    Ok(BaselineResult {
        model: model.name().to_string(),
        family: Family::Baseline.to_string(),
        config: model.config_json(),
        params: model.num_params(),
        fit_seconds,
        samples_per_second,
        report,
    })
}

/// What a baseline's NLL on data of `kind` is: its unit, kind and the text saying so.
pub(crate) fn likelihood_of(
    kind: DataKind,
    has_density: bool,
) -> Option<(NllUnit, LikelihoodKind, &'static str)> {
    match (kind, has_density) {
        (_, false) => None,
        (DataKind::Image { .. }, true) => Some((
            NllUnit::BitsPerDim,
            LikelihoodKind::Bound,
            "-log p(y) + D log 256, an upper bound on the discrete NLL in expectation over u",
        )),
        (_, true) => Some((NllUnit::Nats, LikelihoodKind::Exact, "exact density")),
    }
}

/// Per-example NLL in nats of prepared data `y` (`f64 [n, D]`) of kind `kind`: `-log p(y)`, plus
/// the `D log 256` discretization term on 8-bit images ([`units::discrete_nll_from_unit_density`]).
pub(crate) fn nll_nats(model: &dyn Baseline, y: &Tensor, kind: DataKind) -> Result<Tensor> {
    let nll = model.log_prob(y)?.f_neg()?;
    Ok(match kind {
        DataKind::Image { .. } => {
            let dims = kind.dims() as usize;
            nll.f_add_scalar(units::discrete_nll_from_unit_density(0.0, dims, 256))?
        }
        _ => nll,
    })
}

/// Names a degenerate fit in the report: the fit's own warnings, and a discrete NLL (or
/// training NLL) below 0, which no likelihood of 8-bit data can be: such an NLL's kind becomes
/// `invalid`. Sets the `degenerate_fit` metric to 1 when anything is wrong.
pub(crate) fn flag_degenerate(
    nll: Option<Nll>,
    mut data: String,
    stats: &FitStats,
    metrics: &mut BTreeMap<String, f64>,
    kind: DataKind,
) -> (Option<Nll>, String) {
    let mut warnings = stats.warnings.clone();
    let mut nll = nll;
    if kind.is_image() {
        let below = |v: Option<f64>| v.filter(|v| *v < 0.0);
        for (what, v) in [
            ("test", below(nll.map(|n| n.value))),
            ("training", below(metrics.get("train_nll").copied())),
        ] {
            if let Some(v) = v {
                warnings.push(format!("a {what} NLL of {v:.3} bits/dim, below the 0 that no likelihood of 8-bit data can go under: the density collapsed onto the examples (too few of them, or constant pixels)"));
            }
        }
        if let Some(n) = nll.as_mut().filter(|n| n.value < 0.0) {
            n.kind = LikelihoodKind::Invalid;
        }
    }
    if !warnings.is_empty() {
        metrics.insert("degenerate_fit".into(), 1.0);
        data = format!("{data}; DEGENERATE FIT: {}", warnings.join("; "));
    }
    (nll, data)
}

/// The report of a fitted baseline on `test` (dequantized with the stream `(seed, 1)`): NLL with
/// its unit and kind, the fit's numbers (`train_nll` in the same unit, `iterations`,
/// `converged`), the model's metrics on `test` (`test_*`), and the KL to `truth` when given.
pub(crate) fn score(
    model: &dyn Baseline,
    stats: &FitStats,
    test: &Dataset,
    seed: u64,
    truth: Option<&dyn TrueDensity>,
) -> Result<EvalReport> {
    let dims = test.kind.dims();
    let ytest = prepare(test, seed, 1)?;
    let lik = likelihood_of(test.kind, model.has_density());
    let what = lik.map_or("no density (k-means): distortion only", |l| l.2);
    let data = match test.kind {
        DataKind::Image { .. } => format!(
            "{} ({} examples), 8-bit, uniformly dequantized y = (x+u)/256 (one draw, seed {seed}); {what}",
            test.name,
            test.len()
        ),
        _ => format!("{} ({} examples), continuous vectors; {what}", test.name, test.len()),
    };
    let mut metrics = stats.metrics.clone();
    metrics.insert("iterations".into(), stats.iterations as f64);
    metrics.insert("converged".into(), if stats.converged { 1.0 } else { 0.0 });
    let nll = match lik {
        Some((unit, kind, _)) => {
            let to_unit = |mean_log_p: f64| {
                let nll = -mean_log_p;
                let nats = match test.kind {
                    DataKind::Image { .. } => {
                        units::discrete_nll_from_unit_density(nll, dims as usize, 256)
                    }
                    _ => nll,
                };
                Nll::from_nats(nats, dims as usize, unit, kind)
            };
            if let Some(tr) = stats.train_log_lik {
                metrics.insert("train_nll".into(), to_unit(tr).value);
            }
            let mean = model.log_prob(&ytest)?.mean(Kind::Double).double_value(&[]);
            Some(to_unit(mean))
        }
        None => None,
    };
    for (k, v) in model.metrics(&ytest)? {
        metrics.insert(format!("test_{k}"), v);
    }
    let (nll, data) = flag_degenerate(nll, data, stats, &mut metrics, test.kind);
    if let (Some(truth), true) = (truth, model.has_density()) {
        if truth.dim() as i64 != dims {
            return Err(CoreError::Invalid(format!(
                "true density has {} dimensions, data `{}` has {dims}",
                truth.dim(),
                test.name
            )));
        }
        let kl = toy::kl_monte_carlo(
            truth,
            &mut |x: &Tensor| model.log_prob(x),
            20_000,
            seed::derive(seed, "baseline-kl", 0),
        )?;
        metrics.insert("kl_to_truth".into(), kl.nats);
        if let Some(se) = kl.std_err {
            metrics.insert("kl_to_truth_se".into(), se);
        }
    }
    Ok(EvalReport { nll, data, metrics })
}

/// Samples (`f32 [n, D]`) as data: images clamped to \[0,1\] and shaped `[n, c, h, w]` (for PNG
/// grids), vectors unchanged.
///
/// # Errors
/// For an image `kind`, a libtorch error when `samples` cannot be reshaped to `[n, c, h, w]`.
pub fn samples_as_data(kind: &DataKind, samples: &Tensor) -> Result<Tensor> {
    match *kind {
        DataKind::Image {
            channels,
            height,
            width,
        } => {
            let n = samples.size().first().copied().unwrap_or(0);
            Ok(samples
                .f_reshape([n, channels, height, width])?
                .clamp(0.0, 1.0)
                .to_kind(Kind::Float))
        }
        _ => Ok(samples.to_kind(Kind::Float)),
    }
}

/// The examples of `ds` as `f64 [n, D]`: images uniformly dequantized to `(x + u) / 256` by
/// [`transforms::dequantize`] with torch seeded from the stream `(seed, "baseline-dequantize",
/// index)`; vectors as they are.
pub(crate) fn prepare(ds: &Dataset, seed_: u64, index: u64) -> Result<Tensor> {
    let n = ds.len();
    let d = ds.kind.dims();
    match ds.kind {
        DataKind::Image { .. } => {
            seed::seed_torch_stream(seed_, "baseline-dequantize", index);
            Ok(transforms::dequantize(&ds.x)?
                .f_reshape([n, d])?
                .to_kind(Kind::Double))
        }
        DataKind::Vector { .. } => Ok(ds.x.f_reshape([n, d])?.to_kind(Kind::Double)),
        other => Err(CoreError::config(
            "data",
            format!("the classical baselines model 8-bit images and vectors, not {other:?}"),
        )),
    }
}
