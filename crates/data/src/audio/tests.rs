//! Tests of [`super`]: decoding (stereo to mono, bad files), resampling, WAV writing, the shipped
//! `piano` set with its checksums and split, user folders, the synthetic set.
use std::path::Path;

use tch::Kind;

use super::piano::PIANO_TEST_NOTES;
use super::*;
use crate::registry::{label_counts, load, shipped_root};
use genzoo_core::data::mulaw::{mu_law_decode, mu_law_encode};
use genzoo_core::data::{DataKind, SequenceEncoding};

fn write_i16(path: &Path, channels: u16, rate: u32, frames: &[Vec<i16>]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for f in frames {
        for &s in f {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn sine(f: f64, rate: f64, n: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (std::f64::consts::TAU * f * i as f64 / rate).sin()) as f32)
        .collect()
}

#[test]
fn stereo_wav_decodes_to_the_exact_channel_mean() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stereo.wav");
    // Left 0.5, right -0.25 (16384 and -8192 of 32768): the mono mean is exactly 0.125.
    write_i16(&p, 2, 22_050, &vec![vec![16_384, -8_192]; 1000]);
    let d = decode(&p).unwrap();
    assert_eq!((d.rate, d.samples.len()), (22_050, 1000));
    assert!(
        d.samples.iter().all(|&s| s == 0.125),
        "{:?}",
        &d.samples[..4]
    );
    // Mono passes through unchanged; load_mono resamples to the rate asked for.
    let m = dir.path().join("mono.WAV");
    write_i16(&m, 1, 8_000, &vec![vec![-16_384]; 800]);
    let d = decode(&m).unwrap();
    assert!(d.samples.iter().all(|&s| s == -0.5));
    assert_eq!(load_mono(&m, 16_000).unwrap().len(), 1600);
}

#[test]
fn resampling_48k_to_16k_keeps_a_440_hz_sine() {
    let x = sine(440.0, 48_000.0, 48_000, 0.5);
    let y = resample(&x, 48_000, 16_000).unwrap();
    assert_eq!(y.len(), 16_000);
    // Same frequency and phase: equal to the sine sampled at 16 kHz away from the edges.
    let want = sine(440.0, 16_000.0, 16_000, 0.5);
    let err = (200..15_800)
        .map(|i| (y[i] - want[i]).abs())
        .fold(0f32, f32::max);
    assert!(err < 0.01, "max error {err}");
    // 440 Hz over one second: 880 sign changes.
    let crossings = y
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    assert!(
        (878..=882).contains(&crossings),
        "{crossings} zero crossings"
    );
    // Non-integer ratios give ceil(len * to / from) samples; a 10 kHz tone, above the new Nyquist
    // frequency of 8 kHz, is filtered out instead of aliasing to 6 kHz.
    assert_eq!(
        resample(&x[..44_101], 44_100, 16_000).unwrap().len(),
        16_001
    );
    let hi = resample(&sine(10_000.0, 48_000.0, 48_000, 0.5), 48_000, 16_000).unwrap();
    let rms = (hi[200..15_800].iter().map(|s| s * s).sum::<f32>() / 15_600.0).sqrt();
    assert!(rms < 0.01, "10 kHz leaked through: rms {rms}");
    assert_eq!(
        resample(&x[..10], 16_000, 16_000).unwrap(),
        x[..10].to_vec()
    );
    assert!(resample(&x, 0, 16_000).is_err());
}

#[test]
fn write_wav_round_trips_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sample.wav");
    let x = sine(440.0, 16_000.0, 4000, 0.8);
    write_wav(&p, &x, 16_000).unwrap();
    let d = decode(&p).unwrap();
    assert_eq!((d.rate, d.samples.len()), (16_000, 4000));
    let err = x
        .iter()
        .zip(&d.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1.0 / 65_536.0, "max error {err}");
    // Overwriting leaves one file and no temporary behind; clipping and bad input.
    write_wav(&p, &[2.0, -2.0], 8_000).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(decode(&p).unwrap().samples, vec![32_767.0 / 32_768.0, -1.0]);
    let e = write_wav(&p, &[0.0, f32::NAN], 8_000)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sample.wav") && e.contains("sample 1 is NaN"),
        "{e}"
    );
    assert!(write_wav(&p, &[0.0], 0).is_err());
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |name: &str, bytes: &[u8], what: &str| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = decode(&p).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(what), "{name}: {e}");
    };
    check("empty.wav", b"", "empty file");
    check(
        "garbage.ogg",
        &[0x5a; 3000],
        "not a readable WAV, Ogg Vorbis or FLAC",
    );
    // An Ogg page header (capture pattern, version 0, first page) declaring a 200-byte segment of
    // which the file holds 20: a truncated Ogg stream.
    let mut ogg = b"OggS\x00\x02".to_vec();
    ogg.extend([0u8; 8]); // granule position
    ogg.extend([1, 0, 0, 0, 0, 0, 0, 0]); // serial, page sequence
    ogg.extend([0u8; 4]); // CRC
    ogg.extend([1, 200]); // one segment of 200 bytes
    ogg.extend(b"\x01vorbis\x00\x00\x00\x00\x02\x80\xbb\x00\x00");
    check("truncated.ogg", &ogg, "ends early");
    // A WAV whose data stops halfway through what its header declares.
    let w = d.join("cut.wav");
    write_i16(&w, 1, 16_000, &vec![vec![100]; 4000]);
    let bytes = std::fs::read(&w).unwrap();
    check("cut.wav", &bytes[..2000], "ends early");
    // A valid WAV header with no samples.
    write_i16(&d.join("silent.wav"), 1, 16_000, &[]);
    let e = decode(&d.join("silent.wav")).unwrap_err().to_string();
    assert!(
        e.contains("silent.wav") && e.contains("no audio samples"),
        "{e}"
    );
    let e = decode(&d.join("missing.flac")).unwrap_err().to_string();
    assert!(e.contains("missing.flac"), "{e}");
    // In a batch, the first bad file (in the order given) is the one named.
    write_i16(&d.join("good.wav"), 1, 16_000, &vec![vec![100]; 400]);
    let paths = [d.join("good.wav"), d.join("silent.wav"), d.join("cut.wav")];
    let e = load_files(&paths, 16_000).unwrap_err().to_string();
    assert!(e.contains("silent.wav"), "{e}");
}

#[test]
fn mu_law_round_trip_on_clips() {
    let x = tch::Tensor::from_slice(&sine(440.0, 16_000.0, 4096, 0.9)).reshape([1, 1, 4096]);
    let l = mu_law_encode(&x).unwrap();
    assert_eq!(l.kind(), Kind::Uint8);
    let back = mu_law_decode(&l).unwrap();
    let err = (back - &x).abs().max().double_value(&[]);
    assert!(err < 0.0226, "round-trip error {err}");
}

#[test]
fn piano_loads_with_its_split_labels_and_checksums() {
    let s = load(PIANO, Path::new("unused")).unwrap();
    let kind = DataKind::Sequence {
        channels: 1,
        length: 4096,
        encoding: SequenceEncoding::MuLaw8,
    };
    assert_eq!((s.train.kind, s.test.kind), (kind, kind));
    assert_eq!((s.train.len(), s.test.len()), (168, 42));
    assert_eq!(s.train.x.size(), vec![168, 1, 4096]);
    assert_eq!(s.train.x.kind(), Kind::Uint8);
    assert_eq!(
        (s.train.num_classes, s.test.num_classes),
        (Some(12), Some(12))
    );
    let (tr, te) = (s.train.y.as_ref().unwrap(), s.test.y.as_ref().unwrap());
    let mut want = vec![0; 12];
    for pc in [0, 3, 6, 9] {
        want[pc] = 42; // 6 notes x 7 clips per pitch class
    }
    assert_eq!(label_counts(tr, 12), want);
    let mut want = vec![0; 12];
    (want[0], want[3], want[6], want[9]) = (14, 7, 7, 14);
    assert_eq!(label_counts(te, 12), want);
    // Clip-major order: the first 6 test clips are the 6 test notes (file-name order).
    let first: Vec<i64> = Vec::try_from(&te.narrow(0, 0, 6)).unwrap();
    assert_eq!(first, vec![9, 9, 0, 0, 3, 6]);
    assert_eq!(PIANO_TEST_NOTES.len(), 6);
    // Real audio: the onset clips are loud, the levels spread both ways around silence (128).
    let x = s.test.x_unit_f32();
    let (lo, hi) = (x.min().double_value(&[]), x.max().double_value(&[]));
    assert!(lo < 60.0 && hi > 196.0, "levels {lo}..{hi}");
    let amp = mu_law_decode(&s.train.x).unwrap().abs().mean(Kind::Float);
    assert!(amp.double_value(&[]) > 0.005, "mean |amplitude| {amp}");
}

#[test]
fn piano_readme_lists_the_checked_sums_and_tampering_is_refused() {
    let root = shipped_root().unwrap().join(PIANO);
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (name, sha) in PIANO_SHA256 {
        assert!(
            readme.contains(&format!("{sha}  {name}")),
            "README lacks the sum of {name}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in PIANO_SHA256 {
        std::fs::copy(root.join(name), dir.path().join(name)).unwrap();
    }
    let p = dir.path().join("Fs4.wav");
    let mut b = std::fs::read(&p).unwrap();
    b[1000] ^= 1;
    std::fs::write(&p, b).unwrap();
    let e = load_piano_from(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("Fs4.wav") && e.contains("checksum mismatch"),
        "{e}"
    );
    std::fs::remove_file(&p).unwrap();
    let e = load_piano_from(dir.path()).unwrap_err().to_string();
    assert!(e.contains("Fs4.wav"), "{e}");
}

#[test]
fn a_user_folder_of_audio_files_loads_unlabelled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One file: refused, naming the folder.
    write_wav(&d.join("a.wav"), &sine(220.0, 16_000.0, 9000, 0.5), 16_000).unwrap();
    let e = load(d.to_str().unwrap(), Path::new("unused"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&d.display().to_string()) && e.contains("at least 2"),
        "{e}"
    );
    // Six files at 32 kHz (resampled to 16 kHz: 2 clips each); b..f sorted, e.wav is the 5th.
    for (i, n) in ["b.wav", "c.wav", "d.wav", "e.wav", "f.wav"]
        .iter()
        .enumerate()
    {
        let x = sine(110.0 * (i + 2) as f64, 32_000.0, 18_000, 0.5);
        write_wav(&d.join(n), &x, 32_000).unwrap();
    }
    std::fs::write(d.join("notes.txt"), "not audio").unwrap();
    let s = load(d.to_str().unwrap(), Path::new("unused")).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (10, 2));
    assert!(s.train.y.is_none() && s.train.num_classes.is_none());
    assert_eq!(s.train.kind.example_shape(), vec![1, 4096]);
    // Shorter clips, another rate: the same files give more clips.
    let s = load_audio_dir_with(d, 8_000, 1000).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (4 * 4 + 4, 4));
    // A bad file among them is named.
    std::fs::write(d.join("g.ogg"), b"OggS but not really").unwrap();
    let e = load_audio_dir(d).unwrap_err().to_string();
    assert!(e.contains("g.ogg"), "{e}");
}

#[test]
fn synthetic_sines_and_chirps_are_seeded() {
    let a = synthetic(6, 512, 7);
    let b = synthetic(6, 512, 7);
    assert!(a.x.equal(&b.x) && !a.x.equal(&synthetic(6, 512, 8).x));
    assert_eq!(a.x.size(), vec![6, 1, 512]);
    assert_eq!(a.x.kind(), Kind::Uint8);
    let y: Vec<i64> = Vec::try_from(a.y.as_ref().unwrap()).unwrap();
    assert_eq!((y, a.num_classes), (vec![0, 1, 0, 1, 0, 1], Some(2)));
    assert_eq!(a.kind, super::sets::clip_kind(512));
    assert_eq!(synthetic(0, 16, 1).len(), 0);
}

#[test]
fn pitch_classes_of_note_names() {
    let pc = |n| pitch_class(n);
    assert_eq!(
        [
            pc("C4"),
            pc("D#1"),
            pc("Ds1"),
            pc("F#7"),
            pc("A0"),
            pc("B3"),
            pc("Bb2")
        ],
        [
            Some(0),
            Some(3),
            Some(3),
            Some(6),
            Some(9),
            Some(11),
            Some(10)
        ]
    );
    assert_eq!(
        (pc("Cb4"), pc("H2"), pc(""), pc("C4v10")),
        (Some(11), None, None, None)
    );
}

/// A float WAV holding a NaN or an infinity is refused naming the file and the sample, read
/// alone or inside a dataset folder (not the folder, nor a later "NaN amplitude").
#[test]
fn a_float_wav_with_a_nan_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    for (name, bad) in [("nan.wav", f32::NAN), ("inf.wav", f32::INFINITY)] {
        let sub = dir.path().join(name.trim_end_matches(".wav"));
        std::fs::create_dir(&sub).unwrap();
        let p = sub.join(name);
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..2000 {
            w.write_sample(if i == 7 { bad } else { 0.25f32 }).unwrap();
        }
        w.finalize().unwrap();
        let e = decode(&p).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("sample 7"), "{e}");
        // beside good files, as a dataset folder holds them
        for i in 0..4 {
            write_wav(&sub.join(format!("good{i}.wav")), &[0.1; 2000], 16_000).unwrap();
        }
        let e = crate::registry::load(sub.to_str().unwrap(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains("sample 7"), "{e}");
    }
}
