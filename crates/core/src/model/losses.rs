//! What one training step returns and how it steps its optimizers: named loss parts without a
//! mandatory single total (one objective per player of a GAN), parameter groups with their own
//! optimizers, and the [`Optimize`] handle that back-propagates into one group only.
use std::collections::BTreeMap;

use tch::{Device, Tensor};

use crate::Result;

/// Named loss parts of one step (scalar tensors). A single-objective model names its objective
/// `total` ([`Losses::new`]); a model with several players has no single total and names one
/// objective per player (`d_loss`, `g_loss`: [`Losses::empty`] then [`Losses::with`]).
#[derive(Debug)]
pub struct Losses {
    parts: Vec<(String, Tensor)>,
}

impl Losses {
    /// Losses whose single objective is `total` (a scalar tensor).
    pub fn new(total: Tensor) -> Self {
        Losses {
            parts: vec![("total".to_string(), total)],
        }
    }
    /// Losses with no part yet: add each player's objective and the reported parts with
    /// [`Losses::with`].
    pub fn empty() -> Self {
        Losses { parts: Vec::new() }
    }
    /// The part named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
    /// Adds a named part (a scalar tensor) for reporting.
    pub fn with(mut self, name: &str, value: Tensor) -> Self {
        self.parts.push((name.to_string(), value));
        self
    }
    /// The single objective, the part named `total`.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] when there is no such part (multi-player losses).
    pub fn total(&self) -> Result<&Tensor> {
        self.get("total").ok_or_else(|| {
            crate::CoreError::Invalid(format!(
                "these losses have no `total` part (they have: {})",
                self.parts
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
    /// The parts in insertion order.
    pub fn parts(&self) -> &[(String, Tensor)] {
        &self.parts
    }
    /// The parts as numbers (one device sync).
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let vals = Tensor::stack(
            &self
                .parts
                .iter()
                .map(|(_, t)| t.detach().to_kind(tch::Kind::Double).reshape([]))
                .collect::<Vec<_>>(),
            0,
        )
        .to_device(Device::Cpu);
        let vals: Vec<f64> = Vec::try_from(&vals).unwrap_or_default();
        self.parts
            .iter()
            .map(|(n, _)| n.clone())
            .zip(vals)
            .collect()
    }
}

/// One named group of parameters, optimized by its own optimizer.
pub struct ParamGroup {
    pub name: String,
    /// `(name, tensor)` pairs, names as in the VarStore.
    pub vars: Vec<(String, Tensor)>,
}

/// The trainer's optimization handle passed to
/// [`GenerativeModel::train_step`](super::GenerativeModel::train_step).
pub trait Optimize {
    /// Back-propagates `loss` into the parameters of `group` only (no other group's gradient is
    /// computed or touched), clips those gradients and steps `group`'s optimizer once.
    ///
    /// # Errors
    /// [`crate::CoreError::Unknown`] for a group the model does not declare; a libtorch error
    /// when `loss` does not depend on any parameter.
    fn minimize(&mut self, group: &str, loss: &Tensor) -> Result<()>;
    /// Steps `group`'s optimizer once with gradients the model computed itself, as
    /// `(parameter, gradient)` pairs (e.g. MADE's analytic gradients, no autograd graph),
    /// clipped as in [`Optimize::minimize`]; a parameter of the group without a pair is not
    /// updated this step.
    ///
    /// # Errors
    /// [`crate::CoreError::Unknown`] for a group the model does not declare;
    /// [`crate::CoreError::Invalid`] when a pair's parameter is not in the group;
    /// [`crate::CoreError::Shape`] (`gradient`) when a gradient is not shaped like its parameter.
    fn apply_grads(&mut self, group: &str, grads: &[(Tensor, Tensor)]) -> Result<()>;
    /// The global step being taken (0-based): one call of `train_step`.
    fn step(&self) -> u64;
    /// How many optimizer steps `group` has taken over the whole run (kept across resumes): what
    /// a critic trained `n_critic` times per generator step counts with.
    ///
    /// # Errors
    /// [`crate::CoreError::Unknown`] for a group the model does not declare.
    fn group_steps(&self, group: &str) -> Result<u64>;
}
