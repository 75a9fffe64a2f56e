//! Throughput benchmarks of the GAN family (run by `cargo xtask bench dcgan|gan-toy`, never by
//! tests). Each trains a preset of `genzoo-gan` through the engine's `Trainer`, the same players
//! and the same game as its PyTorch twin in `benches/` (`dcgan.py`, `gan_toy.py`, sharing
//! `ganbench_common.py`), and returns training examples per second over the timed steps, after
//! [`WARMUP_STEPS`] untimed ones:
//!
//! * [`dcgan_images_per_sec`]: DCGAN's `mnist` preset (28x28 grey, non-saturating loss, batch
//!   norm in both players), batch [`DCGAN_BATCH`], Adam [`DCGAN_LR`] for both players, on
//!   `mnist10k` scaled to `[-1, 1]`.
//! * [`gan_toy_examples_per_sec`]: the MLP GAN's `toy` preset (2-D vectors, 8 noise dimensions,
//!   three hidden layers of 64 in both players), batch [`TOY_BATCH`], Adam [`TOY_LR`], on the
//!   eight-Gaussians toy.
//!
//! One training step is the family's: a discriminator step on the real batch and a detached
//! generated batch, then a generator step on fresh noise; Adam's betas are (0.5, 0.999) for both
//! players ([`BETAS`]). Data: `mnist10k` when installed, else seeded random binary images
//! ([`crate::vae::bench_split`]; throughput does not depend on pixel values).
use std::time::Instant;

use genzoo_core::data::Split;
use genzoo_core::model::{GenerativeModel, Owned};
use genzoo_core::{seed, CoreError, Result};
use genzoo_data::toy::Toy;
use genzoo_gan::dcgan::{self, Dcgan};
use genzoo_gan::mlp_gan::{self, MlpGan};
use genzoo_gan::Gan;
use genzoo_train::{OptimConfig, TrainConfig, Trainer};
use tch::Device;

/// Untimed steps before timing (allocator and thread-pool warm-up).
pub const WARMUP_STEPS: u64 = 5;
/// DCGAN's batch (Radford et al. 2016, sec. 4: 128; 64 here, as `benches/dcgan.py`).
pub const DCGAN_BATCH: i64 = 64;
/// DCGAN's learning rate for both players (Radford et al. 2016, sec. 4).
pub const DCGAN_LR: f64 = 2e-4;
/// The toy GAN's batch.
pub const TOY_BATCH: i64 = 256;
/// The toy GAN's learning rate for both players.
pub const TOY_LR: f64 = 1e-3;
/// Adam's betas for both players (beta1 = 0.5, Radford et al. 2016, sec. 4).
pub const BETAS: [f64; 2] = [0.5, 0.999];

/// The DCGAN of `benches/dcgan.py`: the `mnist` preset (64 noise dimensions, 64 generator maps
/// at 7x7 and 32 at 14x14, a 32-64 discriminator, non-saturating loss, batch norm).
///
/// # Errors
/// [`CoreError::Invalid`] if the preset is missing.
pub fn dcgan_bench_config() -> Result<dcgan::Config> {
    dcgan::Config::preset("mnist")
        .ok_or_else(|| CoreError::Invalid("dcgan has no `mnist` preset".into()))
}

/// The MLP GAN of `benches/gan_toy.py`: the `toy` preset (2-D vectors, 8 noise dimensions,
/// 64-64-64 ReLU generator, 64-64-64 LeakyReLU 0.2 discriminator, non-saturating loss).
///
/// # Errors
/// [`CoreError::Invalid`] if the preset is missing.
pub fn gan_toy_bench_config() -> Result<mlp_gan::Config> {
    mlp_gan::Config::preset("toy")
        .ok_or_else(|| CoreError::Invalid("gan-mlp has no `toy` preset".into()))
}

/// A short run of `steps` steps of `batch`, Adam at `lr` with [`BETAS`] for every player, no
/// evaluation, samples or progress bar.
fn quick(steps: u64, batch: i64, lr: f64, threads: usize) -> TrainConfig {
    TrainConfig {
        threads,
        progress: false,
        log_every: steps.max(1),
        sample_count: 0,
        optimizer: OptimConfig {
            lr,
            betas: BETAS,
            ..OptimConfig::default()
        },
        ..TrainConfig::quick(steps, batch, lr)
    }
}

/// Examples per second of `steps` timed training steps of `model` on `split` (after
/// [`WARMUP_STEPS`] untimed ones), by the wall clock over the whole `fit` call.
fn train_throughput(
    model: &mut dyn GenerativeModel,
    split: &Split,
    steps: usize,
    batch: i64,
    lr: f64,
    threads: usize,
    device: Device,
) -> Result<f64> {
    if steps == 0 {
        return Err(CoreError::Invalid(
            "benchmark needs at least one step".into(),
        ));
    }
    let split = Split {
        train: split.train.to_device(device),
        test: split.test.take(1).to_device(device),
    };
    Trainer::new(quick(WARMUP_STEPS, batch, lr, threads), None)?.fit(model, &split)?;
    let t0 = Instant::now();
    let summary =
        Trainer::new(quick(steps as u64, batch, lr, threads), None)?.fit(model, &split)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(summary.steps_run as f64 * batch as f64 / secs.max(1e-9))
}

/// DCGAN (`mnist` preset) training images per second with `threads` torch threads on `device`
/// (the twin of `benches/dcgan.py`).
pub fn dcgan_images_per_sec(steps: usize, threads: usize, device: Device) -> Result<f64> {
    seed::set_threads(threads);
    let split = crate::vae::bench_split()?;
    let mut cfg = dcgan_bench_config()?;
    cfg.data = split.train.kind;
    seed::seed_torch(0);
    let mut m = Owned::build(device, |p| Gan::new(p, Dcgan::new(p, &cfg)?))?;
    train_throughput(
        &mut m,
        &split,
        steps,
        DCGAN_BATCH,
        DCGAN_LR,
        threads,
        device,
    )
}

/// MLP GAN (`toy` preset) training examples per second on the eight-Gaussians toy with
/// `threads` torch threads on `device` (the twin of `benches/gan_toy.py`).
pub fn gan_toy_examples_per_sec(steps: usize, threads: usize, device: Device) -> Result<f64> {
    seed::set_threads(threads);
    let split = Toy::EightGaussians.split(8192, 512, 0);
    let mut cfg = gan_toy_bench_config()?;
    cfg.data = split.train.kind;
    seed::seed_torch(0);
    let mut m = Owned::build(device, |p| Gan::new(p, MlpGan::new(p, &cfg)?))?;
    train_throughput(&mut m, &split, steps, TOY_BATCH, TOY_LR, threads, device)
}
