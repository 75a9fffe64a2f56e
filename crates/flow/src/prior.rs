//! Base distributions of the flows, over the flat latent `z [b, D]`: the standard Gaussian
//! (RealNVP, Glow, MAF), the standard logistic (NICE, Dinh et al. 2015, sec. 3.4) and a learned
//! diagonal Gaussian (one mean and log-scale per dimension; Glow's learned top prior). Densities
//! come from `genzoo_core::dist`. Sampling takes a temperature T (Glow, sec. 5): the latent is
//! drawn at scale T (`z = mu + T sigma eps`).
use tch::{nn, Device, Kind, Tensor};

use crate::bijector::{check_shape, sum_per_example};
use genzoo_core::dist::{DiagGaussian, Distribution, Logistic, StandardNormal};
use genzoo_core::{CoreError, Result};

/// Which base distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriorKind {
    StandardGaussian,
    Logistic,
    LearnedGaussian,
}

/// A base distribution over `[b, dim]`.
#[derive(Debug)]
pub struct Prior {
    pub kind: PriorKind,
    pub dim: i64,
    /// Learned mean and log-scale (`[dim]`) for [`PriorKind::LearnedGaussian`].
    pub params: Option<(Tensor, Tensor)>,
}

impl Prior {
    /// A prior of `kind` over `[b, dim]`; a learned Gaussian's parameters are zero-initialized
    /// variables `loc` and `log_scale` under `p`.
    ///
    /// # Errors
    /// A negative `dim`, or a libtorch error creating the variables.
    pub fn new(p: &nn::Path, kind: PriorKind, dim: i64) -> Result<Self> {
        let params = if kind == PriorKind::LearnedGaussian {
            Some((p.f_zeros("loc", &[dim])?, p.f_zeros("log_scale", &[dim])?))
        } else {
            None
        };
        Ok(Prior { kind, dim, params })
    }

    /// `log p(z)` per example, `[b]`.
    ///
    /// # Errors
    /// `z` not of shape `[b, dim]`, or a libtorch error.
    pub fn log_prob(&self, z: &Tensor) -> Result<Tensor> {
        check_shape("prior input", z, &[0, self.dim])?;
        let kind = z.kind();
        let lp = match (self.kind, &self.params) {
            (PriorKind::LearnedGaussian, Some((loc, ls))) => {
                DiagGaussian::new(&loc.f_to_kind(kind)?, &ls.f_to_kind(kind)?)?.f_log_prob(z)?
            }
            (PriorKind::Logistic, _) => {
                let zero = Tensor::f_zeros([self.dim], (kind, z.device()))?;
                Logistic::new(&zero, &zero)?.f_log_prob(z)?
            }
            _ => StandardNormal::new(&[self.dim], kind, z.device())?.f_log_prob(z)?,
        };
        sum_per_example(&lp)
    }

    /// `n` draws at temperature `t` (torch's global generator), `[n, dim]`.
    ///
    /// # Errors
    /// A temperature that is negative or not finite, a negative `n`, or a libtorch error.
    pub fn sample(&self, n: i64, t: f64, device: Device) -> Result<Tensor> {
        if !(t.is_finite() && t >= 0.0) {
            return Err(CoreError::Invalid(format!(
                "sampling temperature {t} must be finite and >= 0"
            )));
        }
        if n < 0 {
            return Err(CoreError::Invalid(format!("cannot draw {n} samples")));
        }
        Ok(match (self.kind, &self.params) {
            (PriorKind::LearnedGaussian, Some((loc, ls))) => {
                let eps = StandardNormal::new(&[self.dim], Kind::Float, device)?.sample(&[n]);
                let scale = ls.f_detach()?.f_exp()?.f_mul_scalar(t)?;
                loc.f_detach()?.f_add(&eps.f_mul(&scale)?)?
            }
            (PriorKind::Logistic, _) => {
                let zero = Tensor::f_zeros([self.dim], (Kind::Float, device))?;
                Logistic::new(&zero, &zero)?.sample(&[n]).f_mul_scalar(t)?
            }
            _ => StandardNormal::new(&[self.dim], Kind::Float, device)?
                .sample(&[n])
                .f_mul_scalar(t)?,
        })
    }
}
