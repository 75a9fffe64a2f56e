//! The optimizers of the engine, written over VarStore tensors so that their state (moments,
//! momentum buffers, step counts) lives in tensors the engine owns and can checkpoint (tch's
//! optimizers cannot export theirs).
//!
//! The updates follow PyTorch's `torch.optim` (single-tensor code path) exactly:
//! * SGD with momentum and Nesterov momentum (Sutskever et al. 2013, Eq. 1-2 in PyTorch's form
//!   `b <- mu b + g`, `p <- p - lr b`);
//! * RMSprop (Tieleman & Hinton 2012, lecture 6.5): `s <- a s + (1 - a) g^2`,
//!   `p <- p - lr g / (sqrt(s) + eps)`, optional momentum on the scaled gradient;
//! * Adam (Kingma & Ba 2015, Algorithm 1) with bias-corrected moments, weight decay as an L2
//!   term added to the gradient;
//! * AdamW (Loshchilov & Hutter 2019, Algorithm 2): Adam with decoupled decay `p <- p (1 - lr wd)`.
//!
//! Moments are kept per parameter in the parameter's dtype and device; `t` counts the steps taken
//! by this optimizer (for the bias correction).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use genzoo_core::{CoreError, Result};

/// Which update rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    #[default]
    Adam,
    AdamW,
    RmsProp,
    Sgd,
}

/// An optimizer's settings (`[train.optimizer]` in TOML). Fields not used by `kind` are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    pub kind: OptimKind,
    /// Base learning rate (the schedule multiplies it).
    pub lr: f64,
    /// Adam/AdamW: (beta1, beta2).
    pub betas: [f64; 2],
    /// Adam/AdamW/RMSprop: the denominator's epsilon.
    pub eps: f64,
    /// L2 penalty added to the gradient (decoupled decay for AdamW).
    pub weight_decay: f64,
    /// SGD/RMSprop momentum.
    pub momentum: f64,
    /// RMSprop smoothing constant.
    pub alpha: f64,
    /// SGD: Nesterov momentum.
    pub nesterov: bool,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            kind: OptimKind::Adam,
            lr: 1e-3,
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            alpha: 0.99,
            nesterov: false,
        }
    }
}

/// Per-group overrides of the base optimizer (`[train.groups.NAME]`): unset fields inherit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimOverride {
    pub kind: Option<OptimKind>,
    pub lr: Option<f64>,
    pub betas: Option<[f64; 2]>,
    pub eps: Option<f64>,
    pub weight_decay: Option<f64>,
    pub momentum: Option<f64>,
    pub alpha: Option<f64>,
    pub nesterov: Option<bool>,
}

impl OptimConfig {
    /// This config with the set fields of `o` replacing its own.
    pub fn merged(&self, o: &OptimOverride) -> OptimConfig {
        OptimConfig {
            kind: o.kind.unwrap_or(self.kind),
            lr: o.lr.unwrap_or(self.lr),
            betas: o.betas.unwrap_or(self.betas),
            eps: o.eps.unwrap_or(self.eps),
            weight_decay: o.weight_decay.unwrap_or(self.weight_decay),
            momentum: o.momentum.unwrap_or(self.momentum),
            alpha: o.alpha.unwrap_or(self.alpha),
            nesterov: o.nesterov.unwrap_or(self.nesterov),
        }
    }

    /// Checks the values; keys are named under `prefix` (e.g. `train.optimizer`).
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the first bad key under `prefix`: `lr` not finite and > 0,
    /// `betas` outside [0, 1), `eps` negative (or 0 for rmsprop), `weight_decay` negative,
    /// `momentum` or `alpha` outside [0, 1), `nesterov` without sgd and momentum > 0.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let bad = |k: &str, m: &str| Err(CoreError::config(format!("{prefix}.{k}"), m.to_string()));
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a finite number > 0");
        }
        if !self.betas.iter().all(|b| (0.0..1.0).contains(b)) {
            return bad("betas", "both must be in [0, 1)");
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return bad("eps", "must be >= 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", "must be >= 0");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", "must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.alpha) {
            return bad("alpha", "must be in [0, 1)");
        }
        if self.nesterov && (self.kind != OptimKind::Sgd || self.momentum == 0.0) {
            return bad("nesterov", "needs kind = \"sgd\" and momentum > 0");
        }
        if self.kind == OptimKind::RmsProp && self.eps == 0.0 {
            return bad("eps", "must be > 0 for rmsprop");
        }
        Ok(())
    }

    /// Names of the state slots kept per parameter.
    fn slots(&self) -> &'static [&'static str] {
        match self.kind {
            OptimKind::Adam | OptimKind::AdamW => &["exp_avg", "exp_avg_sq"],
            OptimKind::RmsProp if self.momentum > 0.0 => &["square_avg", "momentum_buffer"],
            OptimKind::RmsProp => &["square_avg"],
            OptimKind::Sgd if self.momentum > 0.0 => &["momentum_buffer"],
            OptimKind::Sgd => &[],
        }
    }
}

/// One optimizer over a named list of parameters.
///
/// When every parameter has the same dtype and device (the usual case), the parameters are moved
/// into one contiguous buffer (each parameter becomes a view of its slice, through `set_data`,
/// so the model's own tensors see every update) and so are the state slots: a step is then a
/// handful of kernels over all parameters at once, the multi-tensor optimizer step PyTorch gets
/// from `fused=True`, with the same elementwise arithmetic as the per-parameter path.
pub struct Optimizer {
    cfg: OptimConfig,
    lr: f64,
    params: Vec<(String, Tensor)>,
    /// `state[i][k]`: slot `k` of parameter `i` (a view of `flat.slots[k]` when flat).
    state: Vec<Vec<Tensor>>,
    /// The contiguous buffers behind the parameters and slots, when they could be made.
    flat: Option<Flat>,
    /// Adam and AdamW step through PyTorch's fused kernel ([`crate::fused_adam`]) when it was
    /// compiled in; off after the kernel refuses a step (the own update takes over).
    fused: bool,
    t: u64,
}

/// The flat buffers of an [`Optimizer`]: `params` `[N]` holds every parameter, `slots[k]` `[N]`
/// every parameter's slot `k`.
struct Flat {
    params: Tensor,
    slots: Vec<Tensor>,
}

/// Views of `flat` shaped like `params`, in order.
fn views_of(flat: &Tensor, params: &[(String, Tensor)]) -> Vec<Tensor> {
    let mut off = 0;
    params
        .iter()
        .map(|(_, p)| {
            let n = p.numel() as i64;
            let v = flat.narrow(0, off, n).view(p.size().as_slice());
            off += n;
            v
        })
        .collect()
}

/// Moves `params` into one contiguous buffer (each a view of its slice) and allocates zeroed
/// slot buffers; `None` (the per-parameter path) for mixed dtypes or devices, or no parameter.
fn flatten(params: &mut [(String, Tensor)], n_slots: usize) -> Option<(Flat, Vec<Vec<Tensor>>)> {
    let first = params.first()?.1.shallow_clone();
    if params
        .iter()
        .any(|(_, p)| p.kind() != first.kind() || p.device() != first.device())
    {
        return None;
    }
    let _guard = tch::no_grad_guard();
    let pieces: Vec<Tensor> = params.iter().map(|(_, p)| p.detach().reshape(-1)).collect();
    let flat_p = Tensor::f_cat(&pieces, 0).ok()?;
    let views = views_of(&flat_p, params);
    for ((_, p), v) in params.iter_mut().zip(views) {
        p.f_set_data(&v).ok()?;
    }
    let slots: Vec<Tensor> = (0..n_slots).map(|_| flat_p.zeros_like()).collect();
    let mut state: Vec<Vec<Tensor>> = params.iter().map(|_| Vec::new()).collect();
    for slot in &slots {
        for (st, v) in state.iter_mut().zip(views_of(slot, params)) {
            st.push(v);
        }
    }
    Some((
        Flat {
            params: flat_p,
            slots,
        },
        state,
    ))
}

impl Optimizer {
    /// An optimizer over `params` (`(name, tensor)` as in the VarStore) with zeroed state. The
    /// parameters keep their values; when they share a dtype and device their storage moves into
    /// one flat buffer (see [`Optimizer`]).
    pub fn new(cfg: OptimConfig, mut params: Vec<(String, Tensor)>) -> Optimizer {
        let n_slots = cfg.slots().len();
        let cfg_kind = cfg.kind;
        let (flat, state) = match flatten(&mut params, n_slots) {
            Some((f, st)) => (Some(f), st),
            None => {
                let st = params
                    .iter()
                    .map(|(_, p)| (0..n_slots).map(|_| p.zeros_like().detach()).collect())
                    .collect();
                (None, st)
            }
        };
        Optimizer {
            lr: cfg.lr,
            cfg,
            params,
            state,
            flat,
            fused: matches!(cfg_kind, OptimKind::Adam | OptimKind::AdamW),
            t: 0,
        }
    }

    /// [`Optimizer::new`] without the flat buffers (the reference path in tests).
    #[cfg(test)]
    fn per_parameter(cfg: OptimConfig, params: Vec<(String, Tensor)>) -> Optimizer {
        let n_slots = cfg.slots().len();
        let state = params
            .iter()
            .map(|(_, p)| (0..n_slots).map(|_| p.zeros_like().detach()).collect())
            .collect();
        Optimizer {
            lr: cfg.lr,
            cfg,
            params,
            state,
            flat: None,
            fused: false,
            t: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &OptimConfig {
        &self.cfg
    }
    /// The learning rate used by the next step.
    pub fn lr(&self) -> f64 {
        self.lr
    }
    /// Sets the learning rate of the next step (the schedule does this).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    /// Steps taken.
    pub fn steps_taken(&self) -> u64 {
        self.t
    }
    /// The parameters.
    pub fn params(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// Zeroes the gradients of the parameters.
    pub fn zero_grad(&mut self) {
        for (_, p) in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// Scales the gradients so that their joint L2 norm is at most `max_norm` (PyTorch's
    /// `clip_grad_norm_`, without a device sync).
    pub fn clip_grad_norm(&mut self, max_norm: f64) {
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        clip_grads(&grads, max_norm);
    }
}

/// Scales `grads` in place so that their joint L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`, without a device sync); undefined entries are skipped.
pub fn clip_grads(grads: &[Tensor], max_norm: f64) {
    let _guard = tch::no_grad_guard();
    let grads: Vec<Tensor> = grads
        .iter()
        .filter(|g| g.defined())
        .map(Tensor::shallow_clone)
        .collect();
    if grads.is_empty() {
        return;
    }
    let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
    let total = Tensor::stack(&norms, 0).norm();
    let coef = (total + 1e-6)
        .reciprocal()
        .g_mul_scalar(max_norm)
        .clamp_max(1.0);
    for mut g in grads {
        let _ = g.g_mul_(&coef);
    }
}

impl Optimizer {
    /// One update of every parameter that has a gradient (in its `.grad`).
    pub fn step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
        self.step_with(grads);
    }

    /// One update from gradients computed elsewhere: `grads[i]` belongs to `params()[i]`;
    /// undefined ones (parameters the loss does not reach) are skipped. Missing trailing entries
    /// count as undefined. With every gradient defined and flat buffers, the update runs once
    /// over all parameters.
    pub fn step_with(&mut self, grads: Vec<Tensor>) {
        let _guard = tch::no_grad_guard();
        self.t += 1;
        let all_defined = grads.len() == self.params.len() && grads.iter().all(Tensor::defined);
        if self.fused && all_defined {
            match self.fused_step(&grads) {
                Ok(()) => return,
                Err(_) => {
                    // not compiled in, or a dtype the kernel lacks: the own update from now on
                    if !genzoo_core::kernels::compiled() {
                        genzoo_core::kernels::note_fallback("fused Adam (own update)");
                    }
                    self.fused = false;
                }
            }
        }
        if let (Some(flat), true) = (self.flat.as_mut(), all_defined) {
            // The gradients laid out as the buffer: one update over every parameter.
            let pieces: Vec<Tensor> = grads.iter().map(|g| g.reshape(-1)).collect();
            let g = Tensor::cat(&pieces, 0);
            update(
                &self.cfg,
                self.lr,
                self.t,
                &mut flat.params,
                &mut flat.slots,
                g,
            );
            return;
        }
        for (((_, p), slots), g) in self.params.iter_mut().zip(self.state.iter_mut()).zip(grads) {
            if g.defined() {
                update(&self.cfg, self.lr, self.t, p, slots, g);
            }
        }
    }

    /// Adam's step through PyTorch's fused kernel, from `grads` (all defined).
    fn fused_step(&self, grads: &[Tensor]) -> Result<()> {
        let Some((_, first)) = self.params.first() else {
            return Ok(());
        };
        let step = Tensor::f_full([], self.t as f64, (Kind::Float, first.device()))?;
        let params: Vec<Tensor> = self.params.iter().map(|(_, p)| p.shallow_clone()).collect();
        let m: Vec<&Tensor> = self.state.iter().map(|s| &s[0]).collect();
        let v: Vec<&Tensor> = self.state.iter().map(|s| &s[1]).collect();
        genzoo_core::kernels::FusedAdam {
            lr: self.lr,
            betas: self.cfg.betas,
            eps: self.cfg.eps,
            weight_decay: self.cfg.weight_decay,
            adamw: self.cfg.kind == OptimKind::AdamW,
        }
        .step(&params, grads, &m, &v, &step)
    }

    /// The state tensors, named `{prefix}{param}/{slot}`, plus nothing else (the step count is
    /// part of the JSON training state).
    pub fn state_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let slots = self.cfg.slots();
        let mut out = Vec::new();
        for ((name, _), st) in self.params.iter().zip(&self.state) {
            for (slot, t) in slots.iter().zip(st) {
                out.push((format!("{prefix}{name}/{slot}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores the state written by [`Optimizer::state_tensors`] and the step count; every
    /// tensor must be present with the parameter's shape.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`{prefix}NAME/SLOT`) when a state tensor is missing from `tensors` or
    /// differs in shape from its parameter; a libtorch error from the copy.
    pub fn load_state(
        &mut self,
        prefix: &str,
        tensors: &BTreeMap<String, Tensor>,
        steps_taken: u64,
    ) -> Result<()> {
        let slots = self.cfg.slots();
        let _guard = tch::no_grad_guard();
        for ((name, p), st) in self.params.iter().zip(self.state.iter_mut()) {
            for (slot, dst) in slots.iter().zip(st.iter_mut()) {
                let key = format!("{prefix}{name}/{slot}");
                let src = tensors.get(&key).ok_or_else(|| {
                    CoreError::shape(&key, "optimizer state missing from the checkpoint")
                })?;
                if src.size() != p.size() {
                    return Err(CoreError::shape(
                        &key,
                        format!(
                            "checkpoint shape {:?}, parameter shape {:?}",
                            src.size(),
                            p.size()
                        ),
                    ));
                }
                dst.f_copy_(src)?;
            }
        }
        self.t = steps_taken;
        Ok(())
    }
}

/// One update rule step of parameter `p` (a parameter, or the flat buffer of all of them) with
/// its state `slots` and gradient `g`, at step `t` (1-based) with learning rate `lr`.
fn update(c: &OptimConfig, lr: f64, t: u64, p: &mut Tensor, slots: &mut [Tensor], g: Tensor) {
    let t = t as i32;
    let g = if c.weight_decay > 0.0 && c.kind != OptimKind::AdamW {
        g + p.detach() * c.weight_decay
    } else {
        g
    };
    match c.kind {
        OptimKind::Adam | OptimKind::AdamW => {
            if c.kind == OptimKind::AdamW && c.weight_decay > 0.0 {
                let _ = p.g_mul_scalar_(1.0 - lr * c.weight_decay);
            }
            let (b1, b2) = (c.betas[0], c.betas[1]);
            let [m, v, ..] = slots else {
                return; // `new` allocates two slots for Adam: unreachable
            };
            let _ = m.lerp_(&g, 1.0 - b1); // m <- b1 m + (1 - b1) g
            let _ = v.lerp_(&g.square(), 1.0 - b2); // v <- b2 v + (1 - b2) g^2
            let step_size = lr / (1.0 - b1.powi(t));
            let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
            // p <- p - step_size m / (sqrt(v) / bc2_sqrt + eps), written as
            // p + m / (sqrt(v) k1 + k2) to fold the scalars into two passes.
            let mut denom = v.sqrt();
            let _ = denom.g_mul_scalar_(-1.0 / (step_size * bc2_sqrt));
            let _ = denom.g_add_scalar_(-c.eps / step_size);
            let _ = p.addcdiv_(m, &denom);
        }
        OptimKind::RmsProp => {
            let sq = &mut slots[0];
            let _ = sq.g_mul_scalar_(c.alpha);
            let _ = sq.addcmul_(&g, &(&g * (1.0 - c.alpha)));
            let mut avg = sq.sqrt();
            let _ = avg.g_add_scalar_(c.eps);
            if c.momentum > 0.0 {
                let buf = &mut slots[1];
                let _ = buf.g_mul_scalar_(c.momentum);
                let _ = buf.addcdiv_(&g, &avg);
                let _ = p.g_add_(&(&*buf * (-lr)));
            } else {
                let _ = avg.g_div_scalar_(-lr);
                let _ = p.addcdiv_(&g, &avg);
            }
        }
        OptimKind::Sgd => {
            let d = if c.momentum > 0.0 {
                let buf = &mut slots[0];
                let _ = buf.g_mul_scalar_(c.momentum);
                let _ = buf.g_add_(&g);
                if c.nesterov {
                    g + &*buf * c.momentum
                } else {
                    buf.shallow_clone()
                }
            } else {
                g
            };
            let _ = p.g_add_(&(d * (-lr)));
        }
    }
}

#[cfg(test)]
#[path = "optim_tests.rs"]
mod tests;
