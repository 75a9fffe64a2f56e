//! PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
//! sec. 3.1-3.3, fig. 2-3): a `k0 x k0` masked convolution of type A, then residual LSTM layers of
//! one of two kinds, then PixelCNN's output head.
//!
//! * **Row LSTM** (sec. 3.1): row by row, top to bottom. The input-to-state component is a
//!   `1 x k` masked convolution (type B) over the layer's input, computed for the whole map; the
//!   state-to-state component is a 1-D convolution of width `k` over the previous row's hidden
//!   state. Each position sees a triangle of rows above and, through its input, the row to its
//!   left.
//! * **Diagonal BiLSTM** (sec. 3.2, fig. 3): the map is *skewed* (row `r` moved right by `r`) so
//!   that the diagonals become columns; an LSTM runs along them left to right with a width-2
//!   state-to-state convolution over the previous column (rows `r - 1` and `r`); the input-to-state
//!   component is a 1x1 masked convolution (type B). The right-to-left direction runs on the
//!   mirrored map and its output is moved down one row before it is added, so that it never sees
//!   the current row (the paper's shift). Each position sees everything above it and to its left.
//!
//! Both kinds keep the residual connection of sec. 3.3 around each LSTM layer. Grey, binarized or
//! RGB images: for RGB the masks of sec. 3.4 split every map into three colour groups (R, then G
//! given R, then B given R and G): the type-A and input-to-state convolutions and the output head
//! are channel-masked, each gate's `h` units come in the same three groups, and the
//! state-to-state convolutions need no mask, since they read only earlier pixels (the row above;
//! for the Diagonal BiLSTM the pixel above and the one to the left). Sampling is naive (the
//! whole network per pixel).
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::layers::{image_dims, image_likelihood, Head};
use crate::masked_conv::{shift_down, ConvShape, MaskType, MaskedConv2d};
use crate::model::{check_input, Autoregressive};
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;
use genzoo_core::{CoreError, Result};

/// The two LSTM layers of PixelRNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RnnKind {
    RowLstm,
    DiagonalBilstm,
}

/// PixelRNN's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset): one channel, or three (RGB, `hidden` and
    /// `head` divisible by 3).
    pub data: DataKind,
    /// Observation model per pixel (`auto`: Bernoulli).
    pub likelihood: Likelihood,
    pub kind: RnnKind,
    /// Hidden features h of every layer.
    pub hidden: i64,
    /// LSTM layers.
    pub layers: i64,
    /// Kernel of the first (type A) convolution.
    pub first_kernel: i64,
    /// Row LSTM's input-to-state and state-to-state width.
    pub kernel: i64,
    /// Width of the 1x1 output layers.
    pub head: i64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset of `kind` (data kind filled in by the catalogue).
    pub fn preset(kind: RnnKind, name: &str) -> Option<Config> {
        let (hidden, layers, first_kernel, head) = match name {
            // Table 4 (binarized MNIST): 7 layers of h = 16 for the Diagonal BiLSTM; the paper's
            // CIFAR-10 models use 12 layers of h = 128 with 1024-wide outputs.
            "paper" => (16, 7, 7, 32),
            "mnist" => (16, 3, 7, 32),
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
            kind,
            hidden,
            layers,
            first_kernel,
            kernel: 3,
            head,
        })
    }

    /// Rounds `hidden` and `head` up to multiples of the image's channels, which the channel
    /// masks of RGB images split into three colour groups (the presets' 16 and 32 become 18 and
    /// 33); one-channel data keep them. The catalogue applies it after any overrides, and the
    /// run's `config.json` records the widths used.
    pub fn fit_colour_groups(&mut self) {
        if let DataKind::Image { channels, .. } = self.data {
            if channels > 1 {
                let up = |v: i64| (v + channels - 1).div_euclid(channels) * channels;
                self.hidden = up(self.hidden);
                self.head = up(self.head);
            }
        }
    }

    /// The `row` presets.
    pub fn row_preset(name: &str) -> Option<Config> {
        Config::preset(RnnKind::RowLstm, name)
    }

    /// The `diagonal` presets.
    pub fn diagonal_preset(name: &str) -> Option<Config> {
        Config::preset(RnnKind::DiagonalBilstm, name)
    }
}

#[derive(Debug)]
struct LstmLayer {
    input_to_state: MaskedConv2d,
    /// `[4h, h, k]` over the previous row (Row) or column (Diagonal, k = 2).
    state_to_state: Tensor,
    /// The right-to-left direction of the Diagonal BiLSTM.
    backward: Option<(MaskedConv2d, Tensor)>,
}

/// One LSTM step: gates `[n, 4h, L]` (input, forget, output, cell candidate) and the cell
/// `[n, h, L]` -> (hidden, cell).
fn lstm_cell(gates: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor)> {
    let g = gates.f_chunk(4, 1)?;
    let c = g[1]
        .f_sigmoid()?
        .f_mul(c)?
        .f_add(&g[0].f_sigmoid()?.f_mul(&g[3].f_tanh()?)?)?;
    let h = g[2].f_sigmoid()?.f_mul(&c.f_tanh()?)?;
    Ok((h, c))
}

/// `sum_k W[:, :, k] @ h shifted by k - a` over the last axis of `h [n, h, L]` (zero beyond the
/// ends): a 1-D convolution of `W [4h, h, K]` whose tap `a` sits over the output, written as `K`
/// matrix products (libtorch's convolution kernels are slow on such small maps).
fn state_conv(ss: &Tensor, h: &Tensor, anchor: i64) -> Result<Tensor> {
    let (k, len) = (ss.size()[2], h.size()[2]);
    let padded = h.f_constant_pad_nd([anchor, k - 1 - anchor])?;
    let mut acc: Option<Tensor> = None;
    for tap in 0..k {
        let term = ss
            .f_select(2, tap)?
            .f_matmul(&padded.f_narrow(2, tap, len)?)?;
        acc = Some(match acc {
            Some(a) => a.f_add(&term)?,
            None => term,
        });
    }
    acc.ok_or_else(|| CoreError::Invalid("empty state-to-state kernel".into()))
}

/// Row LSTM over `gates_in [n, 4h, H, W]`: `[n, h, H, W]`.
fn row_lstm(gates_in: &Tensor, ss: &Tensor, hidden: i64) -> Result<Tensor> {
    let s = gates_in.size();
    let (n, rows, w) = (s[0], s[2], s[3]);
    let k = ss.size()[2];
    let mut h = Tensor::f_zeros([n, hidden, w], (Kind::Float, gates_in.device()))?;
    let mut c = h.f_zeros_like()?;
    let mut out = Vec::with_capacity(rows as usize);
    for i in 0..rows {
        let gates = gates_in
            .f_select(2, i)?
            .f_add(&state_conv(ss, &h, k / 2)?)?;
        (h, c) = lstm_cell(&gates, &c)?;
        out.push(h.shallow_clone());
    }
    Ok(Tensor::f_stack(&out, 2)?)
}

/// Skews `[n, c, H, W]` to `[n, c, H, W + H - 1]`: row `r` starts at column `r`.
fn skew(x: &Tensor) -> Result<Tensor> {
    let rows = x.size()[2];
    let parts = (0..rows)
        .map(|r| x.f_select(2, r)?.f_constant_pad_nd([r, rows - 1 - r]))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Tensor::f_stack(&parts, 2)?)
}

/// Inverse of [`skew`]: `[n, c, H, W + H - 1]` -> `[n, c, H, W]`.
fn unskew(x: &Tensor, w: i64) -> Result<Tensor> {
    let rows = x.size()[2];
    let parts = (0..rows)
        .map(|r| x.f_select(2, r)?.f_narrow(2, r, w))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Tensor::f_stack(&parts, 2)?)
}

/// Diagonal LSTM, left to right over skewed gates `[n, 4h, H, T]`: `[n, h, H, T]`. The state of
/// row `r` at column `t` comes from rows `r - 1` and `r` at column `t - 1`.
fn diagonal_lstm(gates_in: &Tensor, ss: &Tensor, hidden: i64) -> Result<Tensor> {
    let s = gates_in.size();
    let (n, rows, cols) = (s[0], s[2], s[3]);
    let mut h = Tensor::f_zeros([n, hidden, rows], (Kind::Float, gates_in.device()))?;
    let mut c = h.f_zeros_like()?;
    let mut out = Vec::with_capacity(cols as usize);
    for t in 0..cols {
        // Taps over rows r - 1 and r: the width-2 kernel anchored at its second tap.
        let gates = gates_in.f_select(3, t)?.f_add(&state_conv(ss, &h, 1)?)?;
        (h, c) = lstm_cell(&gates, &c)?;
        out.push(h.shallow_clone());
    }
    Ok(Tensor::f_stack(&out, 3)?)
}

/// The PixelRNN network.
#[derive(Debug)]
pub struct PixelRnn {
    pub cfg: Config,
    lik: Likelihood,
    first: MaskedConv2d,
    layers: Vec<LstmLayer>,
    head: Head,
    /// Colour channels (1, or 3 for RGB).
    channels: i64,
    device: tch::Device,
}

fn state_weight(p: &nn::Path, name: &str, hidden: i64, k: i64) -> Tensor {
    let b = 1.0 / ((hidden * k) as f64).sqrt();
    p.var(
        name,
        &[4 * hidden, hidden, k],
        nn::Init::Uniform { lo: -b, up: b },
    )
}

impl PixelRnn {
    /// # Errors
    /// [`CoreError::Config`] for data other than one- or three-channel images, a Gaussian
    /// likelihood, non-positive sizes, even kernels, or (RGB) `hidden` or `head` not divisible
    /// by 3.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let (c, _, _) = image_dims(&cfg.data)?;
        if c != 1 && c != 3 {
            return Err(CoreError::config(
                "data",
                format!("PixelRNN models one-channel (grey or binarized) or RGB images, got {c} channels"),
            ));
        }
        for (key, v) in [("hidden", cfg.hidden), ("head", cfg.head)] {
            if v % c != 0 {
                return Err(CoreError::config(
                    key,
                    format!("{v} does not split into the {c} colour groups of the channel masks"),
                ));
            }
        }
        let lik = image_likelihood(cfg.likelihood)?;
        if cfg.hidden < 1 || cfg.layers < 1 || cfg.first_kernel % 2 == 0 || cfg.kernel % 2 == 0 {
            return Err(CoreError::config(
                "pixelrnn",
                "hidden and layers must be >= 1 and kernels odd",
            ));
        }
        let h = cfg.hidden;
        let first = MaskedConv2d::new(
            &(p / "conv_a"),
            ConvShape::centred(c, h, cfg.first_kernel, MaskType::A, c),
        )?;
        let input_shape = match cfg.kind {
            RnnKind::RowLstm => ConvShape {
                in_channels: h,
                out_channels: 4 * h,
                kernel: (1, cfg.kernel),
                anchor: (0, cfg.kernel / 2),
                mask: Some(MaskType::B),
                groups: c,
            },
            RnnKind::DiagonalBilstm => ConvShape::pointwise(h, 4 * h, c),
        };
        let k_state = match cfg.kind {
            RnnKind::RowLstm => cfg.kernel,
            RnnKind::DiagonalBilstm => 2,
        };
        let layers = (0..cfg.layers)
            .map(|l| {
                let q = p / format!("lstm{l}");
                let backward = match cfg.kind {
                    RnnKind::RowLstm => None,
                    RnnKind::DiagonalBilstm => Some((
                        MaskedConv2d::new(&(&q / "input_to_state_rl"), input_shape)?,
                        state_weight(&q, "state_to_state_rl", h, k_state),
                    )),
                };
                Ok(LstmLayer {
                    input_to_state: MaskedConv2d::new(&(&q / "input_to_state"), input_shape)?,
                    state_to_state: state_weight(&q, "state_to_state", h, k_state),
                    backward,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PixelRnn {
            cfg: cfg.clone(),
            lik,
            first,
            layers,
            head: Head::new(&(p / "head"), h, cfg.head, c, lik)?,
            channels: c,
            device: p.device(),
        })
    }

    /// The input-to-state gates `[n, 4h, H, W]` of `x`, gate-major: the masked convolution's
    /// output channels come in colour groups (R's `4h/3`, then G's, then B's); this reorders
    /// them into four gate blocks of `h` whose units keep the group order of the hidden state.
    fn gates(&self, conv: &MaskedConv2d, x: &Tensor) -> Result<Tensor> {
        let g = conv.forward(x)?;
        let c = self.channels;
        if c == 1 {
            return Ok(g);
        }
        let s = g.size();
        Ok(g.f_reshape([s[0], c, 4, self.cfg.hidden / c, s[2], s[3]])?
            .f_transpose(1, 2)?
            .f_reshape([s[0], 4 * self.cfg.hidden, s[2], s[3]])?)
    }

    fn layer(&self, l: &LstmLayer, x: &Tensor) -> Result<Tensor> {
        let h = self.cfg.hidden;
        match &l.backward {
            None => row_lstm(&self.gates(&l.input_to_state, x)?, &l.state_to_state, h),
            Some((is_rl, ss_rl)) => {
                let w = x.size()[3];
                let lr = diagonal_lstm(
                    &skew(&self.gates(&l.input_to_state, x)?)?,
                    &l.state_to_state,
                    h,
                )?;
                let mirrored = x.f_flip([3])?;
                let rl = diagonal_lstm(&skew(&self.gates(is_rl, &mirrored)?)?, ss_rl, h)?;
                let rl = unskew(&rl, w)?.f_flip([3])?;
                Ok(unskew(&lr, w)?.f_add(&shift_down(&rl)?)?)
            }
        }
    }
}

impl Autoregressive for PixelRnn {
    fn name(&self) -> &str {
        match self.cfg.kind {
            RnnKind::RowLstm => "pixelrnn-row",
            RnnKind::DiagonalBilstm => "pixelrnn-diag",
        }
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
        check_input(&self.cfg.data, input)?;
        let mut x = self.first.forward(input)?;
        for l in &self.layers {
            x = x.f_add(&self.layer(l, &x)?)?;
        }
        self.head.forward(&x)
    }
}
