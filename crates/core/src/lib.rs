//! genzoo-core: what every genzoo model family stands on.
//!
//! * [`seed`], [`device`], [`runtime`]: reproducibility, device choice, process tuning.
//! * [`dist`]: distributions over tensors (`sample`, `rsample`, `log_prob`, `entropy`).
//! * [`divergence`]: KL, JS, the f-divergences of f-GAN, MMD, Wasserstein.
//! * [`estimators`]: importance-sampled log-likelihood, score-function and pathwise gradients.
//! * [`units`]: nats, bits/dim, dequantization and rescaling terms, in one place.
//! * [`baselines`]: Gaussian, GMM (EM), k-means, PCA and probabilistic PCA.
//! * [`data`]: datasets, transforms, batches, toy densities.
//! * [`engine`]: the model interface, trainer, optimizers, checkpoints and run outputs.
//! * [`layers`]: layers shared by several families (MADE's masked linear layer, ...).
//! * [`text`]: 8x8 bitmap text (no system font) for the labels of plots.
pub mod baselines;
pub mod data;
pub mod device;
pub mod dist;
pub mod divergence;
pub mod engine;
pub mod error;
pub mod estimators;
pub mod image;
pub mod layers;
pub mod runtime;
pub mod seed;
pub mod text;
pub mod units;

pub use error::{CoreError, Result};
