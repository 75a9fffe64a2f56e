//! The one full catalogue: every model of every enabled family and the classical baselines,
//! found by name and built with seeded initial weights.
use std::path::Path;

use genzoo_core::data::{Dataset, Split};
use genzoo_core::model::{GenerativeModel, ModelSpec};
use genzoo_core::{CoreError, Result};
use tch::Device;

/// Every model the enabled features bring: the classical baselines first (they open every
/// comparison table), then the autoregressive, VAE, flow and GAN families. Names are unique
/// (tested in `tests/front_door.rs`).
pub fn catalogue() -> Vec<ModelSpec> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(feature = "baselines")]
    v.extend(genzoo_baselines::registry());
    #[cfg(feature = "autoregressive")]
    v.extend(genzoo_autoregressive::registry());
    #[cfg(feature = "vae")]
    v.extend(genzoo_vae::registry());
    #[cfg(feature = "flow")]
    v.extend(genzoo_flow::registry());
    #[cfg(feature = "gan")]
    v.extend(genzoo_gan::registry());
    v
}

/// Builds catalogue model `name` for data like `data` (its kind, shape and class count), from
/// `preset` (default: the model's first, see `cargo xtask models`) with `overrides` of its
/// fields, its initial weights drawn from torch's generator seeded by `seed` (stream `init`), so
/// that the same seed builds the same weights wherever it is called.
///
/// # Errors
/// [`CoreError::Unknown`] for a name or preset not in the catalogue; [`CoreError::Config`] when
/// the model does not take `data` or an override is unknown or ill-typed.
pub fn build(
    name: &str,
    preset: Option<&str>,
    overrides: Option<&serde_json::Value>,
    data: &Dataset,
    device: Device,
    seed: u64,
) -> Result<Box<dyn GenerativeModel>> {
    genzoo_core::seed::seed_torch_stream(seed, "init", 0);
    genzoo_core::model::build_model(
        &catalogue(),
        name,
        preset,
        overrides,
        data.kind,
        data.num_classes,
        device,
    )
}

/// Loads a dataset by name (`mnist10k`, `mnist10k-colour`, `piano`, `fashion-mnist`, `cifar10`,
/// a toy set such as `eight-gaussians`) or folder (IDX files, audio files), with downloaded sets
/// looked up under `root` (default: `$GENZOO_DATA`, else `./data`).
///
/// # Errors
/// [`CoreError::Dataset`] naming the dataset, with the reader's own error (which names the file).
pub fn load_dataset(name: &str, root: Option<&Path>) -> Result<Split> {
    let root = root
        .map(Path::to_path_buf)
        .unwrap_or_else(genzoo_data::registry::default_data_root);
    genzoo_data::registry::load(name, &root).map_err(|e| CoreError::Dataset {
        name: name.to_string(),
        msg: e.to_string(),
    })
}
