//! VQ-VAE-2 (Razavi, van den Oord & Vinyals 2019, sec. 3.1 and Fig. 2a), its two-level
//! hierarchy adapted to 28x28 inputs: a bottom code map at 14x14 (stride 2) for local detail and
//! a top code map at 7x7 (stride 4) for global structure.
//!
//! * `h_b = enc_b(x)` `[b, C, 14, 14]`; `h_t = enc_t(h_b)` `[b, C, 7, 7]`;
//! * `q_t = VQ_t(conv1x1(h_t))` `[b, D, 7, 7]`;
//! * `q_b = VQ_b(conv1x1([h_b, dec_t(q_t)]))` `[b, D, 14, 14]` (the bottom codes see the top);
//! * `x ~ p(x | dec([q_b, up(q_t)]))`.
//!
//! Loss: `-log p(x|q_t, q_b)` plus each level's codebook and commitment terms (eq. 3 of VQ-VAE,
//! summed over the code maps). Priors: independent per-position categoricals over top and bottom
//! codes fitted to the training codes (the paper's PixelCNN priors belong to the autoregressive
//! family), giving the bound `-log p(x) <= -log p(x|q) - log pi_t(top) - log pi_b(bottom)`.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use std::collections::BTreeMap;

use genzoo_core::data::{Batch, Dataset};
use genzoo_core::model::{EvalOptions, EvalReport, Losses, Optimize};
use genzoo_core::{CoreError, Result};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::nets::{SpatialDecoder, SpatialEncoder};
use crate::obs::{Likelihood, Mode, Prepared};
use crate::quantizer::{PositionPrior, Quantizer};
use crate::vq_vae::{batched, code_stats, image_geometry, to_params, vq_report};
use genzoo_core::model::{CodePrior, Network, Reconstruct};

/// VQ-VAE-2's configuration: VQ-VAE's (one codebook size and dimension for both levels).
pub use crate::vq_vae::Config;

/// Preset names of `vq-vae2`; the first is the default.
pub const PRESETS: &[&str] = &["razavi", "tiny", "mnist"];

/// `razavi`: the paper's settings (K = 512, D = 64, beta = 0.25, EMA 0.99, two residual blocks)
/// on 28x28 with 128 hidden channels (VQ-VAE's `oord`); `tiny` and `mnist` as VQ-VAE's.
pub fn preset(name: &str) -> Option<Config> {
    match name {
        "razavi" => Config::preset("oord"),
        "tiny" | "mnist" => Config::preset(name),
        _ => None,
    }
}

/// VQ-VAE-2 with two levels.
#[derive(Debug)]
pub struct VqVae2 {
    cfg: Config,
    lik: Likelihood,
    enc_b: SpatialEncoder,
    enc_t: SpatialEncoder,
    pre_t: nn::Conv2D,
    pre_b: nn::Conv2D,
    dec_t: SpatialDecoder,
    up_t: nn::ConvTranspose2D,
    dec: SpatialDecoder,
    pub quant_t: Quantizer,
    pub quant_b: Quantizer,
    /// The prior over both code maps (independent [`PositionPrior`]s by default; see
    /// [`VqVae2::set_priors`] and [`VqVae2::set_level_priors`]).
    priors: Box<dyn LevelPriors>,
    /// Top and bottom grid sizes.
    grids: ((i64, i64), (i64, i64)),
    device: Device,
}

/// Top and bottom codes of a batch.
#[derive(Debug)]
pub struct Codes2 {
    pub top: Tensor,
    pub bottom: Tensor,
}

impl VqVae2 {
    /// Builds the two-level encoders, quantizers, decoders and code priors under `p` (`enc_b`,
    /// `enc_t`, `vq_t`, `vq_b`, `dec_t`, `dec`, `prior_t`, `prior_b`, ...).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the data are not images with height and width divisible by 4
    /// (`data`), the likelihood does not fit them (`likelihood`), a channel count is not positive
    /// (`channels`), `codebook_size`/`code_dim` is < 1, `decay` is outside [0, 1), or a prior grid
    /// is empty (`prior`); a libtorch error.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let (c, h, w) = image_geometry(&cfg.data, 4)?;
        let lik = cfg.likelihood.resolve(&cfg.data)?;
        let (ch, d, k) = (cfg.channels, cfg.code_dim, cfg.codebook_size);
        let enc_b =
            SpatialEncoder::new(&(p / "enc_b"), c, ch, 1, cfg.res_blocks, cfg.res_channels)?;
        let enc_t =
            SpatialEncoder::new(&(p / "enc_t"), ch, ch, 1, cfg.res_blocks, cfg.res_channels)?;
        let pre_t = nn::conv2d(p / "pre_vq_t", ch, d, 1, Default::default());
        let pre_b = nn::conv2d(p / "pre_vq_b", ch + d, d, 1, Default::default());
        let dec_t = SpatialDecoder::new(
            &(p / "dec_t"),
            d,
            ch,
            d,
            1,
            cfg.res_blocks,
            cfg.res_channels,
        )?;
        let up_cfg = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        let up_t = nn::conv_transpose2d(p / "up_t", d, d, 4, up_cfg);
        let dec = SpatialDecoder::new(
            &(p / "dec"),
            2 * d,
            ch,
            lik.params() * c,
            1,
            cfg.res_blocks,
            cfg.res_channels,
        )?;
        let quant_t = Quantizer::new(&(p / "vq_t"), k, d, cfg.ema, cfg.decay, cfg.dead_threshold)?;
        let quant_b = Quantizer::new(&(p / "vq_b"), k, d, cfg.ema, cfg.decay, cfg.dead_threshold)?;
        let grids = ((h / 4, w / 4), (h / 2, w / 2));
        let prior_t = PositionPrior::new(&(p / "prior_t"), grids.0, k, cfg.prior_decay)?;
        let prior_b = PositionPrior::new(&(p / "prior_b"), grids.1, k, cfg.prior_decay)?;
        Ok(VqVae2 {
            cfg: cfg.clone(),
            lik,
            enc_b,
            enc_t,
            pre_t,
            pre_b,
            dec_t,
            up_t,
            dec,
            quant_t,
            quant_b,
            priors: Box::new(IndependentPriors {
                top: Box::new(prior_t),
                bottom: Box::new(prior_b),
            }),
            grids,
            device: p.device(),
        })
    }

    /// Decoder parameters `[b, P, c, h, w]` from quantized top `[b, D, 7, 7]` and bottom
    /// `[b, D, 14, 14]` maps.
    ///
    /// # Errors
    /// A libtorch error when `q_b` and the upsampled `q_t` differ in batch or grid size.
    pub fn decode(&self, q_t: &Tensor, q_b: &Tensor) -> Result<Tensor> {
        let h = Tensor::f_cat(&[q_b.shallow_clone(), self.up_t.forward(q_t)], 1)?;
        to_params(&self.dec.forward(&h), self.lik.params())
    }

    /// Encodes and quantizes both levels (updating codebooks when `train`); returns the
    /// straight-through maps, codes and the summed VQ loss terms `(commitment, codebook)`.
    fn quantize(
        &self,
        input: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor, Codes2, Tensor, Tensor, Tensor)> {
        let h_b = self.enc_b.forward(input);
        let h_t = self.enc_t.forward(&h_b);
        let qt = self.quant_t.forward(&self.pre_t.forward(&h_t), train)?;
        let cond = self.dec_t.forward(&qt.z_q);
        let qb = self
            .quant_b
            .forward(&self.pre_b.forward(&Tensor::f_cat(&[h_b, cond], 1)?), train)?;
        let d = self.cfg.code_dim as f64;
        let (nt, nb) = (
            (self.grids.0 .0 * self.grids.0 .1) as f64 * d,
            (self.grids.1 .0 * self.grids.1 .1) as f64 * d,
        );
        let commit = qt
            .commitment
            .f_mul_scalar(nt)?
            .f_add(&qb.commitment.f_mul_scalar(nb)?)?;
        let codebook = qt
            .codebook
            .f_mul_scalar(nt)?
            .f_add(&qb.codebook.f_mul_scalar(nb)?)?;
        let perplexity = qb.perplexity;
        Ok((
            qt.z_q,
            qb.z_q,
            Codes2 {
                top: qt.codes,
                bottom: qb.codes,
            },
            commit,
            codebook,
            perplexity,
        ))
    }

    /// Losses of a prepared batch; with `train`, updates codebooks and priors.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `prep.target` does not fit the likelihood; with `train`, the error
    /// of a prior's update (codes of another grid); a libtorch error, e.g. when the input's height
    /// or width is not divisible by 4, so that the top and bottom maps do not line up.
    pub fn loss(&self, prep: &Prepared, train: bool) -> Result<Losses> {
        let (q_t, q_b, codes, commit, codebook, perplexity) = self.quantize(&prep.input, train)?;
        let log_px = self.lik.log_prob(&self.decode(&q_t, &q_b)?, &prep.target)?;
        let recon = log_px.f_mean(Kind::Float)?.f_neg()?;
        let total = recon
            .f_add(&codebook)?
            .f_add(&commit.f_mul_scalar(self.cfg.commitment)?)?;
        if train {
            self.priors.observe(&codes)?;
        }
        Ok(Losses::new(total)
            .with("recon", recon)
            .with("commitment", commit)
            .with("codebook", codebook)
            .with("perplexity_bottom", perplexity))
    }

    /// Codes of a prepared input (no gradient, no update).
    ///
    /// # Errors
    /// A libtorch error, e.g. when the height or width of `input` is not divisible by 4, so that
    /// the top and bottom maps do not line up.
    pub fn codes(&self, input: &Tensor) -> Result<Codes2> {
        tch::no_grad(|| Ok(self.quantize(input, false)?.2))
    }

    /// Decoder parameters of given codes.
    ///
    /// # Errors
    /// A libtorch error when the codes hold indices outside `0..K` or the top and bottom grids do
    /// not line up.
    pub fn decode_codes(&self, codes: &Codes2) -> Result<Tensor> {
        self.decode(
            &self.quant_t.lookup(&codes.top)?,
            &self.quant_b.lookup(&codes.bottom)?,
        )
    }

    /// Replaces the priors over the top and bottom code maps by two independent ones.
    ///
    /// # Errors
    /// A prior of another codebook size or grid than its level's.
    pub fn set_priors(
        &mut self,
        top: Box<dyn CodePrior>,
        bottom: Box<dyn CodePrior>,
    ) -> Result<()> {
        self.set_level_priors(Box::new(IndependentPriors { top, bottom }))
    }

    /// Replaces the prior over both code maps (the paper's PixelCNN over the top codes and one
    /// over the bottom codes conditioned on the top, say).
    ///
    /// # Errors
    /// A prior of another codebook size or grids than the model's.
    pub fn set_level_priors(&mut self, priors: Box<dyn LevelPriors>) -> Result<()> {
        let k = self.cfg.codebook_size;
        if priors.num_codes() != k || priors.grids() != self.grids {
            return Err(CoreError::config(
                "prior",
                format!(
                    "the model's codes are {k} codes on {:?} grids; the prior is over {} codes on {:?}",
                    self.grids,
                    priors.num_codes(),
                    priors.grids()
                ),
            ));
        }
        self.priors = priors;
        Ok(())
    }

    /// Top and bottom codes of a stored batch (`u8` images), prepared as in training or
    /// evaluation; no gradient. What code priors train on.
    ///
    /// # Errors
    /// [`CoreError::Shape`] when `x` is not data the likelihood can model; a libtorch error.
    pub fn batch_codes(&self, x: &Tensor, mode: Mode) -> Result<Codes2> {
        let prep = self.lik.prepare(&x.to_device(self.device), mode)?;
        self.codes(&prep.input)
    }

    /// The top and bottom grids `((h_t, w_t), (h_b, w_b))`.
    pub fn grids(&self) -> ((i64, i64), (i64, i64)) {
        self.grids
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
}

/// A prior over VQ-VAE-2's two code maps: `log p(top, bottom)` and joint samples.
pub trait LevelPriors: std::fmt::Debug {
    /// Codebook size K.
    fn num_codes(&self) -> i64;
    /// The top and bottom grids.
    fn grids(&self) -> ((i64, i64), (i64, i64));
    /// `log p(top, bottom)` in nats per example, `[n]`.
    ///
    /// # Errors
    /// Codes of other grids or outside `0..K`, or a libtorch error.
    fn log_prob(&self, codes: &Codes2) -> Result<Tensor>;
    /// `n` seeded joint samples.
    ///
    /// # Errors
    /// A libtorch error.
    fn sample(&self, n: i64, seed: u64) -> Result<Codes2>;
    /// Sees a batch of training codes while the VQ model trains. Default: nothing.
    ///
    /// # Errors
    /// Codes of other grids, or a libtorch error.
    fn observe(&self, _codes: &Codes2) -> Result<()> {
        Ok(())
    }
}

/// Independent priors over the two maps, `p(top) p(bottom)`.
#[derive(Debug)]
pub struct IndependentPriors {
    pub top: Box<dyn CodePrior>,
    pub bottom: Box<dyn CodePrior>,
}

impl LevelPriors for IndependentPriors {
    fn num_codes(&self) -> i64 {
        self.top.num_codes().min(self.bottom.num_codes())
    }
    fn grids(&self) -> ((i64, i64), (i64, i64)) {
        (self.top.grid(), self.bottom.grid())
    }
    fn log_prob(&self, codes: &Codes2) -> Result<Tensor> {
        Ok(self
            .top
            .log_prob(&codes.top)?
            .f_add(&self.bottom.log_prob(&codes.bottom)?)?)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Codes2> {
        Ok(Codes2 {
            top: self
                .top
                .sample(n, genzoo_core::seed::derive(seed, "vq2-top", 0))?,
            bottom: self
                .bottom
                .sample(n, genzoo_core::seed::derive(seed, "vq2-bottom", 0))?,
        })
    }
    fn observe(&self, codes: &Codes2) -> Result<()> {
        self.top.observe(&codes.top)?;
        self.bottom.observe(&codes.bottom)
    }
}

impl Network for VqVae2 {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        "vq-vae2"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let prep = self.lik.prepare(&batch.x, Mode::Train)?;
        let losses = self.loss(&prep, true)?;
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
        let (mut tops, mut bottoms, mut lp) = (vec![], vec![], vec![]);
        let log_px = batched(data.len(), opts.batch_size, |i, m| {
            tch::no_grad(|| {
                let c = self.codes(&prep.input.narrow(0, i, m))?;
                let params = self.decode_codes(&c)?;
                lp.push(self.priors.log_prob(&c)?);
                tops.push(c.top);
                bottoms.push(c.bottom);
                self.lik.log_prob(&params, &prep.target.narrow(0, i, m))
            })
        })?;
        let k = self.cfg.codebook_size;
        let (pt, ut) = code_stats(&Tensor::f_cat(&tops, 0)?, k)?;
        let (pb, ub) = code_stats(&Tensor::f_cat(&bottoms, 0)?, k)?;
        let mut metrics = BTreeMap::new();
        metrics.insert("perplexity_top".into(), pt);
        metrics.insert("codebook_usage_top".into(), ut);
        metrics.insert("perplexity_bottom".into(), pb);
        metrics.insert("codebook_usage_bottom".into(), ub);
        vq_report(
            "vq-vae2",
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
            let codes = self.priors.sample(n, seed)?;
            self.lik.mean(&self.decode_codes(&codes)?)
        })
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(self)
    }
}

impl Reconstruct for VqVae2 {
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| {
            let prep = self.lik.prepare(x, Mode::Eval { seed: 0 })?;
            let c = self.codes(&prep.input)?;
            self.lik.mean(&self.decode_codes(&c)?)
        })
    }
}
