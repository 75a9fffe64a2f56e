//! The generative adversarial network of Goodfellow et al. 2014 ("Generative Adversarial Nets",
//! sec. 3 and 5): multilayer perceptrons for both players. The generator maps noise `z ~ N(0, I)`
//! through ReLU layers to an example (tanh for images in `[-1, 1]`, linear for vectors); the
//! discriminator maps a flattened example through LeakyReLU (0.2) layers to one logit or critic
//! value. Catalogue name `gan-mlp`: flattened 28x28 images (`paper`, `mnist`, `tiny`) and the
//! 2-D toys (`toy`).
//!
//! Differences from the paper: the paper's discriminator used maxout units and dropout, its
//! generator a sigmoid output on \[0,1\] pixels; here LeakyReLU, no dropout, and tanh on `[-1, 1]`.
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use crate::game::{Adversarial, Game};
use crate::nets::{MlpPlayers, MlpSizes};
use crate::objective::Objective;
use genzoo_core::data::DataKind;
use genzoo_core::Result;

/// The MLP GAN's configuration. Unknown keys are refused by the catalogue
/// (`genzoo_core::model::config_from`); the [`Game`] keys sit at the top level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The data modelled (set from the dataset): images or vectors.
    pub data: DataKind,
    /// Noise dimensions.
    pub latent_dim: i64,
    /// The generator's hidden widths (ReLU).
    pub gen_hidden: Vec<i64>,
    /// The discriminator's hidden widths (LeakyReLU 0.2).
    pub disc_hidden: Vec<i64>,
    #[serde(flatten)]
    pub game: Game,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "toy", "tiny"];

/// 28x28 grey images.
pub const MNIST: DataKind = DataKind::Image {
    channels: 1,
    height: 28,
    width: 28,
};

impl Config {
    /// A named preset (the catalogue sets `data` from the dataset):
    /// * `paper`: sec. 5's MNIST sizes, a 1200-1200 generator and a 240-240 discriminator, 100
    ///   noise dimensions, the non-saturating loss the paper recommends (sec. 3).
    /// * `mnist`: 64 noise dimensions, 256-512 generator, 512-256 discriminator.
    /// * `toy`: 2-D vectors, 8 noise dimensions, three hidden layers of 64 for both players
    ///   (covers the 8 Gaussians in 2,000 steps of batch 256, Adam 1e-3, betas (0.5, 0.999)).
    /// * `tiny`: a few units for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let ns = Game::new(Objective::NonSaturating);
        let (data, latent_dim, gen_hidden, disc_hidden) = match name {
            "paper" => (MNIST, 100, vec![1200, 1200], vec![240, 240]),
            "mnist" => (MNIST, 64, vec![256, 512], vec![512, 256]),
            "toy" => (DataKind::Vector { dim: 2 }, 8, vec![64; 3], vec![64; 3]),
            "tiny" => (MNIST, 4, vec![16], vec![16]),
            _ => return None,
        };
        Some(Config {
            data,
            latent_dim,
            gen_hidden,
            disc_hidden,
            game: ns,
        })
    }
}

/// The MLP generator and discriminator ([`MlpPlayers`]): weights `gen.fc1..` and `disc.fc1..`
/// (the discriminator's hidden layers, then its head whose output layer is the next `fcN`).
#[derive(Debug)]
pub struct MlpGan {
    pub cfg: Config,
    pub players: MlpPlayers,
    device: Device,
}

impl MlpGan {
    /// Builds both players under `p / "gen"` and `p / "disc"`.
    ///
    /// # Errors
    /// As [`MlpPlayers::new`], or invalid [`Game`] settings.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        cfg.game.validate()?;
        let sizes = MlpSizes {
            data: cfg.data,
            gen_in: cfg.latent_dim,
            disc_extra_in: 0,
            gen_hidden: &cfg.gen_hidden,
            disc_hidden: &cfg.disc_hidden,
        };
        Ok(MlpGan {
            players: MlpPlayers::new(p, "gan-mlp", sizes, &cfg.game.tricks)?,
            cfg: cfg.clone(),
            device: p.device(),
        })
    }
}

impl Adversarial for MlpGan {
    fn name(&self) -> &str {
        "gan-mlp"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn game(&self) -> &Game {
        &self.cfg.game
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn latent_dim(&self) -> i64 {
        self.cfg.latent_dim
    }
    fn device(&self) -> Device {
        self.device
    }
    fn generate(&self, z: &Tensor, _y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.players.generate(z, train)
    }
    fn disc_features(
        &self,
        x: &Tensor,
        _y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        self.players
            .discriminate(&x.f_reshape([x.size()[0], -1])?, train)
    }
    fn disc_params(&self) -> Vec<Tensor> {
        self.players.disc_params()
    }
    fn gen_params(&self) -> Vec<Tensor> {
        self.players.gen.params()
    }
}
