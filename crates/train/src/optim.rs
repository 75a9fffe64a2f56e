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
mod tests {
    use super::*;
    use tch::{nn, nn::OptimizerConfig, Device, Kind};

    /// A double-precision parameter vector p0 and the quadratic loss sum(a * (p - c)^2).
    fn quad_loss(p: &Tensor) -> Tensor {
        let a = Tensor::from_slice(&[1.0f64, 3.0, 0.5, 2.0]);
        let c = Tensor::from_slice(&[0.5f64, -1.0, 2.0, 0.0]);
        (a * (p - c).square()).sum(Kind::Double)
    }
    fn p0() -> Vec<f64> {
        vec![1.0, 2.0, -3.0, 0.25]
    }
    fn grad_at(p: &[f64]) -> Vec<f64> {
        let a = [1.0, 3.0, 0.5, 2.0];
        let c = [0.5, -1.0, 2.0, 0.0];
        (0..4).map(|i| 2.0 * a[i] * (p[i] - c[i])).collect()
    }

    fn run_ours(cfg: OptimConfig, steps: usize) -> Vec<f64> {
        let p = Tensor::from_slice(&p0()).set_requires_grad(true);
        let mut opt = Optimizer::new(cfg, vec![("p".into(), p.shallow_clone())]);
        for _ in 0..steps {
            opt.zero_grad();
            quad_loss(&p).backward();
            opt.step();
        }
        Vec::try_from(&p.detach()).unwrap()
    }

    fn run_tch(cfg: &OptimConfig, steps: usize) -> Vec<f64> {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root().var_copy("p", &Tensor::from_slice(&p0()));
        vs.double();
        let mut opt = match cfg.kind {
            OptimKind::Adam => nn::Adam {
                beta1: cfg.betas[0],
                beta2: cfg.betas[1],
                wd: cfg.weight_decay,
                eps: cfg.eps,
                amsgrad: false,
            }
            .build(&vs, cfg.lr),
            OptimKind::AdamW => nn::AdamW {
                beta1: cfg.betas[0],
                beta2: cfg.betas[1],
                wd: cfg.weight_decay,
                eps: cfg.eps,
                amsgrad: false,
            }
            .build(&vs, cfg.lr),
            OptimKind::RmsProp => nn::RmsProp {
                alpha: cfg.alpha,
                eps: cfg.eps,
                wd: cfg.weight_decay,
                momentum: cfg.momentum,
                centered: false,
            }
            .build(&vs, cfg.lr),
            OptimKind::Sgd => nn::Sgd {
                momentum: cfg.momentum,
                dampening: 0.0,
                wd: cfg.weight_decay,
                nesterov: cfg.nesterov,
            }
            .build(&vs, cfg.lr),
        }
        .unwrap();
        for _ in 0..steps {
            opt.backward_step(&quad_loss(&p));
        }
        Vec::try_from(&p.detach()).unwrap()
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let cfg = OptimConfig {
            lr: 0.01,
            eps: 0.0,
            ..Default::default()
        };
        let p1 = run_ours(cfg, 1);
        let g = grad_at(&p0());
        let want: Vec<f64> = p0()
            .iter()
            .zip(&g)
            .map(|(p, g)| p - 0.01 * g.signum())
            .collect();
        close(&p1, &want, 1e-14);
    }

    #[test]
    fn adam_second_step_closed_form() {
        let (lr, b1, b2, eps) = (0.05, 0.9, 0.99, 1e-8);
        let cfg = OptimConfig {
            lr,
            betas: [b1, b2],
            eps,
            ..Default::default()
        };
        let g1 = grad_at(&p0());
        let p1: Vec<f64> = p0()
            .iter()
            .zip(&g1)
            .map(|(p, g)| p - lr * g / (g.abs() + eps))
            .collect();
        let g2 = grad_at(&p1);
        let want: Vec<f64> = (0..4)
            .map(|i| {
                let m = (1.0 - b1) * (b1 * g1[i] + g2[i]);
                let v = (1.0 - b2) * (b2 * g1[i] * g1[i] + g2[i] * g2[i]);
                let mh = m / (1.0 - b1 * b1);
                let vh = v / (1.0 - b2 * b2);
                p1[i] - lr * mh / (vh.sqrt() + eps)
            })
            .collect();
        close(&run_ours(cfg, 2), &want, 1e-12);
    }

    #[test]
    fn sgd_and_momentum_closed_form() {
        let lr = 0.1;
        let g0 = grad_at(&p0());
        let p1: Vec<f64> = p0().iter().zip(&g0).map(|(p, g)| p - lr * g).collect();
        close(
            &run_ours(
                OptimConfig {
                    kind: OptimKind::Sgd,
                    lr,
                    ..Default::default()
                },
                1,
            ),
            &p1,
            1e-15,
        );
        // momentum 0.5: b1 = g0, b2 = 0.5 g0 + g1
        let g1 = grad_at(&p1);
        let want: Vec<f64> = (0..4).map(|i| p1[i] - lr * (0.5 * g0[i] + g1[i])).collect();
        let cfg = OptimConfig {
            kind: OptimKind::Sgd,
            lr,
            momentum: 0.5,
            ..Default::default()
        };
        close(&run_ours(cfg, 2), &want, 1e-14);
    }

    #[test]
    fn rmsprop_and_adamw_first_step_closed_form() {
        let (lr, alpha, eps) = (0.01, 0.9, 1e-6);
        let g = grad_at(&p0());
        let cfg = OptimConfig {
            kind: OptimKind::RmsProp,
            lr,
            alpha,
            eps,
            ..Default::default()
        };
        let want: Vec<f64> = p0()
            .iter()
            .zip(&g)
            .map(|(p, g)| p - lr * g / (((1.0 - alpha) * g * g).sqrt() + eps))
            .collect();
        close(&run_ours(cfg, 1), &want, 1e-14);
        let cfg = OptimConfig {
            kind: OptimKind::AdamW,
            lr,
            eps: 0.0,
            weight_decay: 0.1,
            ..Default::default()
        };
        let want: Vec<f64> = p0()
            .iter()
            .zip(&g)
            .map(|(p, g)| p * (1.0 - lr * 0.1) - lr * g.signum())
            .collect();
        close(&run_ours(cfg, 1), &want, 1e-14);
    }

    #[test]
    fn matches_torch_optimizers_over_many_steps() {
        let cases = [
            OptimConfig {
                lr: 0.03,
                weight_decay: 0.01,
                ..Default::default()
            },
            OptimConfig {
                kind: OptimKind::AdamW,
                lr: 0.03,
                weight_decay: 0.05,
                betas: [0.5, 0.9],
                ..Default::default()
            },
            OptimConfig {
                kind: OptimKind::RmsProp,
                lr: 0.01,
                momentum: 0.3,
                ..Default::default()
            },
            OptimConfig {
                kind: OptimKind::RmsProp,
                lr: 0.01,
                weight_decay: 0.02,
                ..Default::default()
            },
            OptimConfig {
                kind: OptimKind::Sgd,
                lr: 0.02,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            },
            OptimConfig {
                kind: OptimKind::Sgd,
                lr: 0.02,
                momentum: 0.5,
                weight_decay: 0.1,
                ..Default::default()
            },
        ];
        for cfg in cases {
            cfg.validate("train.optimizer").unwrap();
            close(&run_ours(cfg.clone(), 20), &run_tch(&cfg, 20), 1e-10);
        }
    }

    #[test]
    fn clipping_bounds_the_norm_and_state_round_trips() {
        let p = Tensor::from_slice(&[3.0f64, 4.0]).set_requires_grad(true);
        let mut opt = Optimizer::new(
            OptimConfig::default(),
            vec![("w".into(), p.shallow_clone())],
        );
        (&p * &p).sum(Kind::Double).backward(); // grad (6, 8), norm 10
        opt.clip_grad_norm(1.0);
        let g: Vec<f64> = Vec::try_from(&p.grad()).unwrap();
        close(&g, &[0.6, 0.8], 1e-6);
        opt.step();
        let st: BTreeMap<String, Tensor> = opt.state_tensors("model/").into_iter().collect();
        assert_eq!(
            st.keys().cloned().collect::<Vec<_>>(),
            vec!["model/w/exp_avg", "model/w/exp_avg_sq"]
        );
        let q = Tensor::from_slice(&[0.0f64, 0.0]).set_requires_grad(true);
        let mut opt2 = Optimizer::new(OptimConfig::default(), vec![("w".into(), q)]);
        opt2.load_state("model/", &st, 1).unwrap();
        assert!(opt2.state_tensors("model/")[1]
            .1
            .equal(&st["model/w/exp_avg_sq"]));
        let bad: BTreeMap<String, Tensor> = [(
            "model/w/exp_avg".to_string(),
            Tensor::zeros([3], (Kind::Double, Device::Cpu)),
        )]
        .into();
        let e = opt2.load_state("model/", &bad, 1).unwrap_err().to_string();
        assert!(
            e.contains("model/w/exp_avg") && e.contains("[3]") && e.contains("[2]"),
            "{e}"
        );
    }

    /// The flat path (one update over all parameters) is bit-identical to the per-parameter one
    /// for every rule, updates the tensors the model holds, and checkpoints the same state.
    #[test]
    fn flat_buffers_match_the_per_parameter_path_bit_for_bit() {
        let shapes: [&[i64]; 3] = [&[3, 4], &[4], &[2, 2]];
        let make = || -> Vec<(String, Tensor)> {
            tch::manual_seed(7);
            shapes
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        format!("p{i}"),
                        Tensor::randn(*s, (Kind::Float, Device::Cpu)).set_requires_grad(true),
                    )
                })
                .collect()
        };
        let cases = [
            OptimConfig::default(),
            OptimConfig {
                kind: OptimKind::AdamW,
                weight_decay: 0.1,
                ..OptimConfig::default()
            },
            OptimConfig {
                weight_decay: 0.01,
                ..OptimConfig::default()
            },
            OptimConfig {
                kind: OptimKind::RmsProp,
                momentum: 0.9,
                ..OptimConfig::default()
            },
            OptimConfig {
                kind: OptimKind::Sgd,
                momentum: 0.9,
                nesterov: true,
                ..OptimConfig::default()
            },
        ];
        for cfg in cases {
            let (a, b) = (make(), make());
            let held: Vec<Tensor> = a.iter().map(|(_, p)| p.shallow_clone()).collect();
            let mut flat = Optimizer::new(cfg.clone(), a);
            assert!(flat.flat.is_some());
            flat.fused = false; // the own update's flat path (the fused kernel: the test below)
            let mut reference = Optimizer::per_parameter(cfg.clone(), b);
            for step in 0..5 {
                tch::manual_seed(100 + step);
                let grads: Vec<Tensor> = shapes
                    .iter()
                    .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
                    .collect();
                let copy: Vec<Tensor> = grads.iter().map(Tensor::copy).collect();
                flat.step_with(grads);
                reference.step_with(copy);
            }
            for ((h, (_, p)), (_, q)) in held.iter().zip(flat.params()).zip(reference.params()) {
                assert!(h.equal(q) && p.equal(q), "{cfg:?}: parameters differ");
            }
            for ((n, x), (_, y)) in flat
                .state_tensors("g/")
                .iter()
                .zip(reference.state_tensors("g/"))
            {
                assert!(x.equal(&y), "{cfg:?}: state {n} differs");
            }
        }
    }

    /// PyTorch's fused Adam kernel, compiled in by build.rs, gives the own update's parameters
    /// and moments within float rounding (1e-6) over 5 steps, for Adam, Adam with L2 weight decay
    /// and AdamW; and it is the path `new` takes for them.
    #[test]
    fn fused_adam_matches_the_own_update() {
        assert!(
            genzoo_core::kernels::compiled(),
            "kernels.cpp was not compiled (see the build warnings)"
        );
        let shapes: [&[i64]; 3] = [&[30, 40], &[40], &[7, 3]];
        let make = || -> Vec<(String, Tensor)> {
            tch::manual_seed(11);
            shapes
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let p = Tensor::randn(*s, (Kind::Float, Device::Cpu));
                    (format!("p{i}"), p.set_requires_grad(true))
                })
                .collect()
        };
        let cases = [
            OptimConfig {
                betas: [0.5, 0.999],
                ..OptimConfig::default()
            },
            OptimConfig {
                weight_decay: 0.01,
                ..OptimConfig::default()
            },
            OptimConfig {
                kind: OptimKind::AdamW,
                weight_decay: 0.1,
                lr: 3e-3,
                ..OptimConfig::default()
            },
        ];
        for cfg in cases {
            let mut fused = Optimizer::new(cfg.clone(), make());
            let mut own = Optimizer::new(cfg.clone(), make());
            assert!(fused.fused, "{cfg:?}: Adam should take the fused kernel");
            own.fused = false;
            for step in 0..5 {
                tch::manual_seed(200 + step);
                let grads: Vec<Tensor> = shapes
                    .iter()
                    .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
                    .collect();
                let copy: Vec<Tensor> = grads.iter().map(Tensor::copy).collect();
                fused.step_with(grads);
                own.step_with(copy);
                assert!(fused.fused, "{cfg:?}: the fused kernel refused step {step}");
            }
            let before = make();
            for (((_, p), (_, q)), (_, p0)) in fused.params().iter().zip(own.params()).zip(&before)
            {
                let moved = (p - p0).abs().max().double_value(&[]);
                assert!(
                    moved > 1e-3,
                    "{cfg:?}: the parameters did not move ({moved})"
                );
                let diff = (p - q).abs().max().double_value(&[]);
                assert!(
                    diff < 1e-6,
                    "{cfg:?}: fused and own updates differ by {diff}"
                );
            }
            for ((n, x), (_, y)) in fused
                .state_tensors("g/")
                .iter()
                .zip(own.state_tensors("g/"))
            {
                let diff = (x - &y).abs().max().double_value(&[]);
                assert!(diff < 1e-6, "{cfg:?}: state {n} differs by {diff}");
            }
        }
    }
}
