//! Which sample-quality scorer a dataset gets (orchestration only: the classifier and the math
//! live in `genzoo_train::quality` and `genzoo_core::metrics`): labelled images get the domain
//! classifier (trained once and cached under `runs/classifiers`), the 2-D Gaussian-mixture toys
//! their known modes, other data none.
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::Args;
use genzoo_core::data::{DataKind, Split};
use genzoo_data::toy::Toy;
use genzoo_train::quality::{classifier, ImageScorer, ModeScorer, QualityOptions, Scorer};

/// Options of the sample-quality columns.
#[derive(Args, Clone, Debug)]
pub struct QualityArgs {
    /// Domain-classifier preset (mnist or tiny).
    #[arg(long, default_value = DEFAULT_PRESET)]
    pub classifier_preset: String,
    /// Where trained domain classifiers are cached (by dataset and training-data SHA-256).
    #[arg(long, default_value = DEFAULT_CACHE)]
    pub classifier_cache: PathBuf,
    /// No sample-quality columns (no classifier is trained).
    #[arg(long)]
    pub no_quality: bool,
}

const DEFAULT_PRESET: &str = "mnist";
const DEFAULT_CACHE: &str = "runs/classifiers";

impl Default for QualityArgs {
    fn default() -> Self {
        QualityArgs {
            classifier_preset: DEFAULT_PRESET.into(),
            classifier_cache: DEFAULT_CACHE.into(),
            no_quality: false,
        }
    }
}

/// The scorer of `split` (named `dataset`), or `None` for data without one; prints what it is.
pub fn scorer(
    a: &QualityArgs,
    dataset: &str,
    split: &Split,
    device: tch::Device,
) -> Result<Option<Rc<dyn Scorer>>> {
    if a.no_quality {
        return Ok(None);
    }
    if let Some(m) = Toy::from_name(dataset)
        .and_then(Toy::mixture)
        .filter(|m| m.dim() == 2)
    {
        let s = ModeScorer::new(&m.means, m.stds[0])?;
        println!("sample quality: {}", s.describe());
        return Ok(Some(Rc::new(s)));
    }
    let labelled = split.train.num_classes.is_some_and(|k| k >= 2);
    if !matches!(
        split.train.kind,
        DataKind::Image {
            height: 8..,
            width: 8..,
            ..
        }
    ) || !labelled
    {
        return Ok(None);
    }
    let s = image_scorer(
        &a.classifier_cache,
        &a.classifier_preset,
        dataset,
        split,
        device,
    )?;
    println!("sample quality: {}", s.describe());
    Ok(Some(Rc::new(s)))
}

/// The domain-classifier scorer of a labelled image split.
pub fn image_scorer(
    cache: &Path,
    preset: &str,
    dataset: &str,
    split: &Split,
    device: tch::Device,
) -> Result<ImageScorer> {
    let t = std::time::Instant::now();
    // The shipped data ships its classifier (datasets/classifiers, keyed by the data's SHA-256);
    // anything else is trained once and cached.
    let shipped = genzoo_data::registry::shipped_root().map(|d| d.join("classifiers"));
    let c = match shipped
        .map(|d| classifier::load(&d, split, dataset, preset, device))
        .transpose()?
        .flatten()
    {
        Some(c) => c,
        None => classifier::load_or_train(cache, split, dataset, preset, device)
            .with_context(|| format!("the domain classifier of `{dataset}`"))?,
    };
    if t.elapsed().as_secs_f64() > 1.0 {
        println!(
            "trained the domain classifier of {dataset} in {:.0} s: test accuracy {:.2}% (binarized {:.2}%)",
            c.info.train_seconds,
            100.0 * c.info.test_accuracy,
            100.0 * c.info.binarized_test_accuracy
        );
    }
    Ok(ImageScorer::new(
        c,
        &split.train,
        &split.test,
        QualityOptions::default(),
    )?)
}
