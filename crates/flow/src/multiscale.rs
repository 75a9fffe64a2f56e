//! The multi-scale architecture (RealNVP, Dinh et al. 2017, sec. 3.6, eq. 16; Glow, Kingma &
//! Dhariwal 2018, fig. 2b): after the steps of each level but the last, half of the channels are
//! factored out (`[b, c, h, w] -> keep [b, c/2, h, w]`, out `[b, c/2, h, w]`) and go straight to
//! the latent. With `learned_split` (Glow) the factored-out half gets a Gaussian prior whose mean
//! and log-scale come from the kept half through a zero-initialized conv; it is folded into the
//! bijection as `eps = (z_out - mu(keep)) exp(-log sigma(keep))` (log-det `-sum log sigma`), so that
//! the whole body maps an image to a flat `[b, D]` latent with a standard prior.
use tch::{nn, Tensor};

use crate::bijector::{check_shape, sum_per_example, Bijector, Ctx, Sequential};
use genzoo_core::{CoreError, Result};

/// One level: its steps, the example shape after them, and whether half is factored out.
pub struct Level {
    pub steps: Sequential,
    /// `[c, h, w]` after the steps.
    pub shape: Vec<i64>,
    pub split: bool,
}

/// The multi-scale body: image `[b, c, h, w]` -> flat latent `[b, D]`.
pub struct MultiScale {
    levels: Vec<Level>,
    /// Glow's split priors, one per splitting level.
    priors: Vec<Option<nn::Conv2D>>,
    in_shape: Vec<i64>,
    /// Numel of each factored-out part, then of the final output.
    piece_sizes: Vec<i64>,
}

impl MultiScale {
    /// Builds the body for inputs of `in_shape` from `levels` (the last must not split).
    pub fn new(
        p: &nn::Path,
        in_shape: &[i64],
        levels: Vec<Level>,
        learned_split: bool,
    ) -> Result<Self> {
        if levels.last().is_some_and(|l| l.split) {
            return Err(CoreError::config(
                "multiscale",
                "the last level cannot factor out",
            ));
        }
        let mut priors = Vec::new();
        let mut piece_sizes = Vec::new();
        for (i, l) in levels.iter().enumerate() {
            let [c, h, w] = l.shape[..] else {
                return Err(CoreError::config(
                    "multiscale",
                    format!("level {i} shape {:?} is not [c, h, w]", l.shape),
                ));
            };
            if l.split {
                if c % 2 != 0 {
                    return Err(CoreError::config(
                        "multiscale",
                        format!("level {i} has {c} channels: cannot split in half"),
                    ));
                }
                piece_sizes.push(c / 2 * h * w);
                priors.push(learned_split.then(|| {
                    let cfg = nn::ConvConfig {
                        padding: 1,
                        ws_init: nn::Init::Const(0.0),
                        bs_init: nn::Init::Const(0.0),
                        ..Default::default()
                    };
                    nn::conv2d(p / format!("split{i}"), c / 2, c, 3, cfg)
                }));
            } else {
                priors.push(None);
            }
        }
        if let Some(l) = levels.last() {
            piece_sizes.push(l.shape.iter().product());
        }
        Ok(MultiScale {
            levels,
            priors,
            in_shape: in_shape.to_vec(),
            piece_sizes,
        })
    }

    /// Latent dimension D.
    pub fn dim(&self) -> i64 {
        self.piece_sizes.iter().sum()
    }

    /// The levels.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }
}

// `ld = ld + d` (not `+=`): layers may return expanded (stride-0) log-dets; no in-place ops.
#[allow(clippy::assign_op_pattern)]
impl Bijector for MultiScale {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut s = vec![0];
        s.extend(&self.in_shape);
        check_shape("multiscale input", x, &s)?;
        let b = x.size()[0];
        let mut h = x.shallow_clone();
        let mut ld = Tensor::zeros([b], (x.kind(), x.device()));
        let mut zs = Vec::new();
        for (l, prior) in self.levels.iter().zip(&self.priors) {
            let (y, d) = l.steps.forward(&h, ctx)?;
            ld = ld + d;
            if l.split {
                let v = y.chunk(2, 1);
                let mut out = v[1].shallow_clone();
                if let Some(conv) = prior {
                    let ms = v[0].apply(conv).chunk(2, 1);
                    out = (out - &ms[0]) * (-&ms[1]).exp();
                    ld = ld - sum_per_example(&ms[1]);
                }
                zs.push(out.reshape([b, -1]));
                h = v[0].shallow_clone();
            } else {
                h = y;
            }
        }
        zs.push(h.reshape([b, -1]));
        Ok((Tensor::cat(&zs, 1), ld))
    }

    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_shape("multiscale latent", z, &[0, self.dim()])?;
        let b = z.size()[0];
        let pieces = z.split_with_sizes(&self.piece_sizes, 1);
        let last = self
            .levels
            .last()
            .ok_or_else(|| CoreError::config("multiscale", "no levels"))?;
        let mut sh = vec![b];
        sh.extend(&last.shape);
        let mut h = pieces[pieces.len() - 1].reshape(sh.as_slice());
        let mut ld = Tensor::zeros([b], (z.kind(), z.device()));
        let mut k = pieces.len() - 1;
        for (l, prior) in self.levels.iter().zip(&self.priors).rev() {
            if l.split {
                k -= 1;
                let mut out = pieces[k].reshape(h.size());
                if let Some(conv) = prior {
                    let ms = h.apply(conv).chunk(2, 1);
                    out = out * ms[1].exp() + &ms[0];
                    ld = ld + sum_per_example(&ms[1]);
                }
                h = Tensor::cat(&[&h, &out], 1);
            }
            let (y, d) = l.steps.inverse(&h, ctx)?;
            ld = ld + d;
            h = y;
        }
        Ok((h, ld))
    }

    fn name(&self) -> &str {
        "multiscale"
    }
}
