//! Mode coverage on mixtures whose modes are known (the 2-D toys): a sample is of high quality
//! when it lies within 3 standard deviations of its nearest mode, and a mode is covered when it
//! holds enough high-quality samples (Srivastava et al. 2017, VEEGAN, sec. 5.1; Lin et al. 2018,
//! PacGAN, sec. 4.1: 2,500 samples, a mode lost when fewer than 20 of them fall within 3 standard
//! deviations of it, which [`ModeOptions::default`] keeps as a share, 0.8%).
use tch::{Kind, Tensor};

use super::check_features;
use crate::divergence::mmd::pairwise_sq_dists;
use crate::{CoreError, Result};

/// The thresholds of [`mode_coverage`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModeOptions {
    /// A sample within `radius_stds` standard deviations of a mode is of high quality.
    pub radius_stds: f64,
    /// A mode is covered when at least this share of all samples are high-quality samples of it.
    pub min_share: f64,
}

impl Default for ModeOptions {
    fn default() -> Self {
        ModeOptions {
            radius_stds: 3.0,
            min_share: 20.0 / 2500.0,
        }
    }
}

/// What [`mode_coverage`] counts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModeCoverage {
    /// Modes holding at least `min_share` of the samples as high-quality samples.
    pub modes_covered: usize,
    pub modes: usize,
    /// Share of samples within `radius_stds` standard deviations of their nearest mode.
    pub high_quality_share: f64,
    /// High-quality samples per mode.
    pub counts: Vec<i64>,
}

/// Counts the modes of `centres [m, d]` (isotropic, standard deviation `std`) that `samples [n, d]`
/// cover, and the share of high-quality samples.
///
/// # Errors
/// [`CoreError::Shape`] (`samples`, `centres`) for sets that are not finite `[n, d]` tensors of
/// one `d`; [`CoreError::Config`] (`std`, `radius_stds`, `min_share`) for values that are not
/// positive (a share above 1 is refused too).
pub fn mode_coverage(
    samples: &Tensor,
    centres: &Tensor,
    std: f64,
    opts: &ModeOptions,
) -> Result<ModeCoverage> {
    check_features("samples", samples)?;
    if centres.dim() != 2 || centres.size()[0] < 1 {
        return Err(CoreError::shape(
            "centres",
            format!("expected [m >= 1, d], got {:?}", centres.size()),
        ));
    }
    for (k, v, max) in [
        ("std", std, f64::INFINITY),
        ("radius_stds", opts.radius_stds, f64::INFINITY),
        ("min_share", opts.min_share, 1.0),
    ] {
        if !(v > 0.0 && v <= max && v.is_finite()) {
            return Err(CoreError::config(
                k,
                format!("{v} must be positive (and a share at most 1)"),
            ));
        }
    }
    let d2 = pairwise_sq_dists(
        &samples.f_to_kind(Kind::Double)?,
        &centres.f_to_kind(Kind::Double)?,
    )?;
    let (dmin, arg) = d2.f_min_dim(1, false)?;
    let radius = opts.radius_stds * std;
    let good = dmin.f_le(radius * radius)?;
    let n = samples.size()[0];
    let m = centres.size()[0];
    let hits = arg.f_masked_select(&good)?;
    let counts = Vec::<i64>::try_from(&hits.f_bincount(None::<Tensor>, m)?)?;
    let need = opts.min_share * n as f64;
    Ok(ModeCoverage {
        modes_covered: counts.iter().filter(|&&c| c as f64 >= need).count(),
        modes: m as usize,
        high_quality_share: hits.size()[0] as f64 / n as f64,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    #[test]
    fn hand_made_points_give_exact_counts() {
        let centres = Tensor::from_slice(&[0.0f64, 0.0, 10.0, 0.0, 0.0, 10.0]).view([3, 2]);
        // std 1, radius 3: mode 0 gets 3 good points, mode 1 gets 1, mode 2 none; one point at
        // distance 3.5 from mode 0 and one far away are of low quality.
        let pts = [
            [0.0, 0.0],
            [1.0, 1.0],
            [0.0, -2.9],
            [10.0, 2.0],
            [3.5, 0.0],
            [5.0, 5.0],
        ];
        let flat: Vec<f64> = pts.iter().flatten().copied().collect();
        let s = Tensor::from_slice(&flat).view([6, 2]);
        let opts = ModeOptions {
            radius_stds: 3.0,
            min_share: 2.0 / 6.0,
        };
        let c = mode_coverage(&s, &centres, 1.0, &opts).unwrap();
        assert_eq!(c.counts, vec![3, 1, 0]);
        assert_eq!(c.modes_covered, 1);
        assert!((c.high_quality_share - 4.0 / 6.0).abs() < 1e-12);
        let loose = ModeOptions {
            min_share: 1.0 / 6.0,
            ..opts
        };
        assert_eq!(
            mode_coverage(&s, &centres, 1.0, &loose)
                .unwrap()
                .modes_covered,
            2
        );
    }

    #[test]
    fn samples_of_the_mixture_cover_every_mode() {
        tch::manual_seed(6);
        let centres = Tensor::randn([8, 2], F64) * 10.0;
        let pick = Tensor::randint(8, [2500], (Kind::Int64, Device::Cpu));
        let s = centres.index_select(0, &pick) + Tensor::randn([2500, 2], F64) * 0.1;
        let c = mode_coverage(&s, &centres, 0.1, &ModeOptions::default()).unwrap();
        assert_eq!(c.modes_covered, 8);
        // within 3 std in 2-D: 1 - exp(-9/2) = 0.9889
        assert!((c.high_quality_share - 0.9889).abs() < 0.01, "{c:?}");
        assert!(mode_coverage(&s, &centres, -1.0, &ModeOptions::default()).is_err());
    }
}
