//! A user's program: trains genzoo's classic VAE (its `tiny` preset) for a few steps on the
//! shipped `mnist10k` through the library API, prints the test NLL with its unit and kind, and
//! writes a grid of samples as a PNG.
//!
//! `cargo run -- [STEPS] [OUT.png]` (defaults: 50 steps, `samples.png`).
use genzoo::prelude::*;
use genzoo::sampling::write_samples;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(50), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "samples.png".into());

    let split = genzoo::load_dataset("mnist10k", None)?; // shipped: 9,000 train / 1,000 test
    let mut model = genzoo::build("vae-mlp", Some("tiny"), None, &split.train, Device::Cpu, 0)?;
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
    let layout = Layout::Grid { nrow: 8 };
    let path = std::path::Path::new(&out);
    write_samples(&model.sample(64, 0)?, &split.train.kind, path, layout)?;
    println!("samples: {out}");
    Ok(())
}
