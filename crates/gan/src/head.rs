//! The discriminator's head, shared by every model of the family: from the body's last hidden
//! features `f [b, k]` to one output per example, with the batch-level features that let a
//! discriminator see a collapsed generator (a batch of near-identical samples):
//!
//! * minibatch discrimination (Salimans et al. 2016, sec. 3.2): `M = f T`, `T [k, B C]`; for each
//!   of `B` kernels, `o_b(x_i) = mean_{j != i} exp(-|M_{i,b} - M_{j,b}|_1)` (the paper sums over
//!   `j`; the mean keeps the feature's scale the same for any batch size);
//! * minibatch standard deviation (Karras et al. 2018, sec. 3): the standard deviation of each
//!   feature over the batch, averaged, appended as one more feature (here on the flattened
//!   features rather than as an extra map).
//!
//! Then one linear output layer (spectrally normalized with the other weights when asked).
use tch::{nn, Kind, Tensor};

use crate::spectral_norm::Linear;
use crate::tricks::Tricks;
use genzoo_core::{CoreError, Result};

/// Minibatch discrimination's kernel tensor `T [k, B C]`, weight `mbd_t` under the head's path.
#[derive(Debug)]
pub struct MinibatchDiscrimination {
    pub t: Tensor,
    pub kernels: i64,
    pub dims: i64,
}

impl MinibatchDiscrimination {
    /// `T` from N(0, 1/k) for `k` input features, `kernels` = B, `dims` = C.
    pub fn new(p: &nn::Path, k: i64, kernels: i64, dims: i64) -> Self {
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: 1.0 / (k.max(1) as f64).sqrt(),
        };
        MinibatchDiscrimination {
            t: p.var("mbd_t", &[k, kernels * dims], init),
            kernels,
            dims,
        }
    }

    /// `o [b, B]` for features `[b, k]` (zeros for a batch of one).
    ///
    /// # Errors
    /// A libtorch error (features of another width).
    pub fn forward(&self, f: &Tensor) -> Result<Tensor> {
        let b = f.size()[0];
        let m = f
            .f_matmul(&self.t)?
            .f_reshape([b, self.kernels, self.dims])?;
        // |M_i - M_j|_1 per kernel: [b, b, B]
        let l1 = m
            .f_unsqueeze(1)?
            .f_sub(&m.f_unsqueeze(0)?)?
            .f_abs()?
            .f_sum_dim_intlist([3i64].as_slice(), false, Kind::Float)?;
        // Each example's closeness to itself (exp 0 = 1) is left out.
        let total = l1
            .f_neg()?
            .f_exp()?
            .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?
            .f_sub_scalar(1.0)?;
        Ok(total.f_div_scalar((b - 1).max(1) as f64)?)
    }
}

/// The mean over features of each feature's standard deviation over the batch, `[b, 1]`
/// (Karras et al. 2018, sec. 3); zeros for a batch of one.
///
/// # Errors
/// A libtorch error.
pub fn minibatch_stddev(f: &Tensor) -> Result<Tensor> {
    let b = f.size()[0];
    let s = f
        .f_std_dim([0i64].as_slice(), false, false)?
        .f_mean(Kind::Float)?;
    Ok(s.f_expand([b, 1], false)?.f_contiguous()?)
}

/// The head: the batch features [`Tricks`] asks for, then the output layer.
#[derive(Debug)]
pub struct DiscHead {
    pub mbd: Option<MinibatchDiscrimination>,
    pub stddev: bool,
    pub out: Linear,
}

impl DiscHead {
    /// A head for `k` body features; the output layer is `p / out_name` (`fc`, or the MLP's
    /// next `fcN`), minibatch discrimination's tensor `p / "mbd_t"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for `k` < 1; a libtorch error.
    pub fn new(
        p: &nn::Path,
        out_name: &str,
        k: i64,
        tricks: &Tricks,
        cfg: nn::LinearConfig,
    ) -> Result<Self> {
        if k < 1 {
            return Err(CoreError::config(
                "disc_hidden",
                "the discriminator needs at least one hidden feature",
            ));
        }
        let mbd = tricks
            .minibatch_discrimination
            .map(|[kernels, dims]| MinibatchDiscrimination::new(p, k, kernels, dims));
        let width = k + tricks.extra_features();
        Ok(DiscHead {
            mbd,
            stddev: tricks.minibatch_stddev,
            out: Linear::new(p / out_name, width, 1, cfg, tricks.spectral_norm)?,
        })
    }

    /// Features `[b, k]` to outputs `[b]`.
    ///
    /// # Errors
    /// A libtorch error (features of another width).
    pub fn forward(&self, f: &Tensor, train: bool) -> Result<Tensor> {
        let b = f.size()[0];
        let mut parts = vec![f.shallow_clone()];
        if let Some(m) = &self.mbd {
            parts.push(m.forward(f)?);
        }
        if self.stddev {
            parts.push(minibatch_stddev(f)?);
        }
        let h = if parts.len() == 1 {
            f.shallow_clone()
        } else {
            Tensor::f_cat(&parts, 1)?
        };
        Ok(self.out.forward(&h, train)?.f_reshape([b])?)
    }

    /// Every trainable tensor.
    pub fn params(&self) -> Vec<Tensor> {
        let mut v = layer_params(&self.out.lin.ws, self.out.lin.bs.as_ref());
        v.extend(self.mbd.iter().map(|m| m.t.shallow_clone()));
        v
    }
}

/// The weight and (when present) bias of a linear or convolution layer.
pub fn layer_params(ws: &Tensor, bs: Option<&Tensor>) -> Vec<Tensor> {
    std::iter::once(ws)
        .chain(bs)
        .map(Tensor::shallow_clone)
        .collect()
}
