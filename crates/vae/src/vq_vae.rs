//! VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017): a convolutional encoder to a 7x7 map (for
//! 28x28 inputs; stride 4) of D-dimensional vectors, quantized to the nearest of K codebook
//! vectors ([`crate::quantizer`]), and a decoder from the quantized map to p(x|z_q).
//!
//! Loss per example (eq. 3): `-log p(x|z_q) + ||sg(z_e) - e||^2 + beta ||z_e - sg(e)||^2`, the
//! squared norms summed over the code map (the codebook term is replaced by EMA updates when
//! `ema` is set, appendix A.1). The paper's prior is a PixelCNN over codes (in the
//! autoregressive family); here a per-position categorical prior pi fitted to the training
//! codes ([`crate::quantizer::PositionPrior`]) is used for sampling and for the evaluated bound:
//! with the one-hot posterior of VQ-VAE the ELBO is `log p(x|z_q(x)) + log pi(z_q(x))`, and
//! since `p(x) = sum_z p(x|z) pi(z) >= p(x|z_q) pi(z_q)` it is a true bound on the likelihood of
//! the model (decoder + fitted prior), reported as `LikelihoodKind::Bound`.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use std::collections::BTreeMap;

use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{EvalOptions, EvalReport, LikelihoodKind, Losses, Nll, Optimize};
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::nets::{SpatialDecoder, SpatialEncoder};
use crate::obs::{Likelihood, Mode, Prepared};
use crate::quantizer::{PositionPrior, Quantizer};
use crate::vae::MNIST;
use genzoo_core::model::{CodePrior, Network, Reconstruct};

/// VQ-VAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Hidden channels of encoder and decoder.
    pub channels: i64,
    /// Residual blocks in encoder and decoder, and their inner channels.
    pub res_blocks: usize,
    pub res_channels: i64,
    /// Codebook size K and code dimension D.
    pub codebook_size: i64,
    pub code_dim: i64,
    /// Commitment weight beta.
    pub commitment: f64,
    /// Update the codebook by exponential moving averages (else by the codebook loss).
    pub ema: bool,
    /// Decay of the EMA updates and of the usage average.
    pub decay: f64,
    /// Restart codes used less than this many times per step on average (0 = never).
    pub dead_threshold: f64,
    /// Decay of the moving-average fit of the per-position prior to the training codes.
    pub prior_decay: f64,
    pub likelihood: Likelihood,
    pub data: DataKind,
}

/// Preset names of `vq-vae`; the first is the default.
pub const PRESETS: &[&str] = &["oord", "tiny", "oord-no-ema", "mnist"];

impl Config {
    /// `oord`: the paper's settings adapted to 28x28 (K = 512, D = 64, beta = 0.25, EMA decay
    /// 0.99, two residual blocks; 128 hidden channels instead of 256 for CPU budgets);
    /// `oord-no-ema` learns the codebook by its loss term.
    pub fn preset(name: &str) -> Option<Config> {
        let oord = Config {
            channels: 128,
            res_blocks: 2,
            res_channels: 32,
            codebook_size: 512,
            code_dim: 64,
            commitment: 0.25,
            ema: true,
            decay: 0.99,
            dead_threshold: 0.01,
            prior_decay: 0.99,
            likelihood: Likelihood::Auto,
            data: MNIST,
        };
        Some(match name {
            "oord" => oord,
            "oord-no-ema" => Config { ema: false, ..oord },
            // The `compare` table's preset: half the channels and a smaller codebook, about 4x
            // faster per step on 2 CPU cores.
            "mnist" => Config {
                channels: 64,
                codebook_size: 128,
                code_dim: 32,
                ..oord
            },
            "tiny" => Config {
                channels: 8,
                res_blocks: 1,
                res_channels: 4,
                codebook_size: 16,
                code_dim: 4,
                ..oord
            },
            _ => return None,
        })
    }
}

/// The image geometry of a VQ model: `(channels, height, width)` with height and width
/// divisible by `factor`.
///
/// # Errors
/// [`CoreError::Config`] (`data`) when `data` is not an image kind or its height or width is not
/// divisible by `factor`.
pub fn image_geometry(data: &DataKind, factor: i64) -> Result<(i64, i64, i64)> {
    match *data {
        DataKind::Image { channels, height, width } if height % factor == 0 && width % factor == 0 => Ok((channels, height, width)),
        DataKind::Image { height, width, .. } => Err(CoreError::config(
            "data",
            format!("VQ models downsample by {factor}: height and width must be divisible by it, got {height}x{width}"),
        )),
        other => Err(CoreError::config("data", format!("VQ models need images, got {other:?}"))),
    }
}

/// Decoder output `[b, P * c, h, w]` to the `[b, P, c, h, w]` layout of [`Likelihood`].
///
/// # Errors
/// A libtorch error when the channels of `out` are not a multiple of `params`.
pub fn to_params(out: &Tensor, params: i64) -> Result<Tensor> {
    let s = out.size();
    Ok(out.f_reshape([s[0], params, s[1] / params, s[2], s[3]])?)
}

/// VQ-VAE.
#[derive(Debug)]
pub struct VqVae {
    cfg: Config,
    lik: Likelihood,
    enc: SpatialEncoder,
    pre: nn::Conv2D,
    pub quant: Quantizer,
    dec: SpatialDecoder,
    /// The prior over code maps: [`PositionPrior`] by default; see [`VqVae::set_prior`].
    prior: Box<dyn CodePrior>,
    grid: (i64, i64),
    device: Device,
}

impl VqVae {
    /// Builds encoder, quantizer, decoder and code prior under `p` (`enc`, `pre_vq`, `vq`, `dec`,
    /// `prior`).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the data are not images with height and width divisible by 4
    /// (`data`), the likelihood does not fit them (`likelihood`), a channel count is not positive
    /// (`channels`), `codebook_size`/`code_dim` is < 1, `decay` is outside [0, 1), or the prior
    /// grid is empty (`prior`); a libtorch error.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let (c, h, w) = image_geometry(&cfg.data, 4)?;
        let lik = cfg.likelihood.resolve(&cfg.data)?;
        let enc = SpatialEncoder::new(
            &(p / "enc"),
            c,
            cfg.channels,
            2,
            cfg.res_blocks,
            cfg.res_channels,
        )?;
        let pre = nn::conv2d(
            p / "pre_vq",
            cfg.channels,
            cfg.code_dim,
            1,
            Default::default(),
        );
        let quant = Quantizer::new(
            &(p / "vq"),
            cfg.codebook_size,
            cfg.code_dim,
            cfg.ema,
            cfg.decay,
            cfg.dead_threshold,
        )?;
        let dec = SpatialDecoder::new(
            &(p / "dec"),
            cfg.code_dim,
            cfg.channels,
            lik.params() * c,
            2,
            cfg.res_blocks,
            cfg.res_channels,
        )?;
        let grid = (h / 4, w / 4);
        let prior = PositionPrior::new(&(p / "prior"), grid, cfg.codebook_size, cfg.prior_decay)?;
        Ok(VqVae {
            cfg: cfg.clone(),
            lik,
            enc,
            pre,
            quant,
            dec,
            prior: Box::new(prior),
            grid,
            device: p.device(),
        })
    }

    /// Encoder output before quantization `z_e [b, D, h/4, w/4]`.
    pub fn encode(&self, input: &Tensor) -> Tensor {
        self.pre.forward(&self.enc.forward(input))
    }

    /// Decoder parameters `[b, P, c, h, w]` of a quantized map.
    ///
    /// # Errors
    /// A libtorch error from reshaping the decoder output (a `z_q` that does not fit the decoder
    /// panics in its layers instead).
    pub fn decode(&self, z_q: &Tensor) -> Result<Tensor> {
        to_params(&self.dec.forward(z_q), self.lik.params())
    }

    /// Losses of a prepared batch; with `train`, updates codebook, usage and prior.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `prep.target` does not fit the likelihood; with `train`, the error
    /// of the prior's update (`codes` of another grid, for an input of another image size); a
    /// libtorch error.
    pub fn loss(&self, prep: &Prepared, train: bool) -> Result<(Losses, Tensor)> {
        let z_e = self.encode(&prep.input);
        let q = self.quant.forward(&z_e, train)?;
        let per_example = (self.cfg.code_dim * self.grid.0 * self.grid.1) as f64;
        let log_px = self.lik.log_prob(&self.decode(&q.z_q)?, &prep.target)?;
        let recon = log_px.f_mean(Kind::Float)?.f_neg()?;
        let commit = q.commitment.f_mul_scalar(per_example)?;
        let codebook = q.codebook.f_mul_scalar(per_example)?;
        let total = recon
            .f_add(&codebook)?
            .f_add(&commit.f_mul_scalar(self.cfg.commitment)?)?;
        if train {
            self.prior.observe(&q.codes)?;
        }
        let losses = Losses::new(total)
            .with("recon", recon)
            .with("commitment", commit)
            .with("codebook", codebook)
            .with("perplexity", q.perplexity);
        Ok((losses, q.codes))
    }

    /// Code maps `[n, h/4, w/4]` of a stored dataset (batched), for fitting priors.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `data` is empty; [`CoreError::Shape`] when its examples are data
    /// the likelihood cannot model (e.g. not `u8` pixels); a libtorch error.
    pub fn dataset_codes(&self, data: &Dataset, batch_size: i64, seed: u64) -> Result<Tensor> {
        let prep = self
            .lik
            .prepare(&data.x.to_device(self.device), Mode::Eval { seed })?;
        batched(data.len(), batch_size, |i, m| {
            tch::no_grad(|| self.quant.codes(&self.encode(&prep.input.narrow(0, i, m))))
        })
    }

    /// Code maps `i64 [b, h/4, w/4]` of a stored batch (`u8` images), prepared as in training
    /// (`Mode::Train`: dynamic binarization) or evaluation; no gradient. What a code prior trains on.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is not data the likelihood can model; a libtorch error.
    pub fn batch_codes(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let prep = self.lik.prepare(&x.to_device(self.device), mode)?;
        tch::no_grad(|| self.quant.codes(&self.encode(&prep.input)))
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The grid `(h, w)` of the model's code maps.
    pub fn code_prior_grid(&self) -> (i64, i64) {
        self.grid
    }

    /// Replaces the prior over code maps (a PixelCNN over codes, say); the default is the
    /// per-position [`PositionPrior`]. The replacement's variables live in its own store.
    ///
    /// # Errors
    /// A prior of another codebook size or grid than the model's.
    pub fn set_prior(&mut self, prior: Box<dyn CodePrior>) -> Result<()> {
        check_prior(prior.as_ref(), self.cfg.codebook_size, self.grid)?;
        self.prior = prior;
        Ok(())
    }
}

/// Checks that `prior` is over `k` codes on `grid`.
///
/// # Errors
/// [`CoreError::Config`] saying what differs.
pub fn check_prior(prior: &dyn CodePrior, k: i64, grid: (i64, i64)) -> Result<()> {
    if prior.num_codes() != k || prior.grid() != grid {
        return Err(CoreError::config(
            "prior",
            format!(
                "the model's codes are {k} codes on a {grid:?} grid; the prior is over {} codes on {:?}",
                prior.num_codes(),
                prior.grid()
            ),
        ));
    }
    Ok(())
}

/// Runs `f(start, len)` over `0..n` in batches and concatenates the results along dimension 0.
///
/// # Errors
/// [`CoreError::Invalid`] when `n` is 0; the first error of `f`; a libtorch error from the
/// concatenation.
pub fn batched(
    n: i64,
    batch_size: i64,
    mut f: impl FnMut(i64, i64) -> Result<Tensor>,
) -> Result<Tensor> {
    if n == 0 {
        return Err(CoreError::Invalid("no examples".into()));
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let m = batch_size.max(1).min(n - i);
        out.push(f(i, m)?);
        i += m;
    }
    Ok(Tensor::f_cat(&out, 0)?)
}

/// Code statistics of `codes` (any shape) over a codebook of `k`: `(perplexity, fraction used)`.
///
/// # Errors
/// A libtorch error when `codes` holds negative values or is not an integer tensor.
pub fn code_stats(codes: &Tensor, k: i64) -> Result<(f64, f64)> {
    let counts = codes
        .f_flatten(0, -1)?
        .f_bincount(None::<Tensor>, k)?
        .f_to_kind(Kind::Double)?;
    let p = counts.f_div_scalar(codes.numel() as f64)?;
    let h = p
        .f_mul(&p.f_add_scalar(1e-12)?.f_log()?)?
        .f_sum(Kind::Double)?
        .f_neg()?;
    let used = counts.f_gt(0.0)?.f_sum(Kind::Double)?.f_double_value(&[])? / k as f64;
    Ok((h.f_exp()?.f_double_value(&[])?, used))
}

/// The report of a VQ model: `-log p(x) <= -log p(x|z_q) - log pi(z_q)` per example (nats),
/// given per-example `log_px` and `log_prior` (`[n]` each).
///
/// # Errors
/// A libtorch error when `log_px` or `log_prior` is empty or not numeric.
pub fn vq_report(
    name: &str,
    lik: Likelihood,
    data: &Dataset,
    dims: i64,
    seed: u64,
    log_px: &Tensor,
    log_prior: &Tensor,
    mut metrics: BTreeMap<String, f64>,
) -> Result<EvalReport> {
    let mean = |t: &Tensor| -> Result<f64> { Ok(t.f_mean(Kind::Double)?.f_double_value(&[])?) };
    let recon = -mean(log_px)?;
    let prior = -mean(log_prior)?;
    let unit = lik.unit();
    metrics.insert("recon_nats".into(), recon);
    metrics.insert("prior_nats".into(), prior);
    metrics.insert("bound_nats".into(), recon + prior);
    Ok(EvalReport {
        nll: Some(Nll::from_nats(recon + prior, dims as usize, unit, LikelihoodKind::Bound)),
        data: format!(
            "{} ({}), {}; {name}: bound -log p(x|z_q) - log pi(z_q) with the model's code prior (default: per-position categoricals fitted to training codes)",
            data.name,
            data.len(),
            lik.data_label(seed)
        ),
        metrics,
    })
}

impl Network for VqVae {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        "vq-vae"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let prep = self.lik.prepare(&batch.x, Mode::Train)?;
        let (losses, _) = self.loss(&prep, true)?;
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let data = match opts.max_examples {
            Some(m) => data.take(m),
            None => data.take(data.len()),
        };
        let prep = self.lik.prepare(
            &data.x.to_device(self.device),
            Mode::Eval { seed: opts.seed },
        )?;
        let mut codes = Vec::new();
        let mut lp = Vec::new();
        let log_px = batched(data.len(), opts.batch_size, |i, m| {
            tch::no_grad(|| {
                let c = self
                    .quant
                    .codes(&self.encode(&prep.input.narrow(0, i, m)))?;
                let params = self.decode(&self.quant.lookup(&c)?)?;
                lp.push(self.prior.log_prob(&c)?);
                codes.push(c);
                self.lik.log_prob(&params, &prep.target.narrow(0, i, m))
            })
        })?;
        let codes = Tensor::f_cat(&codes, 0)?;
        let (perplexity, used) = code_stats(&codes, self.cfg.codebook_size)?;
        let mut metrics = BTreeMap::new();
        metrics.insert("perplexity".into(), perplexity);
        metrics.insert("codebook_usage".into(), used);
        vq_report(
            "vq-vae",
            self.lik,
            &data,
            self.cfg.data.dims(),
            opts.seed,
            &log_px,
            &Tensor::f_cat(&lp, 0)?,
            metrics,
        )
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        if n < 1 {
            return Err(CoreError::Invalid(format!(
                "sample: n = {n}, need at least 1"
            )));
        }
        tch::no_grad(|| {
            let codes = self.prior.sample(n, seed)?;
            self.lik.mean(&self.decode(&self.quant.lookup(&codes)?)?)
        })
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(self)
    }
    fn code_prior(&self) -> Option<&dyn CodePrior> {
        Some(self.prior.as_ref())
    }
}

impl Reconstruct for VqVae {
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| {
            let prep = self.lik.prepare(x, Mode::Eval { seed: 0 })?;
            let c = self.quant.codes(&self.encode(&prep.input))?;
            self.lik.mean(&self.decode(&self.quant.lookup(&c)?)?)
        })
    }
}
