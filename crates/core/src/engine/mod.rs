//! The training engine: the model interface, the trainer, optimizers, schedules, checkpoints,
//! run configs and run outputs.
//!
//! * [`model`]: the [`GenerativeModel`] contract every family implements.
//! * [`config`]: [`TrainConfig`] and the TOML [`RunConfig`].
//! * [`optim`], [`schedule`], [`ema`]: optimizers with checkpointable state, learning-rate
//!   schedules, weight averaging.
//! * [`checkpoint`]: atomic safetensors checkpoints with the training state.
//! * [`trainer`]: the [`Trainer`].
//! * [`metrics`]: metrics files, progress bar, loss curves.
//! * [`bench`]: the engine-overhead benchmark against a bare tch loop.
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod schedule;
#[cfg(test)]
mod tests;
pub mod trainer;

pub use config::{BestMetric, EarlyStopping, MetricMode, RunConfig, TrainConfig};
pub use ema::EmaConfig;
pub use model::*;
pub use optim::{OptimConfig, OptimKind, OptimOverride, Optimizer};
pub use schedule::{ScheduleConfig, ScheduleKind};
pub use trainer::{BestRecord, TrainSummary, Trainer};
