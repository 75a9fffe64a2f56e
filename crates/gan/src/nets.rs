//! Building blocks shared by the family's players: the multilayer perceptron of the 2014 GAN,
//! LeakyReLU with a chosen slope (0.2 in DCGAN, Radford et al. 2016, sec. 3), and DCGAN's
//! initialization (weights from N(0, 0.02), batch-norm scales from N(1, 0.02)).
use tch::{nn, Tensor};

use genzoo_core::{CoreError, Result};

/// LeakyReLU, `max(x, slope x)` for `0 <= slope < 1`.
///
/// # Errors
/// A libtorch error.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    Ok(x.f_maximum(&x.f_mul_scalar(slope)?)?)
}

/// DCGAN's initialization of convolution and linear weights: N(0, 0.02).
pub const DCGAN_INIT: nn::Init = nn::Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

/// The weight and (when present) bias of a linear or convolution layer.
pub fn layer_params(ws: &Tensor, bs: Option<&Tensor>) -> Vec<Tensor> {
    std::iter::once(ws)
        .chain(bs)
        .map(Tensor::shallow_clone)
        .collect()
}

/// Hidden activations of an [`Mlp`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    /// LeakyReLU with slope 0.2.
    LeakyRelu,
}

/// A multilayer perceptron `sizes[0] -> ... -> sizes[last]`, layers `fc1`, `fc2`, ... under its
/// path, the activation after every layer but the last.
#[derive(Debug)]
pub struct Mlp {
    pub layers: Vec<nn::Linear>,
    pub act: Act,
}

impl Mlp {
    /// Builds the layers under `p` (`p / "fc1"`, ...).
    ///
    /// # Errors
    /// [`CoreError::Config`] (`key`) for fewer than two sizes or a size below 1.
    pub fn new(p: &nn::Path, sizes: &[i64], act: Act, key: &str) -> Result<Self> {
        if sizes.len() < 2 || sizes.iter().any(|&s| s < 1) {
            return Err(CoreError::config(
                key,
                format!("layer sizes {sizes:?} must all be >= 1"),
            ));
        }
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(p / format!("fc{}", i + 1), w[0], w[1], Default::default()))
            .collect();
        Ok(Mlp { layers, act })
    }

    /// `[b, sizes[0]]` to `[b, sizes[last]]`.
    ///
    /// # Errors
    /// A libtorch error (an input of another width).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = h.f_linear(&l.ws, l.bs.as_ref())?;
            if i + 1 < self.layers.len() {
                h = match self.act {
                    Act::Relu => h.f_relu()?,
                    Act::LeakyRelu => leaky_relu(&h, 0.2)?,
                };
            }
        }
        Ok(h)
    }

    /// Every weight and bias.
    pub fn params(&self) -> Vec<Tensor> {
        self.layers
            .iter()
            .flat_map(|l| layer_params(&l.ws, l.bs.as_ref()))
            .collect()
    }
}
