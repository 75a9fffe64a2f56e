//! The game through the engine's `Trainer`: each player's update touches its own group only,
//! `n_critic` sets the group step ratio, a diverging player stops the run before its update
//! naming the step and every loss part, and WGAN's clipping bounds the critic.
use genzoo_core::model::Family;
use std::cell::RefCell;
use std::rc::Rc;

use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{
    EvalOptions, EvalReport, GenerativeModel, Losses, Optimize, Owned, ParamGroup,
};
use genzoo_core::{CoreError, Result};
use genzoo_train::Trainer;
use tch::{nn, Tensor};

use super::{build, changed, image_split, quick, snapshot, toy_split};
use crate::game::{check_player, Adversarial, Gan};
use crate::objective::Objective;
use crate::{dcgan, mlp_gan};

/// What the spy saw: one line per `minimize` or step, and every breach.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    breaches: Vec<String>,
}

/// Copies of the variables of `vars` whose names start with `prefix`.
fn copies(vars: &[(String, Tensor)], prefix: &str) -> Vec<(String, Tensor)> {
    vars.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(n, t)| (n.clone(), t.detach().copy()))
        .collect()
}

/// Wraps the trainer's handle: copies both groups' weights (chosen by name, not by the model's
/// groups) around each `minimize`.
struct SpyOpt<'a> {
    inner: &'a mut dyn Optimize,
    /// The model's trainable variables (sharing storage), sorted by name.
    vars: Vec<(String, Tensor)>,
    seen: Rc<RefCell<Seen>>,
}

impl Optimize for SpyOpt<'_> {
    fn minimize(&mut self, group: &str, loss: &Tensor) -> Result<()> {
        let own = format!("{group}.");
        let other = if group == "gen" { "disc." } else { "gen." };
        let (own_before, other_before) = (copies(&self.vars, &own), copies(&self.vars, other));
        self.inner.minimize(group, loss)?;
        let step = self.inner.step();
        let mut seen = self.seen.borrow_mut();
        let moved = changed(&other_before, &copies(&self.vars, other));
        if !moved.is_empty() {
            seen.breaches
                .push(format!("step {step}: the {group} update changed {moved:?}"));
        }
        if changed(&own_before, &copies(&self.vars, &own)).is_empty() {
            seen.breaches
                .push(format!("step {step}: the {group} update changed nothing"));
        }
        seen.calls.push(format!("{step}:{group}"));
        Ok(())
    }
    fn apply_grads(&mut self, group: &str, grads: &[(Tensor, Tensor)]) -> Result<()> {
        self.inner.apply_grads(group, grads)
    }
    fn step(&self) -> u64 {
        self.inner.step()
    }
    fn group_steps(&self, group: &str) -> Result<u64> {
        self.inner.group_steps(group)
    }
}

/// A model that hands its inner model a [`SpyOpt`] and records each step's loss parts and group
/// step counts.
struct Spy {
    inner: Box<dyn GenerativeModel>,
    seen: Rc<RefCell<Seen>>,
}

impl GenerativeModel for Spy {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn family(&self) -> Family {
        self.inner.family()
    }
    fn config_json(&self) -> serde_json::Value {
        self.inner.config_json()
    }
    fn var_store(&self) -> &nn::VarStore {
        self.inner.var_store()
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        self.inner.var_store_mut()
    }
    fn param_groups(&self) -> Vec<ParamGroup> {
        self.inner.param_groups()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let mut vars: Vec<(String, Tensor)> = self
            .inner
            .var_store()
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let step = opt.step();
        let mut spy = SpyOpt {
            inner: opt,
            vars,
            seen: self.seen.clone(),
        };
        let losses = self.inner.train_step(batch, &mut spy)?;
        let names: Vec<&str> = losses.parts().iter().map(|(n, _)| n.as_str()).collect();
        let (d, g) = (spy.group_steps("disc")?, spy.group_steps("gen")?);
        self.seen
            .borrow_mut()
            .calls
            .push(format!("{step}:counts {d}/{g}:{}", names.join(",")));
        Ok(losses)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.inner.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.inner.sample(n, seed)
    }
}

/// Trains `model` with the spy for `steps` steps of batch 8 and returns what it saw.
fn spy_run(model: Box<dyn GenerativeModel>, split: &genzoo_core::data::Split, steps: u64) -> Seen {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let mut spy = Spy {
        inner: model,
        seen: seen.clone(),
    };
    Trainer::new(quick(steps, 8), None)
        .unwrap()
        .fit(&mut spy, split)
        .unwrap_or_else(|e| panic!("{}: {e}", spy.name()));
    drop(spy);
    Rc::try_unwrap(seen).ok().unwrap().into_inner()
}

/// With `n_critic` = 3 the critic steps at every step and the generator after every third
/// critic step: 6 steps give 6 critic and 2 generator updates, each changing its own weights
/// (`disc.*` or `gen.*`) and none of the other player's, for every objective and both models.
#[test]
fn each_player_updates_only_its_own_weights_and_n_critic_3_steps_3_to_1() {
    let vectors = toy_split(64);
    let images = image_split(16, 1, 28);
    let mut cases: Vec<(&str, serde_json::Value)> = Objective::all()
        .into_iter()
        .map(|o| ("gan-mlp", serde_json::json!({"objective": o})))
        .collect();
    for (o, norm) in [
        ("non-saturating", "batch"),
        ("wgan-clip", "batch"),
        ("wgan-gp", "layer"),
    ] {
        cases.push((
            "dcgan",
            serde_json::json!({"objective": o, "disc_norm": norm}),
        ));
    }
    cases.push(("infogan", serde_json::json!({})));
    for (name, mut over) in cases {
        over["n_critic"] = 3.into();
        let (split, kind) = if name != "gan-mlp" {
            (&images, images.train.kind)
        } else {
            (&vectors, DataKind::Vector { dim: 2 })
        };
        let seen = spy_run(build(name, "tiny", over.clone(), kind), split, 6);
        assert_eq!(seen.breaches, Vec::<String>::new(), "{name} {over}");
        let mut want = vec![];
        for s in 0..6u64 {
            want.push(format!("{s}:disc"));
            if (s + 1) % 3 == 0 {
                want.push(format!("{s}:gen"));
            }
            want.push(format!("{s}:counts {}/{}", s + 1, (s + 1) / 3));
        }
        let got: Vec<String> = seen
            .calls
            .iter()
            .map(|c| c.split(":d_loss").next().unwrap_or(c).to_string())
            .collect();
        assert_eq!(got, want, "{name} {over}");
        for c in seen.calls.iter().filter(|c| c.contains("counts")) {
            let generator_stepped = c.starts_with("2:") || c.starts_with("5:");
            assert_eq!(c.ends_with(",g_loss"), generator_stepped, "{c}");
            assert!(c.contains(":d_loss,") && c.contains("d_real,d_fake"), "{c}");
        }
    }
}

fn set_var(model: &dyn GenerativeModel, name: &str, value: f64) {
    let vars = model.var_store().variables();
    tch::no_grad(|| {
        let _ = vars[name].shallow_clone().fill_(value);
    });
}

/// A non-finite loss stops the step before the player's update, as the trainer's own check
/// would after it, naming the step and every part so far; a loss beyond `max_loss` likewise.
#[test]
fn a_diverging_player_stops_the_run_naming_the_step_and_every_part() {
    let split = toy_split(64);
    let kind = DataKind::Vector { dim: 2 };
    // NaN in the critic: its loss is NaN at step 0; no weight has moved.
    let mut m = build("gan-mlp", "tiny", serde_json::json!({}), kind);
    set_var(m.as_ref(), "disc.fc1.weight", f64::NAN);
    let (gen0, fc2) = (
        snapshot(m.as_ref(), "gen."),
        snapshot(m.as_ref(), "disc.fc2"),
    );
    let e = Trainer::new(quick(3, 8), None)
        .unwrap()
        .fit(m.as_mut(), &split)
        .unwrap_err();
    let CoreError::NonFinite { step, parts } = &e else {
        panic!("expected NonFinite, got {e}")
    };
    assert_eq!(*step, 0);
    for p in [
        "d_loss=NaN",
        "gan_value=NaN",
        "d_real=NaN",
        "d_fake=NaN",
        "disc player of gan-mlp",
    ] {
        assert!(parts.contains(p), "{parts}");
    }
    assert!(changed(&gen0, &snapshot(m.as_ref(), "gen.")).is_empty());
    assert!(changed(&fc2, &snapshot(m.as_ref(), "disc.fc2")).is_empty());
    // |d_loss| = log 4 at the start, beyond max_loss = 0.1.
    let mut m = build(
        "gan-mlp",
        "tiny",
        serde_json::json!({"max_loss": 0.1}),
        kind,
    );
    let disc0 = snapshot(m.as_ref(), "disc.");
    let e = Trainer::new(quick(3, 8), None)
        .unwrap()
        .fit(m.as_mut(), &split)
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CoreError::Model { .. }), "{msg}");
    for p in [
        "gan-mlp: the disc player diverged at step 0",
        "|d_loss| = 1.",
        "> max_loss = 0.1 (",
        "d_loss=",
        "gan_value=",
        "d_real=",
        "d_fake=",
    ] {
        assert!(msg.contains(p), "{msg}");
    }
    assert!(changed(&disc0, &snapshot(m.as_ref(), "disc.")).is_empty());
}

/// A handle at a given step whose updates do nothing (the failing player never gets one).
pub(crate) struct AtStep(pub u64, pub u64);

impl Optimize for AtStep {
    fn minimize(&mut self, group: &str, _loss: &Tensor) -> Result<()> {
        assert_eq!(group, "disc", "the generator must not be updated");
        self.1 += 1;
        Ok(())
    }
    fn apply_grads(&mut self, group: &str, _grads: &[(Tensor, Tensor)]) -> Result<()> {
        self.minimize(group, &Tensor::new())
    }
    fn step(&self) -> u64 {
        self.0
    }
    fn group_steps(&self, _group: &str) -> Result<u64> {
        Ok(self.1)
    }
}

/// The generator diverges at step 7 (a critic offset of 1e6 leaves the WGAN critic loss small
/// but makes `g_loss = -E C(G(z))` about -1e6): the error names the generator, the step and the
/// critic's parts too.
#[test]
fn a_diverging_generator_is_named_with_its_step() {
    let cfg = mlp_gan::Config {
        data: DataKind::Vector { dim: 2 },
        game: crate::Game::new(Objective::WganGp),
        ..mlp_gan::Config::preset("tiny").unwrap()
    };
    let mut cfg = cfg;
    cfg.game.n_critic = Some(1);
    let mut m = Owned::build(tch::Device::Cpu, |p| {
        Gan::new(p, mlp_gan::MlpGan::new(p, &cfg)?)
    })
    .unwrap();
    set_var(&m, "disc.fc2.bias", 1e6);
    let batch = Batch {
        x: toy_split(8).train.x,
        y: None,
        kind: DataKind::Vector { dim: 2 },
    };
    let e = m
        .train_step(&batch, &mut AtStep(7, 0))
        .unwrap_err()
        .to_string();
    let g: f64 = e
        .split("|g_loss| = ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!((g - 1e6).abs() < 100.0, "{e}");
    for p in [
        "gan-mlp: the gen player diverged at step 7: |g_loss| = ",
        "> max_loss = 100000 (",
        "d_loss=",
        "wasserstein=",
        "gp=",
        "d_real=",
        "d_fake=",
        "g_loss=-",
    ] {
        assert!(e.contains(p), "{p}: {e}");
    }
    // A part at infinity is non-finite whatever the bound.
    let l = Losses::empty()
        .with("d_loss", Tensor::from(0.5f32))
        .with("g_loss", Tensor::from(f32::INFINITY));
    match check_player("m", 3, "gen", &l, 1e5) {
        Err(CoreError::NonFinite { step: 3, parts }) => {
            assert_eq!(parts, "d_loss=0.5, g_loss=inf (the gen player of m)")
        }
        other => panic!("{other:?}"),
    }
}

/// WGAN's clipping keeps every critic weight (batch-norm scales included, as in Arjovsky et al.'s
/// code) in [-c, c] through training, and leaves the generator alone.
#[test]
fn wgan_clipping_bounds_every_critic_weight_through_training() {
    let images = image_split(16, 1, 28);
    for (name, split) in [("dcgan", &images), ("gan-mlp", &images)] {
        let over = serde_json::json!({"objective": "wgan-clip", "clip": 0.02});
        let mut m = build(name, "tiny", over, split.train.kind);
        Trainer::new(quick(6, 8), None)
            .unwrap()
            .fit(m.as_mut(), split)
            .unwrap();
        let disc = snapshot(m.as_ref(), "disc.");
        assert!(disc.len() >= 4, "{name}");
        for (n, t) in &disc {
            let max = t.abs().max().double_value(&[]);
            assert!(max <= 0.02 + 1e-7, "{name}: {n} reaches {max}");
        }
        let gmax = snapshot(m.as_ref(), "gen.")
            .iter()
            .map(|(_, t)| t.abs().max().double_value(&[]))
            .fold(0.0, f64::max);
        assert!(gmax > 0.1, "{name}: the generator was clipped too ({gmax})");
    }
}

/// `disc_params` (what clipping clips) is exactly the store's trainable `disc.*` variables.
#[test]
fn disc_params_are_every_discriminator_weight() {
    let ptrs = |v: Vec<Tensor>| {
        let mut p: Vec<usize> = v.iter().map(|t| t.data_ptr() as usize).collect();
        p.sort_unstable();
        p
    };
    let store = |vs: &nn::VarStore| {
        ptrs(
            vs.variables()
                .into_iter()
                .filter(|(n, t)| n.starts_with("disc.") && t.requires_grad())
                .map(|(_, t)| t)
                .collect(),
        )
    };
    let cfg = mlp_gan::Config::preset("tiny").unwrap();
    let m = Owned::build(tch::Device::Cpu, |p| mlp_gan::MlpGan::new(p, &cfg)).unwrap();
    assert_eq!(ptrs(m.net.disc_params()), store(&m.vs));
    for norm in [dcgan::Norm::Batch, dcgan::Norm::Layer, dcgan::Norm::None] {
        let cfg = dcgan::Config {
            disc_norm: norm,
            ..dcgan::Config::preset("paper").unwrap()
        };
        let m = Owned::build(tch::Device::Cpu, |p| dcgan::Dcgan::new(p, &cfg)).unwrap();
        let (listed, stored) = (ptrs(m.net.disc_params()), store(&m.vs));
        assert_eq!(listed, stored, "{norm:?}");
        // 3 convolutions (biases only where no norm follows), 2 norms, the linear output.
        let want = if norm == dcgan::Norm::None {
            6 + 2
        } else {
            2 + 1 + 1 + 4 + 2
        };
        assert_eq!(listed.len(), want, "{norm:?}");
    }
}

/// Unset (`null`), `n_critic` is the objective's paper value: 5 critic steps per generator step
/// for WGAN and WGAN-GP, 1 for the others; the written configuration keeps it unset.
#[test]
fn the_wasserstein_objectives_default_to_five_critic_steps() {
    assert_eq!(crate::Game::new(Objective::WganGp).critic_steps(), 5);
    assert_eq!(crate::Game::new(Objective::WganClip).critic_steps(), 5);
    assert_eq!(crate::Game::new(Objective::Hinge).critic_steps(), 1);
    let over = serde_json::json!({"objective": "wgan-clip"});
    let m = build("gan-mlp", "tiny", over, DataKind::Vector { dim: 2 });
    assert!(m.config_json()["n_critic"].is_null());
    let seen = spy_run(m, &toy_split(64), 10);
    let last = seen.calls.last().unwrap();
    assert!(last.starts_with("9:counts 10/2:"), "{last}");
    assert_eq!(seen.calls.iter().filter(|c| c.ends_with(":gen")).count(), 2);
}

/// The adversarial autoencoder, AVB and BiGAN: a discriminator update then an encoder/decoder update
/// at every step, each changing its own group's weights and none of the other's.
#[test]
fn the_latent_models_players_update_only_their_own_weights() {
    let images = image_split(16, 1, 28);
    for name in ["aae", "avb", "bigan"] {
        let m = build(name, "tiny", serde_json::json!({}), images.train.kind);
        let seen = spy_run(m, &images, 2);
        assert_eq!(seen.breaches, Vec::<String>::new(), "{name}");
        let got: Vec<String> = seen
            .calls
            .iter()
            .map(|c| c.split(":d_loss").next().unwrap_or(c).to_string())
            .collect();
        let want = [
            "0:disc",
            "0:gen",
            "0:counts 1/1",
            "1:disc",
            "1:gen",
            "1:counts 2/2",
        ];
        assert_eq!(got, want, "{name}");
        assert!(seen.calls[2].ends_with(",g_loss"), "{}", seen.calls[2]);
    }
}
