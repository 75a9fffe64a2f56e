//! One way to hold a model: each family's model struct implements [`Network`] (built with
//! `new(p: &nn::Path, cfg: &Config)`, weights named by path), and [`Owned`] pairs it with the
//! `nn::VarStore` of its weights. `Owned<N>` is the one implementation of
//! [`GenerativeModel`] in genzoo.
use super::Family;
use tch::{nn, Device, Tensor};

use super::capability::{
    CodePrior, ConditionalSample, Density, Fit, PartialSample, PerExampleNll, Reconstruct, Traverse,
};
use super::losses::{Losses, Optimize, ParamGroup};
use super::report::{EvalOptions, EvalReport};
use super::GenerativeModel;
use crate::data::{Batch, Dataset};
use crate::Result;

/// A model without its variable store: what every family's model structs implement. The methods
/// are [`GenerativeModel`]'s (see there); the capabilities default to absent.
pub trait Network {
    /// Catalogue name (`vae-mlp`, `realnvp`, `gmm-full`).
    fn name(&self) -> &str;
    /// The model's [`Family`].
    fn family(&self) -> Family;
    /// The configuration, written to every run directory as `config.json`.
    fn config_json(&self) -> serde_json::Value;
    /// Parameter groups; `None` for the default single group `model` of all trainable variables.
    fn param_groups(&self, _vs: &nn::VarStore) -> Option<Vec<ParamGroup>> {
        None
    }
    /// Data-dependent initialization on the first training batch (ActNorm).
    ///
    /// # Errors
    /// A batch of another shape than the model's, or a libtorch error.
    fn init_from_batch(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    /// One training step (see [`GenerativeModel::train_step`]).
    ///
    /// # Errors
    /// As [`GenerativeModel::train_step`].
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses>;
    /// Test-set evaluation (see [`GenerativeModel::evaluate`]).
    ///
    /// # Errors
    /// As [`GenerativeModel::evaluate`].
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport>;
    /// `n` seeded samples in data space (see [`GenerativeModel::sample`]).
    ///
    /// # Errors
    /// As [`GenerativeModel::sample`].
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// See [`GenerativeModel::per_example_nll`].
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        None
    }
    /// See [`GenerativeModel::reconstructor`].
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        None
    }
    /// See [`GenerativeModel::class_sampler`].
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        None
    }
    /// See [`GenerativeModel::partial_sampler`].
    fn partial_sampler(&self) -> Option<&dyn PartialSample> {
        None
    }
    /// See [`GenerativeModel::density`].
    fn density(&self) -> Option<&dyn Density> {
        None
    }
    /// See [`GenerativeModel::traverser`].
    fn traverser(&self) -> Option<&dyn Traverse> {
        None
    }
    /// See [`GenerativeModel::code_prior`].
    fn code_prior(&self) -> Option<&dyn CodePrior> {
        None
    }
    /// See [`GenerativeModel::fitter`].
    fn fitter(&mut self) -> Option<&mut dyn Fit> {
        None
    }
    /// See [`GenerativeModel::set_temperature`].
    ///
    /// # Errors
    /// As [`GenerativeModel::set_temperature`].
    fn set_temperature(&mut self, _t: f64) -> Result<()> {
        Err(super::no_temperature(self.name()))
    }
    /// See [`GenerativeModel::adam_betas`].
    fn adam_betas(&self) -> Option<[f64; 2]> {
        None
    }
}

/// A network with the variable store of its weights: the generic model holder.
pub struct Owned<N> {
    pub vs: nn::VarStore,
    pub net: N,
}

impl<N> Owned<N> {
    /// Creates a variable store on `device` and builds the network in its root, e.g.
    /// `Owned::build(device, |p| Vae::new(p, &cfg))`.
    ///
    /// # Errors
    /// Whatever `f` returns (an invalid configuration).
    pub fn build(device: Device, f: impl FnOnce(&nn::Path) -> Result<N>) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = f(&vs.root())?;
        Ok(Owned { vs, net })
    }
}

impl<N: Network> GenerativeModel for Owned<N> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn family(&self) -> Family {
        self.net.family()
    }
    fn config_json(&self) -> serde_json::Value {
        self.net.config_json()
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn param_groups(&self) -> Vec<ParamGroup> {
        self.net
            .param_groups(&self.vs)
            .unwrap_or_else(|| super::default_groups(&self.vs))
    }
    fn init_from_batch(&mut self, batch: &Batch) -> Result<()> {
        self.net.init_from_batch(batch)
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        self.net.train_step(batch, opt)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.net.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.net.sample(n, seed)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        self.net.per_example_nll()
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        self.net.reconstructor()
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        self.net.class_sampler()
    }
    fn partial_sampler(&self) -> Option<&dyn PartialSample> {
        self.net.partial_sampler()
    }
    fn density(&self) -> Option<&dyn Density> {
        self.net.density()
    }
    fn code_prior(&self) -> Option<&dyn CodePrior> {
        self.net.code_prior()
    }
    fn fitter(&mut self) -> Option<&mut dyn Fit> {
        self.net.fitter()
    }
    fn traverser(&self) -> Option<&dyn Traverse> {
        self.net.traverser()
    }
    fn set_temperature(&mut self, t: f64) -> Result<()> {
        self.net.set_temperature(t)
    }
    fn adam_betas(&self) -> Option<[f64; 2]> {
        self.net.adam_betas()
    }
}
