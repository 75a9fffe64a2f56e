//! Masked ("causal") 2-D convolutions of the PixelCNN family (van den Oord et al. 2016, "Pixel
//! Recurrent Neural Networks", sec. 3.4 and fig. 2-4).
//!
//! A [`MaskedConv2d`] is a convolution whose output at a pixel depends only on the input at
//! earlier pixels in raster order. Its kernel is `kh x kw` with an *anchor* `(ah, aw)`: the output
//! at `(i, j)` reads input rows `i - ah ..= i - ah + kh - 1` and columns `j - aw ..= j - aw + kw -
//! 1`, zero outside the image, so the output keeps the input's height and width. Kernel positions
//! after the anchor in raster order are masked to zero; at the anchor itself, channels are split
//! into `groups` colour groups (R, G, B for `groups = 3`, the channel masks of sec. 3.4) and input
//! group `g_in` reaches output group `g_out` when `g_in < g_out` (mask type A, the first layer: a
//! pixel never sees itself) or `g_in <= g_out` (type B, later layers). With no mask the
//! convolution is plain, with the same anchored padding (the vertical stack of Gated PixelCNN).
//!
//! The same weights serve the whole-image pass ([`MaskedConv2d::forward`]) and the cached,
//! one-position-at-a-time passes of fast sampling ([`MaskedConv2d::forward_valid`] on a window).
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use genzoo_core::{CoreError, Result};

/// PixelCNN's mask types (van den Oord et al. 2016, sec. 3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaskType {
    /// The first layer: the anchor pixel's own channel group (and later ones) are hidden.
    A,
    /// Later layers: the anchor pixel's own group and earlier ones are visible.
    B,
}

/// The shape of a masked convolution: channels, kernel, anchor, mask and colour groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub in_channels: i64,
    pub out_channels: i64,
    /// `(kh, kw)`.
    pub kernel: (i64, i64),
    /// `(ah, aw)`: the kernel position that sits over the output pixel.
    pub anchor: (i64, i64),
    /// `None`: a plain convolution with anchored padding.
    pub mask: Option<MaskType>,
    /// Colour groups of the channel masks (1 for grey or binary images, 3 for RGB).
    pub groups: i64,
}

impl ConvShape {
    /// A centred `k x k` PixelCNN convolution (anchor at the centre).
    pub fn centred(
        in_channels: i64,
        out_channels: i64,
        k: i64,
        mask: MaskType,
        groups: i64,
    ) -> Self {
        ConvShape {
            in_channels,
            out_channels,
            kernel: (k, k),
            anchor: (k / 2, k / 2),
            mask: Some(mask),
            groups,
        }
    }

    /// A 1x1 convolution with channel masks of type B (output layers of RGB models).
    pub fn pointwise(in_channels: i64, out_channels: i64, groups: i64) -> Self {
        ConvShape {
            in_channels,
            out_channels,
            kernel: (1, 1),
            anchor: (0, 0),
            mask: Some(MaskType::B),
            groups,
        }
    }

    fn check(&self) -> Result<()> {
        let (kh, kw) = self.kernel;
        let (ah, aw) = self.anchor;
        let bad = |what: String| Err(CoreError::config("masked_conv", what));
        if self.in_channels < 1 || self.out_channels < 1 || kh < 1 || kw < 1 {
            return bad(format!("channels and kernel must be >= 1, got {self:?}"));
        }
        if !(0..kh).contains(&ah) || !(0..kw).contains(&aw) {
            return bad(format!(
                "anchor {:?} outside kernel {:?}",
                self.anchor, self.kernel
            ));
        }
        if self.groups < 1 || self.in_channels % self.groups != 0 && self.in_channels > 1 {
            return bad(format!(
                "{} input channels do not split into {} colour groups",
                self.in_channels, self.groups
            ));
        }
        if self.out_channels % self.groups != 0 {
            return bad(format!(
                "{} output channels do not split into {} colour groups",
                self.out_channels, self.groups
            ));
        }
        Ok(())
    }

    /// Colour group of channel `c` of `n` channels: proportional split, so that the image's
    /// own channels (n = groups) are groups 0, 1, 2 and hidden channels come in equal blocks.
    fn group(c: i64, n: i64, groups: i64) -> i64 {
        c * groups / n
    }

    /// The 0/1 mask `f32 [out, in, kh, kw]`, all ones for an unmasked convolution.
    pub fn mask_values(&self) -> Vec<f32> {
        let (kh, kw) = self.kernel;
        let (ah, aw) = self.anchor;
        let (o, n) = (self.out_channels, self.in_channels);
        let mut m = Vec::with_capacity((o * n * kh * kw) as usize);
        for co in 0..o {
            let go = Self::group(co, o, self.groups);
            for ci in 0..n {
                let gi = Self::group(ci, n, self.groups);
                for r in 0..kh {
                    for c in 0..kw {
                        let open = match self.mask {
                            None => true,
                            Some(t) => match (r, c).cmp(&(ah, aw)) {
                                std::cmp::Ordering::Less => true,
                                std::cmp::Ordering::Greater => false,
                                std::cmp::Ordering::Equal => match t {
                                    MaskType::A => gi < go,
                                    MaskType::B => gi <= go,
                                },
                            },
                        };
                        m.push(if open { 1.0 } else { 0.0 });
                    }
                }
            }
        }
        m
    }

    /// Zero padding `[left, right, top, bottom]` that keeps height and width.
    pub fn padding(&self) -> [i64; 4] {
        let (kh, kw) = self.kernel;
        let (ah, aw) = self.anchor;
        [aw, kw - 1 - aw, ah, kh - 1 - ah]
    }
}

/// A convolution with a causal mask; weights `weight [out, in, kh, kw]` and `bias [out]` under
/// its path.
#[derive(Debug)]
pub struct MaskedConv2d {
    pub shape: ConvShape,
    pub weight: Tensor,
    pub bias: Tensor,
    mask: Option<Tensor>,
}

impl MaskedConv2d {
    /// Weights initialised as `nn::conv2d` does (Kaiming-uniform weight, uniform bias in
    /// `±1/sqrt(fan_in)`).
    ///
    /// # Errors
    /// [`CoreError::Config`] (`masked_conv`) for non-positive sizes, an anchor outside the
    /// kernel, or channels that do not split into the colour groups.
    pub fn new(p: &nn::Path, shape: ConvShape) -> Result<Self> {
        shape.check()?;
        let (kh, kw) = shape.kernel;
        let fan_in = (shape.in_channels * kh * kw) as f64;
        let bound = 1.0 / fan_in.sqrt();
        let weight = p.var(
            "weight",
            &[shape.out_channels, shape.in_channels, kh, kw],
            nn::init::DEFAULT_KAIMING_UNIFORM,
        );
        let bias = p.var(
            "bias",
            &[shape.out_channels],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        let mask = shape.mask.map(|_| {
            Tensor::from_slice(&shape.mask_values())
                .reshape([shape.out_channels, shape.in_channels, kh, kw])
                .to_device(p.device())
        });
        Ok(MaskedConv2d {
            shape,
            weight,
            bias,
            mask,
        })
    }

    /// The weight with its mask applied (what every pass convolves with).
    pub fn masked_weight(&self) -> Tensor {
        match &self.mask {
            Some(m) => &self.weight * m,
            None => self.weight.shallow_clone(),
        }
    }

    /// The whole-image pass: `x [b, in, h, w]` -> `[b, out, h, w]`.
    ///
    /// # Errors
    /// A libtorch error when `x` is not `[b, in, h, w]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, &self.masked_weight())
    }

    /// [`MaskedConv2d::forward`] with a precomputed [`MaskedConv2d::masked_weight`] (the sampling
    /// loops mask once, not at every position).
    ///
    /// # Errors
    /// A libtorch error when `x` is not `[b, in, h, w]`.
    pub fn forward_with(&self, x: &Tensor, weight: &Tensor) -> Result<Tensor> {
        let [l, r, t, b] = self.shape.padding();
        if l == r && t == b {
            return Ok(x.f_conv2d(weight, Some(&self.bias), [1, 1], [t, l], [1, 1], 1)?);
        }
        let padded = x.f_constant_pad_nd([l, r, t, b])?;
        Ok(padded.f_conv2d(weight, Some(&self.bias), [1, 1], [0, 0], [1, 1], 1)?)
    }

    /// The convolution without padding over a window that the caller has cut (and zero-padded
    /// where it crosses the image border): a `[b, in, kh, kw + m - 1]` window gives the outputs
    /// at `m` positions, `[b, out, 1, m]`.
    ///
    /// # Errors
    /// A libtorch error when the window is smaller than the kernel.
    pub fn forward_valid(&self, window: &Tensor, weight: &Tensor) -> Result<Tensor> {
        let s = window.size();
        if s.len() == 4 && (s[2], s[3]) == self.shape.kernel {
            // One output position: a matrix product. At this size libtorch's convolution set-up
            // costs more than the arithmetic, and cached sampling calls this per position.
            let (n, out) = (s[0], self.shape.out_channels);
            return Ok(window
                .f_reshape([n, -1])?
                .f_linear(&weight.f_reshape([out, -1])?, Some(&self.bias))?
                .f_reshape([n, out, 1, 1])?);
        }
        Ok(window.f_conv2d(weight, Some(&self.bias), [1, 1], [0, 0], [1, 1], 1)?)
    }
}

/// `x [b, c, h, w]` moved down by one row (a zero row on top, the last row dropped): what the
/// vertical stack hands to the horizontal one, so that row `i` receives rows `< i` only.
///
/// # Errors
/// A libtorch error when `x` is not four-dimensional.
pub fn shift_down(x: &Tensor) -> Result<Tensor> {
    let h = x.size()[2];
    Ok(x.f_constant_pad_nd([0, 0, 1, 0])?.f_narrow(2, 0, h)?)
}
