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
fn channel_stats(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let dims: Vec<i64> = if x.dim() == 4 { vec![0, 2, 3] } else { vec![0] };
    let mean = x.f_mean_dim(dims.as_slice(), true, x.kind())?;
    let var = x
        .f_sub(&mean)?
        .f_square()?
        .f_mean_dim(dims.as_slice(), true, x.kind())?;
    Ok((mean, var))
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
fn scaled_sum(t: &Tensor, k: f64) -> Result<Tensor> {
    let s = t.f_sum(t.kind())?;
    Ok(if k == 1.0 { s } else { s.f_mul_scalar(k)? })
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
    ///
    /// # Errors
    /// `x` not of shape `[b, c]` or `[b, c, h, w]` for the layer's `c`, or a libtorch error.
    pub fn init_from(&self, x: &Tensor) -> Result<()> {
        check_channels("actnorm input", x, self.c)?;
        let (mean, var) = channel_stats(&x.f_detach()?)?;
        tch::no_grad(|| -> Result<()> {
            self.bias
                .shallow_clone()
                .f_copy_(&mean.f_neg()?.f_reshape([self.c])?)?;
            let log_s = var
                .f_sqrt()?
                .f_add_scalar(1e-6)?
                .f_log()?
                .f_neg()?
                .f_reshape([self.c])?;
            self.log_s.shallow_clone().f_copy_(&log_s)?;
            Ok(())
        })
    }
}

impl Bijector for ActNorm {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("actnorm input", x, self.c)?;
        if ctx.init {
            self.init_from(x)?;
        }
        let s = param_shape(x.dim(), self.c);
        let y = x
            .f_add(&self.bias.f_view(s.as_slice())?)?
            .f_mul(&self.log_s.f_view(s.as_slice())?.f_exp()?)?;
        let ld = scaled_sum(&self.log_s, spatial(x) as f64)?.f_expand([x.size()[0]], false)?;
        Ok((y, ld))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("actnorm input", z, self.c)?;
        let s = param_shape(z.dim(), self.c);
        let x = z
            .f_mul(&self.log_s.f_view(s.as_slice())?.f_neg()?.f_exp()?)?
            .f_sub(&self.bias.f_view(s.as_slice())?)?;
        let ld = scaled_sum(&self.log_s, -(spatial(z) as f64))?.f_expand([z.size()[0]], false)?;
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
    fn stats(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let s = param_shape(x.dim(), self.c);
        if ctx.train || ctx.init {
            let (mean, var) = channel_stats(x)?;
            // running <- running (1 - m) + batch m
            let update = |running: &Tensor, batch: &Tensor| -> Result<()> {
                let m = self.momentum;
                let new = running.f_mul_scalar(1.0 - m)?.f_add(
                    &batch
                        .f_detach()?
                        .f_reshape([self.c])?
                        .f_to_kind(running.kind())?
                        .f_mul_scalar(m)?,
                )?;
                running.shallow_clone().f_copy_(&new)?;
                Ok(())
            };
            tch::no_grad(|| -> Result<()> {
                update(&self.running_mean, &mean)?;
                update(&self.running_var, &var)
            })?;
            Ok((mean, var))
        } else {
            Ok((
                self.running_mean
                    .f_to_kind(x.kind())?
                    .f_view(s.as_slice())?,
                self.running_var.f_to_kind(x.kind())?.f_view(s.as_slice())?,
            ))
        }
    }
    fn logdet(&self, var: &Tensor, x: &Tensor) -> Result<Tensor> {
        let per_c = self.log_gamma.f_sub(
            &var.f_reshape([self.c])?
                .f_add_scalar(self.eps)?
                .f_log()?
                .f_mul_scalar(0.5)?,
        )?;
        Ok(per_c
            .f_sum(x.kind())?
            .f_mul_scalar(spatial(x) as f64)?
            .f_expand([x.size()[0]], false)?)
    }
}

impl Bijector for BatchNormFlow {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("batchnorm input", x, self.c)?;
        let s = param_shape(x.dim(), self.c);
        let (mean, var) = self.stats(x, ctx)?;
        let y = x
            .f_sub(&mean)?
            .f_div(&var.f_add_scalar(self.eps)?.f_sqrt()?)?
            .f_mul(&self.log_gamma.f_view(s.as_slice())?.f_exp()?)?
            .f_add(&self.beta.f_view(s.as_slice())?)?;
        let ld = self.logdet(&var, x)?;
        Ok((y, ld))
    }
    /// Uses the running averages (the inverse is only taken when sampling).
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_channels("batchnorm input", z, self.c)?;
        let s = param_shape(z.dim(), self.c);
        let mean = self
            .running_mean
            .f_to_kind(z.kind())?
            .f_view(s.as_slice())?;
        let var = self.running_var.f_to_kind(z.kind())?.f_view(s.as_slice())?;
        let x = z
            .f_sub(&self.beta.f_view(s.as_slice())?)?
            .f_mul(&self.log_gamma.f_view(s.as_slice())?.f_neg()?.f_exp()?)?
            .f_mul(&var.f_add_scalar(self.eps)?.f_sqrt()?)?
            .f_add(&mean)?;
        let ld = self.logdet(&var, z)?.f_neg()?;
        Ok((x, ld))
    }
    fn name(&self) -> &str {
        "batchnorm"
    }
}
