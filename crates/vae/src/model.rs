//! How the family's models meet the engine: each model file defines a network struct built with
//! `new(p: &nn::Path, cfg: &Config)` and implementing [`Model`]; [`Owned`] pairs it with the
//! `nn::VarStore` that holds its weights and implements `genzoo_core::model::GenerativeModel`.
use genzoo_core::data::{Batch, Dataset};
use genzoo_core::model::{
    EvalOptions, EvalReport, GenerativeModel, Losses, Optimize, PerExampleNll,
};
use genzoo_core::Result;
use tch::{nn, Device, Tensor};

/// A model of the autoencoder family, without its variable store.
pub trait Model {
    /// Registry name (`vae-mlp`, `iwae`, ...).
    fn name(&self) -> &str;
    /// The model's configuration as JSON.
    fn config_json(&self) -> serde_json::Value;
    /// One training step (see `GenerativeModel::train_step`).
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses>;
    /// Test-set evaluation.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport>;
    /// `n` seeded samples in data space.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// Reconstructions of a stored batch.
    fn reconstruct(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }
    /// The per-example likelihood capability, for models that have one.
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        None
    }
}

/// A model with the variable store of its weights.
pub struct Owned<M> {
    pub vs: nn::VarStore,
    pub net: M,
}

impl<M> Owned<M> {
    /// Creates a variable store on `device` and builds the network in its root.
    pub fn build(device: Device, f: impl FnOnce(&nn::Path) -> Result<M>) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = f(&vs.root())?;
        Ok(Owned { vs, net })
    }
}

impl<M: Model> GenerativeModel for Owned<M> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn family(&self) -> &str {
        "vae"
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
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        self.net.train_step(batch, opt)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.net.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.net.sample(n, seed)
    }
    fn reconstruct(&self, x: &Tensor) -> Option<Result<Tensor>> {
        self.net.reconstruct(x)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        self.net.per_example_nll()
    }
}
