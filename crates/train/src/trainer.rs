//! The trainer: runs any [`GenerativeModel`] for a number of steps or epochs with the engine's
//! optimizers (one per parameter group), schedule, gradient clipping, EMA, periodic evaluation on
//! the test split, best-checkpoint tracking, early stopping, non-finite-loss stops, metrics,
//! sample grids and exact resume.
//!
//! Exactness of resume rests on three things: torch is reseeded from `(seed, "step", step)`
//! before every step (and from `(seed, "eval", step)` before evaluation, so evaluating does not
//! shift the training stream); the data order of epoch `e` is [`BatchIter`]'s permutation drawn
//! from `(seed, "shuffle", e)`; and every piece of optimizer and EMA state is in the checkpoint.
//! Batches keep the last partial batch of an epoch out (drop-last), so step `s` always reads
//! batch `s % B` of epoch `s / B` with `B = max(1, n / batch_size)`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::{Kind, Tensor};

pub use super::checkpoint::BestRecord;
use crate::checkpoint::{self as ckpt, CheckpointTensors, GroupState, TrainState};
use crate::config::{MetricMode, TrainConfig};
use crate::ema::Ema;
use crate::metrics::MetricsLog;
use crate::optim::{clip_grads, Optimizer};
use crate::progress::Progress;
use genzoo_core::data::{BatchIter, Dataset, Split};
use genzoo_core::model::{EvalReport, GenerativeModel, Optimize};
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
}

/// Trains models; see the module documentation.
pub struct Trainer {
    cfg: TrainConfig,
    run_dir: Option<PathBuf>,
    resume_from: Option<PathBuf>,
    stop_at: Option<u64>,
    meta: serde_json::Map<String, serde_json::Value>,
}

/// The [`Optimize`] handle of one step.
struct StepOptim<'a> {
    opts: &'a mut BTreeMap<String, Optimizer>,
    clip: Option<f64>,
    step: u64,
}

impl Optimize for StepOptim<'_> {
    fn minimize(&mut self, group: &str, loss: &Tensor) -> Result<()> {
        let known = || self.opts.keys().cloned().collect::<Vec<_>>().join(", ");
        if !self.opts.contains_key(group) {
            return Err(CoreError::Unknown {
                what: "parameter group",
                name: group.to_string(),
                known: known(),
            });
        }
        let opt = self.opts.get_mut(group).expect("checked above");
        // Gradients of this group's parameters only, returned rather than accumulated into
        // `.grad`: other groups are neither computed nor touched, and no zeroing is needed.
        let params: Vec<Tensor> = opt
            .params()
            .iter()
            .map(|(_, p)| p.shallow_clone())
            .collect();
        let grads = Tensor::f_run_backward(&[loss], &params, false, false)?;
        if let Some(c) = self.clip {
            clip_grads(&grads, c);
        }
        opt.step_with(grads);
        Ok(())
    }
    fn step(&self) -> u64 {
        self.step
    }
    fn group_steps(&self, group: &str) -> Result<u64> {
        self.opts
            .get(group)
            .map(Optimizer::steps_taken)
            .ok_or_else(|| CoreError::Unknown {
                what: "parameter group",
                name: group.to_string(),
                known: self.opts.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
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

/// Position of step `s` in the data: `(epoch, batch index)`.
fn position(step: u64, per_epoch: u64) -> (u64, u64) {
    (step / per_epoch, step % per_epoch)
}

impl Trainer {
    /// A trainer for `cfg` writing into `run_dir` (`None`: no files at all). Fails if `run_dir`
    /// already holds a run (use [`Trainer::resume`]).
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
        })
    }

    /// A trainer that continues the run in `run_dir` from its latest checkpoint with the run's own
    /// training configuration; [`Trainer::fit`] then loads the weights, optimizer and EMA state.
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
        })
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

    /// Adds a field to `config.json` (the CLI records the dataset and preset). The trainer's own
    /// keys (`model`, `family`, `model_config`, `train`, `device`, `data_kind`, `num_classes`,
    /// `train_data`, `test_data`) are always its own: a field of the same name is ignored.
    pub fn set_meta(&mut self, key: &str, value: serde_json::Value) {
        self.meta.insert(key.to_string(), value);
    }

    /// Trains `model` on `split.train`, evaluating on `split.test`.
    pub fn fit(&mut self, model: &mut dyn GenerativeModel, split: &Split) -> Result<TrainSummary> {
        let t_start = Instant::now();
        let cfg = self.cfg.clone();
        seed::set_threads(cfg.threads);
        let device = model.var_store().device();
        let train = split.train.to_device(device);
        let test = split.test.to_device(device);
        let n = train.len();
        if n == 0 {
            return Err(CoreError::Invalid(format!(
                "dataset `{}` has no training example",
                train.name
            )));
        }
        let bs = cfg.batch_size.min(n);
        let mut batches = BatchIter::new(&train, cfg.batch_size, cfg.seed, device)?;
        let per_epoch = batches.batches_per_epoch() as u64;
        let total = match (cfg.steps, cfg.epochs) {
            (Some(s), _) => s,
            (None, Some(e)) => e * per_epoch,
            (None, None) => unreachable!("validated"),
        };
        let stop = self.stop_at.unwrap_or(total).min(total);

        // Optimizers, one per group.
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
        let mut opts: BTreeMap<String, Optimizer> = BTreeMap::new();
        let mut base_lr: BTreeMap<String, f64> = BTreeMap::new();
        for g in groups {
            let oc = match cfg.groups.get(&g.name) {
                Some(o) => cfg.optimizer.merged(o),
                None => cfg.optimizer.clone(),
            };
            base_lr.insert(g.name.clone(), oc.lr);
            opts.insert(g.name.clone(), Optimizer::new(oc, g.vars));
        }

        // Resume or start.
        let mut step = 0u64;
        let mut best: Option<BestRecord> = None;
        let mut evals_since_best = 0u64;
        let mut last_losses = BTreeMap::new();
        let mut resumed_ema = None;
        if let Some(from) = &self.resume_from {
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
                    path: from.clone(),
                    msg: format!(
                        "parameter groups differ: checkpoint [{}], model [{}]",
                        saved.join(", "),
                        opts.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            for gs in &st.groups {
                let opt = opts.get_mut(&gs.name).expect("names checked");
                opt.load_state(&format!("{}/", gs.name), &otensors, gs.steps_taken)
                    .map_err(|e| CoreError::Checkpoint {
                        path: ofile.clone(),
                        msg: e.to_string(),
                    })?;
            }
            if st.has_ema {
                resumed_ema = Some(ckpt::read_safetensors(&from.join("ema.safetensors"))?);
            }
            step = st.step;
            best = st.best;
            evals_since_best = st.evals_since_best;
            last_losses = st.last_losses;
        }

        // Run directory.
        let ckpt_dir = self.run_dir.as_ref().map(|d| d.join("checkpoints"));
        if let Some(dir) = &self.run_dir {
            for sub in ["checkpoints", "samples"] {
                std::fs::create_dir_all(dir.join(sub))
                    .map_err(|e| CoreError::io(dir.join(sub), e))?;
            }
            let mut conf = serde_json::json!({
                "model": model.name(), "family": model.family(), "model_config": model.config_json(),
                "train": cfg, "device": genzoo_core::device::device_name(device),
                "train_data": train.name, "test_data": test.name,
                "data_kind": train.kind, "num_classes": train.num_classes,
            });
            if let Some(obj) = conf.as_object_mut() {
                for (k, v) in &self.meta {
                    obj.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            genzoo_core::io::write_atomic(
                &dir.join("config.json"),
                &serde_json::to_vec_pretty(&conf)?,
            )?;
        }
        let mut log = MetricsLog::open(self.run_dir.as_deref(), Some(step))?;

        // Data-dependent initialization happens once, on the first batch of a fresh run.
        if step == 0 && stop > 0 {
            seed::seed_torch_stream(cfg.seed, "init", 0);
            model.init_from_batch(&batches.next_batch())?;
        }
        batches.seek_step(step)?;
        let mut ema = match cfg.ema.clone() {
            None => None,
            Some(c) => Some(ema_for(c, model)?),
        };
        if let (Some(e), Some(t)) = (ema.as_mut(), resumed_ema.as_ref()) {
            e.load(t)?;
        }

        let progress = Progress::new(cfg.progress, total, step);
        let start_step = step;
        let mut train_secs = 0.0f64;
        let mut window = (Instant::now(), step);
        let mut last_saved: Option<u64> = None;
        let mut last_eval: Option<(u64, EvalReport)> = None;
        let mut stopped_early = false;
        let mut last_ckpt: Option<PathBuf> = None;

        let mut ctx = Ctx {
            model,
            cfg: &cfg,
            opts: &mut opts,
            ema: &mut ema,
            ckpt_dir: ckpt_dir.as_deref(),
            per_epoch,
        };
        while step < stop {
            let t0 = Instant::now();
            let batch = batches.next_batch();
            let factor = cfg.schedule.factor(step, total);
            for (name, opt) in ctx.opts.iter_mut() {
                opt.set_lr(base_lr[name] * factor);
            }
            seed::seed_torch_stream(cfg.seed, "step", step);
            let losses = {
                let mut handle = StepOptim {
                    opts: &mut *ctx.opts,
                    clip: cfg.clip_grad_norm,
                    step,
                };
                ctx.model.train_step(&batch, &mut handle)?
            };
            let map = losses.to_map();
            if map.len() != losses.parts().len() || map.values().any(|v| !v.is_finite()) {
                log.flush()?;
                progress.finish();
                let parts = map
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(CoreError::NonFinite { step, parts });
            }
            if let Some(e) = ctx.ema.as_mut() {
                e.update(step + 1);
            }
            step += 1;
            last_losses = map;
            train_secs += t0.elapsed().as_secs_f64();

            if step % cfg.log_every == 0 || step == stop {
                let dt = window.0.elapsed().as_secs_f64();
                let ips = (step - window.1) as f64 * bs as f64 / dt.max(1e-9);
                window = (Instant::now(), step);
                let lrs: BTreeMap<String, f64> =
                    ctx.opts.iter().map(|(k, o)| (k.clone(), o.lr())).collect();
                let (epoch, _) = position(step - 1, per_epoch);
                let mut nums: Vec<(String, f64)> =
                    last_losses.iter().map(|(k, v)| (k.clone(), *v)).collect();
                nums.extend(lrs.iter().map(|(k, v)| (format!("lr/{k}"), *v)));
                nums.push(("images_per_second".into(), ips));
                let row = serde_json::json!({"step": step, "kind": "train", "epoch": epoch, "losses": last_losses, "lr": lrs, "images_per_second": ips});
                log.append(row, &nums)?;
                progress.update(
                    step,
                    last_losses.get("total").copied().unwrap_or(f64::NAN),
                    ips,
                );
            }

            let mut stop_now = false;
            if cfg.eval_every > 0 && step % cfg.eval_every == 0 {
                let report = ctx.evaluate(&test, step, &mut log)?;
                if let Some(v) = tracked_value(&report, &cfg)? {
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            let d = cfg.early_stopping.as_ref().map_or(0.0, |e| e.min_delta);
                            match cfg.best_metric.mode {
                                MetricMode::Min => v < b.value - d,
                                MetricMode::Max => v > b.value + d,
                            }
                        }
                    };
                    if better {
                        evals_since_best = 0;
                        let name = ckpt_dir.as_ref().map(|_| ckpt::step_dir_name(step));
                        best = Some(BestRecord {
                            metric: cfg.best_metric.name.clone(),
                            value: v,
                            step,
                            checkpoint: name,
                        });
                        if ctx.ckpt_dir.is_some() {
                            last_ckpt =
                                ctx.save(step, &best, evals_since_best, &last_losses, true)?;
                            last_saved = Some(step);
                        }
                    } else {
                        evals_since_best += 1;
                        if cfg
                            .early_stopping
                            .as_ref()
                            .is_some_and(|e| evals_since_best >= e.patience)
                        {
                            stopped_early = true;
                            stop_now = true;
                        }
                    }
                }
                last_eval = Some((step, report));
                log.flush()?;
                log.write_curves()?;
            }
            if ctx.ckpt_dir.is_some()
                && cfg.checkpoint_every > 0
                && step % cfg.checkpoint_every == 0
                && last_saved != Some(step)
            {
                log.flush()?;
                last_ckpt = ctx.save(step, &best, evals_since_best, &last_losses, false)?;
                last_saved = Some(step);
            }
            if stop_now {
                break;
            }
        }
        progress.finish();

        let finished = step == total || stopped_early;
        let final_eval = if finished && cfg.final_eval {
            match last_eval {
                Some((s, r)) if s == step => Some(r),
                _ => Some(ctx.evaluate(&test, step, &mut log)?),
            }
        } else {
            None
        };
        log.flush()?;
        if ctx.ckpt_dir.is_some() && last_saved != Some(step) {
            last_ckpt = ctx.save(step, &best, evals_since_best, &last_losses, false)?;
        }
        log.write_curves()?;
        let steps_run = step - start_step;
        Ok(TrainSummary {
            steps: step,
            steps_run,
            seconds: t_start.elapsed().as_secs_f64(),
            images_per_second: if train_secs > 0.0 {
                steps_run as f64 * bs as f64 / train_secs
            } else {
                0.0
            },
            last_losses,
            final_eval,
            best,
            stopped_early,
            last_checkpoint: last_ckpt,
        })
    }
}

fn group_names(groups: &[genzoo_core::model::ParamGroup]) -> String {
    groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tracked metric of a report: `None` when the default metric (`nll`) is absent (models
/// without a likelihood and no configured metric), an error when a configured one is absent.
fn tracked_value(report: &EvalReport, cfg: &TrainConfig) -> Result<Option<f64>> {
    let name = cfg.best_metric.name.as_str();
    let v = if name == "nll" {
        report.nll
    } else {
        report.metrics.get(name).copied()
    };
    match v {
        Some(v) => Ok(Some(v)),
        None if name == "nll" => Ok(None),
        None => Err(CoreError::config(
            "train.best_metric.name",
            format!(
                "the evaluation has no metric `{name}`; it has: {}",
                report
                    .metrics
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// What evaluation and checkpointing need during a run.
struct Ctx<'a> {
    model: &'a mut dyn GenerativeModel,
    cfg: &'a TrainConfig,
    opts: &'a mut BTreeMap<String, Optimizer>,
    ema: &'a mut Option<Ema>,
    ckpt_dir: Option<&'a Path>,
    per_epoch: u64,
}

impl Ctx<'_> {
    /// Evaluates on the test split (on the EMA weights when there are some), logs the report and
    /// writes sample and reconstruction grids.
    fn evaluate(&mut self, test: &Dataset, step: u64, log: &mut MetricsLog) -> Result<EvalReport> {
        if let Some(e) = self.ema.as_mut() {
            e.swap();
        }
        let out = self.evaluate_inner(test, step, log);
        if let Some(e) = self.ema.as_mut() {
            e.swap();
        }
        out
    }

    fn evaluate_inner(
        &mut self,
        test: &Dataset,
        step: u64,
        log: &mut MetricsLog,
    ) -> Result<EvalReport> {
        let _guard = tch::no_grad_guard();
        seed::seed_torch_stream(self.cfg.seed, "eval", step);
        let report = self.model.evaluate(test, &self.cfg.eval)?;
        let mut nums: Vec<(String, f64)> = report
            .nll
            .map(|v| ("nll".to_string(), v))
            .into_iter()
            .collect();
        nums.extend(report.metrics.iter().map(|(k, v)| (k.clone(), *v)));
        let row = serde_json::json!({
            "step": step, "kind": "eval", "nll": report.nll, "unit": report.unit, "likelihood": report.kind.label(),
            "data": report.data, "metrics": report.metrics,
        });
        log.append(row, &nums)?;
        let Some(samples_dir) = self
            .ckpt_dir
            .and_then(Path::parent)
            .map(|d| d.join("samples"))
        else {
            return Ok(report);
        };
        if self.cfg.sample_count > 0 {
            let s = self.model.sample(
                self.cfg.sample_count,
                seed::derive(self.cfg.seed, "samples", 0),
            )?;
            let file = samples_dir.join(format!("samples-{}.png", ckpt::step_dir_name(step)));
            if s.dim() == 4 {
                let nrow = (self.cfg.sample_count as f64).sqrt().ceil() as i64;
                crate::image::save_grid(&file, &s, nrow)?;
            } else if s.dim() == 2 && s.size()[1] == 2 {
                #[cfg(feature = "plots")]
                crate::plots::plot_scatter(&file, &s)?;
            }
        }
        if test.kind.is_image() && !test.is_empty() {
            let k = test.len().min(16);
            let x = test.x.narrow(0, 0, k);
            if let Some(r) = self.model.reconstruct(&x) {
                let both = Tensor::cat(
                    &[
                        test.take(k).x_unit_f32(),
                        r?.to_kind(Kind::Float).to_device(x.device()),
                    ],
                    0,
                );
                let file = samples_dir.join(format!("recon-{}.png", ckpt::step_dir_name(step)));
                crate::image::save_grid(&file, &both, k)?;
            }
        }
        Ok(report)
    }

    /// Writes a checkpoint after `step` steps, points `latest` (and `best`) at it, prunes.
    fn save(
        &mut self,
        step: u64,
        best: &Option<BestRecord>,
        evals_since_best: u64,
        last_losses: &BTreeMap<String, f64>,
        is_best: bool,
    ) -> Result<Option<PathBuf>> {
        let Some(dir) = self.ckpt_dir else {
            return Ok(None);
        };
        let (epoch, batch_in_epoch) = position(step, self.per_epoch);
        let state = TrainState {
            format: ckpt::FORMAT,
            step,
            epoch,
            batch_in_epoch,
            rng: "torch reseeded from (train.seed, \"step\", step) before every step; epoch order from (train.seed, \"shuffle\", epoch)".into(),
            model: self.model.name().to_string(),
            family: self.model.family().to_string(),
            model_config: self.model.config_json(),
            train: self.cfg.clone(),
            groups: self.opts.iter().map(|(n, o)| GroupState { name: n.clone(), kind: o.config().kind, steps_taken: o.steps_taken() }).collect(),
            best: best.clone(),
            evals_since_best,
            has_ema: self.ema.is_some(),
            last_losses: last_losses.clone(),
        };
        let mut weights: Vec<(String, Tensor)> = ckpt::model_vars(self.model).into_iter().collect();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        let optim = self
            .opts
            .iter()
            .flat_map(|(n, o)| o.state_tensors(&format!("{n}/")))
            .collect();
        let tensors = CheckpointTensors {
            weights,
            optim,
            ema: self.ema.as_ref().map(Ema::tensors),
        };
        let name = ckpt::save(dir, &state, &tensors)?;
        if is_best {
            ckpt::set_pointer(dir, ckpt::BEST, &name)?;
        }
        ckpt::set_pointer(dir, ckpt::LATEST, &name)?;
        let best_name = best.as_ref().and_then(|b| b.checkpoint.clone());
        let protect: Vec<&str> = best_name
            .iter()
            .map(String::as_str)
            .chain([name.as_str()])
            .collect();
        ckpt::prune(dir, self.cfg.keep_checkpoints, &protect)?;
        Ok(Some(dir.join(name)))
    }
}
