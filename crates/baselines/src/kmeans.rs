//! k-means (Lloyd 1982; Bishop 2006, sec. 9.1) with k-means++ seeding (Arthur & Vassilvitskii
//! 2007): minimize the distortion `J = sum_n min_k |x_n - mu_k|^2` (Bishop eq. 9.1) by
//! alternating nearest-centre assignment and centre means.
//!
//! k-means defines no density: [`KMeans`] reports `has_density() == false`, `log_prob` is an
//! error, and its metric is the distortion per example (mean squared distance to the nearest
//! centre, summed over dimensions). Its `sample` returns codebook vectors: centres drawn with the
//! cluster frequencies of the training data (a vector quantizer's reproductions, not draws from
//! a continuous density). The seeding and Lloyd iterations are shared with [`super::gmm`].
use std::collections::BTreeMap;

use rand::Rng;
use tch::{Device, Kind, Tensor};

use super::{categorical, check_input, not_fitted, Baseline, FitStats};
use genzoo_core::{seed, CoreError, Result};

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["default", "tiny"];

/// Configuration of [`KMeans`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KMeansConfig {
    /// Number of clusters.
    pub k: usize,
    /// At most this many Lloyd iterations.
    pub max_iter: usize,
    /// Stop when the distortion falls by less than `tol` times itself (or assignments repeat).
    pub tol: f64,
}

/// The named presets: `default` (k = 10), `tiny` (k = 3).
pub fn preset(name: &str) -> Option<KMeansConfig> {
    match name {
        "default" => Some(KMeansConfig {
            k: 10,
            max_iter: 100,
            tol: 1e-6,
        }),
        "tiny" => Some(KMeansConfig {
            k: 3,
            max_iter: 20,
            tol: 1e-6,
        }),
        _ => None,
    }
}

/// Squared distances `[n, k]` between rows of `x` (`[n, d]`, with `x2 = |x|^2`, `[n]`) and
/// `centers` (`[k, d]`), clamped at 0 against rounding.
pub(crate) fn sq_dists(x: &Tensor, x2: &Tensor, centers: &Tensor) -> Tensor {
    let c2 = centers.square().sum_dim_intlist(1, false, Kind::Double); // [k]
    (x2.unsqueeze(1) - x.mm(&centers.transpose(0, 1)) * 2.0 + c2.unsqueeze(0)).clamp_min(0.0)
}

/// k-means++ seeding: the first centre uniformly, each next one with probability proportional to
/// the squared distance to the nearest chosen centre. `x` is `f64 [n, d]`, `k <= n`. `[k, d]`.
pub(crate) fn kmeans_pp(x: &Tensor, k: i64, seed_: u64) -> Result<Tensor> {
    let n = x.size()[0];
    let mut rng = seed::rng(seed_, "kmeans++", 0);
    let first = rng.gen_range(0..n);
    let mut idx = vec![first];
    let dist_to = |i: i64| {
        (x - x.get(i))
            .square()
            .sum_dim_intlist(1, false, Kind::Double)
    }; // [n]
    let mut d2 = dist_to(first);
    for _ in 1..k {
        let w = Vec::<f64>::try_from(&d2.to_device(Device::Cpu))?;
        let i = if w.iter().sum::<f64>() > 0.0 {
            categorical(&w, 1, &mut rng)[0] as i64
        } else {
            // Every point coincides with a chosen centre: any other point will do.
            rng.gen_range(0..n)
        };
        idx.push(i);
        d2 = d2.minimum(&dist_to(i));
    }
    Ok(x.index_select(0, &Tensor::from_slice(&idx).to_device(x.device())))
}

/// The result of Lloyd's iterations.
pub(crate) struct Lloyd {
    pub centers: Tensor, // [k, d]
    pub assign: Tensor,  // [n] i64
    pub counts: Vec<f64>,
    /// Sum over examples of the squared distance to the assigned centre.
    pub inertia: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Nearest centre `[n]` and its squared distance `[n]`.
fn assign(x: &Tensor, x2: &Tensor, centers: &Tensor) -> (Tensor, Tensor) {
    let (mind2, arg) = sq_dists(x, x2, centers).min_dim(1, false);
    (arg, mind2)
}

/// Lloyd's algorithm from `centers` (`[k, d]`) on `x` (`f64 [n, d]`). An empty cluster is moved
/// to the point farthest from its centre.
pub(crate) fn lloyd(x: &Tensor, mut centers: Tensor, max_iter: usize, tol: f64) -> Result<Lloyd> {
    let (k, d) = (centers.size()[0], x.size()[1]);
    let opts = (Kind::Double, x.device());
    let x2 = x.square().sum_dim_intlist(1, false, Kind::Double);
    let ones = Tensor::ones([x.size()[0]], opts);
    let (mut iterations, mut converged) = (0, false);
    let mut prev: Option<(Tensor, f64)> = None;
    for it in 0..max_iter {
        let (arg, mind2) = assign(x, &x2, &centers);
        let inertia = mind2.sum(Kind::Double).double_value(&[]);
        if let Some((parg, pin)) = &prev {
            if arg.equal(parg) || pin - inertia <= tol * pin.abs() {
                converged = true;
                iterations = it;
                break;
            }
        }
        let sums = Tensor::zeros([k, d], opts).index_add(0, &arg, x);
        let counts = Tensor::zeros([k], opts).index_add(0, &arg, &ones);
        let cnt = Vec::<f64>::try_from(&counts.to_device(Device::Cpu))?;
        centers = &sums / counts.clamp_min(1.0).unsqueeze(1);
        let mut far = mind2.shallow_clone();
        for (j, &c) in cnt.iter().enumerate() {
            if c == 0.0 {
                let i = far.argmax(0, false).int64_value(&[]);
                centers.get(j as i64).copy_(&x.get(i));
                far = far.index_fill(0, &Tensor::from_slice(&[i]).to_device(x.device()), -1.0);
            }
        }
        prev = Some((arg, inertia));
        iterations = it + 1;
    }
    let (arg, mind2) = assign(x, &x2, &centers);
    let counts = Tensor::zeros([k], opts).index_add(0, &arg, &ones);
    Ok(Lloyd {
        counts: Vec::<f64>::try_from(&counts.to_device(Device::Cpu))?,
        inertia: mind2.sum(Kind::Double).double_value(&[]),
        centers,
        assign: arg,
        iterations,
        converged,
    })
}

/// A fitted k-means codebook.
#[derive(Debug)]
struct Fitted {
    centers: Tensor, // [k, d]
    /// Fraction of training examples in each cluster.
    weights: Vec<f64>,
}

/// k-means baseline.
#[derive(Debug)]
pub struct KMeans {
    cfg: KMeansConfig,
    fitted: Option<Fitted>,
}

impl KMeans {
    /// An unfitted k-means model.
    ///
    /// # Errors
    /// [`CoreError::Config`] when `cfg.k` is 0 (`model.k`) or `cfg.tol` is negative or not finite
    /// (`model.tol`).
    pub fn new(cfg: KMeansConfig) -> Result<Self> {
        if cfg.k == 0 {
            return Err(CoreError::config("model.k", "needs at least one cluster"));
        }
        if !(cfg.tol.is_finite() && cfg.tol >= 0.0) {
            return Err(CoreError::config(
                "model.tol",
                format!("must be finite and >= 0, got {}", cfg.tol),
            ));
        }
        Ok(KMeans { cfg, fitted: None })
    }

    /// The centres `[k, d]` (f64), once fitted.
    pub fn centers(&self) -> Option<&Tensor> {
        self.fitted.as_ref().map(|f| &f.centers)
    }

    /// Nearest-centre index (`i64 [n]`) of each row of `x`.
    ///
    /// # Errors
    /// [`CoreError::Model`] when the model is not fitted; [`CoreError::Shape`] (`kmeans: x`) when
    /// `x` is not a finite floating `[n, d]` tensor with the fitted `d`; a libtorch error.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted("kmeans"))?;
        let x = check_input(x, "kmeans: x", 0, Some(f.centers.size()[1]))?
            .to_device(f.centers.device());
        let x2 = x.square().sum_dim_intlist(1, false, Kind::Double);
        Ok(assign(&x, &x2, &f.centers).0)
    }
}

impl Baseline for KMeans {
    fn name(&self) -> &str {
        "kmeans"
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }

    fn fit(&mut self, x: &Tensor, seed_: u64) -> Result<FitStats> {
        let k = self.cfg.k as i64;
        let x = check_input(x, "kmeans: x", k, None)?;
        let n = x.size()[0] as f64;
        let init = kmeans_pp(&x, k, seed_)?;
        let l = lloyd(&x, init, self.cfg.max_iter, self.cfg.tol)?;
        let weights = l.counts.iter().map(|c| c / n).collect();
        self.fitted = Some(Fitted {
            centers: l.centers,
            weights,
        });
        let mut stats = FitStats {
            iterations: l.iterations,
            converged: l.converged,
            ..Default::default()
        };
        stats.metrics.insert("distortion".into(), l.inertia / n);
        Ok(stats)
    }

    fn has_density(&self) -> bool {
        false
    }

    fn log_prob(&self, _x: &Tensor) -> Result<Tensor> {
        Err(CoreError::model(
            "kmeans",
            "k-means defines no density (use `metrics` for its distortion)",
        ))
    }

    fn sample(&self, n: i64, seed_: u64) -> Result<Tensor> {
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted("kmeans"))?;
        if n < 0 {
            return Err(CoreError::Invalid(format!(
                "kmeans: cannot draw {n} samples"
            )));
        }
        let mut rng = seed::rng(seed_, "kmeans-sample", 0);
        let idx: Vec<i64> = categorical(&f.weights, n as usize, &mut rng)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        let idx = Tensor::from_slice(&idx).to_device(f.centers.device());
        Ok(f.centers.index_select(0, &idx).to_kind(Kind::Float))
    }

    fn num_params(&self) -> usize {
        self.fitted
            .as_ref()
            .map_or(0, |f| (f.centers.size()[0] * f.centers.size()[1]) as usize)
    }

    fn metrics(&self, x: &Tensor) -> Result<BTreeMap<String, f64>> {
        let f = self.fitted.as_ref().ok_or_else(|| not_fitted("kmeans"))?;
        let x = check_input(x, "kmeans: x", 1, Some(f.centers.size()[1]))?
            .to_device(f.centers.device());
        let x2 = x.square().sum_dim_intlist(1, false, Kind::Double);
        let (_, mind2) = assign(&x, &x2, &f.centers);
        Ok(BTreeMap::from([(
            "distortion".to_string(),
            mind2.mean(Kind::Double).double_value(&[]),
        )]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::std_normal;

    /// `per` points around each of `means` (`[k, d]`) with standard deviation `sd`; `[k*per, d]`.
    pub(crate) fn blobs(means: &[&[f64]], per: i64, sd: f64, seed_: u64) -> Tensor {
        let parts: Vec<Tensor> = means
            .iter()
            .enumerate()
            .map(|(i, m)| {
                std_normal(per, m.len() as i64, seed_, "blobs", i as u64, Device::Cpu) * sd
                    + Tensor::from_slice(m)
            })
            .collect();
        Tensor::cat(&parts, 0)
    }

    #[test]
    fn kmeans_recovers_separated_clusters() {
        let means: [&[f64]; 3] = [&[0.0, 0.0], &[10.0, 0.0], &[0.0, 10.0]];
        let x = blobs(&means, 200, 0.5, 3);
        let mut km = KMeans::new(KMeansConfig {
            k: 3,
            max_iter: 50,
            tol: 0.0,
        })
        .unwrap();
        let stats = km.fit(&x, 11).unwrap();
        assert!(stats.converged);
        let c = km.centers().unwrap();
        for m in means {
            let m = Tensor::from_slice(m);
            let best = (c - &m)
                .square()
                .sum_dim_intlist(1, false, Kind::Double)
                .min()
                .double_value(&[]);
            assert!(best.sqrt() < 0.1, "no centre near {m:?}: {c:?}");
        }
        // Each true cluster maps to one label, and the three labels differ.
        let lab = Vec::<i64>::try_from(km.predict(&x).unwrap()).unwrap();
        let mut firsts = vec![];
        for b in 0..3 {
            let l0 = lab[b * 200];
            assert!(lab[b * 200..(b + 1) * 200].iter().all(|&l| l == l0));
            firsts.push(l0);
        }
        firsts.sort();
        firsts.dedup();
        assert_eq!(firsts.len(), 3);
        // Distortion ~ d * sd^2 = 0.5 per example.
        let dist = stats.metrics["distortion"];
        assert!((dist - 0.5).abs() < 0.06, "distortion {dist}");
        assert!((km.metrics(&x).unwrap()["distortion"] - dist).abs() < 1e-9);
        // Codebook samples are centres, in proportion 1/3 each.
        let s = km.sample(3000, 0).unwrap().to_kind(Kind::Double);
        let near0 = (s.square().sum_dim_intlist(1, false, Kind::Double).lt(1.0))
            .sum(Kind::Double)
            .double_value(&[]);
        assert!((near0 / 3000.0 - 1.0 / 3.0).abs() < 0.04);
        assert!(matches!(km.log_prob(&x), Err(CoreError::Model { .. })));
        assert_eq!(km.num_params(), 6);
    }

    #[test]
    fn kmeans_rejects_more_clusters_than_points() {
        let mut km = KMeans::new(KMeansConfig {
            k: 5,
            max_iter: 5,
            tol: 0.0,
        })
        .unwrap();
        let x = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
        assert!(matches!(km.fit(&x, 0), Err(CoreError::Shape { .. })));
        assert!(KMeans::new(KMeansConfig {
            k: 0,
            max_iter: 5,
            tol: 0.0
        })
        .is_err());
    }

    #[test]
    fn kmeans_plus_plus_spreads_seeds() {
        // Two far blobs: with D^2 sampling the second seed lands in the other blob almost surely.
        let x = blobs(&[&[0.0], &[100.0]], 50, 0.1, 1);
        for s in 0..10 {
            let c = kmeans_pp(&x, 2, s).unwrap();
            let gap = (c.double_value(&[0, 0]) - c.double_value(&[1, 0])).abs();
            assert!(gap > 90.0, "seed {s}: gap {gap}");
        }
    }
}
