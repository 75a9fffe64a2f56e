//! Benchmarks of the autoencoder family (run by `cargo xtask bench`, never by tests):
//!
//! * [`vae_mlp_images_per_sec`]: training throughput of the classic MLP VAE (784-400-20,
//!   Bernoulli decoder with dynamic binarization, Adam 1e-3, batch 128) through the engine's
//!   `Trainer`, the same model as `benches/vae_mlp.py` (pytorch/examples' VAE in PyTorch).
//! * [`is_nll_benchmark`]: the importance-sampled NLL with k samples (5,000 in the issue) over the
//!   1,000 `mnist10k` test digits, batched over examples and samples.
//!
//! Data: the shipped `mnist10k` when found, else seeded random binary images of the same shape
//! (the throughput does not depend on pixel values).
use std::time::Instant;

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::{seed, Result};
use genzoo_data::registry;
use genzoo_train::{TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

use genzoo_vae::genzoo_core::model::Owned;
use genzoo_vae::vae::{Config, Vae, MNIST};

/// Batch size of the classic VAE (pytorch/examples).
pub const BATCH: i64 = 128;
/// Steps run before timing starts (allocator and thread-pool warm-up).
pub const WARMUP_STEPS: u64 = 20;

/// `mnist10k` (9,000 train / 1,000 test) if it is installed, else seeded random binary images.
pub fn bench_split() -> Result<Split> {
    if let Ok(s) = registry::load_mnist10k() {
        return Ok(s);
    }
    let random = |n: i64, name: &str, s: i64| -> Dataset {
        tch::manual_seed(s);
        let x = Tensor::randint(2, [n, 1, 28, 28], (Kind::Uint8, Device::Cpu)) * 255;
        Dataset {
            name: format!("random-binary/{name}"),
            kind: MNIST,
            x,
            y: None,
            num_classes: None,
        }
    };
    Ok(Split {
        train: random(9000, "train", 1),
        test: random(1000, "test", 2),
    })
}

fn quick(steps: u64, threads: usize) -> TrainConfig {
    TrainConfig {
        threads,
        progress: false,
        log_every: steps.max(1),
        sample_count: 0,
        ..TrainConfig::quick(steps, BATCH, 1e-3)
    }
}

/// Training images per second of the classic MLP VAE over `steps` timed steps (after
/// [`WARMUP_STEPS`]) with `threads` torch threads on `device`, by the wall clock.
pub fn vae_mlp_images_per_sec(steps: u64, threads: usize, device: Device) -> Result<f64> {
    Ok(vae_mlp_throughput(steps, threads, device)?.images_per_sec)
}

/// Throughput by the wall clock and, where the OS tells (Linux), per second of this process's
/// CPU time (user + system, all threads): on a machine shared with other jobs the latter is the
/// steadier figure.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    pub images_per_sec: f64,
    pub images_per_cpu_sec: Option<f64>,
}

/// This process's CPU seconds (user + system) from `/proc/self/stat`, if readable.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((u + s) / 100.0) // USER_HZ is 100 on Linux
}

/// [`vae_mlp_images_per_sec`] with the CPU-time figure.
pub fn vae_mlp_throughput(steps: u64, threads: usize, device: Device) -> Result<Throughput> {
    seed::set_threads(threads);
    let split = bench_split()?;
    let split = Split {
        train: split.train.to_device(device),
        test: split.test.take(1).to_device(device),
    };
    let cfg = Config::mlp_preset("classic").expect("classic preset exists");
    let mut model = Owned::build(device, |p| Vae::named(p, &cfg, "vae-mlp"))?;
    Trainer::new(quick(WARMUP_STEPS, threads), None)?.fit(&mut model, &split)?;
    let (t0, c0) = (Instant::now(), process_cpu_seconds());
    let summary = Trainer::new(quick(steps, threads), None)?.fit(&mut model, &split)?;
    let (secs, c1) = (t0.elapsed().as_secs_f64(), process_cpu_seconds());
    // The whole call (batching, logging and all), not only the steps.
    let images = summary.steps_run as f64 * BATCH as f64;
    let cpu = match (c0, c1) {
        (Some(a), Some(b)) if b > a => Some(images / (b - a)),
        _ => None,
    };
    Ok(Throughput {
        images_per_sec: images / secs.max(1e-9),
        images_per_cpu_sec: cpu,
    })
}

/// Result of [`is_nll_benchmark`].
#[derive(Clone, Debug)]
pub struct IsBench {
    /// Seconds of the IS evaluation alone.
    pub seconds: f64,
    /// IS-estimated NLL, nats per example on the statically binarized test digits.
    pub nll_nats: f64,
    pub examples: i64,
    pub k: i64,
    /// Which data.
    pub data: String,
}

/// The classic VAE (seeded initial weights) after `train_steps` steps on `mnist10k` (0 keeps the
/// initial weights), with the split on `device`: what the evaluation benchmarks start from.
fn trained_classic(
    train_steps: u64,
    threads: usize,
    device: Device,
) -> Result<(Owned<Vae>, Split)> {
    seed::set_threads(threads);
    let split = bench_split()?;
    let split = Split {
        train: split.train.to_device(device),
        test: split.test.to_device(device),
    };
    let cfg = Config::mlp_preset("classic").expect("classic preset exists");
    seed::seed_torch_stream(0, "init", 0);
    let mut model = Owned::build(device, |p| Vae::named(p, &cfg, "vae-mlp"))?;
    if train_steps > 0 {
        Trainer::new(quick(train_steps, threads), None)?.fit(&mut model, &split)?;
    }
    Ok((model, split))
}

/// Trains the classic VAE for `train_steps` steps (untimed; 0 keeps the initial weights), then
/// times the IS-NLL with `k` samples over the test split (1,000 digits of `mnist10k`), in
/// batches of `batch_size` examples.
pub fn is_nll_benchmark(
    k: i64,
    threads: usize,
    device: Device,
    train_steps: u64,
    batch_size: i64,
) -> Result<IsBench> {
    let (model, split) = trained_classic(train_steps, threads, device)?;
    let t0 = Instant::now();
    let lp = genzoo_vae::eval::is_log_likelihood(&model.net.lat, &split.test, k, batch_size, 0)?;
    let nll = -lp.f_mean(Kind::Double)?.f_double_value(&[])?;
    let seconds = t0.elapsed().as_secs_f64();
    let data = match split.test.kind {
        DataKind::Image { .. } => format!(
            "{} ({}), static binarization seed 0",
            split.test.name,
            split.test.len()
        ),
        _ => split.test.name.clone(),
    };
    Ok(IsBench {
        seconds,
        nll_nats: nll,
        examples: split.test.len(),
        k,
        data,
    })
}

/// Result of [`grad_variance`]: encoder-gradient statistics per estimator.
#[derive(Clone, Debug)]
pub struct GradVariance {
    /// `(estimator, squared norm of the mean gradient, total variance)`.
    pub rows: Vec<(&'static str, f64, f64)>,
    /// Training steps before measuring, batch size, gradient draws.
    pub steps: u64,
    pub batch: i64,
    pub repeats: i64,
}

/// Trains the classic VAE for `train_steps` steps on `mnist10k`, then draws `repeats`
/// single-sample encoder gradients of the ELBO on one test batch of 128 digits (static
/// binarization, seed 0) under the pathwise and the score-function estimators
/// ([`genzoo_vae::grad::encoder_gradient_stats`]; the baseline is the batch's mean
/// `log p(x|z)` at the posterior mean).
///
/// # Errors
/// Missing data, or a libtorch error.
pub fn grad_variance(
    train_steps: u64,
    repeats: i64,
    threads: usize,
    device: Device,
) -> Result<GradVariance> {
    use genzoo_vae::grad::encoder_gradient_stats;
    use genzoo_vae::obs::Mode;
    use genzoo_vae::vae::Estimator;
    let (model, split) = trained_classic(train_steps, threads, device)?;
    let batch = 128;
    let lat = &model.net.lat;
    let prep = lat
        .lik
        .prepare(&split.test.x.narrow(0, 0, batch), Mode::Eval { seed: 0 })?;
    let baseline = tch::no_grad(|| -> Result<f64> {
        let q = lat.encode(&prep.input, None)?;
        let lp = lat.log_px(&lat.decode(&q.loc, None), &prep.target)?;
        Ok(lp.f_mean(Kind::Double)?.f_double_value(&[])?)
    })?;
    let mut rows = Vec::new();
    for (name, est) in [
        ("pathwise (reparameterization)", Estimator::Pathwise),
        (
            "score function (constant baseline)",
            Estimator::ScoreFunction,
        ),
    ] {
        let s = encoder_gradient_stats(&model.net, &model.vs, &prep, est, repeats, baseline, 1)?;
        rows.push((name, s.mean_sq_norm, s.total_variance));
    }
    Ok(GradVariance {
        rows,
        steps: train_steps,
        batch,
        repeats,
    })
}
