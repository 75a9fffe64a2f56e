//! PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
//! sec. 3.4, fig. 5 and table 1): a `k0 x k0` masked convolution of type A, residual blocks
//! (ReLU, 1x1 `2h -> h`, ReLU, `k x k` masked convolution of type B, ReLU, 1x1 `h -> 2h`, plus the
//! block's input), then ReLU, 1x1, ReLU, 1x1 to the observation model's parameters: Bernoulli for
//! binarized digits, the 256-way softmax for 8-bit grey or RGB (R, then G given R, then B given R
//! and G, by the channel masks), or a discretized logistic.
//!
//! Its receptive field has the blind spot of stacked masked convolutions (fig. 1 of the Gated
//! PixelCNN paper): the tests show it by gradients. Sampling is cached: every layer keeps its
//! input map and each step computes one position per layer (Ramachandran et al. 2017).
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::layers::{image_dims, image_likelihood, Head, PaddedCache};
use crate::masked_conv::{ConvShape, MaskType, MaskedConv2d};
use crate::model::{commit, Autoregressive, CachedSample, SampleJob};
use crate::sampling;
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// PixelCNN's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset).
    pub data: DataKind,
    /// Observation model per sub-pixel (`auto`: Bernoulli).
    pub likelihood: Likelihood,
    /// `h`: residual blocks carry `2h` channels.
    pub hidden: i64,
    /// Number of residual blocks.
    pub blocks: i64,
    /// Kernel of the first (type A) convolution.
    pub first_kernel: i64,
    /// Kernel of the blocks' masked convolutions.
    pub kernel: i64,
    /// Width of the 1x1 output layers.
    pub head: i64,
}

/// Preset names: the paper's CIFAR-10 setting, one that learns digits in minutes, and `tiny`.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (hidden, blocks, first_kernel, head) = match name {
            // Table 1 / sec. 5: h = 128, 15 blocks, 7x7 then 3x3, 1024-wide output layers.
            "paper" => (128, 15, 7, 1024),
            // Sized for 2 CPU cores.
            "mnist" => (12, 5, 7, 32),
            "tiny" => (3, 2, 3, 6),
            _ => return None,
        };
        Some(Config {
            data: DataKind::Image {
                channels: 1,
                height: 28,
                width: 28,
            },
            likelihood: Likelihood::Auto,
            hidden,
            blocks,
            first_kernel,
            kernel: 3,
            head,
        })
    }
}

#[derive(Debug)]
struct Block {
    reduce: MaskedConv2d,
    conv: MaskedConv2d,
    expand: MaskedConv2d,
}

/// The PixelCNN network.
#[derive(Debug)]
pub struct PixelCnn {
    pub cfg: Config,
    lik: Likelihood,
    first: MaskedConv2d,
    blocks: Vec<Block>,
    head: Head,
    device: tch::Device,
}

impl PixelCnn {
    /// # Errors
    /// [`CoreError::Config`] for non-image data, a Gaussian likelihood, non-positive sizes, even
    /// kernels, or (RGB) widths that do not split into three colour groups.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let (c, _, _) = image_dims(&cfg.data)?;
        let lik = image_likelihood(cfg.likelihood)?;
        if cfg.blocks < 0 || cfg.first_kernel % 2 == 0 || cfg.kernel % 2 == 0 {
            return Err(CoreError::config(
                "pixelcnn",
                "blocks must be >= 0 and kernels odd",
            ));
        }
        let h2 = 2 * cfg.hidden;
        let first = MaskedConv2d::new(
            &(p / "conv_a"),
            ConvShape::centred(c, h2, cfg.first_kernel, MaskType::A, c),
        )?;
        let blocks = (0..cfg.blocks)
            .map(|b| {
                let q = p / format!("block{b}");
                Ok(Block {
                    reduce: MaskedConv2d::new(
                        &(&q / "reduce"),
                        ConvShape::pointwise(h2, cfg.hidden, c),
                    )?,
                    conv: MaskedConv2d::new(
                        &(&q / "conv_b"),
                        ConvShape::centred(cfg.hidden, cfg.hidden, cfg.kernel, MaskType::B, c),
                    )?,
                    expand: MaskedConv2d::new(
                        &(&q / "expand"),
                        ConvShape::pointwise(cfg.hidden, h2, c),
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PixelCnn {
            cfg: cfg.clone(),
            lik,
            first,
            blocks,
            head: Head::new(&(p / "head"), h2, cfg.head, c, lik)?,
            device: p.device(),
        })
    }
}

impl Autoregressive for PixelCnn {
    fn name(&self) -> &str {
        "pixelcnn"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn device(&self) -> tch::Device {
        self.device
    }
    fn likelihood(&self) -> Likelihood {
        self.lik
    }
    fn params(&self, input: &Tensor, _labels: Option<&Tensor>, _train: bool) -> Result<Tensor> {
        crate::model::check_input(&self.cfg.data, input)?;
        let mut x = self.first.forward(input)?;
        for b in &self.blocks {
            let r = b.reduce.forward(&x.f_relu()?)?.f_relu()?;
            let r = b.conv.forward(&r)?.f_relu()?;
            x = x.f_add(&b.expand.forward(&r)?)?;
        }
        self.head.forward(&x)
    }
    fn cached(&self) -> Option<&dyn CachedSample> {
        Some(self)
    }
}

impl CachedSample for PixelCnn {
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor> {
        let (c, h, w) = image_dims(&self.cfg.data)?;
        let n = job.n;
        let canvas = Tensor::f_zeros([n, c, h, w], (tch::Kind::Float, job.u.device()))?;
        // Each masked k x k convolution keeps its input map; 1x1 layers need no cache.
        let input = PaddedCache::new(n, c, h, w, &self.first.shape, &canvas)?;
        let mids = self
            .blocks
            .iter()
            .map(|b| PaddedCache::new(n, self.cfg.hidden, h, w, &b.conv.shape, &canvas))
            .collect::<Result<Vec<_>>>()?;
        let w_first = self.first.masked_weight();
        let wb: Vec<_> = self
            .blocks
            .iter()
            .map(|b| {
                (
                    b.reduce.masked_weight(),
                    b.conv.masked_weight(),
                    b.expand.masked_weight(),
                )
            })
            .collect();
        let w_head = self.head.weights();
        let hw = h * w;
        for i in 0..h {
            for j in 0..w {
                for ch in 0..c {
                    let mut x = self.first.forward_valid(&input.window(i, j)?, &w_first)?;
                    for ((b, cache), (wr, wc, we)) in self.blocks.iter().zip(&mids).zip(&wb) {
                        let r = b.reduce.forward_valid(&x.f_relu()?, wr)?.f_relu()?;
                        cache.set(i, j, &r)?;
                        let r = b.conv.forward_valid(&cache.window(i, j)?, wc)?.f_relu()?;
                        x = x.f_add(&b.expand.forward_valid(&r, we)?)?;
                    }
                    let params = self.head.at(&x, &w_head)?.f_select(1, ch)?; // [n, P]
                    let f = ch * hw + i * w + j;
                    let value =
                        sampling::draw(self.lik, &params, &job.u.f_select(1, f)?, job.temperature)?;
                    commit(&canvas, f, self.lik, &value, job)?;
                    // The first layer reads the canvas: keep its cache up to date after each draw.
                    input.set(i, j, &canvas.f_narrow(2, i, 1)?.f_narrow(3, j, 1)?)?;
                }
            }
        }
        Ok(canvas)
    }
}
