//! Spectral normalization (Miyato et al. 2018, "Spectral Normalization for Generative
//! Adversarial Networks", eq. 8 and Algorithm 1): a weight `W` is used as `W / sigma(W)`, with its
//! largest singular value `sigma` estimated by power iteration on `W` reshaped to
//! `[out, in * kh * kw]`, one iteration per training forward pass, the vector `u` kept between
//! steps (and in checkpoints, as the untrained variable `sn_u`). Gradients flow through
//! `sigma(W) = u^T W v` with `u` and `v` held constant, as in the paper.
use tch::{nn, Kind, Tensor};

use genzoo_core::Result;

/// The power-iteration state of one weight.
#[derive(Debug)]
pub struct SpectralNorm {
    /// The left singular vector estimate `[out]` (untrained).
    pub u: Tensor,
}

/// `v / max(|v|, 1e-12)`.
fn normalize(v: &Tensor) -> Result<Tensor> {
    let n = v.f_norm()?.f_clamp_min(1e-12)?;
    Ok(v.f_div(&n)?)
}

impl SpectralNorm {
    /// A unit random `u` of `out` entries (from torch's generator) under `p / "sn_u"`.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn new(p: &nn::Path, out: i64) -> Result<Self> {
        let u = p.zeros_no_train("sn_u", &[out]);
        tch::no_grad(|| -> Result<()> {
            let r = normalize(&Tensor::f_randn([out], (Kind::Float, p.device()))?)?;
            u.shallow_clone().f_copy_(&r)?;
            Ok(())
        })?;
        Ok(SpectralNorm { u })
    }

    /// `W / sigma(W)` for a weight `[out, ...]`. With `train`, `iters` power iterations first
    /// update `u` in place (1 in training, as Miyato et al.); without, `u` is used as it is.
    ///
    /// # Errors
    /// A libtorch error (a weight whose first dimension is not `u`'s).
    pub fn weight(&self, w: &Tensor, train: bool, iters: usize) -> Result<Tensor> {
        let m = w.f_reshape([w.size()[0], -1])?;
        // `u` and `v` are copies: the stored `u` changes in place at the next training forward,
        // while this graph may still need them (two passes of one step, as PyTorch's clones).
        let (u, v) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
            let md = m.detach();
            let mut u = self.u.shallow_clone();
            let mut v = normalize(&md.f_tr()?.f_mv(&u)?)?;
            if train {
                for _ in 0..iters {
                    u = normalize(&md.f_mv(&v)?)?;
                    v = normalize(&md.f_tr()?.f_mv(&u)?)?;
                }
                self.u.shallow_clone().f_copy_(&u)?;
            }
            Ok((u.copy(), v))
        })?;
        let sigma = u.f_dot(&m.f_mv(&v)?)?;
        Ok(w.f_div(&sigma)?)
    }
}

/// A linear layer, spectrally normalized when it has a [`SpectralNorm`].
#[derive(Debug)]
pub struct Linear {
    pub lin: nn::Linear,
    pub sn: Option<SpectralNorm>,
}

impl Linear {
    /// `nn::linear` under `p` (`p / "weight"`, `p / "bias"`, and `p / "sn_u"` with `sn`).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn new(p: nn::Path, i: i64, o: i64, cfg: nn::LinearConfig, sn: bool) -> Result<Self> {
        let sn = if sn {
            Some(SpectralNorm::new(&p, o)?)
        } else {
            None
        };
        Ok(Linear {
            lin: nn::linear(p, i, o, cfg),
            sn,
        })
    }

    /// `[b, in]` to `[b, out]`.
    ///
    /// # Errors
    /// A libtorch error (an input of another width).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let w = match &self.sn {
            Some(sn) => sn.weight(&self.lin.ws, train, 1)?,
            None => self.lin.ws.shallow_clone(),
        };
        Ok(x.f_linear(&w, self.lin.bs.as_ref())?)
    }
}
