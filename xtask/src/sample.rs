//! `cargo xtask sample`: draw from a trained run and write what was drawn by data kind
//! (through `genzoo::sampling`).
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use genzoo::sampling::{Draw, Layout, SampleRequest};
use serde_json::json;

#[derive(Args)]
pub struct SampleArgs {
    /// A run directory or a checkpoint directory in it (`latest` and `best` are resolved).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of samples.
    #[arg(short, default_value_t = 64)]
    n: i64,
    /// Seed of the noise the samples are drawn from
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write (default: RUN/samples/WHAT-sSEED[-tT].png in the run directory, WHAT being
    /// `sample`, `classK`, `traverse-cF` or `complete`; audio: OUT-0.wav, ...; vectors: OUT.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images per row.
    #[arg(long, default_value_t = 8)]
    nrow: i64,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    /// Use the EMA weights when the checkpoint has them.
    #[arg(long)]
    ema: bool,
    /// Sampling temperature (flows: the prior's standard deviation, Glow's presets use 0.7;
    /// autoregressive models: logits divided by T). Default: the model's own. Recorded in
    /// `OUT.json` beside the samples.
    #[arg(long)]
    temperature: Option<f64>,
    /// Draw every sample of class K (class-conditional models: cvae, cond-realnvp, cgan, gated-pixelcnn with classes).
    #[arg(long, value_name = "K")]
    class: Option<i64>,
    /// Draw a traversal grid of latent factor F instead (InfoGAN: continuous code F sweeping
    /// [-2, 2] along each row of --nrow columns, one row per value of the categorical code).
    #[arg(long, value_name = "F")]
    traverse: Option<usize>,
    /// Complete the first N test images of the run's dataset from their upper half (models with
    /// partial sampling: the VAEs and the autoregressive models); the grid shows the half-known inputs above the completions.
    #[arg(long)]
    complete: bool,
    /// Write one PNG per image into the folder OUT (without its extension) instead of a grid, for
    /// tools that score image folders (clean-fid, torch-fidelity, `eval --samples`).
    #[arg(long)]
    files: bool,
    /// Dataset folder for --complete (default: the shipped datasets).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

impl SampleArgs {
    fn request(&self) -> SampleRequest {
        let draw = match (self.class, self.traverse, self.complete) {
            (Some(k), _, _) => Draw::Class(k),
            (None, Some(f), _) => Draw::Traverse {
                factor: f,
                nrow: self.nrow,
            },
            (None, None, true) => Draw::Complete,
            _ => Draw::Plain,
        };
        SampleRequest {
            draw,
            n: self.n,
            seed: self.seed,
            temperature: self.temperature,
        }
    }
}

pub fn sample(a: SampleArgs) -> Result<()> {
    let device = genzoo::core::device::select_device(a.device.as_deref())?;
    // Sampling needs no data (but completions): the run directory holds what rebuilds the model.
    let mut run = genzoo::open_run_with(&a.checkpoint, device, genzoo::OpenOptions { ema: a.ema })?;
    let req = a.request();
    let kind = run.meta.data_kind;
    if a.n > 10_000 && kind.is_image() && !a.files {
        println!(
            "note: {} images make a PNG grid of about {} MB",
            a.n,
            a.n * kind.dims() / 1_000_000
        );
    }
    let test = match req.draw {
        Draw::Complete => Some(run.load_data(None, a.data_root.as_deref())?.test),
        _ => None,
    };
    let t = Instant::now();
    let x = genzoo::sampling::draw(run.model.as_mut(), &req, test.as_ref())?;
    let secs = t.elapsed().as_secs_f64();
    // Outputs go to the run directory (never into a checkpoint folder the trainer prunes, nor
    // where a `best`/`latest` pointer lives), named by what was drawn.
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| run.root.join("samples").join(format!("{}.png", req.stem())));
    let layout = if a.files {
        Layout::Files
    } else {
        Layout::Grid { nrow: a.nrow }
    };
    // The grid file, or the folder of files, that this draw writes (and its record).
    let (target, record_file) = match layout {
        Layout::Files if kind.is_image() => {
            let dir = out.with_extension("");
            (dir.clone(), dir.join("sample.json"))
        }
        _ => (out.clone(), out.with_extension("sample.json")),
    };
    if target.exists() {
        println!("note: replacing {}", target.display());
    }
    let written = genzoo::sampling::write_samples(&x, &kind, &out, layout)?;
    let record = json!({"checkpoint": run.checkpoint, "model": run.model.name(), "n": a.n, "seed": a.seed,
        "temperature": a.temperature, "class": a.class, "traverse": a.traverse, "complete": a.complete,
        "seconds": secs, "files": written});
    genzoo::core::io::write_atomic(&record_file, &serde_json::to_vec_pretty(&record)?)?;
    let shown = match written.as_slice() {
        [one] => one.display().to_string(),
        [first, ..] => format!("{} files from {}", written.len(), first.display()),
        [] => "nothing".into(),
    };
    println!("{} samples in {secs:.3} s -> {shown}", x.size()[0]);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;
    use genzoo::prelude::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SampleArgs,
    }

    /// A two-step run of the tiny VAE on random digits, recording `mnist10k` as its data.
    pub(crate) fn tiny_run(dir: &std::path::Path) {
        let digits = |n| Dataset {
            name: "random".into(),
            kind: DataKind::Image {
                channels: 1,
                height: 28,
                width: 28,
            },
            x: Tensor::randint(256, [n, 1, 28, 28], (Kind::Uint8, Device::Cpu)),
            y: None,
            num_classes: None,
        };
        let split = Split {
            train: digits(16),
            test: digits(4),
        };
        let mut m =
            genzoo::build("vae-mlp", Some("tiny"), None, &split.train, Device::Cpu, 0).unwrap();
        let cfg = TrainConfig {
            progress: false,
            sample_count: 0,
            final_eval: false,
            ..TrainConfig::quick(2, 8, 1e-3)
        };
        let mut t = Trainer::new(cfg, Some(dir)).unwrap();
        t.set_dataset("mnist10k");
        t.fit(m.as_mut(), &split).unwrap();
    }

    /// Default outputs go to the run directory, named by what was drawn: never into a checkpoint
    /// folder (which pruning deletes) or where a pointer lives, and two kinds of draw never
    /// overwrite each other; `--files` writes one PNG per image.
    #[test]
    fn default_outputs_go_to_the_run_named_by_what_was_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        tiny_run(&run);
        let step = run.join("checkpoints/step-00000002");
        for args in [
            vec!["--checkpoint", step.to_str().unwrap(), "-n", "4"],
            vec![
                "--checkpoint",
                run.join("latest").to_str().unwrap(),
                "-n",
                "4",
                "--seed",
                "3",
            ],
            vec![
                "--checkpoint",
                run.to_str().unwrap(),
                "-n",
                "4",
                "--complete",
            ],
            vec!["--checkpoint", run.to_str().unwrap(), "-n", "4", "--files"],
        ] {
            sample(Cli::try_parse_from([&["x"], &args[..]].concat()).unwrap().a).unwrap();
        }
        let samples = run.join("samples");
        for f in [
            "sample-s0.png",
            "sample-s3.png",
            "complete-s0.png",
            "sample-s0/00003.png",
        ] {
            assert!(samples.join(f).is_file(), "{f} missing");
        }
        assert!(samples.join("sample-s0/sample.json").is_file());
        assert!(samples.join("sample-s0.sample.json").is_file());
        assert!(
            !step.join("samples").exists(),
            "an output inside a checkpoint folder"
        );
        assert!(
            !run.join("latest").is_dir(),
            "an output where a pointer name lives"
        );
    }
}
