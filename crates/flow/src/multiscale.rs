//! The multi-scale architecture (RealNVP, Dinh et al. 2017, sec. 3.6, eq. 16; Glow, Kingma &
//! Dhariwal 2018, fig. 2b): after the steps of each level but the last, half of the channels are
//! factored out (`[b, c, h, w] -> keep [b, c/2, h, w]`, out `[b, c/2, h, w]`) and go straight to
//! the latent. With `learned_split` (Glow) the factored-out half gets a Gaussian prior whose mean
//! and log-scale come from the kept half through a zero-initialized conv; it is folded into the
//! bijection as `eps = (z_out - mu(keep)) exp(-log sigma(keep))` (log-det `-sum log sigma`), so that
//! the whole body maps an image to a flat `[b, D]` latent with a standard prior.
use tch::{nn, Tensor};

use crate::bijector::{check_shape, sum_per_example, Bijector, Ctx, Sequential};
use crate::layers::nets::ConvLayer;
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
    priors: Vec<Option<ConvLayer>>,
    in_shape: Vec<i64>,
    /// Numel of each factored-out part, then of the final output.
    piece_sizes: Vec<i64>,
}

impl MultiScale {
    /// Builds the body for inputs of `in_shape` from `levels` (the last must not split).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the last level splits, a level's shape is not `[c, h, w]`, or
    /// a splitting level has an odd channel count.
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
                    ConvLayer::new(p / format!("split{i}"), c / 2, c, 3, cfg)
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

/// The two channel halves of `t` `[b, c, h, w]` (`c` even).
fn halves(name: &str, t: &Tensor) -> Result<(Tensor, Tensor)> {
    match t.f_chunk(2, 1)?.as_slice() {
        [a, b] => Ok((a.shallow_clone(), b.shallow_clone())),
        _ => Err(CoreError::shape(
            name,
            format!("cannot split {:?} into two channel halves", t.size()),
        )),
    }
}

// `ld = ld + d` (not `+=`): layers may return expanded (stride-0) log-dets; no in-place ops.
impl Bijector for MultiScale {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut s = vec![0];
        s.extend(&self.in_shape);
        check_shape("multiscale input", x, &s)?;
        let b = x.size()[0];
        let mut h = x.shallow_clone();
        let mut ld = Tensor::f_zeros([b], (x.kind(), x.device()))?;
        let mut zs = Vec::new();
        for (l, prior) in self.levels.iter().zip(&self.priors) {
            let (y, d) = l.steps.forward(&h, ctx)?;
            ld = ld.f_add(&d)?;
            if l.split {
                let (keep, mut out) = halves("multiscale level output", &y)?;
                if let Some(conv) = prior {
                    let (mu, log_sigma) = halves("split prior", &conv.forward(&keep)?)?;
                    out = out.f_sub(&mu)?.f_mul(&log_sigma.f_neg()?.f_exp()?)?;
                    ld = ld.f_sub(&sum_per_example(&log_sigma)?)?;
                }
                zs.push(out.f_reshape([b, -1])?);
                h = keep;
            } else {
                h = y;
            }
        }
        zs.push(h.f_reshape([b, -1])?);
        Ok((Tensor::f_cat(&zs, 1)?, ld))
    }

    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        check_shape("multiscale latent", z, &[0, self.dim()])?;
        let b = z.size()[0];
        let last = self
            .levels
            .last()
            .ok_or_else(|| CoreError::config("multiscale", "no levels"))?;
        let pieces = z.f_split_with_sizes(&self.piece_sizes, 1)?;
        let (top, outs) = pieces
            .split_last()
            .ok_or_else(|| CoreError::config("multiscale", "no latent pieces"))?;
        let mut sh = vec![b];
        sh.extend(&last.shape);
        let mut h = top.f_reshape(sh.as_slice())?;
        let mut ld = Tensor::f_zeros([b], (z.kind(), z.device()))?;
        // The factored-out pieces, last level first.
        let mut outs = outs.iter().rev();
        for (l, prior) in self.levels.iter().zip(&self.priors).rev() {
            if l.split {
                let piece = outs.next().ok_or_else(|| {
                    CoreError::config("multiscale", "fewer latent pieces than splits")
                })?;
                let mut out = piece.f_reshape(h.size())?;
                if let Some(conv) = prior {
                    let (mu, log_sigma) = halves("split prior", &conv.forward(&h)?)?;
                    out = out.f_mul(&log_sigma.f_exp()?)?.f_add(&mu)?;
                    ld = ld.f_add(&sum_per_example(&log_sigma)?)?;
                }
                h = Tensor::f_cat(&[&h, &out], 1)?;
            }
            let (y, d) = l.steps.inverse(&h, ctx)?;
            ld = ld.f_add(&d)?;
            h = y;
        }
        Ok((h, ld))
    }

    fn name(&self) -> &str {
        "multiscale"
    }
}
