//! The sample-quality flags shared by `train`, `eval`, `compare` and `tricks`; which scorer a
//! dataset gets is `genzoo::scoring`'s policy.
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::Result;
use clap::Args;
use genzoo::core::data::Split;
use genzoo::scoring::ScorerOptions;
use genzoo::train::quality::Scorer;

/// Options of the sample-quality columns.
#[derive(Args, Clone, Debug)]
pub struct QualityArgs {
    /// Domain-classifier preset (mnist or tiny).
    #[arg(long, default_value = "mnist")]
    pub classifier_preset: String,
    /// Where trained domain classifiers are cached (by dataset and training-data SHA-256).
    #[arg(long, default_value = "runs/classifiers")]
    pub classifier_cache: PathBuf,
    /// No sample-quality columns (no classifier is trained).
    #[arg(long)]
    pub no_quality: bool,
}

impl Default for QualityArgs {
    fn default() -> Self {
        let o = ScorerOptions::default();
        QualityArgs {
            classifier_preset: o.classifier_preset,
            classifier_cache: o.classifier_cache,
            no_quality: false,
        }
    }
}

impl QualityArgs {
    pub fn options(&self) -> ScorerOptions {
        ScorerOptions {
            classifier_preset: self.classifier_preset.clone(),
            classifier_cache: self.classifier_cache.clone(),
        }
    }
}

/// The scorer of `split` (named `dataset`), or `None` for data without one (or with
/// `--no-quality`); prints what it is.
pub fn scorer(
    a: &QualityArgs,
    dataset: &str,
    split: &Split,
    device: tch::Device,
) -> Result<Option<Rc<dyn Scorer>>> {
    if a.no_quality {
        return Ok(None);
    }
    let s = genzoo::scoring::scorer_for(dataset, split, device, &a.options())?;
    if let Some(s) = &s {
        println!("sample quality: {}", s.describe());
    }
    Ok(s)
}
