//! Converts the note recordings of a sample package (files like `D#3v10.ogg`) into the shipped
//! `piano` set: each file decoded, mixed to mono and resampled to 16 kHz with
//! `genzoo_data::audio::load_files` (in parallel), its first 2.0 seconds kept and written as a
//! 16-bit PCM WAV named after the note with `s` for sharp (`Ds3.wav`). Prints the SHA-256 of every
//! file written, in the form of `datasets/piano/README.md`.
//!
//! ```sh
//! cargo run -p genzoo-data --features audio --example convert_audio -- SRC_DIR datasets/piano
//! ```
use std::path::{Path, PathBuf};

use genzoo_data::audio::{self, piano::PIANO_SECONDS, DEFAULT_RATE};
use sha2::{Digest, Sha256};

/// `D#3v10` -> `Ds3`: the note of a package file name, velocity suffix dropped, `#` as `s`.
fn note_of(stem: &str) -> Option<String> {
    let note = stem.split('v').next()?.replace('#', "s");
    audio::pitch_class(&note)?;
    Some(note)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        return Err("usage: convert_audio SRC_DIR DST_DIR".into());
    };
    let (src, dst) = (Path::new(src), Path::new(dst));
    let files = audio::list_audio_files(src)?;
    if files.is_empty() {
        return Err(format!("{}: no audio files", src.display()).into());
    }
    let mut outs: Vec<(PathBuf, String)> = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap_or_default().to_string_lossy();
        let note = note_of(&stem).ok_or_else(|| format!("{}: not a note name", f.display()))?;
        outs.push((f.clone(), format!("{note}.wav")));
    }
    let recordings = audio::load_files(&files, DEFAULT_RATE)?;
    std::fs::create_dir_all(dst)?;
    let keep = (PIANO_SECONDS * f64::from(DEFAULT_RATE)) as usize;
    let mut sums = Vec::new();
    for ((src_file, name), rec) in outs.iter().zip(&recordings) {
        let n = rec.len().min(keep);
        let peak = rec[..n].iter().fold(0f32, |m, s| m.max(s.abs()));
        let path = dst.join(name);
        audio::write_wav(&path, &rec[..n], DEFAULT_RATE)?;
        let sha = hex::encode(Sha256::digest(std::fs::read(&path)?));
        eprintln!(
            "{} -> {name}: {:.3} s decoded, {n} samples kept, peak {peak:.3}",
            src_file.display(),
            rec.len() as f64 / f64::from(DEFAULT_RATE),
        );
        sums.push(format!("{sha}  {name}"));
    }
    sums.sort_by(|a, b| a[66..].cmp(&b[66..]));
    println!("{}", sums.join("\n"));
    Ok(())
}
