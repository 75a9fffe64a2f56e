//! The training engine: the model interface, the trainer, optimizers, schedules, checkpoints,
//! run configs and run outputs.
pub mod model;

pub use model::*;
