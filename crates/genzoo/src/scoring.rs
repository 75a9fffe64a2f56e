//! Which sample-quality scorer a dataset gets: labelled images (8x8 or larger, two classes or
//! more) the domain classifier (the shipped one for the shipped data, else trained once and
//! cached by the data's SHA-256), the 2-D Gaussian-mixture toys their known modes, other data
//! none. The classifier and the metrics live in `genzoo_train::quality` and
//! `genzoo_core::metrics`.
use std::path::{Path, PathBuf};
use std::rc::Rc;

use genzoo_core::data::{DataKind, Split};
use genzoo_core::{CoreError, Result};
use genzoo_data::toy::Toy;
use genzoo_train::quality::{classifier, ImageScorer, ModeScorer, QualityOptions, Scorer};
use tch::Device;

/// Where the domain classifier comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScorerOptions {
    /// Domain-classifier preset (`mnist` or `tiny`).
    pub classifier_preset: String,
    /// Where classifiers trained here are cached (by dataset and training-data SHA-256).
    pub classifier_cache: PathBuf,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        ScorerOptions {
            classifier_preset: "mnist".into(),
            classifier_cache: PathBuf::from("runs/classifiers"),
        }
    }
}

/// The scorer of `split` (named `dataset`), or `None` for data that has none.
///
/// # Errors
/// As [`image_scorer`] for labelled images; [`CoreError::Shape`] for a toy mixture whose modes
/// cannot make a scorer.
pub fn scorer_for(
    dataset: &str,
    split: &Split,
    device: Device,
    opts: &ScorerOptions,
) -> Result<Option<Rc<dyn Scorer>>> {
    if let Some(m) = Toy::from_name(dataset)
        .and_then(Toy::mixture)
        .filter(|m| m.dim() == 2)
    {
        return Ok(Some(Rc::new(ModeScorer::new(&m.means, m.stds[0])?)));
    }
    let labelled = split.train.num_classes.is_some_and(|k| k >= 2);
    let big_enough = matches!(
        split.train.kind,
        DataKind::Image {
            height: 8..,
            width: 8..,
            ..
        }
    );
    if !(labelled && big_enough) {
        return Ok(None);
    }
    let s = image_scorer(
        &opts.classifier_cache,
        &opts.classifier_preset,
        dataset,
        split,
        device,
    )?;
    Ok(Some(Rc::new(s)))
}

/// The domain-classifier scorer of a labelled image split: the classifier shipped beside the
/// shipped datasets (`datasets/classifiers`) when it was trained on these very data, else one
/// trained once and cached under `cache`.
///
/// # Errors
/// [`CoreError::Model`] naming the classifier of `dataset` when it cannot be loaded or trained;
/// the scorer's errors on the reference statistics.
pub fn image_scorer(
    cache: &Path,
    preset: &str,
    dataset: &str,
    split: &Split,
    device: Device,
) -> Result<ImageScorer> {
    let shipped = genzoo_data::registry::shipped_root().map(|d| d.join("classifiers"));
    let c = match shipped
        .map(|d| classifier::load(&d, split, dataset, preset, device))
        .transpose()?
        .flatten()
    {
        Some(c) => c,
        None => classifier::load_or_train(cache, split, dataset, preset, device).map_err(|e| {
            CoreError::model(
                format!("the domain classifier of `{dataset}`"),
                e.to_string(),
            )
        })?,
    };
    ImageScorer::new(c, &split.train, &split.test, QualityOptions::default())
}
