//! Building blocks shared by the family's players: the multilayer perceptron of the 2014 GAN
//! (its layers spectrally normalized on request, [`crate::spectral_norm`]), LeakyReLU with a
//! chosen slope (0.2 in DCGAN, Radford et al. 2016, sec. 3), and DCGAN's initialization (weights
//! from N(0, 0.02), batch-norm scales from N(1, 0.02)).
use crate::game::{DISC, GEN};
use tch::{nn, Tensor};

use crate::head::DiscHead;
use crate::spectral_norm::Linear;
use crate::tricks::Tricks;
use genzoo_core::data::DataKind;
use genzoo_core::{CoreError, Result};

/// LeakyReLU, `max(x, slope x)` for `0 <= slope < 1`, any shape: ATen's own kernel with the
/// slope given ([`genzoo_core::kernels::leaky_relu`]; tch binds the op only with slope 0.01).
///
/// # Errors
/// A libtorch error.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    genzoo_core::kernels::leaky_relu(x, slope)
}

/// `bn` applied to `x` (`[b, c]` or `[b, c, ...]`), with the batch's statistics (`train`) or
/// the running ones: tch's `forward_t` without its panics, for layers built with momentum 0.1
/// and epsilon 1e-5 (tch's defaults).
///
/// # Errors
/// A libtorch error, e.g. `c` other than the layer's width.
pub fn batch_norm(bn: &nn::BatchNorm, x: &Tensor, train: bool) -> Result<Tensor> {
    Ok(x.f_batch_norm(
        bn.ws.as_ref(),
        bn.bs.as_ref(),
        Some(&bn.running_mean),
        Some(&bn.running_var),
        train,
        BN_MOMENTUM,
        BN_EPS,
        true,
    )?)
}

/// Batch norm's running-statistics momentum and epsilon (PyTorch's defaults, those of
/// [`Mlp::with_batch_norm`]'s layers).
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// DCGAN's initialization of convolution and linear weights: N(0, 0.02).
pub const DCGAN_INIT: nn::Init = nn::Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

pub use crate::head::layer_params;

/// Hidden activations of an [`Mlp`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    /// LeakyReLU with slope 0.2.
    LeakyRelu,
}

/// A multilayer perceptron `sizes[0] -> ... -> sizes[last]`, layers `fc1`, `fc2`, ... under its
/// path, the activation after every layer but the last ([`Mlp::new`], a generator) or after
/// every layer ([`Mlp::body`], a discriminator's body, whose head follows).
#[derive(Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    pub act: Act,
    /// Whether the last layer is followed by the activation too.
    pub act_last: bool,
    /// Batch norm before each hidden activation (`bn1..`; empty: none), [`Mlp::with_batch_norm`].
    pub bn: Vec<nn::BatchNorm>,
}

impl Mlp {
    /// Builds the layers under `p` (`p / "fc1"`, ...), no activation after the last.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`key`) for fewer than two sizes or a size below 1.
    pub fn new(p: &nn::Path, sizes: &[i64], act: Act, key: &str) -> Result<Self> {
        Self::build(p, sizes, act, key, false)
    }

    /// A discriminator body: the activation after every layer, each layer spectrally normalized
    /// with `spectral_norm`.
    ///
    /// # Errors
    /// As [`Mlp::new`].
    pub fn body(
        p: &nn::Path,
        sizes: &[i64],
        act: Act,
        key: &str,
        spectral_norm: bool,
    ) -> Result<Self> {
        let mut m = Self::build(p, sizes, act, key, spectral_norm)?;
        m.act_last = true;
        Ok(m)
    }

    fn build(p: &nn::Path, sizes: &[i64], act: Act, key: &str, sn: bool) -> Result<Self> {
        if sizes.len() < 2 || sizes.iter().any(|&s| s < 1) {
            return Err(CoreError::config(
                key,
                format!("layer sizes {sizes:?} must all be >= 1 (and at least one layer)"),
            ));
        }
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                Linear::new(
                    p / format!("fc{}", i + 1),
                    w[0],
                    w[1],
                    Default::default(),
                    sn,
                )
            })
            .collect::<Result<_>>()?;
        Ok(Mlp {
            layers,
            act,
            act_last: false,
            bn: Vec::new(),
        })
    }

    /// The same network with batch norm (Ioffe & Szegedy 2015) between each hidden layer and
    /// its activation, `p / "bn1"`, ... (scales initialized to 1, shifts to 0, momentum 0.1, as
    /// PyTorch's `BatchNorm1d`): BiGAN's MLP generator and encoder (Donahue et al. 2017, app.).
    pub fn with_batch_norm(mut self, p: &nn::Path) -> Self {
        let hidden = self.layers.len() - usize::from(!self.act_last);
        let cfg = nn::BatchNormConfig {
            ws_init: nn::Init::Const(1.0),
            momentum: BN_MOMENTUM,
            eps: BN_EPS,
            ..Default::default()
        };
        self.bn = (0..hidden)
            .map(|i| {
                let width = self.layers[i].lin.ws.size()[0];
                nn::batch_norm1d(p / format!("bn{}", i + 1), width, cfg)
            })
            .collect();
        self
    }

    /// `[b, sizes[0]]` to `[b, sizes[last]]`; `train` updates spectral normalization's estimate
    /// and makes batch norm use (and track) the batch's statistics rather than its running ones.
    ///
    /// # Errors
    /// A libtorch error (an input of another width).
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h, train)?;
            if let Some(bn) = self.bn.get(i) {
                h = batch_norm(bn, &h, train)?;
            }
            if self.act_last || i + 1 < self.layers.len() {
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
            .flat_map(|l| layer_params(&l.lin.ws, l.lin.bs.as_ref()))
            .collect()
    }
}

/// The two MLP players of the 2014 GAN and of the conditional GAN: a generator `gen.fc1..`
/// (ReLU, tanh on images), a discriminator body `disc.fc1..` (LeakyReLU 0.2, spectrally
/// normalized with the trick) and its [`DiscHead`] (`disc.fcN`).
#[derive(Debug)]
pub struct MlpPlayers {
    pub gen: Mlp,
    pub disc: Mlp,
    pub head: DiscHead,
    /// The data the generator makes.
    pub data: DataKind,
}

/// The sizes of [`MlpPlayers`]: the generator's input (noise, and a one-hot label), the
/// discriminator's extra inputs beside the flattened example, the hidden widths.
#[derive(Clone, Copy, Debug)]
pub struct MlpSizes<'a> {
    pub data: DataKind,
    pub gen_in: i64,
    pub disc_extra_in: i64,
    pub gen_hidden: &'a [i64],
    pub disc_hidden: &'a [i64],
}

impl MlpPlayers {
    /// Builds both players under `p / "gen"` and `p / "disc"` for `model`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for data other than images or vectors (`data`), an input below 1
    /// (`latent_dim`), a hidden width below 1 (`gen_hidden`, `disc_hidden`), or no
    /// discriminator hidden layer.
    pub fn new(p: &nn::Path, model: &str, s: MlpSizes, tricks: &Tricks) -> Result<Self> {
        if !(s.data.is_image() || s.data.is_vector()) {
            return Err(CoreError::config(
                "data",
                format!("{model} models images or vectors, got {:?}", s.data),
            ));
        }
        if s.gen_in < 1 {
            return Err(CoreError::config("latent_dim", "must be >= 1"));
        }
        if tricks.virtual_batch_norm.is_some() {
            return Err(CoreError::config(
                "virtual_batch_norm",
                format!("{model}'s MLP generator has no batch norm to make virtual: use dcgan or infogan"),
            ));
        }
        let Some(&features) = s.disc_hidden.last() else {
            return Err(CoreError::config(
                "disc_hidden",
                "the discriminator needs at least one hidden layer",
            ));
        };
        let d = s.data.dims();
        let gen: Vec<i64> = std::iter::once(s.gen_in)
            .chain(s.gen_hidden.iter().copied())
            .chain([d])
            .collect();
        let body: Vec<i64> = std::iter::once(d + s.disc_extra_in)
            .chain(s.disc_hidden.iter().copied())
            .collect();
        let dp = p / DISC;
        Ok(MlpPlayers {
            gen: Mlp::new(&(p / GEN), &gen, Act::Relu, "gen_hidden")?,
            disc: Mlp::body(
                &dp,
                &body,
                Act::LeakyRelu,
                "disc_hidden",
                tricks.spectral_norm,
            )?,
            head: DiscHead::new(
                &dp,
                &format!("fc{}", s.disc_hidden.len() + 1),
                features,
                tricks,
                Default::default(),
            )?,
            data: s.data,
        })
    }

    /// The generator on its input `[b, gen_in]`: examples `[b, ...]` (images through tanh).
    ///
    /// # Errors
    /// A libtorch error.
    pub fn generate(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.gen.forward(input, train)?;
        let x = if self.data.is_image() { x.f_tanh()? } else { x };
        let mut shape = vec![input.size()[0]];
        shape.extend(self.data.example_shape());
        Ok(x.f_reshape(shape.as_slice())?)
    }

    /// The discriminator's body and head on its input `[b, d + extra]`: `(features, outputs)`.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn discriminate(&self, input: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let f = self.disc.forward(input, train)?;
        let out = self.head.forward(&f, train)?;
        Ok((f, out))
    }

    /// The discriminator's trainable tensors (body, then head).
    pub fn disc_params(&self) -> Vec<Tensor> {
        let mut v = self.disc.params();
        v.extend(self.head.params());
        v
    }
}
