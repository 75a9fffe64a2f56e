//! PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017, "PixelCNN++: Improving the PixelCNN with
//! Discretized Logistic Mixture Likelihood and Other Modifications"), following the reference
//! implementation (`pixel_cnn_pp/model.py`, `nn.py`):
//!
//! * the discretized logistic mixture over a whole pixel (sec. 2.1-2.2): K mixture weights shared
//!   by the pixel's channels, the means of G and B shifted linearly by the true R (and G), from
//!   `genzoo_core::dist::dmol` ([`dmol::pixelcnnpp_log_prob`], [`dmol::pixelcnnpp_sample`]);
//!   the data enter the network rescaled to [-1, 1];
//! * down-shifted (2x3) and down-right-shifted (2x2) convolutions in place of masks, in two
//!   streams: `u` sees the rows above, `ul` the rows above and the pixels to the left (no blind
//!   spot); the first layer shifts once, so that a pixel never sees itself;
//! * gated resnet blocks: `concat_elu`, convolution, plus a 1x1 of the auxiliary input (`u` for
//!   `ul`; the down pass's short-cut in the up pass), `concat_elu`, dropout (sec. 2.5),
//!   convolution to `2F`, `a * sigmoid(b)`, plus the block's input;
//! * `stages` resolutions joined by stride-2 shifted convolutions (down) and stride-2 transposed
//!   shifted convolutions (up) (sec. 2.3), with a short-cut from every down-pass layer to the
//!   matching up-pass layer (sec. 2.4, fig. 2): the U-net shape.
//!
//! Left out: weight normalization with its data-dependent initialisation, and class conditioning.
//!
//! Sampling: the mixture couples a pixel's channels, so the `[n, P, c, h, w]` conditionals of
//! [`Autoregressive::params`] cannot feed the generic per-sub-pixel sampler
//! ([`crate::model::sample_naive`]). The model samples itself through the
//! [`CachedSample`] hook: one network pass per pixel (naive, on the rows that can reach it), all
//! channels of the pixel drawn at once by [`dmol::pixelcnnpp_sample`] from torch's generator,
//! seeded in [`Autoregressive::begin_sampling`]. The same seed gives the same samples on one
//! device; the crate's per-position uniforms are not used, and the temperature must be 1.
//! [`Autoregressive::naive_sampling`] is false, so `Ar` uses this sampler whatever
//! [`crate::model::SampleOptions::cached`] says.
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::layers::image_dims;
use crate::masked_conv::shift_down;
use crate::model::{check_input, Autoregressive, CachedSample, SampleJob};
use genzoo_core::data::DataKind;
use genzoo_core::dist::dmol;
use genzoo_core::obs::{Likelihood, Prepared};
use genzoo_core::{CoreError, Result};

/// PixelCNN++'s configuration (the reference's names in brackets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset): 8-bit, 1 or 3 channels.
    pub data: DataKind,
    /// Feature maps of both streams (`nr_filters`).
    pub filters: i64,
    /// Gated resnet blocks per stage of the down pass (`nr_resnet`); the up pass has one more in
    /// every stage but the lowest.
    pub blocks: i64,
    /// Resolutions (3 in the paper: 32x32, 16x16, 8x8); height and width must divide by
    /// `2^(stages - 1)`.
    pub stages: i64,
    /// Logistic mixture components per pixel (`nr_logistic_mix`).
    pub mixtures: i64,
    /// Dropout rate inside every block, in training (`dropout_p`).
    pub dropout: f64,
}

/// Preset names: one that learns digits on 2 CPU cores, the paper's CIFAR-10 setting, `tiny`.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (filters, blocks, mixtures, dropout, channels, side) = match name {
            // Sec. 3 and the reference's defaults: 160 filters, 5 blocks per stage, 10
            // components, dropout 0.5 (53.6M weights).
            "paper" => (160, 5, 10, 0.5, 3, 32),
            // Sized for 2 CPU cores.
            "mnist" => (32, 1, 5, 0.0, 1, 28),
            "tiny" => (8, 1, 2, 0.0, 1, 28),
            _ => return None,
        };
        Some(Config {
            data: DataKind::Image {
                channels,
                height: side,
                width: side,
            },
            filters,
            blocks,
            stages: 3,
            mixtures,
            dropout,
        })
    }

    /// Checks the sizes against the data; the image's `(c, h, w)`.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the key: `data` (not an image of 1 or 3 channels),
    /// `filters`, `blocks`, `mixtures`, `dropout`, or `stages` (out of 1..=8, or an image whose
    /// height or width the stages cannot halve).
    pub fn check(&self) -> Result<(i64, i64, i64)> {
        let (c, h, w) = image_dims(&self.data)?;
        let f = 1i64 << (self.stages.clamp(1, 8) - 1);
        let halve = format!(
            "{} stages halve the image {} times: height {h} and width {w} must both be divisible \
             by {f}",
            self.stages,
            self.stages - 1
        );
        let checks = [
            (
                c == 1 || c == 3,
                "data",
                format!("PixelCNN++ models grey or RGB pixels, got {c} channels"),
            ),
            (self.filters >= 1, "filters", "must be >= 1".into()),
            (self.blocks >= 0, "blocks", "must be >= 0".into()),
            (self.mixtures >= 1, "mixtures", "must be >= 1".into()),
            (
                (0.0..1.0).contains(&self.dropout),
                "dropout",
                "must lie in [0, 1)".into(),
            ),
            (
                (1..=8).contains(&self.stages),
                "stages",
                "must lie in 1..=8".into(),
            ),
            (h % f == 0 && w % f == 0, "stages", halve),
        ];
        match checks.into_iter().find(|(ok, ..)| !ok) {
            Some((_, key, msg)) => Err(CoreError::config(key, msg)),
            None => Ok((c, h, w)),
        }
    }
}

/// What a shifted convolution's output at `(i, j)` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shift {
    /// Rows `<= i`, columns centred on `j` (`down_shifted_conv2d`, 2x3).
    Down,
    /// Rows `<= i`, columns `<= j` (`down_right_shifted_conv2d`, 2x2).
    DownRight,
}

impl Shift {
    fn kernel(self) -> (i64, i64) {
        match self {
            Shift::Down => (2, 3),
            Shift::DownRight => (2, 2),
        }
    }
}

/// A shifted convolution, or its transposed (up-sampling) form, with weights `weight` and `bias`
/// under its path; a 1x1 (`nin`) is a `Down` convolution with a 1x1 kernel.
#[derive(Debug)]
struct Conv {
    weight: Tensor,
    bias: Tensor,
    shift: Shift,
    kernel: (i64, i64),
    stride: i64,
    transposed: bool,
}

impl Conv {
    /// Initialised as `nn::conv2d` does (Kaiming-uniform weight, uniform bias in `±1/sqrt(fan_in)`).
    fn new(
        p: &nn::Path,
        (cin, cout): (i64, i64),
        shift: Shift,
        kernel: (i64, i64),
        stride: i64,
        transposed: bool,
    ) -> Self {
        let (kh, kw) = kernel;
        let shape = if transposed {
            [cin, cout, kh, kw]
        } else {
            [cout, cin, kh, kw]
        };
        let bound = 1.0 / ((shape[1] * kh * kw) as f64).sqrt();
        Conv {
            weight: p.var("weight", &shape, nn::init::DEFAULT_KAIMING_UNIFORM),
            bias: p.var(
                "bias",
                &[cout],
                nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            ),
            shift,
            kernel,
            stride,
            transposed,
        }
    }

    /// A 1x1 convolution (`nin`).
    fn nin(p: &nn::Path, cin: i64, cout: i64) -> Self {
        Conv::new(p, (cin, cout), Shift::Down, (1, 1), 1, false)
    }

    /// `x [b, cin, h, w]` -> `[b, cout, h / stride, w / stride]` (or `* 2` when transposed).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (kh, kw) = self.kernel;
        let s = [self.stride, self.stride];
        if !self.transposed {
            let pad = match self.shift {
                Shift::Down => [(kw - 1) / 2, (kw - 1) / 2, kh - 1, 0],
                Shift::DownRight => [kw - 1, 0, kh - 1, 0],
            };
            let padded = x.f_constant_pad_nd(pad)?;
            return Ok(padded.f_conv2d(&self.weight, Some(&self.bias), s, [0, 0], [1, 1], 1)?);
        }
        // A "valid" transposed convolution, `2h + kh - 1` rows, cropped back to `2h` as the
        // reference does: the bottom rows, and the columns that would look right of `j`.
        let o = self.stride - 1;
        let y =
            x.f_conv_transpose2d(&self.weight, Some(&self.bias), s, [0, 0], [o, o], 1, [1, 1])?;
        let (h, w) = (y.size()[2], y.size()[3]);
        let (left, width) = match self.shift {
            Shift::Down => ((kw - 1) / 2, w - 2 * ((kw - 1) / 2)),
            Shift::DownRight => (0, w - kw + 1),
        };
        Ok(y.f_narrow(2, 0, h - kh + 1)?.f_narrow(3, left, width)?)
    }
}

/// `x [b, c, h, w]` moved right by one column (a zero column on the left, the last dropped).
fn shift_right(x: &Tensor) -> Result<Tensor> {
    let w = x.size()[3];
    Ok(x.f_constant_pad_nd([1, 0, 0, 0])?.f_narrow(3, 0, w)?)
}

/// `elu([x, -x])` over channels: `[b, c, h, w]` -> `[b, 2c, h, w]`.
fn concat_elu(x: &Tensor) -> Result<Tensor> {
    Ok(Tensor::f_cat(&[x, &x.f_neg()?], 1)?.f_elu()?)
}

/// A gated resnet block of `f` channels (reference `gated_resnet`).
#[derive(Debug)]
struct GatedResnet {
    conv1: Conv,
    aux: Option<Conv>,
    conv2: Conv,
}

impl GatedResnet {
    /// `aux`: channels of the auxiliary input (0: none).
    fn new(p: &nn::Path, f: i64, shift: Shift, aux: i64) -> Self {
        let k = shift.kernel();
        let conv2 = Conv::new(&(p / "conv2"), (2 * f, 2 * f), shift, k, 1, false);
        // The reference initialises the last convolution at 0.1 of the usual scale.
        tch::no_grad(|| {
            let _ = conv2.weight.shallow_clone().f_mul_scalar_(0.1);
        });
        GatedResnet {
            conv1: Conv::new(&(p / "conv1"), (2 * f, f), shift, k, 1, false),
            aux: (aux > 0).then(|| Conv::nin(&(p / "aux"), 2 * aux, f)),
            conv2,
        }
    }

    fn forward(&self, x: &Tensor, a: Option<&Tensor>, dropout: f64, train: bool) -> Result<Tensor> {
        let mut c1 = self.conv1.forward(&concat_elu(x)?)?;
        match (&self.aux, a) {
            (Some(nin), Some(a)) => c1 = c1.f_add(&nin.forward(&concat_elu(a)?)?)?,
            (None, None) => {}
            _ => {
                return Err(CoreError::Invalid(
                    "gated resnet: auxiliary input mismatch".into(),
                ))
            }
        }
        let c1 = concat_elu(&c1)?.f_dropout(dropout, train)?;
        let c2 = self.conv2.forward(&c1)?;
        let f = x.size()[1];
        let gated = c2
            .f_narrow(1, 0, f)?
            .f_mul(&c2.f_narrow(1, f, f)?.f_sigmoid()?)?;
        Ok(x.f_add(&gated)?)
    }
}

/// The blocks of one resolution: `u` and `ul` streams side by side.
#[derive(Debug)]
struct Stage {
    u: Vec<GatedResnet>,
    ul: Vec<GatedResnet>,
}

impl Stage {
    /// `n` block pairs; `ul` takes `u` (down pass), or `u` and the short-cut (up pass).
    fn new(p: &nn::Path, n: i64, f: i64, up: bool) -> Self {
        let (aux_u, aux_ul) = if up { (f, 2 * f) } else { (0, f) };
        Stage {
            u: (0..n)
                .map(|b| GatedResnet::new(&(p / format!("u{b}")), f, Shift::Down, aux_u))
                .collect(),
            ul: (0..n)
                .map(|b| GatedResnet::new(&(p / format!("ul{b}")), f, Shift::DownRight, aux_ul))
                .collect(),
        }
    }
}

/// The stride-2 convolutions between two resolutions, one per stream: shifted convolutions
/// down, transposed shifted convolutions (`down_shifted_deconv2d`, ...) up.
#[derive(Debug)]
struct Resample {
    u: Conv,
    ul: Conv,
}

impl Resample {
    fn new(p: &nn::Path, f: i64, up: bool) -> Self {
        let conv = |name: &str, s: Shift| Conv::new(&(p / name), (f, f), s, s.kernel(), 2, up);
        Resample {
            u: conv("u", Shift::Down),
            ul: conv("ul", Shift::DownRight),
        }
    }
}

/// The PixelCNN++ network.
#[derive(Debug)]
pub struct PixelCnnPp {
    pub cfg: Config,
    channels: i64,
    first_u: Conv,
    first_ul_down: Conv,
    first_ul_right: Conv,
    down: Vec<Stage>,
    down_resample: Vec<Resample>,
    up: Vec<Stage>,
    up_resample: Vec<Resample>,
    out: Conv,
    device: tch::Device,
}

impl PixelCnnPp {
    /// # Errors
    /// [`CoreError::Config`] as [`Config::check`].
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let (c, _, _) = cfg.check()?;
        let f = cfg.filters;
        // The input: the image and a channel of ones, which tells it from the zero padding.
        let first = |name: &str, s: Shift, k| Conv::new(&(p / name), (c + 1, f), s, k, 1, false);
        let stage = |name: String, n, up| Stage::new(&(p / name), n, f, up);
        Ok(PixelCnnPp {
            cfg: cfg.clone(),
            channels: c,
            first_u: first("first_u", Shift::Down, (2, 3)),
            first_ul_down: first("first_ul_down", Shift::Down, (1, 3)),
            first_ul_right: first("first_ul_right", Shift::DownRight, (2, 1)),
            down: (0..cfg.stages)
                .map(|s| stage(format!("down{s}"), cfg.blocks, false))
                .collect(),
            down_resample: (1..cfg.stages)
                .map(|s| Resample::new(&(p / format!("downsample{s}")), f, false))
                .collect(),
            // Lowest resolution first; every later stage has one block more (for the short-cut
            // from the down pass's resampling layer).
            up: (0..cfg.stages)
                .map(|s| stage(format!("up{s}"), cfg.blocks + i64::from(s > 0), true))
                .collect(),
            up_resample: (1..cfg.stages)
                .map(|s| Resample::new(&(p / format!("upsample{s}")), f, true))
                .collect(),
            out: Conv::nin(&(p / "out"), f, if c == 1 { 3 } else { 10 } * cfg.mixtures),
            device: p.device(),
        })
    }

    /// The mixture parameters of every pixel, `[n, P, h, w]` in the layout of
    /// [`dmol::pixelcnnpp_log_prob`] (P = 3K grey, 10K RGB), from `input [n, c, h, w]` in
    /// \[0,1\] (level / 255). Any height and width that the stages can halve are accepted; the
    /// parameters of pixel `(i, j)` depend only on the input at pixels before it in raster order.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`input`) for another channel count or a height or width not divisible
    /// by `2^(stages - 1)`; a libtorch error.
    pub fn mixture_params(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        let s = input.size();
        let f = 1i64 << (self.cfg.stages - 1);
        if s.len() != 4 || s[1] != self.channels || s[2] % f != 0 || s[3] % f != 0 {
            return Err(CoreError::shape(
                "input",
                format!(
                    "expected [n, {}, h, w] with h and w divisible by {f}, got {s:?}",
                    self.channels
                ),
            ));
        }
        let x = input.f_mul_scalar(2.0)?.f_sub_scalar(1.0)?;
        let ones = Tensor::f_ones([s[0], 1, s[2], s[3]], (x.kind(), x.device()))?;
        let x = Tensor::f_cat(&[&x, &ones], 1)?;
        let (us, uls) = self.down_pass(&x, train)?;
        self.up_pass(us, uls, train)
    }

    /// The down pass: every layer's output of both streams, in order (the short-cuts).
    fn down_pass(&self, x: &Tensor, train: bool) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let d = self.cfg.dropout;
        let mut us = vec![shift_down(&self.first_u.forward(x)?)?];
        let ul = shift_down(&self.first_ul_down.forward(x)?)?
            .f_add(&shift_right(&self.first_ul_right.forward(x)?)?)?;
        let mut uls = vec![ul];
        for (s, stage) in self.down.iter().enumerate() {
            if s > 0 {
                let r = &self.down_resample[s - 1];
                let (u, ul) = (
                    r.u.forward(&us[us.len() - 1])?,
                    r.ul.forward(&uls[uls.len() - 1])?,
                );
                us.push(u);
                uls.push(ul);
            }
            for (bu, bul) in stage.u.iter().zip(&stage.ul) {
                let u = bu.forward(&us[us.len() - 1], None, d, train)?;
                let ul = bul.forward(&uls[uls.len() - 1], Some(&u), d, train)?;
                us.push(u);
                uls.push(ul);
            }
        }
        Ok((us, uls))
    }

    /// The up pass over the down pass's outputs (consumed last to first), then the 1x1 output.
    fn up_pass(&self, mut us: Vec<Tensor>, mut uls: Vec<Tensor>, train: bool) -> Result<Tensor> {
        let d = self.cfg.dropout;
        let pop = |v: &mut Vec<Tensor>| {
            v.pop()
                .ok_or_else(|| CoreError::Invalid("pixelcnn++: short-cuts out of step".into()))
        };
        let (mut u, mut ul) = (pop(&mut us)?, pop(&mut uls)?);
        for (s, stage) in self.up.iter().enumerate() {
            if s > 0 {
                let r = &self.up_resample[s - 1];
                u = r.u.forward(&u)?;
                ul = r.ul.forward(&ul)?;
            }
            for (bu, bul) in stage.u.iter().zip(&stage.ul) {
                u = bu.forward(&u, Some(&pop(&mut us)?), d, train)?;
                let a = Tensor::f_cat(&[&u, &pop(&mut uls)?], 1)?;
                ul = bul.forward(&ul, Some(&a), d, train)?;
            }
        }
        self.out.forward(&ul.f_elu()?)
    }

    /// `log p(x_ij | x_<ij)` of every pixel, `[n, h, w]` in nats: `input [n, c, h, w]` in
    /// \[0,1\] and `target` the same pixels as levels 0..255 (any integer or float kind).
    ///
    /// # Errors
    /// As [`PixelCnnPp::mixture_params`]; [`CoreError::Shape`] when `target` does not match.
    pub fn pixel_log_prob(&self, input: &Tensor, target: &Tensor, train: bool) -> Result<Tensor> {
        let l = self.mixture_params(input, train)?;
        let x = dmol::levels_to_unit(target, 256, Kind::Float)?;
        dmol::pixelcnnpp_log_prob(&x, &l)
    }
}

impl Autoregressive for PixelCnnPp {
    fn name(&self) -> &str {
        "pixelcnn++"
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
    /// `Logistic` for what it shares with the mixture: `u8` data prepared as level/255 inputs and
    /// integer targets, NLLs in bits/dim. The log-likelihood itself is the mixture's.
    fn likelihood(&self) -> Likelihood {
        Likelihood::Logistic
    }
    /// The mixture parameters of each pixel, `[n, P, c, h, w]`: the same for every channel of a
    /// pixel (the mixture couples them), so they depend only on earlier pixels, not on the
    /// pixel's own earlier channels.
    fn params(&self, input: &Tensor, _labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        check_input(&self.cfg.data, input)?;
        let l = self.mixture_params(input, train)?;
        let s = l.size();
        Ok(l.f_unsqueeze(2)?
            .f_expand([s[0], s[1], self.channels, s[2], s[3]], false)?)
    }
    fn log_prob(&self, prep: &Prepared, _labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        check_input(&self.cfg.data, &prep.input)?;
        let lp = self.pixel_log_prob(&prep.input, &prep.target, train)?;
        Ok(lp.f_sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float)?)
    }
    fn begin_sampling(&self, seed: u64) -> Result<()> {
        genzoo_core::seed::seed_torch_stream(seed, "pixelcnn++-sample", 0);
        Ok(())
    }
    /// Not a cache: the model's own (naive) sampler, see the module doc.
    fn cached(&self) -> Option<&dyn CachedSample> {
        Some(self)
    }
    fn naive_sampling(&self) -> bool {
        false
    }
}

impl CachedSample for PixelCnnPp {
    /// One pass per pixel in raster order over the rows that can reach it (the shifted
    /// convolutions never look down, so the rows below change nothing), then all channels of the
    /// pixel from [`dmol::pixelcnnpp_sample`]. Known values (`job.known`) are kept per channel;
    /// the other channels of a partly known pixel are drawn with the pixel, not given the known
    /// ones. Samples in \[0,1\] (level / 255), `f32 [n, c, h, w]`.
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor> {
        if job.temperature != 1.0 {
            return Err(CoreError::config(
                "temperature",
                format!(
                    "pixelcnn++ samples its mixture at temperature 1 only, got {}",
                    job.temperature
                ),
            ));
        }
        let (c, h, w) = image_dims(&self.cfg.data)?;
        let f = 1i64 << (self.cfg.stages - 1);
        let canvas = Tensor::f_zeros([job.n, c, h, w], (Kind::Float, job.u.device()))?;
        let at = |t: &Tensor, i: i64, j: i64| -> Result<Tensor> {
            Ok(t.f_narrow(2, i, 1)?.f_narrow(3, j, 1)?)
        };
        tch::no_grad(|| {
            for i in 0..h {
                let rows = ((i / f + 1) * f).min(h);
                for j in 0..w {
                    let l = self.mixture_params(&canvas.f_narrow(2, 0, rows)?, false)?;
                    let x = dmol::pixelcnnpp_sample(&at(&l, i, j)?, c)?; // [n, c, 1, 1], [-1, 1]
                    let mut v = dmol::unit_to_levels(&x, 256)?
                        .f_to_kind(Kind::Float)?
                        .f_div_scalar(255.0)?;
                    if let Some((kx, km)) = job.known {
                        v = at(kx, i, j)?.f_where_self(&at(km, i, j)?, &v)?;
                    }
                    at(&canvas, i, j)?.f_copy_(&v)?;
                }
            }
            Ok(canvas)
        })
    }
}
