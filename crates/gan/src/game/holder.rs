//! [`Gan`]: any [`Adversarial`] pair held as a model, with one discriminator (critic) step and,
//! every `n_critic`-th of them, one generator step, the tricks applied in each.
use tch::{nn, Kind, Tensor};

use super::adversarial::Adversarial;
use super::players::{check_labels, check_player, model_space, part, DISC, GEN};
use crate::objective::{clip_weights, gradient_penalty, Objective};
use crate::tricks::{add_instance_noise, feature_matching, smoothed_logistic_d, HistoricalAverage};
use genzoo_core::data::transforms;
use genzoo_core::model::{Losses, Optimize};
use genzoo_core::{CoreError, Result};

/// Historical averaging's running means of both players.
#[derive(Debug)]
pub(crate) struct History {
    disc: HistoricalAverage,
    gen: HistoricalAverage,
}

/// Makes an [`Adversarial`] pair a model: training, evaluation without a likelihood, sampling.
#[derive(Debug)]
pub struct Gan<N> {
    pub net: N,
    pub(crate) history: Option<History>,
}

impl<N: Adversarial> Gan<N> {
    /// Wraps `net`, built under `p` (historical averaging's means go under `p / "hist"`).
    ///
    /// # Errors
    /// [`CoreError::Config`] for invalid [`Game`](super::Game) settings.
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
    pub(crate) fn history_of(
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
    pub(crate) fn noise_std(&self, opt: &dyn Optimize) -> f64 {
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
    pub(crate) fn generate_seeded(
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
    pub(crate) fn disc_step(
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
    pub(crate) fn gen_step(
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

impl<N: Adversarial> Gan<N> {
    /// Generated examples in model space to the layout of samples (images to `[0, 1]`).
    pub(crate) fn to_sample_space(&self, x: Tensor) -> Tensor {
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

    /// The labels [`Network::sample`](genzoo_core::model::Network::sample) draws `n` examples of: `0, 1, ..., k - 1, 0, ...` for a
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
        check_labels(y, b, k)?;
        Ok(Some(y.f_to_device(self.net.device())?))
    }
}
