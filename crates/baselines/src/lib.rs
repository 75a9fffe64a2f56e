//! Classical baselines that open every comparison table (lecture notes; Bishop, *Pattern
//! Recognition and Machine Learning*, 2006, ch. 2.3, 9 and 12):
//!
//! * [`gaussian::Gaussian`]: one full-covariance Gaussian, fitted by maximum likelihood.
//! * [`gmm::Gmm`]: a Gaussian mixture (diagonal or full covariances) fitted by EM, k-means++ init.
//! * [`kmeans::KMeans`]: k-means (Lloyd) with k-means++ seeding. It defines no density.
//! * [`pca::Pca`] and [`pca::Ppca`]: PCA, and probabilistic PCA (Tipping & Bishop 1999) with its
//!   closed-form maximum-likelihood solution and closed-form log-likelihood.
//!
//! Every baseline implements [`Baseline`]: `fit` on `[n, d]` data, `log_prob` in nats per example
//! (`f64 [n]`), seeded `sample` (`f32 [n, d]`) and `num_params`, the same `log_prob` / `sample`
//! contract as the deep models. All math runs in `f64` with torch's linear algebra (Cholesky,
//! `eigh`, triangular solves), batched over examples, on the device of the input.
//!
//! **Ridge regularization.** Sample covariances of image data are singular or nearly so (MNIST
//! has pixels that are zero in every image; a mixture component with fewer examples than
//! dimensions has a rank-deficient scatter matrix). Each covariance estimate therefore adds a
//! small ridge to its diagonal (`ridge` in every config); the exact form used by each model is
//! documented on its config. On dequantized 8-bit data (what [`evaluate`] fits) every pixel has
//! variance at least `1/(12 * 256^2) ~ 1.3e-6`, so singularity is no longer exact, but with 784
//! dimensions and 9,000 examples the ridge also acts as shrinkage against over-fitting: the
//! `default` presets use ridges chosen on a held-out part of `mnist10k/train` (numbers in each
//! preset's docs); `tiny` presets use small guard values.
//!
//! [`evaluate`] is the library side of `cargo xtask compare`: fit on the train split, score the
//! test split, and say what the number is (see its docs).
use std::collections::BTreeMap;
use std::time::Instant;

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use tch::{Device, Kind, Tensor};

use genzoo_core::data::{transforms, DataKind, Dataset};
use genzoo_core::model::{
    config_from, BuildArgs, EvalReport, GenerativeModel, LikelihoodKind, ModelSpec, Nll, Owned,
};
use genzoo_core::units::{self, NllUnit};
use genzoo_core::{seed, CoreError, Result};
use genzoo_data::toy::{self, TrueDensity};

pub mod gaussian;
pub mod gmm;
pub mod kmeans;
mod model;
pub mod pca;

pub use gaussian::{Gaussian, GaussianConfig};
pub use gmm::{CovarianceType, Gmm, GmmConfig};
pub use kmeans::{KMeans, KMeansConfig};
pub use model::BaselineModel;
pub use pca::{Pca, Ppca, PpcaConfig};

/// `ln(2 pi)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_5;

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
    /// [`CoreError::Shape`] naming `x` when it is not a finite floating `[n, d]` tensor with enough
    /// rows for the model; [`CoreError::Shape`] when a fitted covariance is not positive definite
    /// (raise `ridge`); a libtorch error.
    fn fit(&mut self, x: &Tensor, seed: u64) -> Result<FitStats>;
    /// Whether the model defines a density (k-means does not).
    fn has_density(&self) -> bool {
        true
    }
    /// Log-density of each row of `x` (`[n, d]`) in nats: `f64 [n]`.
    ///
    /// # Errors
    /// [`CoreError::Model`] before `fit` or for a model without a density (k-means);
    /// [`CoreError::Shape`] naming `x` when it is not a finite floating `[n, d]` tensor with the
    /// fitted `d`; a libtorch error.
    fn log_prob(&self, x: &Tensor) -> Result<Tensor>;
    /// `n` samples seeded by `seed`: `f32 [n, d]` on the model's device.
    ///
    /// # Errors
    /// [`CoreError::Model`] before `fit`; [`CoreError::Invalid`] when `n` is negative; a libtorch
    /// error.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// Number of free parameters of the fitted model (0 before `fit`).
    fn num_params(&self) -> usize;
    /// Model-specific metrics on data `x` (`[n, d]`), e.g. k-means distortion.
    ///
    /// # Errors
    /// [`CoreError::Model`] before `fit` (for models with metrics); [`CoreError::Shape`] naming `x`
    /// when it is not a finite floating `[n, d]` tensor with the fitted `d`; a libtorch error. The
    /// default implementation never fails.
    fn metrics(&self, _x: &Tensor) -> Result<BTreeMap<String, f64>> {
        Ok(BTreeMap::new())
    }
}

/// The baselines as catalogue entries, in table order: each builds a [`BaselineModel`] (the
/// [`Fit`](genzoo_core::model::Fit) capability instead of gradient steps) through the same
/// [`genzoo_core::model::build_model`] as the deep models.
pub fn registry() -> Vec<ModelSpec> {
    let spec = |name, about, presets, build| ModelSpec {
        name,
        family: "baseline",
        about,
        presets,
        accepts: images_or_vectors,
        build,
    };
    vec![
        spec(
            "gaussian",
            "full-covariance Gaussian, maximum likelihood with a ridge",
            gaussian::PRESETS,
            |a| catalogue_model("gaussian", a),
        ),
        spec(
            "gmm-diag",
            "Gaussian mixture, diagonal covariances, EM with k-means++ init",
            gmm::PRESETS,
            |a| catalogue_model("gmm-diag", a),
        ),
        spec(
            "gmm-full",
            "Gaussian mixture, full covariances, EM with k-means++ init",
            gmm::PRESETS,
            |a| catalogue_model("gmm-full", a),
        ),
        spec(
            "ppca",
            "probabilistic PCA (Tipping & Bishop 1999), closed form",
            pca::PRESETS,
            |a| catalogue_model("ppca", a),
        ),
        spec(
            "kmeans",
            "k-means (Lloyd, k-means++ seeding); no density",
            kmeans::PRESETS,
            |a| catalogue_model("kmeans", a),
        ),
    ]
}

fn images_or_vectors(k: &DataKind) -> bool {
    k.is_image() || k.is_vector()
}

fn catalogue_model(name: &str, a: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    let inner = build(name, a.preset, a.overrides)?;
    Ok(Box::new(Owned::build(a.device, |_| {
        Ok(BaselineModel::new(inner, a.data))
    })?))
}

/// The catalogue's names of the baselines.
fn names() -> String {
    registry()
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds a baseline by registry name and preset, with optional config overrides (unknown keys
/// are rejected with an error naming the key).
///
/// # Errors
/// [`CoreError::Unknown`] for an unknown name or preset, [`CoreError::Config`] for a bad override.
pub fn build(
    name: &str,
    preset: &str,
    overrides: Option<&serde_json::Value>,
) -> Result<Box<dyn Baseline>> {
    Ok(match name {
        "gaussian" => {
            let cfg = config_from(name, preset, overrides, gaussian::preset, gaussian::PRESETS)?;
            Box::new(Gaussian::new(cfg)?)
        }
        "gmm-diag" | "gmm-full" => {
            let cov = if name == "gmm-full" {
                CovarianceType::Full
            } else {
                CovarianceType::Diag
            };
            let mut cfg = config_from(
                name,
                preset,
                overrides,
                |p| gmm::preset(p, cov),
                gmm::PRESETS,
            )?;
            if cfg.covariance != cov {
                return Err(CoreError::config(
                    "model.covariance",
                    format!("`{name}` fixes the covariance type; use the other registry name"),
                ));
            }
            cfg.covariance = cov;
            Box::new(Gmm::new(name, cfg)?)
        }
        "ppca" => {
            let cfg = config_from(name, preset, overrides, pca::preset, pca::PRESETS)?;
            Box::new(Ppca::new(cfg)?)
        }
        "kmeans" => {
            let cfg = config_from(name, preset, overrides, kmeans::preset, kmeans::PRESETS)?;
            Box::new(KMeans::new(cfg)?)
        }
        _ => {
            return Err(CoreError::Unknown {
                what: "baseline",
                name: name.to_string(),
                known: names(),
            })
        }
    })
}

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
        family: "baseline".into(),
        config: model.config_json(),
        params: model.num_params(),
        fit_seconds,
        samples_per_second,
        report,
    })
}

/// What a baseline's NLL on data of `kind` is: its unit, kind and the text saying so.
fn likelihood_of(
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
fn nll_nats(model: &dyn Baseline, y: &Tensor, kind: DataKind) -> Result<Tensor> {
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
fn flag_degenerate(
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
fn score(
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
fn prepare(ds: &Dataset, seed_: u64, index: u64) -> Result<Tensor> {
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

/// Checks that `x` is a finite floating `[n, d]` tensor with `n >= min_rows` (and `d == want_d`
/// when given) and returns it as `f64`.
pub(crate) fn check_input(
    x: &Tensor,
    what: &str,
    min_rows: i64,
    want_d: Option<i64>,
) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 2 {
        return Err(CoreError::shape(
            what,
            format!("expected [n, d], got shape {size:?}"),
        ));
    }
    if !matches!(
        x.kind(),
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    ) {
        return Err(CoreError::shape(
            what,
            format!("expected a floating tensor, got {:?}", x.kind()),
        ));
    }
    if size[0] < min_rows {
        return Err(CoreError::shape(
            what,
            format!("needs at least {min_rows} rows, got {}", size[0]),
        ));
    }
    if let Some(d) = want_d {
        if size[1] != d {
            return Err(CoreError::shape(
                what,
                format!("the model was fitted on {d} dimensions, got {}", size[1]),
            ));
        }
    }
    let x = x.to_kind(Kind::Double);
    if !bool::try_from(x.f_isfinite()?.all())? {
        return Err(CoreError::shape(what, "holds NaN or infinite values"));
    }
    Ok(x)
}

/// The error for a method called before `fit`.
pub(crate) fn not_fitted(model: &str) -> CoreError {
    CoreError::model(model, "not fitted: call `fit` first")
}

/// Lower Cholesky factor of the symmetric matrices `cov` (`[.., d, d]`), or an error naming `what`.
pub(crate) fn cholesky(cov: &Tensor, what: &str) -> Result<Tensor> {
    let (l, info) = cov.f_linalg_cholesky_ex(false, false)?;
    if info.f_ne(0)?.any().int64_value(&[]) != 0 {
        return Err(CoreError::shape(
            what,
            "covariance is not positive definite: raise `ridge` (constant or collinear dimensions)",
        ));
    }
    Ok(l)
}

/// `log N(x | mean, L L^T)` for each row of `x` (`f64 [n, d]`), with `l` the lower Cholesky
/// factor (`[d, d]`) and `mean` `[d]`: `-(d ln 2pi + log|S| + |L^-1 (x - mean)|^2) / 2`. `[n]`.
pub(crate) fn mvn_log_prob_chol(x: &Tensor, mean: &Tensor, l: &Tensor) -> Result<Tensor> {
    let d = x.size()[1];
    let xc = (x - mean).transpose(0, 1); // [d, n]
    let z = l.f_linalg_solve_triangular(&xc, false, true, false)?; // [d, n]
    let maha = z.square().sum_dim_intlist(0, false, Kind::Double); // [n]
    let logdet = 2.0 * l.diagonal(0, -2, -1).log().sum(Kind::Double);
    Ok((maha + logdet + d as f64 * LN_2PI) * -0.5)
}

/// `f64 [n, d]` standard normal draws from the Rust stream `(seed, name, index)`, on `device`.
pub(crate) fn std_normal(
    n: i64,
    d: i64,
    seed_: u64,
    name: &str,
    index: u64,
    device: Device,
) -> Tensor {
    let mut rng = seed::rng(seed_, name, index);
    let v: Vec<f64> = (0..n * d)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_slice(&v).reshape([n, d]).to_device(device)
}

/// `n` draws of an index in `0..weights.len()` with probability proportional to `weights`
/// (non-negative, not all zero), from `rng`.
pub(crate) fn categorical(weights: &[f64], n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let total: f64 = weights.iter().sum();
    (0..n)
        .map(|_| {
            let mut u = rng.gen::<f64>() * total;
            for (i, &w) in weights.iter().enumerate() {
                if u < w {
                    return i;
                }
                u -= w;
            }
            // Rounding left u just above the last weight: the last positive one.
            weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
        })
        .collect()
}

/// Validates a ridge value from a config.
pub(crate) fn check_ridge(key: &str, ridge: f64) -> Result<()> {
    if !(ridge.is_finite() && ridge >= 0.0) {
        return Err(CoreError::config(
            key,
            format!("must be finite and >= 0, got {ridge}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
