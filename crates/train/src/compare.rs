//! The cross-model comparison as a library: train (or fit) a model of any family from the
//! catalogue on one split, evaluate it, time its sampler, and lay the rows out as the Markdown,
//! CSV and JSON tables that `cargo xtask compare` prints and writes.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use genzoo_core::data::{DataKind, Split};
use genzoo_core::io::write_atomic;
use genzoo_core::model::{build_model, find_spec, EvalOptions, GenerativeModel, ModelSpec, Nll};
use genzoo_core::{seed, CoreError, Result};

use std::rc::Rc;

use crate::quality::scorer::save_pairs;
use crate::quality::Scorer;
use crate::{OptimConfig, TrainConfig, Trainer};

/// One row of the table.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Row {
    pub model: String,
    pub family: String,
    pub preset: String,
    /// Trainable parameters (for fitted baselines: the fit's free parameters).
    pub params: usize,
    /// Wall-clock seconds of training or fitting.
    pub train_seconds: f64,
    /// Gradient steps (0 for fitted baselines).
    pub train_steps: u64,
    /// The test NLL with its unit and kind; `None` for models without a likelihood.
    pub nll: Option<Nll>,
    /// Samples per second of one call drawing [`CompareOptions::samples`] samples.
    pub samples_per_second: f64,
    pub data: String,
    pub metrics: BTreeMap<String, f64>,
    /// Why the model has no results, when it failed (its other fields are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Row {
    /// A row without results (for a model that failed: set `error`; for a reference: `metrics`).
    pub fn empty(name: &str, family: &str) -> Row {
        Row {
            model: name.into(),
            family: family.into(),
            preset: String::new(),
            params: 0,
            train_seconds: 0.0,
            train_steps: 0,
            nll: None,
            samples_per_second: 0.0,
            data: String::new(),
            metrics: BTreeMap::new(),
            error: None,
        }
    }
}

/// How each model of a comparison is trained and evaluated.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Training steps of each deep model.
    pub steps: u64,
    /// Evaluation options (importance samples, seed).
    pub eval: EvalOptions,
    /// Seed of training, fitting and sampling.
    pub seed: u64,
    /// Where each model's run directory goes (`OUT/MODEL`), or `None` for no files.
    pub out: Option<PathBuf>,
    /// Metadata recorded in each run's `config.json` (the dataset's name).
    pub dataset: String,
    /// Samples drawn (and timed) after training, in calls of at most
    /// [`crate::quality::SAMPLE_CHUNK`]; the grid
    /// shows up to 64 of them, and the scorer scores all of them.
    pub samples: i64,
    /// The sample-quality scorer of this data (domain classifier or known modes), if any.
    pub scorer: Option<Rc<dyn Scorer>>,
    /// Sampling temperature for the models that have one (recorded as the `temperature`
    /// metric of their rows); `None`: every model's own.
    pub temperature: Option<f64>,
    /// Overrides of each model's preset (as `[model]` in a run config), e.g. a GAN trick.
    pub overrides: Option<serde_json::Value>,
    /// An EMA of the weights, used for evaluation and sampling (a GAN: of its generator).
    pub ema: Option<crate::ema::EmaConfig>,
    /// `compare --quick`: a model's `quick` preset, where it has one, before the data's.
    pub quick: bool,
}

/// The preset a model runs with in a table: with `quick`, its `quick` preset where it has one;
/// else one named for the data (`mnist` for 28x28 images, `toy`, else `paper`, for vectors) when
/// the model has it, else its default (first) preset.
pub fn preferred_preset(presets: &[&'static str], kind: &DataKind, quick: bool) -> &'static str {
    if let Some(p) = presets.iter().copied().find(|&p| quick && p == "quick") {
        return p;
    }
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
        .unwrap_or(presets.first().copied().unwrap_or("default"))
}

/// Seconds a table spends drawing one model's samples before it draws fewer (see
/// [`sample_count`]).
pub const SAMPLE_BUDGET_SECONDS: f64 = 120.0;

/// How many of `wanted` samples a table draws from `model`: all of them, unless a timed probe of
/// 16 (seeded apart from the samples themselves) says they would take over
/// [`SAMPLE_BUDGET_SECONDS`] (the autoregressive models that sample one pixel at a time without a
/// cache: PixelCNN++, PixelRNN, the VLAE); then as many as fit the budget, but never fewer than
/// [`crate::quality::scorer::MIN_QUALITY_SAMPLES`] (nor more than `wanted`).
///
/// # Errors
/// A sampling error of the model.
pub fn sample_count(model: &dyn GenerativeModel, wanted: i64, seed: u64) -> Result<i64> {
    let floor = crate::quality::scorer::MIN_QUALITY_SAMPLES;
    if wanted <= floor {
        return Ok(wanted);
    }
    let probe = 16;
    let t = std::time::Instant::now();
    let _ = model.sample(probe, seed::derive(seed, "sample-probe", 0))?;
    let per_sample = t.elapsed().as_secs_f64() / probe as f64;
    let fits = (SAMPLE_BUDGET_SECONDS / per_sample.max(1e-12)) as i64;
    Ok(wanted.min(fits.max(floor)))
}

/// Free parameters of a trained model: those its fit reports (the baselines), else its trainable
/// tensors' elements.
fn param_count(model: &dyn GenerativeModel, s: &crate::TrainSummary) -> usize {
    match s.fit.as_ref().and_then(|f| f.get("params")) {
        Some(p) => *p as usize,
        None => model
            .var_store()
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum(),
    }
}

/// Builds `name` of `specs` with its [`preferred_preset`], trains it for `opts.steps` steps (or
/// fits it, for models with the `Fit` capability), evaluates it on `split.test` and times
/// `opts.samples` samples; returns the row and the trained model (for pictures a caller draws). A run
/// directory `opts.out/name` is replaced.
///
/// # Errors
/// An unknown model, data the model does not take, or any training or evaluation error.
pub fn compare_model(
    specs: &[ModelSpec],
    name: &str,
    split: &Split,
    opts: &CompareOptions,
    device: tch::Device,
) -> Result<(Row, Box<dyn GenerativeModel>)> {
    let spec = find_spec(specs, name)?;
    let preset = preferred_preset(spec.presets, &split.train.kind, opts.quick);
    // Initial weights come from torch's generator, seeded as `cargo xtask train` seeds it.
    seed::seed_torch_stream(opts.seed, "init", 0);
    let mut model = build_model(
        specs,
        name,
        Some(preset),
        opts.overrides.as_ref(),
        split.train.kind,
        split.train.num_classes,
        device,
    )?;
    let cfg = TrainConfig {
        steps: Some(opts.steps),
        seed: opts.seed,
        final_eval: false,
        // Which model runs and how far: a bar on a terminal, a line per tenth in a log.
        progress: true,
        // The table draws its own samples below; no second grid at the end of training.
        sample_count: 0,
        eval: opts.eval.clone(),
        ema: opts.ema.clone(),
        optimizer: OptimConfig {
            betas: model.adam_betas().unwrap_or(OptimConfig::default().betas),
            ..OptimConfig::default()
        },
        ..TrainConfig::default()
    };
    let run_dir = opts.out.as_ref().map(|o| o.join(name));
    if let Some(d) = run_dir.as_ref().filter(|d| d.exists()) {
        std::fs::remove_dir_all(d).map_err(|e| CoreError::io(d, e))?;
    }
    let mut trainer = Trainer::new(cfg.clone(), run_dir.as_deref())?;
    trainer.set_dataset(&opts.dataset);
    trainer.set_preset(Some(preset));
    let s = trainer.fit(model.as_mut(), split)?;
    if opts.ema.is_some() {
        // The table scores the averaged weights: load them from the final checkpoint.
        let dir = run_dir.as_deref().ok_or_else(|| {
            CoreError::config("ema", "comparing EMA weights needs an output folder")
        })?;
        crate::checkpoint::load_weights(model.as_mut(), dir, true)?;
    }
    let mut r = model.evaluate(&split.test, &cfg.eval)?;
    if let Some(t) = opts.temperature {
        // models without a temperature sample as they are
        if model.set_temperature(t).is_ok() {
            r.metrics.insert("temperature".into(), t);
        }
    }
    let n = sample_count(model.as_ref(), opts.samples.max(1), opts.seed)?;
    if n < opts.samples {
        r.metrics.insert("samples_capped".into(), n as f64);
    }
    let (samples, sps) = crate::quality::draw_samples(model.as_ref(), n, opts.seed)?;
    if let (Some(d), true) = (&run_dir, samples.dim() == 4) {
        let shown = samples.narrow(0, 0, n.min(64));
        crate::image::save_grid(d.join("samples.png"), &shown, 8)?;
    }
    if let Some(scorer) = &opts.scorer {
        let (metrics, scored) = crate::quality::score_model(
            scorer.as_ref(),
            model.as_ref(),
            &samples,
            &split.test,
            opts.seed,
        )?;
        if let Some(d) = &run_dir {
            save_pairs(&d.join("memorization.png"), &scored, &samples, &split.train)?;
        }
        r.metrics.extend(metrics);
    }
    let params = param_count(model.as_ref(), &s);
    let row = Row {
        model: name.into(),
        family: spec.family.to_string(),
        preset: preset.into(),
        params,
        train_seconds: s.seconds,
        train_steps: s.steps,
        nll: r.nll,
        samples_per_second: sps,
        data: r.data,
        metrics: r.metrics,
        error: None,
    };
    Ok((row, model))
}

pub use crate::quality::{CLASS_SAMPLES, RECON_EXAMPLES};

/// Metrics shown in the Markdown table when present (all of them are in the JSON and CSV).
const KEY_METRICS: &[&str] = &[
    "samples_capped",
    "too_few_samples",
    "mode_collapse",
    "class_consistency",
    "class_agreement",
    "recon_class_agreement",
    "degenerate_fit",
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

/// `name value`, with `± se` when the row has the metric's standard error (`name_se`), and
/// the estimator's ceiling named when the value sits at it (mutual information near log n).
fn metric_cell(r: &Row, k: &str, v: f64) -> String {
    if k == "mode_collapse" {
        return match v >= 1.0 {
            true => "MODE COLLAPSE (under 90% of the modes or classes covered)".into(),
            false => String::new(),
        };
    }
    if k == "samples_capped" {
        return format!("{v} samples (its sampler is too slow for the table's count)");
    }
    if k == "too_few_samples" {
        let n = r.metrics.get("quality_samples").copied().unwrap_or(0.0);
        return match v >= 1.0 {
            true => format!(
                "TOO FEW SAMPLES ({n} < {}: fid-domain biased upward, recall inflated)",
                crate::quality::scorer::MIN_QUALITY_SAMPLES
            ),
            false => String::new(),
        };
    }
    let mut cell = format!("{k} {v:.3}");
    if let Some(se) = r.metrics.get(&format!("{k}_se")) {
        cell += &format!(" ± {se:.3}");
    }
    if let (true, Some(b)) = (k == "mutual_info_nats", r.metrics.get("mutual_info_bound")) {
        if v >= 0.97 * b {
            cell += &format!(" (at its ceiling log n = {b:.3})");
        }
    }
    cell
}

fn nll_cells(nll: Option<Nll>, digits: usize) -> [String; 3] {
    match nll {
        Some(n) => [
            format!("{:.*}", digits, n.value),
            n.unit.label().into(),
            n.kind.label().into(),
        ],
        None => ["-".into(), "-".into(), "none".into()],
    }
}

/// Sample-quality columns of the Markdown table: (header, metric, digits), shown when any row
/// has the metric.
const QUALITY_COLUMNS: &[(&str, &str, usize)] = &[
    ("fid-domain", "fid-domain", 2),
    ("kid-domain", "kid-domain", 3),
    ("precision", "precision", 3),
    ("recall", "recall", 3),
    ("classes", "classes_covered", 0),
    ("memorized", "memorized_share", 4),
    ("modes", "modes_covered", 0),
    ("high quality", "high_quality_share", 3),
];

fn quality_cell(r: &Row, key: &str, digits: usize) -> String {
    let Some(v) = r.metrics.get(key) else {
        return "-".into();
    };
    match (key, r.metrics.get("kid-domain_std"), r.metrics.get("modes")) {
        ("kid-domain", Some(sd), _) => format!("{v:.digits$} ± {sd:.digits$}"),
        ("modes_covered", _, Some(m)) => format!("{v:.0}/{m:.0}"),
        _ => format!("{v:.digits$}"),
    }
}

/// The table in Markdown: likelihood, the sample-quality columns any row has, speed, and a few
/// key metrics per row; a failed model shows its error.
pub fn markdown(rows: &[Row]) -> String {
    let quality: Vec<&(&str, &str, usize)> = QUALITY_COLUMNS
        .iter()
        .filter(|(_, k, _)| rows.iter().any(|r| r.metrics.contains_key(*k)))
        .collect();
    let mut s = String::from("| model | family | params | train s | test NLL | unit | kind |");
    let mut rule = String::from("|---|---|---:|---:|---:|---|---|");
    for (h, _, _) in &quality {
        s += &format!(" {h} |");
        rule += "---:|";
    }
    s += &format!(" samples/s | metrics |\n{rule}---:|---|\n");
    for r in rows {
        let metrics: Vec<String> = match &r.error {
            Some(e) => vec![format!(
                "failed: {}",
                e.replace('|', "/").replace('\n', " ")
            )],
            None => KEY_METRICS
                .iter()
                .filter_map(|k| r.metrics.get(*k).map(|v| metric_cell(r, k, *v)))
                .filter(|c| !c.is_empty())
                .take(4)
                .collect(),
        };
        let [mut v, unit, kind] = nll_cells(r.nll, 3);
        if let Some(se) = r.metrics.get("nll_se") {
            v += &format!(" ± {se:.3}");
        }
        s += &format!(
            "| {} | {} | {} | {:.1} | {v} | {unit} | {kind} |",
            r.model, r.family, r.params, r.train_seconds
        );
        for (_, k, d) in &quality {
            s += &format!(" {} |", quality_cell(r, k, *d));
        }
        let sps = if r.samples_per_second > 0.0 {
            format!("{:.0}", r.samples_per_second)
        } else {
            "-".into()
        };
        s += &format!(" {sps} | {} |\n", metrics.join(", "));
    }
    s
}

/// The table as CSV, every metric a column (empty where a model lacks it).
pub fn csv(rows: &[Row]) -> String {
    let keys: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut s = String::from("model,family,preset,params,train_seconds,train_steps,nll,nll_unit,nll_kind,samples_per_second,data,error");
    for k in &keys {
        s += &format!(",{k}");
    }
    s.push('\n');
    for r in rows {
        let (v, unit, kind) = match r.nll {
            Some(n) => (n.value.to_string(), n.unit.label(), n.kind.label()),
            None => (String::new(), "", "none"),
        };
        s += &format!(
            "{},{},{},{},{:.3},{},{v},{unit},{kind},{:.1},\"{}\",\"{}\"",
            r.model,
            r.family,
            r.preset,
            r.params,
            r.train_seconds,
            r.train_steps,
            r.samples_per_second,
            r.data.replace('"', "'"),
            r.error.as_deref().unwrap_or("").replace('"', "'")
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

/// Writes `compare.json` (with `header`'s fields beside the rows), `compare.csv` and
/// `compare.md` into `out`, each atomically; returns the Markdown.
///
/// # Errors
/// An I/O error naming the file.
pub fn write_tables(out: &Path, header: serde_json::Value, rows: &[Row]) -> Result<String> {
    let mut json = header;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("rows".into(), serde_json::to_value(rows)?);
    }
    let table = markdown(rows);
    write_atomic(
        &out.join("compare.json"),
        &serde_json::to_vec_pretty(&json)?,
    )?;
    write_atomic(&out.join("compare.csv"), csv(rows).as_bytes())?;
    write_atomic(&out.join("compare.md"), table.as_bytes())?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table's preset: `quick` first under `--quick` (where a model has one), then the data's
    /// (`mnist` for 28x28 images, `toy` then `paper` for vectors), then the model's default.
    #[test]
    fn presets_follow_quick_then_the_data() {
        let mnist = DataKind::Image {
            channels: 1,
            height: 28,
            width: 28,
        };
        let rgb = DataKind::Image {
            channels: 3,
            height: 32,
            width: 32,
        };
        let with_quick: &[&'static str] = &["mnist", "paper", "quick", "tiny"];
        assert_eq!(preferred_preset(with_quick, &mnist, true), "quick");
        assert_eq!(preferred_preset(with_quick, &mnist, false), "mnist");
        assert_eq!(
            preferred_preset(&["paper", "mnist", "tiny"], &mnist, true),
            "mnist"
        );
        assert_eq!(
            preferred_preset(&["paper", "mnist", "tiny"], &rgb, false),
            "paper"
        );
        let vec2 = DataKind::Vector { dim: 2 };
        assert_eq!(
            preferred_preset(&["paper", "toy", "tiny"], &vec2, false),
            "toy"
        );
    }

    /// Estimated metrics carry their standard error into the table, and a
    /// mutual information at its estimator's ceiling says so.
    #[test]
    fn tables_show_standard_errors_and_ceilings() {
        let mut r = Row::empty("gaussian", "baseline");
        r.metrics = [("kl_to_truth", 1.412), ("kl_to_truth_se", 0.007)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut v = Row::empty("vae-mlp", "vae");
        v.metrics = [
            ("mutual_info_nats", 6.88),
            ("mutual_info_bound", 6.908),
            ("nll_se", 0.9),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        v.nll = Some(Nll::new(
            128.6,
            genzoo_core::units::NllUnit::Nats,
            genzoo_core::model::LikelihoodKind::IsEstimate,
        ));
        let mut collapsed = Row::empty("gan-mlp", "gan");
        collapsed.metrics = [
            ("modes_covered", 17.0),
            ("modes", 25.0),
            ("mode_collapse", 1.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut fine = collapsed.clone();
        fine.model = "gan-mlp-sn".into();
        fine.metrics.insert("mode_collapse".into(), 0.0);
        let t = markdown(&[r, v, collapsed, fine]);
        assert!(t.contains("17/25 | - | MODE COLLAPSE"), "{t}");
        assert_eq!(t.matches("MODE COLLAPSE").count(), 1, "{t}");
        assert!(t.contains("kl_to_truth 1.412 ± 0.007"), "{t}");
        assert!(t.contains("(at its ceiling log n = 6.908)"), "{t}");
        assert!(t.contains("128.600 ± 0.900"), "{t}");
    }
}
