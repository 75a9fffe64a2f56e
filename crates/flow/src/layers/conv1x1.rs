//! Invertible 1x1 convolution (Glow, Kingma & Dhariwal 2018, sec. 3.2): `y = W x` at every pixel,
//! `log|det| = h w log|det W|`. Plain (W a free `[c, c]` matrix, started at a random rotation) or
//! LU-decomposed (eq. 10): `W = P L (U + diag(sign(s) exp(log|s|)))` with P fixed, L unit lower
//! triangular and U strictly upper triangular, so that `log|det W| = sum log|s|` costs O(c).
//! Also works on vectors `[b, c]` (a learned invertible linear map).
use tch::{nn, Device, Kind, Tensor};

use crate::bijector::{Bijector, Ctx};
use genzoo_core::{CoreError, Result};

/// Plain or LU-parameterized.
#[derive(Debug)]
pub enum Conv1x1 {
    Plain {
        w: Tensor,
        c: i64,
    },
    Lu {
        p: Tensor,
        l: Tensor,
        u: Tensor,
        log_s: Tensor,
        sign_s: Tensor,
        l_mask: Tensor,
        c: i64,
    },
}

impl Conv1x1 {
    /// A `c x c` invertible 1x1 convolution started at a random rotation drawn from torch's
    /// generator.
    pub fn new(path: &nn::Path, c: i64, lu: bool) -> Self {
        let dev = path.device();
        let a = Tensor::randn([c, c], (Kind::Double, Device::Cpu));
        let (q, _) = Tensor::linalg_qr(&a, "reduced");
        if !lu {
            return Conv1x1::Plain {
                w: path.var_copy("w", &q.to_kind(Kind::Float).to_device(dev)),
                c,
            };
        }
        let (p, l, u) = Tensor::linalg_lu(&q, true);
        let s = u.diagonal(0, 0, 1);
        let f = |t: &Tensor| t.to_kind(Kind::Float).to_device(dev);
        let l_mask = Tensor::ones([c, c], (Kind::Float, dev)).tril(-1);
        Conv1x1::Lu {
            p: path.add("p", f(&p), false),
            l: path.var_copy("l", &f(&l.tril(-1))),
            u: path.var_copy("u", &f(&u.triu(1))),
            log_s: path.var_copy("log_s", &f(&s.abs().log())),
            sign_s: path.add("sign_s", f(&s.sign()), false),
            l_mask: path.add("l_mask", l_mask, false),
            c,
        }
    }

    fn c(&self) -> i64 {
        match self {
            Conv1x1::Plain { c, .. } | Conv1x1::Lu { c, .. } => *c,
        }
    }

    /// `(W, log|det W|)`.
    pub fn weight(&self) -> (Tensor, Tensor) {
        match self {
            Conv1x1::Plain { w, .. } => {
                let (_, logabs) = Tensor::linalg_slogdet(w);
                (w.shallow_clone(), logabs)
            }
            Conv1x1::Lu {
                p,
                l,
                u,
                log_s,
                sign_s,
                l_mask,
                c,
            } => {
                let eye = Tensor::eye(*c, (l.kind(), l.device()));
                let lower = l * l_mask + &eye;
                let upper =
                    (u * l_mask.transpose(0, 1)) + (sign_s * log_s.exp()).diag_embed(0, -2, -1);
                let w = p.to_kind(l.kind()).matmul(&lower).matmul(&upper);
                (w, log_s.sum(log_s.kind()))
            }
        }
    }

    fn apply_w(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        Ok(if x.dim() == 4 {
            let c = w.size()[0];
            x.f_conv2d(
                &w.f_view([c, c, 1, 1])?,
                None::<Tensor>,
                [1, 1],
                [0, 0],
                [1, 1],
                1,
            )?
        } else {
            x.f_matmul(&w.f_transpose(0, 1)?)?
        })
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let c = self.c();
        if !(x.dim() == 2 || x.dim() == 4) || x.size()[1] != c {
            return Err(CoreError::shape(
                "conv1x1 input",
                format!("expected [b, {c}(, h, w)], got {:?}", x.size()),
            ));
        }
        Ok(())
    }
}

fn hw(x: &Tensor) -> f64 {
    x.size().iter().skip(2).product::<i64>() as f64
}

impl Bijector for Conv1x1 {
    fn forward(&self, x: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.check(x)?;
        let (w, logabs) = self.weight();
        let y = Self::apply_w(x, &w.f_to_kind(x.kind())?)?;
        let ld = logabs
            .f_to_kind(x.kind())?
            .f_mul_scalar(hw(x))?
            .f_expand([x.size()[0]], false)?;
        Ok((y, ld))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.check(z)?;
        let (w, logabs) = self.weight();
        let w_inv = w
            .f_to_kind(Kind::Double)?
            .f_inverse()
            .map_err(|e| CoreError::model("conv1x1", format!("cannot invert the weight: {e}")))?
            .f_to_kind(z.kind())?;
        let x = Self::apply_w(z, &w_inv)?;
        let ld = logabs
            .f_to_kind(z.kind())?
            .f_mul_scalar(-hw(z))?
            .f_expand([z.size()[0]], false)?;
        Ok((x, ld))
    }
    fn name(&self) -> &str {
        "conv1x1"
    }
}
