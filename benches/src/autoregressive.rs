//! Benchmarks of the autoregressive family (run by `cargo xtask bench`, never by tests):
//!
//! * [`pixelcnn_images_per_sec`] and [`made_images_per_sec`]: training throughput of PixelCNN
//!   (`mnist` preset, Bernoulli, batch 64) and MADE (`mnist` preset: 784-500-784, one natural
//!   ordering, Bernoulli, batch 128) on dynamically binarized digits, Adam 1e-3, through the
//!   engine's `Trainer`: the same models as `benches/pixelcnn.py` and `benches/made.py`.
//! * [`pixelcnn_sampling`]: naive against cached sampling of the `mnist` Gated PixelCNN, 16 binary
//!   28x28 digits per batch.
//! * [`wavenet_sampling`]: naive against cached (Fast WaveNet) sampling of the `piano` WaveNet,
//!   one second of 16 kHz audio (16,000 mu-law samples), batch 1.
//!
//! Naive sampling runs the whole network once per position, so its cost per position does not
//! depend on which position it is: it is timed over the first [`PIXELCNN_NAIVE_ROWS`] rows (or
//! the first [`WAVENET_NAIVE_STEPS`] steps on the full 16,000-sample signal) and extrapolated to
//! the whole image (second of audio); the cached sampler is timed on the whole of it. Both run on
//! seeded untrained weights (sampling cost does not depend on their values) from the same
//! uniforms, and each benchmark checks, untimed, that the two samplers draw identical samples.
//!
//! Data of the training benchmarks: [`crate::vae::bench_split`] (`mnist10k`, else seeded random
//! binary images of the same shape).
use std::time::Instant;

use genzoo_autoregressive::gated_pixel_cnn::{self, GatedPixelCnn};
use genzoo_autoregressive::model::{sample_naive, Autoregressive, CachedSample, SampleJob};
use genzoo_autoregressive::sampling;
use genzoo_autoregressive::wavenet::{self, WaveNet};
use genzoo_core::data::{DataKind, SequenceEncoding, Split};
use genzoo_core::model::Owned;
use genzoo_core::obs::Likelihood;
use genzoo_core::{seed, Result};
use genzoo_train::{TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

/// Batch of the PixelCNN training benchmark.
pub const PIXELCNN_BATCH: i64 = 64;
/// Batch of the MADE training benchmark.
pub const MADE_BATCH: i64 = 128;
/// Untimed PixelCNN steps before timing (a step costs far more than MADE's).
pub const PIXELCNN_WARMUP_STEPS: u64 = 5;
/// Untimed MADE steps before timing.
pub const MADE_WARMUP_STEPS: u64 = 20;

/// Digits per sampling batch of the Gated PixelCNN benchmark.
pub const PIXELCNN_SAMPLE_BATCH: i64 = 16;
/// Rows of the image the naive Gated PixelCNN sampler is timed over (2 rows: 56 positions).
pub const PIXELCNN_NAIVE_ROWS: i64 = 2;
/// One second of 16 kHz audio.
pub const WAVENET_SAMPLES: i64 = 16_000;
/// Steps the naive WaveNet sampler is timed over, each a pass over the full 16,000 samples.
pub const WAVENET_NAIVE_STEPS: i64 = 8;

fn quick(steps: u64, batch: i64, threads: usize) -> TrainConfig {
    TrainConfig {
        threads,
        progress: false,
        log_every: steps.max(1),
        sample_count: 0,
        ..TrainConfig::quick(steps, batch, 1e-3)
    }
}

/// Training images per second of catalogue model `name` (`mnist` preset, seeded initial weights)
/// over `steps` timed steps after `warmup` untimed ones, by the wall clock of the whole `fit`.
fn train_images_per_sec(
    name: &str,
    batch: i64,
    warmup: u64,
    steps: u64,
    threads: usize,
    device: Device,
) -> Result<f64> {
    seed::set_threads(threads);
    let split = crate::vae::bench_split()?;
    let split = Split {
        train: split.train.to_device(device),
        test: split.test.take(1).to_device(device),
    };
    seed::seed_torch_stream(0, "init", 0);
    let mut model = genzoo_autoregressive::build(name, Some("mnist"), &split.train, device)?;
    Trainer::new(quick(warmup, batch, threads), None)?.fit(model.as_mut(), &split)?;
    let t0 = Instant::now();
    let summary = Trainer::new(quick(steps, batch, threads), None)?.fit(model.as_mut(), &split)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(summary.steps_run as f64 * batch as f64 / secs.max(1e-9))
}

/// Training images per second of PixelCNN (`mnist` preset: h = 24, 5 residual blocks, 7x7 type A
/// then 3x3 type B, 64-wide head; Bernoulli, batch 64, Adam 1e-3) over `steps` timed steps.
pub fn pixelcnn_images_per_sec(steps: u64, threads: usize, device: Device) -> Result<f64> {
    train_images_per_sec(
        "pixelcnn",
        PIXELCNN_BATCH,
        PIXELCNN_WARMUP_STEPS,
        steps,
        threads,
        device,
    )
}

/// Training images per second of MADE (`mnist` preset: 784-500-784, natural ordering, one mask;
/// Bernoulli, batch 128, Adam 1e-3) over `steps` timed steps.
pub fn made_images_per_sec(steps: u64, threads: usize, device: Device) -> Result<f64> {
    train_images_per_sec(
        "made",
        MADE_BATCH,
        MADE_WARMUP_STEPS,
        steps,
        threads,
        device,
    )
}

/// Result of [`pixelcnn_sampling`] and [`wavenet_sampling`].
#[derive(Clone, Debug)]
pub struct SamplingBench {
    /// Examples per batch.
    pub batch: i64,
    /// Positions of one example (784 pixels, 16,000 audio samples).
    pub positions: i64,
    /// Positions the naive sampler was timed over (per round).
    pub naive_positions: i64,
    /// Per round: naive samples (whole examples) per second, extrapolated from
    /// `naive_positions` to `positions`.
    pub naive: Vec<f64>,
    /// Per round: cached samples per second, timed on whole examples.
    pub cached: Vec<f64>,
    /// Both samplers drew the same values: on the small case, and on the timed prefix.
    pub identical: bool,
    /// What the identity check compared.
    pub check: String,
}

/// Waits for the device to finish `t` (reads one number from it), so the clock covers all work.
fn sync(t: &Tensor) -> Result<()> {
    t.f_sum(Kind::Float)?.f_double_value(&[])?;
    Ok(())
}

fn same(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size() && a.equal(b)
}

/// A model that generates only the first `positions` positions of its order (the rest of the
/// canvas stays zero): the library's naive sampler, timed over a prefix.
struct Prefix<'a> {
    net: &'a dyn Autoregressive,
    positions: usize,
}

impl Autoregressive for Prefix<'_> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn config_json(&self) -> serde_json::Value {
        self.net.config_json()
    }
    fn data(&self) -> DataKind {
        self.net.data()
    }
    fn device(&self) -> Device {
        self.net.device()
    }
    fn likelihood(&self) -> Likelihood {
        self.net.likelihood()
    }
    fn num_classes(&self) -> i64 {
        self.net.num_classes()
    }
    fn params(&self, input: &Tensor, labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.net.params(input, labels, train)
    }
    fn order(&self) -> Vec<i64> {
        let mut o = self.net.order();
        o.truncate(self.positions);
        o
    }
}

fn job(u: &Tensor) -> SampleJob<'_> {
    SampleJob {
        n: u.size()[0],
        labels: None,
        u,
        temperature: 1.0,
        known: None,
        cond_map: None,
    }
}

/// Naive (over the first [`PIXELCNN_NAIVE_ROWS`] rows, extrapolated) against cached (whole
/// digits) sampling of the `mnist` Gated PixelCNN on 28x28 binary digits, batch 16, `rounds`
/// rounds after an untimed identity check (2 whole digits by both samplers) and warm-up.
pub fn pixelcnn_sampling(rounds: usize, device: Device) -> Result<SamplingBench> {
    let cfg = gated_pixel_cnn::Config::preset("mnist").expect("mnist preset exists");
    seed::seed_torch_stream(0, "init", 0);
    let model = Owned::build(device, |p| GatedPixelCnn::new(p, &cfg))?;
    let net = &model.net;
    let positions = net.data().dims(); // 784
    let w = match net.data() {
        DataKind::Image { width, .. } => width,
        _ => 28,
    };
    let naive_positions = PIXELCNN_NAIVE_ROWS * w;
    let n = PIXELCNN_SAMPLE_BATCH;

    // The small case: two whole digits by both samplers (also their first warm-up).
    let u_small = sampling::uniforms(2, positions, 1, device)?;
    let naive_small = sample_naive(net, &job(&u_small))?;
    let cached_small = tch::no_grad(|| net.sample_cached(&job(&u_small)))?;
    let small_ok = same(&naive_small, &cached_small);
    let mut prefix_ok = true;

    let u = sampling::uniforms(n, positions, 0, device)?;
    let prefix = Prefix {
        net,
        positions: naive_positions as usize,
    };
    // Warm-up at the timed batch: one row naive, one batch cached.
    let one_row = Prefix {
        net,
        positions: w as usize,
    };
    sync(&sample_naive(&one_row, &job(&u))?)?;
    sync(&tch::no_grad(|| net.sample_cached(&job(&u)))?)?;

    let (mut naive, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t0 = Instant::now();
        let a = sample_naive(&prefix, &job(&u))?;
        sync(&a)?;
        let per_position = t0.elapsed().as_secs_f64() / naive_positions as f64;
        naive.push(n as f64 / (per_position * positions as f64));

        let t0 = Instant::now();
        let b = tch::no_grad(|| net.sample_cached(&job(&u)))?;
        sync(&b)?;
        cached.push(n as f64 / t0.elapsed().as_secs_f64().max(1e-9));
        // The timed naive rows equal the cached digits' first rows.
        let rows = PIXELCNN_NAIVE_ROWS;
        prefix_ok &= same(&a.narrow(2, 0, rows), &b.narrow(2, 0, rows));
    }
    Ok(SamplingBench {
        batch: n,
        positions,
        naive_positions,
        naive,
        cached,
        identical: small_ok && prefix_ok,
        check: format!(
            "2 whole digits by both samplers: {small_ok}; the first {PIXELCNN_NAIVE_ROWS} rows of \
             every timed batch of {n}: {prefix_ok}"
        ),
    })
}

/// The first `steps` steps of [`WaveNet::sample_naive`] on the whole signal of `u [n, T]`: the
/// same loop body (the network over all `T` samples, then one draw), cut short.
fn wavenet_naive_prefix(net: &WaveNet, u: &Tensor, steps: i64, device: Device) -> Result<Tensor> {
    let (n, t) = (u.size()[0], u.size()[1]);
    let levels = Tensor::f_zeros([n, 1, t], (Kind::Int64, device))?;
    tch::no_grad(|| {
        for s in 0..steps {
            let logits = net.logits(&levels, None)?.f_select(2, s)?; // [n, 256]
            let v = sampling::draw(Likelihood::Categorical, &logits, &u.f_select(1, s)?, 1.0)?;
            levels
                .f_select(2, s)?
                .f_select(1, 0)?
                .f_copy_(&v.f_to_kind(Kind::Int64)?)?;
        }
        Ok(levels)
    })
}

/// Naive (over the first [`WAVENET_NAIVE_STEPS`] steps on the full signal, extrapolated) against
/// cached (the whole second) sampling of the `piano` WaveNet, one second of 16 kHz audio, batch
/// 1, `rounds` rounds after an untimed identity check (the library's two samplers over twice the
/// largest dilation: 512 samples) and warm-up.
pub fn wavenet_sampling(rounds: usize, device: Device) -> Result<SamplingBench> {
    let mut cfg = wavenet::Config::preset("piano").expect("piano preset exists");
    cfg.data = DataKind::Sequence {
        channels: 1,
        length: WAVENET_SAMPLES,
        encoding: SequenceEncoding::MuLaw8,
    };
    seed::seed_torch_stream(0, "init", 0);
    let model = Owned::build(device, |p| WaveNet::new(p, &cfg))?;
    let net = &model.net;

    // The small case: the library's naive and cached samplers over twice the largest dilation,
    // so that every layer's queue wraps twice (naive cost grows with the square of the length).
    let small = 2 * cfg.dilations().into_iter().max().unwrap_or(1);
    let u_small = sampling::uniforms(1, small, 1, device)?;
    let naive_small = net.sample_naive(None, &u_small, 1.0)?;
    let cached_small = net.sample_cached(None, &u_small, 1.0)?;
    let small_ok = same(&naive_small, &cached_small);
    let mut prefix_ok = true;

    let u = sampling::uniforms(1, WAVENET_SAMPLES, 0, device)?;
    // Warm-up: two naive steps on the full signal, the cached sampler over the first 2,000.
    sync(&wavenet_naive_prefix(net, &u, 2, device)?)?;
    sync(&net.sample_cached(None, &u.narrow(1, 0, 2000), 1.0)?)?;

    let steps = WAVENET_NAIVE_STEPS;
    let (mut naive, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t0 = Instant::now();
        let a = wavenet_naive_prefix(net, &u, steps, device)?;
        sync(&a)?;
        let per_step = t0.elapsed().as_secs_f64() / steps as f64;
        naive.push(1.0 / (per_step * WAVENET_SAMPLES as f64));

        let t0 = Instant::now();
        let b = net.sample_cached(None, &u, 1.0)?;
        sync(&b)?;
        cached.push(1.0 / t0.elapsed().as_secs_f64().max(1e-9));
        prefix_ok &= same(&a.narrow(2, 0, steps), &b.narrow(2, 0, steps));
    }
    Ok(SamplingBench {
        batch: 1,
        positions: WAVENET_SAMPLES,
        naive_positions: steps,
        naive,
        cached,
        identical: small_ok && prefix_ok,
        check: format!(
            "the library's two samplers over {small} samples (twice the largest dilation): \
             {small_ok}; the first {steps} samples of every timed second: {prefix_ok}"
        ),
    })
}
