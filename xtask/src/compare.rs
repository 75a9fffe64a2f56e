//! `cargo xtask compare`: trains and evaluates a set of models on one dataset and prints the
//! cross-model table (Markdown), writing `compare.json` and `compare.csv`, through
//! `genzoo::train::compare`. The classical baselines open every table; every family adds its rows
//! through its catalogue.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use genzoo::compare::{
    default_models, grid_defaults, invalid_rows, reference_row, run_grid, Progress,
};
use genzoo::core::model::EvalOptions;
use genzoo::train::compare::{write_tables, CompareOptions};
use serde_json::json;

use crate::data::DataArgs;

#[derive(Args)]
pub struct CompareArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Comma-separated model names (default: every model that takes the data; with --quick a
    /// fast subset).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Short training and evaluation: the whole table in minutes on 2 CPU cores (models with a
    /// `quick` preset, such as realnvp, run it).
    #[arg(long)]
    quick: bool,
    /// Output folder (default: runs/compare-DATASET[-quick]).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training steps of each deep model (default for images: 300 with --quick, else 3000; for
    /// toy vectors: 3000 with --quick, else 20000).
    #[arg(long)]
    steps: Option<u64>,
    /// Importance samples per test example for latent-variable models (default: 200 with
    /// --quick, else 5000).
    #[arg(long)]
    importance_samples: Option<usize>,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    /// Seed of every model's initial weights, training, evaluation and samples
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples drawn, timed and scored per model (default 10,000; 1,000 with --quick). A model
    /// whose sampler would take over 2 minutes for them (one pixel at a time without a cache:
    /// PixelCNN++, PixelRNN, the VLAE) draws as many as fit, at least 1,000, and its row says so.
    #[arg(long)]
    samples: Option<i64>,
    /// Sampling temperature of the models that have one (flows, autoregressive models); the
    /// others sample as they are. Recorded in each row's metrics (`temperature`).
    #[arg(long)]
    temperature: Option<f64>,
    #[command(flatten)]
    quality: crate::quality::QualityArgs,
    /// Torch intra-op threads (0: torch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let device = genzoo::core::device::select_device(a.device.as_deref())?;
    genzoo::core::seed::set_threads(a.threads);
    let dataset = a.data.name();
    let split = a.data.load()?;
    let models = a
        .models
        .clone()
        .unwrap_or_else(|| default_models(&split, a.quick));
    println!("models: {}", models.join(", "));
    let d = grid_defaults(&split.train.kind, a.quick);
    let (steps, k) = (
        a.steps.unwrap_or(d.steps),
        a.importance_samples.unwrap_or(d.importance_samples),
    );
    let suffix = if a.quick { "-quick" } else { "" };
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("compare-{}{suffix}", dataset.replace('/', "_")))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    println!(
        "compare on {dataset}: {} train / {} test, device {}, {steps} steps per deep model, k = {k}",
        split.train.len(),
        split.test.len(),
        genzoo::core::device::device_name(device)
    );
    let samples = a.samples.unwrap_or(d.samples);
    if let Some(t) = a.temperature.filter(|t| !(t.is_finite() && *t > 0.0)) {
        anyhow::bail!("--temperature {t}: must be a finite number > 0");
    }
    let scorer = crate::quality::scorer(&a.quality, &dataset, &split, device)?;
    let opts = CompareOptions {
        steps,
        eval: EvalOptions {
            importance_samples: k,
            seed: a.seed,
            ..EvalOptions::default()
        },
        seed: a.seed,
        out: Some(out.clone()),
        dataset: dataset.clone(),
        samples,
        scorer: scorer.clone(),
        temperature: a.temperature,
        overrides: None,
        ema: None,
        quick: a.quick,
    };
    let header = json!({"dataset": dataset, "quick": a.quick, "steps": steps, "importance_samples": k, "samples": samples,
        "quality": scorer.as_ref().map(|s| s.describe())});
    let mut rows = Vec::new();
    if let Some(sc) = &scorer {
        rows.push(reference_row(sc.as_ref(), &split, samples)?);
    }
    run_grid(
        &models,
        &split,
        &opts,
        &header,
        &mut rows,
        device,
        &mut print_progress,
    )?;
    let table = write_tables(&out, header, &rows)?;
    if let Some(s) = &scorer {
        println!(
            "\nSample quality from {samples} samples per model: {}",
            s.describe()
        );
    }
    println!("\n{table}");
    println!(
        "wrote {}/compare.json, compare.csv, compare.md",
        out.display()
    );
    // Every table is on disk; a model that failed or gave no valid number fails the command.
    let bad = invalid_rows(&rows);
    if !bad.is_empty() {
        anyhow::bail!(
            "{} of {} rows failed or hold a number that is not valid (tables written to {}):\n  {}",
            bad.len(),
            rows.len(),
            out.display(),
            bad.join("\n  ")
        );
    }
    Ok(())
}

/// One line as each model starts and one with its likelihood (or failure) as it ends.
fn print_progress(p: Progress) {
    match p {
        Progress::Start(name) => println!("  {name:<12} training ..."),
        Progress::Done(row, secs) => {
            let (v, unit) = match (&row.nll, &row.error) {
                (_, Some(e)) => (format!("FAILED: {e}"), ""),
                (Some(n), None) => (format!("{:.4}", n.value), n.unit.label()),
                (None, None) => ("-".into(), ""),
            };
            println!("  {:<12} {v:>10} {unit:<9} ({secs:.1} s)", row.model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genzoo::core::data::{DataKind, Dataset, Split};
    use tch::{Device, Kind, Tensor};

    /// On 5x7-pixel images, a model whose shape limits the data breaks
    /// (ae-conv) becomes a row with its error, the others finish, and the table is written.
    #[test]
    fn a_failing_model_costs_its_row_not_the_table() {
        tch::manual_seed(0);
        let kind = DataKind::Image {
            channels: 1,
            height: 5,
            width: 7,
        };
        let ds = |n: i64, name: &str| Dataset {
            name: name.into(),
            kind,
            x: Tensor::randint(256, [n, 1, 5, 7], (Kind::Uint8, Device::Cpu)),
            y: None,
            num_classes: None,
        };
        let split = Split {
            train: ds(64, "tiny/train"),
            test: ds(16, "tiny/test"),
        };
        let out = tempfile::tempdir().unwrap();
        let opts = CompareOptions {
            steps: 2,
            eval: EvalOptions {
                importance_samples: 2,
                ..EvalOptions::default()
            },
            seed: 0,
            out: Some(out.path().to_path_buf()),
            dataset: "tiny".into(),
            samples: 4,
            scorer: None,
            temperature: None,
            overrides: None,
            ema: None,
            quick: false,
        };
        let models = ["ae-conv", "gaussian"].map(String::from);
        let mut rows = vec![];
        run_grid(
            &models,
            &split,
            &opts,
            &json!({}),
            &mut rows,
            Device::Cpu,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].error.is_some(), "{:?}", rows[0]);
        assert!(
            rows[1].error.is_none() && rows[1].nll.is_some(),
            "{:?}",
            rows[1]
        );
        let table = std::fs::read_to_string(out.path().join("compare.json")).unwrap();
        assert!(table.contains("ae-conv") && table.contains("gaussian"));
        assert!(std::fs::read_to_string(out.path().join("compare.md"))
            .unwrap()
            .contains("failed: "));
    }

    /// Every model with a sampling temperature takes one (flows and
    /// autoregressive models), it changes the samples, bad values and models without one are
    /// refused naming `temperature`.
    #[test]
    fn temperatures_reach_every_model_that_has_one() {
        let kind = DataKind::Image {
            channels: 1,
            height: 8,
            width: 8,
        };
        let specs = genzoo::catalogue();
        for (name, has) in [
            ("realnvp", true),
            ("pixelcnn", true),
            ("made", true),
            ("vae-mlp", false),
            ("gaussian", false),
        ] {
            let mut m = genzoo::core::model::build_model(
                &specs,
                name,
                Some("tiny"),
                None,
                kind,
                None,
                Device::Cpu,
            )
            .unwrap();
            let r = m.set_temperature(0.5);
            assert_eq!(r.is_ok(), has, "{name}: {r:?}");
            if has {
                let cold = m.sample(3, 7).unwrap();
                m.set_temperature(1.0).unwrap();
                let warm = m.sample(3, 7).unwrap();
                assert!(!warm.equal(&cold), "{name}: T = 0.5 changed nothing");
                assert!(m
                    .set_temperature(f64::NAN)
                    .unwrap_err()
                    .to_string()
                    .contains("temperature"));
            } else {
                assert!(r
                    .unwrap_err()
                    .to_string()
                    .contains("no sampling temperature"));
            }
        }
    }
}
