//! `docs/embedding.md`'s API in one screen, word for word (`tests/readme_example.rs` keeps the
//! two equal): train, evaluate, reopen the run, complete test digits.
//! `cargo run --release -p genzoo --example api` (writes `runs/my-vae` and `completed.png`).
use genzoo::prelude::*;
use genzoo::sampling::{draw, write_samples};

fn main() -> genzoo::Result<()> {
    let split = genzoo::load_dataset("mnist10k", None)?; // Split { train, test }
                                                         // By catalogue name and preset; the last argument seeds the initial weights.
    let mut model = genzoo::build("vae-mlp", Some("tiny"), None, &split.train, Device::Cpu, 0)?;
    // A run directory (refused if it already holds a run: use Trainer::resume for that).
    let cfg = TrainConfig {
        sample_count: 0,
        ..TrainConfig::quick(50, 64, 1e-3)
    };
    let mut trainer = Trainer::new(cfg, Some("runs/my-vae".as_ref()))?;
    trainer.set_dataset("mnist10k"); // so that the run reopens with its data
    trainer.fit(model.as_mut(), &split)?;
    // nll, unit, kind and the data it is on; k = 50 importance samples (the default, 5,000,
    // takes tens of seconds over the 1,000 test digits on a CPU).
    let opts = EvalOptions {
        importance_samples: 50,
        ..EvalOptions::default()
    };
    let report = model.evaluate(&split.test, &opts)?;
    if let Some(nll) = report.nll {
        println!("{nll} on {}", report.data); // "104.2 nats (is-estimate) on mnist10k/test ..."
    }
    // Later, anywhere: the run reopens with its model, typed metadata and data.
    let mut run = genzoo::open_run("runs/my-vae".as_ref(), Device::Cpu)?;
    let test = run.load_data(None, None)?.test;
    // What `cargo xtask sample --complete` draws: lower halves of test digits filled in.
    let req = SampleRequest {
        draw: Draw::Complete,
        ..SampleRequest::plain(8, 0)
    };
    let x = draw(run.model.as_mut(), &req, Some(&test))?;
    write_samples(
        &x,
        &run.meta.data_kind,
        "completed.png".as_ref(),
        Layout::Grid { nrow: 8 },
    )?;
    Ok(())
}
