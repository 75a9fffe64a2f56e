//! Atomic file writes shared by every crate that saves results: a temporary file in the same
//! directory, fsynced, then renamed into place, so that a crash leaves the previous file intact.
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{CoreError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_007
    )
}

/// Opens the directory `dir` and fsyncs it, so that a rename inside it is durable.
///
/// # Errors
/// [`CoreError::Io`] naming `dir` when it cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| CoreError::io(dir, e))
}

/// Creates (or truncates) `path`, writes `bytes` and fsyncs the file.
///
/// # Errors
/// [`CoreError::Io`] naming `path` when it cannot be created, written or synced.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| CoreError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| CoreError::io(path, e))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsynced, then
/// renamed over `path`.
///
/// # Errors
/// [`CoreError::Io`] naming the temporary file when it cannot be created, written or synced, naming
/// `path` when the rename over it fails (the temporary file is then removed), or naming the
/// directory when it cannot be synced.
///
/// # Example
/// ```
/// let dir = std::env::temp_dir().join(format!("genzoo-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let f = dir.join("result.json");
/// genzoo_core::io::write_atomic(&f, b"{\"nll\": 1.5}")?;
/// genzoo_core::io::write_atomic(&f, b"{\"nll\": 1.25}")?; // replaced whole, never half-written
/// assert_eq!(std::fs::read_to_string(&f)?, "{\"nll\": 1.25}");
/// assert_eq!(std::fs::read_dir(&dir)?.count(), 1); // no temporary file left behind
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CoreError::io(path, e)
    })?;
    sync_dir(dir)
}
