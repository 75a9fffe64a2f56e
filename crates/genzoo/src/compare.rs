//! The cross-family comparison grid as a library: which models a table holds by default, the
//! reference row of the data itself, and each model trained, evaluated and scored in turn
//! (through `genzoo_train::compare`), a failure costing its own row only.
use std::time::Instant;

use genzoo_core::data::{transforms, Split};
use genzoo_core::model::GenerativeModel;
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
        let deep = s.family != "baseline";
        if deep && (s.accepts)(&split.train.kind) && (!quick || quick_deep.contains(&s.name)) {
            v.push(s.name.to_string());
        }
    }
    v
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
                    .map_or("?", |s| s.family);
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
/// As `genzoo_flow::heatmap::write_heatmap`.
#[cfg(feature = "flow")]
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
    })
}

/// Without the `flow` feature there is no heatmap writer: nothing is drawn.
///
/// # Errors
/// Never.
#[cfg(not(feature = "flow"))]
pub fn write_toy_heatmap(
    _model: &dyn GenerativeModel,
    _dataset: &str,
    _run_dir: &std::path::Path,
) -> Result<()> {
    Ok(())
}
