//! Sample-quality measures, the same for every family that samples: computed on feature sets
//! (a domain classifier's penultimate features, pixels, or 2-D points), each tested against a
//! closed form or an exact hand count.
//!
//! | function | what | source |
//! |---|---|---|
//! | [`fid::fid`], [`fid::frechet_distance`] | `\|m1 - m2\|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)` | Heusel et al. 2017, eq. 6 |
//! | [`kid::kid`] | unbiased MMD^2, cubic polynomial kernel, subset mean and std | Binkowski et al. 2018, sec. 4 |
//! | [`knn::precision_recall`] | improved precision and recall, k-NN spheres | Kynkäänniemi et al. 2019, eq. 1-3 |
//! | [`knn::memorization`] | share of samples closer to the training set than its own 1st percentile | this project |
//! | [`modes::mode_coverage`] | modes covered, high-quality share (3 std) | VEEGAN 2017, PacGAN 2018 |
//! | [`classes::class_coverage`] | predicted-class histogram, Inception-style score | Salimans et al. 2016, sec. 4 |
//!
//! Names in tables: FID and KID on a domain classifier's features are `fid-domain` and
//! `kid-domain`, never "Inception FID": they are not comparable with published Inception scores.
pub mod classes;
pub mod fid;
pub mod kid;
pub mod knn;
pub mod modes;

use tch::Tensor;

use crate::{CoreError, Result};

/// A Monte Carlo figure with its spread: the mean of repeated estimates and their standard
/// deviation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// Standard deviation of the repeated estimates (0 for one).
    pub std: f64,
}

impl Estimate {
    /// The mean and (n - 1) standard deviation of `values` (NaN mean for none).
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Estimate {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Checks that `x` is a finite floating-point `[n >= 2, d]` feature set, naming it.
pub(crate) fn check_features(name: &str, x: &Tensor) -> Result<()> {
    if x.dim() != 2 || x.size()[0] < 2 || !crate::dist::is_float_kind(x.kind()) {
        return Err(CoreError::shape(
            name,
            format!(
                "expected a floating-point [n >= 2, d] set, got {:?} {:?}",
                x.kind(),
                x.size()
            ),
        ));
    }
    if x.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
        return Err(CoreError::shape(name, "holds NaN or infinite values"));
    }
    Ok(())
}
