//! Building blocks shared by the family's players: the multilayer perceptron of the 2014 GAN
//! (its layers spectrally normalized on request, [`crate::spectral_norm`]), LeakyReLU with a
//! chosen slope (0.2 in DCGAN, Radford et al. 2016, sec. 3), and DCGAN's initialization (weights
//! from N(0, 0.02), batch-norm scales from N(1, 0.02)).
use tch::{nn, Tensor};

use crate::head::DiscHead;
use crate::spectral_norm::Linear;
use crate::tricks::Tricks;
use genzoo_core::data::DataKind;
use genzoo_core::{CoreError, Result};

/// Whether [`leaky_relu`] runs ATen's kernel (`leaky_relu.cpp` compiled in, cfg
/// `genzoo_leaky_relu`) rather than the PReLU fallback.
pub fn leaky_relu_is_aten() -> bool {
    cfg!(genzoo_leaky_relu)
}

/// LeakyReLU, `max(x, slope x)` for `0 <= slope < 1`, any shape.
///
/// ATen's own `leaky_relu` kernel with the slope given (through `leaky_relu.cpp`, which
/// `build.rs` compiles against the setup's libtorch headers: tch 0.24 binds the op only with
/// slope 0.01); where that file was not built, PReLU with a constant slope, the same values
/// (`nets::tests::leaky_relu_matches_its_definition_and_gradient`).
///
/// # Errors
/// A libtorch error.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    #[cfg(genzoo_leaky_relu)]
    return aten::leaky_relu(x, slope).map_err(|m| tch::TchError::Torch(m).into());
    // PReLU with a constant slope: one kernel each way, but 6-9x slower than leaky_relu's
    // forward and backward at DCGAN's sizes (its backward also reduces a gradient for the slope).
    #[cfg(not(genzoo_leaky_relu))]
    {
        let w = Tensor::f_full([1], slope, (x.kind(), x.device()))?;
        Ok(x.f_prelu(&w)?)
    }
}

#[cfg(genzoo_leaky_relu)]
#[allow(unsafe_code)] // the FFI call into leaky_relu.cpp; the pointer is a live tch tensor
mod aten {
    use std::ffi::{c_char, c_void, CStr};
    use tch::Tensor;

    extern "C" {
        fn genzoo_leaky_relu(x: *const c_void, slope: f64, out: *mut *mut c_void) -> *mut c_char;
        fn genzoo_gan_free_error(e: *mut c_char);
    }

    /// `at::leaky_relu(x, slope)`, or the exception's message.
    pub(super) fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor, String> {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: `x.as_ptr()` is the `at::Tensor*` of a tensor borrowed for this call; the C++
        // side catches every exception and writes `out` only on success.
        let err = unsafe { genzoo_leaky_relu(x.as_ptr().cast(), slope, &mut out) };
        if err.is_null() && !out.is_null() {
            // SAFETY: on success `out` is a `new at::Tensor`, which tch's `Tensor` owns and
            // deletes on drop, as it does the tensors of its own C wrappers.
            return Ok(unsafe { Tensor::from_ptr(out.cast()) });
        }
        if err.is_null() {
            return Err("leaky_relu: no tensor and no error (out of memory?)".into());
        }
        // SAFETY: a non-null return is a NUL-terminated string from strdup, freed once here.
        let msg = unsafe { CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        unsafe { genzoo_gan_free_error(err) };
        Err(format!("leaky_relu: {msg}"))
    }
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
        let dp = p / "disc";
        Ok(MlpPlayers {
            gen: Mlp::new(&(p / "gen"), &gen, Act::Relu, "gen_hidden")?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_relu_matches_its_definition_and_gradient() {
        assert!(
            leaky_relu_is_aten(),
            "leaky_relu.cpp was not compiled (see the build warnings); PReLU fallback in use"
        );
        let x = Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 0.25, 2.0])
            .view([1, 5])
            .set_requires_grad(true);
        let y = leaky_relu(&x, 0.2).unwrap();
        let want = [-0.6f32, -0.1, 0.0, 0.25, 2.0];
        assert_eq!(y.size(), [1, 5]);
        let got: Vec<f32> = y.view([-1]).try_into().unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{got:?} != {want:?}");
        }
        // d/dx of sum(c * y) is c where x > 0 and 0.2 c elsewhere.
        let c = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0]).view([1, 5]);
        (y * &c).sum(tch::Kind::Float).backward();
        let grad: Vec<f32> = x.grad().view([-1]).try_into().unwrap();
        let want = [0.2f32, 0.4, 0.6, 4.0, 5.0];
        for (g, w) in grad.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{grad:?} != {want:?}");
        }
        assert!(leaky_relu(&Tensor::from_slice(&[1i64, -2]), 0.2).is_err());
    }
}
