//! Throughput benchmarks of the flow family (run by `cargo xtask bench realnvp|glow|maf`, never by
//! tests). Each trains the same architecture as its PyTorch twin in `benches/` (`realnvp.py`,
//! `glow.py`, `maf.py`, `toy_flow.py`): same data shape, batch, optimizer (Adam 1e-3) and loss,
//! through the engine's `Trainer`, and returns training images (examples) per second over the
//! timed steps, after [`WARMUP_STEPS`] untimed ones. Sampling throughput: [`sampling_images_per_sec`].
//!
//! Data: `mnist10k` when installed, else seeded random 8-bit images of the same shape (throughput
//! does not depend on pixel values); the 2-D flows train on the eight-Gaussians toy.
use std::time::Instant;

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::model::GenerativeModel;
use genzoo_core::{seed, CoreError, Result};
use genzoo_data::registry as data_registry;
use genzoo_data::toy::Toy;
use genzoo_train::{TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

use genzoo_flow::dequant::DequantKind;
use genzoo_flow::models::{glow, iaf, maf, nice, real_nvp, toy_flow};
use genzoo_flow::prior::PriorKind;

/// Untimed steps before timing.
pub const WARMUP_STEPS: u64 = 5;
/// Batch of the image benchmarks.
pub const IMAGE_BATCH: i64 = 64;
/// Batch of the 2-D benchmarks.
pub const TOY_BATCH: i64 = 512;

const MNIST: DataKind = DataKind::Image {
    channels: 1,
    height: 28,
    width: 28,
};

/// The RealNVP of `benches/realnvp.py`: 2 scales, 3+3 couplings per scale, 4 final, ResNet nets of
/// 32 channels and 2 blocks, no batch norm, logit alpha 0.05.
pub fn realnvp_bench_config() -> real_nvp::Config {
    real_nvp::Config {
        scales: 2,
        couplings: 3,
        final_couplings: 4,
        hidden: 32,
        blocks: 2,
        batch_norm: false,
        alpha: 0.05,
        prior: PriorKind::StandardGaussian,
        dequant: DequantKind::Uniform,
        temperature: 1.0,
        conditional: false,
    }
}

/// The Glow of `benches/glow.py`: L = 2, K = 4, 64 hidden channels, LU 1x1 convs, affine couplings.
pub fn glow_bench_config() -> glow::Config {
    glow::Config {
        levels: 2,
        steps: 4,
        hidden: 64,
        ..glow::Config::preset("tiny").expect("tiny exists")
    }
}

/// The MAF of `benches/maf.py`: 5 MADE layers of 2 x 64 hidden units on 2-D data, reversed
/// orderings, no batch norm.
pub fn maf_bench_config() -> maf::Config {
    maf::Config {
        layers: 5,
        hidden: 64,
        depth: 2,
        batch_norm: false,
        ..maf::Config::preset("toy").expect("toy exists")
    }
}

/// `mnist10k` if installed, else seeded random 8-bit images.
pub fn image_split() -> Split {
    if let Ok(s) = data_registry::load_mnist10k() {
        return s;
    }
    let random = |n: i64, name: &str, s: i64| -> Dataset {
        tch::manual_seed(s);
        let x = Tensor::randint(256, [n, 1, 28, 28], (Kind::Uint8, Device::Cpu));
        Dataset {
            name: format!("random-8bit/{name}"),
            kind: MNIST,
            x,
            y: None,
            num_classes: None,
        }
    };
    Split {
        train: random(4096, "train", 1),
        test: random(256, "test", 2),
    }
}

fn quick(steps: u64, batch: i64) -> TrainConfig {
    TrainConfig {
        progress: false,
        log_every: steps.max(1),
        sample_count: 0,
        ..TrainConfig::quick(steps, batch, 1e-3)
    }
}

/// Examples per second of `steps` timed training steps of `model` on `split`.
fn train_throughput(
    model: &mut dyn GenerativeModel,
    split: &Split,
    steps: usize,
    batch: i64,
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
    Trainer::new(quick(WARMUP_STEPS, batch), None)?.fit(model, &split)?;
    let t0 = Instant::now();
    let summary = Trainer::new(quick(steps as u64, batch), None)?.fit(model, &split)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(summary.steps_run as f64 * batch as f64 / secs.max(1e-9))
}

/// RealNVP training images per second (the twin of `benches/realnvp.py`).
pub fn realnvp_images_per_sec(steps: usize, device: Device) -> Result<f64> {
    seed::seed_torch(0);
    let mut m = real_nvp::RealNvp::owned(&realnvp_bench_config(), MNIST, None, device)?;
    train_throughput(&mut m, &image_split(), steps, IMAGE_BATCH, device)
}

/// Glow training images per second (the twin of `benches/glow.py`).
pub fn glow_images_per_sec(steps: usize, device: Device) -> Result<f64> {
    seed::seed_torch(0);
    let mut m = glow::Glow::owned(&glow_bench_config(), MNIST, None, device)?;
    train_throughput(&mut m, &image_split(), steps, IMAGE_BATCH, device)
}

fn toy_split() -> Split {
    Toy::EightGaussians.split(8192, 512, 0)
}

/// MAF training examples per second on 2-D data (the twin of `benches/maf.py`).
pub fn maf_images_per_sec(steps: usize, device: Device) -> Result<f64> {
    seed::seed_torch(0);
    let mut m = maf::Maf::owned(
        &maf_bench_config(),
        DataKind::Vector { dim: 2 },
        None,
        device,
    )?;
    train_throughput(&mut m, &toy_split(), steps, TOY_BATCH, device)
}

/// 2-D coupling flow (`toy-flow`, preset `paper`: 8 couplings, 2 x 64 MLPs, ActNorm) training
/// examples per second (the twin of `benches/toy_flow.py`).
pub fn toy_flow_images_per_sec(steps: usize, device: Device) -> Result<f64> {
    seed::seed_torch(0);
    let cfg = toy_flow::Config::preset("paper").expect("paper exists");
    let mut m = toy_flow::ToyFlow::owned(&cfg, DataKind::Vector { dim: 2 }, None, device)?;
    train_throughput(&mut m, &toy_split(), steps, TOY_BATCH, device)
}

/// The models [`sampling_images_per_sec`] knows, with the batch it draws for each (images: 64,
/// vectors: 4,096).
pub const SAMPLING_MODELS: &[(&str, i64)] = &[
    ("nice", 64),
    ("realnvp", 64),
    ("glow", 64),
    ("maf", 4096),
    ("iaf", 4096),
    ("toy-flow", 4096),
];

/// Sampling throughput (samples per second) of the benchmark architecture of `model`
/// (`realnvp`, `glow`, `maf`, `toy-flow`; `nice` with its `mnist` preset on 28x28 images, `iaf`
/// with its `toy` preset on 2-D vectors) drawing `rounds` batches of `n`. MAF samples in D
/// sequential passes, IAF in one: their ratio is the point of IAF.
pub fn sampling_images_per_sec(model: &str, n: i64, rounds: usize, device: Device) -> Result<f64> {
    seed::seed_torch(0);
    let m: Box<dyn GenerativeModel> = match model {
        "realnvp" => Box::new(real_nvp::RealNvp::owned(
            &realnvp_bench_config(),
            MNIST,
            None,
            device,
        )?),
        "glow" => Box::new(glow::Glow::owned(
            &glow_bench_config(),
            MNIST,
            None,
            device,
        )?),
        "maf" => Box::new(maf::Maf::owned(
            &maf_bench_config(),
            DataKind::Vector { dim: 2 },
            None,
            device,
        )?),
        "nice" => Box::new(nice::Nice::owned(
            &nice::Config::preset("mnist").expect("mnist exists"),
            MNIST,
            None,
            device,
        )?),
        "iaf" => Box::new(iaf::Iaf::owned(
            &iaf::preset("toy").expect("toy exists"),
            DataKind::Vector { dim: 2 },
            None,
            device,
        )?),
        "toy-flow" => Box::new(toy_flow::ToyFlow::owned(
            &toy_flow::Config::preset("paper").expect("paper exists"),
            DataKind::Vector { dim: 2 },
            None,
            device,
        )?),
        other => {
            return Err(CoreError::Unknown {
                what: "sampling benchmark",
                name: other.into(),
                known: SAMPLING_MODELS
                    .iter()
                    .map(|m| m.0)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    let _ = m.sample(n, 0)?; // warm-up
    let t0 = Instant::now();
    for r in 0..rounds.max(1) {
        let s = m.sample(n, r as u64 + 1)?;
        let _ = s.sum(Kind::Float).double_value(&[]); // sync
    }
    Ok((rounds.max(1) as f64 * n as f64) / t0.elapsed().as_secs_f64().max(1e-9))
}
