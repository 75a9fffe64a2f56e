//! Datasets of audio clips: recordings cut into clips of T samples without overlap (the last
//! partial clip of each recording is dropped), mu-law encoded ([`mu_law_encode`]) into
//! `u8 [n, 1, T]` with [`DataKind::Sequence`] and [`SequenceEncoding::MuLaw8`].
//!
//! Clips are ordered clip-major: the first clip of every recording, then the second of every
//! recording, and so on, so that any prefix of a set (`Dataset::take`) mixes recordings.
//!
//! A user's folder of audio files ([`load_audio_dir`], `load(DIR)`): the `.wav`, `.ogg` and
//! `.flac` files directly in it, sorted by name; file i (from 0) goes to test when i % 5 == 4
//! (every 5th), the rest to train; with fewer than 5 files the last one is the test file. No labels.
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use tch::Tensor;

use super::{load_files, AUDIO_EXTENSIONS, DEFAULT_CLIP, DEFAULT_RATE};
use genzoo_core::data::mulaw::mu_law_encode;
use genzoo_core::data::{DataKind, Dataset, SequenceEncoding, Split};
use genzoo_core::{CoreError, Result};

/// The kind of a set of mu-law clips of `length` samples.
pub fn clip_kind(length: usize) -> DataKind {
    DataKind::Sequence {
        channels: 1,
        length: length as i64,
        encoding: SequenceEncoding::MuLaw8,
    }
}

/// Cuts each recording into clips of `length` samples (no overlap, the last partial clip dropped)
/// and mu-law encodes them: `x: u8 [n, 1, length]`; `labels`, one per recording, are repeated per
/// clip into `y: i64 [n]`. `num_classes` is left `None` for the caller to set.
///
/// # Errors
/// [`CoreError::Invalid`] when `length` is 0 or the labels do not match the recordings in number;
/// [`CoreError::Torch`] from libtorch.
pub fn clips_dataset(
    name: &str,
    recordings: &[Vec<f32>],
    labels: Option<&[i64]>,
    length: usize,
) -> Result<Dataset> {
    if length == 0 {
        return Err(CoreError::Invalid(format!("{name}: clip length 0")));
    }
    if let Some(l) = labels {
        if l.len() != recordings.len() {
            return Err(CoreError::Invalid(format!(
                "{name}: {} labels for {} recordings",
                l.len(),
                recordings.len()
            )));
        }
    }
    let most = recordings
        .iter()
        .map(|r| r.len() / length)
        .max()
        .unwrap_or(0);
    let mut samples: Vec<f32> = Vec::new();
    let mut y: Vec<i64> = Vec::new();
    for c in 0..most {
        for (i, r) in recordings.iter().enumerate() {
            if let Some(clip) = r.get(c * length..(c + 1) * length) {
                samples.extend_from_slice(clip);
                y.extend(labels.map(|l| l[i]));
            }
        }
    }
    let n = (samples.len() / length) as i64;
    let x = mu_law_encode(&Tensor::from_slice(&samples).f_reshape([n, 1, length as i64])?)?;
    Ok(Dataset {
        name: name.into(),
        kind: clip_kind(length),
        x,
        y: labels.map(|_| Tensor::from_slice(&y)),
        num_classes: None,
    })
}

fn is_audio(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| e.eq_ignore_ascii_case(a)))
}

/// The audio files (`.wav`, `.ogg`, `.flac`, any case) directly in `dir`, sorted by name.
///
/// # Errors
/// [`CoreError::Io`] naming `dir` when it cannot be listed.
pub fn list_audio_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_audio(p))
        .collect();
    files.sort();
    Ok(files)
}

/// True when `dir` holds at least one audio file (how `load(DIR)` tells audio from IDX folders).
pub fn has_audio_files(dir: &Path) -> bool {
    list_audio_files(dir).is_ok_and(|f| !f.is_empty())
}

/// A user's folder of audio files at [`DEFAULT_RATE`] in clips of [`DEFAULT_CLIP`] samples (see the
/// module docs for the split).
///
/// # Errors
/// The errors of [`load_audio_dir_with`].
pub fn load_audio_dir(dir: &Path) -> Result<Split> {
    load_audio_dir_with(dir, DEFAULT_RATE, DEFAULT_CLIP)
}

/// A user's folder of audio files resampled to `rate` Hz, in clips of `length` samples.
///
/// # Errors
/// [`CoreError::Io`] naming `dir` when it cannot be listed; [`CoreError::Format`] naming `dir`
/// when it holds fewer than 2 audio files or a split's files hold no whole clip; the errors of
/// [`super::decode`] naming the file that cannot be decoded.
pub fn load_audio_dir_with(dir: &Path, rate: u32, length: usize) -> Result<Split> {
    let files = list_audio_files(dir)?;
    if files.len() < 2 {
        return Err(CoreError::format(
            dir,
            format!(
                "{} audio file(s) (.wav, .ogg, .flac); at least 2 are needed (train and test)",
                files.len()
            ),
        ));
    }
    let mut recordings = load_files(&files, rate)?;
    let mut test_idx: Vec<usize> = (0..files.len()).filter(|i| i % 5 == 4).collect();
    if test_idx.is_empty() {
        test_idx.push(files.len() - 1);
    }
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio".into());
    let mut sets = Vec::new();
    for (split, in_test) in [("train", false), ("test", true)] {
        let pick: Vec<usize> = (0..files.len())
            .filter(|i| test_idx.contains(i) == in_test)
            .collect();
        let recs: Vec<Vec<f32>> = pick
            .iter()
            .map(|&i| std::mem::take(&mut recordings[i]))
            .collect();
        let d = clips_dataset(&format!("{base}/{split}"), &recs, None, length)?;
        if d.is_empty() {
            let names: Vec<String> = pick
                .iter()
                .map(|&i| {
                    files[i]
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into()
                })
                .collect();
            return Err(CoreError::format(
                dir,
                format!(
                    "the {split} files ({}) hold no whole clip of {length} samples at {rate} Hz",
                    names.join(", ")
                ),
            ));
        }
        sets.push(d);
    }
    let test = sets.pop();
    let train = sets.pop();
    match (train, test) {
        (Some(train), Some(test)) => crate::registry::finish_split(train, test, dir),
        _ => Err(CoreError::format(dir, "expected a train and a test split")),
    }
}

/// `n` synthetic clips of `length` samples at [`DEFAULT_RATE`], mu-law encoded, for fast tests:
/// even-numbered examples are sines (label 0; 110-1760 Hz, amplitude 0.2-0.9, random phase), odd
/// ones linear chirps (label 1; from 110-880 Hz to 880-3520 Hz over the clip). Seeded: the same
/// `(n, length, seed)` gives the same set. Negative sizes count as 0.
///
/// # Panics
/// Never in practice: the amplitudes are finite and within \[-1, 1\], which always encode.
pub fn synthetic(n: i64, length: i64, seed: u64) -> Dataset {
    let (n, length) = (n.max(0), length.max(0));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let rate = f64::from(DEFAULT_RATE);
    let tau = std::f64::consts::TAU;
    let dur = length as f64 / rate;
    let mut samples = Vec::with_capacity((n * length) as usize);
    let mut y = Vec::with_capacity(n as usize);
    for i in 0..n {
        let amp = rng.gen_range(0.2..0.9);
        let phase = rng.gen_range(0.0..tau);
        let chirp = i % 2 == 1;
        let (f0, f1) = if chirp {
            (rng.gen_range(110.0..880.0), rng.gen_range(880.0..3520.0))
        } else {
            let f = rng.gen_range(110.0..1760.0);
            (f, f)
        };
        let k = if dur > 0.0 { (f1 - f0) / dur } else { 0.0 };
        samples.extend((0..length).map(|j| {
            let t = j as f64 / rate;
            (amp * (phase + tau * (f0 * t + 0.5 * k * t * t)).sin()) as f32
        }));
        y.push(i64::from(chirp));
    }
    let x = Tensor::from_slice(&samples).reshape([n, 1, length]);
    Dataset {
        name: "synthetic-audio".into(),
        kind: clip_kind(length as usize),
        x: mu_law_encode(&x).expect("finite amplitudes in [-1, 1] encode"),
        y: Some(Tensor::from_slice(&y)),
        num_classes: Some(2),
    }
}
