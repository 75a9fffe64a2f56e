//! Reopening a run directory: the trained model, its typed metadata and the data it trained on,
//! the one way `train --resume`, `sample`, `eval`, `compare` and the two-stage models do it.
use std::path::{Path, PathBuf};

use genzoo_core::data::Split;
use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};
use genzoo_train::RunMeta;
use tch::Device;

/// A run directory reopened by [`open_run`].
pub struct Run {
    /// The trained model, its weights loaded from the checkpoint that was named (or the run's
    /// latest).
    pub model: Box<dyn GenerativeModel>,
    /// What the run's `config.json` records (model, preset, data kind, dataset, training
    /// configuration).
    pub meta: RunMeta,
    /// The run directory itself (never a checkpoint folder inside it): where outputs about the
    /// run belong.
    pub root: PathBuf,
    /// The checkpoint directory whose weights were loaded.
    pub checkpoint: PathBuf,
}

/// Options of [`open_run_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Load the generator's exponential moving average where the checkpoint has one.
    pub ema: bool,
}

/// [`open_run_with`] with the default options (the trained weights, not their average).
///
/// # Errors
/// As [`open_run_with`].
pub fn open_run(path: &Path, device: Device) -> Result<Run> {
    open_run_with(path, device, OpenOptions::default())
}

/// Reopens the run that `path` names: a run directory, one of its `checkpoints/step-*`
/// directories, or a pointer (`RUN/latest`, `RUN/best`, `RUN/checkpoints/latest`,
/// `RUN/checkpoints/best`). The model is rebuilt from the catalogue exactly as it was configured
/// and its weights loaded on `device`; the data is not loaded (sampling needs none; see
/// [`Run::load_data`]).
///
/// # Errors
/// [`CoreError::Format`] naming `config.json` when `path` is not in a run directory or the file
/// is malformed; [`CoreError::Unknown`] when the run's model is not in this build's catalogue (a
/// family feature turned off); [`CoreError::Checkpoint`] when the pointer names no complete
/// checkpoint or the weights do not fit (each tensor named), and for the classical baselines,
/// which keep no weights.
pub fn open_run_with(path: &Path, device: Device, opts: OpenOptions) -> Result<Run> {
    let (model, meta) = genzoo_train::run::load_model(path, &crate::catalogue(), device, opts.ema)?;
    let checkpoint = genzoo_train::checkpoint::resolve(path)?;
    Ok(Run {
        model,
        meta,
        root: genzoo_train::run::run_root(path),
        checkpoint,
    })
}

impl Run {
    /// The dataset the run trained on, as recorded ([`RunMeta::dataset_name`]).
    ///
    /// # Errors
    /// [`CoreError::Format`] naming the run's `config.json` when it records none.
    pub fn dataset(&self) -> Result<String> {
        self.meta.dataset_name().ok_or_else(|| {
            CoreError::format(
                self.root.join(genzoo_train::run::CONFIG_JSON),
                "the run records no loadable dataset: name one (`--dataset NAME`)",
            )
        })
    }

    /// Loads the data the run trained on (or `other`, a dataset of the same kind), with
    /// downloaded sets under `root` (see [`crate::load_dataset`]).
    ///
    /// # Errors
    /// As [`Run::dataset`]; [`CoreError::Dataset`] naming the dataset when it cannot be loaded
    /// (moved or deleted) or holds another kind of data than the model was trained on.
    pub fn load_data(&self, other: Option<&str>, root: Option<&Path>) -> Result<Split> {
        let name = match other {
            Some(d) => d.to_string(),
            None => self.dataset()?,
        };
        let split = crate::load_dataset(&name, root).map_err(|e| match e {
            CoreError::Dataset { name, msg } => CoreError::Dataset {
                name,
                msg: format!(
                    "{msg}; the run's data cannot be loaded (moved or deleted?): sampling needs \
                     no data; to evaluate, name test data of the same kind (`--dataset NAME` or \
                     `--dataset DIR`)"
                ),
            },
            other => other,
        })?;
        if split.train.kind != self.meta.data_kind {
            return Err(CoreError::Dataset {
                name,
                msg: format!(
                    "holds {:?} data but the run was trained on {:?}",
                    split.train.kind, self.meta.data_kind
                ),
            });
        }
        Ok(split)
    }
}
