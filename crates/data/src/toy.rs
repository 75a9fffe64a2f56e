//! Toy data with known truth: seeded samplers for the 2-D sets of the flow and GAN literature
//! (eight Gaussians, the 25-Gaussian grid, two moons, swiss roll, concentric rings, checkerboard,
//! pinwheel; as in FFJORD, Grathwohl et al. 2019, and WGAN-GP, Gulrajani et al. 2017) and a 1-D
//! three-component Gaussian mixture, with closed-form log-densities for the mixtures and the
//! checkerboard, and KL(true || model) estimators to score learned densities against the truth.
//!
//! Definitions (all samples `f32 [n, d]`, datasets `DataKind::Vector`):
//! * `eight-gaussians`: 8 equal-weight isotropic Gaussians, means at radius 2*sqrt(2) at angles
//!   k*pi/4, std 1/(2*sqrt(2)) (FFJORD's set: centers 4/1.414, std 0.5/1.414).
//! * `grid-gaussians`: 25 equal-weight Gaussians at {-2,-1,0,1,2}^2, std 0.15.
//! * `checkerboard`: uniform on the 8 cells (i + j even) of the 4x4 board of side-2 cells covering
//!   [-4,4]^2, i = floor((x + 4) / 2): density 1/32 there, 0 elsewhere.
//! * `gmm1d`: weights (0.3, 0.5, 0.2), means (-2, 0.5, 3), stds (0.6, 0.8, 0.5).
//! * `two-moons`, `swiss-roll`, `rings`, `pinwheel`: samplers only (no closed-form density);
//!   parameters are in the sampler code below.
//!
//! KL(p || q) = E_p[log p - log q] in nats, by Monte Carlo over true samples ([`kl_monte_carlo`],
//! with its standard error) or by quadrature on a grid ([`kl_grid`]).
use std::f64::consts::{PI, SQRT_2};

use rand::Rng;
use rand_distr::StandardNormal;
use tch::{Device, Kind, Tensor};

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::{CoreError, Result};

/// Default sizes of a toy split made by name (`registry::load`).
pub const DEFAULT_TRAIN: i64 = 20_000;
pub const DEFAULT_TEST: i64 = 5_000;

/// An isotropic Gaussian mixture in d dimensions.
#[derive(Clone, Debug)]
pub struct Mixture {
    pub weights: Vec<f64>,
    pub means: Vec<Vec<f64>>,
    pub stds: Vec<f64>,
}

impl Mixture {
    pub fn dim(&self) -> usize {
        self.means[0].len()
    }
    /// Samples `f32 [n, d]` with a Rust RNG seeded by `seed`.
    pub fn sample(&self, n: i64, seed: u64) -> Tensor {
        let mut rng = genzoo_core::seed::rng(seed, "toy-mixture", 0);
        let d = self.dim();
        let mut out = Vec::with_capacity(n as usize * d);
        for _ in 0..n {
            let mut u: f64 = rng.gen();
            let mut k = 0;
            while k + 1 < self.weights.len() && u >= self.weights[k] {
                u -= self.weights[k];
                k += 1;
            }
            for j in 0..d {
                let z: f64 = rng.sample(StandardNormal);
                out.push((self.means[k][j] + self.stds[k] * z) as f32);
            }
        }
        Tensor::from_slice(&out).reshape([n, d as i64])
    }
    /// `log p(x)` for `x [m, d]`: `f64 [m]`, by a log-sum-exp over components.
    pub fn log_prob(&self, x: &Tensor) -> Tensor {
        let x = x.to_kind(Kind::Double);
        let d = self.dim() as f64;
        let comps: Vec<Tensor> = (0..self.weights.len())
            .map(|k| {
                let mu = Tensor::from_slice(&self.means[k]).to_device(x.device());
                let s2 = self.stds[k] * self.stds[k];
                let sq = (&x - mu).square().sum_dim_intlist(1, false, Kind::Double);
                sq * (-0.5 / s2) + (self.weights[k].ln() - 0.5 * d * (2.0 * PI * s2).ln())
            })
            .collect();
        Tensor::stack(&comps, 1).logsumexp(1, false)
    }
}

/// A density whose samples and log-density are known: what [`kl_monte_carlo`] and [`kl_grid`]
/// score a model against.
pub trait TrueDensity {
    fn dim(&self) -> usize;
    /// Samples `f32 [n, d]`.
    fn sample(&self, n: i64, seed: u64) -> Tensor;
    /// `log p(x)`, `f64 [m]` (`-inf` where p = 0).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` is not `[m, d]` for this density's `d`, or
    /// [`CoreError::Invalid`] when the density has no closed form.
    fn log_prob(&self, x: &Tensor) -> Result<Tensor>;
    /// A box `[lo, hi]^d` holding all but a negligible part of the mass.
    fn bounds(&self) -> (f64, f64);
}

impl TrueDensity for Mixture {
    fn dim(&self) -> usize {
        Mixture::dim(self)
    }
    fn sample(&self, n: i64, seed: u64) -> Tensor {
        Mixture::sample(self, n, seed)
    }
    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        Ok(Mixture::log_prob(self, x))
    }
    fn bounds(&self) -> (f64, f64) {
        let lo = self
            .means
            .iter()
            .zip(&self.stds)
            .flat_map(|(m, s)| m.iter().map(move |v| v - 7.0 * s))
            .fold(f64::INFINITY, f64::min);
        let hi = self
            .means
            .iter()
            .zip(&self.stds)
            .flat_map(|(m, s)| m.iter().map(move |v| v + 7.0 * s))
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }
}

/// The toy data sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toy {
    EightGaussians,
    GridGaussians,
    TwoMoons,
    SwissRoll,
    Rings,
    Checkerboard,
    Pinwheel,
    Gmm1d,
}

impl Toy {
    pub const ALL: [Toy; 8] = [
        Toy::EightGaussians,
        Toy::GridGaussians,
        Toy::TwoMoons,
        Toy::SwissRoll,
        Toy::Rings,
        Toy::Checkerboard,
        Toy::Pinwheel,
        Toy::Gmm1d,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toy::EightGaussians => "eight-gaussians",
            Toy::GridGaussians => "grid-gaussians",
            Toy::TwoMoons => "two-moons",
            Toy::SwissRoll => "swiss-roll",
            Toy::Rings => "rings",
            Toy::Checkerboard => "checkerboard",
            Toy::Pinwheel => "pinwheel",
            Toy::Gmm1d => "gmm1d",
        }
    }

    /// The toy set with a closed-form density that `data` was drawn from, by its name
    /// (`eight-gaussians/test`) and dimension; `None` for any other data.
    pub fn of_dataset(data: &Dataset) -> Option<Toy> {
        if !data.kind.is_vector() {
            return None;
        }
        let base = data.name.split('/').next()?;
        Toy::from_name(base).filter(|t| t.has_density() && t.dim() as i64 == data.kind.dims())
    }

    /// By name, also the FFJORD names (`8gaussians`, `25gaussians`, `moons`, `2spirals` is not one).
    pub fn from_name(s: &str) -> Option<Toy> {
        let s = s.to_ascii_lowercase();
        Toy::ALL
            .iter()
            .copied()
            .find(|t| t.name() == s)
            .or(match s.as_str() {
                "8gaussians" => Some(Toy::EightGaussians),
                "25gaussians" | "grid" => Some(Toy::GridGaussians),
                "moons" => Some(Toy::TwoMoons),
                "swissroll" => Some(Toy::SwissRoll),
                "gmm-1d" | "mixture1d" => Some(Toy::Gmm1d),
                _ => None,
            })
    }

    pub fn dim(self) -> usize {
        if self == Toy::Gmm1d {
            1
        } else {
            2
        }
    }

    /// The mixture behind the Gaussian-mixture sets.
    pub fn mixture(self) -> Option<Mixture> {
        match self {
            Toy::EightGaussians => {
                let r = 2.0 * SQRT_2;
                Some(Mixture {
                    weights: vec![1.0 / 8.0; 8],
                    means: (0..8)
                        .map(|k| {
                            vec![
                                r * (k as f64 * PI / 4.0).cos(),
                                r * (k as f64 * PI / 4.0).sin(),
                            ]
                        })
                        .collect(),
                    stds: vec![0.5 / SQRT_2; 8],
                })
            }
            Toy::GridGaussians => Some(Mixture {
                weights: vec![1.0 / 25.0; 25],
                means: (0..25)
                    .map(|k| vec![(k / 5) as f64 - 2.0, (k % 5) as f64 - 2.0])
                    .collect(),
                stds: vec![0.15; 25],
            }),
            Toy::Gmm1d => Some(Mixture {
                weights: vec![0.3, 0.5, 0.2],
                means: vec![vec![-2.0], vec![0.5], vec![3.0]],
                stds: vec![0.6, 0.8, 0.5],
            }),
            _ => None,
        }
    }

    /// True when [`Toy::log_prob`] has a closed form.
    pub fn has_density(self) -> bool {
        self.mixture().is_some() || self == Toy::Checkerboard
    }

    /// Closed-form `log p(x)` for `x [m, d]` (`f64 [m]`), or an error for sets without one.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) when `x` is not `[m, dim]`; [`CoreError::Invalid`] for a set
    /// without a closed-form density (neither a Gaussian mixture nor the checkerboard).
    pub fn log_prob(self, x: &Tensor) -> Result<Tensor> {
        if x.dim() != 2 || x.size()[1] != self.dim() as i64 {
            return Err(CoreError::shape(
                "x",
                format!(
                    "{}: expected [m, {}], got {:?}",
                    self.name(),
                    self.dim(),
                    x.size()
                ),
            ));
        }
        if let Some(m) = self.mixture() {
            return Ok(m.log_prob(x));
        }
        if self == Toy::Checkerboard {
            let x = x.to_kind(Kind::Double);
            let inside = x.ge(-4.0).logical_and(&x.lt(4.0)).all_dim(1, false);
            let cell = ((x + 4.0) / 2.0)
                .floor()
                .sum_dim_intlist(1, false, Kind::Double); // i + j
            let black = cell.remainder(2.0).eq(0.0).logical_and(&inside);
            let lp = Tensor::full_like(&black.to_kind(Kind::Double), -(32f64.ln()));
            return Ok(lp.where_self(
                &black,
                &Tensor::from(f64::NEG_INFINITY).to_device(black.device()),
            ));
        }
        Err(CoreError::Invalid(format!(
            "toy set `{}` has no closed-form density",
            self.name()
        )))
    }

    /// Seeded samples, `f32 [n, d]`.
    pub fn sample(self, n: i64, seed: u64) -> Tensor {
        if let Some(m) = self.mixture() {
            return m.sample(n, seed);
        }
        let mut rng = genzoo_core::seed::rng(seed, self.name(), 0);
        let normal = |r: &mut rand_chacha::ChaCha8Rng| -> f64 { r.sample(StandardNormal) };
        let mut out = Vec::with_capacity(2 * n as usize);
        for _ in 0..n {
            let (a, b) = match self {
                Toy::TwoMoons => {
                    // sklearn's make_moons with noise 0.1, centred and scaled by 2.
                    let t = rng.gen::<f64>() * PI;
                    let (x, y) = if rng.gen::<bool>() {
                        (t.cos(), t.sin())
                    } else {
                        (1.0 - t.cos(), 0.5 - t.sin())
                    };
                    (
                        2.0 * (x - 0.5 + 0.1 * normal(&mut rng)),
                        2.0 * (y - 0.25 + 0.1 * normal(&mut rng)),
                    )
                }
                Toy::SwissRoll => {
                    // sklearn's make_swiss_roll (x, z) with noise 1.0, divided by 5 (FFJORD).
                    let t = 1.5 * PI * (1.0 + 2.0 * rng.gen::<f64>());
                    (
                        (t * t.cos() + normal(&mut rng)) / 5.0,
                        (t * t.sin() + normal(&mut rng)) / 5.0,
                    )
                }
                Toy::Rings => {
                    // Four concentric rings, radii 0.75, 1.5, 2.25, 3, Gaussian noise 0.08.
                    let r = 0.75 * (1 + rng.gen_range(0..4)) as f64;
                    let a = rng.gen::<f64>() * 2.0 * PI;
                    (
                        r * a.cos() + 0.08 * normal(&mut rng),
                        r * a.sin() + 0.08 * normal(&mut rng),
                    )
                }
                Toy::Checkerboard => {
                    let k = rng.gen_range(0..8);
                    let i = k / 2;
                    let j = 2 * (k % 2) + (i % 2); // i + j even
                    (
                        -4.0 + 2.0 * (i as f64 + rng.gen::<f64>()),
                        -4.0 + 2.0 * (j as f64 + rng.gen::<f64>()),
                    )
                }
                Toy::Pinwheel => {
                    // FFJORD's pinwheel: 5 arms, radial std 0.3, tangential std 0.1, rate 0.25, x2.
                    let arm = rng.gen_range(0..5) as f64 * 2.0 * PI / 5.0;
                    let f0 = 0.3 * normal(&mut rng) + 1.0;
                    let f1 = 0.1 * normal(&mut rng);
                    let ang = arm + 0.25 * f0.exp();
                    (
                        2.0 * (f0 * ang.cos() - f1 * ang.sin()),
                        2.0 * (f0 * ang.sin() + f1 * ang.cos()),
                    )
                }
                _ => unreachable!("mixtures are sampled above"),
            };
            out.push(a as f32);
            out.push(b as f32);
        }
        Tensor::from_slice(&out).reshape([n, 2])
    }

    /// A box `[lo, hi]^d` holding the data (for grids and plots).
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Toy::Gmm1d => (-6.0, 7.0),
            Toy::EightGaussians => (-5.5, 5.5),
            Toy::GridGaussians => (-3.5, 3.5),
            _ => (-4.0, 4.0),
        }
    }

    /// A train/test split of seeded samples (test drawn from an independent stream).
    ///
    /// # Example
    /// ```
    /// use genzoo_data::toy::Toy;
    /// let a = Toy::EightGaussians.split(1000, 200, 7);
    /// assert_eq!(a.train.x.size(), [1000, 2]);
    /// assert_eq!(a.test.x.size(), [200, 2]);
    /// // seeded: the same seed draws the same points, another seed others
    /// assert!(a.train.x.equal(&Toy::EightGaussians.split(1000, 200, 7).train.x));
    /// assert!(!a.train.x.equal(&Toy::EightGaussians.split(1000, 200, 8).train.x));
    /// // the eight modes lie on the circle of radius 2 sqrt 2 (standard deviation 0.5 / sqrt 2)
    /// let r = a.train.x.square().sum_dim_intlist(1, false, tch::Kind::Double).sqrt();
    /// assert!((r.mean(tch::Kind::Double).double_value(&[]) - 8f64.sqrt()).abs() < 0.1);
    /// ```
    pub fn split(self, n_train: i64, n_test: i64, seed: u64) -> Split {
        let kind = DataKind::Vector {
            dim: self.dim() as i64,
        };
        let make = |part: &str, n: i64, s: u64| Dataset {
            name: format!("{}/{part}", self.name()),
            kind,
            x: self.sample(n, s),
            y: None,
            num_classes: None,
        };
        Split {
            train: make(
                "train",
                n_train,
                genzoo_core::seed::derive(seed, "toy-train", 0),
            ),
            test: make(
                "test",
                n_test,
                genzoo_core::seed::derive(seed, "toy-test", 0),
            ),
        }
    }
}

impl TrueDensity for Toy {
    fn dim(&self) -> usize {
        Toy::dim(*self)
    }
    fn sample(&self, n: i64, seed: u64) -> Tensor {
        Toy::sample(*self, n, seed)
    }
    fn log_prob(&self, x: &Tensor) -> Result<Tensor> {
        Toy::log_prob(*self, x)
    }
    fn bounds(&self) -> (f64, f64) {
        Toy::bounds(*self)
    }
}

/// A KL(true || model) estimate in nats.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KlEstimate {
    pub nats: f64,
    /// Standard error (Monte Carlo only).
    pub std_err: Option<f64>,
    /// `monte-carlo` or `grid`.
    pub method: &'static str,
    /// Samples or grid points used.
    pub points: usize,
    /// Grid only: the true mass inside the grid (should be ~1).
    pub coverage: Option<f64>,
}

/// `model_log_prob` on `x` in chunks (`f32 [m, d]` in, `[m]` out), as `f64 [m]` on the CPU.
fn eval_model(
    model_log_prob: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    x: &Tensor,
) -> Result<Tensor> {
    let m = x.size()[0];
    let mut parts = Vec::new();
    let mut start = 0;
    while start < m {
        let len = 8192.min(m - start);
        let lq = model_log_prob(&x.narrow(0, start, len))?;
        if lq.size() != [len] {
            return Err(CoreError::shape(
                "model log_prob",
                format!("expected [{len}], got {:?}", lq.size()),
            ));
        }
        parts.push(lq.to_device(Device::Cpu).to_kind(Kind::Double));
        start += len;
    }
    Ok(Tensor::cat(&parts, 0))
}

/// KL(p || q) ≈ mean over n samples x ~ p of log p(x) - log q(x), with its standard error.
/// `model_log_prob` gets `f32 [m, d]` on the CPU. Infinite when q gives zero density to a sample.
///
/// # Errors
/// The error of `truth.log_prob` or of `model_log_prob`; [`CoreError::Shape`] (`model log_prob`)
/// when `model_log_prob` does not return `[m]` for `m` points; a libtorch error.
pub fn kl_monte_carlo(
    truth: &dyn TrueDensity,
    model_log_prob: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    n: i64,
    seed: u64,
) -> Result<KlEstimate> {
    let x = truth.sample(n, seed);
    let lp = truth.log_prob(&x)?.to_device(Device::Cpu);
    let lq = eval_model(model_log_prob, &x)?;
    let d = lp - lq;
    let v: Vec<f64> = Vec::try_from(&d)?;
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n as f64 - 1.0).max(1.0);
    Ok(KlEstimate {
        nats: mean,
        std_err: Some((var / n as f64).sqrt()),
        method: "monte-carlo",
        points: n as usize,
        coverage: None,
    })
}

pub use genzoo_core::data::grid::grid;

/// KL(p || q) by quadrature: sum over the cells of a `res^d` grid on the truth's bounds of
/// p dV (log p - log q), cells with p = 0 contributing nothing. For d = 1 or 2.
///
/// # Errors
/// [`CoreError::Invalid`] when `truth` has more than 2 dimensions; the error of `truth.log_prob` or
/// of `model_log_prob`; [`CoreError::Shape`] (`model log_prob`) when `model_log_prob` does not
/// return `[m]` for `m` points.
pub fn kl_grid(
    truth: &dyn TrueDensity,
    model_log_prob: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    res: i64,
) -> Result<KlEstimate> {
    let d = truth.dim();
    if d > 2 {
        return Err(CoreError::Invalid(format!(
            "kl_grid needs 1 or 2 dimensions, got {d}"
        )));
    }
    let (lo, hi) = truth.bounds();
    let (x, dv) = grid(lo, hi, res, d);
    let lp = truth.log_prob(&x)?.to_device(Device::Cpu);
    let lq = eval_model(model_log_prob, &x)?;
    let mass = lp.exp() * dv;
    let pos = mass.gt(0.0);
    let terms = (&mass * (&lp - &lq)).where_self(&pos, &Tensor::from(0.0f64));
    Ok(KlEstimate {
        nats: terms.sum(Kind::Double).double_value(&[]),
        std_err: None,
        method: "grid",
        points: x.size()[0] as usize,
        coverage: Some(mass.sum(Kind::Double).double_value(&[])),
    })
}

#[cfg(test)]
#[path = "toy_tests.rs"]
mod tests;
