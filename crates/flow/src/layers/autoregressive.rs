//! Autoregressive affine layers on MADE (`genzoo_core::layers::Made`):
//! * MAF (Papamakarios et al. 2017, eqs. 2-4): density direction in one pass,
//!   `z_i = (x_i - mu_i(x_<i)) exp(-alpha_i(x_<i))`, `log|det dz/dx| = -sum alpha_i`; sampling is
//!   sequential (D passes).
//! * IAF (Kingma et al. 2016, eqs. 10-11): sampling in one pass,
//!   `x_i = z_i exp(alpha_i(z_<i)) + mu_i(z_<i)`; the density direction is sequential.
//!
//! `alpha = bound * tanh(a / bound)` keeps the log-scale bounded (a smooth, elementwise map, so the
//! autoregressive structure is unchanged). Input `[b, D]`; an optional context (class one-hot) feeds
//! MADE unmasked.
use tch::{nn, Tensor};

use crate::bijector::{check_shape, sum_per_example, Bijector, Ctx};
use genzoo_core::layers::{Made, MadeConfig};
use genzoo_core::{CoreError, Result};

/// Bound on the log-scale `|alpha|`.
pub const ALPHA_BOUND: f64 = 5.0;

/// One MAF or IAF layer.
#[derive(Debug)]
pub struct AutoregressiveAffine {
    pub made: Made,
    /// false: MAF (MADE reads x), true: IAF (MADE reads z).
    pub inverse_autoregressive: bool,
    dim: i64,
}

impl AutoregressiveAffine {
    /// A MAF (`inverse_autoregressive = false`) or IAF layer on MADE of `cfg` (its
    /// `out_per_dim` set to 2) under `p`.
    ///
    /// # Errors
    /// An invalid MADE configuration (as `genzoo_core::layers::Made::new`).
    pub fn new(p: &nn::Path, cfg: &MadeConfig, inverse_autoregressive: bool) -> Result<Self> {
        let made = Made::new(
            p,
            &MadeConfig {
                out_per_dim: 2,
                ..cfg.clone()
            },
        )?;
        Ok(AutoregressiveAffine {
            made,
            inverse_autoregressive,
            dim: cfg.input_dim,
        })
    }

    /// MADE's output on `v`, split into `(mu, a)` (`a` before the bound).
    fn made_halves(&self, v: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let h = self.made.forward(v, ctx.cond)?;
        let c = h.f_chunk(2, 1)?;
        match c.as_slice() {
            [mu, a] => Ok((mu.shallow_clone(), a.shallow_clone())),
            _ => Err(CoreError::shape(
                "MADE output",
                format!("expected [b, 2 x {}], got {:?}", self.dim, h.size()),
            )),
        }
    }

    /// `(mu, alpha)` from MADE on `v`.
    fn params(&self, v: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let (mu, a) = self.made_halves(v, ctx)?;
        let alpha = a
            .f_div_scalar(ALPHA_BOUND)?
            .f_tanh()?
            .f_mul_scalar(ALPHA_BOUND)?;
        Ok((mu, alpha))
    }

    /// The one-pass direction: from `v` (what MADE reads) compute the other side.
    /// MAF: v = x, returns z; IAF: v = z, returns x. Log-det of the returned side wrt `v`'s side
    /// is `-sum alpha` (MAF) or `+sum alpha` (IAF).
    fn one_pass(&self, v: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        if self.inverse_autoregressive {
            let (mu, alpha) = self.params(v, ctx)?;
            Ok((
                v.f_mul(&alpha.f_exp()?)?.f_add(&mu)?,
                sum_per_example(&alpha)?,
            ))
        } else {
            // -alpha = -B tanh(a / B) = B tanh(a / -B): the negated log-scale in as many ops.
            let (mu, a) = self.made_halves(v, ctx)?;
            let neg_alpha = a
                .f_div_scalar(-ALPHA_BOUND)?
                .f_tanh()?
                .f_mul_scalar(ALPHA_BOUND)?;
            Ok((
                v.f_sub(&mu)?.f_mul(&neg_alpha.f_exp()?)?,
                sum_per_example(&neg_alpha)?,
            ))
        }
    }

    /// The sequential direction: find `v` whose one-pass image is `w` (D passes: after pass k the
    /// first k dimensions in the ordering are exact).
    fn sequential(&self, w: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut v = w.f_zeros_like()?;
        for _ in 0..self.dim {
            let (mu, a) = self.params(&v, ctx)?;
            v = if self.inverse_autoregressive {
                w.f_sub(&mu)?.f_mul(&a.f_neg()?.f_exp()?)?
            } else {
                w.f_mul(&a.f_exp()?)?.f_add(&mu)?
            };
        }
        // The parameters at the fixed point give the log-det of v exactly.
        let (_, a) = self.params(&v, ctx)?;
        let ld = sum_per_example(&a)?;
        Ok((
            v,
            if self.inverse_autoregressive {
                ld.f_neg()?
            } else {
                ld
            },
        ))
    }
}

impl Bijector for AutoregressiveAffine {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_shape("autoregressive input", x, &[0, self.dim])?;
        if self.inverse_autoregressive {
            self.sequential(x, ctx)
        } else {
            self.one_pass(x, ctx)
        }
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_shape("autoregressive input", z, &[0, self.dim])?;
        if self.inverse_autoregressive {
            self.one_pass(z, ctx)
        } else {
            self.sequential(z, ctx)
        }
    }
    fn name(&self) -> &str {
        if self.inverse_autoregressive {
            "iaf"
        } else {
            "maf"
        }
    }
}
