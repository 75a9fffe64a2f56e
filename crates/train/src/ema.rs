//! Exponential moving average of weights (Polyak & Juditsky 1992; in the form used by
//! e.g. Karras et al. 2018 for GAN generators): `s <- d s + (1 - d) w` after every step, with the
//! average used for evaluation and sampling and saved in checkpoints.
//!
//! Every floating-point variable of the VarStore is averaged, or only those of the parameter
//! groups named in [`EmaConfig::groups`] (a GAN averages its generator's only); the others, and
//! integer buffers, are copied, so that the EMA weights always form a whole model.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use genzoo_core::{CoreError, Result};

/// EMA settings (`[train.ema]` in TOML).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmaConfig {
    /// The decay d in [0, 1).
    pub decay: f64,
    /// Steps before averaging starts (the shadow copies the weights until then).
    pub start_step: u64,
    /// Parameter groups to average (e.g. `["generator"]`); empty: every variable.
    pub groups: Vec<String>,
}

impl Default for EmaConfig {
    fn default() -> Self {
        EmaConfig {
            decay: 0.999,
            start_step: 0,
            groups: Vec::new(),
        }
    }
}

impl EmaConfig {
    /// Checks the values; keys are named under `prefix`.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`{prefix}.decay`) when `decay` is not in [0, 1).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        if !(0.0..1.0).contains(&self.decay) {
            return Err(CoreError::config(
                format!("{prefix}.decay"),
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }
}

/// Shadow copies of a model's variables.
pub struct Ema {
    cfg: EmaConfig,
    /// `(name, live variable, shadow, averaged)`, sorted by name.
    vars: Vec<(String, Tensor, Tensor, bool)>,
}

impl Ema {
    /// Shadows initialized to the current values of `vars`.
    pub fn new(cfg: EmaConfig, vars: BTreeMap<String, Tensor>) -> Ema {
        Ema::averaging(cfg, vars, |_| true)
    }

    /// Shadows of `vars` of which only those whose name passes `averaged` are averaged; the
    /// others follow the live weights.
    pub fn averaging(
        cfg: EmaConfig,
        vars: BTreeMap<String, Tensor>,
        averaged: impl Fn(&str) -> bool,
    ) -> Ema {
        let vars = vars
            .into_iter()
            .map(|(n, v)| {
                let avg = averaged(&n);
                (n, v.shallow_clone(), v.detach().copy(), avg)
            })
            .collect();
        Ema { cfg, vars }
    }

    /// Folds the current weights into the average; `step` is the number of steps done.
    pub fn update(&mut self, step: u64) {
        let _guard = tch::no_grad_guard();
        let copy_only = step <= self.cfg.start_step;
        for (_, live, shadow, averaged) in self.vars.iter_mut() {
            if copy_only || !*averaged || !live.is_floating_point() {
                shadow.copy_(live);
            } else {
                let _ = shadow.lerp_(live, 1.0 - self.cfg.decay);
            }
        }
    }

    /// The shadows as `(name, tensor)`.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .map(|(n, _, s, _)| (n.clone(), s.shallow_clone()))
            .collect()
    }

    /// Restores shadows from a checkpoint; names and shapes must match.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`ema/NAME`) when a shadow tensor is missing from `tensors` or differs
    /// in shape; a libtorch error from the copy.
    pub fn load(&mut self, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for (name, _, shadow, _) in self.vars.iter_mut() {
            let src = tensors.get(name).ok_or_else(|| {
                CoreError::shape(format!("ema/{name}"), "missing from the checkpoint")
            })?;
            if src.size() != shadow.size() {
                return Err(CoreError::shape(
                    format!("ema/{name}"),
                    format!(
                        "checkpoint shape {:?}, model shape {:?}",
                        src.size(),
                        shadow.size()
                    ),
                ));
            }
            shadow.f_copy_(src)?;
        }
        Ok(())
    }

    /// Swaps live weights and shadows (call twice to undo): evaluation runs on the average.
    pub fn swap(&mut self) {
        let _guard = tch::no_grad_guard();
        for (_, live, shadow, _) in self.vars.iter_mut() {
            let tmp = live.copy();
            live.copy_(shadow);
            shadow.copy_(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_follows_closed_form_and_swaps() {
        let w = Tensor::from_slice(&[1.0f64, 2.0]);
        let mut ema = Ema::new(
            EmaConfig {
                decay: 0.5,
                start_step: 0,
                ..Default::default()
            },
            [("w".to_string(), w.shallow_clone())].into(),
        );
        let mut live = w.shallow_clone();
        live.copy_(&Tensor::from_slice(&[3.0f64, 6.0]));
        ema.update(1); // 0.5 * (1, 2) + 0.5 * (3, 6) = (2, 4)
        live.copy_(&Tensor::from_slice(&[4.0f64, 0.0]));
        ema.update(2); // (3, 2)
        assert_eq!(
            Vec::<f64>::try_from(&ema.tensors()[0].1).unwrap(),
            vec![3.0, 2.0]
        );
        ema.swap();
        assert_eq!(Vec::<f64>::try_from(&w).unwrap(), vec![3.0, 2.0]);
        ema.swap();
        assert_eq!(Vec::<f64>::try_from(&w).unwrap(), vec![4.0, 0.0]);
    }
}
