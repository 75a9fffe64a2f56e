//! What keeps a run directory honest: the fingerprint of the training data a run was trained on
//! (a resume on other data is refused, naming both fingerprints) and the lock that lets one
//! process at a time write a run directory (a second writer is refused, naming the holder).
use std::io::Write;
use std::path::{Path, PathBuf};

use genzoo_core::data::Dataset;
use genzoo_core::{CoreError, Result};
use sha2::{Digest, Sha256};
use tch::Device;

/// `N examples [shape] sha256:HEX`: the SHA-256 of a dataset's kind, shape, values and labels.
///
/// # Errors
/// A libtorch error copying the data to the CPU.
pub fn data_fingerprint(ds: &Dataset) -> Result<String> {
    let mut h = Sha256::new();
    let x = ds.x.f_contiguous()?.f_to_device(Device::Cpu)?;
    let mut bytes = vec![0u8; x.numel() * x.kind().elt_size_in_bytes()];
    x.f_copy_data_u8(&mut bytes, x.numel())?;
    h.update(format!("{:?} {:?} {:?}", ds.kind, x.kind(), x.size()));
    h.update(&bytes);
    if let Some(y) = &ds.y {
        for v in Vec::<i64>::try_from(&y.f_to_device(Device::Cpu)?.f_to_kind(tch::Kind::Int64)?)? {
            h.update(v.to_le_bytes());
        }
    }
    Ok(format!(
        "{} examples {:?} sha256:{}",
        ds.len(),
        &x.size()[1..],
        hex::encode(h.finalize())
    ))
}

/// The lock file of a run directory.
pub const LOCK: &str = ".lock";

/// Holds `RUN/.lock` (the process id and host) while a process writes the run; removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// Whether process `pid` still runs: `/proc/PID` on Linux; elsewhere every recorded holder is
/// taken as alive (the user removes a stale lock by hand, as the error says).
fn alive(pid: i32) -> bool {
    if Path::new("/proc/self").exists() {
        pid > 0 && Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

impl RunLock {
    /// Takes the lock of `run_dir` (created if missing). A lock left by a process that no longer
    /// runs is taken over.
    ///
    /// # Errors
    /// [`CoreError::Checkpoint`] naming the run directory and the holder (pid) while another
    /// live process holds it; [`CoreError::Io`] naming the lock file.
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(run_dir).map_err(|e| CoreError::io(run_dir, e))?;
        let path = run_dir.join(LOCK);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| CoreError::io(&path, e))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid: i32 = holder.trim().parse().unwrap_or(0);
                    if alive(pid) {
                        return Err(CoreError::Checkpoint {
                            path: run_dir.to_path_buf(),
                            msg: format!("another process (pid {pid}) is writing this run directory; wait for it, or remove {} if it is gone", path.display()),
                        });
                    }
                    // stale: its writer is gone
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(CoreError::io(&path, e)),
            }
        }
        Err(CoreError::Checkpoint {
            path: run_dir.to_path_buf(),
            msg: "could not take the run directory's lock".into(),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_and_a_stale_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(d.path()).unwrap();
        let e = RunLock::acquire(d.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(lock);
        assert!(!d.path().join(LOCK).exists());
        // a lock whose process is gone (pid far above any live one)
        std::fs::write(d.path().join(LOCK), "2147483646\n").unwrap();
        let again = RunLock::acquire(d.path()).unwrap();
        drop(again);
    }
}
