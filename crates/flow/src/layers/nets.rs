//! The networks inside coupling layers: an MLP for vectors (NICE, Dinh et al. 2015, sec. 5.1;
//! RealNVP on 2-D toys), a ResNet for images (RealNVP, Dinh et al. 2017, sec. 4.1) and Glow's
//! conv3x3-conv1x1-zeroconv3x3 net (Kingma & Dhariwal 2018, sec. 3.3). The last layer starts at
//! zero so that every coupling starts as the identity.
//!
//! A condition (class one-hot `[b, k]`, or a feature map `[b, k, h, w]` for Flow++'s dequantizer)
//! is concatenated to the input: as extra features for the MLP, as extra channels (broadcast over
//! space when it is a vector) for the conv nets.
use tch::{nn, Tensor};

use genzoo_core::{CoreError, Result};

/// Which net a coupling uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetKind {
    /// Fully connected, ReLU (vectors `[b, d]`).
    Mlp,
    /// RealNVP's residual conv net (images).
    Resnet,
    /// Glow's conv3x3 -> conv1x1 -> zero-init conv3x3 (images).
    Glow,
}

/// Shape of a coupling net.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetConfig {
    pub kind: NetKind,
    /// Hidden units (MLP) or channels (conv nets).
    pub hidden: i64,
    /// Hidden layers (MLP) or residual blocks (ResNet); unused by Glow's net.
    pub depth: i64,
}

/// A 2-D convolution made by `nn::conv2d` (same variables, same initialization) that keeps its
/// configuration, so that it can be applied with the fallible `Tensor::f_conv2d` (tch's
/// `nn::Conv2D` keeps its configuration private and its `forward` panics on an input it does not
/// take). Same kernel, same result as `nn::Conv2D::forward`.
#[derive(Debug)]
pub struct ConvLayer {
    /// Weight `[cout, cin / groups, k, k]`.
    pub ws: Tensor,
    /// Bias `[cout]`.
    pub bs: Option<Tensor>,
    stride: i64,
    padding: i64,
    dilation: i64,
    groups: i64,
    padding_mode: nn::PaddingMode,
}

impl ConvLayer {
    /// A `k x k` convolution of `cin` to `cout` channels under `p` (`nn::conv2d`).
    pub fn new(p: nn::Path, cin: i64, cout: i64, k: i64, cfg: nn::ConvConfig) -> Self {
        let conv = nn::conv2d(p, cin, cout, k, cfg);
        ConvLayer {
            ws: conv.ws,
            bs: conv.bs,
            stride: cfg.stride,
            padding: cfg.padding,
            dilation: cfg.dilation,
            groups: cfg.groups,
            padding_mode: cfg.padding_mode,
        }
    }

    /// The convolution of `x` `[b, cin, h, w]`.
    ///
    /// # Errors
    /// `x` not of shape `[b, cin, h, w]` (or too small for the kernel), or a libtorch error.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (x, padding) = match self.padding_mode {
            nn::PaddingMode::Zeros => (x.shallow_clone(), self.padding),
            mode => (mode.f_pad(x, &[self.padding; 4])?, 0),
        };
        Ok(x.f_conv2d(
            &self.ws,
            self.bs.as_ref(),
            [self.stride; 2],
            [padding; 2],
            [self.dilation; 2],
            self.groups,
        )?)
    }
}

/// `x` through a linear layer with the fallible `Tensor::f_linear` (the kernel of
/// `nn::Linear::forward`).
fn linear(x: &Tensor, l: &nn::Linear) -> Result<Tensor> {
    Ok(x.f_linear(&l.ws, l.bs.as_ref())?)
}

fn zero_conv(p: nn::Path, cin: i64, cout: i64, k: i64) -> ConvLayer {
    let cfg = nn::ConvConfig {
        padding: k / 2,
        ws_init: nn::Init::Const(0.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    ConvLayer::new(p, cin, cout, k, cfg)
}

/// A `k x k` conv with PyTorch's default initialization (`nn.Conv2d`: weight and bias uniform in
/// `+-1/sqrt(fan_in)`), so the nets start where their PyTorch twins do.
fn conv(p: nn::Path, cin: i64, cout: i64, k: i64) -> ConvLayer {
    let bound = 1.0 / ((cin * k * k) as f64).sqrt();
    let uniform = nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    ConvLayer::new(
        p,
        cin,
        cout,
        k,
        nn::ConvConfig {
            padding: k / 2,
            ws_init: uniform,
            bs_init: uniform,
            ..Default::default()
        },
    )
}

/// A coupling net: `[b, cin(, h, w)]` (+ condition) -> `[b, cout(, h, w)]`.
#[derive(Debug)]
pub enum CouplingNet {
    Mlp {
        layers: Vec<nn::Linear>,
        out: nn::Linear,
    },
    Resnet {
        inp: ConvLayer,
        blocks: Vec<(ConvLayer, ConvLayer)>,
        out: ConvLayer,
    },
    Glow {
        c1: ConvLayer,
        c2: ConvLayer,
        out: ConvLayer,
    },
}

impl CouplingNet {
    /// A net of `cin + cond_dim` inputs and `cout` outputs under `p`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for `cfg.hidden < 1`.
    pub fn new(p: &nn::Path, cfg: &NetConfig, cin: i64, cond_dim: i64, cout: i64) -> Result<Self> {
        if cfg.hidden < 1 {
            return Err(CoreError::config(
                "net.hidden",
                format!("{} < 1", cfg.hidden),
            ));
        }
        let i = cin + cond_dim;
        let h = cfg.hidden;
        Ok(match cfg.kind {
            NetKind::Mlp => {
                let mut layers = Vec::new();
                let mut d = i;
                for l in 0..cfg.depth.max(1) {
                    layers.push(nn::linear(p / format!("fc{l}"), d, h, Default::default()));
                    d = h;
                }
                let zero = nn::LinearConfig {
                    ws_init: nn::Init::Const(0.0),
                    bs_init: Some(nn::Init::Const(0.0)),
                    bias: true,
                };
                CouplingNet::Mlp {
                    layers,
                    out: nn::linear(p / "out", d, cout, zero),
                }
            }
            NetKind::Resnet => CouplingNet::Resnet {
                inp: conv(p / "in", i, h, 3),
                blocks: (0..cfg.depth.max(0))
                    .map(|b| {
                        (
                            conv(p / format!("b{b}") / "c1", h, h, 3),
                            conv(p / format!("b{b}") / "c2", h, h, 3),
                        )
                    })
                    .collect(),
                out: zero_conv(p / "out", h, cout, 3),
            },
            NetKind::Glow => CouplingNet::Glow {
                c1: conv(p / "c1", i, h, 3),
                c2: conv(p / "c2", h, h, 1),
                out: zero_conv(p / "out", h, cout, 3),
            },
        })
    }

    /// Applies the net to `x` with the optional condition.
    ///
    /// # Errors
    /// `x` without the net's `cin` inputs (`[b, cin]` for the MLP, `[b, cin, h, w]` for the conv
    /// nets), a condition that does not fit `x` (batch size, spatial size or `cond_dim`), or a
    /// libtorch error.
    pub fn forward(&self, x: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        let inp = match cond {
            None => x.shallow_clone(),
            Some(c) => {
                let c = c.f_to_kind(x.kind())?;
                let c = if x.dim() == 4 && c.dim() == 2 {
                    let s = x.size();
                    c.f_view([s[0], -1, 1, 1])?
                        .f_expand([s[0], c.size()[1], s[2], s[3]], false)?
                } else {
                    c
                };
                Tensor::f_cat(&[x, &c], 1).map_err(|e| {
                    CoreError::shape(
                        "coupling condition",
                        format!("{:?} vs input {:?}: {e}", c.size(), x.size()),
                    )
                })?
            }
        };
        match self {
            CouplingNet::Mlp { layers, out } => {
                let mut h = inp;
                for l in layers {
                    h = linear(&h, l)?.f_relu()?;
                }
                linear(&h, out)
            }
            CouplingNet::Resnet {
                inp: c_in,
                blocks,
                out,
            } => {
                let mut h = c_in.forward(&inp)?;
                for (c1, c2) in blocks {
                    let r = c2.forward(&c1.forward(&h.f_relu()?)?.f_relu()?)?;
                    h = h.f_add(&r)?;
                }
                out.forward(&h.f_relu()?)
            }
            CouplingNet::Glow { c1, c2, out } => {
                let h = c1.forward(&inp)?.f_relu()?;
                out.forward(&c2.forward(&h)?.f_relu()?)
            }
        }
    }
}
