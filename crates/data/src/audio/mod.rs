//! Audio for sequence models such as WaveNet: decoding, resampling, datasets of mu-law clips.
//!
//! * [`decode`]: WAV (PCM), Ogg Vorbis and FLAC through `symphonia`, mixed down to mono (the mean
//!   of the channels), `f32` in \[-1, 1\] at the file's own rate.
//! * [`resample`]: any rate to any rate with `rubato`'s windowed-sinc resampler (anti-aliased, no
//!   delay: output sample k is the signal at time k / to, to within half an output sample, exactly
//!   for integer ratios such as 48 kHz -> 16 kHz).
//! * [`load_mono`] / [`load_files`]: decode and resample one file, or many in parallel (`rayon`).
//! * [`write_wav`]: 16-bit PCM mono WAV, written atomically (WaveNet's samples).
//! * [`sets`]: datasets of clips ([`DataKind::Sequence`] with [`SequenceEncoding::MuLaw8`], `u8
//!   [n, 1, T]`), any folder of audio files ([`load_audio_dir`]) and the synthetic sines and chirps
//!   of [`synthetic`]; [`piano`]: the shipped `piano` set.
//!
//! Every failure is a [`CoreError`] naming the file and what is wrong with it (unreadable, not a
//! format that decodes, truncated, no audio track, no samples); nothing here panics on bad input.
//!
//! [`DataKind::Sequence`]: genzoo_core::data::DataKind::Sequence
//! [`SequenceEncoding::MuLaw8`]: genzoo_core::data::SequenceEncoding::MuLaw8
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use genzoo_core::{CoreError, Result};

pub mod piano;
pub mod sets;

pub use piano::{load_piano, load_piano_from, PIANO, PIANO_SHA256};
pub use sets::{
    clips_dataset, has_audio_files, list_audio_files, load_audio_dir, load_audio_dir_with,
    synthetic,
};

/// The sample rate audio datasets are brought to by default (Hz).
pub const DEFAULT_RATE: u32 = 16_000;
/// The default clip length T in samples (0.256 s at 16 kHz).
pub const DEFAULT_CLIP: usize = 4096;
/// File extensions read as audio (compared case-insensitively).
pub const AUDIO_EXTENSIONS: [&str; 3] = ["wav", "ogg", "flac"];

/// One decoded file: mono samples in \[-1, 1\] at `rate` Hz.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub rate: u32,
}

fn sym_err(path: &Path, what: &str, e: SymError) -> CoreError {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            CoreError::format(path, format!("{what}: the file ends early (truncated?)"))
        }
        other => CoreError::format(path, format!("{what}: {other}")),
    }
}

/// Decodes a WAV, Ogg Vorbis or FLAC file to mono (the mean over channels) `f32` samples at the
/// file's own rate. Decoding is strict: a packet that fails to decode or a stream that ends inside
/// a packet is an error, not skipped.
///
/// # Errors
/// [`CoreError::Io`] naming `path` when it cannot be opened; [`CoreError::Format`] naming `path`
/// when it is empty, not a format `symphonia` reads here, has no audio track, is truncated or
/// malformed, changes rate mid-stream, decodes to no samples, or holds a NaN or infinite sample.
pub fn decode(path: &Path) -> Result<Decoded> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let len = file.metadata().map_err(|e| CoreError::io(path, e))?.len();
    if len == 0 {
        return Err(CoreError::format(path, "empty file (0 bytes), no audio"));
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(&ext.to_ascii_lowercase());
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| sym_err(path, "not a readable WAV, Ogg Vorbis or FLAC file", e))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| CoreError::format(path, "no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| CoreError::format(path, "no audio codec parameters"))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| sym_err(path, "unsupported audio codec", e))?;
    let mut rate: Option<u32> = None;
    let mut mono: Vec<f32> = Vec::new();
    let mut frame: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::ResetRequired) => {
                return Err(CoreError::format(
                    path,
                    "chained streams (the track list changes mid-file) are not supported",
                ))
            }
            Err(e) => return Err(sym_err(path, "cannot read the audio stream", e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder
            .decode(&packet)
            .map_err(|e| sym_err(path, "cannot decode the audio", e))?;
        let r = buf.spec().rate();
        match rate {
            None if r == 0 => return Err(CoreError::format(path, "sample rate 0")),
            None => rate = Some(r),
            Some(r0) if r0 != r => {
                return Err(CoreError::format(
                    path,
                    format!("sample rate changes mid-stream ({r0} Hz -> {r} Hz)"),
                ))
            }
            Some(_) => {}
        }
        let channels = buf.num_planes();
        if channels == 0 || buf.frames() == 0 {
            continue;
        }
        buf.copy_to_vec_interleaved(&mut frame);
        let scale = 1.0 / channels as f32;
        mono.extend(
            frame
                .chunks_exact(channels)
                .map(|f| f.iter().sum::<f32>() * scale),
        );
    }
    // A float WAV may hold NaN or infinite samples: name the file and the first of them here,
    // not later as a bad amplitude of a whole dataset.
    if let Some(i) = mono.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::format(
            path,
            format!("sample {i} is {}: amplitudes must be finite", mono[i]),
        ));
    }
    match rate {
        Some(rate) if !mono.is_empty() => Ok(Decoded {
            samples: mono,
            rate,
        }),
        _ => Err(CoreError::format(path, "no audio samples (empty stream)")),
    }
}

/// Oversampling factor of the sinc tables.
const SINC_OVERSAMPLING: usize = 256;

fn resample_inner(samples: &[f32], from: u32, to: u32) -> std::result::Result<Vec<f32>, String> {
    if from == 0 || to == 0 {
        return Err(format!(
            "sample rates must be positive ({from} Hz -> {to} Hz)"
        ));
    }
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let want = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    // rubato 0.16's SincFixedIn gives as output k the input at time (k + 1) t - 1 + 1/oversampling
    // (in input samples, t = from / to; its sinc tables are centred one sample early). Prepending
    // `pad` zeros and dropping the first `skip` outputs makes output k the input at k t, up to a
    // residual below half an output sample (0 for 48 kHz -> 16 kHz, up to 1/256 input sample).
    let t = f64::from(from) / f64::from(to);
    let (skip, pad) = (0..=(2.0 / t).ceil() as usize + 1)
        .map(|j| {
            let at = (j as f64 + 1.0) * t - 1.0 + 1.0 / SINC_OVERSAMPLING as f64;
            let pad = at.round().max(0.0);
            (j, pad as usize, ((at - pad) / t).abs())
        })
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(j, p, _)| (j, p))
        .unwrap_or((0, 0));
    let chunk = 4096;
    let params = SincInterpolationParameters {
        sinc_len: 256,
        f_cutoff: 0.95,
        oversampling_factor: SINC_OVERSAMPLING,
        interpolation: SincInterpolationType::Cubic,
        window: WindowFunction::BlackmanHarris2,
    };
    let mut r =
        SincFixedIn::<f32>::new(1.0 / t, 1.0, params, chunk, 1).map_err(|e| e.to_string())?;
    let input: Vec<f32> = std::iter::repeat_n(0.0, pad)
        .chain(samples.iter().copied())
        .collect();
    let mut out = Vec::with_capacity(want + skip + chunk);
    let mut pieces = input.chunks_exact(chunk);
    for piece in pieces.by_ref() {
        out.extend(
            r.process(&[piece], None)
                .map_err(|e| e.to_string())?
                .remove(0),
        );
    }
    let rest = pieces.remainder();
    if !rest.is_empty() {
        out.extend(
            r.process_partial(Some(&[rest]), None)
                .map_err(|e| e.to_string())?
                .remove(0),
        );
    }
    // Flush the filter's delay line with silence until every wanted sample is out.
    while out.len() < want + skip {
        let tail = r
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| e.to_string())?
            .remove(0);
        if tail.is_empty() {
            break;
        }
        out.extend(tail);
    }
    out.drain(..skip.min(out.len()));
    out.truncate(want);
    Ok(out)
}

/// Resamples mono `samples` from `from` Hz to `to` Hz (windowed sinc, cut-off at 0.95 of the lower
/// Nyquist frequency). The output has `ceil(len * to / from)` samples and no delay; equal rates
/// return the samples unchanged.
///
/// # Errors
/// [`CoreError::Invalid`] for a rate of 0 or when the resampler refuses the ratio.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    resample_inner(samples, from, to)
        .map_err(|e| CoreError::Invalid(format!("resampling {from} Hz -> {to} Hz: {e}")))
}

/// One file decoded to mono and resampled to `rate` Hz.
///
/// # Errors
/// The errors of [`decode`]; [`CoreError::Format`] naming `path` when resampling fails.
pub fn load_mono(path: &Path, rate: u32) -> Result<Vec<f32>> {
    let d = decode(path)?;
    resample_inner(&d.samples, d.rate, rate)
        .map_err(|e| CoreError::format(path, format!("resampling {} Hz -> {rate} Hz: {e}", d.rate)))
}

/// Many files decoded and resampled in parallel (`rayon`), in the order given.
///
/// # Errors
/// The error of [`load_mono`] for the first file (in the order given) that fails.
pub fn load_files(paths: &[PathBuf], rate: u32) -> Result<Vec<Vec<f32>>> {
    let all: Vec<Result<Vec<f32>>> = paths.par_iter().map(|p| load_mono(p, rate)).collect();
    all.into_iter().collect()
}

/// Writes mono `samples` as a 16-bit PCM WAV file at `rate` Hz (each sample times 32768, rounded,
/// clamped to -32768..=32767, the inverse of how [`decode`] reads 16-bit PCM), atomically (a
/// temporary file in the same folder, then a rename).
///
/// # Errors
/// [`CoreError::Invalid`] naming `path` for a rate of 0 or a non-finite sample;
/// [`CoreError::Io`] when the file cannot be written (see [`genzoo_core::io::write_atomic`]).
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let bad = |msg: String| CoreError::Invalid(format!("{}: {msg}", path.display()));
    if rate == 0 {
        return Err(bad("sample rate 0".into()));
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(bad(format!("sample {i} is {}", samples[i])));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    let encode = |bytes: &mut std::io::Cursor<Vec<u8>>| -> hound::Result<()> {
        let mut w = hound::WavWriter::new(bytes, spec)?;
        for &s in samples {
            w.write_sample((f64::from(s) * 32768.0).round().clamp(-32768.0, 32767.0) as i16)?;
        }
        w.finalize()
    };
    encode(&mut bytes).map_err(|e| bad(format!("cannot encode WAV: {e}")))?;
    genzoo_core::io::write_atomic(path, bytes.get_ref())
}

/// The pitch class of a note name (`C4`, `D#1`, `Ds1`, `Bb3`, `F#`): C = 0, C# = 1, ..., B = 11.
/// `#` or `s` raise by a semitone, `b` lowers; an octave number may follow.
pub fn pitch_class(note: &str) -> Option<i64> {
    let mut chars = note.chars();
    let base = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest: String = chars.collect();
    let (shift, octave) = match rest.chars().next() {
        Some('#' | 's') => (1, &rest[1..]),
        Some('b') => (-1, &rest[1..]),
        _ => (0, rest.as_str()),
    };
    let octave = octave.strip_prefix('-').unwrap_or(octave);
    if !octave.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((base + shift + 12) % 12)
}

#[cfg(test)]
mod tests;
