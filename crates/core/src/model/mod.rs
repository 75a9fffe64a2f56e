//! The one model interface every family implements, its capabilities, the generic holder and
//! the catalogue through which every caller builds models by name.
//!
//! A model is a [`Network`] (the family's struct) held with its `nn::VarStore` in an [`Owned`],
//! which implements [`GenerativeModel`]. The trainer calls [`GenerativeModel::train_step`] with
//! an [`Optimize`] handle: a single-optimizer model computes its [`Losses`] and calls
//! `opt.minimize("model", losses.total()?)`; a model with several players (a GAN) returns one
//! objective per player and calls `minimize` once per player group, each back-propagating into
//! that group's parameters only. Capabilities ([`capability`]) are discovered without running the
//! model: `model.reconstructor()`, `model.class_sampler()`, ... return `Some` when the model has
//! them.
pub mod capability;
mod losses;
mod owned;
mod report;
mod spec;

use std::collections::BTreeMap;

use tch::{nn, Tensor};

pub use capability::{
    CodePrior, ConditionalSample, Density, Fit, PartialSample, PerExampleNll, Reconstruct, Traverse,
};
pub use losses::{Losses, Optimize, ParamGroup};
pub use owned::{Network, Owned};
pub use report::{EvalOptions, EvalReport, ExampleNll, LikelihoodKind, Nll};
pub use spec::{
    build_for, build_model, build_network, config_from, find_spec, BuildArgs, Family, ModelSpec,
    Presets,
};

use crate::data::{Batch, Dataset};
use crate::Result;

/// The error of a model without a sampling temperature.
pub(crate) fn no_temperature(model: &str) -> crate::CoreError {
    crate::CoreError::config(
        "temperature",
        format!("{model} has no sampling temperature (flows and autoregressive models have one)"),
    )
}

/// The interface shared by every genzoo model (implemented by [`Owned`]).
pub trait GenerativeModel {
    /// Catalogue name (`vae-mlp`, `realnvp`, `gmm-full`).
    fn name(&self) -> &str;
    /// The model's [`Family`].
    fn family(&self) -> Family;
    /// The model's configuration, written to every run directory as `config.json`.
    fn config_json(&self) -> serde_json::Value;
    /// The variables (saved in checkpoints).
    fn var_store(&self) -> &nn::VarStore;
    /// Mutable variables (loaded from checkpoints).
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Parameter groups with their own optimizers. Default: one group `model` of all trainable
    /// variables.
    fn param_groups(&self) -> Vec<ParamGroup> {
        default_groups(self.var_store())
    }
    /// Optional data-dependent initialization on the first training batch (ActNorm).
    ///
    /// # Errors
    /// A batch of another shape than the model's, or a libtorch error.
    fn init_from_batch(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    /// One training step on `batch`; returns its named loss parts.
    ///
    /// # Errors
    /// A batch the model cannot take, a non-finite loss, a model fitted by [`Fit`] instead of
    /// gradient steps, or a libtorch error.
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses>;
    /// Test-set likelihood (or sample metrics) and the family's metrics.
    ///
    /// # Errors
    /// An empty dataset or data of another kind than the model's, a model not yet fitted, or a
    /// libtorch error.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport>;
    /// `n` seeded samples in data space: images as `f32 [n, c, h, w]` in \[0,1\], vectors as
    /// `f32 [n, d]`, sequences as `f32 [n, c, t]` in \[-1,1\], code grids as `i64 [n, h, w]`.
    ///
    /// # Errors
    /// A model not yet fitted, or a libtorch error.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// Sets the temperature of later samples: flows scale the prior's standard deviation by `t`
    /// (Kingma & Dhariwal 2018, sec. 5), autoregressive models divide their logits (or logistic
    /// scales) by it. 1 is the model itself.
    ///
    /// # Errors
    /// [`crate::CoreError::Config`] (`temperature`) for a model without a sampling temperature,
    /// or a value it does not take (not finite, or not positive).
    fn set_temperature(&mut self, _t: f64) -> Result<()> {
        Err(no_temperature(self.name()))
    }
    /// The Adam betas the model's papers train it with, where they differ from Adam's (0.9,
    /// 0.999): GANs use (0.5, 0.999) (Radford et al. 2016, sec. 4). `compare` trains with them;
    /// `None`: Adam's own.
    fn adam_betas(&self) -> Option<[f64; 2]> {
        None
    }
    /// Per-example likelihoods, when the model has a likelihood (GANs and the plain autoencoder
    /// have none).
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        None
    }
    /// Reconstructions, for models with an encoder (or an invertible map).
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        None
    }
    /// Class-conditional sampling, for models conditioned on labels.
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        None
    }
    /// Partial sampling (completion of masked inputs).
    fn partial_sampler(&self) -> Option<&dyn PartialSample> {
        None
    }
    /// The exact log-density of continuous vectors, for models that have one (flows and
    /// baselines on vector data).
    fn density(&self) -> Option<&dyn Density> {
        None
    }
    /// The prior over discrete code grids the model samples from (VQ models).
    fn code_prior(&self) -> Option<&dyn CodePrior> {
        None
    }
    /// Closed-form or EM fitting, for models not trained by gradient steps (the baselines).
    fn fitter(&mut self) -> Option<&mut dyn Fit> {
        None
    }
    /// Latent traversals (InfoGAN's codes).
    fn traverser(&self) -> Option<&dyn Traverse> {
        None
    }
    /// Which capabilities the model has, by name (for listings and run metadata).
    fn capabilities(&mut self) -> BTreeMap<&'static str, bool> {
        BTreeMap::from([
            ("per_example_nll", self.per_example_nll().is_some()),
            ("reconstruct", self.reconstructor().is_some()),
            ("class_conditional", self.class_sampler().is_some()),
            ("partial_sample", self.partial_sampler().is_some()),
            ("density", self.density().is_some()),
            ("code_prior", self.code_prior().is_some()),
            ("fit", self.fitter().is_some()),
            ("traverse", self.traverser().is_some()),
        ])
    }
}

/// The parameter group of a model with one optimizer (every family but the GANs, whose players
/// are `disc` and `gen`): `[train.groups.model]` in a run config.
pub const MODEL_GROUP: &str = "model";

/// One group [`MODEL_GROUP`] of all trainable variables of `vs`.
pub(crate) fn default_groups(vs: &nn::VarStore) -> Vec<ParamGroup> {
    let vars = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    vec![ParamGroup {
        name: MODEL_GROUP.into(),
        vars,
    }]
}
