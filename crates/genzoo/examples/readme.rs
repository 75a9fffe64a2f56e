//! The README's library example, word for word (`tests/readme_example.rs` keeps the two equal):
//! train the tiny VAE for 300 steps on the shipped digits, print its test NLL, write 64 samples,
//! reopen the run. `cargo run --release -p genzoo --example readme` (writes `runs/my-vae` and
//! `samples.png` in the working directory).
use genzoo::prelude::*;
use genzoo::sampling::write_samples;

fn main() -> genzoo::Result<()> {
    // The shipped digits (9,000 train / 1,000 test); any name of `cargo xtask download` or a folder.
    let split = genzoo::load_dataset("mnist10k", None)?;
    // Any catalogue name and preset; the last argument seeds the initial weights.
    let mut model = genzoo::build("vae-mlp", Some("tiny"), None, &split.train, Device::Cpu, 0)?;
    let cfg = TrainConfig {
        sample_count: 0,
        ..TrainConfig::quick(300, 64, 1e-3)
    };
    // A new run directory (one that already holds a run is refused: `Trainer::resume` goes on).
    Trainer::new(cfg, Some("runs/my-vae".as_ref()))?.fit(model.as_mut(), &split)?;

    let opts = EvalOptions {
        importance_samples: 50,
        ..EvalOptions::default()
    };
    let nll = model
        .evaluate(&split.test, &opts)?
        .nll
        .expect("a VAE has a likelihood");
    println!("test NLL {nll}"); // "... nats (is-estimate)": value, unit and kind
    let samples = model.sample(64, 0)?; // f32 [64, 1, 28, 28] in [0, 1]
    write_samples(
        &samples,
        &split.train.kind,
        "samples.png".as_ref(),
        Layout::Grid { nrow: 8 },
    )?;

    // Later, anywhere: the run reopens with its model, metadata and data.
    let run = genzoo::open_run("runs/my-vae".as_ref(), Device::Cpu)?;
    assert_eq!(run.meta.model, "vae-mlp");
    Ok(())
}
