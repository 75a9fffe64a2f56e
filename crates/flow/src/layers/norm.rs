//! Normalization layers as flows.
//!
//! * ActNorm (Glow, Kingma & Dhariwal 2018, sec. 3.1): `y = (x + b) exp(log s)` per channel;
//!   `log|det| = h w sum log s`. Data-dependent initialization: on the first batch `b = -mean`,
//!   `log s = -log std` per channel, so the output has zero mean and unit variance per channel.
//! * Batch normalization as a flow layer (RealNVP, Dinh et al. 2017, sec. 3.7; MAF, Papamakarios
//!   et al. 2017, sec. 3.4): `y = (x - mu) / sqrt(v + eps) exp(log gamma) + beta` with batch
//!   statistics in training (running averages updated) and running averages otherwise;
//!   `log|det| = h w sum (log gamma - 0.5 log(v + eps))`.
//!
//! Both take `[b, c, h, w]` or `[b, d]` (d channels, no spatial dims).
use tch::{nn, Tensor};

use crate::bijector::{Bijector, Ctx};
use genzoo_core::{CoreError, Result};

fn param_shape(x_dim: usize, c: i64) -> Vec<i64> {
    if x_dim == 4 {
        vec![1, c, 1, 1]
    } else {
        vec![1, c]
    }
}

fn spatial(x: &Tensor) -> i64 {
    x.size().iter().skip(2).product::<i64>()
}

/// Per-channel mean and (biased) variance of `[b, c(, h, w)]`, shaped like the parameters.
fn channel_stats(x: &Tensor) -> (Tensor, Tensor) {
    let dims: Vec<i64> = if x.dim() == 4 { vec![0, 2, 3] } else { vec![0] };
    let mean = x.mean_dim(dims.as_slice(), true, x.kind());
    let var = (x - &mean)
        .square()
        .mean_dim(dims.as_slice(), true, x.kind());
    (mean, var)
}

fn check_channels(name: &str, x: &Tensor, c: i64) -> Result<()> {
    if !(x.dim() == 2 || x.dim() == 4) || x.size()[1] != c {
        return Err(CoreError::shape(
            name,
            format!("expected [b, {c}] or [b, {c}, h, w], got {:?}", x.size()),
        ));
    }
    Ok(())
}

/// `k * sum(t)` (one op fewer when `k = 1`).
fn scaled_sum(t: &Tensor, k: f64) -> Tensor {
    let s = t.sum(t.kind());
    if k == 1.0 {
        s
    } else {
        s * k
    }
}

/// Glow's ActNorm.
#[derive(Debug)]
pub struct ActNorm {
    pub bias: Tensor,  // [c]
    pub log_s: Tensor, // [c]
    pub c: i64,
}

impl ActNorm {
    pub fn new(p: &nn::Path, c: i64) -> Self {
        ActNorm {
            bias: p.zeros("bias", &[c]),
            log_s: p.zeros("log_s", &[c]),
            c,
        }
    }
    /// Sets `bias` and `log_s` so that `x` maps to zero mean, unit variance per channel.
    pub fn init_from(&self, x: &Tensor) {
        let (mean, var) = channel_stats(&x.detach());
        tch::no_grad(|| {
            self.bias.shallow_clone().copy_(&(-mean).reshape([self.c]));
            self.log_s
                .shallow_clone()
                .copy_(&(-(var.sqrt() + 1e-6).log()).reshape([self.c]));
        });
    }
}

impl Bijector for ActNorm {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("actnorm input", x, self.c)?;
        if ctx.init {
            self.init_from(x);
        }
        let s = param_shape(x.dim(), self.c);
        let y = (x + self.bias.view(s.as_slice())) * self.log_s.view(s.as_slice()).exp();
        let ld = scaled_sum(&self.log_s, spatial(x) as f64).expand([x.size()[0]], false);
        Ok((y, ld))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("actnorm input", z, self.c)?;
        let s = param_shape(z.dim(), self.c);
        let x = z * (-self.log_s.view(s.as_slice())).exp() - self.bias.view(s.as_slice());
        let ld = scaled_sum(&self.log_s, -(spatial(z) as f64)).expand([z.size()[0]], false);
        Ok((x, ld))
    }
    fn name(&self) -> &str {
        "actnorm"
    }
}

/// Batch normalization as a bijector.
#[derive(Debug)]
pub struct BatchNormFlow {
    pub log_gamma: Tensor,    // [c]
    pub beta: Tensor,         // [c]
    pub running_mean: Tensor, // [c], non-trainable
    pub running_var: Tensor,  // [c], non-trainable
    pub c: i64,
    pub momentum: f64,
    pub eps: f64,
}

impl BatchNormFlow {
    pub fn new(p: &nn::Path, c: i64) -> Self {
        BatchNormFlow {
            log_gamma: p.zeros("log_gamma", &[c]),
            beta: p.zeros("beta", &[c]),
            running_mean: p.zeros_no_train("running_mean", &[c]),
            running_var: p.ones_no_train("running_var", &[c]),
            c,
            momentum: 0.05,
            eps: 1e-4,
        }
    }
    fn stats(&self, x: &Tensor, ctx: &Ctx) -> (Tensor, Tensor) {
        let s = param_shape(x.dim(), self.c);
        if ctx.train || ctx.init {
            let (mean, var) = channel_stats(x);
            tch::no_grad(|| {
                let m = self.momentum;
                let rm = &self.running_mean * (1.0 - m)
                    + mean
                        .detach()
                        .reshape([self.c])
                        .to_kind(self.running_mean.kind())
                        * m;
                let rv = &self.running_var * (1.0 - m)
                    + var
                        .detach()
                        .reshape([self.c])
                        .to_kind(self.running_var.kind())
                        * m;
                self.running_mean.shallow_clone().copy_(&rm);
                self.running_var.shallow_clone().copy_(&rv);
            });
            (mean, var)
        } else {
            (
                self.running_mean.to_kind(x.kind()).view(s.as_slice()),
                self.running_var.to_kind(x.kind()).view(s.as_slice()),
            )
        }
    }
    fn logdet(&self, var: &Tensor, x: &Tensor) -> Tensor {
        let per_c: Tensor = &self.log_gamma - (var.reshape([self.c]) + self.eps).log() * 0.5;
        (per_c.sum(x.kind()) * spatial(x) as f64).expand([x.size()[0]], false)
    }
}

impl Bijector for BatchNormFlow {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("batchnorm input", x, self.c)?;
        let s = param_shape(x.dim(), self.c);
        let (mean, var) = self.stats(x, ctx);
        let y = (x - &mean) / (&var + self.eps).sqrt() * self.log_gamma.view(s.as_slice()).exp()
            + self.beta.view(s.as_slice());
        let ld = self.logdet(&var, x);
        Ok((y, ld))
    }
    /// Uses the running averages (the inverse is only taken when sampling).
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("batchnorm input", z, self.c)?;
        let s = param_shape(z.dim(), self.c);
        let mean = self.running_mean.to_kind(z.kind()).view(s.as_slice());
        let var = self.running_var.to_kind(z.kind()).view(s.as_slice());
        let x = (z - self.beta.view(s.as_slice()))
            * (-self.log_gamma.view(s.as_slice())).exp()
            * (&var + self.eps).sqrt()
            + mean;
        let ld = -self.logdet(&var, z);
        Ok((x, ld))
    }
    fn name(&self) -> &str {
        "batchnorm"
    }
}
