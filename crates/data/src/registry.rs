//! Datasets by name: the shipped `mnist10k` (and `mnist10k-colour`, its digits as 32x32 RGB
//! images, [`crate::colour`]) and `piano`, the downloadable `mnist`,
//! `fashion-mnist` and `cifar10`, the toy sets of [`super::toy`], and any folder of IDX or audio
//! files a user brings (`--data DIR`).
//!
//! Where files are looked for:
//! * `mnist10k` (shipped in the repository, see `datasets/mnist10k/README.md`): in
//!   `$GENZOO_DATASETS/mnist10k`, else `datasets/mnist10k` of the workspace this crate was built
//!   in (`CARGO_MANIFEST_DIR/../../datasets`), else `datasets/mnist10k` in the current directory
//!   or one of its parents. Its SHA-256 sums are checked on every load. The shipped `piano`
//!   (`datasets/piano/README.md`, `audio::piano`, behind the `audio` feature) is looked for the same way.
//! * downloaded datasets: in `DATA_ROOT/NAME/`, where `DATA_ROOT` is the caller's choice
//!   (`default_data_root()`: `$GENZOO_DATA`, else `data/` in the current directory). Fashion-MNIST
//!   is also taken from Debian's `/usr/share/datasets/fashion-mnist` when installed. Files are
//!   verified against their SHA-256 on load.
//! * `--data DIR`: `train-*` and `t10k-*` (or `test-*`) IDX files, raw or gzip: one file with
//!   `images` (or `idx3`/`idx4`) in its name and optionally one with `labels` (or `idx1`) per
//!   split; any count, height and width, one or three channels. A folder holding `.wav`, `.ogg`
//!   or `.flac` files is read as audio instead (`audio::load_audio_dir`).
use std::path::{Path, PathBuf};

use tch::Tensor;

#[cfg(feature = "audio")]
use crate::audio;
use crate::download::{self, FileSpec};
use crate::{idx, toy};
use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::{CoreError, Result};

pub use crate::names::{MNIST10K, PIANO};

/// SHA-256 of the shipped `mnist10k` files (also listed in `datasets/mnist10k/README.md`).
pub const MNIST10K_SHA256: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "18103d98f6cda44a39d2c8597c5d5cdde09dac2a5a300507d82a8de0c73e9d1c",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "ec6a5bae97b07c3548cfbc9d362ff627706ffa8500f7c320844ebf08f83547e2",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "8e345b0095b708534728d825abe223c90e3794ca51d76c07f0dfa0e4614bbcb5",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "7997f18d50e76058ccdd5a6bbb70138156baee5e3b0f802d6a3f51bff12cb945",
    ),
];

/// Every name [`load`] knows besides folders: the shipped and downloadable datasets first, then
/// the toy sets.
pub fn known_names() -> Vec<&'static str> {
    let mut v = vec![MNIST10K, crate::colour::MNIST10K_COLOUR, PIANO];
    v.extend(download::DOWNLOADABLE);
    v.extend(toy::Toy::ALL.iter().map(|t| t.name()));
    v
}

/// The folder holding the shipped datasets (see the module docs for the search order).
pub fn shipped_root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GENZOO_DATASETS") {
        return Some(PathBuf::from(p));
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    if built.join(MNIST10K).is_dir() {
        return Some(built);
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|a| a.join("datasets"))
        .find(|d| d.join(MNIST10K).is_dir())
}

/// The default folder for downloaded datasets: `$GENZOO_DATA`, else `./data`.
pub fn default_data_root() -> PathBuf {
    std::env::var_os("GENZOO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Loads a dataset by name (`mnist10k`, `mnist10k-colour`, `piano`, `mnist`, `fashion-mnist`, `cifar10`, a toy set)
/// or, when `name_or_dir` is an existing folder, from the audio files in it (when it holds any:
/// `audio::load_audio_dir`) or else from its IDX files. Downloaded datasets are looked for under
/// `data_root`; nothing is downloaded here.
///
/// # Errors
/// [`CoreError::Unknown`] for a name that is neither a known dataset nor an existing folder;
/// [`CoreError::Download`] when a named dataset is not under `data_root` (nothing is downloaded);
/// [`CoreError::Io`] or [`CoreError::Format`] naming the file that is unreadable, fails its SHA-256
/// check or is malformed.
pub fn load(name_or_dir: &str, data_root: &Path) -> Result<Split> {
    match name_or_dir {
        MNIST10K => load_mnist10k(),
        crate::colour::MNIST10K_COLOUR => crate::colour::load_mnist10k_colour(),
        PIANO => load_piano(),
        "mnist" | "fashion-mnist" => load_named_idx(name_or_dir, data_root),
        "cifar10" => {
            let dir = verified_dir("cifar10", data_root)?;
            super::cifar::load_dir(&dir)
        }
        other => {
            if let Some(t) = toy::Toy::from_name(other) {
                return Ok(t.split(toy::DEFAULT_TRAIN, toy::DEFAULT_TEST, 0));
            }
            let p = Path::new(other);
            if p.is_dir() {
                if holds_audio(p) {
                    return load_audio_dir(p);
                }
                return load_idx_dir(p);
            }
            Err(CoreError::Unknown {
                what: "dataset",
                name: other.into(),
                known: known_names().join(", ") + ", or a folder of IDX or audio files",
            })
        }
    }
}

/// True when `dir` holds a file with an audio extension (`wav`, `ogg`, `flac`).
fn holds_audio(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.path()
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| {
                    ["wav", "ogg", "flac"]
                        .iter()
                        .any(|a| x.eq_ignore_ascii_case(a))
                })
        })
    })
}

#[cfg(feature = "audio")]
fn load_piano() -> Result<Split> {
    audio::load_piano()
}

#[cfg(feature = "audio")]
fn load_audio_dir(dir: &Path) -> Result<Split> {
    audio::load_audio_dir(dir)
}

#[cfg(not(feature = "audio"))]
fn load_piano() -> Result<Split> {
    Err(no_audio(Path::new(PIANO)))
}

#[cfg(not(feature = "audio"))]
fn load_audio_dir(dir: &Path) -> Result<Split> {
    Err(no_audio(dir))
}

/// Audio data asked of a build without the `audio` feature.
#[cfg(not(feature = "audio"))]
fn no_audio(what: &Path) -> CoreError {
    CoreError::format(
        what,
        "audio data needs genzoo-data's `audio` feature (on with the autoregressive family)",
    )
}

/// The shipped `mnist10k`: 9,000 train / 1,000 test real MNIST digits, SHA-256 verified.
///
/// # Errors
/// [`CoreError::Download`] when the shipped `datasets/mnist10k` folder cannot be found (set
/// `GENZOO_DATASETS`); otherwise the errors of [`load_mnist10k_from`].
///
/// # Example
/// ```
/// use genzoo_core::data::DataKind;
/// let split = genzoo_data::load_mnist10k()?;
/// assert_eq!((split.train.len(), split.test.len()), (9_000, 1_000));
/// assert_eq!(split.train.kind, DataKind::Image { channels: 1, height: 28, width: 28 });
/// assert_eq!(split.train.num_classes, Some(10));
/// // 8-bit pixels, u8 [n, 1, 28, 28]; the test split holds 100 digits of each class
/// let y = split.test.y.as_ref().expect("labels");
/// assert_eq!(y.bincount::<&tch::Tensor>(None, 10).min().int64_value(&[]), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_mnist10k() -> Result<Split> {
    let root = shipped_root().ok_or_else(|| CoreError::Download {
        name: MNIST10K.into(),
        msg:
            "datasets/mnist10k not found: set GENZOO_DATASETS to the repository's datasets/ folder"
                .into(),
    })?;
    load_mnist10k_from(&root.join(MNIST10K))
}

/// `mnist10k` from a given folder, SHA-256 verified.
///
/// # Errors
/// [`CoreError::Io`] naming a file of `dir` that is missing or unreadable; [`CoreError::Format`]
/// naming one that fails its SHA-256 check or is not a valid IDX file.
pub fn load_mnist10k_from(dir: &Path) -> Result<Split> {
    for (name, sha) in MNIST10K_SHA256 {
        let spec = FileSpec {
            name: name.into(),
            sha256: sha.into(),
            raw_sha256: None,
        };
        download::verify_file(&dir.join(name), &spec)?;
    }
    load_idx_pair(
        dir,
        MNIST10K,
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
}

/// The folder of a downloaded dataset whose files are all present and verified, with system
/// copies (Debian's Fashion-MNIST) used in place.
fn verified_dir(name: &str, data_root: &Path) -> Result<PathBuf> {
    let spec = download::spec(name).ok_or_else(|| CoreError::Unknown {
        what: "dataset",
        name: name.into(),
        known: known_names().join(", "),
    })?;
    let own = data_root.join(name);
    let complete = |dir: &Path| spec.files.iter().all(|f| dir.join(&f.name).is_file());
    let dir = if complete(&own) {
        own.clone()
    } else if let Some(sys) = spec.system_dirs.iter().find(|d| complete(d)) {
        sys.clone()
    } else {
        let missing: Vec<FileSpec> = spec
            .files
            .iter()
            .filter(|f| !own.join(&f.name).is_file())
            .cloned()
            .collect();
        return Err(download::missing_error(
            &spec,
            &own,
            &missing,
            "not downloaded",
        ));
    };
    for f in &spec.files {
        download::verify_file(&dir.join(&f.name), f)?;
    }
    Ok(dir)
}

fn load_named_idx(name: &str, data_root: &Path) -> Result<Split> {
    let dir = verified_dir(name, data_root)?;
    load_idx_pair(
        &dir,
        name,
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
}

fn load_idx_pair(
    dir: &Path,
    name: &str,
    tri: &str,
    trl: &str,
    tei: &str,
    tel: &str,
) -> Result<Split> {
    let train = load_idx_dataset(
        &dir.join(tri),
        Some(&dir.join(trl)),
        &format!("{name}/train"),
    )?;
    let test = load_idx_dataset(
        &dir.join(tei),
        Some(&dir.join(tel)),
        &format!("{name}/test"),
    )?;
    finish_split(train, test, dir)
}

/// One dataset from an image file and an optional label file (counts must agree).
///
/// # Errors
/// [`CoreError::Io`] or [`CoreError::Format`] when `images` or `labels` cannot be read or is not a
/// valid IDX image/label file; [`CoreError::Format`] naming `labels` when its count differs from
/// the number of images.
pub fn load_idx_dataset(images: &Path, labels: Option<&Path>, name: &str) -> Result<Dataset> {
    let x = idx::read_images(images)?; // [n, c, h, w]
    let s = x.size();
    let kind = DataKind::Image {
        channels: s[1],
        height: s[2],
        width: s[3],
    };
    let y = match labels {
        Some(l) => {
            let y = idx::read_labels(l)?;
            if y.size()[0] != s[0] {
                return Err(CoreError::format(
                    l,
                    format!(
                        "{} labels for {} images in {}",
                        y.size()[0],
                        s[0],
                        images.display()
                    ),
                ));
            }
            Some(y)
        }
        None => None,
    };
    Ok(Dataset {
        name: name.into(),
        kind,
        x,
        y,
        num_classes: None,
    })
}

/// Checks that train and test agree in shape and sets `num_classes` from the labels of both.
pub(crate) fn finish_split(mut train: Dataset, mut test: Dataset, dir: &Path) -> Result<Split> {
    if train.kind != test.kind {
        return Err(CoreError::format(
            dir,
            format!(
                "train images are {:?} but test images are {:?}",
                train.kind, test.kind
            ),
        ));
    }
    if train.y.is_some() != test.y.is_some() {
        return Err(CoreError::format(
            dir,
            "labels given for only one of train and test",
        ));
    }
    let labels: Vec<&tch::Tensor> = [&train.y, &test.y].into_iter().flatten().collect();
    let k = genzoo_core::data::class_count(&format!("{} labels", dir.display()), &labels)?;
    train.num_classes = k;
    test.num_classes = k;
    Ok(Split { train, test })
}

/// A user's folder of IDX files (`--data DIR`), see the module docs for the file names.
///
/// # Errors
/// [`CoreError::Io`] when `dir` cannot be listed; [`CoreError::Format`] naming `dir` when a split
/// has no image file or several candidate files, when train and test differ in image shape or only
/// one has labels; the errors of [`load_idx_dataset`] naming the file at fault.
pub fn load_idx_dir(dir: &Path) -> Result<Split> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let pick = |prefixes: &[&str], keys: &[&str]| -> Result<Option<PathBuf>> {
        let hits: Vec<&String> = names
            .iter()
            .filter(|n| {
                prefixes.iter().any(|p| n.starts_with(p))
                    && keys.iter().any(|k| n.contains(k))
                    && !n.ends_with(".part")
            })
            .collect();
        match hits.len() {
            0 => Ok(None),
            1 => Ok(Some(dir.join(hits[0]))),
            _ => Err(CoreError::format(
                dir,
                format!(
                    "several candidate files: {}",
                    hits.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    };
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let mut sets = Vec::new();
    for (split, prefixes) in [
        ("train", &["train-", "train_"][..]),
        ("test", &["t10k-", "test-", "t10k_", "test_"][..]),
    ] {
        let images = pick(prefixes, &["images", "idx3", "idx4"])?.ok_or_else(|| {
            CoreError::format(
                dir,
                format!(
                    "no {split} image file ({}*images* or *idx3*, raw or .gz); found: [{}]",
                    prefixes[0],
                    names.join(", ")
                ),
            )
        })?;
        let labels = pick(prefixes, &["labels", "idx1"])?;
        sets.push(load_idx_dataset(
            &images,
            labels.as_deref(),
            &format!("{base}/{split}"),
        )?);
    }
    // The loop above pushed one dataset per split (train, test) or returned an error.
    let (Some(test), Some(train)) = (sets.pop(), sets.pop()) else {
        return Err(CoreError::format(dir, "expected a train and a test split"));
    };
    finish_split(train, test, dir)
}

/// Per-class counts of integer labels (`i64 [n]`), `k` classes.
pub fn label_counts(y: &Tensor, k: i64) -> Vec<i64> {
    let counts = y.bincount::<Tensor>(None, k);
    Vec::<i64>::try_from(&counts).unwrap_or_default()
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
