//! The progress bar of a training run (loss, images/s, ETA), drawn only on a terminal and only
//! with the `progress` feature (through `indicatif`); without it, a silent stand-in.
#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
#[cfg(feature = "progress")]
use std::io::IsTerminal;

/// The progress bar: hidden when disabled or when stderr is not a terminal.
#[cfg(feature = "progress")]
pub struct Progress {
    bar: ProgressBar,
}

#[cfg(feature = "progress")]
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
    pub fn update(&self, _pos: u64, _loss: f64, _images_per_second: f64) {}
    /// Does nothing.
    pub fn finish(&self) {}
}
