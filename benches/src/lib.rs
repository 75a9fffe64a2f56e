//! genzoo-benches: the code behind `cargo xtask bench NAME`, kept out of the library crates.
//!
//! * [`autoregressive`]: PixelCNN and MADE training throughput; naive against cached sampling of
//!   Gated PixelCNN and WaveNet.
//! * [`engine`]: the engine's overhead against a bare tch loop training the same MLP.
//! * [`vae`]: the MLP VAE's training throughput and the importance-sampled NLL benchmark.
//! * [`gan`]: DCGAN's and the toy MLP GAN's training throughput.
//! * [`flow`]: training and sampling throughput of each flow's benchmark architecture.
//! * [`quality`]: the cost of the sample-quality columns (features, FID, KID, precision/recall,
//!   memorization) on 10,000 images.
//! * [`harness`]: the side-by-side runner: a genzoo side against its PyTorch twin (the `.py`
//!   files beside this crate), alternated over rounds, reported as `ratio R`.
//!
//! Not a library API (`publish = false`; xtask is its one caller): every benchmark fails the same
//! way (missing data or `.venv`, a failing side), said once here rather than on each function.
#![allow(clippy::missing_errors_doc, clippy::missing_panics_doc)]
pub mod autoregressive;
pub mod engine;
pub mod flow;
pub mod gan;
pub mod harness;
mod options;
pub mod quality;
pub mod vae;
