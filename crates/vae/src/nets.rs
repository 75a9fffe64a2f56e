//! Encoder and decoder networks shared by the autoencoder family and reused by the GAN family
//! (adversarial autoencoder) and the autoregressive family (VAE with a PixelCNN decoder).
//!
//! * [`Arch`]: a serde description of a vector-code network, an MLP (the 784-400-20 VAE of
//!   Kingma & Welling 2014, appendix C, as in pytorch/examples) or a convolutional stack of
//!   stride-2 4x4 convolutions (DCGAN-style, as in most convolutional VAEs).
//! * [`VectorEncoder`]: `x [b, ...shape]` (+ optional condition `[b, k]`) -> `[b, out]`, e.g. the
//!   `2 * latent` Gaussian parameters of a VAE encoder.
//! * [`VectorDecoder`]: `z [n, latent]` (+ condition) -> `[n, P, ...shape]`, `P` parameters per
//!   data dimension (1 Bernoulli logit, 2 logistic/Gaussian parameters, 256 categorical logits).
//! * [`SpatialEncoder`] / [`SpatialDecoder`]: the residual convolutional stacks of VQ-VAE
//!   (van den Oord et al. 2017, sec. 4.1): stride-2 convolutions, then residual blocks
//!   (ReLU, 3x3 conv, ReLU, 1x1 conv), and the mirror image with transposed convolutions.
//!
//! Weights are named by path: `enc/fc0`, `enc/conv1`, `dec/out`, `.../res0/conv3`.
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    Relu,
    Tanh,
    Elu,
    LeakyRelu,
}

impl Activation {
    /// Applies the nonlinearity elementwise.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Elu => x.elu(),
            Activation::LeakyRelu => x.leaky_relu(),
        }
    }
}

/// The architecture of a vector-code encoder/decoder pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Arch {
    /// Fully connected: the hidden widths of the encoder (the decoder mirrors them).
    Mlp {
        hidden: Vec<i64>,
        activation: Activation,
    },
    /// Stride-2 4x4 convolutions with `channels` (the decoder mirrors them with transposed
    /// convolutions), then one fully connected layer of width `hidden`. Images only; height and
    /// width must be divisible by `2^channels.len()`.
    Conv {
        channels: Vec<i64>,
        hidden: i64,
        activation: Activation,
    },
}

impl Arch {
    /// The MLP of the given hidden widths with ReLU.
    pub fn mlp(hidden: &[i64]) -> Arch {
        Arch::Mlp {
            hidden: hidden.to_vec(),
            activation: Activation::Relu,
        }
    }
    /// The convolutional stack with ReLU.
    pub fn conv(channels: &[i64], hidden: i64) -> Arch {
        Arch::Conv {
            channels: channels.to_vec(),
            hidden,
            activation: Activation::Relu,
        }
    }
}

fn check_positive(what: &str, v: &[i64]) -> Result<()> {
    if v.iter().any(|&d| d <= 0) {
        return Err(CoreError::config(
            what,
            format!("sizes must be positive, got {v:?}"),
        ));
    }
    Ok(())
}

/// A stack of fully connected layers, the nonlinearity after each (`[b, in] -> [b, last]`).
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    act: Activation,
}

impl Mlp {
    /// Layers `in -> widths[0] -> ... -> widths[last]`, named `fc0`, `fc1`, ...
    ///
    /// # Errors
    /// [`CoreError::Config`] (`arch.hidden`) when a width is not positive.
    pub fn new(p: &nn::Path, input: i64, widths: &[i64], act: Activation) -> Result<Self> {
        check_positive("arch.hidden", widths)?;
        let mut layers = Vec::new();
        let mut d = input;
        for (i, &w) in widths.iter().enumerate() {
            layers.push(nn::linear(p / format!("fc{i}"), d, w, Default::default()));
            d = w;
        }
        Ok(Mlp { layers, act })
    }
    /// The output width (the input width when the stack is empty).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for l in &self.layers {
            h = self.act.apply(&l.forward(&h));
        }
        h
    }
}

fn conv_cfg(stride: i64, padding: i64) -> nn::ConvConfig {
    nn::ConvConfig {
        stride,
        padding,
        ..Default::default()
    }
}

fn convt_cfg() -> nn::ConvTransposeConfig {
    nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        ..Default::default()
    }
}

fn image_shape(shape: &[i64], arch: &str) -> Result<(i64, i64, i64)> {
    match shape {
        [c, h, w] => Ok((*c, *h, *w)),
        _ => Err(CoreError::config(
            "arch",
            format!("{arch} architecture needs images [c, h, w], got example shape {shape:?}"),
        )),
    }
}

fn check_divisible(h: i64, w: i64, levels: usize) -> Result<(i64, i64)> {
    let f = 1i64 << levels;
    if h % f != 0 || w % f != 0 {
        return Err(CoreError::config(
            "arch.channels",
            format!("{levels} stride-2 levels need height and width divisible by {f}, got {h}x{w}"),
        ));
    }
    Ok((h / f, w / f))
}

fn cat_cond(h: Tensor, cond: Option<&Tensor>) -> Tensor {
    match cond {
        Some(c) => Tensor::cat(&[h, c.to_kind(tch::Kind::Float)], 1),
        None => h,
    }
}

#[derive(Debug)]
enum EncBody {
    Mlp(Mlp),
    Conv {
        convs: Vec<nn::Conv2D>,
        fc: nn::Linear,
        act: Activation,
    },
}

/// An encoder to a vector: `x [b, ...shape]` and an optional condition `[b, cond_dim]` (a one-hot
/// label) to `[b, out_dim]` (no output nonlinearity).
#[derive(Debug)]
pub struct VectorEncoder {
    body: EncBody,
    head: nn::Linear,
    cond_dim: i64,
}

impl VectorEncoder {
    /// An encoder for examples of `shape` (`[d]` or `[c, h, w]`).
    ///
    /// # Errors
    /// [`CoreError::Config`] when `out_dim` is not positive (`encoder output`), a hidden width or
    /// channel count is not positive (`arch.hidden`, `arch.channels`), a conv `arch` gets a `shape`
    /// that is not `[c, h, w]` (`arch`), or `h` and `w` are not divisible by `2^levels`
    /// (`arch.channels`).
    pub fn new(
        p: &nn::Path,
        arch: &Arch,
        shape: &[i64],
        cond_dim: i64,
        out_dim: i64,
    ) -> Result<Self> {
        check_positive("encoder output", &[out_dim])?;
        let (body, width) = match arch {
            Arch::Mlp { hidden, activation } => {
                let input: i64 = shape.iter().product::<i64>() + cond_dim;
                let mlp = Mlp::new(p, input, hidden, *activation)?;
                (EncBody::Mlp(mlp), *hidden.last().unwrap_or(&input))
            }
            Arch::Conv {
                channels,
                hidden,
                activation,
            } => {
                check_positive("arch.channels", channels)?;
                check_positive("arch.hidden", &[*hidden])?;
                let (c, h, w) = image_shape(shape, "conv")?;
                let (h2, w2) = check_divisible(h, w, channels.len())?;
                let mut convs = Vec::new();
                let mut cin = c;
                for (i, &co) in channels.iter().enumerate() {
                    convs.push(nn::conv2d(
                        p / format!("conv{i}"),
                        cin,
                        co,
                        4,
                        conv_cfg(2, 1),
                    ));
                    cin = co;
                }
                let flat = cin * h2 * w2 + cond_dim;
                let fc = nn::linear(p / "fc", flat, *hidden, Default::default());
                (
                    EncBody::Conv {
                        convs,
                        fc,
                        act: *activation,
                    },
                    *hidden,
                )
            }
        };
        let head = nn::linear(p / "out", width, out_dim, Default::default());
        Ok(VectorEncoder {
            body,
            head,
            cond_dim,
        })
    }

    /// `x [b, ...shape]` f32, `cond [b, cond_dim]` -> `[b, out_dim]`.
    pub fn forward(&self, x: &Tensor, cond: Option<&Tensor>) -> Tensor {
        let b = x.size()[0];
        let h = match &self.body {
            EncBody::Mlp(mlp) => mlp.forward(&cat_cond(x.reshape([b, -1]), cond)),
            EncBody::Conv { convs, fc, act } => {
                let mut h = x.shallow_clone();
                for c in convs {
                    h = act.apply(&c.forward(&h));
                }
                act.apply(&fc.forward(&cat_cond(h.reshape([b, -1]), cond)))
            }
        };
        self.head.forward(&h)
    }

    /// The width of the condition this encoder expects (0: unconditional).
    pub fn cond_dim(&self) -> i64 {
        self.cond_dim
    }
}

#[derive(Debug)]
enum DecBody {
    Mlp {
        mlp: Mlp,
        out: nn::Linear,
    },
    Conv {
        fc: nn::Linear,
        fc2: nn::Linear,
        convs: Vec<nn::ConvTranspose2D>,
        start: [i64; 3],
        act: Activation,
    },
}

/// A decoder from a vector: `z [n, in_dim]` (+ condition) to `[n, P, ...shape]`, `P` output
/// parameters per data dimension.
#[derive(Debug)]
pub struct VectorDecoder {
    body: DecBody,
    shape: Vec<i64>,
    params: i64,
}

impl VectorDecoder {
    /// A decoder to examples of `shape` with `params` outputs per dimension.
    ///
    /// # Errors
    /// [`CoreError::Config`] when `in_dim` or `params` is not positive (`decoder input/params`), a
    /// hidden width or channel count is not positive (`arch.hidden`, `arch.channels`), a conv
    /// `arch` gets a `shape` that is not `[c, h, w]` (`arch`), or `h` and `w` are not divisible by
    /// `2^levels` (`arch.channels`).
    pub fn new(
        p: &nn::Path,
        arch: &Arch,
        in_dim: i64,
        cond_dim: i64,
        shape: &[i64],
        params: i64,
    ) -> Result<Self> {
        check_positive("decoder input/params", &[in_dim, params])?;
        let body = match arch {
            Arch::Mlp { hidden, activation } => {
                let rev: Vec<i64> = hidden.iter().rev().copied().collect();
                let mlp = Mlp::new(p, in_dim + cond_dim, &rev, *activation)?;
                let width = *rev.last().unwrap_or(&(in_dim + cond_dim));
                let out = nn::linear(
                    p / "out",
                    width,
                    params * shape.iter().product::<i64>(),
                    Default::default(),
                );
                DecBody::Mlp { mlp, out }
            }
            Arch::Conv {
                channels,
                hidden,
                activation,
            } => {
                check_positive("arch.channels", channels)?;
                let (c, h, w) = image_shape(shape, "conv")?;
                let (h2, w2) = check_divisible(h, w, channels.len())?;
                let top = *channels.last().unwrap_or(&c);
                let fc = nn::linear(p / "fc", in_dim + cond_dim, *hidden, Default::default());
                let fc2 = nn::linear(p / "fc2", *hidden, top * h2 * w2, Default::default());
                let mut convs = Vec::new();
                let rev: Vec<i64> = channels.iter().rev().copied().collect();
                for i in 0..rev.len() {
                    let co = if i + 1 < rev.len() {
                        rev[i + 1]
                    } else {
                        params * c
                    };
                    convs.push(nn::conv_transpose2d(
                        p / format!("convt{i}"),
                        rev[i],
                        co,
                        4,
                        convt_cfg(),
                    ));
                }
                DecBody::Conv {
                    fc,
                    fc2,
                    convs,
                    start: [top, h2, w2],
                    act: *activation,
                }
            }
        };
        Ok(VectorDecoder {
            body,
            shape: shape.to_vec(),
            params,
        })
    }

    /// `z [n, in_dim]`, `cond [n, cond_dim]` -> `[n, P, ...shape]`.
    pub fn forward(&self, z: &Tensor, cond: Option<&Tensor>) -> Tensor {
        let n = z.size()[0];
        let zc = cat_cond(z.shallow_clone(), cond);
        let out = match &self.body {
            DecBody::Mlp { mlp, out } => out.forward(&mlp.forward(&zc)),
            DecBody::Conv {
                fc,
                fc2,
                convs,
                start,
                act,
            } => {
                let h = act.apply(&fc.forward(&zc));
                let mut h = act
                    .apply(&fc2.forward(&h))
                    .reshape([n, start[0], start[1], start[2]]);
                for (i, c) in convs.iter().enumerate() {
                    h = c.forward(&h);
                    if i + 1 < convs.len() {
                        h = act.apply(&h);
                    }
                }
                h
            }
        };
        let mut dims = vec![n, self.params];
        dims.extend_from_slice(&self.shape);
        out.reshape(dims.as_slice())
    }

    /// Parameters per data dimension.
    pub fn params(&self) -> i64 {
        self.params
    }
}

/// The residual block of VQ-VAE: `x + conv1x1(relu(conv3x3(relu(x))))`, `[b, c, h, w]`.
#[derive(Debug)]
pub struct ResBlock {
    conv3: nn::Conv2D,
    conv1: nn::Conv2D,
}

impl ResBlock {
    pub fn new(p: &nn::Path, channels: i64, res_channels: i64) -> Self {
        ResBlock {
            conv3: nn::conv2d(p / "conv3", channels, res_channels, 3, conv_cfg(1, 1)),
            conv1: nn::conv2d(p / "conv1", res_channels, channels, 1, conv_cfg(1, 0)),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x + self.conv1.forward(&self.conv3.forward(&x.relu()).relu())
    }
}

/// Stride-2 4x4 convolutions (`down` of them), a 3x3 convolution and residual blocks (followed by
/// a ReLU): `[b, cin, h, w] -> [b, channels, h / 2^down, w / 2^down]`.
#[derive(Debug)]
pub struct SpatialEncoder {
    downs: Vec<nn::Conv2D>,
    conv: nn::Conv2D,
    res: Vec<ResBlock>,
}

impl SpatialEncoder {
    /// Builds the layers under `p` (`down{i}`, `conv`, `res{i}`).
    ///
    /// # Errors
    /// [`CoreError::Config`] (`channels`) when `cin`, `channels` or `res_channels` is not positive.
    pub fn new(
        p: &nn::Path,
        cin: i64,
        channels: i64,
        down: usize,
        res_blocks: usize,
        res_channels: i64,
    ) -> Result<Self> {
        check_positive("channels", &[cin, channels, res_channels])?;
        let mut downs = Vec::new();
        let mut c = cin;
        for i in 0..down {
            let co = if i + 1 < down { channels / 2 } else { channels };
            downs.push(nn::conv2d(
                p / format!("down{i}"),
                c,
                co.max(1),
                4,
                conv_cfg(2, 1),
            ));
            c = co.max(1);
        }
        let conv = nn::conv2d(p / "conv", c, channels, 3, conv_cfg(1, 1));
        let res = (0..res_blocks)
            .map(|i| ResBlock::new(&(p / format!("res{i}")), channels, res_channels))
            .collect();
        Ok(SpatialEncoder { downs, conv, res })
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for d in &self.downs {
            h = d.forward(&h).relu();
        }
        let mut h = self.conv.forward(&h);
        for r in &self.res {
            h = r.forward(&h);
        }
        h.relu()
    }
}

/// A 3x3 convolution, residual blocks, then stride-2 4x4 transposed convolutions (`up` of them):
/// `[b, cin, h, w] -> [b, cout, h * 2^up, w * 2^up]` (no output nonlinearity).
#[derive(Debug)]
pub struct SpatialDecoder {
    conv: nn::Conv2D,
    res: Vec<ResBlock>,
    ups: Vec<nn::ConvTranspose2D>,
    out: Option<nn::Conv2D>,
}

impl SpatialDecoder {
    /// Builds the layers under `p` (`conv`, `res{i}`, `up{i}`, and `out` when `up == 0`).
    ///
    /// # Errors
    /// [`CoreError::Config`] (`channels`) when `cin`, `channels`, `cout` or `res_channels` is not
    /// positive.
    pub fn new(
        p: &nn::Path,
        cin: i64,
        channels: i64,
        cout: i64,
        up: usize,
        res_blocks: usize,
        res_channels: i64,
    ) -> Result<Self> {
        check_positive("channels", &[cin, channels, cout, res_channels])?;
        let conv = nn::conv2d(p / "conv", cin, channels, 3, conv_cfg(1, 1));
        let res = (0..res_blocks)
            .map(|i| ResBlock::new(&(p / format!("res{i}")), channels, res_channels))
            .collect();
        let mut ups = Vec::new();
        let mut c = channels;
        for i in 0..up {
            let co = if i + 1 < up {
                (channels / 2).max(1)
            } else {
                cout
            };
            ups.push(nn::conv_transpose2d(
                p / format!("up{i}"),
                c,
                co,
                4,
                convt_cfg(),
            ));
            c = co;
        }
        // Without upsampling, a 1x1 output convolution maps to `cout` channels.
        let out = (up == 0).then(|| nn::conv2d(p / "out", channels, cout, 1, conv_cfg(1, 0)));
        Ok(SpatialDecoder {
            conv,
            res,
            ups,
            out,
        })
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = self.conv.forward(x);
        for r in &self.res {
            h = r.forward(&h);
        }
        h = h.relu();
        for (i, u) in self.ups.iter().enumerate() {
            h = u.forward(&h);
            if i + 1 < self.ups.len() {
                h = h.relu();
            }
        }
        match &self.out {
            Some(o) => o.forward(&h),
            None => h,
        }
    }
}
