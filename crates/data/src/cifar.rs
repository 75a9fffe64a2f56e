//! CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"), binary
//! version: the reader of its batch files and the extraction of those files from
//! `cifar-10-binary.tar.gz`.
//!
//! A batch file is a sequence of 3,073-byte records: one label byte (0..=9), then 3,072 pixel
//! bytes, 1,024 red, 1,024 green, 1,024 blue, each 32x32 row-major, i.e. one `u8 [3, 32, 32]`
//! image. The reader checks that the length is a positive multiple of 3,073 and every label is
//! below 10; errors name the file.
use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::{CoreError, Result};

/// Bytes per record: label + 3 x 32 x 32 pixels.
pub const RECORD: usize = 1 + 3 * 32 * 32;
/// The five training batches and the test batch, in the order they are concatenated.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_FILE: &str = "test_batch.bin";
/// The folder inside the official archive.
pub const ARCHIVE_DIR: &str = "cifar-10-batches-bin";
/// Class names, by label.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses the bytes of one batch file into `(u8 [n, 3, 32, 32], i64 [n])`.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when `bytes` is empty or not a whole number of 3,073-byte
/// records (a truncated or foreign file), or when a record's label is not in 0..=9.
pub fn parse_batch(bytes: &[u8], path: &Path) -> Result<(Tensor, Tensor)> {
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(CoreError::format(
            path,
            format!("CIFAR-10 batch of {} bytes is not a positive multiple of the {RECORD}-byte record (truncated or not a batch file)", bytes.len()),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (RECORD - 1));
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(CoreError::format(
                path,
                format!("record {i}: label {} is not in 0..=9", rec[0]),
            ));
        }
        labels.push(i64::from(rec[0]));
        pixels.extend_from_slice(&rec[1..]);
    }
    let x = Tensor::from_slice(&pixels).reshape([n as i64, 3, 32, 32]);
    Ok((x, Tensor::from_slice(&labels)))
}

/// Reads one batch file.
///
/// # Errors
/// [`CoreError::Io`] when `path` cannot be read; [`CoreError::Format`] naming `path` when it is not
/// a CIFAR-10 batch file (see [`parse_batch`]).
pub fn read_batch(path: &Path) -> Result<(Tensor, Tensor)> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_batch(&bytes, path)
}

/// The folder holding the `.bin` files: `dir` itself or `dir/cifar-10-batches-bin`.
pub fn batch_dir(dir: &Path) -> PathBuf {
    let inner = dir.join(ARCHIVE_DIR);
    if inner.join(TEST_FILE).exists() {
        inner
    } else {
        dir.to_path_buf()
    }
}

/// Loads the 50,000/10,000 split from a folder of batch files.
///
/// # Errors
/// [`CoreError::Io`] naming the batch file (`data_batch_1.bin` .. `data_batch_5.bin`,
/// `test_batch.bin`) that is missing or unreadable; [`CoreError::Format`] naming the one that is
/// not a valid batch file.
pub fn load_dir(dir: &Path) -> Result<Split> {
    let dir = batch_dir(dir);
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for f in TRAIN_FILES {
        let (x, y) = read_batch(&dir.join(f))?;
        xs.push(x);
        ys.push(y);
    }
    let (tx, ty) = read_batch(&dir.join(TEST_FILE))?;
    let kind = DataKind::Image {
        channels: 3,
        height: 32,
        width: 32,
    };
    let make = |name: &str, x: Tensor, y: Tensor| Dataset {
        name: name.into(),
        kind,
        x,
        y: Some(y),
        num_classes: Some(10),
    };
    Ok(Split {
        train: make(
            "cifar10/train",
            Tensor::cat(&xs, 0),
            Tensor::cat(&ys, 0).to_kind(Kind::Int64),
        ),
        test: make("cifar10/test", tx, ty),
    })
}

/// Extracts the members of a `.tar.gz` (or plain `.tar`) archive whose base names are in `wanted`
/// into `out_dir` (flattened), each written atomically. Returns the paths written, in the order
/// of `wanted`. Only regular files are considered; names are never used as paths, so the archive
/// cannot write elsewhere.
///
/// # Errors
/// Those of [`read_members`]; [`CoreError::Io`] when a member cannot be written into `out_dir`.
pub fn extract_members(archive: &Path, wanted: &[&str], out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, bytes) in read_members(archive, wanted)? {
        let dest = out_dir.join(name);
        genzoo_core::io::write_atomic(&dest, &bytes)?;
        written.push(dest);
    }
    Ok(written)
}

/// Reads the members of a `.tar.gz` (or plain `.tar`) archive whose base names are in `wanted`:
/// `(base name, bytes)` in the order of `wanted`. Only regular files are considered.
///
/// # Errors
/// [`CoreError::Io`] when `archive` cannot be read; [`CoreError::Format`] naming `archive` when it
/// is not valid gzip, a tar header has a bad size field, a member runs past the end (a truncated
/// archive), or a name in `wanted` is not among its regular files.
pub fn read_members(archive: &Path, wanted: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
    let bytes = std::fs::read(archive).map_err(|e| CoreError::io(archive, e))?;
    let tar = if super::idx::is_gzip(&bytes) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| CoreError::format(archive, format!("gzip: {e}")))?;
        out
    } else {
        bytes
    };
    let mut found: Vec<Option<Vec<u8>>> = vec![None; wanted.len()];
    let mut off = 0usize;
    while off + 512 <= tar.len() {
        let h = &tar[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            break; // end-of-archive marker
        }
        let field = |a: usize, b: usize| {
            let s = &h[a..b];
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).trim().to_string()
        };
        let name = field(0, 100);
        let size = u64::from_str_radix(&field(124, 136), 8).map_err(|_| {
            CoreError::format(archive, format!("tar header at byte {off}: bad size field"))
        })? as usize;
        let typeflag = h[156];
        let start = off + 512;
        let end = start.checked_add(size).filter(|&e| e <= tar.len()).ok_or_else(|| {
            CoreError::format(archive, format!("tar member `{name}` declares {size} bytes past the end (truncated archive)"))
        })?;
        let base = name.rsplit('/').next().unwrap_or("");
        if typeflag == b'0' || typeflag == 0 {
            if let Some(i) = wanted.iter().position(|w| *w == base) {
                found[i] = Some(tar[start..end].to_vec());
            }
        }
        off = start + size.div_ceil(512) * 512;
    }
    wanted
        .iter()
        .zip(found)
        .map(|(w, bytes)| {
            bytes
                .map(|b| (w.to_string(), b))
                .ok_or_else(|| CoreError::format(archive, format!("archive holds no member `{w}`")))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar archive built by hand (ustar headers): `(path, bytes)` members, regular files.
    pub(crate) fn tar_bytes(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, data) in members {
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            let size = format!("{:011o}\0", data.len());
            h[124..136].copy_from_slice(size.as_bytes());
            h[156] = b'0';
            tar.extend_from_slice(&h);
            tar.extend_from_slice(data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.extend_from_slice(&[0u8; 1024]);
        tar
    }

    fn record(label: u8, seed: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| (i as u8).wrapping_mul(seed)));
        r
    }

    #[test]
    fn parses_records_channel_first() {
        let bytes = [record(3, 1), record(9, 7)].concat();
        let (x, y) = parse_batch(&bytes, Path::new("b.bin")).unwrap();
        assert_eq!(x.size(), vec![2, 3, 32, 32]);
        assert_eq!(Vec::<i64>::try_from(&y).unwrap(), vec![3, 9]);
        // pixel (c=1, h=2, w=5) of record 1 is byte 1 + 1024 + 2*32 + 5 of that record.
        let k = 1024 + 64 + 5;
        assert_eq!(
            x.int64_value(&[1, 1, 2, 5]),
            i64::from((k as u8).wrapping_mul(7))
        );
    }

    #[test]
    fn malformed_batches_are_refused_by_name() {
        let p = Path::new("data_batch_1.bin");
        let short = record(1, 1)[..3000].to_vec();
        let e = parse_batch(&short, p).unwrap_err().to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains("truncated"),
            "{e}"
        );
        let e = parse_batch(&record(10, 1), p).unwrap_err().to_string();
        assert!(e.contains("label 10"), "{e}");
        assert!(parse_batch(&[], p).is_err());
    }

    #[test]
    fn extracts_members_from_tar_gz() {
        let dir = tempfile::tempdir().unwrap();
        // A tar with one wanted member and one other.
        let tar = tar_bytes(&[
            ("cifar-10-batches-bin/readme.html", b"hi".to_vec()),
            ("cifar-10-batches-bin/test_batch.bin", record(4, 3)),
        ]);
        let archive = dir.path().join("c.tar.gz");
        std::fs::write(&archive, super::super::idx::gzip_bytes(&tar).unwrap()).unwrap();
        let out = extract_members(&archive, &["test_batch.bin"], dir.path()).unwrap();
        assert_eq!(out.len(), 1);
        let (x, y) = read_batch(&out[0]).unwrap();
        assert_eq!((x.size()[0], y.int64_value(&[0])), (1, 4));
        let e = extract_members(&archive, &["data_batch_1.bin"], dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains("c.tar.gz"),
            "{e}"
        );
    }
}
