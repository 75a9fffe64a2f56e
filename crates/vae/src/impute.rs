//! Partial sampling for latent-variable models: completing an input of which only some values
//! are known, by the Markov chain of Rezende, Mohamed & Wierstra (2014, sec. 5.4 and appendix F):
//! starting from the known values (the unknown ones set to a neutral value), repeat
//! `z ~ q(z|x)`, `x' ~ p(x|z)`, and put the known values back into `x'`. Under mild conditions the
//! chain's stationary distribution approximates p(x_unknown | x_known); its last state is the
//! completion. Any [`LatentModel`] gets it (VAE, IWAE, and an adversarial autoencoder with a
//! Gaussian encoder).
use genzoo_core::dist::Distribution;
use genzoo_core::model::PartialSample;
use genzoo_core::{CoreError, Result};
use tch::{Kind, Tensor};

use crate::latent::{GaussianLatent, LatentModel};
use crate::obs::Mode;

/// Steps of the chain (Rezende et al. 2014 report that tens of steps suffice on MNIST).
pub const CHAIN_STEPS: usize = 50;

/// Completes `x` (a batch as stored) where `known` (`bool`, `x`'s shape) is false, by
/// `steps` steps of the chain, torch seeded from `(seed, "impute", 0)`. Returns the completion
/// in the layout of the model's samples (images `f32` in \[0,1\], vectors `f32`), the known
/// values as they were (images scaled to \[0,1\]).
///
/// # Errors
/// `known` not boolean or not of `x`'s shape, `steps == 0`, data the model cannot take, or a
/// libtorch error.
pub fn complete(
    model: &dyn LatentModel,
    x: &Tensor,
    known: &Tensor,
    seed: u64,
    steps: usize,
) -> Result<Tensor> {
    if known.size() != x.size() || known.kind() != Kind::Bool {
        return Err(CoreError::shape(
            "known",
            format!(
                "expected a bool mask of x's shape {:?}, got {:?} {:?}",
                x.size(),
                known.kind(),
                known.size()
            ),
        ));
    }
    if steps == 0 {
        return Err(CoreError::Invalid(
            "the imputation chain needs at least one step".into(),
        ));
    }
    let lik = model.likelihood();
    tch::no_grad(|| {
        genzoo_core::seed::seed_torch_stream(seed, "impute", 0);
        let prep = lik.prepare(x, Mode::Eval { seed })?;
        let known = known.f_to_device(prep.input.device())?;
        // The known values in data space: what is returned unchanged.
        let x_data = if x.kind() == Kind::Uint8 {
            x.f_to_kind(Kind::Float)?.f_div_scalar(255.0)?
        } else {
            x.f_to_kind(Kind::Float)?
        };
        // Unknown entries start at a neutral value (0.5 for unit-interval inputs, 0 otherwise).
        let start = if x.kind() == Kind::Uint8 { 0.5 } else { 0.0 };
        let mut input = prep
            .input
            .f_where_self(&known, &prep.input.f_full_like(start)?)?;
        let mut out = x_data.shallow_clone();
        for _ in 0..steps {
            let z = model.posterior(&input, None)?.rsample(&[])?;
            let draw = lik.sample(&model.decode(&z, None)?)?;
            out = x_data.f_where_self(&known, &draw.f_to_kind(Kind::Float)?)?;
            input = prep
                .input
                .f_where_self(&known, &draw.f_to_kind(prep.input.kind())?)?;
        }
        Ok(out)
    })
}

/// The unconditional Gaussian-latent models (VAE, beta-VAE, IWAE) complete inputs with
/// [`CHAIN_STEPS`] steps of the chain.
impl PartialSample for GaussianLatent {
    fn complete(&self, x: &Tensor, known: &Tensor, seed: u64) -> Result<Tensor> {
        complete(self, x, known, seed, CHAIN_STEPS)
    }
}
