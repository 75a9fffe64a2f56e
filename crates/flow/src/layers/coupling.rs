//! Coupling layers: additive (NICE, Dinh et al. 2015, eq. 5-6) with NICE's diagonal scaling
//! (sec. 3.3), and affine (RealNVP, Dinh et al. 2017, eqs. 6-9; Glow, Kingma & Dhariwal 2018,
//! table 1), with checkerboard, channel-wise and alternating (vector) masks.
//!
//! Masked form (checkerboard and vector masks), `m` = 1 on the conditioning part:
//! `y = m x + (1 - m) (x exp(s(m x)) + t(m x))`, `log|det| = sum (1 - m) s`.
//! Split form (channel-wise masks): `x = [x_a, x_b]` along channels, `y_b = x_b exp(s(x_a)) + t(x_a)`.
//! The scale is bounded for stability: `s = exp(g) tanh(h)` with a learned per-channel `g`
//! (RealNVP) or `s = log sigmoid(h + 2)` (Glow). Additive coupling has `s = 0`.
//!
//! Glow's scale is bounded above but not below: where the net sees inputs far from the data (the
//! inverse pass of an under-trained model), `s` can reach -100 and `exp(-s)` overflows, the
//! "exploding inverse" of Behrmann et al. 2021 ("Understanding and Mitigating Exploding Inverses
//! in Invertible Neural Networks"). [`Coupling::with_scale_clamp`] soft-clamps the log-scale to
//! `alpha tanh(s / alpha)`, as INNs do (Ardizzone et al. 2019, "Guided Image Generation with
//! Conditional Invertible Neural Networks", sec. 3, with `atan`), so that one coupling expands its
//! inverse by at most `e^alpha`.
use tch::{nn, Kind, Tensor};

use crate::bijector::{batch_size, check_shape, sum_per_example, Bijector, Ctx};
use crate::layers::nets::{CouplingNet, NetConfig};
use genzoo_core::{CoreError, Result};

/// Which part conditions the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaskKind {
    /// Images: pixels with (i + j) even (parity 0) or odd (parity 1) condition the others.
    Checkerboard,
    /// Images: the first (parity 0) or second (parity 1) half of the channels condition the others.
    Channel,
    /// Vectors: even (parity 0) or odd (parity 1) coordinates condition the others.
    Alternate,
}

/// How the transformed part is changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CouplingKind {
    /// `y = x + t` (NICE).
    Additive,
    /// `y = x exp(s) + t` with `s = exp(g) tanh(h)` (RealNVP).
    AffineTanh,
    /// `y = (x + t) sigmoid(h + 2)` (Glow).
    AffineSigmoid,
}

/// A coupling layer.
#[derive(Debug)]
pub struct Coupling {
    pub mask: MaskKind,
    pub kind: CouplingKind,
    pub parity: i64,
    /// Shape of one example (`[c, h, w]` or `[d]`).
    pub shape: Vec<i64>,
    /// The fixed mask (`[1, c, h, w]` or `[1, d]`), 1 = conditioning; unused by channel masks.
    m: Tensor,
    /// `1 - m`.
    inv_m: Tensor,
    net: CouplingNet,
    /// RealNVP's per-channel scale of tanh, `[1, c_out(, 1, 1)]`, as `log`.
    log_scale: Option<Tensor>,
    /// Soft clamp `alpha` of the log-scale (`s <- alpha tanh(s / alpha)`); `None`: unclamped.
    scale_clamp: Option<f64>,
}

impl Coupling {
    /// A coupling on examples of `shape` (`[c, h, w]` or `[d]`), with a condition of `cond_dim`
    /// channels/features (0 for none).
    ///
    /// # Errors
    /// [`CoreError::Config`] for a mask that does not fit `shape` (checkerboard and channel masks
    /// need `[c, h, w]`, the alternate mask `[d]` with `d >= 2`; a channel mask needs an even `c`)
    /// or a net config with `hidden < 1`; a libtorch error for negative sizes.
    pub fn new(
        p: &nn::Path,
        shape: &[i64],
        mask: MaskKind,
        parity: i64,
        kind: CouplingKind,
        net: &NetConfig,
        cond_dim: i64,
    ) -> Result<Self> {
        let dev = p.device();
        let (m, cin, cout) = match (mask, shape) {
            (MaskKind::Checkerboard, [c, h, w]) => {
                let i = Tensor::f_arange(*h, (Kind::Int64, dev))?.f_view([*h, 1])?;
                let j = Tensor::f_arange(*w, (Kind::Int64, dev))?.f_view([1, *w])?;
                let m = i
                    .f_add(&j)?
                    .f_add_scalar(parity)?
                    .f_remainder(2)?
                    .f_eq(0)?
                    .f_to_kind(Kind::Float)?;
                (
                    m.f_view([1, 1, *h, *w])?
                        .f_expand([1, *c, *h, *w], false)?
                        .f_contiguous()?,
                    *c,
                    *c,
                )
            }
            (MaskKind::Channel, [c, _, _]) => {
                if c % 2 != 0 {
                    return Err(CoreError::config(
                        "coupling.mask",
                        format!("channel mask needs an even channel count, got {c}"),
                    ));
                }
                (Tensor::f_ones([1], (Kind::Float, dev))?, c / 2, c / 2)
            }
            (MaskKind::Alternate, [d]) => {
                if *d < 2 {
                    return Err(CoreError::config(
                        "coupling.mask",
                        format!("alternate mask needs dim >= 2, got {d}"),
                    ));
                }
                let m = Tensor::f_arange(*d, (Kind::Int64, dev))?
                    .f_add_scalar(parity)?
                    .f_remainder(2)?
                    .f_eq(0)?
                    .f_to_kind(Kind::Float)?;
                (m.f_view([1, *d])?, *d, *d)
            }
            _ => {
                return Err(CoreError::config(
                    "coupling.mask",
                    format!("{mask:?} mask does not fit examples of shape {shape:?}"),
                ))
            }
        };
        let n_out = if kind == CouplingKind::Additive {
            cout
        } else {
            2 * cout
        };
        let net = CouplingNet::new(&(p / "net"), net, cin, cond_dim, n_out)?;
        let log_scale = if kind == CouplingKind::AffineTanh {
            let s = if shape.len() == 3 {
                vec![1, cout, 1, 1]
            } else {
                vec![1, cout]
            };
            Some(p.f_zeros("log_scale", &s)?)
        } else {
            None
        };
        // `1 - m` as tch's `f64 - &Tensor` computes it: `-(m - 1)`.
        let inv_m = m.f_sub_scalar(1.0)?.f_neg()?;
        Ok(Coupling {
            mask,
            kind,
            parity,
            shape: shape.to_vec(),
            m,
            inv_m,
            net,
            log_scale,
            scale_clamp: None,
        })
    }

    /// Soft-clamps the log-scale `s` to `alpha tanh(s / alpha)`, so `|s| < alpha` and the layer's
    /// inverse expands by at most `e^alpha` (slope 1 at `s = 0`; no effect on additive couplings).
    ///
    /// # Errors
    /// [`CoreError::Config`] for `alpha` not finite and positive.
    pub fn with_scale_clamp(mut self, alpha: Option<f64>) -> Result<Self> {
        if let Some(a) = alpha {
            if !(a.is_finite() && a > 0.0) {
                return Err(CoreError::config(
                    "scale_clamp",
                    format!("must be a finite number > 0, got {a}"),
                ));
            }
        }
        self.scale_clamp = alpha;
        Ok(self)
    }

    /// `(s, t)` from the conditioning part; `s` is the log-scale (None for additive).
    fn st(&self, xa: &Tensor, cond: Option<&Tensor>) -> Result<(Option<Tensor>, Tensor)> {
        let h = self.net.forward(xa, cond)?;
        if self.kind == CouplingKind::Additive {
            return Ok((None, h));
        }
        let v = h.f_chunk(2, 1)?;
        let [a, t] = v.as_slice() else {
            return Err(CoreError::shape(
                "coupling net output",
                format!("expected an even channel count, got {:?}", h.size()),
            ));
        };
        let s = match (self.kind, &self.log_scale) {
            (CouplingKind::AffineSigmoid, _) => a.f_add_scalar(2.0)?.f_log_sigmoid()?,
            (_, Some(g)) => {
                let g = g.f_exp()?;
                a.f_tanh()?.f_mul(&g)?
            }
            (_, None) => a.f_tanh()?,
        };
        let s = match self.scale_clamp {
            Some(alpha) => s.f_div_scalar(alpha)?.f_tanh()?.f_mul_scalar(alpha)?,
            None => s,
        };
        Ok((Some(s), t.shallow_clone()))
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let mut s = vec![0];
        s.extend(&self.shape);
        check_shape("coupling input", x, &s)
    }

    fn apply(&self, x: &Tensor, ctx: &Ctx, inverse: bool) -> Result<(Tensor, Tensor)> {
        self.check(x)?;
        let sign = if inverse { -1.0 } else { 1.0 };
        let b = batch_size("coupling input", x)?;
        if self.mask == MaskKind::Channel {
            let v = x.f_chunk(2, 1)?;
            let [v0, v1] = v.as_slice() else {
                return Err(CoreError::shape(
                    "coupling input",
                    format!("cannot split {:?} into two channel halves", x.size()),
                ));
            };
            let (xa, xb) = if self.parity == 0 { (v0, v1) } else { (v1, v0) };
            let (s, t) = self.st(xa, ctx.cond)?;
            let yb = self.transform(xb, s.as_ref(), &t, inverse)?;
            let y = if self.parity == 0 {
                Tensor::f_cat(&[xa, &yb], 1)?
            } else {
                Tensor::f_cat(&[&yb, xa], 1)?
            };
            let ld = match s {
                Some(s) => sum_per_example(&s)?.f_mul_scalar(sign)?,
                None => Tensor::f_zeros([b], (x.kind(), x.device()))?,
            };
            return Ok((y, ld));
        }
        let (m, inv_m) = if self.m.kind() == x.kind() {
            (self.m.shallow_clone(), self.inv_m.shallow_clone())
        } else {
            (self.m.f_to_kind(x.kind())?, self.inv_m.f_to_kind(x.kind())?)
        };
        let xa = x.f_mul(&m)?;
        let (s, t) = self.st(&xa, ctx.cond)?;
        let yb = self.transform(x, s.as_ref(), &t, inverse)?;
        let y = xa.f_add(&inv_m.f_mul(&yb)?)?;
        let ld = match s {
            Some(s) => sum_per_example(&s.f_mul(&inv_m)?)?.f_mul_scalar(sign)?,
            None => Tensor::f_zeros([b], (x.kind(), x.device()))?,
        };
        Ok((y, ld))
    }

    /// The transformed part: `x + t` / `x exp(s) + t` / `(x + t) exp(s)` forward, their inverses
    /// backward.
    fn transform(
        &self,
        x: &Tensor,
        s: Option<&Tensor>,
        t: &Tensor,
        inverse: bool,
    ) -> Result<Tensor> {
        Ok(match (s, inverse, self.kind) {
            (None, false, _) => x.f_add(t)?,
            (None, true, _) => x.f_sub(t)?,
            (Some(s), false, CouplingKind::AffineSigmoid) => x.f_add(t)?.f_mul(&s.f_exp()?)?,
            (Some(s), true, CouplingKind::AffineSigmoid) => {
                x.f_mul(&s.f_neg()?.f_exp()?)?.f_sub(t)?
            }
            (Some(s), false, _) => x.f_mul(&s.f_exp()?)?.f_add(t)?,
            (Some(s), true, _) => x.f_sub(t)?.f_mul(&s.f_neg()?.f_exp()?)?,
        })
    }
}

impl Bijector for Coupling {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.apply(x, ctx, false)
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.apply(z, ctx, true)
    }
    fn name(&self) -> &str {
        "coupling"
    }
}

/// NICE's diagonal scaling layer (sec. 3.3): `z = x exp(s)`, `log|det| = sum s`, one learned `s`
/// per dimension (`[1, d]` or `[1, c, h, w]`).
#[derive(Debug)]
pub struct DiagScale {
    pub log_s: Tensor,
}

impl DiagScale {
    pub fn new(p: &nn::Path, shape: &[i64]) -> Self {
        let mut s = vec![1];
        s.extend(shape);
        DiagScale {
            log_s: p.zeros("log_s", &s),
        }
    }
    fn ld(&self, x: &Tensor) -> Result<Tensor> {
        let b = batch_size("diag-scale input", x)?;
        Ok(self.log_s.f_sum(self.log_s.kind())?.f_expand([b], false)?)
    }
}

impl Bijector for DiagScale {
    fn forward(&self, x: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let z = x
            .f_mul(&self.log_s.f_exp()?)
            .map_err(|e| CoreError::shape("diag-scale input", e.to_string()))?;
        Ok((z, self.ld(x)?))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let x = z
            .f_mul(&self.log_s.f_neg()?.f_exp()?)
            .map_err(|e| CoreError::shape("diag-scale input", e.to_string()))?;
        Ok((x, self.ld(z)?.f_neg()?))
    }
    fn name(&self) -> &str {
        "diag-scale"
    }
}
