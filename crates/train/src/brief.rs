//! A few hundred steps with no files and no terminal output: what the family crates' examples
//! and a quick experiment need before the full [`crate::Trainer`] configuration matters.
use genzoo_core::data::Split;
use genzoo_core::model::GenerativeModel;
use genzoo_core::Result;

use crate::{TrainConfig, TrainSummary, Trainer};

/// Trains `model` on `split` for `steps` steps of batch 64 at learning rate `lr` with Adam and the
/// model's own betas where it names them (GANs: 0.5, 0.999), writing no files and evaluating
/// nothing; the data order and every random draw come from seed 0.
///
/// # Errors
/// As [`Trainer::fit`].
pub fn fit_briefly(
    model: &mut dyn GenerativeModel,
    split: &Split,
    steps: u64,
    lr: f64,
) -> Result<TrainSummary> {
    let mut cfg = TrainConfig {
        sample_count: 0,
        progress: false,
        ..TrainConfig::quick(steps, 64, lr)
    };
    if let Some(betas) = model.adam_betas() {
        cfg.optimizer.betas = betas;
    }
    Trainer::new(cfg, None)?.fit(model, split)
}
