//! Tests of the GAN family: tiny configurations, seconds each, asserting closed forms and
//! invariants.
//!
//! * [`objective`]: every objective's value on hand-made outputs against its formula, the
//!   gradient penalty of a linear critic against `lambda (|w| - 1)^2`, weight clipping.
//! * [`game`]: each player's step changes its own group only, `n_critic` = 3 gives 3:1 group
//!   steps, diverging players stop the run naming the step and every part, clipping in training,
//!   every discriminator weight is listed for clipping.
//! * [`models`]: one training step and one seeded sample for every model and preset, every
//!   objective on both models, DCGAN's sizes, evaluation reports, configuration errors.
//! * [`toy`]: the MLP GAN covers the modes of the 8-Gaussian ring.
//! * [`tricks`]: the training tricks by hand, spectral normalization's singular value, the
//!   discriminator against D* on 1-D Gaussians, every trick in a step of both models.
//! * [`cgan`]: the label reaches both players; a short run puts each class at its own mode.
//! * [`infogan`]: the codes' draws and entropy, `L_I` against hand values, Q trained with the
//!   discriminator, class-fixed sampling and traversal grids.
//! * [`bigan`]: the encoder's swapped loss by hand, reconstructions, ALI's sampling encoder, a
//!   short run on the ring whose `G(E(x))` beats the mean example.
//! * [`latent`]: the AAE's priors (the mixture integrates to 1) and KL, AVB's proposal, both
//!   models' likelihood reports.
mod bigan;
mod cgan;
mod game;
mod infogan;
mod latent;
mod models;
mod objective;
mod toy;
mod tricks;

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::model::{build_model, GenerativeModel};
use genzoo_train::TrainConfig;
use tch::{Device, Kind, Tensor};

/// `n` seeded random 8-bit images `[n, c, side, side]`.
pub(crate) fn images(n: i64, c: i64, side: i64, seed: i64) -> Dataset {
    tch::manual_seed(seed);
    Dataset {
        name: format!("random-images-{seed}"),
        kind: DataKind::Image {
            channels: c,
            height: side,
            width: side,
        },
        x: Tensor::randint(256, [n, c, side, side], (Kind::Uint8, Device::Cpu)),
        y: None,
        num_classes: None,
    }
}

/// A split of random images.
pub(crate) fn image_split(n: i64, c: i64, side: i64) -> Split {
    Split {
        train: images(n, c, side, 1),
        test: images(n, c, side, 2),
    }
}

/// A split of `n` random 28x28 grey images with random labels of `k` classes.
pub(crate) fn labelled_split(n: i64, k: i64) -> Split {
    let labelled = |seed| {
        let d = images(n, 1, 28, seed);
        Dataset {
            y: Some(Tensor::randint(k, [n], (Kind::Int64, Device::Cpu))),
            num_classes: Some(k),
            ..d
        }
    };
    Split {
        train: labelled(3),
        test: labelled(4),
    }
}

/// A small split of the 8-Gaussian ring.
pub(crate) fn toy_split(n: i64) -> Split {
    genzoo_data::toy::Toy::EightGaussians.split(n, n, 0)
}

/// Model `name` of the catalogue from `preset` with `overrides` for data of `kind`, with weights
/// seeded by 0.
pub(crate) fn build(
    name: &str,
    preset: &str,
    overrides: serde_json::Value,
    kind: DataKind,
) -> Box<dyn GenerativeModel> {
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    build_model(
        &crate::registry(),
        name,
        Some(preset),
        Some(&overrides),
        kind,
        None,
        Device::Cpu,
    )
    .unwrap_or_else(|e| panic!("{name}/{preset}: {e}"))
}

/// `steps` steps of Adam at 1e-3, no files, no evaluation.
pub(crate) fn quick(steps: u64, batch: i64) -> TrainConfig {
    TrainConfig {
        progress: false,
        sample_count: 0,
        ..TrainConfig::quick(steps, batch, 1e-3)
    }
}

/// Copies of the trainable variables whose names start with `prefix`, sorted by name.
pub(crate) fn snapshot(model: &dyn GenerativeModel, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = model
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, t)| n.starts_with(prefix) && t.requires_grad())
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Names of the variables that differ between two snapshots of the same model.
pub(crate) fn changed(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> Vec<String> {
    a.iter()
        .zip(b)
        .filter(|((_, x), (_, y))| !x.equal(y))
        .map(|((n, _), _)| n.clone())
        .collect()
}

/// The scalar value of a 0-d tensor.
pub(crate) fn val(t: &Tensor) -> f64 {
    t.double_value(&[])
}
