//! Divergences and distances between distributions, each tested against a closed form or a
//! known value. Which function implements which equation:
//!
//! | function | equation | source |
//! |---|---|---|
//! | [`kl::kl_diag_gaussians`] | `KL(N(m1,s1^2) \|\| N(m2,s2^2)) = log(s2/s1) + (s1^2 + (m1-m2)^2)/(2 s2^2) - 1/2` | closed form |
//! | [`kl::kl_std_normal`] | `KL(N(m, e^lv) \|\| N(0,1)) = -(1 + lv - m^2 - e^lv)/2` | Kingma & Welling 2014, app. B |
//! | [`kl::kl_discrete`] | `KL(p \|\| q) = sum_k p_k log(p_k/q_k)` | definition |
//! | [`kl::kl_monte_carlo`] | `KL(p \|\| q) ~ mean_i [log p(x_i) - log q(x_i)]`, `x_i ~ p` | Monte Carlo |
//! | [`js::js_discrete`], [`js::js_monte_carlo`] | `JS = KL(p \|\| m)/2 + KL(q \|\| m)/2`, `m = (p+q)/2` | Lin 1991 |
//! | [`fdiv::FDivergence::f`] | generators f(u) | Nowozin et al. 2016, Table 1 |
//! | [`fdiv::FDivergence::conjugate`], [`fdiv::FDivergence::activation`] | f*(t), g_f(v) | Nowozin et al. 2016, Table 2 |
//! | [`fdiv::FDivergence::divergence_discrete`] | `D_f(P \|\| Q) = sum q f(p/q)` | Nowozin et al. 2016, eq. 1 |
//! | [`fdiv::FDivergence::f_prime`] | optimal critic `T* = f'(p/q)` | Nowozin et al. 2016, eq. 4 |
//! | [`fdiv::FDivergence::fgan_objective`] | `F = E_P[g_f(V)] - E_Q[f*(g_f(V))]` | Nowozin et al. 2016, eq. 6 |
//! | [`mmd::mmd2_unbiased`] | unbiased MMD^2 with a sum of RBF kernels | Gretton et al. 2012, Lemma 6 |
//! | [`wasserstein::wasserstein_1d`] | `W_p^p = int_0^1 \|F^-1(t) - G^-1(t)\|^p dt` (exact) | Villani 2009, Rem. 2.30 |
//! | [`wasserstein::sliced_wasserstein`] | `SW_p^p = E_theta W_p^p(theta.x, theta.y)` | Bonneel et al. 2015 |
//! | [`gan::optimal_discriminator`] | `D* = p_data / (p_data + p_g)` | Goodfellow et al. 2014, eq. 2 |
//! | [`gan::gan_value_from_logits`], [`gan::gan_value_on_grid`] | `V(D,G) = E_data log D + E_g log(1 - D)` | Goodfellow et al. 2014, eq. 1 |
//! | test `gan::tests::value_at_the_optimal_discriminator_is_2js_minus_log4` | `V(D*, G) = 2 JS - log 4` | Goodfellow et al. 2014, Thm. 1 |
//!
//! All functions take tch tensors of any floating kind and device and return
//! [`crate::Result`], with mismatched shapes reported as [`crate::CoreError::Shape`] naming the
//! tensor.
pub mod fdiv;
pub mod gan;
pub mod js;
pub mod kl;
pub mod mmd;
pub mod wasserstein;

pub use fdiv::FDivergence;
pub use gan::{
    gan_value_from_logits, gan_value_on_grid, optimal_discriminator, optimal_discriminator_logit,
};
pub use js::{js_discrete, js_monte_carlo};
pub use kl::{kl_diag_gaussians, kl_discrete, kl_monte_carlo, kl_std_normal, McEstimate};
pub use mmd::{median_bandwidth, mmd2_unbiased, rbf_kernel};
pub use wasserstein::{sliced_wasserstein, wasserstein1_1d, wasserstein_1d};
