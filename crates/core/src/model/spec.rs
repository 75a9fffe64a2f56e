//! The catalogue: how a model is found by name, described, and built from a named preset with
//! overrides ([`config_from`]), for every family and the classical baselines alike.
use tch::Device;

use super::GenerativeModel;
use crate::data::{DataKind, Dataset};
use crate::Result;

/// What a model is built from.
pub struct BuildArgs<'a> {
    /// Named preset (`tiny`, the paper's, ...).
    pub preset: &'a str,
    /// Overrides of preset fields (the `[model]` table of a TOML run config); unknown keys are
    /// rejected with an error naming the key.
    pub overrides: Option<&'a serde_json::Value>,
    /// The data the model will see.
    pub data: DataKind,
    /// Number of classes, for conditional models.
    pub num_classes: Option<i64>,
    pub device: Device,
}

/// The family a model belongs to: the crate that holds it, and the column of every table.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// The classical baselines (`genzoo-baselines`): fitted, not stepped.
    Baseline,
    /// Exact likelihoods by the chain rule (`genzoo-autoregressive`).
    Autoregressive,
    /// Autoencoders and VAEs (`genzoo-vae`).
    Vae,
    /// Normalizing flows (`genzoo-flow`).
    Flow,
    /// Two-player games (`genzoo-gan`).
    Gan,
}

impl Family {
    /// Every family, in table order.
    pub const ALL: [Family; 5] = [
        Family::Baseline,
        Family::Autoregressive,
        Family::Vae,
        Family::Flow,
        Family::Gan,
    ];

    /// The name written in tables, `config.json` and checkpoints (`vae`, `gan`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Baseline => "baseline",
            Family::Autoregressive => "autoregressive",
            Family::Vae => "vae",
            Family::Flow => "flow",
            Family::Gan => "gan",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl PartialEq<&str> for Family {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A registry entry: how the CLI finds, describes and builds a model.
pub struct ModelSpec {
    pub name: &'static str,
    pub family: Family,
    /// One line for `--help` and tables.
    pub about: &'static str,
    /// Preset names; the first is the default.
    pub presets: &'static [&'static str],
    /// Which data kinds the model accepts.
    pub accepts: fn(&DataKind) -> bool,
    pub build: fn(&BuildArgs) -> Result<Box<dyn GenerativeModel>>,
}

/// Looks a model up by name in `specs`.
///
/// # Errors
/// [`crate::CoreError::Unknown`] listing the known names.
pub fn find_spec<'a>(specs: &'a [ModelSpec], name: &str) -> Result<&'a ModelSpec> {
    specs
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| crate::CoreError::Unknown {
            what: "model",
            name: name.to_string(),
            known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })
}

/// Builds model `name` of `specs` for data of kind `data`: the one way every caller (CLI, run
/// loader, library user) turns a catalogue name into a model. `preset` defaults to the spec's
/// first (the one a user would start with); `overrides` replace preset fields.
///
/// # Errors
/// [`crate::CoreError::Unknown`] for a name not in `specs` or an unknown preset;
/// [`crate::CoreError::Config`] when the model does not take `data` or an override is invalid.
pub fn build_model(
    specs: &[ModelSpec],
    name: &str,
    preset: Option<&str>,
    overrides: Option<&serde_json::Value>,
    data: DataKind,
    num_classes: Option<i64>,
    device: Device,
) -> Result<Box<dyn GenerativeModel>> {
    let spec = find_spec(specs, name)?;
    if !(spec.accepts)(&data) {
        return Err(crate::CoreError::config(
            "data",
            format!("model `{name}` does not take {data:?} data"),
        ));
    }
    (spec.build)(&BuildArgs {
        preset: preset.unwrap_or(spec.presets[0]),
        overrides,
        data,
        num_classes,
        device,
    })
}

/// [`build_model`] for data like `data` (its kind, shape and class count), with the preset's own
/// values: what each family's `build` is.
///
/// # Errors
/// As [`build_model`].
pub fn build_for(
    specs: &[ModelSpec],
    name: &str,
    preset: Option<&str>,
    data: &Dataset,
    device: Device,
) -> Result<Box<dyn GenerativeModel>> {
    build_model(
        specs,
        name,
        preset,
        None,
        data.kind,
        data.num_classes,
        device,
    )
}

/// Builds a config from a named preset and optional overrides, rejecting unknown keys: the
/// helper every model's `build` uses. `presets(name)` returns the preset's config.
///
/// # Errors
/// [`crate::CoreError::Unknown`] for an unknown preset; [`crate::CoreError::Config`] naming the key
/// for an unknown or ill-typed override.
///
/// # Example
/// A preset with one field overridden; a misspelled key is refused naming it and the known keys:
/// ```
/// use genzoo_core::model::config_from;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Config { hidden: i64, latent: i64 }
/// let presets = |name: &str| (name == "tiny").then_some(Config { hidden: 8, latent: 2 });
/// let over = serde_json::json!({"latent": 4});
/// let cfg: Config = config_from("toy", "tiny", Some(&over), presets, &["tiny"])?;
/// assert_eq!((cfg.hidden, cfg.latent), (8, 4));
/// let bad = serde_json::json!({"hiden": 4});
/// let e = config_from("toy", "tiny", Some(&bad), presets, &["tiny"]).err().unwrap().to_string();
/// assert!(e.contains("model.hiden") && e.contains("hidden"), "{e}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn config_from<C>(
    model: &str,
    preset: &str,
    overrides: Option<&serde_json::Value>,
    presets: impl Fn(&str) -> Option<C>,
    preset_names: &[&str],
) -> Result<C>
where
    C: serde::Serialize + serde::de::DeserializeOwned,
{
    let base = presets(preset).ok_or_else(|| crate::CoreError::Unknown {
        what: "preset",
        name: format!("{model}/{preset}"),
        known: preset_names.join(", "),
    })?;
    let Some(over) = overrides else {
        return Ok(base);
    };
    let mut value = serde_json::to_value(&base)?;
    let (Some(obj), Some(over_obj)) = (value.as_object_mut(), over.as_object()) else {
        return Err(crate::CoreError::config(
            "model",
            "overrides must be a table",
        ));
    };
    for (k, v) in over_obj {
        if !obj.contains_key(k) {
            return Err(crate::CoreError::config(
                format!("model.{k}"),
                format!(
                    "unknown key for {model}; known: {}",
                    obj.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        obj.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value).map_err(|e| crate::CoreError::config("model", e.to_string()))
}

/// A preset's constructor and the names of all presets, as a catalogue entry gives them.
pub type Presets<'a, C> = (fn(&str) -> Option<C>, &'a [&'a str]);

/// The catalogue's builder for one network: `name`'s preset and overrides through
/// [`config_from`], the data kind (and whatever else the dataset decides) set by `adjust`, then
/// the network built by `new` under the root of its own variable store on `args.device`.
///
/// # Errors
/// [`crate::CoreError::Unknown`] for an unknown preset, [`crate::CoreError::Config`] for a bad
/// override, and whatever `new` returns.
pub fn build_network<C, M>(
    name: &str,
    args: &BuildArgs,
    presets: Presets<'_, C>,
    adjust: impl FnOnce(&mut C),
    new: impl FnOnce(&tch::nn::Path, &C) -> Result<M>,
) -> Result<Box<dyn GenerativeModel>>
where
    C: serde::Serialize + serde::de::DeserializeOwned,
    M: super::Network + 'static,
{
    let mut cfg = config_from(name, args.preset, args.overrides, presets.0, presets.1)?;
    adjust(&mut cfg);
    Ok(Box::new(super::Owned::build(args.device, |p| {
        new(p, &cfg)
    })?))
}
