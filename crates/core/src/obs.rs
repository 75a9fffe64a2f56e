//! Observation models: the per-pixel output distributions of the autoencoder family's decoders
//! p(x|z) and of the autoregressive family's conditionals p(x_i|x_<i), and the preparation of
//! stored data (`u8` images, `f32` vectors) into what the networks consume. One module for both
//! families, so that their NLLs are computed on the same (statically binarized) data.
//!
//! * Bernoulli over binarized pixels (Kingma & Welling 2014, appendix C.1): dynamic binarization
//!   in training, a fixed seeded static binarization of the test set in evaluation; nats.
//! * 256-way categorical over 8-bit grey levels (van den Oord et al. 2016, sec. 5.3): a discrete
//!   mass, so `-log P(x|z)` needs no dequantization term; bits/dim.
//! * Discretized logistic (Salimans et al. 2017, sec. 2.1, one mixture component) over 8-bit
//!   levels: the logistic mass of each pixel's bin; bits/dim.
//! * Diagonal Gaussian (Kingma & Welling 2014, appendix C.2) for continuous vectors; nats.
//!
//! Decoder outputs are laid out `[n, P, ...shape]` with `P` = [`Likelihood::params`].
//! The log-probabilities come from `genzoo_core::dist`; the Bernoulli case of the training loss
//! uses libtorch's fused `binary_cross_entropy_with_logits`, which equals
//! `-dist::Bernoulli::log_prob` (tested in `tests::obs`).
use crate::data::{transforms, DataKind};
use crate::dist::{dmol, Categorical, DiagGaussian, DiscretizedLogisticMixture, Distribution};
use crate::units::NllUnit;
use crate::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// The decoder's observation model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Likelihood {
    /// Bernoulli for images, Gaussian for vectors (resolved when the model is built).
    Auto,
    Bernoulli,
    /// 256-way softmax per 8-bit value.
    Categorical,
    /// Discretized logistic per 8-bit value.
    Logistic,
    /// Diagonal Gaussian with learned per-dimension log-scale (continuous vectors).
    Gaussian,
}

/// How stored data is turned into model inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dynamic binarization with torch's global generator (reseeded by the trainer every step).
    Train,
    /// Deterministic: a static binarization with this seed (same for every batching).
    Eval { seed: u64 },
}

/// A batch ready for the model: `input` is what the encoder sees (`f32 [b, ...shape]`), `target`
/// what the decoder scores (binary `f32`, `i64` levels, or `f32` vectors).
#[derive(Debug)]
pub struct Prepared {
    pub input: Tensor,
    pub target: Tensor,
}

impl Likelihood {
    /// Resolves `Auto` and checks that the likelihood fits the data.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`likelihood`) for an 8-bit likelihood (Bernoulli, categorical,
    /// logistic) on continuous vectors.
    pub fn resolve(self, kind: &DataKind) -> Result<Likelihood> {
        let image = kind.is_image();
        match (self, image) {
            (Likelihood::Auto, true) => Ok(Likelihood::Bernoulli),
            (Likelihood::Auto, false) => Ok(Likelihood::Gaussian),
            (Likelihood::Gaussian, false) | (Likelihood::Gaussian, true) => {
                Ok(Likelihood::Gaussian)
            }
            (l, true) => Ok(l),
            (l, false) => Err(CoreError::config(
                "likelihood",
                format!(
                    "{l:?} needs 8-bit images, but the data are continuous vectors; use gaussian"
                ),
            )),
        }
    }

    /// Decoder outputs per data dimension.
    pub fn params(self) -> i64 {
        match self {
            Likelihood::Auto | Likelihood::Bernoulli => 1,
            Likelihood::Categorical => 256,
            Likelihood::Logistic | Likelihood::Gaussian => 2,
        }
    }

    /// The unit its NLL is reported in: nats for binarized and continuous data, bits/dim for
    /// 8-bit levels.
    pub fn unit(self) -> NllUnit {
        match self {
            Likelihood::Categorical | Likelihood::Logistic => NllUnit::BitsPerDim,
            _ => NllUnit::Nats,
        }
    }

    /// A description of the preprocessing for [`crate::model::EvalReport::data`].
    pub fn data_label(self, seed: u64) -> String {
        match self {
            Likelihood::Auto | Likelihood::Bernoulli => {
                format!("static binarization (Bernoulli draw of x/255), seed {seed}")
            }
            Likelihood::Categorical | Likelihood::Logistic => "8-bit levels".to_string(),
            Likelihood::Gaussian => "continuous".to_string(),
        }
    }

    /// Prepares a batch as stored (`u8 [b, c, h, w]` or `f32 [b, d]`). The static binarization
    /// treats `x` as examples `0..b` of its dataset: pass whole datasets in evaluation.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is not `u8` for the Bernoulli (`binarize input`) or the 8-bit
    /// likelihoods (`x`); a libtorch error (a Gaussian `x` that cannot be converted to `f32`).
    pub fn prepare(self, x: &Tensor, mode: Mode) -> Result<Prepared> {
        match self {
            Likelihood::Auto | Likelihood::Bernoulli => {
                let t = match mode {
                    Mode::Train => transforms::binarize_dynamic(x)?,
                    Mode::Eval { seed } => transforms::binarize_static(x, seed, 0)?,
                };
                Ok(Prepared {
                    input: t.shallow_clone(),
                    target: t,
                })
            }
            Likelihood::Categorical | Likelihood::Logistic => {
                if x.kind() != Kind::Uint8 {
                    return Err(CoreError::shape(
                        "x",
                        format!("8-bit likelihoods need u8 images, got {:?}", x.kind()),
                    ));
                }
                Ok(Prepared {
                    input: transforms::scale_unit(x),
                    target: x.f_to_kind(Kind::Int64)?,
                })
            }
            Likelihood::Gaussian => {
                let t = if x.kind() == Kind::Uint8 {
                    transforms::scale_unit(x)
                } else {
                    x.f_to_kind(Kind::Float)?
                };
                Ok(Prepared {
                    input: t.shallow_clone(),
                    target: t,
                })
            }
        }
    }

    /// `log p(target | params)` summed over each example's dimensions: params `[n, P, ...shape]`,
    /// target `[n, ...shape]` -> `[n]` in nats.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `target` does not broadcast against the decoded distribution or
    /// holds values outside its support (levels outside 0..256); a libtorch error when `params` is
    /// not `[n, P, ...]` with enough parameters per dimension.
    pub fn log_prob(self, params: &Tensor, target: &Tensor) -> Result<Tensor> {
        let n = params.size()[0];
        let lp = match self {
            Likelihood::Auto | Likelihood::Bernoulli => {
                let logits = params.f_select(1, 0)?;
                return Ok(logits
                    .f_binary_cross_entropy_with_logits(
                        target,
                        None::<Tensor>,
                        None::<Tensor>,
                        Reduction::None,
                    )?
                    .f_reshape([n, -1])?
                    .f_sum_dim_intlist(1, false, Kind::Float)?
                    .f_neg()?);
            }
            Likelihood::Categorical => {
                Categorical::with_class_dim(params, 1)?.f_log_prob(target)?
            }
            Likelihood::Logistic => {
                let (loc, log_scale) = (params.f_select(1, 0)?, params.f_select(1, 1)?);
                let x = dmol::levels_to_unit(target, 256, loc.kind())?;
                dmol::discretized_logistic_log_prob(&x, &loc, &log_scale, 256)?
            }
            Likelihood::Gaussian => {
                let (loc, log_scale) = (params.f_select(1, 0)?, params.f_select(1, 1)?);
                DiagGaussian::new(&loc, &log_scale.f_clamp(-7.0, 5.0)?)?.f_log_prob(target)?
            }
        };
        Ok(lp
            .f_reshape([n, -1])?
            .f_sum_dim_intlist(1, false, Kind::Float)?)
    }

    /// `log p(target | params)` for `k` decoded rows per example: params `[k * b, P, ...shape]`
    /// (row `i * b + j` belongs to example `j`), target `[b, ...shape]` -> `[k * b]` nats. Without
    /// gradient, the Bernoulli case broadcasts the target instead of copying it and computes
    /// `log sigmoid(y)`, `y = (2x - 1) l`, as `min(y, 0) - log(1 + exp(-|y|))` with vectorized
    /// `exp` and `log` (libtorch's `softplus`/`log1p` are several times slower on CPU; the
    /// rounding of `1 + u` costs at most 1e-7 nats per pixel): the importance-sampling hot path.
    ///
    /// # Errors
    /// As [`Likelihood::log_prob`]; a libtorch error when `params` does not hold `k * b` rows.
    pub fn log_prob_repeated(self, params: &Tensor, target: &Tensor, k: i64) -> Result<Tensor> {
        let b = target.size()[0];
        if matches!(self, Likelihood::Bernoulli | Likelihood::Auto) && !params.requires_grad() {
            let sign = target
                .f_reshape([1, b, -1])?
                .f_mul_scalar(2.0)?
                .f_sub_scalar(1.0)?;
            let y = params.f_reshape([k, b, -1])?.f_mul(&sign)?; // [k, b, D]
            let mut t = y.f_abs()?;
            let _ = t.f_neg_()?.f_exp_()?.f_add_scalar_(1.0)?.f_log_()?;
            let mut lp = y.f_clamp_max(0.0)?;
            let _ = lp.f_sub_(&t)?;
            return Ok(lp
                .f_sum_dim_intlist(2, false, Kind::Float)?
                .f_reshape([k * b])?);
        }
        self.log_prob(params, &expand_rows(target, k)?)
    }

    /// The mean of p(x|z) in data space: images `f32 [n, c, h, w]` in \[0,1\], vectors `[n, d]`.
    ///
    /// # Errors
    /// A libtorch error when `params` is not `[n, P, ...]` with the likelihood's P (256 for the
    /// categorical).
    pub fn mean(self, params: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Likelihood::Auto | Likelihood::Bernoulli => params.f_select(1, 0)?.f_sigmoid()?,
            Likelihood::Categorical => {
                let probs = params.f_softmax(1, Kind::Float)?;
                let mut shape = vec![1i64; params.dim()];
                shape[1] = 256;
                let levels = Tensor::f_arange(256, (Kind::Float, params.device()))?
                    .f_reshape(shape.as_slice())?;
                probs
                    .f_mul(&levels)?
                    .f_sum_dim_intlist(1, false, Kind::Float)?
                    .f_div_scalar(255.0)?
            }
            Likelihood::Logistic => params
                .f_select(1, 0)?
                .f_add_scalar(1.0)?
                .f_mul_scalar(0.5)?
                .f_clamp(0.0, 1.0)?,
            Likelihood::Gaussian => params.f_select(1, 0)?,
        })
    }

    /// A draw from p(x|z) in data space (same layout as [`Likelihood::mean`]).
    ///
    /// # Errors
    /// A libtorch error when `params` is not `[n, P, ...]` with the likelihood's P (a shape error
    /// for a categorical without a class dimension).
    pub fn sample(self, params: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Likelihood::Auto | Likelihood::Bernoulli => {
                params.f_select(1, 0)?.f_sigmoid()?.f_bernoulli()?
            }
            Likelihood::Categorical => {
                let c = Categorical::with_class_dim(params, 1)?;
                c.sample(&[]).f_to_kind(Kind::Float)?.f_div_scalar(255.0)?
            }
            Likelihood::Logistic => {
                let (loc, log_scale) = (
                    params.f_select(1, 0)?.f_unsqueeze(-1)?,
                    params.f_select(1, 1)?.f_unsqueeze(-1)?,
                );
                let d =
                    DiscretizedLogisticMixture::new(&loc.f_zeros_like()?, &loc, &log_scale, 256)?;
                d.sample(&[]).f_add_scalar(1.0)?.f_mul_scalar(0.5)?
            }
            Likelihood::Gaussian => {
                let (loc, log_scale) = (params.f_select(1, 0)?, params.f_select(1, 1)?);
                DiagGaussian::new(&loc, &log_scale.f_clamp(-7.0, 5.0)?)?.sample(&[])
            }
        })
    }
}

/// `x` repeated `k` times along the batch dimension (`[k * b, ...]`, block-major: rows
/// `j*b..(j+1)*b` are copy `j`); `x` itself when `k == 1`.
///
/// # Errors
/// A libtorch error when `x` is a scalar.
pub fn expand_rows(x: &Tensor, k: i64) -> Result<Tensor> {
    if k == 1 {
        return Ok(x.shallow_clone());
    }
    let mut reps = vec![1i64; x.dim()];
    reps[0] = k;
    Ok(x.f_repeat(reps.as_slice())?)
}
