//! The f-divergences of f-GAN (Nowozin, Cseke & Tomioka 2016): `D_f(P || Q) = int q(x) f(p(x) /
//! q(x)) dx` (eq. 1) for convex f with f(1) = 0, its variational lower bound
//! `D_f >= sup_T E_P[T(x)] - E_Q[f*(T(x))]` (eq. 3, tight at `T* = f'(p/q)`, eq. 4), and the
//! f-GAN objective `F = E_P[g_f(V(x))] - E_Q[f*(g_f(V(x)))]` (eq. 6), where the output activation
//! g_f maps the critic's raw output V into the domain of the convex conjugate
//! `f*(t) = sup_u (u t - f(u))`.
//!
//! Each divergence has four small pure functions: the generator f (Table 1), its derivative f'
//! (the optimal critic), the conjugate f* and the activation g_f (Table 2), plus the fused
//! `f*(g_f(v))`, which is what the objective needs and which is computed without the cancellation
//! of the composition (e.g. reverse KL: `-1 - log(exp(-v)) = v - 1`).
//!
//! | divergence            | f(u) (Table 1)                     | g_f(v) (Table 2)        | f*(t) (Table 2)       | dom f*      |
//! |-----------------------|------------------------------------|-------------------------|-----------------------|-------------|
//! | total variation       | `abs(u - 1) / 2`                   | `tanh(v) / 2`           | `t`                   | [-1/2, 1/2] |
//! | Kullback-Leibler      | `u log u`                          | `v`                     | `exp(t - 1)`          | R           |
//! | reverse KL            | `-log u`                           | `-exp(-v)`              | `-1 - log(-t)`        | t < 0       |
//! | Pearson chi^2         | `(u - 1)^2`                        | `v`                     | `t^2/4 + t`           | R           |
//! | squared Hellinger     | `(sqrt(u) - 1)^2`                  | `1 - exp(-v)`           | `t / (1 - t)`         | t < 1       |
//! | Jensen-Shannon        | `-(u+1) log((1+u)/2) + u log u`    | `log 2 - log(1+exp(-v))`| `-log(2 - exp(t))`    | t < log 2   |
//!
//! Note on Jensen-Shannon: with Table 1's generator, `D_f = 2 JS` (JS as in [`super::js`], with
//! its factor 1/2); the table's conjugate and activation belong to this generator.
use std::f64::consts::LN_2;

use tch::Tensor;

use crate::{CoreError, Result};

/// The f-divergences of f-GAN Table 1 implemented here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FDivergence {
    TotalVariation,
    KullbackLeibler,
    ReverseKl,
    PearsonChi2,
    SquaredHellinger,
    JensenShannon,
}

impl FDivergence {
    /// All six, in table order.
    pub const ALL: [FDivergence; 6] = [
        FDivergence::TotalVariation,
        FDivergence::KullbackLeibler,
        FDivergence::ReverseKl,
        FDivergence::PearsonChi2,
        FDivergence::SquaredHellinger,
        FDivergence::JensenShannon,
    ];

    /// The generator f(u), u > 0 (Table 1).
    ///
    /// # Errors
    /// A libtorch error (e.g. a non-floating `u`).
    pub fn f(self, u: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::TotalVariation => u.f_sub_scalar(1.0)?.f_abs()?.f_mul_scalar(0.5)?,
            Self::KullbackLeibler => u.f_xlogy(u)?,
            Self::ReverseKl => u.f_log()?.f_neg()?,
            Self::PearsonChi2 => u.f_sub_scalar(1.0)?.f_square()?,
            Self::SquaredHellinger => u.f_sqrt()?.f_sub_scalar(1.0)?.f_square()?,
            Self::JensenShannon => {
                let up1 = u.f_add_scalar(1.0)?;
                u.f_xlogy(u)?
                    .f_sub(&up1.f_mul(&up1.f_mul_scalar(0.5)?.f_log()?)?)?
            }
        })
    }

    /// The derivative f'(u): the optimal critic `T*(x) = f'(p(x)/q(x))` (eq. 4).
    ///
    /// # Errors
    /// A libtorch error (e.g. a non-floating `u`).
    pub fn f_prime(self, u: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::TotalVariation => u.f_sub_scalar(1.0)?.f_sign()?.f_mul_scalar(0.5)?,
            Self::KullbackLeibler => u.f_log()?.f_add_scalar(1.0)?,
            Self::ReverseKl => u.f_reciprocal()?.f_neg()?,
            Self::PearsonChi2 => u.f_sub_scalar(1.0)?.f_mul_scalar(2.0)?,
            Self::SquaredHellinger => u.f_rsqrt()?.f_neg()?.f_add_scalar(1.0)?,
            Self::JensenShannon => u.f_mul_scalar(2.0)?.f_log()?.f_sub(&u.f_log1p()?)?,
        })
    }

    /// The convex conjugate f*(t) on its domain (Table 2); NaN or +inf outside it.
    ///
    /// # Errors
    /// A libtorch error (e.g. a non-floating `t`).
    pub fn conjugate(self, t: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::TotalVariation => t.shallow_clone(),
            Self::KullbackLeibler => t.f_sub_scalar(1.0)?.f_exp()?,
            Self::ReverseKl => t.f_neg()?.f_log()?.f_neg()?.f_sub_scalar(1.0)?,
            Self::PearsonChi2 => t.f_square()?.f_mul_scalar(0.25)?.f_add(t)?,
            Self::SquaredHellinger => t.f_div(&t.f_neg()?.f_add_scalar(1.0)?)?,
            Self::JensenShannon => t.f_exp()?.f_neg()?.f_add_scalar(2.0)?.f_log()?.f_neg()?,
        })
    }

    /// The output activation g_f(v), mapping R into dom f* (Table 2).
    ///
    /// # Errors
    /// A libtorch error (e.g. a non-floating `v`).
    pub fn activation(self, v: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::TotalVariation => v.f_tanh()?.f_mul_scalar(0.5)?,
            Self::KullbackLeibler | Self::PearsonChi2 => v.shallow_clone(),
            Self::ReverseKl => v.f_neg()?.f_exp()?.f_neg()?,
            Self::SquaredHellinger => v.f_neg()?.f_exp()?.f_neg()?.f_add_scalar(1.0)?,
            Self::JensenShannon => v.f_neg()?.f_softplus()?.f_neg()?.f_add_scalar(LN_2)?,
        })
    }

    /// `f*(g_f(v))` in closed form, stable for any v.
    ///
    /// # Errors
    /// A libtorch error (e.g. a non-floating `v`).
    pub fn conjugate_of_activation(self, v: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::TotalVariation => v.f_tanh()?.f_mul_scalar(0.5)?,
            Self::KullbackLeibler => v.f_sub_scalar(1.0)?.f_exp()?,
            Self::ReverseKl => v.f_sub_scalar(1.0)?,
            Self::PearsonChi2 => v.f_square()?.f_mul_scalar(0.25)?.f_add(v)?,
            Self::SquaredHellinger => v.f_expm1()?,
            Self::JensenShannon => v.f_softplus()?.f_sub_scalar(LN_2)?,
        })
    }

    /// The domain of f* as `(lo, hi, hi_included)` (lo is -inf or included).
    pub fn conjugate_domain(self) -> (f64, f64, bool) {
        match self {
            Self::TotalVariation => (-0.5, 0.5, true),
            Self::KullbackLeibler | Self::PearsonChi2 => (f64::NEG_INFINITY, f64::INFINITY, false),
            Self::ReverseKl => (f64::NEG_INFINITY, 0.0, false),
            Self::SquaredHellinger => (f64::NEG_INFINITY, 1.0, false),
            Self::JensenShannon => (f64::NEG_INFINITY, LN_2, false),
        }
    }

    /// `D_f(P || Q) = sum_k q_k f(p_k / q_k)` over dimension `dim` of mass vectors (q_k > 0).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`q`) when `q` differs in shape from `p`; a libtorch error (e.g. `dim`
    /// out of range).
    pub fn divergence_discrete(self, p: &Tensor, q: &Tensor, dim: i64) -> Result<Tensor> {
        if p.size() != q.size() {
            return Err(CoreError::shape(
                "q",
                format!("shape {:?} differs from p {:?}", q.size(), p.size()),
            ));
        }
        let t = q.f_mul(&self.f(&p.f_div(q)?)?)?;
        Ok(t.f_sum_dim_intlist(dim, false, t.kind())?)
    }

    /// The f-GAN objective (eq. 6) from critic outputs on data `v_real [n]` and on generated
    /// samples `v_fake [m]`: `mean g_f(v_real) - mean f*(g_f(v_fake))`, a lower bound on
    /// `D_f(P || Q)` that the critic maximizes and the generator minimizes.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`v_real/v_fake`) when either tensor is empty; a libtorch error.
    pub fn fgan_objective(self, v_real: &Tensor, v_fake: &Tensor) -> Result<Tensor> {
        if v_real.numel() == 0 || v_fake.numel() == 0 {
            return Err(CoreError::shape(
                "v_real/v_fake",
                "critic outputs must be non-empty",
            ));
        }
        let a = self.activation(v_real)?;
        let b = self.conjugate_of_activation(v_fake)?;
        Ok(a.f_mean(a.kind())?.f_sub(&b.f_mean(b.kind())?)?)
    }
}

#[cfg(test)]
#[path = "fdiv_tests.rs"]
mod tests;
