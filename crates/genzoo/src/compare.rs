//! The cross-family comparison grid as a library: which models a table holds by default, the
//! reference row of the data itself, and each model trained, evaluated and scored in turn
//! (through `genzoo_train::compare`), a failure costing its own row only.
use std::time::Instant;

use genzoo_core::data::{transforms, DataKind, Split};
use genzoo_core::model::{EvalReport, Family, GenerativeModel};
use genzoo_core::Result;
use genzoo_train::compare::{compare_model, write_tables, CompareOptions, Row};
use genzoo_train::quality::Scorer;

/// The deep models of `compare --quick` on images: at least one of every family, each a few
/// minutes at most on two CPU cores at 300 steps.
pub const QUICK_IMAGE_MODELS: &[&str] =
    &["made", "pixelcnn", "vae-mlp", "iwae", "realnvp", "dcgan"];

/// The deep models of `compare --quick` on vectors (the 2-D toys).
pub const QUICK_VECTOR_MODELS: &[&str] = &["realnvp-2d", "maf", "gan-mlp"];

/// The models a table on `split` holds: the classical baselines that take its data, then every
/// catalogue model that takes it (with `quick`, [`QUICK_IMAGE_MODELS`] or
/// [`QUICK_VECTOR_MODELS`] only).
pub fn default_models(split: &Split, quick: bool) -> Vec<String> {
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
    let quick_deep = if image {
        QUICK_IMAGE_MODELS
    } else {
        QUICK_VECTOR_MODELS
    };
    for s in crate::catalogue() {
        let deep = s.family != Family::Baseline;
        if deep && (s.accepts)(&split.train.kind) && (!quick || quick_deep.contains(&s.name)) {
            v.push(s.name.to_string());
        }
    }
    v
}

/// How long a table's runs are unless the caller says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridDefaults {
    /// Training steps of each deep model.
    pub steps: u64,
    /// Importance samples per test example for latent-variable models.
    pub importance_samples: usize,
    /// Samples drawn, timed and scored per model.
    pub samples: i64,
}

/// The defaults of a table on data of `kind`: 300 training steps per deep model on images with
/// `quick`, else 3,000; toy vectors ten times as many (their models are small, so they take the
/// same time); k = 200 importance samples with `quick`, else 5,000; 1,000 samples scored with
/// `quick`, else 10,000.
pub fn grid_defaults(kind: &DataKind, quick: bool) -> GridDefaults {
    let steps = match (kind.is_image(), quick) {
        (true, true) => 300,
        (true, false) => 3000,
        (false, true) => 3000,
        (false, false) => 20000,
    };
    GridDefaults {
        steps,
        importance_samples: if quick { 200 } else { 5000 },
        samples: if quick { 1000 } else { 10_000 },
    }
}

/// The rows that failed or hold a number that is not valid (NaN, infinite, an invalid
/// likelihood), each as `model: why`.
pub fn invalid_rows(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| match &r.error {
            Some(e) => Some(format!("{}: {e}", r.model)),
            None => EvalReport {
                nll: r.nll,
                data: r.data.clone(),
                metrics: r.metrics.clone(),
            }
            .check_valid(&r.model)
            .err()
            .map(|e| e.to_string()),
        })
        .collect()
}

/// What [`run_grid`] reports as it goes.
pub enum Progress<'a> {
    /// Model `name` starts training.
    Start(&'a str),
    /// A row is done (or failed, holding its error), after `seconds`.
    Done(&'a Row, f64),
}

/// Trains, evaluates and scores each of `models` in turn, appending its row to `rows` and
/// rewriting the tables in `opts.out` after every model (with `header`); for models with a
/// density on a 2-D toy, `OUT/MODEL/density.png` too. A model that fails (data its shape limits
/// cannot take, an error during its run) becomes a row holding the error: it never costs the
/// other rows or the table.
///
/// # Errors
/// An I/O error writing the tables or a heatmap.
pub fn run_grid(
    models: &[String],
    split: &Split,
    opts: &CompareOptions,
    header: &serde_json::Value,
    rows: &mut Vec<Row>,
    device: tch::Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let specs = crate::catalogue();
    for name in models {
        let t = Instant::now();
        progress(Progress::Start(name));
        let row = match compare_model(&specs, name, split, opts, device) {
            Ok((row, model)) => {
                if let Some(out) = &opts.out {
                    write_toy_heatmap(model.as_ref(), &opts.dataset, &out.join(name))?;
                }
                row
            }
            Err(e) => {
                let family = specs
                    .iter()
                    .find(|s| s.name == name)
                    .map_or("?", |s| s.family.as_str());
                Row {
                    error: Some(e.to_string()),
                    ..Row::empty(name, family)
                }
            }
        };
        progress(Progress::Done(&row, t.elapsed().as_secs_f64()));
        rows.push(row);
        if let Some(out) = &opts.out {
            write_tables(out, header.clone(), rows)?;
        }
    }
    Ok(())
}

/// The sample-quality figures of the training data itself (up to `n` examples): what a model
/// that draws the data distribution would score, the first row of a table.
///
/// # Errors
/// As [`Scorer::score`].
pub fn reference_row(scorer: &dyn Scorer, split: &Split, n: i64) -> Result<Row> {
    let x = split.train.x.narrow(0, 0, n.min(split.train.len()));
    let x = if split.train.kind.is_image() {
        transforms::scale_unit(&x)
    } else {
        x
    };
    let mut row = Row::empty("training data", "reference");
    row.data = format!("{} ({} examples)", split.train.name, x.size()[0]);
    row.metrics = scorer.score(&x)?.metrics;
    Ok(row)
}

/// For a model with a density on a 2-D toy set: `RUN/density.png`, the learned density beside the
/// true one. Nothing for other models or data.
///
/// # Errors
/// As `genzoo_train::heatmap::write_heatmap`.
pub fn write_toy_heatmap(
    model: &dyn GenerativeModel,
    dataset: &str,
    run_dir: &std::path::Path,
) -> Result<()> {
    use genzoo_data::toy::{Toy, TrueDensity};
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
    let mut truth = |x: &tch::Tensor| toy.log_prob(x);
    let truth: Option<genzoo_train::heatmap::LogDensity<'_>> = if toy.has_density() {
        Some(&mut truth)
    } else {
        None
    };
    let (lo, hi) = toy.bounds();
    tch::no_grad(|| {
        genzoo_train::heatmap::write_heatmap(
            &run_dir.join("density.png"),
            &mut f,
            truth,
            lo,
            hi,
            200,
        )
    })
}
