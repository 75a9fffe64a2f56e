//! `cargo xtask tricks`: the GAN training tricks' table. Each cell of
//! `genzoo::gan::tricks::ablation_cells` (the plain game, each trick alone, a combination) trains
//! one GAN per seed through `genzoo::train::compare::compare_model` and scores its samples with
//! the data's scorer (modes covered and high-quality share on the Gaussian-mixture toys); the
//! table gives each cell's mean and spread over the seeds, and names the cells whose every seed
//! covered every mode with at least 90% high-quality samples.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use genzoo::core::model::EvalOptions;
use genzoo::train::compare::{compare_model, CompareOptions};
use genzoo::train::seeds::{seed_markdown, seed_summary, SeedSummary};
use serde_json::json;

use crate::data::DataArgs;

#[derive(Args)]
pub struct TricksArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The GAN to train in every cell
    #[arg(long, default_value = "gan-mlp")]
    model: String,
    /// Seeds per cell (0, 1, ...)
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Training steps per run
    #[arg(long, default_value_t = 5000)]
    steps: u64,
    /// Samples scored per run (2,500 as in PacGAN)
    #[arg(long, default_value_t = 2500)]
    samples: i64,
    /// Only the cells whose names contain one of these (comma-separated)
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Model settings for every cell, as JSON (e.g. '{"gen_hidden": [256, 256, 256]}'); each
    /// cell's own trick keys are added to them
    #[arg(long)]
    base: Option<String>,
    /// Output folder (default: runs/tricks-DATASET)
    #[arg(long)]
    out: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    #[command(flatten)]
    quality: crate::quality::QualityArgs,
}

pub fn tricks(a: TricksArgs) -> Result<()> {
    let device = genzoo::core::device::select_device(a.device.as_deref())?;
    let dataset = a.data.name();
    let split = a.data.load()?;
    anyhow::ensure!(a.seeds >= 1, "--seeds must be >= 1");
    let scorer = crate::quality::scorer(&a.quality, &dataset, &split, device)?
        .with_context(|| format!("{dataset} has no sample-quality scorer"))?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("tricks-{}", dataset.replace('/', "_")))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let base: serde_json::Value = match &a.base {
        Some(b) => serde_json::from_str(b).with_context(|| format!("--base {b}: not JSON"))?,
        None => json!({}),
    };
    anyhow::ensure!(
        base.is_object(),
        "--base must be a JSON object of model keys"
    );
    let specs = genzoo::catalogue();
    let cells: Vec<_> = genzoo::gan::tricks::ablation_cells(a.steps, &a.model)
        .into_iter()
        .filter(|c| {
            a.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|s| c.name.contains(s.as_str())))
        })
        .collect();
    println!(
        "tricks on {dataset}: {} cells x {} seeds of {} ({} steps, {} samples each)",
        cells.len(),
        a.seeds,
        a.model,
        a.steps,
        a.samples
    );
    let header = json!({"dataset": dataset, "model": a.model, "steps": a.steps, "seeds": a.seeds, "base": base,
        "samples": a.samples, "quality": scorer.describe()});
    let mut rows: Vec<SeedSummary> = vec![];
    for cell in &cells {
        let mut runs = vec![];
        for seed in 0..a.seeds {
            let t = Instant::now();
            let opts = CompareOptions {
                steps: a.steps,
                eval: EvalOptions {
                    seed,
                    ..EvalOptions::default()
                },
                seed,
                out: Some(
                    out.join(cell.name.replace([' ', '[', ']', ',', '+'], "_"))
                        .join(format!("seed{seed}")),
                ),
                dataset: dataset.clone(),
                samples: a.samples,
                scorer: Some(scorer.clone()),
                temperature: None,
                overrides: Some(merged(&base, &cell.overrides)),
                ema: cell.ema.clone(),
                quick: false,
            };
            let (row, _) = compare_model(&specs, &a.model, &split, &opts, device)
                .with_context(|| format!("{} / seed {seed}", cell.name))?;
            println!(
                "  {:<36} seed {seed}: modes {} high quality {:.3} ({:.1} s)",
                cell.name,
                row.metrics
                    .get("modes_covered")
                    .copied()
                    .unwrap_or(f64::NAN),
                row.metrics
                    .get("high_quality_share")
                    .copied()
                    .unwrap_or(f64::NAN),
                t.elapsed().as_secs_f64()
            );
            runs.push(row);
        }
        rows.push(seed_summary(cell.name, &cell.overrides, &runs)?);
        let table = seed_markdown(&rows);
        genzoo::core::io::write_atomic(&out.join("tricks.md"), table.as_bytes())?;
        let j = json!({"header": header, "rows": rows});
        genzoo::core::io::write_atomic(
            &out.join("tricks.json"),
            serde_json::to_string_pretty(&j)?.as_bytes(),
        )?;
    }
    println!("\n{}", seed_markdown(&rows));
    println!("wrote {}/tricks.md, tricks.json", out.display());
    Ok(())
}

/// `base` with `cell`'s keys set on it.
fn merged(base: &serde_json::Value, cell: &serde_json::Value) -> serde_json::Value {
    let mut v = base.clone();
    if let (Some(o), Some(c)) = (v.as_object_mut(), cell.as_object()) {
        for (k, x) in c {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}
