//! 8-bit mu-law companding of audio, as WaveNet models it (van den Oord et al. 2016, "WaveNet: A
//! Generative Model for Raw Audio", sec. 2.2, eq. 2):
//!
//! `f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)`, mu = 255, for x in \[-1, 1\],
//!
//! then `f(x)` in \[-1, 1\] is quantized to 256 levels: `level = floor((f(x) + 1) / 2 * 255 + 0.5)`
//! (round to nearest), so -1 -> 0, +1 -> 255 and silence (x = 0, f = 0, 127.5 rounded up) -> **128**.
//! [`mu_law_decode`] inverts both steps: `y = 2 level / 255 - 1`,
//! `x = sign(y) ((1 + mu)^|y| - 1) / mu`; level 0 -> -1, 255 -> +1 exactly, and 128 -> 8.6e-5.
//!
//! The round trip `decode(encode(x))` is off by at most half a level in `f`, which is
//! `|dx| <= 1.03 (1 + mu |x|) ln(1 + mu) / mu^2`: about 8.8e-5 near silence and 0.0225 at full
//! scale (the finer steps near zero are the point of companding).
use tch::{Kind, Tensor};

use crate::{CoreError, Result};

/// mu of 8-bit mu-law.
pub const MU: f64 = 255.0;
/// Number of levels (0..=255).
pub const LEVELS: i64 = 256;
/// The level silence (x = 0) encodes to.
pub const SILENCE: u8 = 128;

/// Amplitudes in \[-1, 1\] (any floating kind and shape; values outside are clamped) to mu-law
/// levels, `u8` of the same shape in 0..=255 (see the module docs for the formula).
///
/// # Errors
/// [`CoreError::Shape`] (`mu-law input`) when `x` is not a floating-point tensor or holds a NaN.
///
/// # Example
/// Silence is level 128, the extremes 0 and 255, and decoding returns each amplitude to within one
/// level's width:
/// ```
/// use genzoo_core::data::mulaw::{mu_law_decode, mu_law_encode, SILENCE};
/// use tch::Tensor;
/// let x = Tensor::from_slice(&[0.0f32, -1.0, 1.0, 0.3]);
/// let levels = Vec::<u8>::try_from(&mu_law_encode(&x)?)?;
/// assert_eq!(&levels[..3], &[SILENCE, 0, 255]);
/// let back = mu_law_decode(&mu_law_encode(&x)?)?;
/// assert!((back - &x).abs().max().double_value(&[]) < 0.02);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mu_law_encode(x: &Tensor) -> Result<Tensor> {
    if !x.is_floating_point() {
        return Err(CoreError::shape(
            "mu-law input",
            format!(
                "expected amplitudes in [-1, 1] (a float tensor), got {:?}",
                x.kind()
            ),
        ));
    }
    let x = x.f_to_kind(Kind::Double)?;
    if x.numel() > 0 && x.f_isnan()?.f_any()?.f_int64_value(&[])? != 0 {
        return Err(CoreError::shape("mu-law input", "NaN amplitude"));
    }
    let x = x.f_clamp(-1.0, 1.0)?;
    let y = x.f_sign()? * (x.f_abs()? * MU).f_log1p()? / MU.ln_1p();
    let level = ((y + 1.0) * (MU / 2.0) + 0.5).f_floor()?.f_clamp(0.0, MU)?;
    Ok(level.f_to_kind(Kind::Uint8)?)
}

/// mu-law levels (any integer kind, values 0..=255) back to `f32` amplitudes in \[-1, 1\].
///
/// # Errors
/// [`CoreError::Shape`] (`mu-law levels`) when `levels` is not an integer tensor or holds a value
/// outside 0..=255.
pub fn mu_law_decode(levels: &Tensor) -> Result<Tensor> {
    if levels.is_floating_point() || levels.kind() == Kind::Bool {
        return Err(CoreError::shape(
            "mu-law levels",
            format!("expected integer levels 0..=255, got {:?}", levels.kind()),
        ));
    }
    let l = levels.f_to_kind(Kind::Double)?;
    if l.numel() > 0 {
        let (lo, hi) = (
            l.f_min()?.f_double_value(&[])?,
            l.f_max()?.f_double_value(&[])?,
        );
        if lo < 0.0 || hi > MU {
            return Err(CoreError::shape(
                "mu-law levels",
                format!("levels span {lo}..={hi}, outside 0..=255"),
            ));
        }
    }
    let y = l * (2.0 / MU) - 1.0;
    let x = y.f_sign()? * (y.f_abs()? * MU.ln_1p()).f_expm1()? / MU;
    Ok(x.f_to_kind(Kind::Float)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: i64) -> Tensor {
        Tensor::linspace(-1.0, 1.0, n, (Kind::Float, tch::Device::Cpu))
    }

    #[test]
    fn endpoints_silence_and_clamping() {
        let x = Tensor::from_slice(&[-1.0f32, 0.0, 1.0, -3.0, 7.5]);
        let l = Vec::<u8>::try_from(&mu_law_encode(&x).unwrap()).unwrap();
        assert_eq!(l, vec![0, SILENCE, 255, 0, 255]);
        let back = mu_law_decode(&Tensor::from_slice(&[0u8, 128, 255])).unwrap();
        let back = Vec::<f32>::try_from(&back).unwrap();
        assert_eq!((back[0], back[2]), (-1.0, 1.0));
        assert!(back[1] > 0.0 && back[1] < 1e-4, "{}", back[1]);
        // Level 127 is the smallest negative amplitude, mirror of 128.
        let l127 = mu_law_decode(&Tensor::from_slice(&[127i64])).unwrap();
        assert!((l127.double_value(&[0]) + back[1] as f64).abs() < 1e-7);
    }

    #[test]
    fn round_trip_error_is_within_half_a_level() {
        let x = grid(20_001);
        let back = mu_law_decode(&mu_law_encode(&x).unwrap()).unwrap();
        let err = (&back - &x).abs();
        let bound = (x.abs() * MU + 1.0) * (1.03 * MU.ln_1p() / (MU * MU));
        let excess = (&err - &bound).max().double_value(&[]);
        assert!(excess <= 0.0, "error exceeds the bound by {excess}");
        assert!(err.max().double_value(&[]) < 0.0226);
        // Near silence the steps are fine: |x| < 0.001 comes back within 1e-4.
        let small = Tensor::from_slice(&[-0.001f32, -0.0002, 0.0003, 0.0009]);
        let b = mu_law_decode(&mu_law_encode(&small).unwrap()).unwrap();
        assert!((b - &small).abs().max().double_value(&[]) < 1e-4);
        // Every level survives decode then encode exactly.
        let levels = Tensor::arange(256, (Kind::Int64, tch::Device::Cpu));
        let again = mu_law_encode(&mu_law_decode(&levels).unwrap()).unwrap();
        assert!(again.to_kind(Kind::Int64).equal(&levels));
    }

    #[test]
    fn monotone_and_uses_every_level() {
        let l = mu_law_encode(&grid(100_001)).unwrap().to_kind(Kind::Int64);
        let steps = l.narrow(0, 1, 100_000) - l.narrow(0, 0, 100_000);
        assert!(steps.min().int64_value(&[]) >= 0, "encode is not monotone");
        assert_eq!(l.unique_dim(0, true, false, false).0.size()[0], LEVELS);
        let x = mu_law_decode(&Tensor::arange(256, (Kind::Int64, tch::Device::Cpu))).unwrap();
        let dx = x.narrow(0, 1, 255) - x.narrow(0, 0, 255);
        assert!(dx.min().double_value(&[]) > 0.0, "decode is not increasing");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = mu_law_encode(&Tensor::from_slice(&[1i64])).unwrap_err();
        assert!(e.to_string().contains("mu-law input"), "{e}");
        let e = mu_law_encode(&Tensor::from_slice(&[0.5f32, f32::NAN])).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
        let e = mu_law_decode(&Tensor::from_slice(&[0i64, 256])).unwrap_err();
        assert!(e.to_string().contains("outside 0..=255"), "{e}");
        let e = mu_law_decode(&Tensor::from_slice(&[0.5f32])).unwrap_err();
        assert!(e.to_string().contains("integer levels"), "{e}");
        // Empty tensors pass through.
        let empty = Tensor::zeros([0], (Kind::Float, tch::Device::Cpu));
        assert_eq!(mu_law_encode(&empty).unwrap().numel(), 0);
    }
}
