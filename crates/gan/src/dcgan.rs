//! DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
//! Convolutional Generative Adversarial Networks", sec. 3): the all-convolutional players.
//!
//! * Generator: `z ~ N(0, I)` projected by a linear layer to `gen_channels` maps at the base
//!   resolution, then transposed convolutions (kernel 4, stride 2, padding 1) doubling the size
//!   and halving the channels, batch norm and ReLU after each but the last, tanh at the output.
//! * Discriminator: strided convolutions (kernel 4, stride 2, padding 1) halving the size and
//!   doubling the channels from `disc_channels`, LeakyReLU 0.2, batch norm after every one but
//!   the first, then one linear output (a logit or critic value) over the last maps.
//! * Weights from N(0, 0.02), batch-norm scales from N(1, 0.02) (sec. 4).
//!
//! Sizes: square images whose side halves to a base of at least 4: 28x28 grey goes 7 -> 14 ->
//! 28, 32x32 RGB goes 4 -> 8 -> 16 -> 32, 64x64 goes 4 -> ... -> 64 (the paper's). WGAN-GP's
//! penalty is per example, which batch norm in the critic breaks (Gulrajani et al. 2017, sec. 4):
//! `disc_norm = "layer"` (their choice) or `"none"` there. Catalogue name `dcgan`.
use crate::game::{DISC, GEN};
use serde::{Deserialize, Serialize};
use tch::nn::{ConvConfig, ConvTransposeConfig, Module};
use tch::{nn, Device, Tensor};

use crate::game::{Adversarial, Game};
use crate::head::DiscHead;
use crate::nets::{layer_params, leaky_relu, DCGAN_INIT};
use crate::objective::Objective;
use crate::spectral_norm::SpectralNorm;
use genzoo_core::data::DataKind;
use genzoo_core::{CoreError, Result};

/// The discriminator's normalization after its second and later convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// Batch norm (the paper's).
    Batch,
    /// Layer norm over each example's maps (WGAN-GP's critic).
    Layer,
    None,
}

/// DCGAN's configuration. Unknown keys are refused by the catalogue; the [`Game`] keys sit at
/// the top level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The images modelled (set from the dataset).
    pub data: DataKind,
    /// Noise dimensions.
    pub latent_dim: i64,
    /// Generator maps at the base resolution; halved by each transposed convolution.
    pub gen_channels: i64,
    /// Discriminator maps after its first convolution; doubled by each further one.
    pub disc_channels: i64,
    pub disc_norm: Norm,
    #[serde(flatten)]
    pub game: Game,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "tiny"];

impl Config {
    /// A named preset (the catalogue sets `data` from the dataset), each with the non-saturating
    /// loss and batch norm in both players:
    /// * `paper`: 100 noise dimensions, 512 generator maps at 4x4 halving to 32x32 RGB, a
    ///   128-256-512 discriminator (the paper's 64x64 network less its first level).
    /// * `mnist`: 28x28 grey in minutes on two CPU cores: 64 noise dimensions, 64 maps at 7x7 and
    ///   32 at 14x14, a 32-64 discriminator.
    /// * `tiny`: a few maps for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let grey = DataKind::Image {
            channels: 1,
            height: 28,
            width: 28,
        };
        let (data, latent_dim, gen_channels, disc_channels) = match name {
            "paper" => (
                DataKind::Image {
                    channels: 3,
                    height: 32,
                    width: 32,
                },
                100,
                512,
                128,
            ),
            "mnist" => (grey, 64, 64, 32),
            "tiny" => (grey, 8, 8, 4),
            _ => return None,
        };
        Some(Config {
            data,
            latent_dim,
            gen_channels,
            disc_channels,
            disc_norm: Norm::Batch,
            game: Game::new(Objective::NonSaturating),
        })
    }
}

/// `(base side, number of doublings)` of a square image side: halve while even and at least 8.
pub fn levels(side: i64) -> Option<(i64, usize)> {
    let (mut s, mut k) = (side, 0);
    while s % 2 == 0 && s >= 8 {
        s /= 2;
        k += 1;
    }
    (k > 0).then_some((s, k))
}

/// A normalization layer of the discriminator.
#[derive(Debug)]
enum DiscNorm {
    Batch(nn::BatchNorm),
    Layer(nn::LayerNorm),
}

fn batch_norm(p: nn::Path, c: i64) -> nn::BatchNorm {
    let cfg = nn::BatchNormConfig {
        ws_init: nn::Init::Randn {
            mean: 1.0,
            stdev: 0.02,
        },
        ..Default::default()
    };
    nn::batch_norm2d(p, c, cfg)
}

/// Linear layers with DCGAN's initialization and a zero bias.
const LINEAR: nn::LinearConfig = nn::LinearConfig {
    ws_init: DCGAN_INIT,
    bs_init: Some(nn::Init::Const(0.0)),
    bias: true,
};

/// The sizes both players are built from: image channels, base side, number of doublings.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    channels: i64,
    side: i64,
    base: i64,
    levels: usize,
}

/// DCGAN's generator: `fc` (to the base maps), `bn0`, then `tconv1..`, `bn1..` (none after the
/// last transposed convolution, whose output goes through tanh).
#[derive(Debug)]
pub struct DcGenerator {
    fc: nn::Linear,
    bn: Vec<nn::BatchNorm>,
    tconv: Vec<nn::ConvTranspose2D>,
    /// Maps at the base resolution, and that side.
    base: (i64, i64),
    /// Virtual batch norm's reference noise `gen.vbn_ref_z [N, latent_dim]` (drawn once at
    /// build, checkpointed, not trained).
    vbn_ref: Option<Tensor>,
}

impl DcGenerator {
    fn new(g: &nn::Path, cfg: &Config, s: Sizes) -> Self {
        let k = s.levels;
        // Maps per level: gen_channels >> i, the image channels last.
        let ch: Vec<i64> = (0..=k)
            .map(|i| {
                if i == k {
                    s.channels
                } else {
                    (cfg.gen_channels >> i).max(1)
                }
            })
            .collect();
        let no_bias = nn::LinearConfig {
            bias: false,
            ..LINEAR
        };
        let tconv = (1..=k)
            .map(|i| {
                let c = ConvTransposeConfig {
                    stride: 2,
                    padding: 1,
                    bias: i == k,
                    ws_init: DCGAN_INIT,
                    ..Default::default()
                };
                nn::conv_transpose2d(g / format!("tconv{i}"), ch[i - 1], ch[i], 4, c)
            })
            .collect();
        DcGenerator {
            fc: nn::linear(g / "fc", cfg.latent_dim, ch[0] * s.base * s.base, no_bias),
            bn: (0..k)
                .map(|i| batch_norm(g / format!("bn{i}"), ch[i]))
                .collect(),
            tconv,
            base: (ch[0], s.base),
            vbn_ref: cfg.game.tricks.virtual_batch_norm.map(|n| {
                let r = g.zeros_no_train("vbn_ref_z", &[n, cfg.latent_dim]);
                let _ = tch::no_grad(|| r.shallow_clone().normal_(0.0, 1.0));
                r
            }),
        }
    }

    /// `z [b, latent_dim]` to images `[b, c, h, w]` in `[-1, 1]`. With virtual batch norm the
    /// reference noise runs ahead of `z` and every batch norm takes its statistics
    /// ([`crate::tricks::virtual_batch_norm`]; the same in training and sampling).
    fn forward(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        let (c0, side) = self.base;
        let n_ref = self.vbn_ref.as_ref().map_or(0, |r| r.size()[0]);
        let input = match &self.vbn_ref {
            Some(r) => Tensor::f_cat(&[r.shallow_clone(), z.shallow_clone()], 0)?,
            None => z.shallow_clone(),
        };
        let mut h = self
            .fc
            .forward(&input)
            .f_reshape([input.size()[0], c0, side, side])?;
        for (bn, tconv) in self.bn.iter().zip(&self.tconv) {
            let normed = if n_ref > 0 {
                crate::tricks::virtual_batch_norm(&h, n_ref, bn.ws.as_ref(), bn.bs.as_ref())?
            } else {
                crate::nets::batch_norm(bn, &h, train)?
            };
            h = tconv.forward(&normed.f_relu()?);
        }
        Ok(h.f_narrow(0, n_ref, z.size()[0])?.f_tanh()?)
    }
}

impl DcGenerator {
    /// Replaces virtual batch norm's reference noise (`[N, latent_dim]`, as built) with `z`:
    /// a model whose noise is not N(0, I) (InfoGAN's codes) draws its own.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`virtual_batch_norm`) without virtual batch norm;
    /// [`CoreError::Shape`] (`z`) for another shape; a libtorch error.
    pub fn set_vbn_reference(&self, z: &Tensor) -> Result<()> {
        let Some(r) = &self.vbn_ref else {
            return Err(CoreError::config(
                "virtual_batch_norm",
                "is off: no reference batch",
            ));
        };
        if z.size() != r.size() {
            return Err(CoreError::shape(
                "z",
                format!("the reference batch is {:?}, got {:?}", r.size(), z.size()),
            ));
        }
        tch::no_grad(|| r.shallow_clone().f_copy_(z))?;
        Ok(())
    }

    /// Every trainable tensor.
    fn params(&self) -> Vec<Tensor> {
        let mut v = layer_params(&self.fc.ws, self.fc.bs.as_ref());
        for bn in &self.bn {
            v.extend(bn.ws.iter().chain(bn.bs.iter()).map(Tensor::shallow_clone));
        }
        for t in &self.tconv {
            v.extend(layer_params(&t.ws, t.bs.as_ref()));
        }
        v
    }
}

/// DCGAN's discriminator: `conv1..` with `norm2..` (none after the first convolution), then
/// the head ([`DiscHead`], output layer `fc`); with `spectral_norm`, each weight's `sn_u`.
#[derive(Debug)]
pub struct DcDiscriminator {
    conv: Vec<nn::Conv2D>,
    norm: Vec<Option<DiscNorm>>,
    sn: Vec<Option<SpectralNorm>>,
    head: DiscHead,
    features: i64,
}

impl DcDiscriminator {
    fn new(d: &nn::Path, cfg: &Config, s: Sizes) -> Result<Self> {
        let k = s.levels;
        // Maps per level: the image channels, then disc_channels << (i - 1).
        let ch: Vec<i64> = (0..=k)
            .map(|i| {
                if i == 0 {
                    s.channels
                } else {
                    cfg.disc_channels << (i - 1)
                }
            })
            .collect();
        let tricks = &cfg.game.tricks;
        let (mut conv, mut norm, mut sn) = (vec![], vec![], vec![]);
        for i in 1..=k {
            let normed = i > 1 && cfg.disc_norm != Norm::None;
            let c = ConvConfig {
                stride: 2,
                padding: 1,
                bias: !normed,
                ws_init: DCGAN_INIT,
                ..Default::default()
            };
            let cp = d / format!("conv{i}");
            sn.push(if tricks.spectral_norm {
                Some(SpectralNorm::new(&cp, ch[i])?)
            } else {
                None
            });
            conv.push(nn::conv2d(cp, ch[i - 1], ch[i], 4, c));
            let (np, side) = (d / format!("norm{i}"), s.side >> i);
            norm.push(match (normed, cfg.disc_norm) {
                (false, _) | (_, Norm::None) => None,
                (true, Norm::Batch) => Some(DiscNorm::Batch(batch_norm(np, ch[i]))),
                (true, Norm::Layer) => {
                    let shape = vec![ch[i], side, side];
                    Some(DiscNorm::Layer(nn::layer_norm(
                        np,
                        shape,
                        Default::default(),
                    )))
                }
            });
        }
        let features = ch[k] * s.base * s.base;
        Ok(DcDiscriminator {
            conv,
            norm,
            sn,
            head: DiscHead::new(d, "fc", features, tricks, LINEAR)?,
            features,
        })
    }

    /// Width of the flattened last maps, the features its forward pass returns.
    pub fn features(&self) -> i64 {
        self.features
    }

    /// Images `[b, c, h, w]` to the flattened last maps `[b, k]` and outputs `[b]`.
    fn forward(&self, x: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let b = x.size()[0];
        let mut h = x.shallow_clone();
        for ((conv, norm), sn) in self.conv.iter().zip(&self.norm).zip(&self.sn) {
            h = match sn {
                Some(sn) => h.f_conv2d(
                    &sn.weight(&conv.ws, train, 1)?,
                    conv.bs.as_ref(),
                    [2, 2],
                    [1, 1],
                    [1, 1],
                    1,
                )?,
                None => conv.forward(&h),
            };
            h = match norm {
                Some(DiscNorm::Batch(bn)) => crate::nets::batch_norm(bn, &h, train)?,
                Some(DiscNorm::Layer(ln)) => ln.forward(&h),
                None => h,
            };
            h = leaky_relu(&h, 0.2)?;
        }
        let f = h.f_reshape([b, -1])?;
        let out = self.head.forward(&f, train)?;
        Ok((f, out))
    }

    /// Every trainable tensor.
    fn params(&self) -> Vec<Tensor> {
        let mut v: Vec<Tensor> = vec![];
        for (conv, norm) in self.conv.iter().zip(&self.norm) {
            v.extend(layer_params(&conv.ws, conv.bs.as_ref()));
            let (ws, bs) = match norm {
                Some(DiscNorm::Batch(bn)) => (bn.ws.as_ref(), bn.bs.as_ref()),
                Some(DiscNorm::Layer(ln)) => (ln.ws.as_ref(), ln.bs.as_ref()),
                None => (None, None),
            };
            v.extend(ws.into_iter().chain(bs).map(Tensor::shallow_clone));
        }
        v.extend(self.head.params());
        v
    }
}

/// The DCGAN players. Weights: `gen.fc`, `gen.bn0`, `gen.tconv1..`, `gen.bn1..`; `disc.conv1..`,
/// `disc.norm2..`, `disc.fc`.
#[derive(Debug)]
pub struct Dcgan {
    pub cfg: Config,
    pub gen: DcGenerator,
    pub disc: DcDiscriminator,
    device: Device,
}

impl Dcgan {
    /// Builds both players under `p / "gen"` and `p / "disc"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for data that are not square images whose side halves to a base of
    /// at least 4 (`data`), `latent_dim`, `gen_channels` or `disc_channels` below 1, batch norm
    /// in a WGAN-GP critic (`disc_norm`), or invalid [`Game`] settings.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let sizes = check(cfg)?;
        Ok(Dcgan {
            cfg: cfg.clone(),
            gen: DcGenerator::new(&(p / GEN), cfg, sizes),
            disc: DcDiscriminator::new(&(p / DISC), cfg, sizes)?,
            device: p.device(),
        })
    }
}

/// Checks a configuration (see [`Dcgan::new`]) and returns its sizes.
fn check(cfg: &Config) -> Result<Sizes> {
    let DataKind::Image {
        channels,
        height,
        width,
    } = cfg.data
    else {
        return Err(CoreError::config("data", "dcgan models images"));
    };
    let Some((base, levels)) = levels(height).filter(|_| height == width) else {
        return Err(CoreError::config(
            "data",
            format!("dcgan needs square images whose side halves to a base >= 4 (28, 32, 64, ...), got {height}x{width}"),
        ));
    };
    for (key, v) in [
        ("latent_dim", cfg.latent_dim),
        ("gen_channels", cfg.gen_channels),
        ("disc_channels", cfg.disc_channels),
    ] {
        if v < 1 {
            return Err(CoreError::config(key, "must be >= 1"));
        }
    }
    if cfg.game.objective == Objective::WganGp && cfg.disc_norm == Norm::Batch {
        return Err(CoreError::config(
            "disc_norm",
            "batch norm mixes the examples of a batch, which the per-example gradient penalty of wgan-gp forbids (Gulrajani et al. 2017, sec. 4): use \"layer\" or \"none\"",
        ));
    }
    cfg.game.validate()?;
    Ok(Sizes {
        channels,
        side: height,
        base,
        levels,
    })
}

impl Adversarial for Dcgan {
    fn name(&self) -> &str {
        "dcgan"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn game(&self) -> &Game {
        &self.cfg.game
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn latent_dim(&self) -> i64 {
        self.cfg.latent_dim
    }
    fn device(&self) -> Device {
        self.device
    }
    fn generate(&self, z: &Tensor, _y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.gen.forward(z, train)
    }
    fn disc_features(
        &self,
        x: &Tensor,
        _y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        self.disc.forward(x, train)
    }
    fn disc_params(&self) -> Vec<Tensor> {
        self.disc.params()
    }
    fn gen_params(&self) -> Vec<Tensor> {
        self.gen.params()
    }
}
