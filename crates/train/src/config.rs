//! Training and run configurations: [`TrainConfig`] (serde, validated, every error naming its
//! key) and [`RunConfig`], the TOML file that names a model, its preset and overrides, the data
//! and the training settings:
//!
//! ```toml
//! dataset = "mnist10k"          # or data = "path/to/idx-dir"
//! [model]
//! name = "vae-mlp"
//! preset = "tiny"
//! latent_dim = 16               # any other key overrides a field of the preset
//! [train]
//! steps = 2000
//! batch_size = 128
//! [train.optimizer]
//! kind = "adam"
//! lr = 1e-3
//! [train.groups.disc]           # per-group overrides (GANs)
//! lr = 4e-4
//! ```
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ema::EmaConfig;
use crate::optim::{OptimConfig, OptimOverride};
use crate::schedule::ScheduleConfig;
use genzoo_core::model::EvalOptions;
use genzoo_core::{CoreError, Result};

/// Whether a larger or a smaller value of the tracked metric is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricMode {
    #[default]
    Min,
    Max,
}

/// Which evaluation number decides the best checkpoint and early stopping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BestMetric {
    /// `nll` (the report's likelihood) or a key of the report's `metrics`.
    pub name: String,
    pub mode: MetricMode,
}

impl Default for BestMetric {
    fn default() -> Self {
        BestMetric {
            name: "nll".into(),
            mode: MetricMode::Min,
        }
    }
}

/// Early stopping on the tracked metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStopping {
    /// Evaluations without an improvement of more than `min_delta` before stopping.
    pub patience: u64,
    pub min_delta: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 5,
            min_delta: 0.0,
        }
    }
}

/// Everything the trainer needs (`[train]` in TOML). Unknown keys are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed of the data order and of torch's generator at every step.
    pub seed: u64,
    /// Train for this many steps (exactly one of `steps` and `epochs`).
    pub steps: Option<u64>,
    /// Train for this many passes over the training set.
    pub epochs: Option<u64>,
    pub batch_size: i64,
    pub optimizer: OptimConfig,
    /// Per-parameter-group overrides, keyed by the model's group names.
    pub groups: BTreeMap<String, OptimOverride>,
    pub schedule: ScheduleConfig,
    /// Clip each group's gradient to this joint L2 norm.
    pub clip_grad_norm: Option<f64>,
    pub ema: Option<EmaConfig>,
    /// Evaluate on the test split every this many steps (0 = never during training).
    pub eval_every: u64,
    /// Evaluate once more at the end.
    pub final_eval: bool,
    /// Write a checkpoint every this many steps (0 = only at the end); needs a run directory.
    pub checkpoint_every: u64,
    /// Checkpoints kept besides the best one.
    pub keep_checkpoints: usize,
    /// The metric of the best checkpoint (default: the NLL, lower is better).
    pub best_metric: BestMetric,
    pub early_stopping: Option<EarlyStopping>,
    pub eval: EvalOptions,
    /// Torch intra-op threads (0 = torch's default).
    pub threads: usize,
    /// Show a progress bar (only ever drawn on a terminal).
    pub progress: bool,
    /// Record the training losses every this many steps.
    pub log_every: u64,
    /// Samples in the grids written at evaluation time (0 = none).
    pub sample_count: i64,
    /// Samples scored at each evaluation when the trainer has a sample-quality scorer
    /// ([`crate::Trainer::set_scorer`]), so that `fid-domain` and friends can be the best metric.
    pub quality_samples: i64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            steps: None,
            epochs: None,
            batch_size: 64,
            optimizer: OptimConfig::default(),
            groups: BTreeMap::new(),
            schedule: ScheduleConfig::default(),
            clip_grad_norm: None,
            ema: None,
            eval_every: 0,
            final_eval: true,
            checkpoint_every: 0,
            keep_checkpoints: 2,
            best_metric: BestMetric::default(),
            early_stopping: None,
            eval: EvalOptions::default(),
            threads: 0,
            progress: true,
            log_every: 10,
            sample_count: 64,
            quality_samples: 1000,
        }
    }
}

impl TrainConfig {
    /// `steps` steps of Adam at a constant `lr`, seed 0, no evaluation, losses logged every step.
    pub fn quick(steps: u64, batch_size: i64, lr: f64) -> TrainConfig {
        TrainConfig {
            steps: Some(steps),
            batch_size,
            optimizer: OptimConfig {
                lr,
                ..OptimConfig::default()
            },
            final_eval: false,
            log_every: 1,
            ..TrainConfig::default()
        }
    }

    /// Checks every value, naming the key (`train.batch_size must be > 0`).
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the first bad key under `train.`: `steps`/`epochs` both or
    /// neither set or zero, `batch_size`, the optimizer (and each group's merged settings), the
    /// schedule, `clip_grad_norm`, `ema.decay`, `keep_checkpoints`, `best_metric.name`,
    /// `early_stopping` (patience, min_delta, or without `eval_every`), `eval.batch_size`,
    /// `eval.importance_samples`, `eval.max_examples`, `log_every` or `sample_count`.
    pub fn validate(&self) -> Result<()> {
        let bad = |k: &str, m: &str| Err(CoreError::config(format!("train.{k}"), m.to_string()));
        match (self.steps, self.epochs) {
            (Some(_), Some(_)) => return bad("steps", "set either `steps` or `epochs`, not both"),
            (None, None) => return bad("steps", "set `steps` or `epochs`"),
            (Some(0), _) => return bad("steps", "must be > 0"),
            (_, Some(0)) => return bad("epochs", "must be > 0"),
            _ => {}
        }
        if self.batch_size <= 0 {
            return bad("batch_size", "must be > 0");
        }
        self.optimizer.validate("train.optimizer")?;
        for (name, o) in &self.groups {
            self.optimizer
                .merged(o)
                .validate(&format!("train.groups.{name}"))?;
        }
        self.schedule.validate("train.schedule")?;
        if let Some(c) = self.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad("clip_grad_norm", "must be a finite number > 0");
            }
        }
        if let Some(e) = &self.ema {
            e.validate("train.ema")?;
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "must be >= 1");
        }
        if self.best_metric.name.is_empty() {
            return bad("best_metric.name", "must not be empty");
        }
        if let Some(es) = &self.early_stopping {
            if es.patience == 0 {
                return bad("early_stopping.patience", "must be > 0");
            }
            if !(es.min_delta.is_finite() && es.min_delta >= 0.0) {
                return bad("early_stopping.min_delta", "must be >= 0");
            }
            if self.eval_every == 0 {
                return bad("early_stopping", "needs eval_every > 0");
            }
        }
        self.eval.validate().map_err(|e| match e {
            CoreError::Config { key, msg } => CoreError::config(format!("train.{key}"), msg),
            other => other,
        })?;
        if self.log_every == 0 {
            return bad("log_every", "must be > 0");
        }
        if self.quality_samples < 2 {
            return bad("quality_samples", "must be >= 2");
        }
        if self.sample_count < 0 {
            return bad("sample_count", "must be >= 0");
        }
        Ok(())
    }

    /// Parses a `[train]`-level TOML document (the keys of `TrainConfig` at top level) and validates it.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the key when `text` is not valid TOML, holds an unknown key or
    /// a value of the wrong type, or fails [`TrainConfig::validate`].
    ///
    /// # Example
    /// Keys are checked by name, so a typo or a bad value stops before any training:
    /// ```
    /// use genzoo_train::TrainConfig;
    /// let cfg = TrainConfig::from_toml_str("steps = 500\nbatch_size = 32\n[optimizer]\nlr = 3e-4")?;
    /// assert_eq!((cfg.steps, cfg.batch_size, cfg.optimizer.lr), (Some(500), 32, 3e-4));
    /// let e = TrainConfig::from_toml_str("stesp = 500").unwrap_err().to_string();
    /// assert!(e.contains("stesp"), "{e}");
    /// let e = TrainConfig::from_toml_str("steps = 1\nbatch_size = 0").unwrap_err().to_string();
    /// assert!(e.contains("batch_size"), "{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<TrainConfig> {
        let cfg: TrainConfig = parse_toml(text, "train.")?;
        cfg.validate()?;
        Ok(cfg)
    }
}

/// A TOML run configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunConfig {
    /// Registry name of the model.
    pub model: String,
    /// Preset name (`None`: the model's default preset).
    pub preset: Option<String>,
    /// A named dataset (`mnist10k`, `mnist`, `eight-gaussians`, ...).
    pub dataset: Option<String>,
    /// A directory of user IDX files (instead of `dataset`).
    pub data: Option<PathBuf>,
    /// Overrides of preset fields: the `[model]` table less `name` and `preset`.
    pub overrides: Option<serde_json::Value>,
    pub train: TrainConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    dataset: Option<String>,
    data: Option<PathBuf>,
    model: RawModel,
    #[serde(default)]
    train: Option<TrainConfig>,
}

#[derive(Deserialize)]
struct RawModel {
    name: String,
    preset: Option<String>,
    #[serde(flatten)]
    overrides: BTreeMap<String, toml::Value>,
}

impl RunConfig {
    /// Parses and validates a run configuration.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the key when `text` is not valid TOML, holds an unknown key or
    /// a value of the wrong type, sets both `dataset` and `data` (`data`), lacks the `[train]`
    /// table (`train`), or fails [`TrainConfig::validate`]; a JSON error when the model overrides
    /// cannot be converted.
    pub fn from_toml_str(text: &str) -> Result<RunConfig> {
        let raw: RawRun = parse_toml(text, "")?;
        if raw.dataset.is_some() && raw.data.is_some() {
            return Err(CoreError::config(
                "data",
                "set either `dataset` or `data`, not both",
            ));
        }
        let train = raw
            .train
            .ok_or_else(|| CoreError::config("train", "missing [train] table"))?;
        train.validate()?;
        let overrides = if raw.model.overrides.is_empty() {
            None
        } else {
            Some(serde_json::to_value(&raw.model.overrides)?)
        };
        Ok(RunConfig {
            model: raw.model.name,
            preset: raw.model.preset,
            dataset: raw.dataset,
            data: raw.data,
            overrides,
            train,
        })
    }

    /// Reads, parses and validates a run configuration file; errors name the file and the key.
    ///
    /// # Errors
    /// [`CoreError::Io`] when `path` cannot be read; the errors of [`RunConfig::from_toml_str`],
    /// with configuration errors naming `path`.
    pub fn load(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
        RunConfig::from_toml_str(&text).map_err(|e| match e {
            CoreError::Config { key, msg } => {
                CoreError::config(key, format!("{msg} (in {})", path.display()))
            }
            other => other,
        })
    }
}

/// Deserializes TOML, turning errors into [`CoreError::Config`] naming the key path (with `prefix`).
fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, prefix: &str) -> Result<T> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.message().to_string();
        let key = if path == "." || path.is_empty() {
            // unknown keys are reported by serde at the level of their table
            unknown_field(&msg)
                .map(|f| format!("{prefix}{f}"))
                .unwrap_or_else(|| prefix.trim_end_matches('.').to_string())
        } else {
            format!("{prefix}{path}")
        };
        let key = match (unknown_field(&msg), key.rsplit('.').next()) {
            (Some(f), Some(last)) if last != f => format!("{key}.{f}"),
            _ => key,
        };
        let at = inner
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default();
        CoreError::config(
            if key.is_empty() {
                "<root>".to_string()
            } else {
                key
            },
            format!("{msg}{at}"),
        )
    })
}

/// The field named by serde's "unknown field `x`" message.
fn unknown_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
dataset = "mnist10k"
[model]
name = "vae-mlp"
preset = "tiny"
latent_dim = 16
[train]
steps = 100
batch_size = 32
clip_grad_norm = 5.0
[train.optimizer]
kind = "adamw"
lr = 2e-4
betas = [0.5, 0.999]
[train.groups.disc]
lr = 4e-4
[train.schedule]
kind = "cosine"
warmup_steps = 10
[train.eval]
importance_samples = 10
"#;

    #[test]
    fn parses_a_run_config() {
        let rc = RunConfig::from_toml_str(GOOD).unwrap();
        assert_eq!(rc.model, "vae-mlp");
        assert_eq!(rc.preset.as_deref(), Some("tiny"));
        assert_eq!(rc.overrides, Some(serde_json::json!({"latent_dim": 16})));
        assert_eq!(rc.train.steps, Some(100));
        assert_eq!(
            rc.train.optimizer.kind,
            super::super::optim::OptimKind::AdamW
        );
        assert_eq!(rc.train.optimizer.betas, [0.5, 0.999]);
        assert_eq!(rc.train.groups["disc"].lr, Some(4e-4));
        assert_eq!(rc.train.eval.importance_samples, 10);
        assert_eq!(rc.train.eval.batch_size, EvalOptions::default().batch_size);
    }

    fn key_of(text: &str) -> (String, String) {
        match RunConfig::from_toml_str(text).unwrap_err() {
            CoreError::Config { key, msg } => (key, msg),
            e => panic!("not a config error: {e}"),
        }
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let (k, m) = key_of(&GOOD.replace("batch_size = 32", "batch_sise = 32"));
        assert_eq!(k, "train.batch_sise", "{m}");
        let (k, _) = key_of(&GOOD.replace("warmup_steps = 10", "warmup = 10"));
        assert_eq!(k, "train.schedule.warmup");
        let (k, _) = key_of(&GOOD.replace("lr = 4e-4", "learning_rate = 4e-4"));
        assert_eq!(k, "train.groups.disc.learning_rate");
        let (k, _) = key_of(&format!("colour = 1\n{GOOD}"));
        assert_eq!(k, "colour");
        let e = TrainConfig::from_toml_str("steps = 3\nbatchsize = 2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.batchsize"), "{e}");
    }

    #[test]
    fn bad_values_are_rejected_by_name() {
        let (k, m) = key_of(&GOOD.replace("batch_size = 32", "batch_size = 0"));
        assert_eq!(
            (k.as_str(), m.as_str()),
            ("train.batch_size", "must be > 0")
        );
        let e = RunConfig::from_toml_str(&GOOD.replace("batch_size = 32", "batch_size = 0"))
            .unwrap_err();
        assert_eq!(e.to_string(), "config key `train.batch_size`: must be > 0");
        let (k, _) = key_of(&GOOD.replace("batch_size = 32", "batch_size = \"big\""));
        assert_eq!(k, "train.batch_size");
        let (k, _) = key_of(&GOOD.replace("kind = \"adamw\"", "kind = \"adamx\""));
        assert_eq!(k, "train.optimizer.kind");
        let (k, _) = key_of(&GOOD.replace("lr = 4e-4", "lr = -1.0"));
        assert_eq!(k, "train.groups.disc.lr");
        let (k, _) = key_of(&GOOD.replace("steps = 100", "steps = 100\nepochs = 2"));
        assert_eq!(k, "train.steps");
        let (k, _) = key_of(&GOOD.replace("betas = [0.5, 0.999]", "betas = [0.5, 1.5]"));
        assert_eq!(k, "train.optimizer.betas");
        let (k, _) = key_of(&GOOD.replace("importance_samples = 10", "importance_samples = 0"));
        assert_eq!(k, "train.eval.importance_samples");
    }
}
