//! genzoo: deep generative models on libtorch, every family behind one crate.
//!
//! * [`prelude`]: what a first program needs (`use genzoo::prelude::*;`).
//! * [`catalogue()`]: every model of the enabled families and the classical baselines;
//!   [`build()`] makes one by name with seeded initial weights; [`load_dataset()`] loads data by
//!   name or folder.
//! * [`open_run()`]: a run directory (or one of its checkpoints) reopened as its model, typed
//!   metadata and the data it trained on.
//! * [`sampling`]: drawing samples, classes, traversals and completions, and writing them by data
//!   kind (PNG grids or files, WAV, JSON); [`scoring`]: which sample-quality scorer a dataset
//!   gets; [`compare`]: the cross-family table.
//! * The crates underneath, one module each: [`core`] (the model contract, math, units),
//!   [`data`], [`train`] (trainer, checkpoints, run directories), and the families
//!   [`autoregressive`], [`vae`], [`gan`], [`flow`] and [`baselines`], each behind the cargo
//!   feature of the same name (all on by default). The heavy parts `download`, `plots` and
//!   `progress` are features too.
//!
//! The library's error is [`Error`] (`genzoo_core::Error`); each failure names the file, key or
//! tensor at fault.
//!
//! # Example
//! Train the `tiny` preset of the classic VAE for a few steps on the shipped `mnist10k`, then
//! estimate its test NLL and sample from it:
//! ```
//! use genzoo::prelude::*;
//!
//! # fn main() -> genzoo::Result<()> {
//! let split = genzoo::load_dataset("mnist10k", None)?; // 9,000 train / 1,000 test digits
//! let mut model = genzoo::build("vae-mlp", Some("tiny"), None, &split.train, Device::Cpu, 0)?;
//! let cfg = TrainConfig { sample_count: 0, progress: false, ..TrainConfig::quick(150, 64, 3e-3) };
//! Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
//!
//! let opts = EvalOptions { importance_samples: 10, ..EvalOptions::default() };
//! let nll = model.evaluate(&split.test.take(100), &opts)?.nll.expect("a VAE has a likelihood");
//! assert_eq!(nll.kind, LikelihoodKind::IsEstimate); // an importance-sampled estimate
//! assert_eq!(nll.unit, NllUnit::Nats);
//! // Well below the 543.4 nats (784 ln 2) of a coin flip per pixel.
//! assert!(nll.value > 0.0 && nll.value < 400.0, "{nll}");
//! assert_eq!(model.sample(16, 0)?.size(), [16, 1, 28, 28]);
//! # Ok(())
//! # }
//! ```
pub mod compare;
pub mod prelude;
pub mod run;
pub mod sampling;
pub mod scoring;

mod catalogue;

pub use catalogue::{build, catalogue, load_dataset};
pub use run::{open_run, open_run_with, OpenOptions, Run};

pub use genzoo_core::{Error, Result};

pub use genzoo_core as core;
pub use genzoo_data as data;
pub use genzoo_train as train;

#[cfg(feature = "autoregressive")]
pub use genzoo_autoregressive as autoregressive;
#[cfg(feature = "baselines")]
pub use genzoo_baselines as baselines;
#[cfg(feature = "flow")]
pub use genzoo_flow as flow;
#[cfg(feature = "gan")]
pub use genzoo_gan as gan;
#[cfg(feature = "vae")]
pub use genzoo_vae as vae;
