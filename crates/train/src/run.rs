//! Run directories as a library: what `config.json` records about a run, and rebuilding the
//! trained model from a run directory (what `eval`, `sample`, `--resume` and two-stage models
//! use), without the training data.
//!
//! A run directory is written by the [`crate::Trainer`] alone, whoever calls it (the CLI or a
//! library user): `config.json` holds the model's name, family, full configuration, the kind and
//! shape of its data and its class count, next to the training configuration; `checkpoints/`
//! holds the weights (see [`crate::checkpoint`]).
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Device;

use genzoo_core::data::DataKind;
use genzoo_core::model::{build_model, GenerativeModel, ModelSpec};
use genzoo_core::{CoreError, Result};

use crate::checkpoint;

/// The file name of a run's metadata.
pub const CONFIG_JSON: &str = "config.json";

/// What `config.json` says about the model of a run: enough to rebuild it. Other keys of the file
/// (the training configuration, the CLI's own records) are kept in `extra`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunMeta {
    /// Catalogue name (`vae-mlp`, `realnvp`, ...).
    pub model: String,
    /// The model's family (`vae`, `flow`, `autoregressive`, `gan` or `baseline` in the file).
    pub family: genzoo_core::model::Family,
    /// The model's full configuration (preset plus overrides).
    pub model_config: serde_json::Value,
    /// The preset the configuration started from, when known.
    #[serde(default)]
    pub preset: Option<String>,
    /// What the model was trained on: its kind and shape.
    pub data_kind: DataKind,
    /// The class count of the training data, for conditional models.
    #[serde(default)]
    pub num_classes: Option<i64>,
    /// The dataset the run trained on as the caller named it ([`crate::Trainer::set_dataset`]):
    /// a catalogue name (`mnist10k`) or an absolute folder.
    #[serde(default)]
    pub dataset: Option<String>,
    /// The name of the training split the trainer recorded (`mnist10k/train`).
    #[serde(default)]
    pub train_data: Option<String>,
    /// The training configuration (absent in runs written before it was recorded).
    #[serde(default)]
    pub train: Option<crate::TrainConfig>,
    /// The run whose weights this run started from ([`crate::Trainer::set_init_from`]).
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Everything else in `config.json`.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RunMeta {
    /// The dataset to reload the run's data from: the one its caller recorded, else the name of
    /// the training split (`mnist10k/train` -> `mnist10k`) for runs written through the library
    /// without one.
    pub fn dataset_name(&self) -> Option<String> {
        self.dataset.clone().or_else(|| {
            self.train_data
                .as_deref()
                .and_then(|t| t.strip_suffix("/train"))
                .map(str::to_string)
        })
    }

    /// The metric the run keeps its `best` checkpoint by, if it names one.
    pub fn best_metric(&self) -> Option<&str> {
        self.train.as_ref().map(|t| t.best_metric.name.as_str())
    }
}

/// The run directory that `path` names: `path` itself, or the folder holding the `checkpoints/`
/// that `path` lies in (a checkpoint directory, or the `latest`/`best` pointer), or the run of the
/// shorthands `RUN/latest`, `RUN/best`.
pub fn run_root(path: &Path) -> PathBuf {
    if path.join(CONFIG_JSON).is_file() {
        return path.to_path_buf();
    }
    // The shorthands `RUN/latest` and `RUN/best`.
    if let (Some(_), Some(parent)) = (checkpoint::pointer_name(path), path.parent()) {
        if parent.join(CONFIG_JSON).is_file() {
            return parent.to_path_buf();
        }
    }
    path.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "checkpoints"))
        .and_then(Path::parent)
        .map_or_else(|| path.to_path_buf(), Path::to_path_buf)
}

/// The `config.json` of the run that `path` names (see [`run_root`]).
///
/// # Errors
/// [`CoreError::Format`] when the run directory holds no `config.json`.
pub fn config_path(path: &Path) -> Result<PathBuf> {
    let file = run_root(path).join(CONFIG_JSON);
    if file.is_file() {
        Ok(file)
    } else {
        Err(CoreError::format(
            &file,
            "missing: not a genzoo run directory (nor a checkpoint in one)",
        ))
    }
}

/// Reads the [`RunMeta`] of the run holding `path`.
///
/// # Errors
/// As [`config_path`]; [`CoreError::Io`] when it cannot be read; [`CoreError::Format`] naming the
/// file and the missing or malformed key.
pub fn read_meta(path: &Path) -> Result<RunMeta> {
    let file = config_path(path)?;
    let text = std::fs::read_to_string(&file).map_err(|e| CoreError::io(&file, e))?;
    serde_json::from_str(&text).map_err(|e| CoreError::format(&file, e.to_string()))
}

/// Rebuilds the model of the run holding `path` from `specs` (the catalogue, e.g.
/// `genzoo_vae::registry()`) and loads the weights of its latest checkpoint (or of `path` when it
/// names a checkpoint directory). `ema` loads the EMA weights when the checkpoint has them.
///
/// # Errors
/// As [`read_meta`]; [`CoreError::Unknown`] when the run's model is not in `specs`;
/// [`CoreError::Checkpoint`] when the weights do not match the rebuilt model (each tensor named).
pub fn load_model(
    path: &Path,
    specs: &[ModelSpec],
    device: Device,
    ema: bool,
) -> Result<(Box<dyn GenerativeModel>, RunMeta)> {
    let meta = read_meta(path)?;
    if meta.family == genzoo_core::model::Family::Baseline {
        return Err(CoreError::Checkpoint {
            path: path.to_path_buf(),
            msg: format!(
                "`{}` is fitted in closed form, and its runs keep no weights: fit it again \
                 (`cargo xtask train --model {}` takes seconds)",
                meta.model, meta.model
            ),
        });
    }
    let dir = checkpoint::resolve(path)?;
    let state = checkpoint::read_state(&dir)?;
    let mut model = build_model(
        specs,
        &state.model,
        meta.preset.as_deref(),
        Some(&state.model_config),
        meta.data_kind,
        meta.num_classes,
        device,
    )?;
    checkpoint::load_weights(model.as_mut(), &dir, ema)?;
    Ok((model, meta))
}
