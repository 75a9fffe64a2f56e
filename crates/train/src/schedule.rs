//! Learning-rate schedules: linear warm-up followed by a constant, cosine or step decay.
//!
//! The schedule is a factor in (0, 1] applied to every group's base learning rate at the
//! 0-based step `t` being taken:
//! * warm-up (Goyal et al. 2017, "Accurate, large minibatch SGD", Sec. 2.2): `(t + 1) / W` for
//!   `t < W`;
//! * cosine (Loshchilov & Hutter 2017, SGDR, Eq. 5, one cycle, no restart):
//!   `m + (1 - m) (1 + cos(pi u)) / 2` with `u = (t - W) / (T - W)` the fraction of the
//!   post-warm-up steps done and `m` the final factor;
//! * step: `gamma^floor((t - W) / every)`.
use serde::{Deserialize, Serialize};

use genzoo_core::{CoreError, Result};

/// The decay after warm-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// A constant learning rate.
    #[default]
    Constant,
    /// Cosine annealing from the base rate to `min_factor` times it at the last step.
    Cosine,
    /// Multiply by `gamma` every `step_every` steps.
    Step,
}

/// A learning-rate schedule (`[train.schedule]` in TOML).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub kind: ScheduleKind,
    /// Linear warm-up steps (0 = none).
    pub warmup_steps: u64,
    /// Cosine: the final factor (0 = decay to zero).
    pub min_factor: f64,
    /// Step: the decay interval in steps.
    pub step_every: u64,
    /// Step: the decay factor.
    pub gamma: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            min_factor: 0.0,
            step_every: 0,
            gamma: 0.1,
        }
    }
}

impl ScheduleConfig {
    /// Checks the values; keys are named under `prefix` (e.g. `train.schedule`).
    ///
    /// # Errors
    /// [`CoreError::Config`] naming `{prefix}.min_factor` when it is outside [0, 1], and, for
    /// `kind = "step"`, `{prefix}.step_every` when it is 0 or `{prefix}.gamma` when it is outside
    /// (0, 1].
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_factor) {
            return Err(CoreError::config(
                format!("{prefix}.min_factor"),
                "must be in [0, 1]",
            ));
        }
        if self.kind == ScheduleKind::Step {
            if self.step_every == 0 {
                return Err(CoreError::config(
                    format!("{prefix}.step_every"),
                    "must be > 0 for kind = \"step\"",
                ));
            }
            if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                return Err(CoreError::config(
                    format!("{prefix}.gamma"),
                    "must be in (0, 1]",
                ));
            }
        }
        Ok(())
    }

    /// The factor at 0-based step `t` of a run of `total` steps.
    ///
    /// # Example
    /// Linear warm-up over 10 steps, then cosine annealing to 10% of the base rate at the last step:
    /// ```
    /// use genzoo_train::{ScheduleConfig, ScheduleKind};
    /// let s = ScheduleConfig { kind: ScheduleKind::Cosine, warmup_steps: 10, min_factor: 0.1, ..Default::default() };
    /// assert_eq!(s.factor(0, 110), 0.1);
    /// assert_eq!(s.factor(9, 110), 1.0);
    /// assert_eq!(s.factor(10, 110), 1.0);
    /// assert!((s.factor(109, 110) - 0.1).abs() < 1e-12);
    /// let mid = s.factor(10 + 99 / 2, 110);
    /// assert!(mid > 0.1 && mid < 1.0);
    /// ```
    pub fn factor(&self, t: u64, total: u64) -> f64 {
        let w = self.warmup_steps;
        if t < w {
            return (t + 1) as f64 / w as f64;
        }
        let s = t - w;
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Cosine => {
                let span = total.saturating_sub(w).saturating_sub(1).max(1);
                let u = (s as f64 / span as f64).min(1.0);
                self.min_factor
                    + (1.0 - self.min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * u).cos())
            }
            ScheduleKind::Step => self.gamma.powi((s / self.step_every.max(1)) as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_constant() {
        let s = ScheduleConfig {
            warmup_steps: 4,
            ..Default::default()
        };
        let f: Vec<f64> = (0..6).map(|t| s.factor(t, 100)).collect();
        assert_eq!(f, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn cosine_known_values() {
        let s = ScheduleConfig {
            kind: ScheduleKind::Cosine,
            min_factor: 0.1,
            ..Default::default()
        };
        // 101 steps: t = 0 is the start, t = 50 the midpoint, t = 100 the end.
        assert!((s.factor(0, 101) - 1.0).abs() < 1e-15);
        assert!((s.factor(50, 101) - 0.55).abs() < 1e-15);
        assert!((s.factor(100, 101) - 0.1).abs() < 1e-15);
        // a quarter of the way: 0.1 + 0.9 * (1 + cos(pi/4)) / 2
        let q = 0.1 + 0.9 * 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2);
        assert!((s.factor(25, 101) - q).abs() < 1e-15);
        let w = ScheduleConfig {
            kind: ScheduleKind::Cosine,
            warmup_steps: 10,
            ..Default::default()
        };
        assert_eq!(w.factor(4, 111), 0.5);
        assert!((w.factor(10, 111) - 1.0).abs() < 1e-15);
        assert!(w.factor(110, 111).abs() < 1e-15);
    }

    #[test]
    fn step_decay_known_values() {
        let s = ScheduleConfig {
            kind: ScheduleKind::Step,
            step_every: 10,
            gamma: 0.5,
            ..Default::default()
        };
        assert_eq!(s.factor(0, 100), 1.0);
        assert_eq!(s.factor(9, 100), 1.0);
        assert_eq!(s.factor(10, 100), 0.5);
        assert_eq!(s.factor(35, 100), 0.125);
        let bad = ScheduleConfig {
            kind: ScheduleKind::Step,
            step_every: 0,
            ..Default::default()
        };
        assert!(bad
            .validate("train.schedule")
            .unwrap_err()
            .to_string()
            .contains("train.schedule.step_every"));
    }
}
