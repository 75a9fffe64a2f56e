//! PCA (Bishop 2006, sec. 12.1) and probabilistic PCA (Tipping & Bishop 1999, "Probabilistic
//! principal component analysis", JRSS B 61(3)).
//!
//! PCA: the eigendecomposition `S = U diag(lambda) U^T` of the (1/n) sample covariance, eigenvalues
//! in decreasing order; projecting onto the first q eigenvectors leaves a mean squared
//! reconstruction error equal to the sum of the discarded eigenvalues (Bishop eq. 12.18).
//!
//! PPCA: `x = W z + mu + eps`, `z ~ N(0, I_q)`, `eps ~ N(0, sigma^2 I_d)`, so
//! `x ~ N(mu, C)` with `C = W W^T + sigma^2 I` (T&B eq. 2-3). The maximum-likelihood solution is
//! closed form: `mu` the sample mean, `sigma^2 = (1/(d-q)) sum_{j>q} lambda_j` (eq. 8, the mean of
//! the discarded eigenvalues) and `W = U_q (Lambda_q - sigma^2 I)^{1/2}` (eq. 7, rotation R = I).
//! The log-likelihood is `L = -(n/2) (d ln 2pi + ln|C| + tr(C^-1 S))` (eq. 4); in the eigenbasis
//! `ln|C| = sum_{j<=q} ln lambda_j + (d-q) ln sigma^2` and, at the MLE, `tr(C^-1 S) = d`. Per-example
//! log-densities use the same eigenbasis, `O(n d q)`, without forming `C`.
//!
//! Regularization: `sigma^2` is floored at `ridge` (it is 0 when q >= rank S, e.g. MNIST's
//! constant pixels without dequantization), and the variances along the kept directions are
//! `max(lambda_j, sigma^2)`. `latent_dim` is clamped to `d - 1` (recorded in the fit metrics).
use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::{check_input, check_ridge, not_fitted, std_normal, Baseline, FitStats, LN_2PI};
use genzoo_core::{CoreError, Result};

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["default", "tiny"];

/// Configuration of [`Ppca`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpcaConfig {
    /// Latent dimension q (clamped to d - 1).
    pub latent_dim: usize,
    /// Floor on sigma^2.
    pub ridge: f64,
}

/// The named presets: `default` (q = 512) and `tiny` (q = 2). q = 512 was chosen on held-out
/// data (fitted on the first 8,100 dequantized images of `mnist10k/train`, the last 900 scored
/// 6.37 / 5.77 / 6.90 bits/dim for q = 256 / 512 / 650): one isotropic sigma^2 must cover both
/// MNIST's near-constant border pixels and its stroke pixels, so small q does poorly. Toy data
/// clamp q to d - 1.
pub fn preset(name: &str) -> Option<PpcaConfig> {
    match name {
        "default" => Some(PpcaConfig {
            latent_dim: 512,
            ridge: 1e-8,
        }),
        "tiny" => Some(PpcaConfig {
            latent_dim: 2,
            ridge: 1e-8,
        }),
        _ => None,
    }
}

/// A fitted PCA: mean, all eigenvalues and the leading eigenvectors.
#[derive(Debug)]
pub struct Pca {
    mean: Tensor,        // [d]
    eigenvalues: Tensor, // [d], decreasing
    components: Tensor,  // [d, q], orthonormal columns
}

impl Pca {
    /// Fits PCA with `q` components (at most d) to `x` (`[n, d]`, n >= 2).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`pca: x`) when `x` is not a finite floating `[n, d]` tensor with n >=
    /// 2; [`CoreError::Invalid`] when `q > d`; a libtorch error from the eigendecomposition.
    pub fn fit(x: &Tensor, q: usize) -> Result<Pca> {
        let x = check_input(x, "pca: x", 2, None)?;
        let (n, d) = (x.size()[0], x.size()[1]);
        if q as i64 > d {
            return Err(CoreError::Invalid(format!(
                "pca: {q} components asked of {d}-dimensional data"
            )));
        }
        let mean = x.mean_dim(0, false, Kind::Double);
        let xc = &x - &mean;
        let s = xc.transpose(0, 1).mm(&xc) / n as f64; // [d, d]
        let (evals, evecs) = s.f_linalg_eigh("L")?; // ascending
        let eigenvalues = evals.flip([0]).clamp_min(0.0);
        let components = evecs.flip([1]).narrow(1, 0, q as i64);
        Ok(Pca {
            mean,
            eigenvalues,
            components,
        })
    }

    /// The mean `[d]`.
    pub fn mean(&self) -> &Tensor {
        &self.mean
    }
    /// All eigenvalues of the sample covariance, decreasing, `[d]`.
    pub fn eigenvalues(&self) -> &Tensor {
        &self.eigenvalues
    }
    /// The leading eigenvectors as columns, `[d, q]`.
    pub fn components(&self) -> &Tensor {
        &self.components
    }

    /// Coordinates in the principal subspace, `[n, q]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`pca: x`) when `x` is not a finite floating `[n, d]` tensor with the
    /// fitted `d`; a libtorch error.
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let x =
            check_input(x, "pca: x", 0, Some(self.mean.size()[0]))?.to_device(self.mean.device());
        Ok((x - &self.mean).mm(&self.components))
    }

    /// Projections of `x` onto the principal subspace, `[n, d]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`pca: x`) when `x` is not a finite floating `[n, d]` tensor with the
    /// fitted `d`; a libtorch error.
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.transform(x)?.mm(&self.components.transpose(0, 1)) + &self.mean)
    }

    /// Mean over rows of the squared reconstruction error (summed over dimensions).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`pca: x`) when `x` is not a finite floating `[n, d]` tensor with at
    /// least one row and the fitted `d`; a libtorch error.
    pub fn reconstruction_error(&self, x: &Tensor) -> Result<f64> {
        let x64 =
            check_input(x, "pca: x", 1, Some(self.mean.size()[0]))?.to_device(self.mean.device());
        let r = self.reconstruct(&x64)?;
        Ok((x64 - r)
            .square()
            .sum_dim_intlist(1, false, Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]))
    }
}

/// The fitted PPCA parameters.
#[derive(Debug)]
struct Fitted {
    pca: Pca,
    /// Variances of C along the kept directions, `max(lambda_j, sigma^2)`, `[q]`.
    kept: Tensor,
    sigma2: f64,
    /// Mean training log-likelihood per example (T&B eq. 4 divided by n).
    train_log_lik: f64,
}

/// Probabilistic PCA baseline, a Gaussian density with covariance `W W^T + sigma^2 I`.
#[derive(Debug)]
pub struct Ppca {
    cfg: PpcaConfig,
    fitted: Option<Fitted>,
}

impl Ppca {
    /// An unfitted PPCA.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`model.ridge`) when `cfg.ridge` is negative or not finite.
    pub fn new(cfg: PpcaConfig) -> Result<Self> {
        check_ridge("model.ridge", cfg.ridge)?;
        Ok(Ppca { cfg, fitted: None })
    }

    fn fitted(&self) -> Result<&Fitted> {
        self.fitted.as_ref().ok_or_else(|| not_fitted("ppca"))
    }

    /// The MLE noise variance sigma^2 (after the ridge floor).
    pub fn sigma2(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.sigma2)
    }

    /// The underlying PCA (mean, eigenvalues, kept eigenvectors).
    pub fn pca(&self) -> Option<&Pca> {
        self.fitted.as_ref().map(|f| &f.pca)
    }

    /// The MLE loading matrix `W = U_q (Lambda_q - sigma^2 I)^{1/2}`, `[d, q]` (T&B eq. 7, R = I).
    pub fn weight(&self) -> Option<Tensor> {
        self.fitted
            .as_ref()
            .map(|f| &f.pca.components * (&f.kept - f.sigma2).clamp_min(0.0).sqrt().unsqueeze(0))
    }

    /// The closed-form mean training log-likelihood per example (T&B eq. 4 / n), nats.
    pub fn train_log_lik(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.train_log_lik)
    }
}

impl Baseline for Ppca {
    fn name(&self) -> &str {
        "ppca"
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }

    fn fit(&mut self, x: &Tensor, _seed: u64) -> Result<FitStats> {
        let d = x.size().get(1).copied().unwrap_or(0);
        let q = (self.cfg.latent_dim as i64).min(d - 1).max(0);
        let pca = Pca::fit(x, q as usize)?;
        let lam = Vec::<f64>::try_from(&pca.eigenvalues.to_device(tch::Device::Cpu))?;
        let discarded = &lam[q as usize..];
        let sigma2_mle = discarded.iter().sum::<f64>() / discarded.len() as f64; // T&B eq. 8
        let sigma2 = sigma2_mle.max(self.cfg.ridge);
        if sigma2 <= 0.0 {
            return Err(CoreError::shape(
                "ppca: sigma2",
                "discarded eigenvalues are all 0: raise `ridge`",
            ));
        }
        let kept_v: Vec<f64> = lam[..q as usize].iter().map(|l| l.max(sigma2)).collect();
        // T&B eq. 4 per example: -(d ln 2pi + ln|C| + tr(C^-1 S)) / 2, in C's eigenbasis.
        let logdet = kept_v.iter().map(|c| c.ln()).sum::<f64>() + (d - q) as f64 * sigma2.ln();
        let trace = lam[..q as usize]
            .iter()
            .zip(&kept_v)
            .map(|(l, c)| l / c)
            .sum::<f64>()
            + discarded.iter().sum::<f64>() / sigma2;
        let train_log_lik = -0.5 * (d as f64 * LN_2PI + logdet + trace);
        let total: f64 = lam.iter().sum();
        let kept = Tensor::from_slice(&kept_v).to_device(pca.mean.device());
        let mut stats = FitStats {
            iterations: 1,
            converged: true,
            train_log_lik: Some(train_log_lik),
            ..Default::default()
        };
        // The covariance of n examples has rank at most n - 1: a latent dimension at or above
        // it leaves no variance for sigma^2, which then sits on the ridge floor.
        let rank = lam
            .iter()
            .filter(|&&l| l > 1e-9 * lam[0].max(f64::MIN_POSITIVE))
            .count() as i64;
        stats.metrics.insert("rank".into(), rank as f64);
        if q >= rank {
            stats.warnings.push(format!("latent_dim {q} >= rank {rank} of the training covariance ({} examples): sigma^2 sits on the ridge floor {} and the test NLL measures that floor, not the data; use latent_dim < {rank}", x.size()[0], self.cfg.ridge));
        } else if sigma2_mle < self.cfg.ridge {
            stats.warnings.push(format!(
                "the noise variance {sigma2_mle:.3e} is below the ridge floor {}",
                self.cfg.ridge
            ));
        }
        stats.metrics.insert("latent_dim".into(), q as f64);
        stats.metrics.insert("sigma2".into(), sigma2);
        stats.metrics.insert("sigma2_mle".into(), sigma2_mle);
        if total > 0.0 {
            stats.metrics.insert(
                "explained_variance".into(),
                lam[..q as usize].iter().sum::<f64>() / total,
            );
        }
        self.fitted = Some(Fitted {
            pca,
            kept,
            sigma2,
            train_log_lik,
        });
        Ok(stats)
    }

    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        let f = self.fitted()?;
        let d = f.pca.mean.size()[0];
        let x = check_input(x, "ppca: x", 0, Some(d))?.to_device(f.pca.mean.device());
        let xc = x - &f.pca.mean; // [n, d]
        let proj = xc.mm(&f.pca.components); // [n, q]
        let p2 = proj.square();
        let resid = (xc.square().sum_dim_intlist(1, false, Kind::Double)
            - p2.sum_dim_intlist(1, false, Kind::Double))
        .clamp_min(0.0); // [n], |xc|^2 minus its part in the kept subspace
        let maha =
            (p2 / f.kept.unsqueeze(0)).sum_dim_intlist(1, false, Kind::Double) + resid / f.sigma2;
        let q = f.kept.size()[0];
        let logdet = f.kept.log().sum(Kind::Double) + (d - q) as f64 * f.sigma2.ln();
        Ok((maha + logdet + d as f64 * LN_2PI) * -0.5)
    }

    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        let f = self.fitted()?;
        if n < 0 {
            return Err(CoreError::Invalid(format!("ppca: cannot draw {n} samples")));
        }
        let dev = f.pca.mean.device();
        let (d, q) = (f.pca.mean.size()[0], f.kept.size()[0]);
        let w = self.weight().ok_or_else(|| not_fitted("ppca"))?; // [d, q]
        let z = std_normal(n, q, seed, "ppca-sample", 0, dev); // [n, q]
        let eps = std_normal(n, d, seed, "ppca-sample", 1, dev); // [n, d]
        Ok((z.mm(&w.transpose(0, 1)) + eps * f.sigma2.sqrt() + &f.pca.mean).to_kind(Kind::Float))
    }

    fn num_params(&self) -> usize {
        // T&B sec. 2.2 / Bishop eq. 12.51: mean, W up to rotation, sigma^2.
        self.fitted.as_ref().map_or(0, |f| {
            let (d, q) = (f.pca.mean.size()[0] as usize, f.kept.size()[0] as usize);
            d + d * q - q * q.saturating_sub(1) / 2 + 1
        })
    }

    fn metrics(&self, x: &Tensor) -> Result<BTreeMap<String, f64>> {
        let f = self.fitted()?;
        Ok(BTreeMap::from([(
            "pca_recon_error".to_string(),
            f.pca.reconstruction_error(x)?,
        )]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{std_normal, Gaussian};
    use tch::Device;

    /// 3000 examples in 6-D with a low-rank-plus-noise covariance and a non-zero mean.
    fn data() -> Tensor {
        let a = Tensor::from_slice(&[
            3.0f64, 0.0, 1.0, 2.0, -1.0, 0.5, 0.0, 1.5, 0.3, -0.7, 0.2, 1.0,
        ])
        .reshape([6, 2]);
        let z = std_normal(3000, 2, 1, "ppca-test", 0, Device::Cpu);
        let e = std_normal(3000, 6, 1, "ppca-test", 1, Device::Cpu)
            * Tensor::from_slice(&[0.3f64, 0.5, 0.2, 0.4, 0.3, 0.6]);
        z.mm(&a.transpose(0, 1)) + e + Tensor::from_slice(&[1.0f64, -2.0, 0.0, 3.0, 0.5, -1.0])
    }

    #[test]
    fn ppca_log_prob_equals_the_full_gaussian_density_and_closed_form() {
        let x = data();
        let mut p = Ppca::new(PpcaConfig {
            latent_dim: 2,
            ridge: 0.0,
        })
        .unwrap();
        let stats = p.fit(&x, 0).unwrap();
        let w = p.weight().unwrap();
        let sigma2 = p.sigma2().unwrap();
        let c = w.mm(&w.transpose(0, 1)) + Tensor::eye(6, (Kind::Double, Device::Cpu)) * sigma2;
        let g = Gaussian::from_params(p.pca().unwrap().mean(), &c).unwrap();
        let lp = p.log_prob(&x).unwrap();
        assert!(lp.allclose(&g.log_prob(&x).unwrap(), 1e-10, 1e-9, false));
        // Closed-form T&B eq. 4 equals the mean of the per-example log-densities.
        let mean_lp = lp.mean(Kind::Double).double_value(&[]);
        assert!(
            (stats.train_log_lik.unwrap() - mean_lp).abs() < 1e-9,
            "{stats:?} vs {mean_lp}"
        );
        // sigma^2 is the mean of the 4 discarded eigenvalues of the sample covariance.
        let xc = &x - x.mean_dim(0, true, Kind::Double);
        let s = xc.transpose(0, 1).mm(&xc) / 3000.0;
        let ev = Vec::<f64>::try_from(s.linalg_eigvalsh("L")).unwrap(); // ascending
        let want = ev[..4].iter().sum::<f64>() / 4.0;
        assert!((sigma2 - want).abs() < 1e-12, "{sigma2} vs {want}");
        // MLE: moving sigma^2 either way lowers the likelihood.
        let wwt = w.mm(&w.transpose(0, 1));
        for f in [0.8, 1.25] {
            let c2 = &wwt + Tensor::eye(6, (Kind::Double, Device::Cpu)) * (sigma2 * f);
            let g2 = Gaussian::from_params(p.pca().unwrap().mean(), &c2).unwrap();
            assert!(
                g2.log_prob(&x)
                    .unwrap()
                    .mean(Kind::Double)
                    .double_value(&[])
                    < mean_lp
            );
        }
        assert_eq!(p.num_params(), 6 + 12 - 1 + 1);
    }

    #[test]
    fn pca_reconstruction_error_is_the_sum_of_discarded_eigenvalues() {
        let x = data();
        for q in 0..=6usize {
            let pca = Pca::fit(&x, q).unwrap();
            let ev = Vec::<f64>::try_from(pca.eigenvalues()).unwrap();
            assert!(ev.windows(2).all(|w| w[0] >= w[1]));
            let want: f64 = ev[q..].iter().sum();
            let got = pca.reconstruction_error(&x).unwrap();
            assert!(
                (got - want).abs() < 1e-9 * (1.0 + want),
                "q={q}: {got} vs {want}"
            );
        }
        let pca = Pca::fit(&x, 2).unwrap();
        let u = pca.components();
        assert!(u.transpose(0, 1).mm(u).allclose(
            &Tensor::eye(2, (Kind::Double, Device::Cpu)),
            1e-10,
            1e-10,
            false
        ));
        assert!(Pca::fit(&x, 7).is_err());
    }

    #[test]
    fn ppca_samples_have_the_fitted_moments_and_latent_dim_is_clamped() {
        let x = data();
        let mut p = Ppca::new(PpcaConfig {
            latent_dim: 2,
            ridge: 0.0,
        })
        .unwrap();
        p.fit(&x, 0).unwrap();
        let w = p.weight().unwrap();
        let c = w.mm(&w.transpose(0, 1))
            + Tensor::eye(6, (Kind::Double, Device::Cpu)) * p.sigma2().unwrap();
        let s = p.sample(50_000, 2).unwrap().to_kind(Kind::Double);
        let sm = s.mean_dim(0, false, Kind::Double);
        let sc = (&s - &sm).transpose(0, 1).mm(&(&s - &sm)) / 50_000.0;
        assert!(sm.allclose(p.pca().unwrap().mean(), 0.0, 0.06, false));
        assert!(sc.allclose(&c, 0.03, 0.05, false), "{sc:?} vs {c:?}");
        // q >= d is clamped to d - 1 and recorded.
        let mut big = Ppca::new(PpcaConfig {
            latent_dim: 64,
            ridge: 1e-8,
        })
        .unwrap();
        let stats = big.fit(&x, 0).unwrap();
        assert_eq!(stats.metrics["latent_dim"], 5.0);
        assert!(big.log_prob(&x).unwrap().isfinite().all().int64_value(&[]) == 1);
    }
}
