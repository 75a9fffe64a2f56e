//! The classical baselines as catalogue models: [`BaselineModel`] holds a [`Baseline`] and the
//! kind of data it models, and gives it the model contract of the deep families, with the
//! [`Fit`] capability (closed form or EM on the whole training set) in place of gradient steps.
//! The numbers are those of [`crate::evaluate`]: the same preparation (dequantization streams),
//! units and kinds.
use genzoo_core::model::Family;
use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{
    Density, EvalOptions, EvalReport, ExampleNll, Fit, Losses, Network, Optimize, PerExampleNll,
};
use genzoo_core::{CoreError, Result};
use genzoo_data::toy::{Toy, TrueDensity};

use crate::{likelihood_of, nll_nats, prepare, samples_as_data, score, Baseline, FitStats};

/// A baseline with the data kind it models, and its fit once fitted.
pub struct BaselineModel {
    inner: Box<dyn Baseline>,
    kind: DataKind,
    stats: Option<FitStats>,
}

impl BaselineModel {
    /// `inner`, unfitted, for data of `kind` (8-bit images or vectors).
    pub fn new(inner: Box<dyn Baseline>, kind: DataKind) -> Self {
        BaselineModel {
            inner,
            kind,
            stats: None,
        }
    }
    /// The baseline itself (`num_params`, `log_prob` on prepared data, ...).
    pub fn baseline(&self) -> &dyn Baseline {
        self.inner.as_ref()
    }
    fn fitted(&self) -> Result<&FitStats> {
        self.stats
            .as_ref()
            .ok_or_else(|| crate::not_fitted(self.inner.name()))
    }
    fn check_kind(&self, data: &Dataset) -> Result<()> {
        if data.kind != self.kind {
            return Err(CoreError::shape(
                data.name.clone(),
                format!(
                    "`{}` was built for {:?} data, got {:?}",
                    self.inner.name(),
                    self.kind,
                    data.kind
                ),
            ));
        }
        if data.is_empty() {
            return Err(CoreError::shape(data.name.clone(), "no examples"));
        }
        Ok(())
    }
}

impl Network for BaselineModel {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn family(&self) -> Family {
        Family::Baseline
    }
    fn config_json(&self) -> serde_json::Value {
        self.inner.config_json()
    }
    fn train_step(&mut self, _batch: &Batch, _opt: &mut dyn Optimize) -> Result<Losses> {
        Err(CoreError::model(
            self.inner.name(),
            "is fitted in closed form or by EM on the whole training set, not by gradient steps: \
             use its `fit` capability (`GenerativeModel::fitter`)",
        ))
    }
    /// The report of [`crate::evaluate`] on the first `opts.max_examples` examples of `data`
    /// (dequantized with the stream `(opts.seed, 1)`), with the KL to the truth when `data` is a
    /// toy set with a closed-form density.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.check_kind(data)?;
        let stats = self.fitted()?;
        let data = data.take(opts.max_examples.unwrap_or(i64::MAX));
        let truth = Toy::of_dataset(&data);
        score(
            self.inner.as_ref(),
            stats,
            &data,
            opts.seed,
            truth.as_ref().map(|t| t as &dyn TrueDensity),
        )
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.fitted()?;
        samples_as_data(&self.kind, &self.inner.sample(n, seed)?)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        self.inner
            .has_density()
            .then_some(self as &dyn PerExampleNll)
    }
    fn density(&self) -> Option<&dyn Density> {
        (self.inner.has_density() && self.kind.is_vector()).then_some(self as &dyn Density)
    }
    fn fitter(&mut self) -> Option<&mut dyn Fit> {
        Some(self)
    }
}

impl Fit for BaselineModel {
    /// Fits to `train` (dequantized with the stream `(seed, 0)`, as [`crate::evaluate`] does);
    /// returns `iterations`, `converged` (0/1), `params`, `train_log_lik` (nats, when the model
    /// has a density) and the model's own numbers.
    fn fit(&mut self, train: &Dataset, seed: u64) -> Result<BTreeMap<String, f64>> {
        self.check_kind(train)?;
        let stats = self.inner.fit(&prepare(train, seed, 0)?, seed)?;
        let mut out = stats.metrics.clone();
        out.insert("iterations".into(), stats.iterations as f64);
        out.insert("converged".into(), f64::from(u8::from(stats.converged)));
        out.insert("params".into(), self.inner.num_params() as f64);
        if let Some(ll) = stats.train_log_lik {
            out.insert("train_log_lik".into(), ll);
        }
        self.stats = Some(stats);
        Ok(out)
    }
}

impl PerExampleNll for BaselineModel {
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll> {
        self.check_kind(data)?;
        self.fitted()?;
        let data = data.take(opts.max_examples.unwrap_or(i64::MAX));
        let (unit, kind, what) = likelihood_of(self.kind, true)
            .ok_or_else(|| CoreError::model(self.inner.name(), "defines no density"))?;
        let y = prepare(&data, opts.seed, 1)?;
        let nats = nll_nats(self.inner.as_ref(), &y, self.kind)?;
        Ok(ExampleNll {
            nll: unit
                .from_nats_tensor(&nats, self.kind.dims() as usize)?
                .to_kind(Kind::Double),
            unit,
            kind,
            data: format!("{} ({}), seed {}; {what}", data.name, data.len(), opts.seed),
        })
    }
}

impl Density for BaselineModel {
    fn log_density(&self, x: &Tensor) -> Result<Tensor> {
        self.fitted()?;
        Ok(self.inner.log_prob(x)?.to_kind(Kind::Float))
    }
}
