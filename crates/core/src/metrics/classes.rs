//! What a classifier says about samples: the histogram of predicted classes (how many classes a
//! model covers, and how unevenly) and the Inception-style score
//! `exp(E_x KL(p(y|x) || p(y)))` (Salimans et al. 2016, "Improved Techniques for Training GANs",
//! sec. 4), here with a domain classifier instead of Inception.
use tch::{Kind, Tensor};

use crate::{CoreError, Result};

/// The class histogram of a sample set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassCoverage {
    /// Share of samples predicted as each class (argmax), summing to 1.
    pub shares: Vec<f64>,
    /// Classes predicted for at least a tenth of their uniform share (`0.1 / K`).
    pub classes_covered: usize,
    /// `KL(shares || uniform)` in nats: 0 when every class is equally frequent, `log K` when one
    /// class takes everything.
    pub kl_to_uniform: f64,
    /// `exp(E_x KL(p(y|x) || p(y)))`, between 1 and K.
    pub inception_score: f64,
}

/// The class histogram and score of `probs [n, K]` (rows: a classifier's softmax).
///
/// # Errors
/// [`CoreError::Shape`] (`probs`) when it is not `[n >= 1, K >= 2]` with rows of non-negative
/// values summing to 1 (within 1e-3).
pub fn class_coverage(probs: &Tensor) -> Result<ClassCoverage> {
    let bad = |m: String| Err(CoreError::shape("probs", m));
    if probs.dim() != 2 || probs.size()[0] < 1 || probs.size()[1] < 2 {
        return bad(format!(
            "expected [n, K >= 2] probabilities, got {:?}",
            probs.size()
        ));
    }
    let p = probs.f_to_kind(Kind::Double)?;
    let row_err = p
        .f_sum_dim_intlist(1, false, Kind::Double)?
        .f_sub_scalar(1.0)?
        .f_abs()?
        .f_max()?
        .f_double_value(&[])?;
    if row_err.is_nan() || row_err >= 1e-3 || p.f_lt(0.0)?.f_any()?.f_int64_value(&[])? != 0 {
        return bad(format!(
            "rows must be probabilities (largest |sum - 1| = {row_err})"
        ));
    }
    let (n, k) = (p.size()[0], p.size()[1]);
    let counts = p.f_argmax(1, false)?.f_bincount(None::<Tensor>, k)?;
    let shares: Vec<f64> = Vec::<i64>::try_from(&counts)?
        .iter()
        .map(|&c| c as f64 / n as f64)
        .collect();
    let kf = k as f64;
    let kl_to_uniform = shares
        .iter()
        .filter(|&&s| s > 0.0)
        .map(|s| s * (s * kf).ln())
        .sum();
    let classes_covered = shares.iter().filter(|&&s| s >= 0.1 / kf).count();
    let py = p.f_mean_dim(0, true, Kind::Double)?;
    let eps = 1e-12;
    let kl = p
        .f_mul(
            &p.f_add_scalar(eps)?
                .f_log()?
                .f_sub(&py.f_add_scalar(eps)?.f_log()?)?,
        )?
        .f_sum_dim_intlist(1, false, Kind::Double)?
        .f_mean(Kind::Double)?
        .f_double_value(&[])?;
    Ok(ClassCoverage {
        shares,
        classes_covered,
        kl_to_uniform,
        inception_score: kl.exp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn one_hot_even_predictions_score_k_and_cover_everything() {
        let p = Tensor::eye(4, (Kind::Double, Device::Cpu)).repeat([5, 1]);
        let c = class_coverage(&p).unwrap();
        assert_eq!(c.shares, vec![0.25; 4]);
        assert_eq!(c.classes_covered, 4);
        assert!(c.kl_to_uniform.abs() < 1e-12);
        assert!((c.inception_score - 4.0).abs() < 1e-9, "{c:?}");
    }

    #[test]
    fn a_collapsed_set_scores_one_and_covers_one_class() {
        let mut rows = vec![0.0f64; 10 * 4];
        for r in 0..10 {
            rows[r * 4 + 2] = 1.0;
        }
        let c = class_coverage(&Tensor::from_slice(&rows).view([10, 4])).unwrap();
        assert_eq!(c.classes_covered, 1);
        assert!((c.kl_to_uniform - 4f64.ln()).abs() < 1e-12);
        assert!((c.inception_score - 1.0).abs() < 1e-9);
        // uniform rows: every sample equally unsure, score 1
        let u = Tensor::full([3, 4], 0.25, (Kind::Double, Device::Cpu));
        assert!((class_coverage(&u).unwrap().inception_score - 1.0).abs() < 1e-9);
        assert!(class_coverage(&Tensor::ones([3, 4], (Kind::Double, Device::Cpu))).is_err());
    }
}
