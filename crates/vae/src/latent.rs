//! The Gaussian-latent encoder/decoder pair shared by the VAE, beta-VAE, IWAE and cVAE:
//! q(z|x\[,y\]) = N(mu, diag(exp(logvar))), p(z) = N(0, I), p(x|z\[,y\]) an observation model of
//! [`crate::obs`] (Kingma & Welling 2014, sec. 2 and appendix C).
//!
//! * [`GaussianLatent::encode`]: `input [b, ...]` -> q as a `DiagGaussian` of batch shape `[b, d]`.
//! * [`GaussianLatent::decode`]: `z [n, d]` -> decoder parameters `[n, P, ...shape]`.
//! * [`GaussianLatent::log_weights`]: the importance weights of Burda et al. (2016, eq. 8),
//!   `log w_i = log p(x, z_i) - log q(z_i|x)`, `z_i ~ q`, as `[k, b]`. `logmeanexp` over `k` is
//!   L_k; with `k = 1` it is the single-sample ELBO.
//! * [`GaussianLatent::kl`]: the closed-form KL(q || N(0, I)) per latent dimension, `[b, d]`
//!   (Kingma & Welling 2014, appendix B).
//!
//! [`LatentModel`] is what the ELBO and the importance-sampled NLL of [`crate::eval`] need of a
//! model: a Gaussian proposal q(z|x), a prior p(z) and a decoder with its
//! [`DecoderLikelihood`]. [`GaussianLatent`] implements it; so can an adversarially trained
//! encoder (AAE) or a VAE with a PixelCNN decoder, which then share the same evaluation.
use genzoo_core::data::DataKind;
use genzoo_core::dist::{DiagGaussian, Distribution, StandardNormal};
use genzoo_core::divergence;
use genzoo_core::{CoreError, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::decoder::DecoderLikelihood;
use crate::nets::{Arch, VectorDecoder, VectorEncoder};
use crate::obs::Likelihood;

/// The encoder q(z|x), decoder p(x|z) and their sizes.
#[derive(Debug)]
pub struct GaussianLatent {
    pub enc: VectorEncoder,
    pub dec: VectorDecoder,
    /// The observation model p(x|z) (a resolved [`Likelihood`], or any other decoder likelihood).
    pub lik: Box<dyn DecoderLikelihood>,
    /// Latent dimensions d.
    pub latent: i64,
    /// Width of the condition (one-hot label) fed to encoder and decoder; 0 when unconditional.
    pub cond_dim: i64,
    /// The data the pair models.
    pub data: DataKind,
    /// Where the weights live.
    pub device: Device,
}

impl GaussianLatent {
    /// Builds `enc` and `dec` under `p / "enc"` and `p / "dec"` with the observation model `lik`
    /// (`Auto` resolved for `data`).
    ///
    /// # Errors
    /// A non-positive `latent`, a likelihood that does not fit `data`, or a layer error.
    pub fn new(
        p: &nn::Path,
        arch: &Arch,
        latent: i64,
        lik: Likelihood,
        data: DataKind,
        cond_dim: i64,
    ) -> Result<Self> {
        let lik = lik.resolve(&data)?;
        Self::with_likelihood(p, arch, latent, Box::new(lik), data, cond_dim)
    }

    /// [`GaussianLatent::new`] with any decoder likelihood: the decoder outputs
    /// `lik.params()` values per data dimension.
    ///
    /// # Errors
    /// A non-positive `latent`, or a layer error.
    pub fn with_likelihood(
        p: &nn::Path,
        arch: &Arch,
        latent: i64,
        lik: Box<dyn DecoderLikelihood>,
        data: DataKind,
        cond_dim: i64,
    ) -> Result<Self> {
        if latent <= 0 {
            return Err(CoreError::config(
                "latent_dim",
                format!("must be positive, got {latent}"),
            ));
        }
        let shape = data.example_shape();
        let enc = VectorEncoder::new(&(p / "enc"), arch, &shape, cond_dim, 2 * latent)?;
        let dec = VectorDecoder::new(&(p / "dec"), arch, latent, cond_dim, &shape, lik.params())?;
        Ok(GaussianLatent {
            enc,
            dec,
            lik,
            latent,
            cond_dim,
            data,
            device: p.device(),
        })
    }

    /// q(z|x): `input [b, ...shape]` f32 -> a Gaussian of batch shape `[b, d]`.
    ///
    /// # Errors
    /// A libtorch error from splitting the encoder output (an `input` or `cond` that does not fit
    /// the encoder panics in its layers instead).
    pub fn encode(&self, input: &Tensor, cond: Option<&Tensor>) -> Result<DiagGaussian> {
        let h = self.enc.forward(input, cond);
        let parts = h.f_chunk(2, 1)?;
        // Clamp the log-variance to keep exp() finite early in training.
        DiagGaussian::from_log_var(&parts[0], &parts[1].f_clamp(-20.0, 10.0)?)
    }

    /// Decoder parameters for `z [n, d]` (and `cond [n, c]`): `[n, P, ...shape]`.
    pub fn decode(&self, z: &Tensor, cond: Option<&Tensor>) -> Tensor {
        self.dec.forward(z, cond)
    }

    /// `log p(x|z)` summed over dimensions, `[n]`.
    ///
    /// # Errors
    /// The error of the likelihood's [`DecoderLikelihood::log_prob`]: mismatched shapes (for the
    /// built-in [`Likelihood`], a `target` outside its support), or a libtorch error.
    pub fn log_px(&self, params: &Tensor, target: &Tensor) -> Result<Tensor> {
        self.lik.log_prob(params, target)
    }

    /// KL(q(z|x) || N(0, I)) per example and latent dimension, `[b, d]`, in closed form.
    ///
    /// # Errors
    /// A libtorch error (the parameters of `q` come from [`GaussianLatent::encode`], so their
    /// shapes agree).
    pub fn kl(&self, q: &DiagGaussian) -> Result<Tensor> {
        divergence::kl::kl_std_normal(&q.loc, &q.log_scale.f_mul_scalar(2.0)?)
    }

    /// `log p(z)` under N(0, I), summed over the last dimension: `z [.., d]` -> `[..]`.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `z` is not floating-point; [`CoreError::Shape`] (`x`) when its
    /// last dimension does not broadcast against the latent size; a libtorch error.
    pub fn log_prior(&self, z: &Tensor) -> Result<Tensor> {
        let prior = StandardNormal::new(&[self.latent], z.kind(), z.device())?;
        Ok(prior
            .f_log_prob(z)?
            .f_sum_dim_intlist(-1, false, Kind::Float)?)
    }

    /// Importance log-weights `log p(x|z) + log p(z) - log q(z|x)` for `k` reparameterized draws
    /// `z ~ q(z|x)`: `[k, b]`. Differentiable (the IWAE training objective); call under
    /// `no_grad` for evaluation.
    ///
    /// # Errors
    /// The errors of [`GaussianLatent::encode`] and [`GaussianLatent::log_weights_from`].
    pub fn log_weights(
        &self,
        input: &Tensor,
        target: &Tensor,
        cond: Option<&Tensor>,
        k: i64,
    ) -> Result<Tensor> {
        let q = self.encode(input, cond)?;
        self.log_weights_from(&q, target, cond, k)
    }

    /// [`GaussianLatent::log_weights`] from a given posterior `q` of batch shape `[b, d]`.
    ///
    /// # Errors
    /// The error of the likelihood's `log_prob` when `target` does not fit it; a libtorch error
    /// when the batch of `target` differs from that of `q` or `k < 1`.
    pub fn log_weights_from(
        &self,
        q: &DiagGaussian,
        target: &Tensor,
        cond: Option<&Tensor>,
        k: i64,
    ) -> Result<Tensor> {
        let b = target.size()[0];
        let z = q.rsample(&[k])?; // [k, b, d]
        let log_q = q
            .f_log_prob(&z)?
            .f_sum_dim_intlist(-1, false, Kind::Float)?; // [k, b]
        let log_pz = self.log_prior(&z)?; // [k, b]
        let zf = z.f_reshape([k * b, self.latent])?;
        let condk = match cond {
            Some(c) => Some(c.f_repeat([k, 1])?),
            None => None,
        };
        let params = self.decode(&zf, condk.as_ref());
        let tgt = expand_rows(target, k)?;
        let log_px = self.log_px(&params, &tgt)?.f_reshape([k, b])?;
        Ok(log_px.f_add(&log_pz)?.f_sub(&log_q)?)
    }
}

/// A latent-variable model as the ELBO and the importance-sampled NLL see it (Burda et al. 2016,
/// eq. 8): a diagonal-Gaussian proposal q(z|x\[,y\]), a prior p(z), and a decoder whose outputs
/// mean p(x|z\[,y\]) through [`LatentModel::likelihood`].
pub trait LatentModel {
    /// Latent dimensions d.
    fn latent_dim(&self) -> i64;
    /// Width of the condition (one-hot label); 0 when unconditional.
    fn cond_dim(&self) -> i64 {
        0
    }
    /// The data the model is built for.
    fn data(&self) -> DataKind;
    /// The observation model p(x|z).
    fn likelihood(&self) -> &dyn DecoderLikelihood;
    /// The proposal q(z|x): `input [b, ...shape]` -> a Gaussian of batch shape `[b, d]`.
    ///
    /// # Errors
    /// Input of another shape than the model's, or a libtorch error.
    fn posterior(&self, input: &Tensor, cond: Option<&Tensor>) -> Result<DiagGaussian>;
    /// `log p(z)` summed over the last dimension: `z [.., d]` -> `[..]` nats.
    ///
    /// # Errors
    /// A libtorch error.
    fn log_prior(&self, z: &Tensor) -> Result<Tensor>;
    /// Decoder outputs for `z [n, d]` (and `cond [n, c]`): `[n, P, ...shape]`.
    ///
    /// # Errors
    /// A libtorch error.
    fn decode(&self, z: &Tensor, cond: Option<&Tensor>) -> Result<Tensor>;
    /// KL(q || p(z)) per example and latent dimension, `[b, d]`. Default: the closed form
    /// against N(0, I) (Kingma & Welling 2014, appendix B); override for another prior.
    ///
    /// # Errors
    /// A libtorch error.
    fn kl(&self, q: &DiagGaussian) -> Result<Tensor> {
        divergence::kl::kl_std_normal(&q.loc, &q.log_scale.f_mul_scalar(2.0)?)
    }
}

impl LatentModel for GaussianLatent {
    fn latent_dim(&self) -> i64 {
        self.latent
    }
    fn cond_dim(&self) -> i64 {
        self.cond_dim
    }
    fn data(&self) -> DataKind {
        self.data
    }
    fn likelihood(&self) -> &dyn DecoderLikelihood {
        self.lik.as_ref()
    }
    fn posterior(&self, input: &Tensor, cond: Option<&Tensor>) -> Result<DiagGaussian> {
        self.encode(input, cond)
    }
    fn log_prior(&self, z: &Tensor) -> Result<Tensor> {
        GaussianLatent::log_prior(self, z)
    }
    fn decode(&self, z: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        Ok(GaussianLatent::decode(self, z, cond))
    }
}

pub use genzoo_core::obs::expand_rows;
