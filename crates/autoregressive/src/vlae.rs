//! VLAE / PixelVAE: a VAE whose decoder is a small PixelCNN (Chen et al. 2017, "Variational Lossy
//! Autoencoder", sec. 3-4; Gulrajani et al. 2017, "PixelVAE"): the lecture notes' remedy for
//! blurry VAE samples, and the classic case of posterior collapse.
//!
//! The VAE's decoder maps `z` to `F` feature maps per pixel; a Gated PixelCNN with a small
//! receptive field models `p(x | z) = prod_i p(x_i | x_<i, z)` with those maps added to every
//! layer (eq. 5 of the Gated PixelCNN paper, a location-dependent condition). Because a
//! PixelCNN alone can model the data, the latent is used only when it pays: free bits (Kingma et
//! al. 2016, eq. 15) keep `free_bits` nats per latent dimension in the KL term, and the
//! evaluation reports how many nats the latent keeps (`kl_nats`, the rate) and its active units
//! beside the importance-sampled NLL. Everything else (ELBO, IWAE bound, IS-NLL) is the VAE
//! family's code, unchanged, through [`genzoo_vae::decoder::DecoderLikelihood`].
use genzoo_core::model::Family;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::gated_pixel_cnn::{self as gated, GatedPixelCnn};
use crate::model::{CachedSample, SampleJob};
use genzoo_core::data::DataKind;
use genzoo_core::data::{Batch, Dataset};
use genzoo_core::model::{
    EvalOptions, EvalReport, Losses, Network, Optimize, PerExampleNll, Reconstruct,
};
use genzoo_core::obs::{Likelihood, Mode, Prepared};
use genzoo_core::units::NllUnit;
use genzoo_core::{CoreError, Result};
use genzoo_vae::decoder::DecoderLikelihood;
use genzoo_vae::vae::{self, Vae};

/// p(x | z) by a Gated PixelCNN conditioned on `F` decoder feature maps per pixel, over binarized
/// images `[c, h, w]`.
#[derive(Debug)]
pub struct PixelDecoder {
    net: GatedPixelCnn,
    features: i64,
    data: DataKind,
}

impl PixelDecoder {
    /// # Errors
    /// As [`GatedPixelCnn::new`]; [`CoreError::Config`] (`features`) for fewer than one feature.
    pub fn new(p: &nn::Path, cfg: &gated::Config, features: i64, data: DataKind) -> Result<Self> {
        if features < 1 {
            return Err(CoreError::config("features", "must be >= 1"));
        }
        let c = data.example_shape().first().copied().unwrap_or(1);
        let mut cfg = cfg.clone();
        cfg.data = data;
        cfg.likelihood = Likelihood::Bernoulli;
        cfg.conditional = false;
        cfg.num_classes = 0;
        cfg.cond_channels = features * c;
        Ok(PixelDecoder {
            net: GatedPixelCnn::new(p, &cfg)?,
            features,
            data,
        })
    }

    /// Decoder outputs `[n, F, c, h, w]` as the PixelCNN's conditioning map `[n, F c, h, w]`.
    fn map(&self, params: &Tensor) -> Result<Tensor> {
        Ok(params.f_flatten(1, 2)?)
    }
}

impl DecoderLikelihood for PixelDecoder {
    fn params(&self) -> i64 {
        self.features
    }
    fn unit(&self) -> NllUnit {
        NllUnit::Nats
    }
    fn data_label(&self, seed: u64) -> String {
        Likelihood::Bernoulli.data_label(seed)
    }
    fn prepare(&self, x: &Tensor, mode: Mode) -> Result<Prepared> {
        Likelihood::Bernoulli.prepare(x, mode)
    }
    fn log_prob(&self, params: &Tensor, target: &Tensor) -> Result<Tensor> {
        let logits = self.net.forward(target, None, Some(&self.map(params)?))?;
        Likelihood::Bernoulli.log_prob(&logits, target)
    }
    /// A representative draw (a PixelCNN has no closed-form mean): [`DecoderLikelihood::sample`].
    fn mean(&self, params: &Tensor) -> Result<Tensor> {
        self.sample(params)
    }
    /// Cached sampling given the decoder's maps, with uniforms from torch's generator (which the
    /// VAE's sampling seeds).
    fn sample(&self, params: &Tensor) -> Result<Tensor> {
        let n = params.size()[0];
        let u = Tensor::f_rand([n, self.data.dims()], (Kind::Float, params.device()))?
            .f_clamp(1e-6, 1.0 - 1e-6)?;
        let map = self.map(params)?;
        tch::no_grad(|| {
            self.net.sample_cached(&SampleJob {
                n,
                labels: None,
                u: &u,
                temperature: 1.0,
                known: None,
                cond_map: Some(&map),
            })
        })
    }
}

/// The VLAE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Encoder, decoder, latent size and objective (free bits) of the VAE; its `likelihood` is
    /// replaced by the PixelCNN decoder.
    pub vae: vae::Config,
    /// The PixelCNN decoder's stacks (a small receptive field keeps the latent useful).
    pub pixel: gated::Config,
    /// Feature maps per pixel from the VAE's decoder into the PixelCNN.
    pub features: i64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (vae_preset, pixel_preset, layers, features, free_bits) = match name {
            // Chen et al. 2017 use a PixelCNN of small receptive field and free bits; here a
            // 3-layer Gated PixelCNN (a 5-pixel-wide window) and 0.25 nats per latent unit.
            "mnist" => ("classic", "mnist", 3, 4, 0.25),
            "tiny" => ("tiny", "tiny", 2, 2, 0.1),
            _ => return None,
        };
        let mut vae = vae::Config::mlp_preset(vae_preset)?;
        vae.objective.free_bits = free_bits;
        let mut pixel = gated::Config::preset(pixel_preset)?;
        pixel.layers = layers;
        pixel.first_kernel = 3;
        Some(Config {
            vae,
            pixel,
            features,
        })
    }
}

/// The VLAE: the VAE (under `enc`/`dec`) with the PixelCNN decoder (under `pixel_dec`), named
/// `vlae` in reports.
pub struct Vlae {
    pub cfg: Config,
    pub vae: Vae,
}

impl Vlae {
    /// # Errors
    /// As [`Vae::with_likelihood`] and [`PixelDecoder::new`]; [`CoreError::Config`] (`data`) for
    /// data other than images.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        if !cfg.vae.data.is_image() {
            return Err(CoreError::config(
                "data",
                "the VLAE models binarized images",
            ));
        }
        let dec = PixelDecoder::new(&(p / "pixel_dec"), &cfg.pixel, cfg.features, cfg.vae.data)?;
        let mut vae_cfg = cfg.vae.clone();
        vae_cfg.likelihood = Likelihood::Bernoulli;
        Ok(Vlae {
            cfg: cfg.clone(),
            vae: Vae::with_likelihood(p, &vae_cfg, "vlae", Box::new(dec))?,
        })
    }
}

impl Network for Vlae {
    fn name(&self) -> &str {
        "vlae"
    }
    fn family(&self) -> Family {
        Family::Autoregressive
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        self.vae.train_step(batch, opt)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.vae.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.vae.sample(n, seed)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        self.vae.per_example_nll()
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        self.vae.reconstructor()
    }
}
