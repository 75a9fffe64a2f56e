//! The deterministic autoencoder (Hinton & Salakhutdinov 2006; Goodfellow et al. 2016, ch. 14),
//! MLP or convolutional: `z = f(x)`, `x_hat = g(z)`, trained to reconstruct.
//!
//! Images are reconstructed with the cross-entropy of sigmoid outputs against the grey levels
//! x/255 in \[0,1\] (Bengio et al. 2007), vectors with the squared error. It defines no density,
//! so its report has no likelihood (`LikelihoodKind::None`) but the reconstruction errors, and
//! its "samples" decode codes drawn from N(0, I): nothing ties the code distribution to that
//! (or any) prior, which is why an autoencoder is no generator and what the VAE's KL fixes.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use std::collections::BTreeMap;

use genzoo_core::data::{transforms, Batch, DataKind, Dataset};
use genzoo_core::model::{EvalOptions, EvalReport, Losses, Optimize};
use genzoo_core::{CoreError, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Reduction, Tensor};

use crate::nets::{Arch, VectorDecoder, VectorEncoder};
use crate::vae::MNIST;
use genzoo_core::model::{Network, Reconstruct};

/// The autoencoder's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub arch: Arch,
    /// Code dimensions.
    pub latent_dim: i64,
    pub data: DataKind,
}

/// Preset names of `ae-mlp`; the first is the default.
pub const MLP_PRESETS: &[&str] = &["classic", "tiny"];
/// Preset names of `ae-conv`.
pub const CONV_PRESETS: &[&str] = &["conv", "tiny"];

impl Config {
    /// `classic`: the 784-400-20 network of the classic VAE without the noise and the KL.
    pub fn mlp_preset(name: &str) -> Option<Config> {
        Some(match name {
            "classic" => Config {
                arch: Arch::mlp(&[400]),
                latent_dim: 20,
                data: MNIST,
            },
            "tiny" => Config {
                arch: Arch::mlp(&[32]),
                latent_dim: 4,
                data: MNIST,
            },
            _ => return None,
        })
    }
    /// `conv`: the convolutional network of `vae-conv`.
    pub fn conv_preset(name: &str) -> Option<Config> {
        Some(match name {
            "conv" => Config {
                arch: Arch::conv(&[32, 64], 256),
                latent_dim: 32,
                data: MNIST,
            },
            "tiny" => Config {
                arch: Arch::conv(&[4, 8], 16),
                latent_dim: 4,
                data: MNIST,
            },
            _ => return None,
        })
    }
}

/// The deterministic autoencoder.
#[derive(Debug)]
pub struct Autoencoder {
    name: String,
    cfg: Config,
    pub enc: VectorEncoder,
    pub dec: VectorDecoder,
    device: Device,
}

impl Autoencoder {
    /// Builds the encoder and decoder under `p / "enc"` and `p / "dec"` (registry name `ae-mlp` or
    /// `ae-conv`, by architecture).
    ///
    /// # Errors
    /// [`CoreError::Config`] when `latent_dim` is not positive, or when `cfg.arch` does not fit the
    /// data: non-positive sizes (`arch.hidden`, `arch.channels`), a conv architecture on vectors
    /// (`arch`), or an image size not divisible by the downsampling (`arch.channels`).
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let name = match cfg.arch {
            Arch::Mlp { .. } => "ae-mlp",
            Arch::Conv { .. } => "ae-conv",
        };
        if cfg.latent_dim <= 0 {
            return Err(CoreError::config(
                "latent_dim",
                format!("must be positive, got {}", cfg.latent_dim),
            ));
        }
        let shape = cfg.data.example_shape();
        let enc = VectorEncoder::new(&(p / "enc"), &cfg.arch, &shape, 0, cfg.latent_dim)?;
        let dec = VectorDecoder::new(&(p / "dec"), &cfg.arch, cfg.latent_dim, 0, &shape, 1)?;
        Ok(Autoencoder {
            name: name.into(),
            cfg: cfg.clone(),
            enc,
            dec,
            device: p.device(),
        })
    }

    fn target(&self, x: &Tensor) -> Result<Tensor> {
        if self.cfg.data.is_image() {
            Ok(transforms::scale_unit(x))
        } else {
            Ok(x.f_to_kind(Kind::Float)?)
        }
    }

    /// Decoder output (logits for images, values for vectors) of a prepared input: `[b, ...]`.
    fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let z = self.enc.forward(t, None);
        Ok(self.dec.forward(&z, None).f_select(1, 0)?)
    }

    /// Per-example reconstruction errors `(loss, squared error)`, `[b]` each: the loss is the
    /// cross-entropy (images) or the squared error (vectors), summed over dimensions.
    ///
    /// # Errors
    /// A libtorch error from the loss computation (an `x` of another shape than the configured data
    /// panics in the network layers instead).
    pub fn errors(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let t = self.target(x)?;
        let out = self.forward(&t)?;
        let b = t.size()[0];
        let sum = |e: Tensor| -> Result<Tensor> {
            Ok(e.f_reshape([b, -1])?
                .f_sum_dim_intlist(1, false, Kind::Float)?)
        };
        if self.cfg.data.is_image() {
            let ce = out.f_binary_cross_entropy_with_logits(
                &t,
                None::<Tensor>,
                None::<Tensor>,
                Reduction::None,
            )?;
            let se = out.f_sigmoid()?.f_sub(&t)?.f_square()?;
            Ok((sum(ce)?, sum(se)?))
        } else {
            let se = sum(out.f_sub(&t)?.f_square()?)?;
            Ok((se.shallow_clone(), se))
        }
    }

    fn to_data(&self, out: &Tensor) -> Result<Tensor> {
        if self.cfg.data.is_image() {
            Ok(out.f_sigmoid()?)
        } else {
            Ok(out.shallow_clone())
        }
    }
}

impl Network for Autoencoder {
    fn family(&self) -> Family {
        Family::Vae
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let (loss, se) = self.errors(&batch.x)?;
        let total = loss.f_mean(Kind::Float)?;
        let losses = Losses::new(total.shallow_clone())
            .with("recon", total)
            .with("mse", se.f_mean(Kind::Float)?.detach());
        opt.minimize(MODEL_GROUP, losses.total()?)?;
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let data = match opts.max_examples {
            Some(m) => data.take(m),
            None => data.take(data.len()),
        };
        let n = data.len();
        if n == 0 {
            return Err(CoreError::shape(
                format!("{}.x", data.name),
                "no examples to evaluate",
            ));
        }
        let (mut ce, mut se) = (vec![], vec![]);
        tch::no_grad(|| -> Result<()> {
            let mut i = 0;
            while i < n {
                let m = opts.batch_size.max(1).min(n - i);
                let (a, b) = self.errors(&data.x.narrow(0, i, m).to_device(self.device))?;
                ce.push(a);
                se.push(b);
                i += m;
            }
            Ok(())
        })?;
        let mean = |v: &[Tensor]| -> Result<f64> {
            Ok(Tensor::f_cat(v, 0)?
                .f_mean(Kind::Double)?
                .f_double_value(&[])?)
        };
        let dims = self.cfg.data.dims() as f64;
        let mut metrics = BTreeMap::new();
        let (loss, sq) = (mean(&ce)?, mean(&se)?);
        metrics.insert("recon".to_string(), loss);
        metrics.insert("sq_error".to_string(), sq);
        metrics.insert("mse_per_dim".to_string(), sq / dims);
        let what = if self.cfg.data.is_image() {
            "reconstruction cross-entropy on grey levels x/255 (`recon`, nats-like, not a likelihood) and squared error"
        } else {
            "reconstruction squared error"
        };
        Ok(EvalReport {
            nll: None,
            data: format!("{} ({n}); {}: {what}", data.name, self.name),
            metrics,
        })
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        if n < 1 {
            return Err(CoreError::Invalid(format!(
                "sample: n = {n}, need at least 1"
            )));
        }
        tch::no_grad(|| {
            genzoo_core::seed::seed_torch_stream(seed, "ae-sample", 0);
            let z = Tensor::f_randn([n, self.cfg.latent_dim], (Kind::Float, self.device))?;
            self.to_data(&self.dec.forward(&z, None).f_select(1, 0)?)
        })
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        Some(self)
    }
}

impl Reconstruct for Autoencoder {
    fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| self.to_data(&self.forward(&self.target(x)?)?))
    }
}
