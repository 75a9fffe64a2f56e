//! Layers shared by the PixelCNN-style models: the gated activation unit (van den Oord et al.
//! 2016, "Conditional Image Generation with PixelCNN Decoders", eq. 2), the 1x1 output head that
//! turns features into the observation model's parameters, and the padded activation caches of
//! fast sampling (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive
//! Models", sec. 3).
use tch::{nn, Kind, Tensor};

use crate::masked_conv::{ConvShape, MaskedConv2d};
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// `tanh(a) * sigmoid(b)` of `x [n, 2p, ...]`, with `a` the even channels and `b` the odd ones
/// (interleaved, so that each pair shares a colour group of the channel masks): `[n, p, ...]`.
///
/// # Errors
/// A libtorch error when the channel count is odd.
pub fn gate(x: &Tensor) -> Result<Tensor> {
    let s = x.size();
    let mut shape = vec![s[0], s[1] / 2, 2];
    shape.extend(&s[2..]);
    let pairs = x.f_reshape(shape.as_slice())?;
    Ok(pairs
        .f_select(2, 0)?
        .f_tanh()?
        .f_mul(&pairs.f_select(2, 1)?.f_sigmoid()?)?)
}

/// Image shape `(c, h, w)` of a model's data.
///
/// # Errors
/// [`CoreError::Config`] (`data`) unless `kind` is an image kind.
pub fn image_dims(kind: &DataKind) -> Result<(i64, i64, i64)> {
    match *kind {
        DataKind::Image {
            channels,
            height,
            width,
        } => Ok((channels, height, width)),
        other => Err(CoreError::config(
            "data",
            format!("this model takes images, got {other:?}"),
        )),
    }
}

/// The image likelihood: `auto` is Bernoulli (binarized digits); Gaussian is refused.
///
/// # Errors
/// [`CoreError::Config`] (`likelihood`) for a Gaussian.
pub fn image_likelihood(lik: Likelihood) -> Result<Likelihood> {
    match lik {
        Likelihood::Auto => Ok(Likelihood::Bernoulli),
        Likelihood::Gaussian => Err(CoreError::config(
            "likelihood",
            "autoregressive image models use bernoulli, categorical or logistic",
        )),
        l => Ok(l),
    }
}

/// ReLU, 1x1 (features -> `hidden`), ReLU, 1x1 (-> `c * P`): the output layers of PixelCNN
/// (van den Oord et al. 2016, table 1), channel-masked for RGB.
#[derive(Debug)]
pub struct Head {
    pub fc1: MaskedConv2d,
    pub fc2: MaskedConv2d,
    channels: i64,
    params: i64,
}

impl Head {
    /// # Errors
    /// [`CoreError::Config`] when the widths do not split into `channels` colour groups.
    pub fn new(
        p: &nn::Path,
        features: i64,
        hidden: i64,
        channels: i64,
        lik: Likelihood,
    ) -> Result<Self> {
        Head::with_params(p, features, hidden, channels, lik.params())
    }

    /// A head with `params` outputs per channel (a K-way softmax over codes, say).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the widths do not split into `channels` colour groups.
    pub fn with_params(
        p: &nn::Path,
        features: i64,
        hidden: i64,
        channels: i64,
        params: i64,
    ) -> Result<Self> {
        Ok(Head {
            fc1: MaskedConv2d::new(
                &(p / "fc1"),
                ConvShape::pointwise(features, hidden, channels),
            )?,
            fc2: MaskedConv2d::new(
                &(p / "fc2"),
                ConvShape::pointwise(hidden, channels * params, channels),
            )?,
            channels,
            params,
        })
    }

    /// Features `[n, f, h, w]` -> parameters `[n, P, c, h, w]`.
    ///
    /// # Errors
    /// A libtorch error when `x` has the wrong channel count.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self
            .fc2
            .forward(&self.fc1.forward(&x.f_relu()?)?.f_relu()?)?;
        let s = y.size();
        Ok(y.f_reshape([s[0], self.channels, self.params, s[2], s[3]])?
            .f_permute([0, 2, 1, 3, 4])?)
    }

    /// The parameters at one position from its features `[n, f, 1, 1]` with precomputed masked
    /// weights: `[n, c, P]`.
    ///
    /// # Errors
    /// A libtorch error when `x` has the wrong channel count.
    pub fn at(&self, x: &Tensor, w: &(Tensor, Tensor)) -> Result<Tensor> {
        let h = self.fc1.forward_valid(&x.f_relu()?, &w.0)?.f_relu()?;
        let y = self.fc2.forward_valid(&h, &w.1)?;
        Ok(y.f_reshape([y.size()[0], self.channels, self.params])?)
    }

    /// The masked weights of both layers (computed once per sampling run).
    pub fn weights(&self) -> (Tensor, Tensor) {
        (self.fc1.masked_weight(), self.fc2.masked_weight())
    }
}

/// An activation map kept with the zero border a convolution's anchored padding needs, so that
/// the input window of any output position is a plain slice.
#[derive(Debug)]
pub struct PaddedCache {
    pub t: Tensor,
    pad: [i64; 4],
    kernel: (i64, i64),
}

impl PaddedCache {
    /// A zero map `[n, c, h, w]` padded for `shape`'s kernel and anchor.
    ///
    /// # Errors
    /// A libtorch error (allocation).
    pub fn new(n: i64, c: i64, h: i64, w: i64, shape: &ConvShape, like: &Tensor) -> Result<Self> {
        let pad = shape.padding();
        let t = Tensor::f_zeros(
            [n, c, h + pad[2] + pad[3], w + pad[0] + pad[1]],
            (Kind::Float, like.device()),
        )?;
        Ok(PaddedCache {
            t,
            pad,
            kernel: shape.kernel,
        })
    }

    /// The input window of output `(i, j)`: `[n, c, kh, kw]`.
    ///
    /// # Errors
    /// A libtorch error for a position outside the map.
    pub fn window(&self, i: i64, j: i64) -> Result<Tensor> {
        Ok(self
            .t
            .f_narrow(2, i, self.kernel.0)?
            .f_narrow(3, j, self.kernel.1)?)
    }

    /// The input window of every output of row `i`: `[n, c, kh, w + pad]`.
    ///
    /// # Errors
    /// A libtorch error for a row outside the map.
    pub fn row_window(&self, i: i64) -> Result<Tensor> {
        Ok(self.t.f_narrow(2, i, self.kernel.0)?)
    }

    /// The interior value at `(i, j)`: `[n, c, 1, 1]`.
    ///
    /// # Errors
    /// A libtorch error for a position outside the map.
    pub fn at(&self, i: i64, j: i64) -> Result<Tensor> {
        Ok(self
            .t
            .f_narrow(2, i + self.pad[2], 1)?
            .f_narrow(3, j + self.pad[0], 1)?)
    }

    /// Writes `v [n, c, 1, 1]` at `(i, j)`.
    ///
    /// # Errors
    /// A libtorch error for a position outside the map or a value of another shape.
    pub fn set(&self, i: i64, j: i64, v: &Tensor) -> Result<()> {
        self.at(i, j)?.f_copy_(v)?;
        Ok(())
    }

    /// Writes `v [n, c, 1, w]` as row `i`.
    ///
    /// # Errors
    /// A libtorch error for a row outside the map or a value of another shape.
    pub fn set_row(&self, i: i64, v: &Tensor) -> Result<()> {
        let w = v.size()[3];
        self.t
            .f_narrow(2, i + self.pad[2], 1)?
            .f_narrow(3, self.pad[0], w)?
            .f_copy_(v)?;
        Ok(())
    }
}
