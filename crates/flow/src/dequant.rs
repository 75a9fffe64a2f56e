//! Dequantization of 8-bit data (Theis et al. 2016; Ho et al. 2019, "Flow++", sec. 3.1).
//!
//! A density p on `y = (x + u) / 256 in [0,1]^D`, `u in [0,1)^D`, gives a discrete model with
//! `-log P(x) <= E_q[ -log p(y) + log q(u|x) ] + D log 256` (Flow++, eq. 12).
//! * Uniform: `q = U[0,1)^D`, `log q = 0`; the D log 256 term is added through
//!   `genzoo_core::units`.
//! * Variational: `q(u|x)` is a conditional flow trained jointly with the model:
//!   `eps ~ N(0, I)`, `v = g(eps; x)` by checkerboard affine couplings whose nets see features of x,
//!   `u = sigmoid(v)`, `log q(u|x) = log N(eps) - log|det dg/deps| - sum log sigmoid'(v)`. The
//!   NLL it gives is a variational bound (reported as `LikelihoodKind::Bound`).
use tch::{nn, Kind, Tensor};

use crate::bijector::{sum_per_example, Bijector, Ctx, Sequential};
use crate::layers::nets::ConvLayer;
use crate::layers::{Coupling, CouplingKind, MaskKind, NetConfig, NetKind};
use genzoo_core::dist::StandardNormal;
use genzoo_core::{CoreError, Result};

/// Which dequantization a model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DequantKind {
    Uniform,
    Variational,
}

impl DequantKind {
    /// The dequantizer a model of data shape `shape` (`[c, h, w]`) needs: none for uniform
    /// dequantization, Flow++'s conditional flow q(u|x) (4 coupling steps, 32 hidden channels)
    /// under `p` for variational.
    ///
    /// # Errors
    /// Variational dequantization of a `shape` that is not `[c, h, w]` (as
    /// [`VariationalDequantizer::new`]).
    pub fn build(self, p: &nn::Path, shape: &[i64]) -> Result<Option<VariationalDequantizer>> {
        Ok(match self {
            DequantKind::Variational => Some(VariationalDequantizer::new(p, shape, 4, 32)?),
            DequantKind::Uniform => None,
        })
    }
}

/// Uniform dequantization of `u8` pixels: `y = (x + u) / 256`, `u ~ U[0,1)` from torch's generator
/// (`genzoo_core::data::transforms::dequantize`).
pub use genzoo_core::data::transforms::dequantize as uniform;

/// Flow++'s variational dequantizer `q(u|x)` for images of shape `[c, h, w]`.
pub struct VariationalDequantizer {
    feat: (ConvLayer, ConvLayer),
    flow: Sequential,
    shape: Vec<i64>,
}

impl VariationalDequantizer {
    /// `steps` checkerboard couplings with `hidden`-channel ResNet nets under `p`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for a `shape` that is not `[c, h, w]` or `hidden < 1`.
    pub fn new(p: &nn::Path, shape: &[i64], steps: i64, hidden: i64) -> Result<Self> {
        let [c, _, _] = shape else {
            return Err(CoreError::config(
                "dequant",
                format!("variational dequantization needs images, got shape {shape:?}"),
            ));
        };
        let cc = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        let feat = (
            ConvLayer::new(p / "feat1", *c, hidden, 3, cc),
            ConvLayer::new(p / "feat2", hidden, hidden, 3, cc),
        );
        let net = NetConfig {
            kind: NetKind::Resnet,
            hidden,
            depth: 1,
        };
        let mut flow = Sequential::new();
        for k in 0..steps.max(1) {
            flow.push(Coupling::new(
                &(p / format!("c{k}")),
                shape,
                MaskKind::Checkerboard,
                k % 2,
                CouplingKind::AffineTanh,
                &net,
                hidden,
            )?);
        }
        Ok(VariationalDequantizer {
            feat,
            flow,
            shape: shape.to_vec(),
        })
    }

    fn features(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let s = x.size();
        if s.len() != 4 || s[1..] != self.shape[..] {
            return Err(CoreError::shape(
                "dequantizer input",
                format!("expected [b, {:?}], got {s:?}", self.shape),
            ));
        }
        let xf = x.f_to_kind(self.kind())?;
        let h = xf.f_div_scalar(255.0)?.f_sub_scalar(0.5)?;
        let h = self.feat.0.forward(&h)?.f_relu()?;
        let h = self.feat.1.forward(&h)?.f_relu()?;
        Ok((xf, h))
    }

    fn kind(&self) -> Kind {
        self.feat.0.ws.kind()
    }

    /// `log q(u|x)` `[b]` of given noise `u in (0,1)` (the inverse direction: `v = logit u`,
    /// `eps = g^{-1}(v)`).
    ///
    /// # Errors
    /// `x` not of shape `[b, c, h, w]` for the dequantizer's shape, `u` not of `x`'s shape, or a
    /// libtorch error.
    pub fn log_q(&self, x: &Tensor, u: &Tensor) -> Result<Tensor> {
        let (xf, h) = self.features(x)?;
        if u.size() != xf.size() {
            return Err(CoreError::shape(
                "dequantization noise",
                format!("expected {:?}, got {:?}", xf.size(), u.size()),
            ));
        }
        let v = u.f_logit(None::<f64>)?;
        let ctx = Ctx {
            cond: Some(&h),
            ..Ctx::default()
        };
        let (eps, ld_inv) = self.flow.inverse(&v, &ctx)?;
        let log_n = sum_per_example(
            &StandardNormal::new(&eps.size(), eps.kind(), eps.device())?.f_log_prob(&eps)?,
        )?;
        let log_sig_grad = log_sigmoid_grad(&v)?;
        Ok(log_n.f_add(&ld_inv)?.f_sub(&log_sig_grad)?)
    }

    /// Draws `u ~ q(u|x)` for pixels `x [b, c, h, w]`; returns `(y = (x + u)/256, log q(u|x) [b])`.
    ///
    /// # Errors
    /// `x` not of shape `[b, c, h, w]` for the dequantizer's shape, or a libtorch error.
    pub fn dequantize(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (y, log_q, _) = self.dequantize_with_noise(x)?;
        Ok((y, log_q))
    }

    /// As [`Self::dequantize`], also returning the noise `u`.
    ///
    /// # Errors
    /// As [`Self::dequantize`].
    pub fn dequantize_with_noise(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (xf, h) = self.features(x)?;
        let eps = xf.f_randn_like()?;
        let log_n = sum_per_example(
            &StandardNormal::new(&eps.size(), eps.kind(), eps.device())?.f_log_prob(&eps)?,
        )?;
        let ctx = Ctx {
            cond: Some(&h),
            ..Ctx::default()
        };
        let (v, ld) = self.flow.forward(&eps, &ctx)?;
        let u = v.f_sigmoid()?;
        let log_sig_grad = log_sigmoid_grad(&v)?;
        let log_q = log_n.f_sub(&ld)?.f_sub(&log_sig_grad)?;
        Ok((xf.f_add(&u)?.f_div_scalar(256.0)?, log_q, u))
    }
}

/// `sum log sigmoid'(v)` per example: `log sigmoid(v) + log sigmoid(-v)` summed, `[b]`.
fn log_sigmoid_grad(v: &Tensor) -> Result<Tensor> {
    sum_per_example(&v.f_log_sigmoid()?.f_add(&v.f_neg()?.f_log_sigmoid()?)?)
}
