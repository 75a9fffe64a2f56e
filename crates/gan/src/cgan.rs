//! The conditional GAN (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
//! sec. 3.2 and 4.1): the class label goes into both players. The generator sees
//! `[z, onehot(y)]`; the discriminator either sees `[x, onehot(y)]` (`conditioning = "concat"`,
//! the paper's) or uses the projection discriminator of Miyato & Koyama 2018 ("cGANs with
//! Projection Discriminator", eq. 3), `D(x, y) = psi(phi(x)) + embed(y)^T phi(x)`, with `phi`
//! the body's last hidden features (`conditioning = "projection"`). MLP players as in the paper
//! (ReLU generator, LeakyReLU 0.2 discriminator; the paper's maxout units and dropout are not
//! used). Catalogue name `cgan`: flattened labelled images (`mnist10k`, `fashion-mnist`, ...) or
//! labelled vectors.
use crate::game::DISC;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::game::{Adversarial, Game};
use crate::nets::{MlpPlayers, MlpSizes};
use crate::objective::Objective;
use genzoo_core::data::DataKind;
use genzoo_core::{CoreError, Result};

/// How the discriminator takes the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conditioning {
    /// The one-hot label appended to the input (Mirza & Osindero 2014).
    Concat,
    /// The inner product of a label embedding with the features (Miyato & Koyama 2018).
    Projection,
}

/// The conditional GAN's configuration; the [`Game`] keys sit at the top level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The data modelled (set from the dataset): images or vectors.
    pub data: DataKind,
    /// Classes (set from the dataset's labels).
    pub num_classes: i64,
    /// Noise dimensions.
    pub latent_dim: i64,
    /// The generator's hidden widths (ReLU).
    pub gen_hidden: Vec<i64>,
    /// The discriminator's hidden widths (LeakyReLU 0.2); at least one.
    pub disc_hidden: Vec<i64>,
    pub conditioning: Conditioning,
    #[serde(flatten)]
    pub game: Game,
}

/// Preset names; the first is the default.
pub const PRESETS: &[&str] = &["paper", "mnist", "tiny"];

impl Config {
    /// A named preset (the catalogue sets `data` and `num_classes` from the dataset), each with
    /// the non-saturating loss:
    /// * `paper`: sec. 4.1's sizes as far as MLPs go: 100 noise dimensions, a 1200-unit
    ///   generator layer, a 240-240 discriminator, the label concatenated.
    /// * `mnist`: 64 noise dimensions, a 256-512 generator, a 512-256 projection discriminator.
    /// * `tiny`: a few units for tests.
    pub fn preset(name: &str) -> Option<Config> {
        let mnist = crate::mlp_gan::MNIST;
        let (latent_dim, gen_hidden, disc_hidden, conditioning) = match name {
            "paper" => (100, vec![1200], vec![240, 240], Conditioning::Concat),
            "mnist" => (64, vec![256, 512], vec![512, 256], Conditioning::Projection),
            "tiny" => (4, vec![16], vec![16], Conditioning::Projection),
            _ => return None,
        };
        Some(Config {
            data: mnist,
            num_classes: 10,
            latent_dim,
            gen_hidden,
            disc_hidden,
            conditioning,
            game: Game::new(Objective::NonSaturating),
        })
    }
}

pub use crate::game::check_labels;

/// `onehot(y)` `f32 [b, k]`.
///
/// # Errors
/// A libtorch error.
pub fn one_hot(y: &Tensor, k: i64) -> Result<Tensor> {
    Ok(y.f_to_kind(Kind::Int64)?
        .f_one_hot(k)?
        .f_to_kind(Kind::Float)?)
}

/// The conditional MLP players ([`MlpPlayers`]): `gen.fc1..`; `disc.fc1..`, the head
/// (`disc.fcN`), and with projection the label embedding `disc.embed` `[k, features]`.
#[derive(Debug)]
pub struct Cgan {
    pub cfg: Config,
    pub players: MlpPlayers,
    pub embed: Option<Tensor>,
    device: Device,
}

impl Cgan {
    /// Builds both players under `p / "gen"` and `p / "disc"`.
    ///
    /// # Errors
    /// [`CoreError::Config`] for fewer than 2 classes (`num_classes`), as [`MlpPlayers::new`],
    /// or invalid [`Game`] settings.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let k = cfg.num_classes;
        if k < 2 {
            return Err(CoreError::config(
                "num_classes",
                format!("a conditional GAN needs labelled data of >= 2 classes, got {k}"),
            ));
        }
        cfg.game.validate()?;
        let concat = cfg.conditioning == Conditioning::Concat;
        let sizes = MlpSizes {
            data: cfg.data,
            gen_in: cfg.latent_dim + k,
            disc_extra_in: if concat { k } else { 0 },
            gen_hidden: &cfg.gen_hidden,
            disc_hidden: &cfg.disc_hidden,
        };
        let players = MlpPlayers::new(p, "cgan", sizes, &cfg.game.tricks)?;
        let features = cfg.disc_hidden.last().copied().unwrap_or(1);
        let embed = (!concat).then(|| {
            (p / DISC).var(
                "embed",
                &[k, features],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 1.0 / (features as f64).sqrt(),
                },
            )
        });
        Ok(Cgan {
            players,
            embed,
            cfg: cfg.clone(),
            device: p.device(),
        })
    }

    fn labels<'a>(&self, y: Option<&'a Tensor>, b: i64) -> Result<&'a Tensor> {
        let y = y.ok_or_else(|| CoreError::shape("labels", "cgan needs labels"))?;
        check_labels(y, b, self.cfg.num_classes)?;
        Ok(y)
    }
}

impl Adversarial for Cgan {
    fn name(&self) -> &str {
        "cgan"
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
    fn num_classes(&self) -> Option<i64> {
        Some(self.cfg.num_classes)
    }
    fn generate(&self, z: &Tensor, y: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let c = one_hot(self.labels(y, z.size()[0])?, self.cfg.num_classes)?;
        self.players.generate(&Tensor::f_cat(&[z, &c], 1)?, train)
    }
    fn disc_features(
        &self,
        x: &Tensor,
        y: Option<&Tensor>,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let b = x.size()[0];
        let y = self.labels(y, b)?;
        let flat = x.f_reshape([b, -1])?;
        let input = match self.cfg.conditioning {
            Conditioning::Concat => Tensor::f_cat(&[&flat, &one_hot(y, self.cfg.num_classes)?], 1)?,
            Conditioning::Projection => flat,
        };
        let (f, mut out) = self.players.discriminate(&input, train)?;
        if let Some(e) = &self.embed {
            let proj = e
                .f_index_select(0, &y.f_to_kind(Kind::Int64)?)?
                .f_mul(&f)?
                .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?;
            out = out.f_add(&proj)?;
        }
        Ok((f, out))
    }
    fn disc_params(&self) -> Vec<Tensor> {
        let mut v = self.players.disc_params();
        v.extend(self.embed.iter().map(Tensor::shallow_clone));
        v
    }
    fn gen_params(&self) -> Vec<Tensor> {
        self.players.gen.params()
    }
}
