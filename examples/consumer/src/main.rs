//! A user's program: trains genzoo's classic VAE (its `tiny` preset) for a few steps on the
//! shipped `mnist10k` through the library API, prints the test NLL with its unit and kind, and
//! writes a grid of samples as a PNG.
//!
//! `cargo run -- [STEPS] [OUT.png]` (defaults: 50 steps, `samples.png`).
use genzoo_vae::genzoo_core::model::EvalOptions;
use genzoo_vae::genzoo_core::{seed, tch::Device};
use genzoo_vae::genzoo_train::{image, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(50), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "samples.png".into());

    let split = genzoo_vae::genzoo_data::load_mnist10k()?;
    seed::seed_torch_stream(0, "init", 0); // reproducible initial weights
    let mut model = genzoo_vae::build("vae-mlp", Some("tiny"), &split.train, Device::Cpu)?;
    let cfg = TrainConfig {
        sample_count: 0,
        progress: false,
        ..TrainConfig::quick(steps, 64, 1e-3)
    };
    let summary = Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
    println!("trained {} steps in {:.1} s", summary.steps, summary.seconds);

    let opts = EvalOptions {
        importance_samples: 50,
        ..EvalOptions::default()
    };
    let report = model.evaluate(&split.test, &opts)?;
    match report.nll {
        // e.g. "test NLL 505.8030 nats (is-estimate) on mnist10k/test (1000), ..."
        Some(nll) => println!("test NLL {nll} on {}", report.data),
        None => println!("no likelihood on {}", report.data),
    }
    image::save_grid(&out, &model.sample(64, 0)?, 8)?;
    println!("samples: {out}");
    Ok(())
}
