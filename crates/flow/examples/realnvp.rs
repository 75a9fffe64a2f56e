//! Trains `realnvp` (its `quick` preset) for a few hundred steps on the shipped `mnist10k` with
//! this crate alone, prints what its evaluation reports, and writes a grid of 64 samples.
//!
//! `cargo run --release -p genzoo-flow --example realnvp -- [STEPS] [OUT.png]` (defaults: 300 steps,
//! `realnvp.png`).
use genzoo_flow::genzoo_core::model::EvalOptions;
use genzoo_flow::genzoo_core::seed;
use genzoo_flow::genzoo_train::{image, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "realnvp.png".into());

    let split = genzoo_flow::genzoo_data::load("mnist10k", std::path::Path::new("data"))?;
    let device = genzoo_flow::genzoo_core::device::select_device(None)?;
    seed::seed_torch_stream(0, "init", 0); // reproducible initial weights
    let mut model = genzoo_flow::build("realnvp", Some("quick"), &split.train, device)?;
    let mut cfg = TrainConfig {
        sample_count: 0,
        progress: false,
        ..TrainConfig::quick(steps, 64, 1e-3)
    };
    if let Some(betas) = model.adam_betas() {
        cfg.optimizer.betas = betas; // the model's own recipe (GANs: beta1 = 0.5)
    }
    let s = Trainer::new(cfg, None)?.fit(model.as_mut(), &split)?;
    println!("{} steps of realnvp in {:.1} s", s.steps, s.seconds);

    let opts = EvalOptions {
        importance_samples: 50,
        max_examples: Some(500),
        ..EvalOptions::default()
    };
    let report = model.evaluate(&split.test, &opts)?;
    match report.nll {
        Some(nll) => println!("test NLL {nll} on {}", report.data),
        None => println!("no likelihood on {}: {:?}", report.data, report.metrics),
    }
    image::save_grid(&out, &model.sample(64, 0)?, 8)?;
    println!("samples: {out}");
    Ok(())
}
