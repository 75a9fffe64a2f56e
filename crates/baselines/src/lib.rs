//! Classical baselines that open every comparison table (lecture notes; Bishop, *Pattern
//! Recognition and Machine Learning*, 2006, ch. 2.3, 9 and 12):
//!
//! * [`gaussian::Gaussian`]: one full-covariance Gaussian, fitted by maximum likelihood.
//! * [`gmm::Gmm`]: a Gaussian mixture (diagonal or full covariances) fitted by EM, k-means++ init.
//! * [`kmeans::KMeans`]: k-means (Lloyd) with k-means++ seeding. It defines no density.
//! * [`pca::Pca`] and [`pca::Ppca`]: PCA, and probabilistic PCA (Tipping & Bishop 1999) with its
//!   closed-form maximum-likelihood solution and closed-form log-likelihood.
//!
//! Every baseline implements [`Baseline`]: `fit` on `[n, d]` data, `log_prob` in nats per example
//! (`f64 [n]`), seeded `sample` (`f32 [n, d]`) and `num_params`, the same `log_prob` / `sample`
//! contract as the deep models. All math runs in `f64` with torch's linear algebra (Cholesky,
//! `eigh`, triangular solves), batched over examples, on the device of the input.
//!
//! **Ridge regularization.** Sample covariances of image data are singular or nearly so (MNIST
//! has pixels that are zero in every image; a mixture component with fewer examples than
//! dimensions has a rank-deficient scatter matrix). Each covariance estimate therefore adds a
//! small ridge to its diagonal (`ridge` in every config); the exact form used by each model is
//! documented on its config. On dequantized 8-bit data (what [`evaluate`] fits) every pixel has
//! variance at least `1/(12 * 256^2) ~ 1.3e-6`, so singularity is no longer exact, but with 784
//! dimensions and 9,000 examples the ridge also acts as shrinkage against over-fitting: the
//! `default` presets use ridges chosen on a held-out part of `mnist10k/train` (numbers in each
//! preset's docs); `tiny` presets use small guard values.
//!
//! [`evaluate`] is the library side of `cargo xtask compare`: fit on the train split, score the
//! test split, and say what the number is (see its docs).
mod baseline;
mod catalogue;
mod evaluate;
pub mod gaussian;
pub mod gmm;
pub mod kmeans;
mod linalg;
mod model;
pub mod pca;

pub use baseline::{Baseline, FitStats};
pub use catalogue::{build, registry};
pub use evaluate::{evaluate, evaluate_against, samples_as_data, BaselineResult};
pub(crate) use evaluate::{likelihood_of, nll_nats, prepare, score};
pub use gaussian::{Gaussian, GaussianConfig};
pub use gmm::{CovarianceType, Gmm, GmmConfig};
pub use kmeans::{KMeans, KMeansConfig};
pub(crate) use linalg::*;
pub use model::BaselineModel;
pub use pca::{Pca, Ppca, PpcaConfig};

/// `ln(2 pi)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_5;

#[cfg(test)]
mod tests;
