//! WaveNet (van den Oord, Dieleman, Zen, Simonyan, Vinyals, Graves, Kalchbrenner, Senior &
//! Kavukcuoglu 2016, "WaveNet: A Generative Model for Raw Audio", sec. 2.1-2.5 and fig. 3-4)
//! over 8-bit mu-law audio (eq. 2), with Fast WaveNet's queues for sampling (Paine et al. 2016).
//!
//! The input is the one-hot mu-law level of every sample. A causal convolution of width 2 reads
//! `x_{t-2}, x_{t-1}`; then `cycles` stacks of `layers_per_cycle` gated layers with dilations
//! 1, 2, 4, ... (fig. 3): `z = tanh(W_f * h + V_f y) * sigmoid(W_g * h + V_g y)` (eq. 2, with a
//! class embedding `y` for global conditioning, eq. 3), a 1x1 residual back into `h` and a 1x1
//! skip output. The summed skips go through ReLU, 1x1, ReLU, 1x1 to a 256-way softmax per sample.
//! The receptive field is `2 + sum of dilations` samples ([`WaveNet::receptive_field`]).
//!
//! Cached sampling keeps, for every layer of dilation `d`, a queue of its last `d` inputs, so a
//! step costs a few `[n, R]` matrix products per layer instead of a pass over the whole signal.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::layers::gate;
use crate::sampling::{self, check_temperature};
use genzoo_core::data::{Batch, DataKind, Dataset, SequenceEncoding};
use genzoo_core::model::{
    ConditionalSample, EvalOptions, EvalReport, ExampleNll, LikelihoodKind, Losses, Network, Nll,
    Optimize, PerExampleNll,
};
use genzoo_core::obs::Likelihood;
use genzoo_core::units::NllUnit;
use genzoo_core::{CoreError, Result};

const LEVELS: i64 = 256;

/// WaveNet's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The audio modelled (`Sequence` of mu-law levels; set from the dataset).
    pub data: DataKind,
    /// Residual channels R.
    pub residual: i64,
    /// Skip channels.
    pub skip: i64,
    /// Dilation cycles (stacks).
    pub cycles: i64,
    /// Layers per cycle: dilations 1, 2, ..., 2^(layers_per_cycle - 1).
    pub layers_per_cycle: i64,
    /// Condition on the dataset's labels (global conditioning, eq. 3).
    pub conditional: bool,
    /// Classes conditioned on (set from the dataset when `conditional`).
    pub num_classes: i64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["piano", "paper", "tiny"];

impl Config {
    /// A named preset (data kind and classes filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (residual, skip, cycles, layers_per_cycle) = match name {
            // Sec. 3: dilations 1..512 repeated; 30 layers and 512 skip channels in common
            // reimplementations of the paper's TTS setting.
            "paper" => (64, 256, 3, 10),
            "piano" => (32, 64, 2, 9),
            "tiny" => (4, 8, 2, 3),
            _ => return None,
        };
        Some(Config {
            data: DataKind::Sequence {
                channels: 1,
                length: 4096,
                encoding: SequenceEncoding::MuLaw8,
            },
            residual,
            skip,
            cycles,
            layers_per_cycle,
            conditional: false,
            num_classes: 0,
        })
    }

    /// The dilation of every layer, in order.
    pub fn dilations(&self) -> Vec<i64> {
        (0..self.cycles)
            .flat_map(|_| (0..self.layers_per_cycle).map(|k| 1i64 << k))
            .collect()
    }
}

#[derive(Debug)]
struct Layer {
    dilation: i64,
    /// `[2R, R, 2]`: taps at `t - d` and `t`.
    conv: Tensor,
    conv_bias: Tensor,
    res: nn::Conv1D,
    skip: nn::Conv1D,
    class_bias: Option<Tensor>,
}

/// The WaveNet network.
#[derive(Debug)]
pub struct WaveNet {
    pub cfg: Config,
    length: i64,
    /// `[R, 256, 2]`: the causal input convolution over `x_{t-2}, x_{t-1}`.
    input: Tensor,
    input_bias: Tensor,
    layers: Vec<Layer>,
    out1: nn::Conv1D,
    out2: nn::Conv1D,
    device: tch::Device,
    /// Sampling temperature (1: the model itself).
    pub temperature: f64,
    /// Sample with Fast WaveNet's queues (`false`: the naive sampler; same samples).
    pub cached: bool,
}

fn conv_weight(p: &nn::Path, name: &str, shape: [i64; 3]) -> (Tensor, Tensor) {
    let bound = 1.0 / ((shape[1] * shape[2]) as f64).sqrt();
    let u = nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    (
        p.var(name, &shape, u),
        p.var(&format!("{name}_bias"), &[shape[0]], u),
    )
}

impl WaveNet {
    /// # Errors
    /// [`CoreError::Config`] for data that are not one channel of mu-law levels, non-positive
    /// sizes, or a conditional model without classes.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let length = match cfg.data {
            DataKind::Sequence {
                channels: 1,
                length,
                encoding: SequenceEncoding::MuLaw8,
            } => length,
            other => {
                return Err(CoreError::config(
                    "data",
                    format!("WaveNet models one channel of 8-bit mu-law audio, got {other:?}"),
                ))
            }
        };
        if cfg.residual < 1 || cfg.skip < 1 || cfg.cycles < 1 || cfg.layers_per_cycle < 1 {
            return Err(CoreError::config(
                "wavenet",
                "residual, skip, cycles and layers_per_cycle must be >= 1",
            ));
        }
        if cfg.conditional && cfg.num_classes < 1 {
            return Err(CoreError::config(
                "conditional",
                "a conditional WaveNet needs labelled data",
            ));
        }
        let r = cfg.residual;
        let (input, input_bias) = conv_weight(&(p / "causal"), "weight", [r, LEVELS, 2]);
        let c1 = Default::default();
        let layers = cfg
            .dilations()
            .into_iter()
            .enumerate()
            .map(|(l, dilation)| {
                let q = p / format!("layer{l}");
                let (conv, conv_bias) = conv_weight(&(&q / "dilated"), "weight", [2 * r, r, 2]);
                Layer {
                    dilation,
                    conv,
                    conv_bias,
                    res: nn::conv1d(&q / "res", r, r, 1, c1),
                    skip: nn::conv1d(&q / "skip", r, cfg.skip, 1, c1),
                    class_bias: cfg
                        .conditional
                        .then(|| q.zeros("class_bias", &[cfg.num_classes, 2 * r])),
                }
            })
            .collect();
        Ok(WaveNet {
            cfg: cfg.clone(),
            length,
            input,
            input_bias,
            layers,
            out1: nn::conv1d(p / "out1", cfg.skip, cfg.skip, 1, c1),
            out2: nn::conv1d(p / "out2", cfg.skip, LEVELS, 1, c1),
            device: p.device(),
            temperature: 1.0,
            cached: true,
        })
    }

    /// Samples that output `t` depends on: `x_{t-R} ..= x_{t-1}` with
    /// `R = 2 + sum of dilations` (the input convolution's two taps, then `d` per layer).
    pub fn receptive_field(&self) -> i64 {
        2 + self.cfg.dilations().iter().sum::<i64>()
    }

    fn class_bias(&self, l: &Layer, labels: Option<&Tensor>) -> Result<Option<Tensor>> {
        match (&l.class_bias, labels) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(CoreError::Invalid(
                "wavenet is class-conditional: labels are required".into(),
            )),
            (Some(b), Some(y)) => Ok(Some(b.f_index_select(0, y)?)),
        }
    }

    /// Logits of every sample's conditional, `[n, 256, T]`, from mu-law levels `i64 [n, 1, T]`.
    ///
    /// # Errors
    /// Levels of another shape, missing labels for a conditional model, or a libtorch error.
    pub fn logits(&self, levels: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        self.logits_of(&self.one_hot(levels)?, labels)
    }

    /// One-hot input `[n, 256, T]` of levels `[n, 1, T]`.
    fn one_hot(&self, levels: &Tensor) -> Result<Tensor> {
        if levels.dim() != 3 || levels.size()[1] != 1 {
            return Err(CoreError::shape(
                "audio",
                format!("expected mu-law levels [n, 1, T], got {:?}", levels.size()),
            ));
        }
        Ok(levels
            .f_select(1, 0)?
            .f_to_kind(Kind::Int64)?
            .f_one_hot(LEVELS)?
            .f_to_kind(Kind::Float)?
            .f_permute([0, 2, 1])?)
    }

    /// The network on a one-hot input `[n, 256, T]` (differentiable in it: the causality tests).
    ///
    /// # Errors
    /// As [`WaveNet::logits`].
    pub fn logits_of(&self, x: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let t = x.size()[2];
        // Output t reads x_{t-2} and x_{t-1}: pad two on the left, drop the last output.
        let mut h = x
            .f_constant_pad_nd([2, 0])?
            .f_conv1d(&self.input, Some(&self.input_bias), [1], [0], [1], 1)?
            .f_narrow(2, 0, t)?;
        let mut skip: Option<Tensor> = None;
        for l in &self.layers {
            let mut f = h.f_constant_pad_nd([l.dilation, 0])?.f_conv1d(
                &l.conv,
                Some(&l.conv_bias),
                [1],
                [0],
                [l.dilation],
                1,
            )?;
            if let Some(b) = self.class_bias(l, labels)? {
                f = f.f_add(&b.f_unsqueeze(-1)?)?;
            }
            let z = gate(&f)?;
            let s = z.apply(&l.skip);
            skip = Some(match skip {
                Some(acc) => acc.f_add(&s)?,
                None => s,
            });
            h = h.f_add(&z.apply(&l.res))?;
        }
        let skip = skip.ok_or_else(|| CoreError::Invalid("wavenet has no layers".into()))?;
        Ok(skip.f_relu()?.apply(&self.out1).f_relu()?.apply(&self.out2))
    }

    /// `log p(x)` in nats of mu-law levels `[n, 1, T]`: `[n]`.
    ///
    /// # Errors
    /// As [`WaveNet::logits`].
    pub fn log_prob(&self, levels: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let logits = self.logits(levels, labels)?;
        let target = levels.f_to_kind(Kind::Int64)?.f_select(1, 0)?; // [n, T]
        Ok(logits
            .f_log_softmax(1, Kind::Float)?
            .f_gather(1, &target.f_unsqueeze(1)?, false)?
            .f_sum_dim_intlist([1i64, 2].as_slice(), false, Kind::Float)?)
    }

    fn labels<'a>(&self, y: Option<&'a Tensor>) -> Result<Option<&'a Tensor>> {
        if !self.cfg.conditional {
            return Ok(None);
        }
        y.map(Some).ok_or_else(|| {
            CoreError::Invalid(
                "this WaveNet is class-conditional but the data have no labels".into(),
            )
        })
    }

    /// Naive sampling: the whole network over the signal for every new sample. Levels
    /// `i64 [n, 1, T]` for uniforms `u [n, T]`.
    ///
    /// # Errors
    /// As [`WaveNet::logits`].
    pub fn sample_naive(
        &self,
        labels: Option<&Tensor>,
        u: &Tensor,
        temperature: f64,
    ) -> Result<Tensor> {
        let (n, t) = (u.size()[0], u.size()[1]);
        let levels = Tensor::f_zeros([n, 1, t], (Kind::Int64, self.device))?;
        tch::no_grad(|| {
            for s in 0..t {
                let logits = self.logits(&levels, labels)?.f_select(2, s)?; // [n, 256]
                let v = sampling::draw(
                    Likelihood::Categorical,
                    &logits,
                    &u.f_select(1, s)?,
                    temperature,
                )?;
                levels
                    .f_select(2, s)?
                    .f_select(1, 0)?
                    .f_copy_(&v.f_to_kind(Kind::Int64)?)?;
            }
            Ok(levels)
        })
    }

    /// Cached sampling with Fast WaveNet's queues (Paine et al. 2016, sec. 3): the same levels as
    /// [`WaveNet::sample_naive`] for the same uniforms.
    ///
    /// # Errors
    /// As [`WaveNet::logits`].
    pub fn sample_cached(
        &self,
        labels: Option<&Tensor>,
        u: &Tensor,
        temperature: f64,
    ) -> Result<Tensor> {
        tch::no_grad(|| self.sample_cached_inner(labels, u, temperature))
    }

    fn sample_cached_inner(
        &self,
        labels: Option<&Tensor>,
        u: &Tensor,
        temperature: f64,
    ) -> Result<Tensor> {
        let (n, t) = (u.size()[0], u.size()[1]);
        let r = self.cfg.residual;
        let opts = (Kind::Float, self.device);
        let tap = |w: &Tensor, k: i64| w.f_select(2, k);
        let (in0, in1) = (tap(&self.input, 0)?, tap(&self.input, 1)?); // [R, 256]
        let taps = self
            .layers
            .iter()
            .map(|l| {
                Ok((
                    tap(&l.conv, 0)?,
                    tap(&l.conv, 1)?,
                    self.class_bias(l, labels)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let pointwise = |c: &nn::Conv1D| -> Result<(Tensor, Option<Tensor>)> {
            Ok((
                c.ws.f_select(2, 0)?,
                c.bs.as_ref().map(|b| b.shallow_clone()),
            ))
        };
        let res_skip = self
            .layers
            .iter()
            .map(|l| Ok((pointwise(&l.res)?, pointwise(&l.skip)?)))
            .collect::<Result<Vec<_>>>()?;
        let (o1, o2) = (pointwise(&self.out1)?, pointwise(&self.out2)?);
        // queues[l][k]: the layer's input at step t - d + k (mod d), zeros before the signal.
        let mut queues: Vec<Vec<Tensor>> = self
            .layers
            .iter()
            .map(|l| {
                (0..l.dilation)
                    .map(|_| Tensor::f_zeros([n, r], opts))
                    .collect()
            })
            .collect::<std::result::Result<_, _>>()?;
        let (mut x2, mut x1) = (
            Tensor::f_zeros([n, LEVELS], opts)?,
            Tensor::f_zeros([n, LEVELS], opts)?,
        );
        let levels = Tensor::f_zeros([n, 1, t], (Kind::Int64, self.device))?;
        for s in 0..t {
            let mut h = x2
                .f_linear(&in0, Some(&self.input_bias))?
                .f_add(&x1.f_linear::<Tensor>(&in1, None)?)?;
            let mut skip: Option<Tensor> = None;
            let parts = self
                .layers
                .iter()
                .zip(&taps)
                .zip(&res_skip)
                .zip(queues.iter_mut());
            for (((layer, (w0, w1, cb)), ((rw, rb), (sw, sb))), queue) in parts {
                let slot = (s % layer.dilation) as usize;
                let past = std::mem::replace(&mut queue[slot], h.shallow_clone());
                let mut f = past
                    .f_linear(w0, Some(&layer.conv_bias))?
                    .f_add(&h.f_linear::<Tensor>(w1, None)?)?;
                if let Some(b) = cb {
                    f = f.f_add(b)?;
                }
                let z = gate(&f)?;
                let sk = z.f_linear(sw, sb.as_ref())?;
                skip = Some(match skip {
                    Some(acc) => acc.f_add(&sk)?,
                    None => sk,
                });
                h = h.f_add(&z.f_linear(rw, rb.as_ref())?)?;
            }
            let skip = skip.ok_or_else(|| CoreError::Invalid("wavenet has no layers".into()))?;
            let logits = skip
                .f_relu()?
                .f_linear(&o1.0, o1.1.as_ref())?
                .f_relu()?
                .f_linear(&o2.0, o2.1.as_ref())?;
            let v = sampling::draw(
                Likelihood::Categorical,
                &logits,
                &u.f_select(1, s)?,
                temperature,
            )?
            .f_to_kind(Kind::Int64)?;
            levels.f_select(2, s)?.f_select(1, 0)?.f_copy_(&v)?;
            x2 = x1;
            x1 = v.f_one_hot(LEVELS)?.f_to_kind(Kind::Float)?;
        }
        Ok(levels)
    }

    fn check(&self, data: &Dataset) -> Result<()> {
        crate::model::check_data(&self.cfg.data, data)
    }

    fn nats_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<Tensor> {
        opts.validate()?;
        self.check(data)?;
        let data = data.take(opts.max_examples.unwrap_or(data.len()));
        let labels = self.labels(data.y.as_ref())?;
        let (n, bs) = (data.len(), opts.batch_size);
        let mut out = Vec::new();
        tch::no_grad(|| -> Result<()> {
            let mut i = 0;
            while i < n {
                let m = bs.min(n - i);
                let x = data.x.f_narrow(0, i, m)?.f_to_device(self.device)?;
                let y = labels.map(|y| y.narrow(0, i, m).to_device(self.device));
                out.push(self.log_prob(&x, y.as_ref())?.f_neg()?);
                i += m;
            }
            Ok(())
        })?;
        Ok(Tensor::f_cat(&out, 0)?)
    }

    fn sample_levels(&self, n: i64, labels: Option<&Tensor>, seed: u64) -> Result<Tensor> {
        check_temperature(self.temperature)?;
        let u = sampling::uniforms(n, self.length, seed, self.device)?;
        let levels = if self.cached {
            self.sample_cached(labels, &u, self.temperature)?
        } else {
            self.sample_naive(labels, &u, self.temperature)?
        };
        genzoo_core::data::mulaw::mu_law_decode(&levels)
    }
}

impl Network for WaveNet {
    fn set_temperature(&mut self, t: f64) -> Result<()> {
        check_temperature(t)?;
        self.temperature = t;
        Ok(())
    }
    fn name(&self) -> &str {
        "wavenet"
    }
    fn family(&self) -> Family {
        Family::Autoregressive
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let labels = self.labels(batch.y.as_ref())?;
        let nll = self
            .log_prob(&batch.x, labels)?
            .f_mean(Kind::Float)?
            .f_neg()?;
        opt.minimize(MODEL_GROUP, &nll)?;
        let per_sample = nll.f_div_scalar(self.length as f64)?;
        Ok(Losses::new(nll.detach())
            .with("nll", nll.detach())
            .with("nats_per_sample", per_sample.detach()))
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let nats = self.nats_per_example(data, opts)?;
        let mean = nats.f_mean(Kind::Double)?.f_double_value(&[])?;
        let nll = Nll::from_nats(
            mean,
            self.length as usize,
            NllUnit::BitsPerDim,
            LikelihoodKind::Exact,
        );
        Ok(EvalReport {
            nll: Some(nll),
            data: format!(
                "{} (8-bit mu-law levels; bits/dim = bits per audio sample)",
                data.name
            ),
            metrics: [
                ("nll_nats".to_string(), mean),
                ("bits_per_sample".to_string(), nll.value),
            ]
            .into(),
        })
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        if self.cfg.conditional {
            let labels = Tensor::f_arange(n, (Kind::Int64, self.device))?
                .f_remainder(self.cfg.num_classes)?;
            return self.sample_levels(n, Some(&labels), seed);
        }
        self.sample_levels(n, None, seed)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(self)
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        self.cfg
            .conditional
            .then_some(self as &dyn ConditionalSample)
    }
}

impl PerExampleNll for WaveNet {
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll> {
        let nats = self.nats_per_example(data, opts)?;
        Ok(ExampleNll {
            nll: NllUnit::BitsPerDim.from_nats_tensor(&nats, self.length as usize)?,
            unit: NllUnit::BitsPerDim,
            kind: LikelihoodKind::Exact,
            data: format!("{} (8-bit mu-law levels)", data.name),
        })
    }
}

impl ConditionalSample for WaveNet {
    fn num_classes(&self) -> i64 {
        self.cfg.num_classes
    }
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        crate::model::check_labels(labels, self.cfg.num_classes)?;
        let labels = labels.f_to_device(self.device)?;
        self.sample_levels(labels.size()[0], Some(&labels), seed)
    }
}
