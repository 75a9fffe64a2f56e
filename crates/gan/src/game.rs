//! The two-player game every model of the family plays (Goodfellow et al. 2014, Algorithm 1):
//! the [`Game`] settings (objective, `n_critic`, WGAN's clip and penalty weight, the divergence
//! bound), the [`Adversarial`] trait a generator/discriminator pair implements, and [`Gan`],
//! which makes any pair a `genzoo_core::model::Network`.
//!
//! One training step is one discriminator (critic) step on the step's batch and, after every
//! `n_critic`-th discriminator step (counted by `opt.group_steps("disc")`, which survives a
//! resume), one generator step: the critic sees a fresh real batch at each of its steps, as in
//! Algorithm 1 of WGAN and WGAN-GP. Each player back-propagates into its own parameter group
//! (`disc`, `gen`: the weights under `disc.` and `gen.`), so each has its own optimizer and
//! learning rate (`[train.groups.disc]` and `[train.groups.gen]`: TTUR, Adam's betas).
//!
//! The [`Tricks`] switched on in the game act here: instance noise on every discriminator input,
//! one-sided label smoothing of the discriminator's loss, feature matching as the generator's
//! loss, and historical averaging's penalty on both players (with its running means in the
//! variable store, `hist.disc.*` and `hist.gen.*`, so that a resume continues them).
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::objective::{clip_weights, gradient_penalty, Objective};
use crate::tricks::{
    add_instance_noise, feature_matching, smoothed_logistic_d, HistoricalAverage, Tricks,
};
use genzoo_core::data::{transforms, Batch, DataKind, Dataset};
use genzoo_core::model::{
    ConditionalSample, EvalOptions, EvalReport, Losses, Network, Optimize, ParamGroup, Traverse,
};
use genzoo_core::{CoreError, Result};

/// The discriminator's parameter group.
pub const DISC: &str = "disc";
/// The generator's parameter group.
pub const GEN: &str = "gen";

/// How the players play (flattened into each model's config: `objective`, `n_critic`,
/// `gp_lambda`, `clip`, `max_loss` and the [`Tricks`] keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Game {
    pub objective: Objective,
    /// Discriminator steps per generator step; `None` (`null`): the objective's paper value,
    /// 5 for `wgan-clip` and `wgan-gp`, 1 otherwise ([`Game::critic_steps`]).
    pub n_critic: Option<u64>,
    /// The gradient penalty's weight lambda (`wgan-gp`; 10 in Gulrajani et al. 2017).
    pub gp_lambda: f64,
    /// The weight clipping bound c (`wgan-clip`; 0.01 in Arjovsky et al. 2017).
    pub clip: f64,
    /// A player whose loss exceeds this in absolute value has diverged: the step fails.
    pub max_loss: f64,
    /// The training tricks, every one off unless switched on.
    #[serde(flatten)]
    pub tricks: Tricks,
}

impl Game {
    /// `objective` with its paper's settings: `n_critic` by objective, lambda 10, c 0.01,
    /// `max_loss` 1e5.
    pub fn new(objective: Objective) -> Game {
        Game {
            objective,
            n_critic: None,
            gp_lambda: 10.0,
            clip: 0.01,
            max_loss: 1e5,
            tricks: Tricks::default(),
        }
    }

    /// Discriminator steps per generator step: `n_critic`, or 5 for the Wasserstein objectives
    /// (Arjovsky et al. 2017; Gulrajani et al. 2017, Algorithm 1) and 1 for the others.
    pub fn critic_steps(&self) -> u64 {
        self.n_critic.unwrap_or(match self.objective {
            Objective::WganClip | Objective::WganGp => 5,
            _ => 1,
        })
    }

    /// Checks the settings, naming the key.
    ///
    /// # Errors
    /// [`CoreError::Config`] for `n_critic` = 0, `gp_lambda` negative, `clip` or `max_loss` not
    /// positive (or any of them not finite), or a trick's bad value ([`Tricks::validate`]).
    pub fn validate(&self) -> Result<()> {
        self.tricks.validate(matches!(
            self.objective,
            Objective::Minimax | Objective::NonSaturating
        ))?;
        if self.n_critic == Some(0) {
            return Err(CoreError::config("n_critic", "must be >= 1"));
        }
        for (key, v, zero_ok) in [
            ("gp_lambda", self.gp_lambda, true),
            ("clip", self.clip, false),
            ("max_loss", self.max_loss, false),
        ] {
            if !(v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0))) {
                return Err(CoreError::config(
                    key,
                    format!(
                        "{v} must be finite and {}",
                        if zero_ok { ">= 0" } else { "> 0" }
                    ),
                ));
            }
        }
        Ok(())
    }
}

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

/// Historical averaging's running means of both players.
#[derive(Debug)]
struct History {
    disc: HistoricalAverage,
    gen: HistoricalAverage,
}

/// Makes an [`Adversarial`] pair a model: training, evaluation without a likelihood, sampling.
#[derive(Debug)]
pub struct Gan<N> {
    pub net: N,
    history: Option<History>,
}

impl<N: Adversarial> Gan<N> {
    /// Wraps `net`, built under `p` (historical averaging's means go under `p / "hist"`).
    ///
    /// # Errors
    /// [`CoreError::Config`] for invalid [`Game`] settings.
    pub fn new(p: &nn::Path, net: N) -> Result<Self> {
        net.game().validate()?;
        let history = (net.game().tricks.historical_averaging > 0.0).then(|| History {
            disc: HistoricalAverage::new(&(p / "hist" / DISC), &net.disc_params()),
            gen: HistoricalAverage::new(&(p / "hist" / GEN), &net.gen_params()),
        });
        Ok(Gan { net, history })
    }

    /// Historical averaging's penalty of `player` (0 before its first step) and its running
    /// mean, or `None` without the trick.
    fn history_of(
        &self,
        player: &str,
        opt: &dyn Optimize,
    ) -> Result<Option<(Tensor, &HistoricalAverage, Vec<Tensor>)>> {
        let Some(h) = &self.history else {
            return Ok(None);
        };
        let (avg, params) = if player == DISC {
            (&h.disc, self.net.disc_params())
        } else {
            (&h.gen, self.net.gen_params())
        };
        let lambda = self.net.game().tricks.historical_averaging;
        let pen = if opt.group_steps(player)? == 0 {
            Tensor::f_zeros([], (Kind::Float, self.net.device()))?
        } else {
            avg.penalty(&params, lambda)?
        };
        Ok(Some((pen, avg, params)))
    }

    /// The instance-noise std of this step ([`Tricks::instance_noise_at`]).
    fn noise_std(&self, opt: &dyn Optimize) -> f64 {
        self.net.game().tricks.instance_noise_at(opt.step())
    }

    /// A stored batch in model space ([`model_space`]).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`x`) for data of another shape or kind than the model's.
    pub fn to_model_space(&self, x: &Tensor) -> Result<Tensor> {
        model_space(self.net.name(), self.net.data(), self.net.device(), x)
    }

    /// `n` seeded generated examples in model space (running batch-norm statistics), drawn in
    /// chunks of `chunk` from noise drawn at once: the same for any chunk size.
    fn generate_seeded(
        &self,
        n: i64,
        seed: u64,
        chunk: i64,
        labels: Option<&Tensor>,
    ) -> Result<Tensor> {
        if n < 1 {
            return Err(CoreError::Invalid(format!(
                "sample: n = {n}, need at least 1"
            )));
        }
        // Labels condition a conditional pair's players, or fix a latent code (InfoGAN).
        let (labels, code) = match self.net.num_classes() {
            Some(_) => (labels, None),
            None => (None, labels),
        };
        tch::no_grad(|| {
            genzoo_core::seed::seed_torch_stream(seed, "gan-sample", 0);
            let z = self.net.sample_latent(n, code)?;
            let parts = (0..n)
                .step_by(chunk.max(1) as usize)
                .map(|i| {
                    let m = chunk.min(n - i);
                    let y = labels.map(|y| y.narrow(0, i, m));
                    self.net.generate(&z.narrow(0, i, m), y.as_ref(), false)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Tensor::f_cat(&parts, 0)?)
        })
    }

    /// One discriminator step: its losses (with `d_real`, `d_fake` and, for WGAN-GP, `gp`).
    fn disc_step(
        &self,
        real: &Tensor,
        y: Option<&Tensor>,
        opt: &mut dyn Optimize,
    ) -> Result<Losses> {
        let game = self.net.game();
        let sigma = self.noise_std(opt);
        // Generated examples carry the real batch's labels (its class frequencies).
        let z = self.net.sample_latent(real.size()[0], None)?;
        let fake = tch::no_grad(|| self.net.generate(&z, y, true))?;
        let (real, fake) = (
            add_instance_noise(real, sigma)?,
            add_instance_noise(&fake, sigma)?,
        );
        let d_real = self.net.discriminate(&real, y, true)?;
        let (f_fake, d_fake) = self.net.disc_features(&fake, y, true)?;
        let d = game.objective.d_losses(&d_real, &d_fake)?;
        let mut loss = part(&d, "d_loss")?;
        let eps = game.tricks.label_smoothing;
        if eps > 0.0 {
            loss = smoothed_logistic_d(&d_real, &d_fake, eps)?;
        }
        let mut extra: Vec<(String, Tensor)> = vec![];
        if let Some(info) = self.net.info_loss(&z, &f_fake)? {
            loss = loss.f_add(info.total()?)?;
            extra.push(("d_info".into(), info.total()?.detach()));
            extra.extend(
                info.parts()
                    .iter()
                    .filter(|(k, _)| k != "total")
                    .map(|(k, t)| (k.clone(), t.detach())),
            );
        }
        if sigma > 0.0 {
            extra.push(("instance_noise".into(), Tensor::from(sigma)));
        }
        if game.objective == Objective::WganGp {
            let gp = gradient_penalty(
                |x| self.net.discriminate(x, y, true),
                &real,
                &fake,
                game.gp_lambda,
            )?;
            loss = loss.f_add(&gp)?;
            extra.push(("gp".into(), gp.detach()));
        }
        let history = self.history_of(DISC, opt)?;
        if let Some((pen, _, _)) = &history {
            loss = loss.f_add(pen)?;
            extra.push(("hist_d".into(), pen.detach()));
        }
        let mut losses = Losses::empty().with("d_loss", loss.shallow_clone());
        for (name, t) in d.parts().iter().skip(1) {
            losses = losses.with(name, t.shallow_clone());
        }
        for (name, t) in extra {
            losses = losses.with(&name, t);
        }
        losses = losses
            .with("d_real", d_real.f_mean(Kind::Float)?.detach())
            .with("d_fake", d_fake.f_mean(Kind::Float)?.detach());
        check_player(self.net.name(), opt.step(), DISC, &losses, game.max_loss)?;
        opt.minimize(DISC, &loss)?;
        if game.objective == Objective::WganClip {
            clip_weights(&self.net.disc_params(), game.clip)?;
        }
        if let Some((_, avg, params)) = history {
            avg.update(&params, opt.group_steps(DISC)?)?;
        }
        Ok(losses)
    }

    /// One generator step on `real.size()[0]` fresh noise vectors (`real`: what feature matching
    /// matches); `losses` so far are reported on failure.
    fn gen_step(
        &self,
        real: &Tensor,
        y: Option<&Tensor>,
        losses: Losses,
        opt: &mut dyn Optimize,
    ) -> Result<Losses> {
        let game = self.net.game();
        let sigma = self.noise_std(opt);
        let z = self.net.sample_latent(real.size()[0], None)?;
        let fake = self.net.generate(&z, y, true)?;
        let (f_fake, out) = self
            .net
            .disc_features(&add_instance_noise(&fake, sigma)?, y, true)?;
        let g = game.objective.g_losses(&out)?;
        let mut losses = losses;
        let mut loss = if game.tricks.feature_matching {
            let real = add_instance_noise(real, sigma)?;
            let f_real = tch::no_grad(|| self.net.disc_features(&real, y, true))?.0;
            losses = losses.with("g_adversarial", part(&g, "g_loss")?.detach());
            feature_matching(&f_real, &f_fake)?
        } else {
            part(&g, "g_loss")?
        };
        if let Some(info) = self.net.info_loss(&z, &f_fake)? {
            loss = loss.f_add(info.total()?)?;
            losses = losses.with("g_info", info.total()?.detach());
        }
        let history = self.history_of(GEN, opt)?;
        if let Some((pen, _, _)) = &history {
            loss = loss.f_add(pen)?;
            losses = losses.with("hist_g", pen.detach());
        }
        let losses = losses.with("g_loss", loss.shallow_clone());
        check_player(self.net.name(), opt.step(), GEN, &losses, game.max_loss)?;
        opt.minimize(GEN, &loss)?;
        if let Some((_, avg, params)) = history {
            avg.update(&params, opt.group_steps(GEN)?)?;
        }
        Ok(losses)
    }
}

/// A stored batch of `model`'s `data` (`u8 [b, c, h, w]` images or `f32 [b, d]` vectors) in
/// model space on `device`: images scaled to `[-1, 1]`, vectors as stored.
///
/// # Errors
/// [`CoreError::Shape`] (`x`) for data of another shape or kind than the model's.
pub fn model_space(model: &str, data: DataKind, device: Device, x: &Tensor) -> Result<Tensor> {
    let want = data.example_shape();
    if x.dim() != want.len() + 1 || x.size()[1..] != want[..] || x.size()[0] < 1 {
        return Err(CoreError::shape(
            "x",
            format!("{model}: expected [b >= 1, {want:?}], got {:?}", x.size()),
        ));
    }
    let x = x.f_to_device(device)?;
    if data.is_image() {
        if x.kind() != Kind::Uint8 {
            return Err(CoreError::shape(
                "x",
                "expected stored 8-bit pixels (Uint8)",
            ));
        }
        Ok(transforms::scale_symmetric(&x))
    } else {
        Ok(x.f_to_kind(Kind::Float)?)
    }
}

/// The two players' parameter groups of every model of the family: [`DISC`] (the trainable
/// variables under `disc.`) and [`GEN`] (under `gen.`), each sorted by name.
pub fn player_groups(vs: &nn::VarStore) -> Vec<ParamGroup> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let group = |name: &str| ParamGroup {
        name: name.to_string(),
        vars: vars
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{name}.")))
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect(),
    };
    vec![group(DISC), group(GEN)]
}

/// The part `name` of an objective's losses.
fn part(losses: &Losses, name: &str) -> Result<Tensor> {
    losses
        .get(name)
        .map(Tensor::shallow_clone)
        .ok_or_else(|| CoreError::Invalid(format!("the objective returned no `{name}`")))
}

/// Checks one player's losses before its optimizer steps, so that a diverging player never
/// updates its weights. `player` is [`DISC`] (whose loss is `d_loss`) or [`GEN`] (`g_loss`);
/// `losses` are every part of the step so far.
///
/// # Errors
/// [`CoreError::NonFinite`] (as the trainer reports one) when a part is NaN or infinite, and
/// [`CoreError::Model`] when the player's loss exceeds `max` in absolute value; both name `step`
/// and every part with its value.
pub fn check_player(model: &str, step: u64, player: &str, losses: &Losses, max: f64) -> Result<()> {
    let values = losses.to_map();
    let parts = losses
        .parts()
        .iter()
        .map(|(k, _)| format!("{k}={}", values.get(k).copied().unwrap_or(f64::NAN)))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() != losses.parts().len() || values.values().any(|v| !v.is_finite()) {
        return Err(CoreError::NonFinite {
            step,
            parts: format!("{parts} (the {player} player of {model})"),
        });
    }
    let key = if player == DISC { "d_loss" } else { "g_loss" };
    match values.get(key) {
        Some(v) if v.abs() > max => Err(CoreError::model(
            model,
            format!(
                "the {player} player diverged at step {step}: |{key}| = {} > max_loss = {max} ({parts})",
                v.abs()
            ),
        )),
        _ => Ok(()),
    }
}

impl<N: Adversarial> Network for Gan<N> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn family(&self) -> &str {
        "gan"
    }
    fn config_json(&self) -> serde_json::Value {
        self.net.config_json()
    }
    fn param_groups(&self, vs: &nn::VarStore) -> Option<Vec<ParamGroup>> {
        Some(player_groups(vs))
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let real = self.to_model_space(&batch.x)?;
        let y = self.labels_of(batch.y.as_ref(), real.size()[0])?;
        let losses = self.disc_step(&real, y.as_ref(), opt)?;
        if opt.group_steps(DISC)? % self.net.game().critic_steps() == 0 {
            return self.gen_step(&real, y.as_ref(), losses, opt);
        }
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        crate::eval::evaluate(self, data, opts)
    }
    /// Adam with beta1 = 0.5 for both players (Radford et al. 2016, sec. 4).
    fn adam_betas(&self) -> Option<[f64; 2]> {
        Some([0.5, 0.999])
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        self.net
            .num_classes()
            .or(self.net.latent_classes())
            .map(|_| self as &dyn ConditionalSample)
    }
    fn traverser(&self) -> Option<&dyn Traverse> {
        (self.net.traversal_factors() > 0).then_some(self as &dyn Traverse)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        let x = self.generate_seeded(n, seed, 500, self.cycled_labels(n)?.as_ref())?;
        Ok(self.to_sample_space(x))
    }
}

impl<N: Adversarial> ConditionalSample for Gan<N> {
    fn num_classes(&self) -> i64 {
        self.net
            .num_classes()
            .or(self.net.latent_classes())
            .unwrap_or(0)
    }
    fn classes_are_labels(&self) -> bool {
        self.net.num_classes().is_some()
    }
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        let n = labels.size().first().copied().unwrap_or(0);
        let y = match self.net.latent_classes() {
            Some(k) if self.net.num_classes().is_none() => {
                crate::cgan::check_labels(labels, n, k)?;
                Some(labels.f_to_device(self.net.device())?)
            }
            _ => self.labels_of(Some(labels), n)?,
        };
        let x = self.generate_seeded(n, seed, 500, y.as_ref())?;
        Ok(self.to_sample_space(x))
    }
}

impl<N: Adversarial> Traverse for Gan<N> {
    fn factors(&self) -> usize {
        self.net.traversal_factors()
    }
    fn traverse(&self, factor: usize, steps: i64, seed: u64) -> Result<Tensor> {
        if steps < 2 {
            return Err(CoreError::Invalid(format!(
                "traverse: steps = {steps}, need at least 2"
            )));
        }
        let x = tch::no_grad(|| {
            genzoo_core::seed::seed_torch_stream(seed, "gan-traverse", 0);
            let z = self.net.traversal_latent(factor, steps)?;
            self.net.generate(&z, None, false)
        })?;
        Ok(self.to_sample_space(x))
    }
}

impl<N: Adversarial> Gan<N> {
    /// Generated examples in model space to the layout of samples (images to `[0, 1]`).
    fn to_sample_space(&self, x: Tensor) -> Tensor {
        if self.net.data().is_image() {
            transforms::symmetric_to_unit(&x)
        } else {
            x
        }
    }

    /// `n` seeded samples in model space (images in `[-1, 1]`), what evaluation scores.
    ///
    /// # Errors
    /// `n < 1`, or a libtorch error.
    pub fn sample_model_space(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.generate_seeded(n, seed, 500, self.cycled_labels(n)?.as_ref())
    }

    /// The labels [`Network::sample`] draws `n` examples of: `0, 1, ..., k - 1, 0, ...` for a
    /// conditional pair of `k` classes, `None` otherwise.
    ///
    /// # Errors
    /// A libtorch error.
    pub fn cycled_labels(&self, n: i64) -> Result<Option<Tensor>> {
        match self.net.num_classes() {
            Some(k) => Ok(Some(
                Tensor::f_arange(n.max(0), (Kind::Int64, self.net.device()))?.f_remainder(k)?,
            )),
            None => Ok(None),
        }
    }

    /// The labels of a batch of `b` for the players: `None` for an unconditional pair; for a
    /// conditional one, `y` checked.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`labels`) when a conditional pair gets no labels, labels of another
    /// shape than `[b]`, or labels outside `0..k`.
    pub fn labels_of(&self, y: Option<&Tensor>, b: i64) -> Result<Option<Tensor>> {
        let Some(k) = self.net.num_classes() else {
            return Ok(None);
        };
        let y = y.ok_or_else(|| {
            CoreError::shape(
                "labels",
                format!(
                    "{} is conditioned on {k} classes: it needs labelled data",
                    self.net.name()
                ),
            )
        })?;
        crate::cgan::check_labels(y, b, k)?;
        Ok(Some(y.f_to_device(self.net.device())?))
    }
}
