//! Pre-processing bijections from dequantized data `y in [0,1]^D` to the space the flow body sees,
//! with their log-determinants (counted in the likelihood):
//! * [`Logit`]: RealNVP's `z = logit(alpha + (1 - 2 alpha) y)` (Dinh et al. 2017, sec. 4.1; MAF
//!   uses it too), computed by `genzoo_core::units::logit_transform`.
//! * [`Shift`]: Glow's `z = y - 1/2` (log-det 0), or any `z = a y + b` (NICE uses `y` as is).
use tch::Tensor;

use crate::bijector::{float_kind, zeros_b, Bijector, Ctx};
use genzoo_core::units;
use genzoo_core::{CoreError, Result};

/// The logit transform with its `alpha`.
#[derive(Debug, Clone, Copy)]
pub struct Logit {
    pub alpha: f64,
}

impl Bijector for Logit {
    fn forward(&self, y: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        if y.dim() < 1 {
            return Err(CoreError::shape("logit input", "needs a batch dimension"));
        }
        let (z, ld) = units::logit_transform(y, self.alpha);
        Ok((z, ld.f_to_kind(float_kind(y))?))
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let y = units::logit_inverse(z, self.alpha);
        // log|dy/dz| = -log|dz/dy| at y.
        let (_, ld) = self.forward(&y, ctx)?;
        Ok((y, -ld))
    }
    fn name(&self) -> &str {
        "logit"
    }
}

/// `z = scale * y + shift` elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Shift {
    pub scale: f64,
    pub shift: f64,
}

impl Shift {
    fn ld(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.size().iter().skip(1).product::<i64>() as usize;
        Ok(zeros_b(x)?.f_add_scalar(units::affine_logdet(self.scale, dims))?)
    }
}

impl Bijector for Shift {
    fn forward(&self, y: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        if self.scale == 0.0 {
            return Err(CoreError::config("shift.scale", "must be non-zero"));
        }
        Ok((
            y.f_mul_scalar(self.scale)?.f_add_scalar(self.shift)?,
            self.ld(y)?,
        ))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        if self.scale == 0.0 {
            return Err(CoreError::config("shift.scale", "must be non-zero"));
        }
        Ok((
            z.f_sub_scalar(self.shift)?.f_div_scalar(self.scale)?,
            self.ld(z)?.f_neg()?,
        ))
    }
    fn name(&self) -> &str {
        "shift"
    }
}

/// Which pre-processing a model uses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Preprocess {
    /// Identity.
    None,
    /// `z = logit(alpha + (1 - 2 alpha) y)`.
    Logit { alpha: f64 },
    /// `z = y - 1/2`.
    Center,
}

impl Preprocess {
    /// The bijector (`None` for the identity, which then costs no op).
    pub fn bijector(&self) -> Option<Box<dyn Bijector>> {
        match *self {
            Preprocess::None => None,
            Preprocess::Logit { alpha } => Some(Box::new(Logit { alpha })),
            Preprocess::Center => Some(Box::new(Shift {
                scale: 1.0,
                shift: -0.5,
            })),
        }
    }
}
