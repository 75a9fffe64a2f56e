//! Likelihood units, converted in one place for every genzoo crate.
//!
//! Conventions (see docs/likelihoods.md):
//! * An NLL "per example" is in nats, summed over the example's dimensions.
//! * Bits per dimension: `bpd = nll_nats / (D * ln 2)`.
//! * 8-bit data x in {0..255}^D modelled by a continuous density on y = (x + u) / 256 in \[0,1\]^D
//!   (uniform dequantization, Theis et al. 2016): `-log P(x) <= -log p(y) + D log 256`. The
//!   `D log 256` is the discretization term, added by [`discrete_nll_from_unit_density`].
//! * A density on z = f(y) gives one on y by the change of variables,
//!   `log p_y(y) = log p_z(f(y)) + log|det df/dy|`: [`affine_logdet`] for rescalings such as
//!   \[0,1\] -> [-1,1], and [`logit_transform`] (with its log-det) for RealNVP's logit transform.
use tch::{Kind, Tensor};

/// ln 2.
pub const LN_2: f64 = std::f64::consts::LN_2;

/// The unit an NLL is reported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NllUnit {
    /// Nats per example (binarized data, continuous toy data).
    #[serde(rename = "nats")]
    Nats,
    /// Bits per dimension (8-bit data).
    #[serde(rename = "bits/dim")]
    BitsPerDim,
}

impl NllUnit {
    /// The label used in tables and JSON (`nats`, `bits/dim`).
    pub fn label(self) -> &'static str {
        match self {
            NllUnit::Nats => "nats",
            NllUnit::BitsPerDim => "bits/dim",
        }
    }
    /// Converts an NLL in nats per example with `dims` dimensions into this unit.
    pub fn from_nats(self, nats_per_example: f64, dims: usize) -> f64 {
        match self {
            NllUnit::Nats => nats_per_example,
            NllUnit::BitsPerDim => nats_to_bits_per_dim(nats_per_example, dims),
        }
    }
    /// [`NllUnit::from_nats`] elementwise: `nats` is a tensor of per-example NLLs in nats.
    ///
    /// # Errors
    /// A libtorch error for a non-floating tensor.
    pub fn from_nats_tensor(self, nats: &tch::Tensor, dims: usize) -> crate::Result<tch::Tensor> {
        Ok(match self {
            NllUnit::Nats => nats.shallow_clone(),
            NllUnit::BitsPerDim => nats.f_div_scalar(dims as f64 * LN_2)?,
        })
    }
}

/// Nats per example -> bits per dimension.
///
/// # Example
/// A coin flip per pixel of a 28x28 binary image is 784 ln 2 nats, one bit per dimension:
/// ```
/// use genzoo_core::units::{bits_per_dim_to_nats, nats_to_bits_per_dim};
/// let nats = 784.0 * std::f64::consts::LN_2;
/// assert!((nats_to_bits_per_dim(nats, 784) - 1.0).abs() < 1e-12);
/// assert!((bits_per_dim_to_nats(1.0, 784) - nats).abs() < 1e-9);
/// ```
pub fn nats_to_bits_per_dim(nats_per_example: f64, dims: usize) -> f64 {
    nats_per_example / (dims as f64 * LN_2)
}

/// Bits per dimension -> nats per example.
pub fn bits_per_dim_to_nats(bpd: f64, dims: usize) -> f64 {
    bpd * dims as f64 * LN_2
}

/// The discretization term `D log(levels)` in nats for data with `levels` values per dimension
/// scaled to \[0,1\] (for 8-bit data, `levels = 256`: log 256 per dimension).
pub fn discretization_nats(dims: usize, levels: u32) -> f64 {
    dims as f64 * f64::from(levels).ln()
}

/// The NLL in nats of the discrete data given `nll_unit_density`, the NLL of the dequantized data
/// under a density on \[0,1\]^D: `-log P(x) <= -log p(y) + D log(levels)`.
///
/// # Example
/// The uniform density on \[0,1\]^D (NLL 0) gives the uniform distribution over 8-bit images:
/// exactly 8 bits per dimension.
/// ```
/// use genzoo_core::units::{discrete_nll_from_unit_density, nats_to_bits_per_dim};
/// let nats = discrete_nll_from_unit_density(0.0, 3 * 32 * 32, 256);
/// assert!((nats_to_bits_per_dim(nats, 3 * 32 * 32) - 8.0).abs() < 1e-12);
/// ```
pub fn discrete_nll_from_unit_density(nll_unit_density: f64, dims: usize, levels: u32) -> f64 {
    nll_unit_density + discretization_nats(dims, levels)
}

/// `log|det|` of the elementwise rescaling `z = scale * y + shift` over `dims` dimensions. For
/// \[0,1\] -> [-1,1] the scale is 2: `log p_y = log p_z + D log 2`.
pub fn affine_logdet(scale: f64, dims: usize) -> f64 {
    dims as f64 * scale.abs().ln()
}

/// The logit transform of RealNVP (Dinh et al. 2017, sec. 4.1): `z = logit(alpha + (1 - 2 alpha) y)`
/// for y in \[0,1\]. Returns `(z, logdet)` with `logdet[b] = sum_i log|dz_i/dy_i|`, a `[b]` tensor, so
/// that `log p_y(y) = log p_z(z) + logdet`.
pub fn logit_transform(y: &Tensor, alpha: f64) -> (Tensor, Tensor) {
    let s = y * (1.0 - 2.0 * alpha) + alpha; // in (0, 1)
    let z = s.log() - (-&s).log1p();
    // dz/dy = (1 - 2 alpha) / (s (1 - s))
    let log_dz = -(s.log() + (-&s).log1p()) + (1.0 - 2.0 * alpha).ln();
    let b = y.size()[0];
    let logdet = log_dz
        .reshape([b, -1])
        .sum_dim_intlist(1, false, Kind::Float);
    (z, logdet)
}

/// The inverse of [`logit_transform`]: y from z.
pub fn logit_inverse(z: &Tensor, alpha: f64) -> Tensor {
    (z.sigmoid() - alpha) / (1.0 - 2.0 * alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn bits_and_nats_round_trip() {
        // 784 dims at 1 bit/dim is 784 ln 2 nats.
        assert_relative_eq!(bits_per_dim_to_nats(1.0, 784), 784.0 * LN_2, epsilon = 1e-9);
        assert_relative_eq!(
            nats_to_bits_per_dim(784.0 * LN_2, 784),
            1.0,
            epsilon = 1e-12
        );
        assert_relative_eq!(
            NllUnit::BitsPerDim.from_nats(543.4, 784),
            543.4 / 784.0 / LN_2
        );
        assert_eq!(NllUnit::Nats.from_nats(3.5, 2), 3.5);
    }

    #[test]
    fn uniform_model_is_eight_bits_per_dim() {
        // The uniform density on [0,1]^D has log p = 0; with the discretization term every
        // 8-bit image costs exactly 8 bits per dimension.
        let nll = discrete_nll_from_unit_density(0.0, 784, 256);
        assert_relative_eq!(nats_to_bits_per_dim(nll, 784), 8.0, epsilon = 1e-12);
        // Uniform on [-1,1]^D has log p_z = -D log 2; mapped back to [0,1] it is uniform again.
        let d = 10;
        let log_pz = -(d as f64) * 2f64.ln();
        assert_relative_eq!(log_pz + affine_logdet(2.0, d), 0.0, epsilon = 1e-12);
    }

    #[test]
    fn logit_logdet_matches_finite_differences_and_inverts() {
        let y = Tensor::from_slice(&[0.0f64, 0.1, 0.5, 0.93, 1.0]).reshape([1, 5]);
        let alpha = 0.05;
        let (z, logdet) = logit_transform(&y, alpha);
        let back = logit_inverse(&z, alpha);
        assert!(back.allclose(&y, 1e-9, 1e-12, false));
        let h = 1e-6;
        let (zh, _) = logit_transform(&(&y + h), alpha);
        let fd = ((zh - &z) / h).log().sum(Kind::Double).double_value(&[]);
        assert_relative_eq!(logdet.double_value(&[0]), fd, epsilon = 1e-4);
        assert!(bool::try_from(logdet.isfinite().all()).unwrap());
    }
}
