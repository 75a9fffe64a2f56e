//! `cargo xtask eval`: a trained run's likelihood (saying what it is) and metrics, or the sample
//! quality of images made anywhere.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use genzoo::core::model::{EvalOptions, GenerativeModel};
use genzoo::Run;
use serde_json::json;
use tch::Device;

use crate::data::load;

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory or a checkpoint directory in it.
    #[arg(long, required_unless_present = "samples")]
    checkpoint: Option<PathBuf>,
    /// Score images made anywhere instead of a checkpoint: a folder of PNG files or an IDX
    /// image file, against --dataset (default mnist10k) with its domain classifier
    /// (`fid-domain`, `kid-domain`, precision, recall, classes covered, memorization).
    #[arg(long, conflicts_with = "checkpoint")]
    samples: Option<PathBuf>,
    /// With --checkpoint: also draw this many samples and score them with the data's
    /// sample-quality scorer (`fid-domain`, `kid-domain`, precision, recall, classes covered;
    /// modes on the 2-D mixtures). 0: none.
    #[arg(long, default_value_t = 0)]
    quality_samples: i64,
    #[command(flatten)]
    quality: crate::quality::QualityArgs,
    /// Evaluate on another dataset of the same kind (default: the run's).
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Importance samples per example for latent-variable models.
    #[arg(long, default_value_t = 5000)]
    importance_samples: usize,
    /// Evaluate on at most this many test examples.
    #[arg(long)]
    max_examples: Option<i64>,
    /// Seed of every random choice of the evaluation (binarization, importance samples, sample draws)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// JSON file to write (default: RUN/eval.json for the run's latest weights,
    /// RUN/eval-NAME.json for a checkpoint or pointer NAME such as `best` or `step-300`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write each test example's NLL to this CSV (index,label,nll,unit), for models with a
    /// per-example likelihood.
    #[arg(long)]
    per_example: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    /// Use the EMA weights when the checkpoint has them.
    #[arg(long)]
    ema: bool,
}

/// Prints a report's likelihood (value, unit, kind) and metrics.
pub fn print_report(r: &genzoo::core::model::EvalReport) {
    match r.nll {
        Some(nll) => println!("test NLL {nll} on {}", r.data),
        None => println!("no likelihood on {}", r.data),
    }
    for (k, v) in &r.metrics {
        println!("  {k}: {v:.6}");
    }
}

/// Says so when the sample-quality figures come from fewer samples than they need.
fn warn_few(metrics: &std::collections::BTreeMap<String, f64>) {
    if metrics.get("too_few_samples").is_some_and(|v| *v >= 1.0) {
        println!(
            "warning: {} samples are fewer than the {} the sample-quality figures need: fid-domain \
             is biased upward and recall inflated at this size (see docs/sample-quality.md)",
            metrics.get("quality_samples").copied().unwrap_or(0.0),
            genzoo::train::quality::scorer::MIN_QUALITY_SAMPLES
        );
    }
}

/// Where `eval` writes by default: into the run directory, named after the checkpoint asked
/// for, never into a checkpoint folder that the trainer prunes.
fn default_out(run: &Run, asked: &Path, ema: bool) -> PathBuf {
    let ema = if ema { "-ema" } else { "" };
    let named = asked
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|_| genzoo::train::run::run_root(asked) != asked);
    match named {
        Some(n) => run.root.join(format!("eval-{n}{ema}.json")),
        None => run.root.join(format!("eval{ema}.json")),
    }
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let device = genzoo::core::device::select_device(a.device.as_deref())?;
    if let Some(dir) = &a.samples {
        return eval_samples(&a, dir, device);
    }
    let checkpoint = a
        .checkpoint
        .clone()
        .context("--checkpoint or --samples is needed")?;
    let run = genzoo::open_run_with(&checkpoint, device, genzoo::OpenOptions { ema: a.ema })?;
    let dataset = match &a.dataset {
        Some(d) => d.clone(),
        None => run.dataset()?,
    };
    let split = run.load_data(Some(&dataset), a.data_root.as_deref())?;
    let opts = EvalOptions {
        importance_samples: a.importance_samples,
        seed: a.seed,
        max_examples: a.max_examples,
        ..EvalOptions::default()
    };
    opts.validate()?; // `--importance-samples 0` is refused, as `train` refuses it
    let model = run.model.as_ref();
    if a.per_example.is_some() && model.per_example_nll().is_none() {
        bail!(
            "{} has no per-example likelihood: --per-example needs a model with one",
            model.name()
        );
    }
    // Importance samples come from torch's generator: seed it from --seed before each pass, so
    // that the per-example NLLs average to the report exactly.
    genzoo::core::seed::seed_torch_stream(opts.seed, "eval", 0);
    let t = Instant::now();
    let mut r = model.evaluate(&split.test, &opts)?;
    if a.quality_samples > 0 {
        let Some(scorer) = crate::quality::scorer(&a.quality, &dataset, &split, device)? else {
            bail!("`{dataset}` has no sample-quality scorer (labelled images or a 2-D Gaussian-mixture toy)");
        };
        let (samples, _) =
            genzoo::train::quality::draw_samples(model, a.quality_samples, opts.seed)?;
        let (metrics, _) = genzoo::train::quality::score_model(
            scorer.as_ref(),
            model,
            &samples,
            &split.test,
            opts.seed,
        )?;
        r.metrics.extend(metrics);
    }
    let secs = t.elapsed().as_secs_f64();
    print_report(&r);
    warn_few(&r.metrics);
    if let Some(file) = &a.per_example {
        genzoo::core::seed::seed_torch_stream(opts.seed, "eval", 0);
        write_per_example(model, &split.test, &opts, file)?;
    }
    println!("evaluated in {secs:.1} s");
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_out(&run, &checkpoint, a.ema));
    let rec = json!({"model": model.name(), "family": model.family(), "checkpoint": run.checkpoint,
        "report": r, "eval_seconds": secs, "options": opts});
    genzoo::core::io::write_atomic(&out, &serde_json::to_vec_pretty(&rec)?)?;
    println!("-> {}", out.display());
    r.check_valid(model.name())?;
    Ok(())
}

/// Writes `file` as CSV `index,label,nll,unit`: each example's NLL from the model's per-example
/// capability (its mean is the report's NLL).
fn write_per_example(
    model: &dyn GenerativeModel,
    test: &genzoo::core::data::Dataset,
    opts: &EvalOptions,
    file: &Path,
) -> Result<()> {
    let cap = model.per_example_nll().with_context(|| {
        format!(
            "{} has no per-example likelihood (no --per-example)",
            model.name()
        )
    })?;
    let e = cap.nll_per_example(test, opts)?;
    let nll: Vec<f64> = Vec::try_from(&e.nll)?;
    let labels: Option<Vec<i64>> = match &test.y {
        Some(y) => Some(Vec::try_from(&y.to_device(Device::Cpu))?),
        None => None,
    };
    let mut csv = String::from("index,label,nll,unit\n");
    for (i, v) in nll.iter().enumerate() {
        let label = labels
            .as_ref()
            .and_then(|l| l.get(i))
            .map_or(String::new(), |l| l.to_string());
        csv.push_str(&format!("{i},{label},{v},{}\n", e.unit.label()));
    }
    genzoo::core::io::write_atomic(file, csv.as_bytes())?;
    println!(
        "{} per-example NLLs ({}, {}) on {} -> {}",
        nll.len(),
        e.unit.label(),
        e.kind.label(),
        e.data,
        file.display()
    );
    Ok(())
}

/// `eval --samples PATH`: scores images from files against a dataset's test split; writes
/// `PATH.quality.json` (or `--out`) and the closest sample/training pairs beside it
/// (`*.memorization.png`).
fn eval_samples(a: &EvalArgs, path: &Path, device: Device) -> Result<()> {
    let dataset = a.dataset.clone().unwrap_or_else(|| "mnist10k".into());
    let split = load(&dataset, a.data_root.as_deref())?;
    let x = genzoo::data::images::load_images(path)?;
    let channels = match split.train.kind {
        genzoo::core::data::DataKind::Image { channels, .. } => channels,
        other => bail!("`{dataset}` holds {other:?} data, not images: --samples scores images"),
    };
    let (x, note) = genzoo::data::images::fit_channels(x, channels, path)?;
    if let Some(note) = note {
        println!("note: {}: {note}", path.display());
    }
    println!(
        "scoring {} images {:?} from {} against {dataset}",
        x.size()[0],
        &x.size()[1..],
        path.display()
    );
    let o = a.quality.options();
    let scorer = genzoo::scoring::image_scorer(
        &o.classifier_cache,
        &o.classifier_preset,
        &dataset,
        &split,
        device,
    )?;
    let samples = genzoo::core::data::transforms::scale_unit(&x);
    let t = Instant::now();
    let scored = genzoo::train::quality::Scorer::score(&scorer, &samples)?;
    for (k, v) in &scored.metrics {
        println!("  {k:<20} {v:.4}");
    }
    warn_few(&scored.metrics);
    println!(
        "scored in {:.1} s; {}",
        t.elapsed().as_secs_f64(),
        genzoo::train::quality::Scorer::describe(&scorer)
    );
    let stem = path.to_string_lossy().trim_end_matches('/').to_string();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.quality.json")));
    genzoo::train::quality::scorer::save_pairs(
        &out.with_extension("memorization.png"),
        &scored,
        &samples,
        &split.train,
    )?;
    let rec = json!({"samples": path, "dataset": dataset, "metrics": scored.metrics, "binary": scored.binary,
        "closest_pairs": scored.closest, "quality": genzoo::train::quality::Scorer::describe(&scorer)});
    genzoo::core::io::write_atomic(&out, &serde_json::to_vec_pretty(&rec)?)?;
    println!("-> {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eval`'s default output lies in the run directory, named after the checkpoint asked for.
    #[test]
    fn default_outputs_are_named_after_the_checkpoint_in_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        crate::sample::tests::tiny_run(&run);
        let opened = genzoo::open_run(&run, Device::Cpu).unwrap();
        let step = run.join("checkpoints/step-00000002");
        assert_eq!(default_out(&opened, &run, false), run.join("eval.json"));
        assert_eq!(
            default_out(&opened, &step, false),
            run.join("eval-step-00000002.json")
        );
        assert_eq!(
            default_out(&opened, &run.join("best"), true),
            run.join("eval-best-ema.json")
        );
    }
}
