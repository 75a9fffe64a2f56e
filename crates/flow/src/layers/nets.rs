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

fn zero_conv(p: nn::Path, cin: i64, cout: i64, k: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        padding: k / 2,
        ws_init: nn::Init::Const(0.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, cfg)
}

/// A `k x k` conv with PyTorch's default initialization (`nn.Conv2d`: weight and bias uniform in
/// `+-1/sqrt(fan_in)`), so the nets start where their PyTorch twins do.
fn conv(p: nn::Path, cin: i64, cout: i64, k: i64) -> nn::Conv2D {
    let bound = 1.0 / ((cin * k * k) as f64).sqrt();
    let uniform = nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    nn::conv2d(
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
        inp: nn::Conv2D,
        blocks: Vec<(nn::Conv2D, nn::Conv2D)>,
        out: nn::Conv2D,
    },
    Glow {
        c1: nn::Conv2D,
        c2: nn::Conv2D,
        out: nn::Conv2D,
    },
}

impl CouplingNet {
    /// A net of `cin + cond_dim` inputs and `cout` outputs under `p`.
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
    pub fn forward(&self, x: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        let inp = match cond {
            None => x.shallow_clone(),
            Some(c) => {
                let c = c.to_kind(x.kind());
                let c = if x.dim() == 4 && c.dim() == 2 {
                    let s = x.size();
                    c.view([s[0], -1, 1, 1])
                        .expand([s[0], c.size()[1], s[2], s[3]], false)
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
        Ok(match self {
            CouplingNet::Mlp { layers, out } => {
                let mut h = inp;
                for l in layers {
                    h = h.apply(l).relu();
                }
                h.apply(out)
            }
            CouplingNet::Resnet {
                inp: c_in,
                blocks,
                out,
            } => {
                let mut h = inp.apply(c_in);
                for (c1, c2) in blocks {
                    h = &h + h.relu().apply(c1).relu().apply(c2);
                }
                h.relu().apply(out)
            }
            CouplingNet::Glow { c1, c2, out } => inp.apply(c1).relu().apply(c2).relu().apply(out),
        })
    }
}
