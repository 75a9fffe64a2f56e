//! What a run covers before its first step: the data on the model's device, the seeded batches,
//! the batch size and the run's length in steps.
use genzoo_core::data::{BatchIter, Dataset, Split};
use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};

use crate::config::TrainConfig;

/// What a run covers: the data on the model's device, its batches and the run's length.
pub(crate) struct Plan {
    pub train: Dataset,
    pub test: Dataset,
    pub batches: BatchIter,
    /// Examples per batch (the configured size, at most the training set).
    pub batch_size: i64,
    pub per_epoch: u64,
    /// Steps of the whole run (what the schedule spans).
    pub total: u64,
    /// Steps this call stops after.
    pub stop: u64,
}

impl Plan {
    pub(crate) fn new(
        cfg: &TrainConfig,
        model: &dyn GenerativeModel,
        split: &Split,
        stop_at: Option<u64>,
    ) -> Result<Plan> {
        let device = model.var_store().device();
        let train = split.train.to_device(device);
        let test = split.test.to_device(device);
        let n = train.len();
        if n == 0 {
            return Err(CoreError::Invalid(format!(
                "dataset `{}` has no training example",
                train.name
            )));
        }
        if test.is_empty() && (cfg.final_eval || cfg.eval_every > 0) {
            return Err(CoreError::Invalid(format!(
                "dataset `{}` has no test example to evaluate on: give test data, or set \
                 `final_eval = false` and `eval_every = 0`",
                test.name
            )));
        }
        let batches = BatchIter::new(&train, cfg.batch_size, cfg.seed, device)?;
        let per_epoch = batches.batches_per_epoch() as u64;
        let total = match (cfg.steps, cfg.epochs) {
            (Some(s), _) => s,
            (None, Some(e)) => e * per_epoch,
            (None, None) => {
                return Err(CoreError::config("train", "set `steps` or `epochs`"));
            }
        };
        Ok(Plan {
            batch_size: cfg.batch_size.min(n),
            stop: stop_at.unwrap_or(total).min(total),
            train,
            test,
            batches,
            per_epoch,
            total,
        })
    }
}
