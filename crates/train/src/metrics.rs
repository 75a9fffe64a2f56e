//! Run outputs: metrics appended to `metrics.jsonl` and `metrics.csv`, and loss curves as PNG
//! (through `crate::plots`, feature `plots`).
//!
//! Every row carries `step`, the number of optimizer steps done when it was recorded, so a
//! resumed run can drop the rows written after the checkpoint it resumes from.
//! `metrics.csv` is in long form, one number per line: `step,kind,name,value` with `kind` one of
//! `train` (loss parts, `lr/<group>`, `images_per_second`) and `eval` (`nll`, the report's metrics).
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use genzoo_core::io::write_atomic;
use genzoo_core::{CoreError, Result};

/// The JSONL file name.
pub const JSONL: &str = "metrics.jsonl";
/// The CSV file name.
pub const CSV: &str = "metrics.csv";
const CSV_HEADER: &str = "step,kind,name,value";

/// Curves kept in memory: `"train/total"`, `"eval/nll"`, ... -> `(step, value)`.
pub type History = BTreeMap<String, Vec<(u64, f64)>>;

/// Appends metrics rows to the files of a run directory (or only keeps the history when there is
/// no run directory).
pub struct MetricsLog {
    dir: Option<PathBuf>,
    jsonl: Option<BufWriter<fs::File>>,
    csv: Option<BufWriter<fs::File>>,
    /// Every recorded number, for the curves.
    pub history: History,
}

fn open_append(path: &Path) -> Result<BufWriter<fs::File>> {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CoreError::io(path, e))?;
    Ok(BufWriter::new(f))
}

impl MetricsLog {
    /// A log writing into `dir` (created on the first row), keeping the rows already there with
    /// `step <= keep_until` (all of them when `None`, none for a fresh run with `Some(0)`).
    ///
    /// # Errors
    /// With a `dir`: [`CoreError::Io`] naming `metrics.jsonl` or `metrics.csv` when it cannot be
    /// rewritten or opened for appending (e.g. `dir` does not exist). Unreadable or malformed old
    /// rows are dropped, not errors.
    pub fn open(dir: Option<&Path>, keep_until: Option<u64>) -> Result<MetricsLog> {
        let mut log = MetricsLog {
            dir: dir.map(Path::to_path_buf),
            jsonl: None,
            csv: None,
            history: History::new(),
        };
        let Some(dir) = dir else { return Ok(log) };
        let jp = dir.join(JSONL);
        let cp = dir.join(CSV);
        let mut kept_json = String::new();
        if let Ok(text) = fs::read_to_string(&jp) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let step = row.get("step").and_then(|s| s.as_u64()).unwrap_or(u64::MAX);
                if keep_until.is_none_or(|k| step <= k) {
                    log.remember(&row);
                    kept_json.push_str(line);
                    kept_json.push('\n');
                }
            }
        }
        let mut kept_csv = format!("{CSV_HEADER}\n");
        if let Ok(text) = fs::read_to_string(&cp) {
            for line in text.lines().skip(1) {
                let step = line
                    .split(',')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                if keep_until.is_none_or(|k| step <= k) {
                    kept_csv.push_str(line);
                    kept_csv.push('\n');
                }
            }
        }
        write_atomic(&jp, kept_json.as_bytes())?;
        write_atomic(&cp, kept_csv.as_bytes())?;
        log.jsonl = Some(open_append(&jp)?);
        log.csv = Some(open_append(&cp)?);
        Ok(log)
    }

    fn remember(&mut self, row: &serde_json::Value) {
        let step = row.get("step").and_then(|s| s.as_u64()).unwrap_or(0);
        let kind = row.get("kind").and_then(|s| s.as_str()).unwrap_or("train");
        let table = if kind == "eval" { "metrics" } else { "losses" };
        if let Some(obj) = row.get(table).and_then(|m| m.as_object()) {
            for (k, v) in obj {
                if let Some(v) = v.as_f64() {
                    self.history
                        .entry(format!("{kind}/{k}"))
                        .or_default()
                        .push((step, v));
                }
            }
        }
        if let Some(nll) = row.get("nll").and_then(|v| v.as_f64()) {
            self.history
                .entry("eval/nll".into())
                .or_default()
                .push((step, nll));
        }
    }

    /// Appends one row: `row` must hold `step` and `kind`; `numbers` are its numbers for the CSV.
    ///
    /// # Errors
    /// [`CoreError::Io`] naming `metrics.jsonl` or `metrics.csv` when a write fails; a JSON error
    /// when `row` cannot be serialized. A log without a directory never fails.
    pub fn append(&mut self, row: serde_json::Value, numbers: &[(String, f64)]) -> Result<()> {
        self.remember(&row);
        let (Some(j), Some(c), Some(dir)) =
            (self.jsonl.as_mut(), self.csv.as_mut(), self.dir.as_ref())
        else {
            return Ok(());
        };
        let step = row.get("step").and_then(|s| s.as_u64()).unwrap_or(0);
        let kind = row
            .get("kind")
            .and_then(|s| s.as_str())
            .unwrap_or("train")
            .to_string();
        let io = |e| CoreError::io(dir.join(JSONL), e);
        serde_json::to_writer(&mut *j, &row)?;
        j.write_all(b"\n").map_err(io)?;
        for (name, v) in numbers {
            writeln!(c, "{step},{kind},{name},{v}").map_err(|e| CoreError::io(dir.join(CSV), e))?;
        }
        Ok(())
    }

    /// Flushes both files.
    ///
    /// # Errors
    /// [`CoreError::Io`] naming `metrics.jsonl` or `metrics.csv` when it cannot be flushed.
    pub fn flush(&mut self) -> Result<()> {
        if let (Some(j), Some(c), Some(dir)) =
            (self.jsonl.as_mut(), self.csv.as_mut(), self.dir.as_ref())
        {
            j.flush().map_err(|e| CoreError::io(dir.join(JSONL), e))?;
            c.flush().map_err(|e| CoreError::io(dir.join(CSV), e))?;
        }
        Ok(())
    }

    /// Writes one PNG per curve into the run directory: `loss_<part>.png` for training losses,
    /// `eval_<metric>.png` for evaluations. Without the `plots` feature it writes nothing.
    ///
    /// # Errors
    /// An I/O error naming the PNG that could not be written.
    #[cfg(not(feature = "plots"))]
    pub fn write_curves(&self) -> Result<()> {
        Ok(())
    }

    /// Writes one PNG per curve into the run directory: `loss_<part>.png` for training losses,
    /// `eval_<metric>.png` for evaluations, and for a two-player game (parts `d_loss` and
    /// `g_loss`) both players' losses on shared axes in [`PLAYERS_PNG`].
    ///
    /// # Errors
    /// An I/O error naming the PNG that could not be written.
    #[cfg(feature = "plots")]
    pub fn write_curves(&self) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        for (key, pts) in &self.history {
            let file = match key.split_once('/') {
                Some(("train", part)) => format!("loss_{}.png", sanitize(part)),
                Some(("eval", m)) => format!("eval_{}.png", sanitize(m)),
                _ => continue,
            };
            if pts.len() >= 2 {
                crate::plots::plot_curve(&dir.join(file), key, pts)?;
            }
        }
        if let (Some(d), Some(g)) = (
            self.history.get("train/d_loss"),
            self.history.get("train/g_loss"),
        ) {
            crate::plots::plot_curves(
                &dir.join(PLAYERS_PNG),
                "both players",
                &[("d_loss", d), ("g_loss", g)],
            )?;
        }
        Ok(())
    }
}

/// The plot of both players' losses of a two-player game, `d_loss` and `g_loss`, in a run
/// directory.
pub const PLAYERS_PNG: &str = "loss_players.png";

/// `s` as a file-name stem: ASCII letters, digits, `-` and `_` kept, everything else `_`.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_up_to_the_resume_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::open(Some(dir.path()), Some(0)).unwrap();
        for s in 1..=6u64 {
            let row = serde_json::json!({"step": s, "kind": "train", "losses": {"total": 10.0 / s as f64}});
            log.append(row, &[("total".into(), 10.0 / s as f64)])
                .unwrap();
        }
        log.append(
            serde_json::json!({"step": 4, "kind": "eval", "nll": 1.5, "metrics": {}}),
            &[("nll".into(), 1.5)],
        )
        .unwrap();
        log.flush().unwrap();
        log.write_curves().unwrap();
        #[cfg(feature = "plots")]
        {
            let png = fs::read(dir.path().join("loss_total.png")).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            // one player only: no plot of both
            assert!(!dir.path().join(PLAYERS_PNG).exists());
            for s in 1..=3u64 {
                let row = serde_json::json!({"step": s, "kind": "train",
                    "losses": {"d_loss": 1.0, "g_loss": s as f64}});
                log.append(row, &[("d_loss".into(), 1.0)]).unwrap();
            }
            log.write_curves().unwrap();
            assert!(dir.path().join(PLAYERS_PNG).exists());
        }
        let log2 = MetricsLog::open(Some(dir.path()), Some(3)).unwrap();
        assert_eq!(
            log2.history["train/total"]
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(!log2.history.contains_key("eval/nll"));
        let csv = fs::read_to_string(dir.path().join(CSV)).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(csv.starts_with(CSV_HEADER));
    }
}
