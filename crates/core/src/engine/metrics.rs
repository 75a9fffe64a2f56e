//! Run outputs: metrics appended to `metrics.jsonl` and `metrics.csv`, loss curves as PNG, and
//! the progress bar (loss, images/s, ETA; drawn only on a terminal).
//!
//! Every row carries `step`, the number of optimizer steps done when it was recorded, so a
//! resumed run can drop the rows written after the checkpoint it resumes from.
//! `metrics.csv` is in long form, one number per line: `step,kind,name,value` with `kind` one of
//! `train` (loss parts, `lr/<group>`, `images_per_second`) and `eval` (`nll`, the report's metrics).
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use plotters::prelude::*;

use super::checkpoint::write_atomic;
use crate::{CoreError, Result};

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
    /// `eval_<metric>.png` for evaluations.
    pub fn write_curves(&self) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        for (key, pts) in &self.history {
            let file = match key.split_once('/') {
                Some(("train", part)) => format!("loss_{}.png", sanitize(part)),
                Some(("eval", m)) => format!("eval_{}.png", sanitize(m)),
                _ => continue,
            };
            if pts.len() >= 2 {
                plot_curve(&dir.join(file), pts)?;
            }
        }
        Ok(())
    }
}

fn sanitize(s: &str) -> String {
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

/// Draws `(step, value)` as a line on a white 640x400 PNG without text (the file name says
/// which metric it is): a frame, grid lines at the quarter marks, the curve in blue. Non-finite
/// points are skipped.
pub fn plot_curve(path: &Path, pts: &[(u64, f64)]) -> Result<()> {
    let (w, h) = (640u32, 400u32);
    let pts: Vec<(f64, f64)> = pts
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|&(s, v)| (s as f64, v))
        .collect();
    if pts.is_empty() {
        return Ok(());
    }
    let (x0, x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (y0, y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let (x1, y0, y1) = (if x1 > x0 { x1 } else { x0 + 1.0 }, y0 - pad, y1 + pad);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let err = |e: String| CoreError::Invalid(format!("plotting {}: {e}", path.display()));
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(e.to_string()))?;
        let grid = RGBColor(225, 225, 225);
        for i in 1..4 {
            let fx = x0 + (x1 - x0) * f64::from(i) / 4.0;
            let fy = y0 + (y1 - y0) * f64::from(i) / 4.0;
            chart
                .draw_series(LineSeries::new(vec![(fx, y0), (fx, y1)], grid))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(LineSeries::new(vec![(x0, fy), (x1, fy)], grid))
                .map_err(|e| err(e.to_string()))?;
        }
        let frame = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        chart
            .draw_series(LineSeries::new(frame, BLACK))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(pts, BLUE.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    crate::image::save_png(path, w, h, png::ColorType::Rgb, &buf)
}

/// A 2-D scatter plot of samples `f32 [n, 2]` (toy data), without text.
pub fn plot_scatter(path: &Path, s: &tch::Tensor) -> Result<()> {
    let v: Vec<f64> = Vec::try_from(
        s.to_kind(tch::Kind::Double)
            .to_device(tch::Device::Cpu)
            .reshape([-1]),
    )?;
    let pts: Vec<(f64, f64)> = v
        .chunks(2)
        .map(|c| (c[0], c[1]))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let lim = pts
        .iter()
        .fold(1e-6f64, |m, p| m.max(p.0.abs()).max(p.1.abs()))
        * 1.05;
    let (w, h) = (480u32, 480u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let err = |e: String| CoreError::Invalid(format!("plotting {}: {e}", path.display()));
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .build_cartesian_2d(-lim..lim, -lim..lim)
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 2, BLUE.filled())))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    crate::image::save_png(path, w, h, png::ColorType::Rgb, &buf)
}

/// The progress bar: hidden when disabled or when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` steps starting at `start`.
    pub fn new(enabled: bool, total: u64, start: u64) -> Progress {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}") {
            bar.set_style(style);
        }
        bar.set_position(start);
        bar.reset_eta();
        Progress { bar }
    }
    /// Moves to `pos` steps done with the current loss and throughput.
    pub fn update(&self, pos: u64, loss: f64, images_per_second: f64) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(pos);
        self.bar
            .set_message(format!("loss {loss:.4} | {images_per_second:.0} img/s"));
    }
    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_up_to_the_resume_step_and_curves_are_drawn() {
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
        let png = fs::read(dir.path().join("loss_total.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let pts = tch::Tensor::from_slice(&[0.0f32, 1.0, -1.0, 0.5, 2.0, -2.0]).reshape([3, 2]);
        plot_scatter(&dir.path().join("scatter.png"), &pts).unwrap();
        let png = fs::read(dir.path().join("scatter.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
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
