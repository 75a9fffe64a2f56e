//! genzoo-benches: the code behind `cargo xtask bench NAME`, kept out of the library crates.
//!
//! * [`engine`]: the engine's overhead against a bare tch loop training the same MLP.
//! * [`vae`]: the MLP VAE's training throughput and the importance-sampled NLL benchmark.
//! * [`flow`]: training and sampling throughput of each flow's benchmark architecture.
//! * [`harness`]: the side-by-side runner: a genzoo side against its PyTorch twin (the `.py`
//!   files beside this crate), alternated over rounds, reported as `ratio R`.
pub mod engine;
pub mod flow;
pub mod harness;
pub mod vae;
