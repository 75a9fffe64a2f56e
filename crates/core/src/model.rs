//! The one model interface every family implements, and the registry entry through which the
//! CLI builds models by name.
//!
//! A model owns its `nn::VarStore`. The trainer calls [`GenerativeModel::train_step`] with an
//! [`Optimize`] handle: a single-optimizer model computes its [`Losses`] and calls
//! `opt.minimize("model", losses.total()?)`; a model with several players (a GAN) returns one
//! objective per player and calls `minimize` once per player group, each back-propagating into
//! that group's parameters only.
use std::collections::BTreeMap;

use tch::{nn, Device, Tensor};

use crate::data::{Batch, DataKind, Dataset};
use crate::units::NllUnit;
use crate::Result;

/// Named loss parts of one step (scalar tensors). A single-objective model names its objective
/// `total` ([`Losses::new`]); a model with several players has no single total and names one
/// objective per player (`d_loss`, `g_loss`: [`Losses::empty`] then [`Losses::with`]).
#[derive(Debug)]
pub struct Losses {
    parts: Vec<(String, Tensor)>,
}

impl Losses {
    /// Losses whose single objective is `total` (a scalar tensor).
    pub fn new(total: Tensor) -> Self {
        Losses {
            parts: vec![("total".to_string(), total)],
        }
    }
    /// Losses with no part yet: add each player's objective and the reported parts with
    /// [`Losses::with`].
    pub fn empty() -> Self {
        Losses { parts: Vec::new() }
    }
    /// The part named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
    /// Adds a named part (a scalar tensor) for reporting.
    pub fn with(mut self, name: &str, value: Tensor) -> Self {
        self.parts.push((name.to_string(), value));
        self
    }
    /// The single objective, the part named `total`.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] when there is no such part (multi-player losses).
    pub fn total(&self) -> Result<&Tensor> {
        self.get("total").ok_or_else(|| {
            crate::CoreError::Invalid(format!(
                "these losses have no `total` part (they have: {})",
                self.parts
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
    /// The parts in insertion order.
    pub fn parts(&self) -> &[(String, Tensor)] {
        &self.parts
    }
    /// The parts as numbers (one device sync).
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let vals = Tensor::stack(
            &self
                .parts
                .iter()
                .map(|(_, t)| t.detach().to_kind(tch::Kind::Double).reshape([]))
                .collect::<Vec<_>>(),
            0,
        )
        .to_device(Device::Cpu);
        let vals: Vec<f64> = Vec::try_from(&vals).unwrap_or_default();
        self.parts
            .iter()
            .map(|(n, _)| n.clone())
            .zip(vals)
            .collect()
    }
}

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
    /// No likelihood (GANs, the deterministic AE).
    #[serde(rename = "none")]
    None,
}

impl LikelihoodKind {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            LikelihoodKind::Exact => "exact",
            LikelihoodKind::Bound => "bound",
            LikelihoodKind::IsEstimate => "is-estimate",
            LikelihoodKind::None => "none",
        }
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
    /// Seed of every random choice in evaluation (static binarization, dequantization noise, ...).
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

/// The likelihood report of a model on a dataset, saying what the number is.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// Test negative log-likelihood in `unit`, or `None` when the model has no likelihood.
    pub nll: Option<f64>,
    pub unit: NllUnit,
    pub kind: LikelihoodKind,
    /// Which data and preprocessing the number is on, e.g.
    /// `mnist10k/test (1000), static binarization seed 0` or `mnist10k/test (1000), 8-bit`.
    pub data: String,
    /// The family's own metrics (`elbo`, `kl`, `recon`, `active_units`, `kl_to_truth`, ...).
    pub metrics: BTreeMap<String, f64>,
}

/// Per-example negative log-likelihoods of a dataset and what they are: the capability behind
/// `eval --per-example` (outlier scores, debugging, checking a model's normalization from
/// outside).
#[derive(Debug)]
pub struct ExampleNll {
    /// `f64 [n]`: example i's NLL in `unit`, in the order of the dataset.
    pub nll: Tensor,
    pub unit: NllUnit,
    /// Exact, bound or estimate, as for [`EvalReport::kind`].
    pub kind: LikelihoodKind,
    /// Which data and preprocessing the numbers are on (as [`EvalReport::data`]).
    pub data: String,
}

/// Capability: the NLL of each example of any data kind the model takes. Its mean over a
/// dataset is the model's [`EvalReport::nll`] for the same options.
pub trait PerExampleNll {
    /// Per-example NLLs of the first `opts.max_examples` examples of `data` (all by default),
    /// with every random choice seeded by `opts.seed`.
    ///
    /// # Errors
    /// An empty dataset, data of another kind than the model's, a non-finite result (naming the
    /// model), or a libtorch error.
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll>;
}

/// One named group of parameters, optimized by its own optimizer.
pub struct ParamGroup {
    pub name: String,
    /// `(name, tensor)` pairs, names as in the VarStore.
    pub vars: Vec<(String, Tensor)>,
}

/// The trainer's optimization handle passed to [`GenerativeModel::train_step`].
pub trait Optimize {
    /// Back-propagates `loss` into the parameters of `group` only (no other group's gradient is
    /// computed or touched), clips those gradients and steps `group`'s optimizer once.
    ///
    /// # Errors
    /// [`crate::CoreError::Unknown`] for a group the model does not declare; a libtorch error
    /// when `loss` does not depend on any parameter.
    fn minimize(&mut self, group: &str, loss: &Tensor) -> Result<()>;
    /// The global step being taken (0-based): one call of `train_step`.
    fn step(&self) -> u64;
    /// How many optimizer steps `group` has taken over the whole run (kept across resumes): what
    /// a critic trained `n_critic` times per generator step counts with.
    ///
    /// # Errors
    /// [`crate::CoreError::Unknown`] for a group the model does not declare.
    fn group_steps(&self, group: &str) -> Result<u64>;
}

/// The interface shared by every genzoo model.
pub trait GenerativeModel {
    /// Registry name (`vae-mlp`, `realnvp`, `gmm`).
    fn name(&self) -> &str;
    /// `autoregressive`, `vae`, `gan`, `flow` or `baseline`.
    fn family(&self) -> &str;
    /// The model's configuration, written to every run directory as `config.json`.
    fn config_json(&self) -> serde_json::Value;
    /// The variables (saved in checkpoints).
    fn var_store(&self) -> &nn::VarStore;
    /// Mutable variables (loaded from checkpoints).
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Parameter groups with their own optimizers. Default: one group `model` of all trainable
    /// variables.
    fn param_groups(&self) -> Vec<ParamGroup> {
        let vars = self
            .var_store()
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vec![ParamGroup {
            name: "model".into(),
            vars,
        }]
    }
    /// Optional data-dependent initialization on the first training batch (ActNorm).
    fn init_from_batch(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    /// One training step on `batch`; returns its named loss parts.
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses>;
    /// Test-set likelihood (or sample metrics) and the family's metrics.
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport>;
    /// `n` seeded samples in data space: images as `f32 [n, c, h, w]` in \[0,1\], vectors as
    /// `f32 [n, d]`.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor>;
    /// The exact log-density in nats of continuous vectors `x` (`f32 [n, d]` -> `[n]`), for models
    /// that have one (flows on toy data): what density heatmaps and KL-to-truth scores use.
    fn log_density(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }
    /// Reconstructions of `x` (a batch as stored), for models that have them; same layout as
    /// [`GenerativeModel::sample`].
    fn reconstruct(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }
    /// The model's per-example likelihood, when it has one: discoverable without running the
    /// model (GANs and the plain autoencoder have none).
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        None
    }
}

/// What a model is built from.
pub struct BuildArgs<'a> {
    /// Named preset (`tiny`, the paper's, ...).
    pub preset: &'a str,
    /// Overrides of preset fields (the `[model]` table of a TOML run config); unknown keys are
    /// rejected with an error naming the key.
    pub overrides: Option<&'a serde_json::Value>,
    /// The data the model will see.
    pub data: DataKind,
    /// Number of classes, for conditional models.
    pub num_classes: Option<i64>,
    pub device: Device,
}

/// A registry entry: how the CLI finds, describes and builds a model.
pub struct ModelSpec {
    pub name: &'static str,
    pub family: &'static str,
    /// One line for `--help` and tables.
    pub about: &'static str,
    /// Preset names; the first is the default.
    pub presets: &'static [&'static str],
    /// Which data kinds the model accepts.
    pub accepts: fn(&DataKind) -> bool,
    pub build: fn(&BuildArgs) -> Result<Box<dyn GenerativeModel>>,
}

/// Looks a model up by name in `specs`.
///
/// # Errors
/// [`crate::CoreError::Unknown`] listing the known names.
pub fn find_spec<'a>(specs: &'a [ModelSpec], name: &str) -> Result<&'a ModelSpec> {
    specs
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| crate::CoreError::Unknown {
            what: "model",
            name: name.to_string(),
            known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })
}

/// Builds model `name` of `specs` for data of kind `data`: the one way every caller (CLI, run
/// loader, library user) turns a catalogue name into a model. `preset` defaults to the spec's
/// first (the one a user would start with); `overrides` replace preset fields.
///
/// # Errors
/// [`crate::CoreError::Unknown`] for a name not in `specs` or an unknown preset;
/// [`crate::CoreError::Config`] when the model does not take `data` or an override is invalid.
pub fn build_model(
    specs: &[ModelSpec],
    name: &str,
    preset: Option<&str>,
    overrides: Option<&serde_json::Value>,
    data: DataKind,
    num_classes: Option<i64>,
    device: Device,
) -> Result<Box<dyn GenerativeModel>> {
    let spec = find_spec(specs, name)?;
    if !(spec.accepts)(&data) {
        return Err(crate::CoreError::config(
            "data",
            format!("model `{name}` does not take {data:?} data"),
        ));
    }
    (spec.build)(&BuildArgs {
        preset: preset.unwrap_or(spec.presets[0]),
        overrides,
        data,
        num_classes,
        device,
    })
}

/// [`build_model`] for data like `data` (its kind, shape and class count), with the preset's own
/// values: what each family's `build` is.
///
/// # Errors
/// As [`build_model`].
pub fn build_for(
    specs: &[ModelSpec],
    name: &str,
    preset: Option<&str>,
    data: &Dataset,
    device: Device,
) -> Result<Box<dyn GenerativeModel>> {
    build_model(
        specs,
        name,
        preset,
        None,
        data.kind,
        data.num_classes,
        device,
    )
}

/// Builds a config from a named preset and optional overrides, rejecting unknown keys: the
/// helper every model's `build` uses. `presets(name)` returns the preset's config.
pub fn config_from<C>(
    model: &str,
    preset: &str,
    overrides: Option<&serde_json::Value>,
    presets: impl Fn(&str) -> Option<C>,
    preset_names: &[&str],
) -> Result<C>
where
    C: serde::Serialize + serde::de::DeserializeOwned,
{
    let base = presets(preset).ok_or_else(|| crate::CoreError::Unknown {
        what: "preset",
        name: format!("{model}/{preset}"),
        known: preset_names.join(", "),
    })?;
    let Some(over) = overrides else {
        return Ok(base);
    };
    let mut value = serde_json::to_value(&base)?;
    let (Some(obj), Some(over_obj)) = (value.as_object_mut(), over.as_object()) else {
        return Err(crate::CoreError::config(
            "model",
            "overrides must be a table",
        ));
    };
    for (k, v) in over_obj {
        if !obj.contains_key(k) {
            return Err(crate::CoreError::config(
                format!("model.{k}"),
                format!(
                    "unknown key for {model}; known: {}",
                    obj.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        obj.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value).map_err(|e| crate::CoreError::config("model", e.to_string()))
}
