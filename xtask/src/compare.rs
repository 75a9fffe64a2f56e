//! `cargo xtask compare`: trains and evaluates a set of models on one dataset and prints the
//! cross-model table (Markdown), writing `compare.json` and `compare.csv`. The classical baselines
//! of core open every table; every family adds its rows through its registry.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use genzoo_core::data::{DataKind, Split};
use genzoo_core::io::write_atomic;
use genzoo_core::model::{EvalOptions, EvalReport, GenerativeModel};
use genzoo_data::toy::{Toy, TrueDensity};
use genzoo_train::{TrainConfig, Trainer};
use serde::Serialize;
use serde_json::json;

use crate::data::DataArgs;
use crate::registry::all_specs;
use crate::run::build_model;

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
    /// Torch intra-op threads (0: torch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// One row of the table.
#[derive(Serialize, Clone, Debug)]
pub struct Row {
    pub model: String,
    pub family: String,
    pub preset: String,
    pub params: usize,
    pub train_seconds: f64,
    pub train_steps: u64,
    pub nll: Option<f64>,
    pub nll_unit: String,
    pub nll_kind: String,
    pub samples_per_second: f64,
    pub data: String,
    pub metrics: BTreeMap<String, f64>,
}

fn row_from(
    model: &str,
    family: &str,
    preset: &str,
    params: usize,
    train_seconds: f64,
    train_steps: u64,
    sps: f64,
    r: &EvalReport,
) -> Row {
    Row {
        model: model.into(),
        family: family.into(),
        preset: preset.into(),
        params,
        train_seconds,
        train_steps,
        nll: r.nll,
        nll_unit: r.unit.label().into(),
        nll_kind: r.kind.label().into(),
        samples_per_second: sps,
        data: r.data.clone(),
        metrics: r.metrics.clone(),
    }
}

/// The preset a model runs with in the table: one named for the data (`mnist` for 28x28 images,
/// `toy`, else `paper`, for vectors) when the model has it, else its default (first) preset.
fn preferred_preset(presets: &[&'static str], kind: &DataKind) -> &'static str {
    let wanted: &[&str] = match kind {
        DataKind::Image {
            height: 28,
            width: 28,
            ..
        } => &["mnist"],
        DataKind::Vector { .. } => &["toy", "paper"],
        _ => &[],
    };
    wanted
        .iter()
        .find_map(|w| presets.iter().copied().find(|p| p == w))
        .unwrap_or(presets[0])
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
        &["vae-mlp", "iwae", "realnvp"]
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
    let mut rows = Vec::new();
    for name in &models {
        let t = Instant::now();
        let row = if genzoo_baselines::SPECS.iter().any(|b| b.name == name) {
            let preset = genzoo_baselines::SPECS
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.presets[0])
                .unwrap_or("default");
            let mut m = genzoo_baselines::build(name, preset, None)?;
            // Toy sets with a known density are also scored by the KL to the truth.
            let truth = Toy::from_name(&dataset).filter(|t| t.has_density());
            let r = genzoo_baselines::evaluate_against(
                m.as_mut(),
                &split.train,
                &split.test,
                a.seed,
                truth.as_ref().map(|t| t as &dyn TrueDensity),
            )?;
            row_from(
                name,
                "baseline",
                preset,
                r.params,
                r.fit_seconds,
                0,
                r.samples_per_second,
                &r.report,
            )
        } else {
            let spec = genzoo_core::model::find_spec(&specs, name)?;
            let preset = preferred_preset(spec.presets, &split.train.kind);
            let mut model = build_model(name, Some(preset), None, &split, device, a.seed)?;
            let cfg = TrainConfig {
                steps: Some(steps),
                seed: a.seed,
                final_eval: false,
                progress: false,
                eval: EvalOptions {
                    importance_samples: k,
                    seed: a.seed,
                    ..EvalOptions::default()
                },
                ..TrainConfig::default()
            };
            let run_dir = out.join(name);
            if run_dir.exists() {
                std::fs::remove_dir_all(&run_dir)
                    .with_context(|| format!("clearing {}", run_dir.display()))?;
            }
            let mut trainer = Trainer::new(cfg.clone(), Some(&run_dir))?;
            trainer.set_meta("dataset", json!(dataset));
            trainer.set_meta("preset", json!(preset));
            let s = trainer.fit(model.as_mut(), &split)?;
            let r = model.evaluate(&split.test, &cfg.eval)?;
            let n = 256;
            let ts = Instant::now();
            let samples = model.sample(n, a.seed)?;
            let sps = n as f64 / ts.elapsed().as_secs_f64();
            if split.train.kind.is_image() {
                genzoo_train::image::save_grid(
                    run_dir.join("samples.png"),
                    &samples.narrow(0, 0, 64),
                    8,
                )?;
            }
            write_toy_heatmap(model.as_ref(), &dataset, &run_dir)?;
            let params = model
                .var_store()
                .trainable_variables()
                .iter()
                .map(|t| t.numel())
                .sum();
            row_from(
                name,
                spec.family,
                preset,
                params,
                s.seconds,
                s.steps,
                sps,
                &r,
            )
        };
        println!(
            "  {:<12} {:>10} {:<9} ({:.1} s)",
            row.model,
            row.nll.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            row.nll_unit,
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    let table = markdown(&rows);
    println!("\n{table}");
    write_atomic(
        &out.join("compare.json"),
        &serde_json::to_vec_pretty(
            &json!({"dataset": dataset, "quick": a.quick, "steps": steps, "importance_samples": k, "rows": rows}),
        )?,
    )?;
    write_atomic(&out.join("compare.csv"), csv(&rows).as_bytes())?;
    write_atomic(&out.join("compare.md"), table.as_bytes())?;
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
    let probe = tch::Tensor::zeros([1, 2], (tch::Kind::Float, model.var_store().device()));
    if model.log_density(&probe).is_none() {
        return Ok(());
    }
    let device = model.var_store().device();
    let mut f =
        |x: &tch::Tensor| match model.log_density(&x.to_kind(tch::Kind::Float).to_device(device)) {
            Some(r) => r.map(|t| t.to_device(tch::Device::Cpu)),
            None => Err(genzoo_core::CoreError::model(
                model.name(),
                "no log-density",
            )),
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

/// Metrics shown in the Markdown table when present (all of them are in the JSON and CSV).
const KEY_METRICS: &[&str] = &[
    "kl_to_truth",
    "neg_elbo",
    "active_units",
    "mutual_info_nats",
    "recon_nats",
    "prior_nats",
    "codebook_perplexity",
    "perplexity",
    "perplexity_top",
    "perplexity_bottom",
    "recon",
    "mse_per_dim",
    "recon_error",
    "recon_mse",
    "test_distortion",
    "train_nll",
];

fn markdown(rows: &[Row]) -> String {
    let mut s = String::from("| model | family | params | train s | test NLL | unit | kind | samples/s | metrics |\n|---|---|---:|---:|---:|---|---|---:|---|\n");
    for r in rows {
        let metrics: Vec<String> = KEY_METRICS
            .iter()
            .filter_map(|k| r.metrics.get(*k).map(|v| format!("{k} {v:.3}")))
            .take(4)
            .collect();
        s += &format!(
            "| {} | {} | {} | {:.1} | {} | {} | {} | {:.0} | {} |\n",
            r.model,
            r.family,
            r.params,
            r.train_seconds,
            r.nll.map(|v| format!("{v:.3}")).unwrap_or("-".into()),
            r.nll_unit,
            r.nll_kind,
            r.samples_per_second,
            metrics.join(", ")
        );
    }
    s
}

fn csv(rows: &[Row]) -> String {
    let keys: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut s = String::from("model,family,preset,params,train_seconds,train_steps,nll,nll_unit,nll_kind,samples_per_second,data");
    for k in &keys {
        s += &format!(",{k}");
    }
    s.push('\n');
    for r in rows {
        s += &format!(
            "{},{},{},{},{:.3},{},{},{},{},{:.1},\"{}\"",
            r.model,
            r.family,
            r.preset,
            r.params,
            r.train_seconds,
            r.train_steps,
            r.nll.map(|v| v.to_string()).unwrap_or_default(),
            r.nll_unit,
            r.nll_kind,
            r.samples_per_second,
            r.data.replace('"', "'")
        );
        for k in &keys {
            s += &format!(
                ",{}",
                r.metrics.get(*k).map(|v| v.to_string()).unwrap_or_default()
            );
        }
        s.push('\n');
    }
    s
}
