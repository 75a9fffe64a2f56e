//! `cargo xtask compare`: trains and evaluates a set of models on one dataset and prints the
//! cross-model table (Markdown), writing `compare.json` and `compare.csv`, through
//! `genzoo_train::compare`. The classical baselines open every table; every family adds its rows
//! through its catalogue.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use genzoo_core::data::Split;
use genzoo_core::model::{EvalOptions, GenerativeModel};
use genzoo_data::toy::{Toy, TrueDensity};
use genzoo_train::compare::{compare_model, write_tables, CompareOptions};
use serde_json::json;

use crate::data::DataArgs;
use crate::registry::all_specs;

#[derive(Args)]
pub struct CompareArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Comma-separated model names (default: every model that takes the data; with --quick a
    /// fast subset).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Short training and evaluation: the whole table in minutes on 2 CPU cores.
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
    #[arg(long)]
    device: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples drawn and timed per model (models that sample one pixel at a time without a
    /// cache take minutes for 256).
    #[arg(long, default_value_t = 256)]
    samples: i64,
    /// Torch intra-op threads (0: torch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// The models compared by default on this data.
fn default_models(split: &Split, quick: bool) -> Vec<String> {
    let image = split.train.kind.is_image();
    let mut v: Vec<String> = if image {
        vec!["gaussian", "gmm-diag", "ppca", "kmeans"]
    } else {
        vec!["gaussian", "gmm-full", "kmeans"]
    }
    .into_iter()
    .map(String::from)
    .collect();
    if !quick && image {
        v.push("gmm-full".into());
    }
    let quick_deep: &[&str] = if image {
        &["made", "vae-mlp", "iwae", "realnvp"]
    } else {
        &["realnvp-2d", "maf"]
    };
    for s in all_specs() {
        if (s.accepts)(&split.train.kind) && (!quick || quick_deep.contains(&s.name)) {
            v.push(s.name.to_string());
        }
    }
    v
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let device = genzoo_core::device::select_device(a.device.as_deref())?;
    genzoo_core::seed::set_threads(a.threads);
    let dataset = a.data.name();
    let split = a.data.load()?;
    let models = a
        .models
        .clone()
        .unwrap_or_else(|| default_models(&split, a.quick));
    // Toy models are small: they get ten times the steps of image models in the same time.
    let steps = a
        .steps
        .unwrap_or(match (split.train.kind.is_image(), a.quick) {
            (true, true) => 300,
            (true, false) => 3000,
            (false, true) => 3000,
            (false, false) => 20000,
        });
    let k = a
        .importance_samples
        .unwrap_or(if a.quick { 200 } else { 5000 });
    let suffix = if a.quick { "-quick" } else { "" };
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("compare-{}{suffix}", dataset.replace('/', "_")))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    println!(
        "compare on {dataset}: {} train / {} test, device {}, {steps} steps per deep model, k = {k}",
        split.train.len(),
        split.test.len(),
        genzoo_core::device::device_name(device)
    );
    let specs = all_specs();
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
        samples: a.samples,
    };
    let mut rows = Vec::new();
    for name in &models {
        let t = Instant::now();
        let (row, model) = compare_model(&specs, name, &split, &opts, device)?;
        write_toy_heatmap(model.as_ref(), &dataset, &out.join(name))?;
        let (v, unit) = match row.nll {
            Some(n) => (format!("{:.4}", n.value), n.unit.label()),
            None => ("-".into(), ""),
        };
        println!(
            "  {:<12} {v:>10} {unit:<9} ({:.1} s)",
            row.model,
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    let header = json!({"dataset": dataset, "quick": a.quick, "steps": steps, "importance_samples": k, "samples": a.samples});
    let table = write_tables(&out, header, &rows)?;
    println!("\n{table}");
    println!(
        "wrote {}/compare.json, compare.csv, compare.md",
        out.display()
    );
    Ok(())
}

/// For a model with a density on a 2-D toy set: `RUN/density.png`, the learned density beside the
/// true one.
fn write_toy_heatmap(
    model: &dyn GenerativeModel,
    dataset: &str,
    run_dir: &std::path::Path,
) -> Result<()> {
    let Some(toy) = Toy::from_name(dataset).filter(|t| t.dim() == 2) else {
        return Ok(());
    };
    let Some(density) = model.density() else {
        return Ok(());
    };
    let device = model.var_store().device();
    let mut f = |x: &tch::Tensor| {
        density
            .log_density(&x.to_kind(tch::Kind::Float).to_device(device))
            .map(|t| t.to_device(tch::Device::Cpu))
    };
    let (lo, hi) = toy.bounds();
    let truth = toy.has_density().then_some(&toy as &dyn TrueDensity);
    tch::no_grad(|| {
        genzoo_flow::heatmap::write_heatmap(
            &run_dir.join("density.png"),
            &mut f,
            truth,
            lo,
            hi,
            200,
        )
    })?;
    Ok(())
}
