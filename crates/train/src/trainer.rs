//! The trainer: runs any [`GenerativeModel`] for a number of steps or epochs with the engine's
//! optimizers (one per parameter group), schedule, gradient clipping, EMA, periodic evaluation on
//! the test split, best-checkpoint tracking, early stopping, non-finite-loss stops, metrics,
//! sample grids and exact resume; models with the `Fit` capability (the classical baselines) are
//! fitted once instead of stepped. [`Trainer::fit`] runs its jobs in turn: the plan (data,
//! batches, length), the optimizers, resume, the run directory, the step loop
//! (`steps.rs`), and the end of the run (last checkpoint, then the final evaluation).
//!
//! Exactness of resume rests on three things: torch is reseeded from `(seed, "step", step)`
//! before every step (and from `(seed, "eval", step)` before evaluation, so evaluating does not
//! shift the training stream); the data order of epoch `e` is [`BatchIter`](genzoo_core::data::BatchIter)'s permutation drawn
//! from `(seed, "shuffle", e)`; and every piece of optimizer and EMA state is in the checkpoint.
//! Batches keep the last partial batch of an epoch out (drop-last), so step `s` always reads
//! batch `s % B` of epoch `s / B` with `B = max(1, n / batch_size)`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::Tensor;

pub use super::checkpoint::BestRecord;
use crate::checkpoint as ckpt;
use crate::config::TrainConfig;
use crate::ema::Ema;
use crate::metrics::MetricsLog;
use crate::optim::Optimizer;
use crate::plan::Plan;
use crate::steps::{RunState, Session};
use genzoo_core::data::Split;
use genzoo_core::model::{EvalReport, GenerativeModel};
use genzoo_core::{seed, CoreError, Result};

/// What a run did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done in total (including those before a resume).
    pub steps: u64,
    /// Steps done by this call.
    pub steps_run: u64,
    /// Wall-clock seconds of this call.
    pub seconds: f64,
    /// Training throughput of this call (evaluation and checkpointing excluded).
    pub images_per_second: f64,
    /// The loss parts of the last step.
    pub last_losses: BTreeMap<String, f64>,
    /// The evaluation at the end, when `final_eval` is set.
    pub final_eval: Option<EvalReport>,
    /// The best evaluation of the tracked metric.
    pub best: Option<BestRecord>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// The newest checkpoint directory, when there is a run directory.
    pub last_checkpoint: Option<PathBuf>,
    /// What a closed-form or EM fit returned (models with the `Fit` capability), else `None`.
    pub fit: Option<BTreeMap<String, f64>>,
}

/// Trains models; see the module documentation.
pub struct Trainer {
    cfg: TrainConfig,
    run_dir: Option<PathBuf>,
    resume_from: Option<PathBuf>,
    stop_at: Option<u64>,
    meta: serde_json::Map<String, serde_json::Value>,
    scorer: Option<std::rc::Rc<dyn crate::quality::Scorer>>,
    /// The model's weights were loaded from another run (fine-tuning): no data-dependent init.
    pretrained: bool,
}

/// The EMA of `model`: every variable, or those of the groups `c.groups` names.
fn ema_for(c: crate::EmaConfig, model: &dyn GenerativeModel) -> Result<Ema> {
    if c.groups.is_empty() {
        return Ok(Ema::new(c, ckpt::model_vars(model)));
    }
    let groups = model.param_groups();
    let mut names = std::collections::BTreeSet::new();
    for want in &c.groups {
        let g = groups.iter().find(|g| &g.name == want).ok_or_else(|| {
            CoreError::config(
                "train.ema.groups",
                format!(
                    "no parameter group `{want}`; the model has: {}",
                    group_names(&groups)
                ),
            )
        })?;
        names.extend(g.vars.iter().map(|(n, _)| n.clone()));
    }
    Ok(Ema::averaging(c, ckpt::model_vars(model), |n| {
        names.contains(n)
    }))
}

/// The settings a resumed run may change; anything else (model, preset, data, batch size, seed)
/// would make it a different experiment.
#[derive(Clone, Debug, Default)]
pub struct ResumeChanges {
    pub steps: Option<u64>,
    pub epochs: Option<u64>,
    /// The learning rate of every optimizer (the base and every group that sets its own).
    pub lr: Option<f64>,
    pub eval_every: Option<u64>,
    pub checkpoint_every: Option<u64>,
    pub threads: Option<usize>,
}

impl Trainer {
    /// A trainer for `cfg` writing into `run_dir` (`None`: no files at all). Fails if `run_dir`
    /// already holds a run (use [`Trainer::resume`]).
    ///
    /// # Errors
    /// [`CoreError::Config`] when `cfg` fails [`TrainConfig::validate`]; [`CoreError::Checkpoint`]
    /// naming `run_dir` when it already holds a run (a `checkpoints/latest` pointer).
    pub fn new(cfg: TrainConfig, run_dir: Option<&Path>) -> Result<Trainer> {
        cfg.validate()?;
        if let Some(d) = run_dir {
            if d.join("checkpoints").join(ckpt::LATEST).exists() {
                return Err(CoreError::Checkpoint {
                    path: d.to_path_buf(),
                    msg: "this run directory already holds a run: resume it or choose another directory".into(),
                });
            }
        }
        Ok(Trainer {
            cfg,
            run_dir: run_dir.map(Path::to_path_buf),
            resume_from: None,
            stop_at: None,
            meta: Default::default(),
            scorer: None,
            pretrained: false,
        })
    }

    /// A trainer that continues the run in `run_dir` from its latest checkpoint with the run's own
    /// training configuration; [`Trainer::fit`] then loads the weights, optimizer and EMA state.
    ///
    /// # Errors
    /// The errors of [`ckpt::resolve`] and [`ckpt::read_state`] when `run_dir` holds no readable
    /// checkpoint; [`CoreError::Config`] when the saved training configuration fails validation;
    /// [`CoreError::Io`] or [`CoreError::Format`] naming the run's `config.json` when it exists but
    /// cannot be read or parsed.
    pub fn resume(run_dir: &Path) -> Result<Trainer> {
        let from = ckpt::resolve(run_dir)?;
        let state = ckpt::read_state(&from)?;
        state.train.validate()?;
        // Keep what the run's config.json recorded (the CLI's dataset, preset, ...): the resumed
        // run rewrites the file with the trainer's own keys and these.
        let meta = match crate::run::config_path(run_dir) {
            Ok(file) => {
                let text = std::fs::read_to_string(&file).map_err(|e| CoreError::io(&file, e))?;
                serde_json::from_str(&text).map_err(|e| CoreError::format(&file, e.to_string()))?
            }
            Err(_) => Default::default(),
        };
        Ok(Trainer {
            cfg: state.train.clone(),
            run_dir: Some(run_dir.to_path_buf()),
            resume_from: Some(from),
            stop_at: None,
            meta,
            scorer: None,
            pretrained: false,
        })
    }

    /// Applies the settings a resumed run may change: its length, learning
    /// rate, evaluation and checkpoint cadence, threads. Returns one line per change
    /// (`lr: 0.2 -> 0.01`), which is also appended to `config.json`'s `resume_changes`; the
    /// changed configuration is saved with every later checkpoint.
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the key when the changed configuration fails
    /// [`TrainConfig::validate`].
    pub fn apply_changes(&mut self, c: &ResumeChanges) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        let cfg = &mut self.cfg;
        let mut note = |key: &str, old: String, new: String| {
            if old != new {
                lines.push(format!("{key}: {old} -> {new}"));
            }
        };
        if let Some(n) = c.steps {
            note(
                "steps",
                format!("{:?}", cfg.steps),
                format!("{:?}", Some(n)),
            );
            (cfg.steps, cfg.epochs) = (Some(n), None);
        }
        if let Some(n) = c.epochs {
            note(
                "epochs",
                format!("{:?}", cfg.epochs),
                format!("{:?}", Some(n)),
            );
            (cfg.steps, cfg.epochs) = (None, Some(n));
        }
        if let Some(lr) = c.lr {
            note("lr", cfg.optimizer.lr.to_string(), lr.to_string());
            cfg.optimizer.lr = lr;
            for (g, o) in cfg.groups.iter_mut().filter(|(_, o)| o.lr.is_some()) {
                note(
                    &format!("groups.{g}.lr"),
                    format!("{:?}", o.lr),
                    format!("{:?}", Some(lr)),
                );
                o.lr = Some(lr);
            }
        }
        if let Some(e) = c.eval_every {
            note("eval_every", cfg.eval_every.to_string(), e.to_string());
            cfg.eval_every = e;
        }
        if let Some(k) = c.checkpoint_every {
            note(
                "checkpoint_every",
                cfg.checkpoint_every.to_string(),
                k.to_string(),
            );
            cfg.checkpoint_every = k;
        }
        if let Some(t) = c.threads {
            note("threads", cfg.threads.to_string(), t.to_string());
            cfg.threads = t;
        }
        self.cfg.validate()?;
        if !lines.is_empty() {
            let entry = self
                .meta
                .entry("resume_changes")
                .or_insert_with(|| serde_json::json!([]));
            if let Some(a) = entry.as_array_mut() {
                a.push(serde_json::json!(lines));
            }
        }
        Ok(lines)
    }

    /// Fine-tuning: the model's weights come from another run, so the data-dependent
    /// initialization of a fresh run (ActNorm) is skipped.
    pub fn set_pretrained(&mut self) {
        self.pretrained = true;
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Stops after `steps` steps in total (writing a checkpoint there), as an interrupted run
    /// would; the schedule still spans the configured length.
    pub fn stop_at(&mut self, steps: u64) {
        self.stop_at = Some(steps);
    }

    /// Records in `config.json` the dataset the run trains on, as it is to be loaded again
    /// ([`crate::RunMeta::dataset`]): a catalogue name, or a folder (stored absolute so that the
    /// run can be evaluated and resumed from any working directory).
    pub fn set_dataset(&mut self, dataset: &str) {
        let path = Path::new(dataset);
        // A relative folder (`data/my-digits`, `./clips`), not a dataset's name that happens to
        // be a folder here too (`mnist10k` run from `datasets/`).
        let relative_folder = !path.is_absolute()
            && path.is_dir()
            && (dataset.contains(std::path::MAIN_SEPARATOR) || dataset.starts_with('.'));
        let stored = if relative_folder {
            std::fs::canonicalize(path)
                .map_or_else(|_| dataset.to_string(), |p| p.display().to_string())
        } else {
            dataset.to_string()
        };
        self.meta
            .insert("dataset".into(), serde_json::json!(stored));
    }

    /// Records the preset the model was built from ([`crate::RunMeta::preset`]).
    pub fn set_preset(&mut self, preset: Option<&str>) {
        self.meta.insert("preset".into(), serde_json::json!(preset));
    }

    /// Records the run whose weights this run starts from ([`crate::RunMeta::init_from`]).
    pub fn set_init_from(&mut self, from: &Path) {
        let from = std::fs::canonicalize(from).unwrap_or_else(|_| from.to_path_buf());
        self.meta
            .insert("init_from".into(), serde_json::json!(from));
    }

    /// Adds a field of the caller's own to `config.json` (read back in
    /// [`crate::RunMeta::extra`]). The trainer's own keys (`model`, `family`, `model_config`,
    /// `train`, `device`, `data_kind`, `num_classes`, `train_data`, `test_data`) are always its
    /// own: a field of the same name is ignored.
    pub fn set_meta(&mut self, key: &str, value: serde_json::Value) {
        self.meta.insert(key.to_string(), value);
    }

    /// Scores `TrainConfig::quality_samples` samples at every evaluation with `scorer`: its
    /// metrics (`fid-domain`, `modes_covered`, ...) join the report, the metrics files and the
    /// choice of the best checkpoint (`best_metric`).
    pub fn set_scorer(&mut self, scorer: std::rc::Rc<dyn crate::quality::Scorer>) {
        self.scorer = Some(scorer);
    }

    /// Trains `model` on `split.train`, evaluating on `split.test`: gradient steps, or one fit
    /// for models with the `Fit` capability.
    ///
    /// # Errors
    /// Empty training data, a configuration the model does not match (parameter groups, EMA
    /// groups), a checkpoint that does not fit the model, a non-finite loss (after which the last
    /// checkpoint is intact), or an I/O error writing the run directory.
    pub fn fit(&mut self, model: &mut dyn GenerativeModel, split: &Split) -> Result<TrainSummary> {
        let t_start = Instant::now();
        seed::set_threads(self.cfg.threads);
        let mut plan = Plan::new(&self.cfg, model, split, self.stop_at)?;
        // One writer per run directory; the lock goes when this function returns.
        let _lock = match &self.run_dir {
            Some(d) => Some(crate::guard::RunLock::acquire(d)?),
            None => None,
        };
        if model.fitter().is_some() {
            return self.fit_closed_form(model, &plan, t_start);
        }
        let (mut opts, base_lr) = optimizers(&self.cfg, model)?;
        let mut state = RunState::default();
        let fingerprint = crate::guard::data_fingerprint(&split.train)?;
        self.check_best_metric(model, split)?;
        if let Some(from) = &self.resume_from {
            check_same_data(from, &fingerprint)?;
        }
        let resumed_ema = match &self.resume_from {
            Some(from) => resume_into(from, model, &mut opts, &mut state)?,
            None => None,
        };
        self.write_config(model, &plan)?;
        let mut log = MetricsLog::open(self.run_dir.as_deref(), Some(state.step))?;

        // Data-dependent initialization happens once, on the first batch of a fresh run.
        if state.step == 0 && plan.stop > 0 && !self.pretrained {
            seed::seed_torch_stream(self.cfg.seed, "init", 0);
            model.init_from_batch(&plan.batches.next_batch())?;
        }
        plan.batches.seek_step(state.step)?;
        let mut ema = match self.cfg.ema.clone() {
            None => None,
            Some(c) => Some(ema_for(c, model)?),
        };
        if let (Some(e), Some(t)) = (ema.as_mut(), resumed_ema.as_ref()) {
            e.load(t)?;
        }
        let ckpt_dir = self.run_dir.as_ref().map(|d| d.join("checkpoints"));
        let start_step = state.step;
        let mut session = Session {
            model,
            cfg: &self.cfg,
            opts: &mut opts,
            base_lr: &base_lr,
            ema: &mut ema,
            ckpt_dir: ckpt_dir.as_deref(),
            per_epoch: plan.per_epoch,
            fingerprint: Some(fingerprint),
            scorer: self.scorer.as_deref(),
        };
        let train_secs = session.run_steps(&mut plan, &mut state, &mut log)?;
        let final_eval = session.finish(&plan, &mut state, &mut log)?;
        let steps_run = state.step - start_step;
        Ok(TrainSummary {
            steps: state.step,
            steps_run,
            seconds: t_start.elapsed().as_secs_f64(),
            images_per_second: if train_secs > 0.0 {
                steps_run as f64 * plan.batch_size as f64 / train_secs
            } else {
                0.0
            },
            last_losses: state.last_losses,
            final_eval,
            best: state.best,
            stopped_early: state.stopped_early,
            last_checkpoint: state.last_ckpt,
            fit: None,
        })
    }

    /// Fits a model with the `Fit` capability once on the whole training split (seeded by
    /// `train.seed`), logs the fit, and evaluates when `final_eval` is set. Nothing is
    /// checkpointed: such a model holds no trained variables, and refits in seconds.
    fn fit_closed_form(
        &self,
        model: &mut dyn GenerativeModel,
        plan: &Plan,
        t_start: Instant,
    ) -> Result<TrainSummary> {
        if self.resume_from.is_some() {
            return Err(CoreError::model(
                model.name(),
                "is fitted in closed form; there is nothing to resume, train it again",
            ));
        }
        self.write_config(model, plan)?;
        let mut log = MetricsLog::open(self.run_dir.as_deref(), Some(0))?;
        let stats = match model.fitter() {
            Some(f) => f.fit(&plan.train, self.cfg.seed)?,
            None => return Err(CoreError::model(model.name(), "has no `Fit` capability")),
        };
        let nums: Vec<(String, f64)> = stats.iter().map(|(k, v)| (k.clone(), *v)).collect();
        log.append(
            serde_json::json!({"step": 0, "kind": "fit", "fit": stats}),
            &nums,
        )?;
        let final_eval = if self.cfg.final_eval {
            seed::seed_torch_stream(self.cfg.seed, "eval", 0);
            let report = model.evaluate(&plan.test, &self.cfg.eval)?;
            crate::steps::log_report(&report, 0, &mut log)?;
            Some(report)
        } else {
            None
        };
        log.flush()?;
        Ok(TrainSummary {
            steps: 0,
            steps_run: 0,
            seconds: t_start.elapsed().as_secs_f64(),
            images_per_second: 0.0,
            last_losses: BTreeMap::new(),
            final_eval,
            best: None,
            stopped_early: false,
            last_checkpoint: None,
            fit: Some(stats),
        })
    }

    /// Writes `config.json`: the trainer's own keys, then the recorded metadata.
    fn write_config(&self, model: &dyn GenerativeModel, plan: &Plan) -> Result<()> {
        let Some(dir) = &self.run_dir else {
            return Ok(());
        };
        for sub in ["checkpoints", "samples"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| CoreError::io(dir.join(sub), e))?;
        }
        let mut conf = serde_json::json!({
            "model": model.name(), "family": model.family(), "model_config": model.config_json(),
            "train": self.cfg, "device": genzoo_core::device::device_name(plan.train.x.device()),
            "train_data": plan.train.name, "test_data": plan.test.name,
            "data_kind": plan.train.kind, "num_classes": plan.train.num_classes,
        });
        if let Some(obj) = conf.as_object_mut() {
            for (k, v) in &self.meta {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        genzoo_core::io::write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(&conf)?)
    }
}

/// One optimizer per parameter group (with the group's overrides) and each group's base
/// learning rate.
type Optimizers = (BTreeMap<String, Optimizer>, BTreeMap<String, f64>);

fn optimizers(cfg: &TrainConfig, model: &dyn GenerativeModel) -> Result<Optimizers> {
    let groups = model.param_groups();
    for name in cfg.groups.keys() {
        if !groups.iter().any(|g| &g.name == name) {
            return Err(CoreError::config(
                format!("train.groups.{name}"),
                format!(
                    "model `{}` has no such parameter group; its groups: {}",
                    model.name(),
                    group_names(&groups)
                ),
            ));
        }
    }
    let mut opts = BTreeMap::new();
    let mut base_lr = BTreeMap::new();
    for g in groups {
        let oc = match cfg.groups.get(&g.name) {
            Some(o) => cfg.optimizer.merged(o),
            None => cfg.optimizer.clone(),
        };
        base_lr.insert(g.name.clone(), oc.lr);
        opts.insert(g.name.clone(), Optimizer::new(oc, g.vars));
    }
    Ok((opts, base_lr))
}

/// Loads the checkpoint `from` into `model` and `opts` and the run's progress into `state`;
/// returns the saved EMA tensors, if any.
impl Trainer {
    /// Before step 0: a `best_metric` other than `nll` must be one the evaluation reports (an
    /// evaluation of two test examples says which) or one the scorer reports, so that a
    /// misspelled name stops the run now rather than at its first evaluation.
    fn check_best_metric(&self, model: &dyn GenerativeModel, split: &Split) -> Result<()> {
        let name = self.cfg.best_metric.name.as_str();
        let evaluates = self.cfg.eval_every > 0 || self.cfg.final_eval;
        if name == "nll" || !evaluates {
            return Ok(());
        }
        if self.scorer.is_some() && crate::quality::METRICS.contains(&name) {
            return Ok(());
        }
        let opts = genzoo_core::model::EvalOptions {
            max_examples: Some(2),
            ..self.cfg.eval.clone()
        };
        let report = tch::no_grad(|| model.evaluate(&split.test, &opts))?;
        if report.metrics.contains_key(name) {
            return Ok(());
        }
        let mut known: Vec<&str> = report.metrics.keys().map(String::as_str).collect();
        if self.scorer.is_some() {
            known.extend(crate::quality::METRICS);
        }
        Err(CoreError::config(
            "train.best_metric.name",
            format!(
                "`{name}` is not a metric of {}; it reports: nll, {}{}",
                model.name(),
                known.join(", "),
                if self.scorer.is_none() {
                    " (sample-quality metrics such as fid-domain need `train --quality`)"
                } else {
                    ""
                }
            ),
        ))
    }
}

/// Refuses to resume the checkpoint `from` on training data other than the data it was trained
/// on (checkpoints from before fingerprints were recorded are accepted).
fn check_same_data(from: &Path, now: &str) -> Result<()> {
    match ckpt::read_state(from)?.data_fingerprint {
        Some(then) if then != now => Err(CoreError::Checkpoint {
            path: from.to_path_buf(),
            msg: format!("the training data changed since this checkpoint: it was trained on [{then}], the data now is [{now}]; resume on the same data, or start a new run"),
        }),
        _ => Ok(()),
    }
}

fn resume_into(
    from: &Path,
    model: &mut dyn GenerativeModel,
    opts: &mut BTreeMap<String, Optimizer>,
    state: &mut RunState,
) -> Result<Option<BTreeMap<String, Tensor>>> {
    let st = ckpt::read_state(from)?;
    ckpt::check_model(&st, model, from)?;
    let wfile = from.join("model.safetensors");
    ckpt::load_checked(
        &ckpt::model_vars(model),
        &ckpt::read_safetensors(&wfile)?,
        &wfile,
    )?;
    let ofile = from.join("optim.safetensors");
    let otensors = ckpt::read_safetensors(&ofile)?;
    let saved: Vec<&str> = st.groups.iter().map(|g| g.name.as_str()).collect();
    if saved != opts.keys().map(String::as_str).collect::<Vec<_>>() {
        return Err(CoreError::Checkpoint {
            path: from.to_path_buf(),
            msg: format!(
                "parameter groups differ: checkpoint [{}], model [{}]",
                saved.join(", "),
                opts.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    for gs in &st.groups {
        let Some(opt) = opts.get_mut(&gs.name) else {
            continue; // the names were compared above
        };
        opt.load_state(&format!("{}/", gs.name), &otensors, gs.steps_taken)
            .map_err(|e| CoreError::Checkpoint {
                path: ofile.clone(),
                msg: e.to_string(),
            })?;
    }
    state.step = st.step;
    state.best = st.best;
    state.evals_since_best = st.evals_since_best;
    state.last_losses = st.last_losses;
    if st.has_ema {
        return Ok(Some(ckpt::read_safetensors(&from.join("ema.safetensors"))?));
    }
    Ok(None)
}

pub(crate) fn group_names(groups: &[genzoo_core::model::ParamGroup]) -> String {
    groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
