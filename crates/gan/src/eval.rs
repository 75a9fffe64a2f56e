//! Evaluation of a GAN, which defines no likelihood (the report's `nll` is `None`): the
//! discriminator's view of test data against as many seeded samples, and, on the Gaussian-mixture
//! toys, the modes the samples cover.
//!
//! * `d_real`, `d_fake`: mean discriminator outputs (running batch-norm statistics).
//! * `disc_auc`: `P(D(x) > D(G(z)))` over all test/sample pairs (ties count half; the
//!   Mann-Whitney statistic), 1/2 when the discriminator cannot tell them apart. Any objective.
//! * `disc_accuracy`: the balanced accuracy at the objective's own decision point
//!   ([`crate::objective::Objective::says_real`]); absent for the Wasserstein critics.
//! * `d_loss`, `g_loss`: the objective's losses on these outputs (without WGAN-GP's penalty).
//! * `modes_covered`, `modes`, `high_quality_share` on the Gaussian-mixture toys
//!   (`eight-gaussians`, `grid-gaussians`): core's `mode_coverage` (VEEGAN, PacGAN) with its
//!   default thresholds.
use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use crate::game::{Adversarial, Gan};
use genzoo_core::data::Dataset;
use genzoo_core::metrics::modes::{mode_coverage, ModeOptions};
use genzoo_core::model::{EvalOptions, EvalReport};
use genzoo_core::{CoreError, Result};
use genzoo_data::toy::Toy;

/// `P(real > fake) + P(real = fake) / 2` over all pairs of `real [n]` and `fake [m]`.
///
/// # Errors
/// [`CoreError::Shape`] (`d_real/d_fake`) for an empty set; a libtorch error.
pub fn auc(real: &Tensor, fake: &Tensor) -> Result<f64> {
    if real.numel() == 0 || fake.numel() == 0 {
        return Err(CoreError::shape("d_real/d_fake", "need scores of both"));
    }
    let (sorted, _) = fake
        .f_to_kind(Kind::Double)?
        .f_reshape([-1])?
        .f_sort(0, false)?;
    let r = real.f_to_kind(Kind::Double)?.f_reshape([-1])?;
    let below = r.f_searchsorted(&sorted, false, false, "left", None::<Tensor>)?;
    let at_or_below = r.f_searchsorted(&sorted, false, true, "right", None::<Tensor>)?;
    let wins = below
        .f_add(&at_or_below)?
        .f_to_kind(Kind::Double)?
        .f_mul_scalar(0.5)?;
    Ok(wins.f_mean(Kind::Double)?.f_double_value(&[])? / sorted.size()[0] as f64)
}

/// Discriminator outputs `[n]` of `x` (model space, with labels `y` for a conditional pair) in
/// chunks of `chunk`, running statistics.
fn scores<N: Adversarial>(
    gan: &Gan<N>,
    x: &Tensor,
    y: Option<&Tensor>,
    chunk: i64,
) -> Result<Tensor> {
    let n = x.size()[0];
    let parts = (0..n)
        .step_by(chunk.max(1) as usize)
        .map(|i| {
            let m = chunk.min(n - i);
            let yi = y.map(|y| y.narrow(0, i, m));
            gan.net.discriminate(&x.narrow(0, i, m), yi.as_ref(), false)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::f_cat(&parts, 0)?)
}

/// The report of [`crate::game::Gan`]'s `evaluate` (see the module's documentation).
///
/// # Errors
/// [`CoreError::Shape`] for an empty dataset or data of another shape than the model's; a
/// libtorch error.
pub fn evaluate<N: Adversarial>(
    gan: &Gan<N>,
    data: &Dataset,
    opts: &EvalOptions,
) -> Result<EvalReport> {
    let data = genzoo_vae::eval::eval_subset(data, opts)?;
    let n = data.len();
    let chunk = opts.batch_size.max(1);
    let objective = gan.net.game().objective;
    let mut metrics = BTreeMap::new();
    let samples = tch::no_grad(|| -> Result<Tensor> {
        let real = gan.to_model_space(&data.x)?;
        let samples = gan.sample_model_space(n, opts.seed)?;
        let (y_real, y_fake) = (gan.labels_of(data.y.as_ref(), n)?, gan.cycled_labels(n)?);
        let (r, f) = (
            scores(gan, &real, y_real.as_ref(), chunk)?,
            scores(gan, &samples, y_fake.as_ref(), chunk)?,
        );
        let mut put = |k: &str, v: f64| metrics.insert(k.to_string(), v);
        put("d_real", r.f_mean(Kind::Double)?.f_double_value(&[])?);
        put("d_fake", f.f_mean(Kind::Double)?.f_double_value(&[])?);
        put("disc_auc", auc(&r, &f)?);
        if let (Some(sr), Some(sf)) = (objective.says_real(&r)?, objective.says_real(&f)?) {
            let acc = |t: &Tensor| -> Result<f64> {
                Ok(t.f_to_kind(Kind::Double)?
                    .f_mean(Kind::Double)?
                    .f_double_value(&[])?)
            };
            put("disc_accuracy", 0.5 * (acc(&sr)? + 1.0 - acc(&sf)?));
        }
        for (k, t) in objective
            .d_losses(&r, &f)?
            .to_map()
            .into_iter()
            .chain(objective.g_losses(&f)?.to_map())
        {
            put(&k, t);
        }
        Ok(samples)
    })?;
    let mut what = String::new();
    if let Some(c) = toy_modes(&data, &samples)? {
        metrics.insert("modes_covered".into(), c.modes_covered as f64);
        metrics.insert("modes".into(), c.modes as f64);
        metrics.insert("high_quality_share".into(), c.high_quality_share);
        what = format!(
            "; modes covered by {n} samples (within {} std, at least {:.1}% each)",
            ModeOptions::default().radius_stds,
            100.0 * ModeOptions::default().min_share
        );
    }
    Ok(EvalReport {
        nll: None,
        data: format!(
            "{} ({n}) against {n} samples (seed {}); {}: no likelihood, discriminator scores ({}){what}",
            data.name,
            opts.seed,
            gan.net.name(),
            objective.label()
        ),
        metrics,
    })
}

/// Mode coverage of `samples` when `data` comes from a toy mixture of equal-width Gaussians.
fn toy_modes(
    data: &Dataset,
    samples: &Tensor,
) -> Result<Option<genzoo_core::metrics::modes::ModeCoverage>> {
    let Some(mix) = Toy::of_dataset(data).and_then(Toy::mixture) else {
        return Ok(None);
    };
    let std = mix.stds[0];
    if mix.dim() < 2 || mix.stds.iter().any(|&s| s != std) {
        return Ok(None);
    }
    let flat: Vec<f64> = mix.means.iter().flatten().copied().collect();
    let centres = Tensor::from_slice(&flat).f_view([mix.means.len() as i64, mix.dim() as i64])?;
    let s = samples.f_to_device(tch::Device::Cpu)?;
    Ok(Some(mode_coverage(
        &s,
        &centres,
        std,
        &ModeOptions::default(),
    )?))
}
