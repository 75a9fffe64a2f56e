//! genzoo-core: the math and the model contract every genzoo family stands on. No network, no
//! pictures, no terminal: those live in `genzoo-data` and `genzoo-train`.
//!
//! * [`model`]: the [`model::GenerativeModel`] contract, its capability traits, the typed
//!   [`model::EvalReport`], presets ([`model::config_from`]) and the catalogue entry
//!   [`model::ModelSpec`].
//! * [`data`]: data types ([`data::DataKind`], [`data::Dataset`], [`data::Batch`]), transforms and
//!   the seeded batch iterator.
//! * [`dist`]: distributions over tensors (`sample`, `rsample`, `log_prob`, `entropy`).
//! * [`divergence`]: KL, JS, the f-divergences of f-GAN, MMD, Wasserstein.
//! * [`estimators`]: importance-sampled log-likelihood, score-function and pathwise gradients.
//! * [`units`]: nats, bits/dim, dequantization and rescaling terms, in one place.
//! * [`metrics`]: sample quality (FID, KID, precision and recall, memorization, mode and class
//!   coverage).
//! * [`layers`]: layers shared by several families (MADE's masked linear layer, ...).
//! * [`seed`], [`device`]: reproducibility and device choice; [`io`]: atomic file writes.
pub mod data;
pub mod device;
pub mod dist;
pub mod divergence;
pub mod error;
pub mod estimators;
pub mod io;
pub mod kernels;
pub mod layers;
pub mod metrics;
pub mod model;
pub mod obs;
pub mod seed;
pub mod units;

pub use error::{CoreError, CoreError as Error, Result};
/// The tch version every genzoo crate is built against.
pub use tch;
