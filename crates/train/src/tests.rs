//! Tests of the trainer and checkpoints with a tiny two-group denoising MLP on synthetic
//! 4-dimensional data: exact resume, checkpoints surviving a real SIGKILL, the non-finite-loss
//! stop, shape-checked loading, best-checkpoint tracking and early stopping.
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::Path;

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::*;
use crate::checkpoint::{self as ckpt, CheckpointTensors, TrainState};
use genzoo_core::data::{Batch, DataKind, Dataset, Split};
use genzoo_core::model::*;
use genzoo_core::{seed, CoreError, Result};

/// A denoising autoencoder 4 -> hidden -> 4 with two parameter groups (`enc`, `dec`), each with
/// its own loss evaluation and optimizer, using torch's RNG for the input noise.
struct Tiny {
    vs: nn::VarStore,
    enc: nn::Linear,
    dec: nn::Linear,
    hidden: i64,
    nan_at: Option<u64>,
    evals: Cell<u64>,
    /// Evaluation number (1-based) that fails, as a late evaluation error would.
    fail_eval: Option<u64>,
    /// Seconds each sample takes, as a naive autoregressive sampler's would.
    sample_seconds: f64,
}

impl Tiny {
    fn new(hidden: i64, init_seed: u64) -> Tiny {
        seed::seed_torch(init_seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let enc = nn::linear(vs.root() / "enc" / "fc", 4, hidden, Default::default());
        let dec = nn::linear(vs.root() / "dec" / "fc", hidden, 4, Default::default());
        Tiny {
            vs,
            enc,
            dec,
            hidden,
            nan_at: None,
            evals: Cell::new(0),
            fail_eval: None,
            sample_seconds: 0.0,
        }
    }
    fn recon(&self, x: &Tensor) -> Tensor {
        let noisy = x + x.randn_like() * 0.1; // [b, 4]
        (self.dec.forward(&self.enc.forward(&noisy).tanh()) - x)
            .square()
            .mean(Kind::Float)
    }
}

impl GenerativeModel for Tiny {
    fn name(&self) -> &str {
        "tiny-test"
    }
    fn family(&self) -> Family {
        Family::Vae
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({ "hidden": self.hidden })
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
    fn param_groups(&self) -> Vec<ParamGroup> {
        let vars = self.vs.variables();
        ["enc", "dec"]
            .iter()
            .map(|g| {
                let mut v: Vec<(String, Tensor)> = vars
                    .iter()
                    .filter(|(n, _)| n.starts_with(g))
                    .map(|(n, t)| (n.clone(), t.shallow_clone()))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                ParamGroup {
                    name: g.to_string(),
                    vars: v,
                }
            })
            .collect()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let recon = self.recon(&batch.x);
        let reg = self.enc.ws.square().sum(Kind::Float) * 1e-3;
        let mut total = &recon + &reg;
        if self.nan_at == Some(opt.step()) {
            total *= f64::NAN;
        }
        opt.minimize("enc", &total)?;
        let dec_loss = self.recon(&batch.x);
        opt.minimize("dec", &dec_loss)?;
        Ok(Losses::new(total)
            .with("recon", recon)
            .with("reg", reg)
            .with("dec", dec_loss))
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        if opts.max_examples == Some(2) {
            // the trainer's check of the metric names before step 0: not a counted evaluation
            return Ok(EvalReport {
                nll: None,
                data: data.name.clone(),
                metrics: [("mse".to_string(), 0.0), ("score".to_string(), 0.0)].into(),
            });
        }
        let k = self.evals.get() + 1;
        self.evals.set(k);
        if self.fail_eval == Some(k) {
            return Err(CoreError::model("tiny-test", "evaluation failed"));
        }
        let mse = self.recon(&data.x).double_value(&[]);
        let score = (k as f64 - 3.0).powi(2); // best at the third evaluation
        Ok(EvalReport {
            nll: None,
            data: data.name.clone(),
            metrics: [("mse".to_string(), mse), ("score".to_string(), score)].into(),
        })
    }
    fn sample(&self, n: i64, s: u64) -> Result<Tensor> {
        std::thread::sleep(std::time::Duration::from_secs_f64(
            self.sample_seconds * n as f64,
        ));
        seed::seed_torch(s);
        let z = Tensor::randn([n, self.hidden], (Kind::Float, Device::Cpu));
        Ok(self.dec.forward(&z).sigmoid().reshape([n, 1, 2, 2])) // tiny 2x2 "images" in [0,1]
    }
}

fn split() -> Split {
    seed::seed_torch(123);
    let kind = DataKind::Vector { dim: 4 };
    let z = Tensor::randn([50, 2], (Kind::Float, Device::Cpu));
    let x = Tensor::cat(&[&z, &(&z * 2.0).sin()], 1); // [50, 4] on a 2-D manifold
    let ds = |x: Tensor, name: &str| Dataset {
        name: name.into(),
        kind,
        x,
        y: None,
        num_classes: None,
    };
    Split {
        train: ds(x.narrow(0, 0, 40), "synthetic/train"),
        test: ds(x.narrow(0, 40, 10), "synthetic/test"),
    }
}

fn rich_config(steps: u64) -> TrainConfig {
    let mut c = TrainConfig::quick(steps, 16, 0.02);
    c.progress = false;
    c.groups.insert(
        "dec".into(),
        OptimOverride {
            kind: Some(OptimKind::Sgd),
            lr: Some(0.05),
            momentum: Some(0.9),
            ..Default::default()
        },
    );
    c.schedule = ScheduleConfig {
        kind: ScheduleKind::Cosine,
        warmup_steps: 2,
        ..Default::default()
    };
    c.clip_grad_norm = Some(1.0);
    c.ema = Some(EmaConfig {
        decay: 0.9,
        start_step: 1,
        ..Default::default()
    });
    c.eval_every = 4;
    c.best_metric = BestMetric {
        name: "mse".into(),
        mode: MetricMode::Min,
    };
    c.checkpoint_every = 3;
    c.final_eval = true;
    c
}

fn train_rows(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("images_per_second");
            // the test model's `score` counts its own evaluate calls: not training state
            if let Some(m) = r.get_mut("metrics").and_then(|m| m.as_object_mut()) {
                m.remove("score");
            }
            r
        })
        .collect()
}

#[test]
fn resume_continues_exactly() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = split();
    let mut straight = Tiny::new(8, 1);
    let sa = Trainer::new(rich_config(12), Some(a.path()))
        .unwrap()
        .fit(&mut straight, &data)
        .unwrap();
    assert_eq!((sa.steps, sa.steps_run), (12, 12));

    let mut first = Tiny::new(8, 1);
    let mut t = Trainer::new(rich_config(12), Some(b.path())).unwrap();
    t.stop_at(7); // mid-epoch (2 batches per epoch), after the checkpoint at 6
    let s1 = t.fit(&mut first, &data).unwrap();
    assert_eq!(s1.steps, 7);
    assert!(s1.final_eval.is_none());
    let mut resumed = Tiny::new(8, 99); // different initial weights: they must be replaced
    let s2 = Trainer::resume(b.path())
        .unwrap()
        .fit(&mut resumed, &data)
        .unwrap();
    assert_eq!((s2.steps, s2.steps_run), (12, 5));

    for (name, v) in straight.vs.variables() {
        assert!(
            v.equal(&resumed.vs.variables()[&name]),
            "parameter {name} differs after resume"
        );
    }
    assert_eq!(sa.last_losses, s2.last_losses);
    assert_eq!(
        train_rows(a.path()),
        train_rows(b.path()),
        "per-step losses, lrs and evaluations differ"
    );
    assert_eq!(
        train_rows(a.path())
            .iter()
            .filter(|r| r["kind"] == "train")
            .count(),
        12
    );
    // optimizer moments and EMA shadows of the final checkpoints are bitwise identical
    let (ca, cb) = (
        ckpt::resolve(a.path()).unwrap(),
        ckpt::resolve(b.path()).unwrap(),
    );
    assert_eq!(ca.file_name(), cb.file_name());
    for f in ["model.safetensors", "optim.safetensors", "ema.safetensors"] {
        assert_eq!(
            std::fs::read(ca.join(f)).unwrap(),
            std::fs::read(cb.join(f)).unwrap(),
            "{f}"
        );
    }
    let st = ckpt::read_state(&ca).unwrap();
    assert_eq!((st.step, st.epoch, st.batch_in_epoch), (12, 6, 0));
    assert_eq!(
        st.groups
            .iter()
            .map(|g| (g.name.as_str(), g.steps_taken))
            .collect::<Vec<_>>(),
        vec![("dec", 12), ("enc", 12)]
    );
    for f in [
        "config.json",
        "metrics.csv",
        "samples/samples-step-00000008.png",
    ] {
        assert!(a.path().join(f).is_file(), "{f} missing");
    }
    // Loss and evaluation curves are written only with the `plots` feature.
    if cfg!(feature = "plots") {
        for f in ["loss_total.png", "loss_recon.png", "eval_mse.png"] {
            assert!(a.path().join(f).is_file(), "{f} missing");
        }
    }
}

const KILL_ENV: &str = "GENZOO_TEST_KILL_CHILD_DIR";

fn fill_state(model: &Tiny, step: u64) -> (TrainState, CheckpointTensors) {
    let _g = tch::no_grad_guard();
    for (_, mut v) in model.vs.variables() {
        let _ = v.fill_(step as f64);
    }
    let state = TrainState {
        format: ckpt::FORMAT,
        step,
        epoch: 0,
        batch_in_epoch: step,
        rng: String::new(),
        model: model.name().into(),
        family: model.family().to_string(),
        model_config: model.config_json(),
        train: TrainConfig::quick(1, 1, 1e-3),
        groups: vec![],
        best: None,
        evals_since_best: 0,
        has_ema: false,
        last_losses: BTreeMap::new(),
        data_fingerprint: None,
    };
    let weights = model.vs.variables().into_iter().collect();
    (
        state,
        CheckpointTensors {
            weights,
            optim: vec![],
            ema: None,
        },
    )
}

/// Parent: re-executes this test binary as a child that writes checkpoints of ~2 MB in a tight
/// loop, SIGKILLs it at varying moments, and checks each time that `latest` loads and is
/// consistent (every weight equals the step its state.json records).
#[test]
fn checkpoint_survives_sigkill() {
    let hidden = 65536;
    if let Ok(dir) = std::env::var(KILL_ENV) {
        let dir = Path::new(&dir);
        let model = Tiny::new(hidden, 0);
        let mut step = ckpt::resolve(dir)
            .and_then(|d| ckpt::read_state(&d))
            .map_or(0, |s| s.step);
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < 60 {
            step += 1;
            let (state, tensors) = fill_state(&model, step);
            let name = ckpt::save(dir, &state, &tensors).unwrap();
            ckpt::set_pointer(dir, ckpt::LATEST, &name).unwrap();
            ckpt::prune(dir, 2, &[&name]).unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut last_step = 0;
    let mut killed_mid_write = 0;
    let tmp_exists = |d: &Path| {
        std::fs::read_dir(d).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
    };
    // Kill 0, 1, 4 and 9 ms after a checkpoint's temporary directory appears: mid-write.
    for (round, delay_ms) in [0u64, 1, 4, 9].into_iter().enumerate() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                // This test's own name, without the crate: `tests::checkpoint_survives_sigkill`.
                &format!(
                    "{}::checkpoint_survives_sigkill",
                    module_path!().split_once("::").map_or("", |m| m.1)
                ),
                "--exact",
                "--test-threads=1",
            ])
            .env(KILL_ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        loop {
            let s = ckpt::resolve(dir.path())
                .and_then(|d| ckpt::read_state(&d))
                .map_or(0, |s| s.step);
            if s >= last_step + 2 && tmp_exists(dir.path()) {
                break;
            }
            assert!(t0.elapsed().as_secs() < 60, "child wrote no checkpoint");
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        killed_mid_write += usize::from(tmp_exists(dir.path()));
        let latest = ckpt::resolve(dir.path()).unwrap();
        let mut fresh = Tiny::new(hidden, 5);
        let st = ckpt::load_weights(&mut fresh, &latest, false).unwrap();
        assert!(
            st.step > last_step,
            "round {round}: step {} not after {last_step}",
            st.step
        );
        for (name, v) in fresh.vs.variables() {
            let (lo, hi) = (v.min().double_value(&[]), v.max().double_value(&[]));
            assert!(
                lo == st.step as f64 && hi == st.step as f64,
                "round {round}: {name} holds {lo}..{hi}, state says {}",
                st.step
            );
        }
        last_step = st.step;
    }
    // at least one kill landed while a checkpoint was half written (its temporary directory is left)
    assert!(killed_mid_write >= 1, "no kill landed mid-write");
}

#[test]
fn nan_loss_stops_naming_step_and_parts_and_keeps_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Tiny::new(8, 1);
    model.nan_at = Some(5);
    let mut cfg = TrainConfig::quick(10, 16, 0.01);
    cfg.checkpoint_every = 2;
    let err = Trainer::new(cfg, Some(dir.path()))
        .unwrap()
        .fit(&mut model, &split())
        .unwrap_err();
    let CoreError::NonFinite { step, parts } = &err else {
        panic!("expected NonFinite, got {err}")
    };
    assert_eq!(*step, 5);
    assert!(
        parts.contains("total=NaN")
            && parts.contains("recon=")
            && parts.contains("reg=")
            && parts.contains("dec="),
        "{parts}"
    );
    assert!(err.to_string().contains("step 5"), "{err}");
    let good = ckpt::resolve(dir.path()).unwrap();
    assert!(good.ends_with("step-00000004"), "{}", good.display());
    let mut fresh = Tiny::new(8, 2);
    let st = ckpt::load_weights(&mut fresh, dir.path(), false).unwrap();
    assert_eq!(st.step, 4);
    for (n, v) in fresh.vs.variables() {
        assert!(
            bool::try_from(v.isfinite().all()).unwrap(),
            "{n} not finite"
        );
    }
    // the run resumes from the last good checkpoint once the fault is gone
    let s = Trainer::resume(dir.path())
        .unwrap()
        .fit(&mut fresh, &split())
        .unwrap();
    assert_eq!((s.steps, s.steps_run), (10, 6));
}

#[test]
fn loading_checks_config_names_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Tiny::new(8, 1);
    Trainer::new(TrainConfig::quick(2, 8, 0.01), Some(dir.path()))
        .unwrap()
        .fit(&mut model, &split())
        .unwrap();
    let mut other = Tiny::new(6, 1);
    let e = ckpt::load_weights(&mut other, dir.path(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`hidden`: checkpoint 8, model 6"), "{e}");
    let file = ckpt::resolve(dir.path()).unwrap().join("model.safetensors");
    let e = ckpt::load_checked(
        &ckpt::model_vars(&other),
        &ckpt::read_safetensors(&file).unwrap(),
        &file,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("tensor `dec.fc.weight`: checkpoint shape [4, 8], model shape [4, 6]"),
        "{e}"
    );
    // a broadcastable shape ([1] into [8]) is refused too, naming the tensor and both shapes
    let mut tensors = ckpt::read_safetensors(&file).unwrap();
    tensors.insert(
        "enc.fc.bias".into(),
        Tensor::zeros([1], (Kind::Float, Device::Cpu)),
    );
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(
        &bad,
        ckpt::safetensors_bytes(&tensors.into_iter().collect::<Vec<_>>()).unwrap(),
    )
    .unwrap();
    let e = ckpt::load_checked(
        &ckpt::model_vars(&model),
        &ckpt::read_safetensors(&bad).unwrap(),
        &bad,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("enc.fc.bias") && e.contains("checkpoint shape [1], model shape [8]"),
        "{e}"
    );
    // the saved weights round-trip bitwise into a same-config model
    let mut same = Tiny::new(8, 7);
    ckpt::load_weights(&mut same, dir.path(), false).unwrap();
    for (n, v) in model.vs.variables() {
        assert!(v.equal(&same.vs.variables()[&n]), "{n}");
    }
}

#[test]
fn best_checkpoint_and_early_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Tiny::new(8, 1);
    let mut cfg = TrainConfig::quick(50, 16, 0.01);
    cfg.eval_every = 1;
    cfg.keep_checkpoints = 1;
    cfg.checkpoint_every = 1;
    cfg.best_metric = BestMetric {
        name: "score".into(),
        mode: MetricMode::Min,
    };
    cfg.early_stopping = Some(EarlyStopping {
        patience: 2,
        min_delta: 0.0,
    });
    let s = Trainer::new(cfg, Some(dir.path()))
        .unwrap()
        .fit(&mut model, &split())
        .unwrap();
    // score = (k - 3)^2 at evaluation k: best at step 3, no improvement at 4 and 5 -> stop at 5
    assert!(s.stopped_early);
    assert_eq!(s.steps, 5);
    let best = s.best.unwrap();
    assert_eq!((best.step, best.value), (3, 0.0));
    let bdir = ckpt::resolve_best(dir.path()).unwrap();
    assert!(bdir.ends_with("step-00000003"));
    assert_eq!(ckpt::read_state(&bdir).unwrap().step, 3);
    assert!(ckpt::resolve(dir.path())
        .unwrap()
        .ends_with("step-00000005"));
    assert!(
        !dir.path().join("checkpoints/step-00000004").exists(),
        "pruning keeps the newest and the best only"
    );
    // Every way of naming a checkpoint resolves: the pointer files and the
    // `RUN/best`, `RUN/latest` shorthands, for `resolve` and for the run's metadata alike.
    for (p, want) in [
        ("checkpoints/best", "step-00000003"),
        ("best", "step-00000003"),
        ("checkpoints/latest", "step-00000005"),
        ("latest", "step-00000005"),
    ] {
        let path = dir.path().join(p);
        assert!(ckpt::resolve(&path).unwrap().ends_with(want), "{p}");
        assert_eq!(crate::run::run_root(&path), dir.path(), "{p}");
        assert_eq!(
            crate::run::read_meta(&path).unwrap().model,
            "tiny-test",
            "{p}"
        );
    }
    let e = ckpt::resolve(&dir.path().join("checkpoints/step-00000004/best"));
    assert!(e.is_err());
}

#[test]
fn epochs_groups_and_run_dir_reuse() {
    let mut cfg = TrainConfig {
        epochs: Some(2),
        batch_size: 16,
        progress: false,
        ..Default::default()
    };
    cfg.final_eval = true;
    let mut model = Tiny::new(8, 1);
    let s = Trainer::new(cfg.clone(), None)
        .unwrap()
        .fit(&mut model, &split())
        .unwrap();
    assert_eq!(s.steps, 4); // 40 examples, 2 full batches of 16 per epoch
    assert!(s.final_eval.unwrap().metrics.contains_key("mse"));
    cfg.groups.insert("gen".into(), OptimOverride::default());
    let e = Trainer::new(cfg, None)
        .unwrap()
        .fit(&mut model, &split())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train.groups.gen") && e.contains("enc, dec"),
        "{e}"
    );
    let exists = tempfile::tempdir().unwrap();
    Trainer::new(TrainConfig::quick(1, 8, 0.01), Some(exists.path()))
        .unwrap()
        .fit(&mut model, &split())
        .unwrap();
    assert!(Trainer::new(TrainConfig::quick(1, 8, 0.01), Some(exists.path())).is_err());
}

/// A two-player stand-in: both players' losses depend on both groups' weights, as a GAN's do.
/// `train_step` checks what each `minimize` may touch and records any breach.
struct TwoPlayer {
    inner: Tiny,
    breaches: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl TwoPlayer {
    fn snapshot(&self, group: &str) -> Vec<Tensor> {
        self.inner
            .param_groups()
            .into_iter()
            .filter(|g| g.name == group)
            .flat_map(|g| g.vars.into_iter().map(|(_, t)| t.detach().copy()))
            .collect()
    }
}

impl GenerativeModel for TwoPlayer {
    fn name(&self) -> &str {
        "two-player-test"
    }
    fn family(&self) -> Family {
        Family::Gan
    }
    fn config_json(&self) -> serde_json::Value {
        self.inner.config_json()
    }
    fn var_store(&self) -> &nn::VarStore {
        &self.inner.vs
    }
    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.inner.vs
    }
    fn param_groups(&self) -> Vec<ParamGroup> {
        self.inner.param_groups()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let step = opt.step();
        let breach = |what: String| self.breaches.borrow_mut().push(what);
        // The `enc` player: its step must leave every `dec` weight (and gradient) alone.
        let dec_before = self.snapshot("dec");
        let enc_before = self.snapshot("enc");
        let enc_loss = self.inner.recon(&batch.x);
        opt.minimize("enc", &enc_loss)?;
        let dec_after = self.snapshot("dec");
        if dec_before.iter().zip(&dec_after).any(|(a, b)| !a.equal(b)) {
            breach(format!("step {step}: the enc step changed a dec weight"));
        }
        if self.inner.dec.ws.grad().defined() {
            breach(format!("step {step}: the enc step left a gradient on dec"));
        }
        if enc_before
            .iter()
            .zip(self.snapshot("enc"))
            .all(|(a, b)| a.equal(&b))
        {
            breach(format!("step {step}: the enc step changed nothing"));
        }
        // The `dec` player steps twice per enc step (n_critic = 2), leaving enc alone.
        let enc_mid = self.snapshot("enc");
        let mut dec_loss = self.inner.recon(&batch.x);
        for _ in 0..2 {
            dec_loss = self.inner.recon(&batch.x);
            opt.minimize("dec", &dec_loss)?;
        }
        if enc_mid
            .iter()
            .zip(self.snapshot("enc"))
            .any(|(a, b)| !a.equal(&b))
        {
            breach(format!("step {step}: a dec step changed an enc weight"));
        }
        let (e, d) = (opt.group_steps("enc")?, opt.group_steps("dec")?);
        if (e, d) != (step + 1, 2 * (step + 1)) {
            breach(format!("step {step}: group steps enc {e}, dec {d}"));
        }
        Ok(Losses::empty()
            .with("enc_loss", enc_loss)
            .with("dec_loss", dec_loss))
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.inner.evaluate(data, opts)
    }
    fn sample(&self, n: i64, s: u64) -> Result<Tensor> {
        self.inner.sample(n, s)
    }
}

/// Each player's step back-propagates into its own group only, group step counts (n_critic)
/// survive a resume, losses need no `total`, and an EMA restricted to one group averages that
/// group only.
#[test]
fn players_step_only_their_own_group_and_counts_survive_resume() {
    let dir = tempfile::tempdir().unwrap();
    let breaches = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let make = || TwoPlayer {
        inner: Tiny::new(8, 0),
        breaches: breaches.clone(),
    };
    let mut cfg = TrainConfig::quick(6, 10, 1e-2);
    cfg.sample_count = 0;
    cfg.progress = false;
    cfg.checkpoint_every = 3;
    cfg.ema = Some(EmaConfig {
        decay: 0.5,
        groups: vec!["dec".into()],
        ..Default::default()
    });
    let mut m = make();
    let mut t = Trainer::new(cfg.clone(), Some(dir.path())).unwrap();
    t.stop_at(3);
    t.fit(&mut m, &split()).unwrap();
    // Resumed at step 3: the counts go on from 3 and 6, as the checks inside train_step demand.
    let mut m = make();
    Trainer::resume(dir.path())
        .unwrap()
        .fit(&mut m, &split())
        .unwrap();
    assert_eq!(breaches.borrow().as_slice(), &[] as &[String]);
    // The EMA averaged `dec` only: `enc` shadows equal the live weights, `dec` shadows do not.
    let latest = ckpt::resolve(dir.path()).unwrap();
    let ema = ckpt::read_safetensors(&latest.join("ema.safetensors")).unwrap();
    let live = ckpt::model_vars(&m);
    assert!(ema["enc.fc.weight"].equal(&live["enc.fc.weight"]));
    assert!(!ema["dec.fc.weight"].equal(&live["dec.fc.weight"]));
    // An EMA group the model does not have is refused before training, naming the key.
    let mut bad = cfg;
    bad.ema = Some(EmaConfig {
        groups: vec!["generator".into()],
        ..Default::default()
    });
    let e = Trainer::new(bad, None)
        .unwrap()
        .fit(&mut make(), &split())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train.ema.groups") && e.contains("generator"),
        "{e}"
    );
}

/// A failure in the final evaluation never costs the trained weights: the last checkpoint is
/// written first, and a resumed run keeps what `config.json` recorded (the CLI's dataset and
/// preset) beside the trainer's own keys.
#[test]
fn a_failing_final_eval_keeps_the_weights_and_resume_keeps_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = split();
    let mut cfg = TrainConfig::quick(6, 16, 0.02);
    cfg.progress = false;
    cfg.final_eval = true;
    cfg.checkpoint_every = 100; // no periodic checkpoint: only the end-of-run one
    let mut m = Tiny::new(8, 1);
    m.fail_eval = Some(1);
    let mut t = Trainer::new(cfg.clone(), Some(dir.path())).unwrap();
    t.set_meta("dataset", serde_json::json!("synthetic"));
    t.set_meta("model", serde_json::json!("not-the-trainer's")); // the trainer's key wins
    t.stop_at(4);
    let s = t.fit(&mut m, &data).unwrap(); // stopped early: no final evaluation yet
    assert_eq!(s.steps, 4);
    let mut t = Trainer::resume(dir.path()).unwrap();
    let e = t.fit(&mut m, &data).unwrap_err().to_string();
    assert!(e.contains("evaluation failed"), "{e}");
    let latest = ckpt::resolve(dir.path()).unwrap();
    let st = ckpt::read_state(&latest).unwrap();
    assert_eq!(
        st.step, 6,
        "the final weights are on disk despite the failed evaluation"
    );
    let saved = ckpt::read_safetensors(&latest.join("model.safetensors")).unwrap();
    for (name, t) in m.vs.variables() {
        assert!(
            saved[&name].equal(&t),
            "{name} differs from the trained weights"
        );
    }
    let conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(conf["dataset"], "synthetic");
    assert_eq!(conf["model"], "tiny-test");
}

/// An empty test split is refused before the first step when the run would evaluate and
/// accepted when it would not.
#[test]
fn an_empty_test_split_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = split();
    data.test = data.test.take(0);
    let mut cfg = TrainConfig::quick(3, 16, 0.02);
    cfg.progress = false;
    cfg.final_eval = true;
    let mut m = Tiny::new(8, 1);
    let e = Trainer::new(cfg.clone(), Some(dir.path()))
        .unwrap()
        .fit(&mut m, &data)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("synthetic/test") && e.contains("no test example"),
        "{e}"
    );
    assert!(
        !dir.path().join("config.json").exists(),
        "refused before anything is written"
    );
    cfg.final_eval = false;
    cfg.eval_every = 0;
    let s = Trainer::new(cfg, None).unwrap().fit(&mut m, &data).unwrap();
    assert_eq!(s.steps, 3);
}

/// A scorer whose `fid-domain` is best at its second call, recording the sample counts.
#[derive(Debug, Default)]
struct CountingScorer {
    sizes: std::cell::RefCell<Vec<i64>>,
}

impl crate::quality::Scorer for CountingScorer {
    fn score(&self, samples: &Tensor) -> Result<crate::quality::Scored> {
        let mut sizes = self.sizes.borrow_mut();
        sizes.push(samples.size()[0]);
        let k = sizes.len() as f64;
        Ok(crate::quality::Scored {
            metrics: [("fid-domain".to_string(), (k - 2.0).powi(2))].into(),
            ..Default::default()
        })
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

/// The trainer's periodic evaluation scores `quality_samples` samples, and a sample
/// metric can pick the best checkpoint.
#[test]
fn a_sample_metric_picks_the_best_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Tiny::new(8, 1);
    let mut cfg = TrainConfig::quick(4, 16, 0.01);
    cfg.eval_every = 1;
    cfg.quality_samples = 7;
    cfg.final_eval = false;
    cfg.best_metric = BestMetric {
        name: "fid-domain".into(),
        mode: MetricMode::Min,
    };
    let scorer = std::rc::Rc::new(CountingScorer::default());
    let mut t = Trainer::new(cfg, Some(dir.path())).unwrap();
    t.set_scorer(scorer.clone());
    let s = t.fit(&mut model, &split()).unwrap();
    let best = s.best.unwrap();
    assert_eq!(
        (best.metric.as_str(), best.step, best.value),
        ("fid-domain", 2, 0.0)
    );
    assert_eq!(*scorer.sizes.borrow(), vec![7; 4]);
    assert!(ckpt::resolve_best(dir.path())
        .unwrap()
        .ends_with("step-00000002"));
    let text = std::fs::read_to_string(dir.path().join(crate::metrics::JSONL)).unwrap();
    assert!(text.contains("fid-domain"));
}

/// A run interrupted on one data set does not resume on rewritten data; the
/// error names both fingerprints. A second writer of a run directory is refused, naming
/// the holder.
#[test]
fn resume_refuses_changed_data_and_a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = split();
    let mut m = Tiny::new(8, 1);
    let mut t = Trainer::new(rich_config(12), Some(dir.path())).unwrap();
    t.stop_at(6);
    t.fit(&mut m, &data).unwrap();
    assert!(
        !dir.path().join(crate::guard::LOCK).exists(),
        "the lock outlives the run"
    );
    let mut changed = split();
    changed.train.x = &changed.train.x * 1.5;
    let e = Trainer::resume(dir.path())
        .unwrap()
        .fit(&mut Tiny::new(8, 1), &changed)
        .unwrap_err()
        .to_string();
    assert!(e.contains("training data changed"), "{e}");
    let (then, now) = (
        crate::guard::data_fingerprint(&data.train).unwrap(),
        crate::guard::data_fingerprint(&changed.train).unwrap(),
    );
    assert!(then != now && e.contains(&then) && e.contains(&now), "{e}");

    let held = crate::guard::RunLock::acquire(dir.path()).unwrap();
    let e = Trainer::resume(dir.path())
        .unwrap()
        .fit(&mut Tiny::new(8, 1), &data)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    drop(held);
    let s = Trainer::resume(dir.path())
        .unwrap()
        .fit(&mut Tiny::new(8, 1), &data)
        .unwrap();
    assert_eq!(s.steps, 12);
}

/// A misspelled best metric stops the run before step 0, naming the key and
/// the metrics the model reports; nothing is trained or written.
#[test]
fn a_misspelled_best_metric_is_refused_before_step_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::quick(5, 16, 0.01);
    cfg.eval_every = 1;
    cfg.best_metric = BestMetric {
        name: "scroe".into(),
        mode: MetricMode::Min,
    };
    let mut model = Tiny::new(8, 1);
    let e = Trainer::new(cfg, Some(dir.path()))
        .unwrap()
        .fit(&mut model, &split())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train.best_metric.name") && e.contains("scroe") && e.contains("score"),
        "{e}"
    );
    assert!(!dir.path().join("checkpoints").join(ckpt::LATEST).exists());
    assert_eq!(model.evals.get(), 0);
}

/// A resumed run takes a longer length and a smaller learning rate, says so,
/// records the changes in `config.json`, and saves the changed configuration with its
/// checkpoints; a change that fails validation is refused naming the key.
#[test]
fn resume_applies_a_longer_run_and_a_new_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let data = split();
    let mut m = Tiny::new(8, 1);
    let first = Trainer::new(rich_config(6), Some(dir.path()))
        .unwrap()
        .fit(&mut m, &data)
        .unwrap();
    assert_eq!(first.steps, 6);
    let mut t = Trainer::resume(dir.path()).unwrap();
    let bad = t.apply_changes(&ResumeChanges {
        lr: Some(-1.0),
        ..Default::default()
    });
    assert!(bad.unwrap_err().to_string().contains("lr"));
    let mut t = Trainer::resume(dir.path()).unwrap();
    let lines = t
        .apply_changes(&ResumeChanges {
            steps: Some(10),
            lr: Some(0.005),
            ..Default::default()
        })
        .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("steps: Some(6) -> Some(10)")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("lr: ")), "{lines:?}");
    let s = t.fit(&mut Tiny::new(8, 1), &data).unwrap();
    assert_eq!((s.steps, s.steps_run), (10, 4));
    let state = ckpt::read_state(&ckpt::resolve(dir.path()).unwrap()).unwrap();
    assert_eq!(
        (state.train.optimizer.lr, state.train.steps),
        (0.005, Some(10))
    );
    let conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(
        conf["resume_changes"][0].as_array().unwrap().len(),
        lines.len()
    );
    // the rows written after the resume train at the new rate
    let last = train_rows(dir.path())
        .into_iter()
        .rfind(|r| r["kind"] == "train")
        .unwrap();
    let lrs: Vec<f64> = last["lr"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_f64())
        .collect();
    assert!(lrs.iter().all(|&v| v <= 0.005 + 1e-12), "{last}");
}

/// A table draws every sample it asks for from a fast sampler, and from one too slow for its
/// budget as many as fit (never under the quality floor): 0.1 s a sample fits 1,200 in 120 s.
#[test]
fn a_slow_sampler_draws_what_fits_the_budget() {
    use crate::compare::{sample_count, SAMPLE_BUDGET_SECONDS};
    let mut m = Tiny::new(4, 0);
    assert_eq!(sample_count(&m, 10_000, 0).unwrap(), 10_000);
    m.sample_seconds = 0.1;
    let n = sample_count(&m, 10_000, 0).unwrap();
    let fits = (SAMPLE_BUDGET_SECONDS / 0.1) as i64;
    assert!(n <= fits && n > fits * 8 / 10, "{n}");
    // never fewer than the quality floor, nor more than asked
    m.sample_seconds = 0.2; // 600 fit
    assert_eq!(sample_count(&m, 10_000, 0).unwrap(), 1000);
    assert_eq!(sample_count(&m, 500, 0).unwrap(), 500);
}
