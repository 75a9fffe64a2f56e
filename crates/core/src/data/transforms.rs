//! Transforms from stored 8-bit pixels (`u8 [b, c, h, w]`) to what models consume.
//!
//! * [`dequantize`]: uniform dequantization `y = (x + u) / 256`, u ~ U[0,1) (Theis et al. 2016,
//!   "A note on the evaluation of generative models", sec. 3.1); the density of y lower-bounds the
//!   discrete likelihood, with the `D log 256` term of [`crate::units`].
//! * [`binarize_dynamic`]: x_bin ~ Bernoulli(x / 255), resampled at every call, hence every epoch
//!   (the dynamically binarized MNIST of Salakhutdinov & Murray 2008 / Burda et al. 2016).
//! * [`binarize_static`]: one fixed binarization per example, a function of (seed, example index)
//!   only, independent of batching and of torch's RNG: the evaluation data of binarized models.
//! * [`scale_unit`] / [`scale_symmetric`]: x / 255 in \[0,1\], or x / 127.5 - 1 in [-1,1] (and back).
//! * The logit transform of RealNVP with its log-det lives in [`crate::units`]
//!   ([`logit_transform`], [`logit_inverse`]), re-exported here.
//! * [`one_hot`]: `i64 [b]` labels to `f32 [b, k]`.
//!
//! The random transforms draw from torch's global generator, which the trainer reseeds from
//! (seed, step) before every step: runs are reproducible and resume exactly.
use rand::{Rng, SeedableRng};
use tch::{Kind, Tensor};

use super::{DataKind, Dataset};
pub use crate::units::{logit_inverse, logit_transform};
use crate::{CoreError, Result};

fn check_u8(x: &Tensor, what: &str) -> Result<()> {
    if x.kind() != Kind::Uint8 {
        return Err(CoreError::shape(
            what,
            format!("expected stored 8-bit pixels (Uint8), got {:?}", x.kind()),
        ));
    }
    Ok(())
}

/// `u8` pixels to `f32` in \[0,1\]: x / 255.
pub fn scale_unit(x: &Tensor) -> Tensor {
    x.to_kind(Kind::Float) / 255.0
}

/// `u8` pixels to `f32` in [-1,1]: x / 127.5 - 1 (GANs with tanh outputs).
pub fn scale_symmetric(x: &Tensor) -> Tensor {
    x.to_kind(Kind::Float) / 127.5 - 1.0
}

/// [-1,1] back to \[0,1\] (for image grids), clamped.
pub fn symmetric_to_unit(x: &Tensor) -> Tensor {
    ((x + 1.0) * 0.5).clamp(0.0, 1.0)
}

/// Uniform dequantization of `u8` pixels: `(x + u) / 256` with u ~ U[0,1), `f32` in [0,1).
/// Uses torch's global generator.
///
/// # Errors
/// [`CoreError::Shape`] (`dequantize input`) when `x` is not a `Uint8` tensor.
pub fn dequantize(x: &Tensor) -> Result<Tensor> {
    check_u8(x, "dequantize input")?;
    let xf = x.to_kind(Kind::Float);
    Ok((&xf + xf.rand_like()) / 256.0)
}

/// Dynamic binarization: `f32` in {0,1} with P(1) = x / 255, a new draw at every call (every
/// epoch). On the CPU, pixel x is 1 when a level u drawn uniformly from 0..=254 is below x
/// (P = x / 255 exactly), the levels coming from a ChaCha8 stream seeded by one draw of torch's
/// global generator, so the trainer's reseeding still fixes them. That takes about 140 us for a
/// batch of 128 digits on 2 cores, against 700 us for libtorch's serial `bernoulli` kernel,
/// which other devices keep.
///
/// # Errors
/// [`CoreError::Shape`] (`binarize input`) when `x` is not a `Uint8` tensor; a libtorch error.
pub fn binarize_dynamic(x: &Tensor) -> Result<Tensor> {
    check_u8(x, "binarize input")?;
    if x.device() != tch::Device::Cpu {
        return Ok(scale_unit(x).f_bernoulli()?);
    }
    let seed = Tensor::f_randint(i64::MAX, [1], (Kind::Int64, tch::Device::Cpu))?
        .f_int64_value(&[0])? as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut levels = vec![0u8; x.numel()];
    rng.fill(levels.as_mut_slice());
    for u in levels.iter_mut().filter(|u| **u == u8::MAX) {
        // Rejection: 255 is redrawn, so the levels are uniform over 0..=254.
        while *u == u8::MAX {
            *u = rng.gen();
        }
    }
    let u = Tensor::f_from_slice(&levels)?.f_view(x.size().as_slice())?;
    Ok(x.f_gt_tensor(&u)?.f_to_kind(Kind::Float)?)
}

/// Deterministic threshold binarization (x > threshold), `f32` in {0,1}.
///
/// # Errors
/// [`CoreError::Shape`] (`binarize input`) when `x` is not a `Uint8` tensor.
pub fn binarize_threshold(x: &Tensor, threshold: u8) -> Result<Tensor> {
    check_u8(x, "binarize input")?;
    Ok(x.gt(i64::from(threshold)).to_kind(Kind::Float))
}

/// Fixed, seeded binarization of examples `x` (`u8 [n, ...]`) whose dataset indices are
/// `first_index..first_index + n`: example i gets uniforms from the stream `seed::rng(seed,
/// "static-binarization", i)`, so its binarization depends on (seed, i) only: the same whether it
/// is binarized alone, in a batch or with the whole test set, on any device. `f32` in {0,1}.
///
/// # Errors
/// [`CoreError::Shape`] (`binarize input`) when `x` is not a `Uint8` tensor.
pub fn binarize_static(x: &Tensor, seed: u64, first_index: u64) -> Result<Tensor> {
    check_u8(x, "binarize input")?;
    let n = x.size().first().copied().unwrap_or(0);
    let per = if n > 0 { x.numel() as i64 / n } else { 0 };
    let mut u = Vec::with_capacity((n * per) as usize);
    for i in 0..n as u64 {
        let mut rng = crate::seed::rng(seed, "static-binarization", first_index + i);
        u.extend((0..per).map(|_| rng.gen::<f32>()));
    }
    let u = Tensor::from_slice(&u)
        .reshape(x.size())
        .to_device(x.device());
    // P(1) = x / 255 exactly: 1 when u < x / 255.
    Ok(u.lt_tensor(&scale_unit(x)).to_kind(Kind::Float))
}

/// A statically binarized copy of an image dataset (stored as `f32` {0,1} vectors of the same
/// shape, `DataKind` unchanged): the evaluation set of binarized models.
///
/// # Errors
/// [`CoreError::Shape`] naming the dataset when `ds.kind` is not an image kind, or
/// (`binarize input`) when its pixels `ds.x` are not `Uint8`.
pub fn binarize_dataset_static(ds: &Dataset, seed: u64) -> Result<Tensor> {
    if !ds.kind.is_image() {
        return Err(CoreError::shape(
            &ds.name,
            "static binarization needs an image dataset",
        ));
    }
    binarize_static(&ds.x, seed, 0)
}

/// One-hot encoding of `i64 [b]` labels in 0..k: `f32 [b, k]`. Labels outside 0..k are an error.
///
/// # Errors
/// [`CoreError::Shape`] (`labels`) when `y` is not one-dimensional or holds a value outside `0..k`;
/// a libtorch error from the one-hot encoding (e.g. `k` not positive).
pub fn one_hot(y: &Tensor, k: i64) -> Result<Tensor> {
    if y.dim() != 1 {
        return Err(CoreError::shape(
            "labels",
            format!("expected [b], got {:?}", y.size()),
        ));
    }
    if y.numel() > 0 {
        let (lo, hi) = (y.min().int64_value(&[]), y.max().int64_value(&[]));
        if lo < 0 || hi >= k {
            return Err(CoreError::shape(
                "labels",
                format!("values {lo}..={hi} outside 0..{k}"),
            ));
        }
    }
    Ok(y.to_kind(Kind::Int64).f_one_hot(k)?.to_kind(Kind::Float))
}

/// How a model wants its image batches; `apply` turns a stored batch into model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preprocess {
    /// x / 255 in \[0,1\].
    Unit,
    /// x / 127.5 - 1 in [-1,1].
    Symmetric,
    /// (x + u) / 256 in [0,1).
    Dequantize,
    /// Bernoulli(x / 255), resampled every call.
    DynamicBinarize,
    /// Raw integer levels as `i64` (autoregressive models with 256-way softmax).
    Levels,
}

impl Preprocess {
    /// Applies the transform to a stored batch (`u8` images; vectors pass through as `f32`).
    ///
    /// # Errors
    /// For an image `kind`, [`CoreError::Shape`] (`batch`) when `x` is not a `Uint8` tensor.
    pub fn apply(self, x: &Tensor, kind: DataKind) -> Result<Tensor> {
        if !kind.is_image() {
            return Ok(x.to_kind(Kind::Float));
        }
        check_u8(x, "batch")?;
        Ok(match self {
            Preprocess::Unit => scale_unit(x),
            Preprocess::Symmetric => scale_symmetric(x),
            Preprocess::Dequantize => dequantize(x)?,
            Preprocess::DynamicBinarize => binarize_dynamic(x)?,
            Preprocess::Levels => x.to_kind(Kind::Int64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn pixels() -> Tensor {
        // 4000 examples of 8 pixels, levels 0, 32, ..., 224, 255.
        let row: Vec<u8> = vec![0, 32, 64, 96, 128, 160, 224, 255];
        Tensor::from_slice(&row.repeat(4000)).reshape([4000, 1, 2, 4])
    }

    #[test]
    fn scaling_ranges_and_inverse() {
        let x = pixels();
        let u = scale_unit(&x);
        assert_eq!(u.double_value(&[0, 0, 1, 3]), 1.0);
        let s = scale_symmetric(&x);
        assert_eq!(
            (s.double_value(&[0, 0, 0, 0]), s.double_value(&[0, 0, 1, 3])),
            (-1.0, 1.0)
        );
        assert!(symmetric_to_unit(&s).allclose(&u, 1e-6, 1e-6, false));
    }

    #[test]
    fn dequantization_stays_in_its_bin_and_fills_it() {
        tch::manual_seed(0);
        let x = pixels();
        let y = dequantize(&x).unwrap();
        let lo = x.to_kind(Kind::Float) / 256.0;
        let d = (&y - &lo) * 256.0; // u in [0,1)
        assert!(
            bool::try_from(d.ge(0.0).all()).unwrap() && bool::try_from(d.lt(1.0).all()).unwrap()
        );
        // u is uniform: mean 1/2, variance 1/12.
        let m = d.mean(Kind::Float).double_value(&[]);
        let v = d.var(true).double_value(&[]);
        assert!(
            (m - 0.5).abs() < 0.01 && (v - 1.0 / 12.0).abs() < 0.005,
            "mean {m} var {v}"
        );
        assert!(dequantize(&x.to_kind(Kind::Float))
            .unwrap_err()
            .to_string()
            .contains("Uint8"));
    }

    #[test]
    fn binarization_statistics() {
        let x = pixels();
        let p = scale_unit(&x).mean_dim(0, false, Kind::Float); // per-pixel P(1)
        tch::manual_seed(1);
        let b1 = binarize_dynamic(&x).unwrap();
        let b2 = binarize_dynamic(&x).unwrap();
        let st = binarize_static(&x, 7, 0).unwrap();
        // The dynamic draw follows torch's generator: reseeding repeats it, the next call differs.
        tch::manual_seed(1);
        assert!(binarize_dynamic(&x).unwrap().equal(&b1));
        assert!(!b2.equal(&b1));
        // Level 0 never fires and 255 always does, in the dynamic draw too.
        let (l0, l255) = (x.eq(0), x.eq(255));
        assert!(
            l0.sum(Kind::Int64).int64_value(&[]) > 0 && l255.sum(Kind::Int64).int64_value(&[]) > 0
        );
        assert_eq!(
            b2.masked_select(&l0).sum(Kind::Float).double_value(&[]),
            0.0
        );
        assert!(bool::try_from(b2.masked_select(&l255).eq(1.0).all()).unwrap());
        for b in [&b1, &st] {
            assert!(bool::try_from(b.eq(0.0).logical_or(&b.eq(1.0)).all()).unwrap());
            // Per-pixel frequency matches x/255 within 4 standard errors (n = 4000).
            let freq = b.mean_dim(0, false, Kind::Float);
            let se = (&p * (-&p + 1.0) / 4000.0).sqrt() * 4.0 + 1e-6;
            assert!(
                bool::try_from((&freq - &p).abs().le_tensor(&se).all()).unwrap(),
                "{freq:?} vs {p:?}"
            );
        }
        // Level 0 never fires, 255 always does.
        assert_eq!(
            st.select(2, 0)
                .select(2, 0)
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
        assert_eq!(
            st.select(2, 1)
                .select(2, 3)
                .sum(Kind::Float)
                .double_value(&[]),
            4000.0
        );
        // Dynamic: a fresh draw every call. Static: a function of (seed, index) only.
        assert!(!b1.equal(&b2));
        tch::manual_seed(99);
        assert!(binarize_static(&x, 7, 0).unwrap().equal(&st));
        assert!(!binarize_static(&x, 8, 0).unwrap().equal(&st));
        let part = binarize_static(&x.narrow(0, 1000, 50), 7, 1000).unwrap();
        assert!(
            part.equal(&st.narrow(0, 1000, 50)),
            "static binarization depends on batching"
        );
    }

    #[test]
    fn one_hot_and_bad_labels() {
        let y = Tensor::from_slice(&[2i64, 0, 1]);
        let h = one_hot(&y, 3).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(h.view([-1])).unwrap(),
            vec![0., 0., 1., 1., 0., 0., 0., 1., 0.]
        );
        assert!(one_hot(&Tensor::from_slice(&[3i64]), 3)
            .unwrap_err()
            .to_string()
            .contains("outside 0..3"));
        assert!(one_hot(&Tensor::from_slice(&[-1i64]), 3).is_err());
    }

    #[test]
    fn preprocess_modes() {
        let x = pixels().narrow(0, 0, 2);
        let kind = DataKind::Image {
            channels: 1,
            height: 2,
            width: 4,
        };
        assert_eq!(
            Preprocess::Levels
                .apply(&x, kind)
                .unwrap()
                .int64_value(&[0, 0, 1, 3]),
            255
        );
        assert_eq!(
            Preprocess::Symmetric
                .apply(&x, kind)
                .unwrap()
                .double_value(&[0, 0, 0, 0]),
            -1.0
        );
        let v = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
        assert!(Preprocess::DynamicBinarize
            .apply(&v, DataKind::Vector { dim: 2 })
            .unwrap()
            .equal(&v));
        // The logit transform is the one of units (re-exported, not duplicated).
        let y = Tensor::from_slice(&[0.25f64, 0.5]).reshape([1, 2]);
        let (z, _) = logit_transform(&y, 0.05);
        assert!(logit_inverse(&z, 0.05).allclose(&y, 1e-9, 1e-12, false));
    }
}
