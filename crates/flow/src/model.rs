//! How a flow meets the model contract: each model file gives its `Config` a [`FlowConfig`]
//! implementation that builds the [`FlowCore`] under an `nn::Path` (weights named by path), and
//! [`Flow`] pairs the core with the config as a `genzoo_core::model::Network`. Held in an
//! [`Owned`] with its variable store, it is a `GenerativeModel` with the capabilities every flow
//! has: per-example NLL, reconstruction by the round trip, the exact density of vectors, and
//! class-conditional sampling for conditional models.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use tch::{nn, Device, Tensor};

use crate::density::FlowCore;
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{
    config_from, BuildArgs, ConditionalSample, Density, EvalOptions, EvalReport, GenerativeModel,
    Losses, Network, Optimize, Owned, PerExampleNll, Reconstruct,
};
use genzoo_core::{CoreError, Result};

/// A flow model's configuration: what it builds.
pub trait FlowConfig: Clone + serde::Serialize + serde::de::DeserializeOwned + 'static {
    /// Builds the flow's core under `p` for data of kind `data` (`num_classes` for
    /// class-conditional models).
    ///
    /// # Errors
    /// An invalid configuration (naming the key) or data the model does not take.
    fn core(&self, p: &nn::Path, data: DataKind, num_classes: Option<i64>) -> Result<FlowCore>;
}

/// A flow: its core and the configuration it was built from.
pub struct Flow<C> {
    pub core: FlowCore,
    pub cfg: C,
}

impl<C: FlowConfig> Flow<C> {
    /// The flow of `cfg` under `p`, for data of kind `data` (`num_classes` for class-conditional
    /// models).
    ///
    /// # Errors
    /// As [`FlowConfig::core`].
    pub fn new(p: &nn::Path, cfg: &C, data: DataKind, num_classes: Option<i64>) -> Result<Self> {
        Ok(Flow {
            core: cfg.core(p, data, num_classes)?,
            cfg: cfg.clone(),
        })
    }

    /// [`Flow::new`] in a variable store of its own on `device`: the model, ready to train.
    ///
    /// # Errors
    /// As [`FlowConfig::core`].
    pub fn owned(
        cfg: &C,
        data: DataKind,
        num_classes: Option<i64>,
        device: Device,
    ) -> Result<Owned<Self>> {
        Owned::build(device, |p| Flow::new(p, cfg, data, num_classes))
    }
}

/// The catalogue's builder for flow `name` with config type `C`: the preset and overrides
/// through [`config_from`], then `adjust` (e.g. `cond-realnvp` sets `conditional`).
///
/// # Errors
/// An unknown preset, a bad override, or an invalid configuration.
pub(crate) fn build_flow<C: FlowConfig>(
    name: &str,
    args: &BuildArgs,
    presets: impl Fn(&str) -> Option<C>,
    preset_names: &[&str],
    adjust: impl FnOnce(&mut C),
) -> Result<Box<dyn GenerativeModel>> {
    let mut cfg = config_from(name, args.preset, args.overrides, presets, preset_names)?;
    adjust(&mut cfg);
    Ok(Box::new(Flow::owned(
        &cfg,
        args.data,
        args.num_classes,
        args.device,
    )?))
}

impl<C: FlowConfig> Network for Flow<C> {
    fn name(&self) -> &str {
        &self.core.model
    }
    fn set_temperature(&mut self, t: f64) -> Result<()> {
        if !(t.is_finite() && t >= 0.0) {
            return Err(genzoo_core::CoreError::config(
                "temperature",
                format!("must be a finite number >= 0, got {t}"),
            ));
        }
        self.core.temperature = t;
        Ok(())
    }
    fn family(&self) -> Family {
        Family::Flow
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or(serde_json::Value::Null)
    }
    fn init_from_batch(&mut self, batch: &Batch) -> Result<()> {
        self.core.init(batch)
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let losses = self.core.losses(batch)?;
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.core.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.core.sample(n, self.core.temperature, seed, None)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(&self.core)
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        self.core
            .num_classes
            .is_none()
            .then_some(self as &dyn Reconstruct)
    }
    fn density(&self) -> Option<&dyn Density> {
        (self.core.data.is_vector() && self.core.num_classes.is_none())
            .then_some(self as &dyn Density)
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        self.core
            .num_classes
            .map(|_| self as &dyn ConditionalSample)
    }
}

impl<C: FlowConfig> Reconstruct for Flow<C> {
    /// The round trip data -> latent -> data (pixel centres for images).
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.core.round_trip(x, None)?.0)
    }
}

impl<C: FlowConfig> Density for Flow<C> {
    fn log_density(&self, x: &Tensor) -> Result<Tensor> {
        self.core.log_prob_vectors(x)
    }
}

impl<C: FlowConfig> ConditionalSample for Flow<C> {
    fn num_classes(&self) -> i64 {
        self.core.num_classes.unwrap_or(0)
    }
    /// Samples at the model's temperature, one per label.
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        if labels.dim() != 1 {
            return Err(CoreError::shape(
                "labels",
                format!("expected [n], got {:?}", labels.size()),
            ));
        }
        self.core
            .sample(labels.size()[0], self.core.temperature, seed, Some(labels))
    }
}
