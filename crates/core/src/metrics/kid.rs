//! KID, the kernel Inception distance with a domain network's features (Binkowski et al. 2018,
//! "Demystifying MMD GANs", sec. 4 and app. D): the unbiased MMD^2 (Gretton et al. 2012, Lemma 6,
//! through [`crate::divergence::mmd::mmd2_unbiased_from_kernels`]) with the cubic polynomial
//! kernel `k(x, y) = (x . y / d + 1)^3`, averaged over random subsets of both sets.
//!
//! Unlike FID it is unbiased: two sets from one distribution give 0 in expectation, and single
//! values can be slightly negative.
use rand::seq::index::sample;
use tch::{Kind, Tensor};

use super::{check_features, Estimate};
use crate::divergence::mmd::mmd2_unbiased_from_kernels;
use crate::{seed, CoreError, Result};

/// How KID subsamples the two sets (the reference code's defaults: 100 subsets of 1,000).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KidOptions {
    /// Subsets averaged.
    pub subsets: usize,
    /// Examples per subset from each set (capped at the smaller set's size).
    pub subset_size: i64,
    /// Seed of the subset draws.
    pub seed: u64,
}

impl Default for KidOptions {
    fn default() -> Self {
        KidOptions {
            subsets: 100,
            subset_size: 1000,
            seed: 0,
        }
    }
}

/// The cubic polynomial kernel matrix `[n, m]`: `(x_i . y_j / d + 1)^3`.
///
/// # Errors
/// A libtorch error (mismatched feature dimensions).
pub fn polynomial_kernel(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let d = x.size()[1] as f64;
    Ok(x.f_matmul(&y.f_transpose(0, 1)?)?
        .f_div_scalar(d)?
        .f_add_scalar(1.0)?
        .f_pow_tensor_scalar(3)?)
}

/// KID between feature sets `x [n, d]` and `y [m, d]`: the mean of the unbiased MMD^2 over
/// `opts.subsets` subsets, and its standard deviation over the subsets (as Binkowski et al.
/// report it). In squared feature units; computed in double precision.
///
/// # Errors
/// [`CoreError::Shape`] (`x`, `y`) for sets that are not `[n >= 2, d]` finite floating-point
/// tensors of one `d`; [`CoreError::Config`] (`kid.subsets`, `kid.subset_size`) for 0 subsets or
/// a subset size below 2.
pub fn kid(x: &Tensor, y: &Tensor, opts: &KidOptions) -> Result<Estimate> {
    check_features("x", x)?;
    check_features("y", y)?;
    if x.size()[1] != y.size()[1] {
        return Err(CoreError::shape(
            "y",
            format!("features {:?} do not match x's {:?}", y.size(), x.size()),
        ));
    }
    if opts.subsets == 0 {
        return Err(CoreError::config("kid.subsets", "must be > 0"));
    }
    if opts.subset_size < 2 {
        return Err(CoreError::config("kid.subset_size", "must be >= 2"));
    }
    let (x, y) = (x.f_to_kind(Kind::Double)?, y.f_to_kind(Kind::Double)?);
    let (n, m) = (x.size()[0], y.size()[0]);
    let size = opts.subset_size.min(n).min(m);
    let mut rng = seed::rng(opts.seed, "kid", 0);
    let mut values = Vec::with_capacity(opts.subsets);
    for _ in 0..opts.subsets {
        let pick = |t: &Tensor, len: i64, rng: &mut rand_chacha::ChaCha8Rng| -> Result<Tensor> {
            let idx: Vec<i64> = sample(rng, len as usize, size as usize)
                .into_iter()
                .map(|i| i as i64)
                .collect();
            Ok(t.f_index_select(0, &Tensor::from_slice(&idx).f_to_device(t.device())?)?)
        };
        let (a, b) = (pick(&x, n, &mut rng)?, pick(&y, m, &mut rng)?);
        let v = mmd2_unbiased_from_kernels(
            &polynomial_kernel(&a, &a)?,
            &polynomial_kernel(&b, &b)?,
            &polynomial_kernel(&a, &b)?,
        )?;
        values.push(v.f_double_value(&[])?);
    }
    Ok(Estimate::of(&values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    /// One distribution: the average KID over seeds is 0 within its standard error (unbiased),
    /// while a shifted set gives a clearly positive value.
    #[test]
    fn one_distribution_averages_to_zero_and_a_shift_is_positive() {
        let opts = |s| KidOptions {
            subsets: 10,
            subset_size: 200,
            seed: s,
        };
        let mut vals = vec![];
        for s in 0..30 {
            tch::manual_seed(100 + s as i64);
            let x = Tensor::randn([400, 8], F64);
            let y = Tensor::randn([400, 8], F64);
            vals.push(kid(&x, &y, &opts(s)).unwrap().mean);
        }
        let e = Estimate::of(&vals);
        let se = e.std / (vals.len() as f64).sqrt();
        assert!(
            e.mean.abs() < 3.0 * se,
            "mean {} vs standard error {se}",
            e.mean
        );
        assert!(
            vals.iter().any(|v| *v < 0.0),
            "an unbiased estimate at 0 goes negative"
        );
        tch::manual_seed(7);
        let x = Tensor::randn([400, 8], F64);
        let y = Tensor::randn([400, 8], F64) + 0.5;
        let shifted = kid(&x, &y, &opts(0)).unwrap();
        assert!(shifted.mean > 20.0 * se, "{shifted:?}");
    }

    /// With subsets of the whole sets, KID is the plain unbiased MMD^2 with the cubic kernel,
    /// computed here by explicit sums over pairs.
    #[test]
    fn full_subsets_equal_the_explicit_sum() {
        let x = Tensor::from_slice(&[0.0f64, 1.0, 2.0, 0.5, -1.0, 0.0]).view([3, 2]);
        let y = Tensor::from_slice(&[1.0f64, 1.0, 0.0, -2.0, 3.0, 1.0]).view([3, 2]);
        let xs: Vec<Vec<f64>> = Vec::<Vec<f64>>::try_from(&x).unwrap();
        let ys: Vec<Vec<f64>> = Vec::<Vec<f64>>::try_from(&y).unwrap();
        let k = |a: &[f64], b: &[f64]| ((a[0] * b[0] + a[1] * b[1]) / 2.0 + 1.0).powi(3);
        let off = |s: &[Vec<f64>]| {
            let mut t = 0.0;
            for i in 0..3 {
                for j in 0..3 {
                    if i != j {
                        t += k(&s[i], &s[j]);
                    }
                }
            }
            t / 6.0
        };
        let cross: f64 = xs
            .iter()
            .flat_map(|a| ys.iter().map(move |b| k(a, b)))
            .sum::<f64>()
            / 9.0;
        let want = off(&xs) + off(&ys) - 2.0 * cross;
        let got = kid(
            &x,
            &y,
            &KidOptions {
                subsets: 3,
                subset_size: 3,
                seed: 0,
            },
        )
        .unwrap();
        assert!(
            (got.mean - want).abs() < 1e-9 && got.std < 1e-9,
            "{got:?} vs {want}"
        );
    }

    #[test]
    fn bad_options_are_named() {
        let x = Tensor::zeros([4, 2], F64);
        let e = kid(
            &x,
            &x,
            &KidOptions {
                subsets: 0,
                ..KidOptions::default()
            },
        );
        assert!(e.unwrap_err().to_string().contains("kid.subsets"));
        let e = kid(&x, &Tensor::zeros([4, 3], F64), &KidOptions::default());
        assert!(e.unwrap_err().to_string().contains('y'));
    }
}
