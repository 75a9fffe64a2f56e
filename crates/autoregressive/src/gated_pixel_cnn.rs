//! Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016,
//! "Conditional Image Generation with PixelCNN Decoders", sec. 2.1-2.3 and fig. 2).
//!
//! Two stacks without PixelCNN's blind spot: the *vertical* stack sees every row above (a
//! `(k/2 + 1) x k` convolution anchored at its bottom row), the *horizontal* stack the current row
//! to the left (a `1 x (k/2 + 1)` convolution, masked at the pixel itself: type A in the first
//! layer, B after). The vertical stack feeds the horizontal one through a 1x1 convolution of its
//! pre-activations moved down one row, so that row `i` receives rows `< i` only. Both stacks use
//! the gated unit `tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)` (eq. 2, 4), with `h` a class
//! embedding for the conditional model; the horizontal stack is residual after its first layer.
//!
//! Cached sampling (Ramachandran et al. 2017): the vertical stack is computed once per row,
//! after that row is drawn, and the horizontal stack once per position from the cached row of
//! each layer's input, so a step costs a few `1 x (k/2 + 1)` convolutions per layer instead of
//! the whole network.
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::layers::{gate, image_dims, image_likelihood, Head, PaddedCache};
use crate::masked_conv::{shift_down, ConvShape, MaskType, MaskedConv2d};
use crate::model::{check_input, commit, Autoregressive, CachedSample, SampleJob};
use crate::sampling;
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// Gated PixelCNN's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset).
    pub data: DataKind,
    /// Observation model per sub-pixel (`auto`: Bernoulli).
    pub likelihood: Likelihood,
    /// `p`: feature maps per stack (gates compute `2p`).
    pub hidden: i64,
    /// Gated layers (the first one of type A).
    pub layers: i64,
    /// Kernel size of the first layer.
    pub first_kernel: i64,
    /// Kernel size of later layers.
    pub kernel: i64,
    /// Width of the 1x1 output layers.
    pub head: i64,
    /// Condition on the dataset's class labels (a learned bias per class and layer, eq. 4).
    pub conditional: bool,
    /// Classes conditioned on (set from the dataset when `conditional`; 0 otherwise).
    pub num_classes: i64,
    /// Channels of a conditioning map `[n, m, h, w]` added to every layer through a 1x1
    /// convolution (`V * s` of eq. 5: a VLAE decoder's features); 0 for none.
    #[serde(default)]
    pub cond_channels: i64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset (data kind and classes filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (hidden, layers, first_kernel, head) = match name {
            // Sec. 3.1: 15 layers of 128 features (384 for ImageNet), 7x7 first, 3x3 after,
            // 1024-wide output layers.
            "paper" => (128, 15, 7, 1024),
            // Sized for 2 CPU cores (about 0.3 s per batch of 64 digits).
            "mnist" => (16, 5, 7, 32),
            "tiny" => (4, 3, 3, 8),
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
            layers,
            first_kernel,
            kernel: 3,
            head,
            conditional: false,
            num_classes: 0,
            cond_channels: 0,
        })
    }
}

#[derive(Debug)]
struct GatedLayer {
    v: MaskedConv2d,
    h: MaskedConv2d,
    link: MaskedConv2d,
    out: MaskedConv2d,
    class_bias: Option<Tensor>,
    cond: Option<MaskedConv2d>,
    residual: bool,
}

impl GatedLayer {
    fn new(
        p: &nn::Path,
        cin: i64,
        hidden: i64,
        k: i64,
        first: bool,
        c: i64,
        (classes, cond_channels): (i64, i64),
    ) -> Result<Self> {
        let h2 = 2 * hidden;
        let plain = |cin: i64, cout: i64, kernel: (i64, i64), anchor: (i64, i64), mask| ConvShape {
            in_channels: cin,
            out_channels: cout,
            kernel,
            anchor,
            mask,
            groups: c,
        };
        let mask = if first { MaskType::A } else { MaskType::B };
        Ok(GatedLayer {
            v: MaskedConv2d::new(
                &(p / "v"),
                plain(cin, h2, (k / 2 + 1, k), (k / 2, k / 2), None),
            )?,
            h: MaskedConv2d::new(
                &(p / "h"),
                plain(cin, h2, (1, k / 2 + 1), (0, k / 2), Some(mask)),
            )?,
            link: MaskedConv2d::new(&(p / "v_to_h"), plain(h2, h2, (1, 1), (0, 0), None))?,
            out: MaskedConv2d::new(&(p / "h_out"), ConvShape::pointwise(hidden, hidden, c))?,
            class_bias: (classes > 0).then(|| p.zeros("class_bias", &[classes, h2])),
            cond: (cond_channels > 0)
                .then(|| {
                    let shape = ConvShape {
                        groups: 1,
                        ..plain(cond_channels, h2, (1, 1), (0, 0), None)
                    };
                    MaskedConv2d::new(&(p / "cond"), shape)
                })
                .transpose()?,
            residual: !first,
        })
    }

    /// The conditioning term of both stacks' pre-activations: the class bias `[n, 2p, 1, 1]`
    /// plus the map's `[n, 2p, h, w]`, or `None` for an unconditional model.
    fn bias(&self, labels: Option<&Tensor>, map: Option<&Tensor>) -> Result<Option<Tensor>> {
        let class = match (&self.class_bias, labels) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(CoreError::Invalid(
                    "gated-pixelcnn is class-conditional: labels are required".into(),
                ))
            }
            (Some(b), Some(y)) => Some(b.f_index_select(0, y)?.f_unsqueeze(-1)?.f_unsqueeze(-1)?),
        };
        let spatial = match (&self.cond, map) {
            (None, None) => None,
            (Some(conv), Some(m)) => Some(conv.forward(m)?),
            (Some(_), None) => {
                return Err(CoreError::Invalid(
                    "this gated-pixelcnn is conditioned on a map: it is required".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(CoreError::Invalid(
                    "this gated-pixelcnn takes no conditioning map (cond_channels = 0)".into(),
                ))
            }
        };
        Ok(match (class, spatial) {
            (Some(a), Some(b)) => Some(a.f_add(&b)?),
            (a, b) => a.or(b),
        })
    }
}

/// The conditioning term at `(i, j)` (`None`: all rows) of a bias from [`GatedLayer::bias`].
fn bias_at(b: &Option<Tensor>, i: i64, j: Option<i64>) -> Result<Option<Tensor>> {
    let Some(b) = b else { return Ok(None) };
    if b.size()[2] == 1 {
        return Ok(Some(b.shallow_clone()));
    }
    let row = b.f_narrow(2, i, 1)?;
    Ok(Some(match j {
        Some(j) => row.f_narrow(3, j, 1)?,
        None => row,
    }))
}

fn add_bias(x: Tensor, b: &Option<Tensor>) -> Result<Tensor> {
    Ok(match b {
        Some(b) => x.f_add(b)?,
        None => x,
    })
}

/// The Gated PixelCNN network.
#[derive(Debug)]
pub struct GatedPixelCnn {
    pub cfg: Config,
    lik: Likelihood,
    layers: Vec<GatedLayer>,
    head: Head,
    device: tch::Device,
}

impl GatedPixelCnn {
    /// # Errors
    /// [`CoreError::Config`] for non-image data, a Gaussian likelihood, no layers, even kernels,
    /// a conditional model without classes, or (RGB) widths that do not split into three colour
    /// groups.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        // Images: c channels, c colour groups, the likelihood's P parameters per sub-pixel.
        // Code grids (a prior over VQ codes): K one-hot input channels, one K-way softmax.
        let (c_in, groups, lik, params) = match cfg.data {
            DataKind::Categorical { levels, .. } => (levels, 1, Likelihood::Categorical, levels),
            kind => {
                let (c, _, _) = image_dims(&kind)?;
                let lik = image_likelihood(cfg.likelihood)?;
                (c, c, lik, lik.params())
            }
        };
        if cfg.layers < 1 || cfg.first_kernel % 2 == 0 || cfg.kernel % 2 == 0 {
            return Err(CoreError::config(
                "gated-pixelcnn",
                "needs at least one layer and odd kernels",
            ));
        }
        if cfg.conditional && cfg.num_classes < 1 {
            return Err(CoreError::config(
                "conditional",
                "a class-conditional Gated PixelCNN needs labelled data",
            ));
        }
        let classes = if cfg.conditional { cfg.num_classes } else { 0 };
        if cfg.cond_channels < 0 {
            return Err(CoreError::config("cond_channels", "must be >= 0"));
        }
        let layers = (0..cfg.layers)
            .map(|l| {
                let (cin, k) = if l == 0 {
                    (c_in, cfg.first_kernel)
                } else {
                    (cfg.hidden, cfg.kernel)
                };
                GatedLayer::new(
                    &(p / format!("layer{l}")),
                    cin,
                    cfg.hidden,
                    k,
                    l == 0,
                    groups,
                    (classes, cfg.cond_channels),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GatedPixelCnn {
            cfg: cfg.clone(),
            lik,
            layers,
            head: Head::with_params(&(p / "head"), cfg.hidden, cfg.head, groups, params)?,
            device: p.device(),
        })
    }
}

impl Autoregressive for GatedPixelCnn {
    fn name(&self) -> &str {
        "gated-pixelcnn"
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
    fn num_classes(&self) -> i64 {
        if self.cfg.conditional {
            self.cfg.num_classes
        } else {
            0
        }
    }
    fn params(&self, input: &Tensor, labels: Option<&Tensor>, _train: bool) -> Result<Tensor> {
        check_input(&self.cfg.data, input)?;
        self.forward(input, labels, None)
    }
    fn cached(&self) -> Option<&dyn CachedSample> {
        Some(self)
    }
}

impl GatedPixelCnn {
    /// Both stacks and the head on network input `x [n, c_in, h, w]` (pixels, or one-hot codes for
    /// a code grid), with labels and a conditioning map `[n, cond_channels, h, w]` where the model
    /// takes them: parameters `[n, P, groups, h, w]`.
    ///
    /// # Errors
    /// A missing or unexpected condition, or a libtorch error for input of the wrong width.
    pub fn forward(
        &self,
        input: &Tensor,
        labels: Option<&Tensor>,
        map: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (mut v, mut h) = (input.shallow_clone(), input.shallow_clone());
        for l in &self.layers {
            let bias = l.bias(labels, map)?;
            let v_pre = add_bias(l.v.forward(&v)?, &bias)?;
            let h_pre =
                l.h.forward(&h)?
                    .f_add(&l.link.forward(&shift_down(&v_pre)?)?)?;
            let h_new = l.out.forward(&gate(&add_bias(h_pre, &bias)?)?)?;
            h = if l.residual { h.f_add(&h_new)? } else { h_new };
            v = gate(&v_pre)?;
        }
        self.head.forward(&h)
    }
}

/// Per-layer state of one cached sampling run.
struct LayerCache {
    /// The layer's vertical input, padded for its vertical kernel.
    v_in: PaddedCache,
    /// The current row of the layer's horizontal input, padded for its horizontal kernel.
    h_in: PaddedCache,
    /// The link from the vertical stack into the current row, `[n, 2p, 1, w]`.
    link: Tensor,
    bias: Option<Tensor>,
    w: [Tensor; 4],
}

impl GatedPixelCnn {
    fn caches(&self, n: i64, job: &SampleJob, like: &Tensor) -> Result<Vec<LayerCache>> {
        let (c, h, w) = image_dims(&self.cfg.data)?;
        self.layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let cin = if k == 0 { c } else { self.cfg.hidden };
                let bias = l.bias(job.labels, job.cond_map)?;
                let zero_row =
                    Tensor::f_zeros([n, 2 * self.cfg.hidden, 1, w], (Kind::Float, like.device()))?;
                Ok(LayerCache {
                    v_in: PaddedCache::new(n, cin, h, w, &l.v.shape, like)?,
                    h_in: PaddedCache::new(n, cin, 1, w, &l.h.shape, like)?,
                    // Row 0 receives the zero row that `shift_down` puts on top.
                    link: l.link.forward(&zero_row)?,
                    bias,
                    w: [
                        l.v.masked_weight(),
                        l.h.masked_weight(),
                        l.link.masked_weight(),
                        l.out.masked_weight(),
                    ],
                })
            })
            .collect()
    }

    /// The horizontal stack and head at `(i, j)` from the caches: parameters `[n, c, P]`. The
    /// first layer's row cache is the canvas row, written by the caller after every draw.
    fn step(
        &self,
        caches: &[LayerCache],
        (i, j): (i64, i64),
        w_head: &(Tensor, Tensor),
    ) -> Result<Tensor> {
        let mut x: Option<Tensor> = None;
        for (l, cache) in self.layers.iter().zip(caches) {
            if let Some(x) = &x {
                cache.h_in.set(0, j, x)?;
            }
            let pre = l.h.forward_valid(&cache.h_in.window(0, j)?, &cache.w[1])?;
            let bias = bias_at(&cache.bias, i, Some(j))?;
            let pre = add_bias(pre.f_add(&cache.link.f_narrow(3, j, 1)?)?, &bias)?;
            let new = l.out.forward_valid(&gate(&pre)?, &cache.w[3])?;
            x = Some(match x {
                Some(prev) if l.residual => prev.f_add(&new)?,
                _ => new,
            });
        }
        let x = x.ok_or_else(|| CoreError::Invalid("gated-pixelcnn has no layers".into()))?;
        self.head.at(&x, w_head)
    }

    /// After row `i` is drawn: the vertical stack's row `i` in every layer, and the links into
    /// row `i + 1`.
    fn finish_row(&self, caches: &mut [LayerCache], canvas: &Tensor, i: i64) -> Result<()> {
        let mut x = canvas.f_narrow(2, i, 1)?;
        for (l, cache) in self.layers.iter().zip(caches.iter_mut()) {
            cache.v_in.set_row(i, &x)?;
            let pre = l.v.forward_valid(&cache.v_in.row_window(i)?, &cache.w[0])?;
            let pre = add_bias(pre, &bias_at(&cache.bias, i, None)?)?;
            cache.link = l.link.forward_valid(&pre, &cache.w[2])?;
            x = gate(&pre)?;
        }
        Ok(())
    }
}

impl CachedSample for GatedPixelCnn {
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor> {
        let (c, h, w) = image_dims(&self.cfg.data)?;
        let n = job.n;
        let canvas = Tensor::f_zeros([n, c, h, w], (Kind::Float, job.u.device()))?;
        let mut caches = self.caches(n, job, &canvas)?;
        let w_head = self.head.weights();
        for i in 0..h {
            for j in 0..w {
                for ch in 0..c {
                    let params = self.step(&caches, (i, j), &w_head)?.f_select(1, ch)?;
                    let f = ch * h * w + i * w + j;
                    let value =
                        sampling::draw(self.lik, &params, &job.u.f_select(1, f)?, job.temperature)?;
                    commit(&canvas, f, self.lik, &value, job)?;
                    let pixel = canvas.f_narrow(2, i, 1)?.f_narrow(3, j, 1)?;
                    caches[0].h_in.set(0, j, &pixel)?;
                }
            }
            self.finish_row(&mut caches, &canvas, i)?;
        }
        Ok(canvas)
    }
}
