//! The [`Adversarial`] trait: what a generator/discriminator pair provides to be played.
use tch::{Device, Kind, Tensor};

use super::settings::Game;
use genzoo_core::data::DataKind;
use genzoo_core::model::Losses;
use genzoo_core::{CoreError, Result};

/// A generator and a discriminator: what a model of this family is. Weights live under
/// `p / "gen"` and `p / "disc"`. Images are modelled in `[-1, 1]` (tanh outputs), vectors as
/// stored.
pub trait Adversarial {
    /// Catalogue name.
    fn name(&self) -> &str;
    /// The configuration, as written to `config.json`.
    fn config_json(&self) -> serde_json::Value;
    /// How the players play.
    fn game(&self) -> &Game;
    /// The data modelled.
    fn data(&self) -> DataKind;
    /// The noise dimension: `z ~ N(0, I)` of shape `[b, latent_dim]`.
    fn latent_dim(&self) -> i64;
    /// The device of the weights.
    fn device(&self) -> Device;
    /// The classes both players are conditioned on (conditional GANs, Mirza & Osindero 2014):
    /// labels `i64 [b]` in `0..k` go with every `generate` and `disc_features` call. `None`: an
    /// unconditional pair, which ignores labels.
    fn num_classes(&self) -> Option<i64> {
        None
    }
    /// `G(z, y)`: noise `[b, latent_dim]` (and labels `[b]` for a conditional pair) to examples
    /// `[b, ...example shape]` (images in `[-1, 1]`); `train` selects batch statistics over
    /// running ones.
    ///
    /// # Errors
    /// A libtorch error; a conditional pair without labels.
    fn generate(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor>;
    /// The discriminator on examples `[b, ...example shape]` (and labels `[b]`): its last hidden
    /// features `[b, k]` (what feature matching matches) and its raw outputs (logits, critic
    /// values) `[b]`; `train` selects batch statistics and updates spectral normalization's
    /// estimates.
    ///
    /// # Errors
    /// A libtorch error; a conditional pair without labels.
    fn disc_features(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)>;
    /// `D(x, y)`: examples `[b, ...example shape]` to raw outputs `[b]`.
    ///
    /// # Errors
    /// As [`Adversarial::disc_features`].
    fn discriminate(&self, x: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(self.disc_features(x, y, train)?.1)
    }
    /// The latent vectors of `b` examples, `[b, latent_dim]`, from torch's generator. Default:
    /// `z ~ N(0, I)`. InfoGAN draws its codes here, its first categorical code set to `classes`
    /// (`i64 [b]`) when given ([`Adversarial::latent_classes`]).
    ///
    /// # Errors
    /// A libtorch error; `classes` outside the code's range.
    fn sample_latent(&self, b: i64, classes: Option<&Tensor>) -> Result<Tensor> {
        let _ = classes;
        Ok(Tensor::f_randn(
            [b, self.latent_dim()],
            (Kind::Float, self.device()),
        )?)
    }
    /// Categories of a latent code that selects what is drawn without labels in training
    /// (InfoGAN's first categorical code): `Some(k)` makes `sample --class` fix that code.
    fn latent_classes(&self) -> Option<i64> {
        None
    }
    /// InfoGAN's mutual-information term for examples generated from `z` (`[b, latent_dim]`),
    /// given the discriminator's features of them (`[b, k]`): as its total, the weighted
    /// negative bound to minimize, `lambda_cat CE + lambda_cont NLL` (`-lambda (L_I - H(c))`
    /// for equal weights), with named parts. Both players add it to their losses (Chen et al.
    /// 2016, eq. 6). Default: `None`, no such term.
    ///
    /// # Errors
    /// A libtorch error.
    fn info_loss(&self, z: &Tensor, features: &Tensor) -> Result<Option<Losses>> {
        let _ = (z, features);
        Ok(None)
    }
    /// How many latent factors [`Adversarial::traversal_latent`] can sweep (0: none).
    fn traversal_factors(&self) -> usize {
        0
    }
    /// The latent vectors of a traversal grid of `factor` over `steps` columns, `[rows * steps,
    /// latent_dim]`, row-major, from torch's generator (seeded by the caller).
    ///
    /// # Errors
    /// [`CoreError::Invalid`] for a model without traversable factors or `factor` out of range.
    fn traversal_latent(&self, factor: usize, steps: i64) -> Result<Tensor> {
        let _ = steps;
        Err(CoreError::Invalid(format!(
            "{} has no latent factor {factor} to traverse",
            self.name()
        )))
    }
    /// Every trainable tensor of the discriminator (what `wgan-clip` clips), in a fixed order.
    fn disc_params(&self) -> Vec<Tensor>;
    /// Every trainable tensor of the generator, in a fixed order.
    fn gen_params(&self) -> Vec<Tensor>;
}
