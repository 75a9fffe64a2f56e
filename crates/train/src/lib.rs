//! genzoo-train: training, checkpoints and run outputs for any [`genzoo_core::model::GenerativeModel`].
//!
//! * [`trainer`]: the [`Trainer`] (setup, resume, the step loop, evaluation, saving).
//! * [`config`]: [`TrainConfig`] and the TOML [`RunConfig`].
//! * [`optim`], [`schedule`], [`ema`]: optimizers with checkpointable state, learning-rate
//!   schedules, weight averaging.
//! * [`guard`]: the training data's fingerprint (resume refuses other data) and the run
//!   directory's lock (one writer at a time).
//! * [`checkpoint`]: atomic safetensors checkpoints with the training state.
//! * [`metrics`]: `metrics.jsonl` / `metrics.csv`; [`image`]: PNG grids of samples.
//! * `plots` (feature `plots`): loss curves and scatter plots; [`progress`] (feature
//!   `progress`): the terminal progress bar; `text` (feature `plots`): bitmap labels.
//! * [`compare`]: the cross-model table as a library (train or fit, evaluate, time sampling;
//!   Markdown, CSV, JSON).
//! * [`quality`]: sample quality (the domain classifier, `fid-domain`, `kid-domain`, precision
//!   and recall, memorization, modes covered), the same for every family.
//! * [`runtime`]: process tuning for CPU training (glibc's allocator).
mod brief;
pub mod checkpoint;
pub mod compare;
pub mod config;
pub mod ema;
pub mod guard;
pub mod heatmap;
pub mod image;
pub mod metrics;
pub mod optim;
mod plan;
#[cfg(feature = "plots")]
pub mod plots;
pub mod progress;
pub mod quality;
pub mod run;
pub mod runtime;
pub mod schedule;
pub mod seeds;
mod steps;
#[cfg(test)]
mod tests;
#[cfg(feature = "plots")]
pub mod text;
pub mod trainer;

pub use brief::fit_briefly;
pub use config::{BestMetric, EarlyStopping, MetricMode, RunConfig, TrainConfig};
pub use ema::EmaConfig;
pub use optim::{OptimConfig, OptimKind, OptimOverride, Optimizer};
pub use run::{load_model, read_meta, RunMeta};
pub use schedule::{ScheduleConfig, ScheduleKind};
pub use trainer::{BestRecord, ResumeChanges, TrainSummary, Trainer};
