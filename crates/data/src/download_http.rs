//! The HTTP side of [`super`] (feature `download`): mirror after mirror, retries, `Range` resume
//! of a `.part` file, SHA-256 verification and an atomic rename.
use std::io::{Read, Write};
use std::path::Path;

use genzoo_core::{CoreError, Result};

use super::{part_path, sha256_file, DownloadOptions, FileSpec};

enum Outcome {
    Done,
    /// Retry the same mirror (transport error, broken transfer, 5xx).
    Retry(String),
    /// Give up on this mirror (4xx, checksum mismatch of a fresh download).
    NextMirror(String),
}

/// Downloads `file` to `dest` from the first mirror URL that delivers bytes with the right
/// SHA-256. Resumes an existing `dest.part` with an HTTP Range request; renames the verified
/// `.part` to `dest`. On failure `dest` does not exist and the error lists every mirror's fate.
///
/// # Errors
/// Every mirror failing (connection, HTTP status, size or SHA-256 mismatch; each listed), or an
/// I/O error writing `dest`.
pub fn fetch(urls: &[String], dest: &Path, file: &FileSpec, opts: &DownloadOptions) -> Result<()> {
    let part = part_path(dest);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.timeout)
        .timeout_read(opts.timeout)
        .build();
    let mut failures = Vec::new();
    for url in urls {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if opts.verbose {
                eprintln!("downloading {url} (attempt {attempt}/{})", opts.attempts);
            }
            let outcome = fetch_once(&agent, url, &part, file);
            match outcome {
                Outcome::Done => {
                    std::fs::rename(&part, dest).map_err(|e| CoreError::io(dest, e))?;
                    return Ok(());
                }
                Outcome::Retry(msg) if attempt < opts.attempts => {
                    if opts.verbose {
                        eprintln!("  {msg}; retrying");
                    }
                    std::thread::sleep(opts.backoff * attempt);
                }
                Outcome::Retry(msg) | Outcome::NextMirror(msg) => {
                    failures.push(format!("{url}: {msg}"));
                    break;
                }
            }
        }
    }
    Err(CoreError::Download {
        name: file.name.clone(),
        msg: format!(
            "failed on every mirror, nothing written to {}:\n  {}",
            dest.display(),
            if failures.is_empty() {
                "no mirror given".to_string()
            } else {
                failures.join("\n  ")
            }
        ),
    })
}

fn fetch_once(agent: &ureq::Agent, url: &str, part: &Path, file: &FileSpec) -> Outcome {
    let offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url).set("Accept-Encoding", "identity");
    if offset > 0 {
        req = req.set("Range", &format!("bytes={offset}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(416, _)) if offset > 0 => {
            // Nothing left to send: the .part may already be complete.
            return verify_part(part, file, true);
        }
        Err(ureq::Error::Status(code, _)) if code >= 500 || code == 408 || code == 429 => {
            return Outcome::Retry(format!("HTTP {code}"));
        }
        Err(ureq::Error::Status(code, r)) => {
            return Outcome::NextMirror(format!("HTTP {code} {}", r.status_text()))
        }
        Err(e) => return Outcome::Retry(format!("transport error: {e}")),
    };
    // 206 continues the .part at `offset`; anything else restarts it.
    let resume = resp.status() == 206
        && resp
            .header("Content-Range")
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|s| s.trim().parse::<u64>().ok())
            == Some(offset);
    let opened = if resume {
        std::fs::OpenOptions::new().append(true).open(part)
    } else {
        std::fs::File::create(part)
    };
    let mut out = match opened {
        Ok(f) => f,
        Err(e) => return Outcome::NextMirror(format!("cannot write {}: {e}", part.display())),
    };
    let mut reader = resp.into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = out.write_all(&buf[..n]) {
                    return Outcome::NextMirror(format!("cannot write {}: {e}", part.display()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = out.flush();
                return Outcome::Retry(format!(
                    "transfer broken ({e}); the .part is kept for resume"
                ));
            }
        }
    }
    if let Err(e) = out.flush().and_then(|_| out.sync_all()) {
        return Outcome::NextMirror(format!("cannot write {}: {e}", part.display()));
    }
    verify_part(part, file, resume)
}

fn verify_part(part: &Path, file: &FileSpec, resumed: bool) -> Outcome {
    match sha256_file(part) {
        Ok(sha) if sha == file.sha256 => Outcome::Done,
        Ok(sha) => {
            let _ = std::fs::remove_file(part);
            let msg = format!("checksum mismatch: sha256 {sha}, expected {}", file.sha256);
            // A resumed file may have been spoiled by its earlier part: try once more from zero.
            if resumed {
                Outcome::Retry(format!("{msg} after resume"))
            } else {
                Outcome::NextMirror(msg)
            }
        }
        Err(e) => Outcome::NextMirror(e.to_string()),
    }
}
