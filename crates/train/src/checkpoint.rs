//! Checkpoints: the weights as safetensors (readable by PyTorch's
//! `safetensors.torch.load_file`), the optimizer state and EMA shadows as safetensors, and the
//! training state as JSON, written atomically.
//!
//! Layout of a run directory's `checkpoints/`:
//! ```text
//! step-00000100/ model.safetensors  optim.safetensors  [ema.safetensors]  state.json
//! latest          one line: the directory name of the newest checkpoint
//! best            one line: the directory name of the best checkpoint (kept when pruning)
//! ```
//! A checkpoint is written into `.tmp-*` in the same directory, every file fsynced, then the
//! directory is renamed into place and the pointer is replaced by an atomic rename, so a
//! process killed at any moment leaves the previous checkpoint and pointer readable.
//! Loading checks every tensor's name, dtype and shape against the model itself (tch's
//! `VarStore::load` can broadcast silently) and fails naming the tensor and both shapes.
use std::collections::{BTreeMap, HashMap};
use std::fs;

use genzoo_core::io::{sync_dir, unique_suffix, write_atomic, write_synced};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::config::TrainConfig;
use crate::optim::OptimKind;
use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};

/// The pointer file naming the newest checkpoint.
pub const LATEST: &str = "latest";
/// The pointer file naming the best checkpoint.
pub const BEST: &str = "best";
/// Format version written into `state.json`.
pub const FORMAT: u32 = 1;

/// One optimizer's scalar state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub name: String,
    pub kind: OptimKind,
    /// Steps taken by this optimizer (Adam's bias correction).
    pub steps_taken: u64,
}

/// The best evaluation so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// Metric name (`nll` or a key of the report's metrics).
    pub metric: String,
    pub value: f64,
    /// Steps done when it was measured.
    pub step: u64,
    /// The checkpoint directory holding it, when a run directory is used.
    pub checkpoint: Option<String>,
}

/// The training state saved next to the weights (`state.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub format: u32,
    /// Steps done.
    pub step: u64,
    /// Data position of the next step: epoch and batch within it.
    pub epoch: u64,
    pub batch_in_epoch: u64,
    /// How randomness resumes: torch is reseeded from `(train.seed, step)` before every step
    /// and the data order of epoch `e` is drawn from `(train.seed, "shuffle", e)`.
    pub rng: String,
    pub model: String,
    pub family: String,
    pub model_config: serde_json::Value,
    pub train: TrainConfig,
    pub groups: Vec<GroupState>,
    pub best: Option<BestRecord>,
    /// Evaluations since the best one (early stopping).
    pub evals_since_best: u64,
    pub has_ema: bool,
    pub last_losses: BTreeMap<String, f64>,
    /// [`crate::guard::data_fingerprint`] of the training data (absent in older checkpoints).
    #[serde(default)]
    pub data_fingerprint: Option<String>,
}

fn dtype_of(kind: Kind, name: &str) -> Result<Dtype> {
    Ok(match kind {
        Kind::Bool => Dtype::BOOL,
        Kind::Uint8 => Dtype::U8,
        Kind::Int8 => Dtype::I8,
        Kind::Int16 => Dtype::I16,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        k => {
            return Err(CoreError::shape(
                name,
                format!("dtype {k:?} cannot be saved as safetensors"),
            ))
        }
    })
}

fn kind_of(d: Dtype, name: &str) -> Result<Kind> {
    Ok(match d {
        Dtype::BOOL => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F16 => Kind::Half,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        d => {
            return Err(CoreError::shape(
                name,
                format!("safetensors dtype {d:?} is not supported"),
            ))
        }
    })
}

/// Serializes named tensors to safetensors bytes (PyTorch layout: contiguous, little-endian,
/// metadata `format = pt`).
///
/// # Errors
/// [`CoreError::Shape`] naming a tensor whose dtype safetensors cannot store (e.g. complex) or
/// whose data does not match its shape; [`CoreError::Invalid`] when serialization fails; a libtorch
/// error when a tensor cannot be copied to the CPU.
pub fn safetensors_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut owned = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.detach().to_device(Device::Cpu).contiguous();
        let dtype = dtype_of(t.kind(), name)?;
        let numel = t.numel();
        let mut data = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        t.f_copy_data_u8(&mut data, numel)?;
        let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
        owned.push((name.clone(), dtype, shape, data));
    }
    let views = owned
        .iter()
        .map(|(n, d, s, data)| {
            TensorView::new(*d, s.clone(), data)
                .map(|v| (n.clone(), v))
                .map_err(|e| CoreError::shape(n, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::tensor::serialize(views, &Some(meta))
        .map_err(|e| CoreError::Invalid(format!("safetensors: {e}")))
}

/// Reads every tensor of a safetensors file (on the CPU).
///
/// # Errors
/// [`CoreError::Io`] when `path` cannot be read; [`CoreError::Format`] naming `path` when it is not
/// a safetensors file; [`CoreError::Shape`] naming a tensor of an unsupported dtype; a libtorch
/// error.
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let bytes = fs::read(path).map_err(|e| CoreError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| CoreError::format(path, format!("not a safetensors file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let kind = kind_of(view.dtype(), &name)?;
        let shape: Vec<i64> = view.shape().iter().map(|&s| s as i64).collect();
        out.insert(name, Tensor::f_from_data_size(view.data(), &shape, kind)?);
    }
    Ok(out)
}

/// Copies `src` into `dst` tensor by tensor after checking that both hold exactly the same names,
/// dtypes and shapes; errors name the file, the tensor and both shapes.
///
/// # Errors
/// [`CoreError::Checkpoint`] naming `file` and the tensor when a tensor of `dst` is missing from
/// `src`, differs in shape or dtype, or when `src` holds a tensor that `dst` lacks; a libtorch
/// error from the copy.
pub fn load_checked(
    dst: &BTreeMap<String, Tensor>,
    src: &BTreeMap<String, Tensor>,
    file: &Path,
) -> Result<()> {
    for (name, d) in dst {
        let s = src.get(name).ok_or_else(|| CoreError::Checkpoint {
            path: file.to_path_buf(),
            msg: format!("tensor `{name}` (shape {:?}) is missing", d.size()),
        })?;
        if s.size() != d.size() {
            return Err(CoreError::Checkpoint {
                path: file.to_path_buf(),
                msg: format!(
                    "tensor `{name}`: checkpoint shape {:?}, model shape {:?}",
                    s.size(),
                    d.size()
                ),
            });
        }
        if s.kind() != d.kind() {
            return Err(CoreError::Checkpoint {
                path: file.to_path_buf(),
                msg: format!(
                    "tensor `{name}`: checkpoint dtype {:?}, model dtype {:?}",
                    s.kind(),
                    d.kind()
                ),
            });
        }
    }
    if let Some(extra) = src.keys().find(|k| !dst.contains_key(*k)) {
        return Err(CoreError::Checkpoint {
            path: file.to_path_buf(),
            msg: format!(
                "tensor `{extra}` (shape {:?}) is not in the model",
                src[extra].size()
            ),
        });
    }
    let _guard = tch::no_grad_guard();
    for (name, d) in dst {
        let mut d = d.shallow_clone();
        d.f_copy_(&src[name])?;
    }
    Ok(())
}

/// A model's variables by name.
pub fn model_vars(model: &dyn GenerativeModel) -> BTreeMap<String, Tensor> {
    model.var_store().variables().into_iter().collect()
}

/// Everything one checkpoint holds besides the JSON state.
pub struct CheckpointTensors {
    pub weights: Vec<(String, Tensor)>,
    pub optim: Vec<(String, Tensor)>,
    pub ema: Option<Vec<(String, Tensor)>>,
}

/// The directory name of the checkpoint taken after `step` steps.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Writes a checkpoint into `ckpt_dir/step-NNNNNNNN` atomically and returns its directory name.
/// Pointers are not touched (see [`set_pointer`]).
///
/// # Errors
/// [`CoreError::Io`] naming the directory or file when `ckpt_dir` or the temporary checkpoint
/// directory cannot be created, a file cannot be written or synced, or a rename fails (the
/// temporary directory is then removed); the errors of [`safetensors_bytes`]; a JSON error for
/// `state`.
pub fn save(ckpt_dir: &Path, state: &TrainState, tensors: &CheckpointTensors) -> Result<String> {
    fs::create_dir_all(ckpt_dir).map_err(|e| CoreError::io(ckpt_dir, e))?;
    let name = step_dir_name(state.step);
    let tmp = ckpt_dir.join(format!(".tmp-{name}-{}", unique_suffix()));
    fs::create_dir(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    let result = (|| {
        write_synced(
            &tmp.join("model.safetensors"),
            &safetensors_bytes(&tensors.weights)?,
        )?;
        write_synced(
            &tmp.join("optim.safetensors"),
            &safetensors_bytes(&tensors.optim)?,
        )?;
        if let Some(ema) = &tensors.ema {
            write_synced(&tmp.join("ema.safetensors"), &safetensors_bytes(ema)?)?;
        }
        write_synced(&tmp.join("state.json"), &serde_json::to_vec_pretty(state)?)?;
        sync_dir(&tmp)?;
        let dst = ckpt_dir.join(&name);
        if dst.exists() {
            // Same step written again (a resumed run): move the old one aside first; the pointer
            // still names a directory that [`resolve`] falls back from if it is missing.
            let trash = ckpt_dir.join(format!(".trash-{name}-{}", unique_suffix()));
            fs::rename(&dst, &trash).map_err(|e| CoreError::io(&dst, e))?;
            fs::rename(&tmp, &dst).map_err(|e| CoreError::io(&dst, e))?;
            let _ = fs::remove_dir_all(&trash);
        } else {
            fs::rename(&tmp, &dst).map_err(|e| CoreError::io(&dst, e))?;
        }
        sync_dir(ckpt_dir)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result.map(|_| name)
}

/// Points `ckpt_dir/which` (`latest` or `best`) at the checkpoint directory `target`, atomically.
///
/// # Errors
/// [`CoreError::Io`] naming the pointer file (or its temporary file) when the atomic write fails,
/// e.g. when `ckpt_dir` does not exist.
pub fn set_pointer(ckpt_dir: &Path, which: &str, target: &str) -> Result<()> {
    write_atomic(&ckpt_dir.join(which), format!("{target}\n").as_bytes())
}

/// Removes leftovers of interrupted writes (`.tmp-*`, `.trash-*`) and all but the newest `keep`
/// checkpoints, never the ones named in `protect`.
///
/// # Errors
/// [`CoreError::Io`] naming `ckpt_dir` when it cannot be listed (failures to remove a directory are
/// ignored).
pub fn prune(ckpt_dir: &Path, keep: usize, protect: &[&str]) -> Result<()> {
    let mut steps = Vec::new();
    for entry in fs::read_dir(ckpt_dir).map_err(|e| CoreError::io(ckpt_dir, e))? {
        let entry = entry.map_err(|e| CoreError::io(ckpt_dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".tmp-") || name.starts_with(".trash-") {
            let _ = fs::remove_dir_all(entry.path());
        } else if name.starts_with("step-") {
            steps.push(name);
        }
    }
    steps.sort();
    let n = steps.len();
    for name in steps.into_iter().take(n.saturating_sub(keep)) {
        if !protect.contains(&name.as_str()) {
            let _ = fs::remove_dir_all(ckpt_dir.join(name));
        }
    }
    Ok(())
}

/// `latest` or `best` when `path` names a pointer (the file in `checkpoints/`, or `RUN/latest`,
/// `RUN/best` as shorthands) rather than a directory.
pub(crate) fn pointer_name(path: &Path) -> Option<&'static str> {
    if path.is_dir() {
        return None;
    }
    match path.file_name()?.to_str()? {
        LATEST => Some(LATEST),
        BEST => Some(BEST),
        _ => None,
    }
}

fn read_pointer(ckpt_dir: &Path, which: &str) -> Option<PathBuf> {
    let name = fs::read_to_string(ckpt_dir.join(which)).ok()?;
    let dir = ckpt_dir.join(name.trim());
    dir.join("state.json").is_file().then_some(dir)
}

/// The checkpoint directory meant by `path`: a checkpoint directory itself, a `checkpoints/`
/// directory or a run directory (its `latest`, or the newest complete `step-*` if the pointer
/// is missing or dangling), or a pointer: `RUN/checkpoints/latest`, `RUN/checkpoints/best`, or
/// the shorthands `RUN/latest` and `RUN/best`.
///
/// # Errors
/// [`CoreError::Io`] when the checkpoint folder cannot be listed; [`CoreError::Checkpoint`] naming
/// `path` when it holds no `latest` pointer to a complete checkpoint and no complete `step-*`
/// directory.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    resolve_pointer(path, LATEST)
}

/// Like [`resolve`] but following the `best` pointer.
///
/// # Errors
/// [`CoreError::Checkpoint`] naming `path` when it is not a checkpoint directory and holds no
/// `best` pointer to a complete checkpoint (there is no fallback).
pub fn resolve_best(path: &Path) -> Result<PathBuf> {
    resolve_pointer(path, BEST)
}

/// Why pointer `name` of `ckpt_dir` leads nowhere, and what to use instead.
fn missing_pointer(ckpt_dir: &Path, name: &str) -> String {
    if name == BEST && !ckpt_dir.join(BEST).exists() {
        return "no best checkpoint was recorded in this run: a run marks one at each evaluation \
                that improves its `best_metric` (the test NLL by default) and at its final \
                evaluation, and this one had none that gave the metric (a model without a \
                likelihood needs a `best_metric` of its own, e.g. `fid-domain`); use `latest`"
            .into();
    }
    format!("the `{name}` pointer names no complete checkpoint")
}

fn resolve_pointer(path: &Path, which: &str) -> Result<PathBuf> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    // A pointer named directly, `RUN/checkpoints/best`, or its shorthand `RUN/best`: follow it.
    if let Some(name) = pointer_name(path) {
        let parent = path.parent().unwrap_or(Path::new("."));
        let ckpt_dir = if path.is_file() {
            parent.to_path_buf()
        } else {
            parent.join("checkpoints")
        };
        return read_pointer(&ckpt_dir, name).ok_or_else(|| CoreError::Checkpoint {
            path: path.to_path_buf(),
            msg: missing_pointer(&ckpt_dir, name),
        });
    }
    let ckpt_dir = if path.join("checkpoints").is_dir() {
        path.join("checkpoints")
    } else {
        path.to_path_buf()
    };
    if let Some(d) = read_pointer(&ckpt_dir, which) {
        return Ok(d);
    }
    if which == LATEST {
        let mut steps: Vec<PathBuf> = fs::read_dir(&ckpt_dir)
            .map_err(|e| CoreError::io(&ckpt_dir, e))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_string_lossy().starts_with("step-")
                    && e.path().join("state.json").is_file()
            })
            .map(|e| e.path())
            .collect();
        steps.sort();
        if let Some(last) = steps.pop() {
            return Ok(last);
        }
    }
    Err(CoreError::Checkpoint {
        path: path.to_path_buf(),
        msg: format!("no `{which}` checkpoint found"),
    })
}

/// Reads `state.json` of a checkpoint directory.
///
/// # Errors
/// [`CoreError::Io`] when `dir/state.json` cannot be read; [`CoreError::Format`] naming it when it
/// is not a valid state or has a checkpoint format other than this build's.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let p = dir.join("state.json");
    let text = fs::read(&p).map_err(|e| CoreError::io(&p, e))?;
    let mut st: TrainState =
        serde_json::from_slice(&text).map_err(|e| CoreError::format(&p, e.to_string()))?;
    add_missing_keys(&st.model.clone(), &mut st.model_config);
    if st.format != FORMAT {
        return Err(CoreError::format(
            &p,
            format!(
                "checkpoint format {} (this build reads {FORMAT})",
                st.format
            ),
        ));
    }
    Ok(st)
}

/// Configuration keys added to a model after runs were saved with it, each with the value that
/// rebuilds what those runs trained (a key a saved config lacks would otherwise take today's
/// preset value, another model): `(model, key, value as JSON)`.
const ADDED_KEYS: &[(&str, &str, &str)] = &[
    // Glow's soft clamp of the coupling log-scale (2026-12-01): older runs are unclamped.
    ("glow", "scale_clamp", "null"),
    // InfoGAN's fixed-scale option for Q's continuous codes (2026-12-01): older runs learned it.
    ("infogan", "q_scale", "\"learned\""),
];

/// Completes the saved configuration `config` of `model` with the [`ADDED_KEYS`] it lacks.
fn add_missing_keys(model: &str, config: &mut serde_json::Value) {
    let Some(obj) = config.as_object_mut() else {
        return;
    };
    for (m, key, value) in ADDED_KEYS {
        if model == *m && !obj.contains_key(*key) {
            if let Ok(v) = serde_json::from_str(value) {
                obj.insert((*key).to_string(), v);
            }
        }
    }
}

/// Fails unless `state` was saved from a model of the same name and configuration; the error
/// names each differing configuration key with both values.
///
/// # Errors
/// [`CoreError::Checkpoint`] naming `dir` when the model names differ, or listing each
/// configuration key whose value differs.
pub fn check_model(state: &TrainState, model: &dyn GenerativeModel, dir: &Path) -> Result<()> {
    if state.model != model.name() {
        return Err(CoreError::Checkpoint {
            path: dir.to_path_buf(),
            msg: format!(
                "saved from model `{}`, loading into `{}`",
                state.model,
                model.name()
            ),
        });
    }
    let mine = model.config_json();
    if state.model_config != mine {
        let diffs = match (state.model_config.as_object(), mine.as_object()) {
            (Some(a), Some(b)) => a
                .keys()
                .chain(b.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    format!(
                        "`{k}`: checkpoint {}, model {}",
                        fmt_opt(a.get(k)),
                        fmt_opt(b.get(k))
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => format!("checkpoint {}, model {}", state.model_config, mine),
        };
        return Err(CoreError::Checkpoint {
            path: dir.to_path_buf(),
            msg: format!("model config differs: {diffs}"),
        });
    }
    Ok(())
}

fn fmt_opt(v: Option<&serde_json::Value>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into())
}

/// Loads the weights of the checkpoint meant by `path` (see [`resolve`]) into `model`, after
/// checking the model's name, configuration and every tensor's shape. With `ema`, loads the
/// averaged weights when the checkpoint has them. Returns the checkpoint's state.
///
/// # Errors
/// The errors of [`resolve`], [`read_state`] and [`check_model`]; [`CoreError::Io`] or
/// [`CoreError::Format`] when the weights file cannot be read; [`CoreError::Checkpoint`] naming the
/// weights file and the tensor when names, shapes or dtypes do not match the model; a libtorch
/// error.
pub fn load_weights(model: &mut dyn GenerativeModel, path: &Path, ema: bool) -> Result<TrainState> {
    let dir = resolve(path)?;
    let state = read_state(&dir)?;
    check_model(&state, model, &dir)?;
    let file = if ema && dir.join("ema.safetensors").is_file() {
        dir.join("ema.safetensors")
    } else {
        dir.join("model.safetensors")
    };
    let src = read_safetensors(&file)?;
    load_checked(&model_vars(model), &src, &file)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// A Glow run saved before `scale_clamp` existed rebuilds unclamped; a saved value and
    /// other models are left alone.
    #[test]
    fn saved_configs_gain_the_keys_added_since_with_their_old_meaning() {
        let mut old = json!({"levels": 2});
        super::add_missing_keys("glow", &mut old);
        assert_eq!(old, json!({"levels": 2, "scale_clamp": null}));
        let mut new = json!({"levels": 2, "scale_clamp": 3.0});
        super::add_missing_keys("glow", &mut new);
        assert_eq!(new["scale_clamp"], json!(3.0));
        let mut other = json!({"levels": 2});
        super::add_missing_keys("realnvp", &mut other);
        assert_eq!(other, json!({"levels": 2}));
        // An InfoGAN run saved before `q_scale` existed learned Q's scale.
        let mut info = json!({"lambda_cont": 0.1});
        super::add_missing_keys("infogan", &mut info);
        assert_eq!(info["q_scale"], json!("learned"));
    }
}
