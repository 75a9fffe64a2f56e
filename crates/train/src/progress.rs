//! The progress of a training run (loss, images/s, ETA): a bar on a terminal (with the
//! `progress` feature, through `indicatif`), else one plain line on stderr at every tenth of the
//! run, so that a log file shows a long run alive ([`Plain`]).
#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
#[cfg(feature = "progress")]
use std::io::IsTerminal;

/// Plain progress lines: `step 150/1500 (10%): loss 2.3100, 17 img/s` at each tenth of the run.
/// The losses shown are [`loss_summary`]'s.
pub struct Plain {
    total: u64,
    /// The next tenth (1..=10) to report.
    next: std::cell::Cell<u64>,
}

impl Plain {
    /// Lines for a run of `total` steps starting at `start`.
    pub fn new(total: u64, start: u64) -> Plain {
        let p = Plain {
            total: total.max(1),
            next: std::cell::Cell::new(1),
        };
        p.skip_to(start);
        p
    }
    fn skip_to(&self, pos: u64) {
        while self.next.get() <= 10 && pos * 10 >= self.next.get() * self.total {
            self.next.set(self.next.get() + 1);
        }
    }
    /// The line for `pos` steps done, when it crosses the next tenth.
    pub fn line(&self, pos: u64, loss: &str, images_per_second: f64) -> Option<String> {
        let tenth = self.next.get();
        if tenth > 10 || pos * 10 < tenth * self.total {
            return None;
        }
        self.skip_to(pos);
        Some(format!(
            "step {pos}/{} ({}%): {loss}, {images_per_second:.0} img/s",
            self.total,
            pos * 100 / self.total
        ))
    }
}

/// The losses a progress display shows: `loss T` for a model with a `total`, else each part
/// named `*_loss` (a GAN's `d_loss` and `g_loss`), else the first part.
pub fn loss_summary(losses: &std::collections::BTreeMap<String, f64>) -> String {
    if let Some(t) = losses.get("total") {
        return format!("loss {t:.4}");
    }
    let parts: Vec<String> = losses
        .iter()
        .filter(|(k, _)| k.ends_with("_loss"))
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    match (parts.is_empty(), losses.iter().next()) {
        (false, _) => parts.join(" "),
        (true, Some((k, v))) => format!("{k} {v:.4}"),
        (true, None) => "no losses".into(),
    }
}

/// The progress display: a bar on a terminal, plain lines elsewhere, nothing when disabled.
#[cfg(feature = "progress")]
pub struct Progress {
    bar: ProgressBar,
    plain: Option<Plain>,
}

#[cfg(feature = "progress")]
impl Progress {
    /// A bar over `total` steps starting at `start`.
    pub fn new(enabled: bool, total: u64, start: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let target = if enabled && terminal {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let plain = (enabled && !terminal).then(|| Plain::new(total, start));
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}") {
            bar.set_style(style);
        }
        bar.set_position(start);
        bar.reset_eta();
        Progress { bar, plain }
    }
    /// Moves to `pos` steps done with the current losses ([`loss_summary`]) and throughput.
    pub fn update(&self, pos: u64, loss: &str, images_per_second: f64) {
        if let Some(line) = self
            .plain
            .as_ref()
            .and_then(|p| p.line(pos, loss, images_per_second))
        {
            eprintln!("    {line}");
        }
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(pos);
        self.bar
            .set_message(format!("{loss} | {images_per_second:.0} img/s"));
    }
    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The progress bar's stand-in without the `progress` feature: draws nothing.
#[cfg(not(feature = "progress"))]
pub struct Progress;

#[cfg(not(feature = "progress"))]
impl Progress {
    /// A bar that draws nothing.
    pub fn new(_enabled: bool, _total: u64, _start: u64) -> Progress {
        Progress
    }
    /// Does nothing.
    pub fn update(&self, _pos: u64, _loss: &str, _images_per_second: f64) {}
    /// Does nothing.
    pub fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::{loss_summary, Plain};

    /// Off a terminal, a run reports each tenth once, from where it starts.
    #[test]
    fn plain_progress_reports_each_tenth_once() {
        let p = Plain::new(1500, 0);
        let lines: Vec<String> = (1..=1500)
            .filter_map(|s| p.line(s, "loss 2.0000", 17.0))
            .collect();
        assert_eq!(lines.len(), 10, "{lines:?}");
        assert_eq!(lines[0], "step 150/1500 (10%): loss 2.0000, 17 img/s");
        assert!(lines[9].starts_with("step 1500/1500 (100%)"));
        // logged every 100 steps: the first line past each tenth
        let p = Plain::new(1500, 0);
        let lines: Vec<String> = (1..=15)
            .filter_map(|k| p.line(k * 100, "loss 1", 1.0))
            .collect();
        assert_eq!(lines.len(), 10);
        assert!(lines[0].starts_with("step 200/1500 (13%)"));
        // a resumed run at step 700 reports from 50% on
        let p = Plain::new(1000, 700);
        assert_eq!(p.line(750, "loss 1", 1.0), None);
        assert!(p
            .line(800, "loss 1", 1.0)
            .unwrap()
            .starts_with("step 800/1000 (80%)"));
    }

    /// A GAN has no `total`: its players' losses are shown, never NaN.
    #[test]
    fn the_summary_shows_a_total_or_the_players_losses() {
        let m = |v: &[(&str, f64)]| v.iter().map(|(k, x)| (k.to_string(), *x)).collect();
        assert_eq!(
            loss_summary(&m(&[("total", 1.5), ("recon", 1.0)])),
            "loss 1.5000"
        );
        assert_eq!(
            loss_summary(&m(&[("d_fake", 0.1), ("d_loss", 1.2), ("g_loss", 0.7)])),
            "d_loss 1.2000 g_loss 0.7000"
        );
        assert_eq!(loss_summary(&m(&[("nll", 3.0)])), "nll 3.0000");
    }
}
