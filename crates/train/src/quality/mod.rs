//! Sample quality for every family: the domain classifier ([`classifier`]) and the scorers
//! ([`scorer`]) that `compare`, `eval --samples` and the trainer's periodic evaluation share.
pub mod classifier;
pub mod scorer;
#[cfg(test)]
mod tests;

pub use scorer::{ImageScorer, ModeScorer, QualityOptions, Scored, Scorer};

use genzoo_core::data::Dataset;
use genzoo_core::model::GenerativeModel;
use genzoo_core::{seed, Result};
use std::collections::BTreeMap;
use std::time::Instant;
use tch::Tensor;

/// The names of every metric a scorer reports (any of them can be `best_metric`).
pub const METRICS: &[&str] = &[
    "fid-domain",
    "kid-domain",
    "precision",
    "recall",
    "classes_covered",
    "class_kl_uniform",
    "is-domain",
    "memorized_share",
    "modes_covered",
    "high_quality_share",
];

/// Samples per class (or code value) that [`Scorer::score_classes`] classifies.
pub const CLASS_SAMPLES: i64 = 200;

/// Test examples whose reconstructions [`Scorer::score_reconstructions`] classifies.
pub const RECON_EXAMPLES: i64 = 1000;

/// The sample-quality columns of one model, as `compare`, `eval --quality-samples` and a library
/// user compute them: `samples` (drawn by [`draw_samples`]) scored, then the model's
/// class-conditional samples ([`CLASS_SAMPLES`] per class, seeded by `seed`) and its
/// reconstructions of the first [`RECON_EXAMPLES`] examples of `test` classified, where it has
/// them. Returns every metric and the samples' own [`Scored`] (closest pairs for
/// [`scorer::save_pairs`]).
///
/// # Errors
/// As [`Scorer::score`], [`Scorer::score_classes`] and [`Scorer::score_reconstructions`].
pub fn score_model(
    scorer: &dyn Scorer,
    model: &dyn GenerativeModel,
    samples: &Tensor,
    test: &Dataset,
    seed: u64,
) -> Result<(BTreeMap<String, f64>, Scored)> {
    let scored = scorer.score(samples)?;
    let mut metrics = scorer.score_classes(model, CLASS_SAMPLES, seed)?;
    metrics.extend(scorer.score_reconstructions(model, test, RECON_EXAMPLES)?);
    metrics.extend(scored.metrics.clone());
    Ok((metrics, scored))
}

/// Samples per `sample` call when scoring (seeds derived per call).
pub const SAMPLE_CHUNK: i64 = 1000;

/// `n` samples of `model` on the CPU, drawn in calls of at most [`SAMPLE_CHUNK`] (call `i`
/// seeded by `seed::derive(seed, "quality-samples", i)`), and the samples per second.
///
/// # Errors
/// A sampling error of the model.
pub fn draw_samples(model: &dyn GenerativeModel, n: i64, seed_: u64) -> Result<(Tensor, f64)> {
    let t = Instant::now();
    let mut parts = vec![];
    let mut done = 0;
    while done < n {
        let m = SAMPLE_CHUNK.min(n - done);
        let s = model.sample(
            m,
            seed::derive(seed_, "quality-samples", parts.len() as u64),
        )?;
        parts.push(s.f_to_device(tch::Device::Cpu)?);
        done += m;
    }
    let sps = n as f64 / t.elapsed().as_secs_f64().max(1e-9);
    Ok((Tensor::f_cat(&parts, 0)?, sps))
}
