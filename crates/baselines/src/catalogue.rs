//! The baselines by name: catalogue entries and [`build`] from a preset with overrides.

use genzoo_core::data::DataKind;
use genzoo_core::model::Family;
use genzoo_core::model::{BuildArgs, GenerativeModel, ModelSpec};
use genzoo_core::{CoreError, Result};

use crate::*;
use genzoo_core::model::{config_from, Owned};

/// The baselines as catalogue entries, in table order: each builds a [`BaselineModel`] (the
/// [`Fit`](genzoo_core::model::Fit) capability instead of gradient steps) through the same
/// [`genzoo_core::model::build_model`] as the deep models.
pub fn registry() -> Vec<ModelSpec> {
    let spec = |name, about, presets, build| ModelSpec {
        name,
        family: Family::Baseline,
        about,
        presets,
        accepts: images_or_vectors,
        build,
    };
    vec![
        spec(
            "gaussian",
            "full-covariance Gaussian, maximum likelihood with a ridge",
            gaussian::PRESETS,
            |a| catalogue_model("gaussian", a),
        ),
        spec(
            "gmm-diag",
            "Gaussian mixture, diagonal covariances, EM with k-means++ init",
            gmm::PRESETS,
            |a| catalogue_model("gmm-diag", a),
        ),
        spec(
            "gmm-full",
            "Gaussian mixture, full covariances, EM with k-means++ init",
            gmm::PRESETS,
            |a| catalogue_model("gmm-full", a),
        ),
        spec(
            "ppca",
            "probabilistic PCA (Tipping & Bishop 1999), closed form",
            pca::PRESETS,
            |a| catalogue_model("ppca", a),
        ),
        spec(
            "kmeans",
            "k-means (Lloyd, k-means++ seeding); no density",
            kmeans::PRESETS,
            |a| catalogue_model("kmeans", a),
        ),
    ]
}

fn images_or_vectors(k: &DataKind) -> bool {
    k.is_image() || k.is_vector()
}

fn catalogue_model(name: &str, a: &BuildArgs) -> Result<Box<dyn GenerativeModel>> {
    let inner = build(name, a.preset, a.overrides)?;
    Ok(Box::new(Owned::build(a.device, |_| {
        Ok(BaselineModel::new(inner, a.data))
    })?))
}

/// The catalogue's names of the baselines.
fn names() -> String {
    registry()
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds a baseline by registry name and preset, with optional config overrides (unknown keys
/// are rejected with an error naming the key).
///
/// # Errors
/// [`CoreError::Unknown`] for an unknown name or preset, [`CoreError::Config`] for a bad override.
pub fn build(
    name: &str,
    preset: &str,
    overrides: Option<&serde_json::Value>,
) -> Result<Box<dyn Baseline>> {
    Ok(match name {
        "gaussian" => {
            let cfg = config_from(name, preset, overrides, gaussian::preset, gaussian::PRESETS)?;
            Box::new(Gaussian::new(cfg)?)
        }
        "gmm-diag" | "gmm-full" => {
            let cov = if name == "gmm-full" {
                CovarianceType::Full
            } else {
                CovarianceType::Diag
            };
            let mut cfg = config_from(
                name,
                preset,
                overrides,
                |p| gmm::preset(p, cov),
                gmm::PRESETS,
            )?;
            if cfg.covariance != cov {
                return Err(CoreError::config(
                    "model.covariance",
                    format!("`{name}` fixes the covariance type; use the other registry name"),
                ));
            }
            cfg.covariance = cov;
            Box::new(Gmm::new(name, cfg)?)
        }
        "ppca" => {
            let cfg = config_from(name, preset, overrides, pca::preset, pca::PRESETS)?;
            Box::new(Ppca::new(cfg)?)
        }
        "kmeans" => {
            let cfg = config_from(name, preset, overrides, kmeans::preset, kmeans::PRESETS)?;
            Box::new(KMeans::new(cfg)?)
        }
        _ => {
            return Err(CoreError::Unknown {
                what: "baseline",
                name: name.to_string(),
                known: names(),
            })
        }
    })
}
