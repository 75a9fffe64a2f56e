//! The discretized logistic mixture likelihood of PixelCNN++ (Salimans et al. 2017, sec. 2.1,
//! eq. 2), following the reference implementation (`discretized_mix_logistic_loss`).
//!
//! Pixel levels v in {0..B-1} (B = `bins`, 256 for 8-bit data) are rescaled to x = 2v/(B-1) - 1
//! in [-1,1]; each level owns the bin [x - 1/(B-1), x + 1/(B-1)] and, with the logistic CDF
//! `F = sigmoid((. - mu)/s)`, gets the mass
//! * `F(x + 1/(B-1)) - F(x - 1/(B-1))` for interior levels,
//! * `F(-1 + 1/(B-1))` for v = 0 (the whole left tail: edge case at 0),
//! * `1 - F(1 - 1/(B-1))` for v = B-1 (the whole right tail: edge case at 255),
//!
//! so the B masses sum to one exactly. All of it in log space: `log F(y) = y - softplus(y)`,
//! `log(1 - F(y)) = -softplus(y)`; where the interior difference underflows (below 1e-5), the
//! reference code's fallback `log pdf(x) + log(2/(B-1))` (density at the bin centre times the bin
//! width; `- log 127.5` for B = 256) is used instead. Log-scales are clamped below at -7 as in the
//! reference code. Mixture weights enter through a log-softmax, so their logits may be +-1e4.
//!
//! [`DiscretizedLogisticMixture`] is a mixture per dimension; [`pixelcnnpp_log_prob`] and
//! [`pixelcnnpp_sample`] implement PixelCNN++'s joint RGB model, where the K mixture weights
//! are shared by a pixel's channels and the means of G and B depend linearly on R (and G)
//! through tanh coefficients (sec. 2.2).
use tch::{Kind, Tensor};

use super::{check_broadcast, check_float, check_same_shape, extended_shape};
use super::{Categorical, Distribution};
use crate::{CoreError, Result};

/// PixelCNN++'s lower clamp on log-scales.
pub const MIN_LOG_SCALE: f64 = -7.0;
/// Below this interior bin mass the log-pdf fallback is used.
const MIN_DELTA: f64 = 1e-5;

/// Elementwise log-mass of the discretized logistic with location `loc` and log-scale
/// `log_scale` at x in [-1,1] (on the grid of `bins` levels), with the edge cases above.
///
/// # Errors
/// [`CoreError::Invalid`] when `bins < 2`; a libtorch error (e.g. `x`, `loc` and `log_scale` that
/// do not broadcast together).
pub fn discretized_logistic_log_prob(
    x: &Tensor,
    loc: &Tensor,
    log_scale: &Tensor,
    bins: i64,
) -> Result<Tensor> {
    if bins < 2 {
        return Err(CoreError::Invalid(format!(
            "discretized logistic: bins = {bins}, need >= 2"
        )));
    }
    let half = 1.0 / (bins - 1) as f64; // half the bin width
    let log_scale = log_scale.f_clamp_min(MIN_LOG_SCALE)?;
    let centered = x.f_sub(loc)?;
    let inv_s = log_scale.f_neg()?.f_exp()?;
    let plus_in = centered.f_add_scalar(half)?.f_mul(&inv_s)?;
    let min_in = centered.f_sub_scalar(half)?.f_mul(&inv_s)?;
    let log_cdf_plus = plus_in.f_sub(&plus_in.f_softplus()?)?; // log F(x + half): v = 0
    let log_sf_min = min_in.f_softplus()?.f_neg()?; // log(1 - F(x - half)): v = B - 1
    let delta = plus_in.f_sigmoid()?.f_sub(&min_in.f_sigmoid()?)?;
    let mid_in = centered.f_mul(&inv_s)?;
    let log_pdf_mid = mid_in
        .f_sub(&log_scale)?
        .f_sub(&mid_in.f_softplus()?.f_mul_scalar(2.0)?)?;
    let fallback = log_pdf_mid.f_add_scalar((2.0 * half).ln())?;
    let interior = delta
        .f_clamp_min(1e-12)?
        .f_log()?
        .f_where_self(&delta.f_gt(MIN_DELTA)?, &fallback)?;
    let right = log_sf_min.f_where_self(&x.f_gt(1.0 - half / 2.0)?, &interior)?;
    Ok(log_cdf_plus.f_where_self(&x.f_lt(-1.0 + half / 2.0)?, &right)?)
}

/// Levels {0..B-1} (any kind) -> x = 2v/(B-1) - 1 in `kind`.
///
/// # Errors
/// A libtorch error (e.g. a `kind` that `v` cannot be converted to).
pub fn levels_to_unit(v: &Tensor, bins: i64, kind: Kind) -> Result<Tensor> {
    Ok(v.f_to_kind(kind)?
        .f_mul_scalar(2.0 / (bins - 1) as f64)?
        .f_sub_scalar(1.0)?)
}

/// x in [-1,1] -> the nearest level in {0..B-1} (`Int64`).
///
/// # Errors
/// A libtorch error (e.g. a non-numeric `x`).
pub fn unit_to_levels(x: &Tensor, bins: i64) -> Result<Tensor> {
    let v = x
        .f_add_scalar(1.0)?
        .f_mul_scalar((bins - 1) as f64 / 2.0)?
        .f_round()?;
    Ok(v.f_clamp(0.0, (bins - 1) as f64)?.f_to_kind(Kind::Int64)?)
}

/// A mixture of K discretized logistics per dimension; parameters are `batch_shape ++ [K]`.
#[derive(Debug)]
pub struct DiscretizedLogisticMixture {
    /// Normalized log mixture weights `[.., K]`.
    pub log_weights: Tensor,
    /// Component locations in [-1,1] units `[.., K]`.
    pub loc: Tensor,
    /// Component log-scales `[.., K]` (clamped at [`MIN_LOG_SCALE`] when used).
    pub log_scale: Tensor,
    /// The number of levels B (256 for 8-bit data).
    pub bins: i64,
}

impl DiscretizedLogisticMixture {
    /// From mixture logits, locations and log-scales, all `batch_shape ++ [K]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `logit_weights`, `loc` or `log_scale` is not floating-point, when
    /// `loc` or `log_scale` differs in shape from `logit_weights`, or when they are scalars (no
    /// component dimension); [`CoreError::Invalid`] when `bins < 2`; a libtorch error.
    pub fn new(
        logit_weights: &Tensor,
        loc: &Tensor,
        log_scale: &Tensor,
        bins: i64,
    ) -> Result<Self> {
        check_float("logit_weights", logit_weights)?;
        check_float("loc", loc)?;
        check_float("log_scale", log_scale)?;
        check_same_shape("logit_weights", logit_weights, "loc", loc)?;
        check_same_shape("logit_weights", logit_weights, "log_scale", log_scale)?;
        if logit_weights.dim() == 0 {
            return Err(CoreError::shape(
                "logit_weights",
                "need a last (component) dimension",
            ));
        }
        if bins < 2 {
            return Err(CoreError::Invalid(format!(
                "DiscretizedLogisticMixture: bins = {bins}, need >= 2"
            )));
        }
        let log_weights = logit_weights.f_log_softmax(-1, logit_weights.kind())?;
        Ok(Self {
            log_weights,
            loc: loc.shallow_clone(),
            log_scale: log_scale.shallow_clone(),
            bins,
        })
    }

    /// The batch shape (parameters without the component dimension).
    pub fn batch_shape(&self) -> Vec<i64> {
        let s = self.loc.size();
        s[..s.len() - 1].to_vec()
    }

    /// The fallible form of [`Distribution::log_prob`]. A floating `x` is read in [-1,1]
    /// units (as PixelCNN++ feeds its data); an integer `x` (e.g. `u8` pixels) as levels
    /// {0..B-1}. Floating values are snapped to the level grid only through the edge tests, so
    /// pass values on the grid.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` does not broadcast against the batch shape or, for an
    /// integer `x`, holds levels outside `0..bins`; a libtorch error.
    pub fn f_log_prob(&self, x: &Tensor) -> Result<Tensor> {
        check_broadcast("x", x, &self.batch_shape())?;
        let x = if super::is_float_kind(x.kind()) {
            x.shallow_clone()
        } else {
            if x.numel() > 0 {
                let (lo, hi) = (
                    x.f_min()?.f_int64_value(&[])?,
                    x.f_max()?.f_int64_value(&[])?,
                );
                if lo < 0 || hi >= self.bins {
                    return Err(CoreError::shape(
                        "x",
                        format!("levels span [{lo}, {hi}], outside [0, {}]", self.bins - 1),
                    ));
                }
            }
            levels_to_unit(x, self.bins, self.loc.kind())?
        };
        let lp = discretized_logistic_log_prob(
            &x.f_unsqueeze(-1)?,
            &self.loc,
            &self.log_scale,
            self.bins,
        )?;
        Ok(lp.f_add(&self.log_weights)?.f_logsumexp([-1i64], false)?)
    }
}

impl Distribution for DiscretizedLogisticMixture {
    /// Values on the level grid, in [-1,1] units: a component is drawn, then a logistic value,
    /// clamped to [-1,1] and rounded to the nearest level.
    fn sample(&self, sample_shape: &[i64]) -> Tensor {
        tch::no_grad(|| {
            let comp = Categorical {
                log_probs: self.log_weights.detach(),
            }
            .sample(sample_shape)
            .unsqueeze(-1);
            let shape = extended_shape(sample_shape, &self.loc.size());
            let loc = self
                .loc
                .expand(&shape, false)
                .gather(-1, &comp, false)
                .squeeze_dim(-1);
            let ls = self
                .log_scale
                .clamp_min(MIN_LOG_SCALE)
                .expand(&shape, false)
                .gather(-1, &comp, false)
                .squeeze_dim(-1);
            let u = loc.rand_like().clamp(1e-6, 1.0 - 1e-6);
            let x = loc + ls.exp() * (u.log() - (-&u).log1p());
            let v = unit_to_levels(&x.clamp(-1.0, 1.0), self.bins).expect("valid bins");
            levels_to_unit(&v, self.bins, self.loc.kind()).expect("valid bins")
        })
    }

    fn rsample(&self, _sample_shape: &[i64]) -> Result<Tensor> {
        Err(CoreError::Invalid(
            "the discretized logistic mixture is discrete: no reparameterized sampler".into(),
        ))
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        self.f_log_prob(x)
    }

    /// Exact entropy by enumerating the B levels: `-sum_v p(v) log p(v)`.
    fn entropy(&self) -> Result<Tensor> {
        let batch = self.batch_shape();
        let mut grid_shape = vec![self.bins];
        grid_shape.extend(std::iter::repeat_n(1, batch.len()));
        let grid = Tensor::f_arange(self.bins, (Kind::Int64, self.loc.device()))?
            .f_view(grid_shape.as_slice())?;
        let lp = self.f_log_prob(&grid)?; // [B, batch..]
        Ok(lp
            .f_exp()?
            .f_mul(&lp)?
            .f_sum_dim_intlist(0, false, lp.kind())?
            .f_neg()?)
    }
}

/// Splits PixelCNN++ parameters `l [b, P, h, w]` for `c` channels into
/// `(logit_weights [b,h,w,K], means, log_scales, coeffs [b,h,w,c,K])`; P = 10K for c = 3
/// (reference layout: K logits, then per channel K means, K log-scales, K coefficients) and
/// P = 3K for c = 1 (no coefficients).
fn split_pixelcnnpp(l: &Tensor, c: i64) -> Result<(Tensor, Tensor, Tensor, Option<Tensor>)> {
    if l.dim() != 4 {
        return Err(CoreError::shape(
            "l",
            format!("expected [b, P, h, w], got {:?}", l.size()),
        ));
    }
    let s = l.size();
    let per = match c {
        1 => 3,
        3 => 10,
        _ => {
            return Err(CoreError::shape(
                "x",
                format!("PixelCNN++ mixture needs 1 or 3 channels, got {c}"),
            ))
        }
    };
    if s[1] % per != 0 || s[1] == 0 {
        return Err(CoreError::shape(
            "l",
            format!(
                "{} parameter channels is not a multiple of {per} for {c} channels",
                s[1]
            ),
        ));
    }
    let k = s[1] / per;
    let l = l.f_permute([0, 2, 3, 1])?; // [b, h, w, P]
    let logits = l.f_narrow(3, 0, k)?;
    let rest = l
        .f_narrow(3, k, s[1] - k)?
        .f_reshape([s[0], s[2], s[3], c, (per - 1) / c * k])?;
    let means = rest.f_narrow(4, 0, k)?;
    let log_scales = rest.f_narrow(4, k, k)?.f_clamp_min(MIN_LOG_SCALE)?;
    let coeffs = if c == 3 {
        Some(rest.f_narrow(4, 2 * k, k)?.f_tanh()?)
    } else {
        None
    };
    Ok((logits, means, log_scales, coeffs))
}

/// PixelCNN++'s log-likelihood per pixel, `[b, h, w]` in nats: `x [b, c, h, w]` in [-1,1] on
/// the 256-level grid (c = 1 or 3), `l [b, P, h, w]` the network output (see the module doc).
/// `log p(pixel) = logsumexp_k (log pi_k + sum_c log p_k(x_c | x_<c))` with the means of G and B
/// shifted by `coeff * R` (and `coeff * G`), Salimans et al. 2017, sec. 2.2.
///
/// # Errors
/// [`CoreError::Shape`] when `x` or `l` is not floating-point, `x` is not 4-D or has a channel
/// count other than 1 or 3, `l` is not 4-D, its channel count is not a positive multiple of 3 (c =
/// 1) or 10 (c = 3), or its batch/height/width differ from those of `x`; a libtorch error.
pub fn pixelcnnpp_log_prob(x: &Tensor, l: &Tensor) -> Result<Tensor> {
    check_float("x", x)?;
    check_float("l", l)?;
    let xs = x.size();
    if xs.len() != 4 {
        return Err(CoreError::shape(
            "x",
            format!("expected [b, c, h, w], got {xs:?}"),
        ));
    }
    let (logits, means, log_scales, coeffs) = split_pixelcnnpp(l, xs[1])?;
    let ls = l.size();
    if ls[0] != xs[0] || ls[2] != xs[2] || ls[3] != xs[3] {
        return Err(CoreError::shape(
            "l",
            format!("shape {ls:?} does not match x {xs:?} in batch/height/width"),
        ));
    }
    let xc = x.f_permute([0, 2, 3, 1])?.f_unsqueeze(-1)?; // [b, h, w, c, 1]
    let means = match &coeffs {
        None => means,
        Some(co) => {
            let r = xc.f_select(3, 0)?; // [b, h, w, 1]
            let g = xc.f_select(3, 1)?;
            let m_r = means.f_select(3, 0)?;
            let m_g = means
                .f_select(3, 1)?
                .f_add(&co.f_select(3, 0)?.f_mul(&r)?)?;
            let m_b = means
                .f_select(3, 2)?
                .f_add(&co.f_select(3, 1)?.f_mul(&r)?)?
                .f_add(&co.f_select(3, 2)?.f_mul(&g)?)?;
            Tensor::f_stack(&[m_r, m_g, m_b], 3)?
        }
    };
    let lp = discretized_logistic_log_prob(&xc, &means, &log_scales, 256)?; // [b, h, w, c, K]
    let lp = lp
        .f_sum_dim_intlist(3, false, lp.kind())?
        .f_add(&logits.f_log_softmax(-1, logits.kind())?)?;
    Ok(lp.f_logsumexp([-1i64], false)?)
}

/// Draws images `[b, c, h, w]` in [-1,1] on the 256-level grid from PixelCNN++ parameters
/// `l [b, P, h, w]` (c = 1 or 3): one component per pixel, then R, G, B in turn, each clamped
/// and rounded to the grid before it shifts the next channel's mean.
///
/// # Errors
/// [`CoreError::Shape`] when `l` is not a floating-point `[b, P, h, w]` tensor, `channels` is not 1
/// or 3, or P is not a positive multiple of 3 (c = 1) or 10 (c = 3); a libtorch error.
pub fn pixelcnnpp_sample(l: &Tensor, channels: i64) -> Result<Tensor> {
    check_float("l", l)?;
    tch::no_grad(|| {
        let (logits, means, log_scales, coeffs) = split_pixelcnnpp(l, channels)?;
        let comp = Categorical::new(&logits)?
            .sample(&[])
            .f_unsqueeze(-1)?
            .f_unsqueeze(-1)?; // [b,h,w,1,1]
        let shape = means.size();
        let idx = comp.f_expand([shape[0], shape[1], shape[2], channels, 1], false)?;
        let pick =
            |t: &Tensor| -> Result<Tensor> { Ok(t.f_gather(4, &idx, false)?.f_squeeze_dim(4)?) };
        let (m, s) = (pick(&means)?, pick(&log_scales)?.f_exp()?); // [b, h, w, c]
        let u = m.f_rand_like()?.f_clamp(1e-6, 1.0 - 1e-6)?;
        let noise = u.f_log()?.f_sub(&u.f_neg()?.f_log1p()?)?.f_mul(&s)?;
        let snap = |t: Tensor| -> Result<Tensor> {
            levels_to_unit(&unit_to_levels(&t.f_clamp(-1.0, 1.0)?, 256)?, 256, m.kind())
        };
        let out = match coeffs {
            None => snap(m.f_add(&noise)?)?,
            Some(co) => {
                let co = pick(&co)?;
                let ch = |i: i64, t: &Tensor| t.f_select(3, i);
                let r = snap(ch(0, &m)?.f_add(&ch(0, &noise)?)?)?;
                let g = snap(
                    ch(1, &m)?
                        .f_add(&ch(1, &noise)?)?
                        .f_add(&ch(0, &co)?.f_mul(&r)?)?,
                )?;
                let b = ch(2, &m)?
                    .f_add(&ch(2, &noise)?)?
                    .f_add(&ch(1, &co)?.f_mul(&r)?)?;
                let b = snap(b.f_add(&ch(2, &co)?.f_mul(&g)?)?)?;
                Tensor::f_stack(&[r, g, b], 3)?
            }
        };
        Ok(out.f_permute([0, 3, 1, 2])?.f_contiguous()?)
    })
}

#[cfg(test)]
#[path = "dmol_tests.rs"]
mod tests;
