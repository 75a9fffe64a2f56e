//! The step loop of a run and what happens inside it: one step per batch through the
//! [`Optimize`] handle (gradients of the stepped group only), logging, periodic evaluation with
//! best-checkpoint tracking and early stopping, checkpoints, and the end of the run (the last
//! checkpoint first, then the final evaluation, so a failing evaluation never costs the weights).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::{Kind, Tensor};

use crate::checkpoint::{self as ckpt, BestRecord, CheckpointTensors, GroupState, TrainState};
use crate::config::{MetricMode, TrainConfig};
use crate::ema::Ema;
use crate::metrics::MetricsLog;
use crate::optim::{clip_grads, Optimizer};
use crate::plan::Plan;
use crate::progress::{loss_summary, Progress};
use genzoo_core::data::Dataset;
use genzoo_core::model::{EvalReport, GenerativeModel, Optimize};
use genzoo_core::{seed, CoreError, Result};

/// Where a run stands (restored by a resume).
#[derive(Default)]
pub(crate) struct RunState {
    /// Steps done.
    pub step: u64,
    pub best: Option<BestRecord>,
    pub evals_since_best: u64,
    pub last_losses: BTreeMap<String, f64>,
    pub last_saved: Option<u64>,
    pub last_eval: Option<(u64, EvalReport)>,
    pub last_ckpt: Option<PathBuf>,
    pub stopped_early: bool,
}

/// Position of step `s` in the data: `(epoch, batch index)`.
fn position(step: u64, per_epoch: u64) -> (u64, u64) {
    (step / per_epoch, step % per_epoch)
}

/// Appends an evaluation report to the metrics log.
pub(crate) fn log_report(report: &EvalReport, step: u64, log: &mut MetricsLog) -> Result<()> {
    let mut nums: Vec<(String, f64)> = report
        .nll
        .map(|n| ("nll".to_string(), n.value))
        .into_iter()
        .collect();
    nums.extend(report.metrics.iter().map(|(k, v)| (k.clone(), *v)));
    let row = serde_json::json!({
        "step": step, "kind": "eval", "nll": report.nll.map(|n| n.value),
        "unit": report.nll.map(|n| n.unit), "likelihood": report.nll.map(|n| n.kind.label()),
        "data": report.data, "metrics": report.metrics,
    });
    log.append(row, &nums)
}

/// The [`Optimize`] handle of one step.
struct StepOptim<'a> {
    opts: &'a mut BTreeMap<String, Optimizer>,
    clip: Option<f64>,
    step: u64,
}

impl StepOptim<'_> {
    fn unknown(&self, group: &str) -> CoreError {
        CoreError::Unknown {
            what: "parameter group",
            name: group.to_string(),
            known: self.opts.keys().cloned().collect::<Vec<_>>().join(", "),
        }
    }
    fn group(&mut self, group: &str) -> Result<&mut Optimizer> {
        if !self.opts.contains_key(group) {
            return Err(self.unknown(group));
        }
        self.opts
            .get_mut(group)
            .ok_or_else(|| CoreError::Invalid(format!("parameter group `{group}` vanished")))
    }
}

impl Optimize for StepOptim<'_> {
    fn minimize(&mut self, group: &str, loss: &Tensor) -> Result<()> {
        let clip = self.clip;
        let opt = self.group(group)?;
        // Gradients of this group's parameters only, returned rather than accumulated into
        // `.grad`: other groups are neither computed nor touched, and no zeroing is needed.
        let params: Vec<Tensor> = opt
            .params()
            .iter()
            .map(|(_, p)| p.shallow_clone())
            .collect();
        let grads = Tensor::f_run_backward(&[loss], &params, false, false)?;
        if let Some(c) = clip {
            clip_grads(&grads, c);
        }
        opt.step_with(grads);
        Ok(())
    }
    fn apply_grads(&mut self, group: &str, grads: &[(Tensor, Tensor)]) -> Result<()> {
        let clip = self.clip;
        let opt = self.group(group)?;
        let ordered = grads_in_order(opt.params(), group, grads)?;
        if let Some(c) = clip {
            clip_grads(&ordered, c);
        }
        opt.step_with(ordered);
        Ok(())
    }
    fn step(&self) -> u64 {
        self.step
    }
    fn group_steps(&self, group: &str) -> Result<u64> {
        self.opts
            .get(group)
            .map(Optimizer::steps_taken)
            .ok_or_else(|| self.unknown(group))
    }
}

/// `grads` (`(parameter, gradient)` pairs) laid out in the order of `params`, undefined where a
/// parameter has no pair; a parameter is matched by identity (same storage, offset, size and
/// stride).
///
/// # Errors
/// [`CoreError::Invalid`] when a pair's parameter is not in `params` (or is undefined) or has
/// two pairs; [`CoreError::Shape`] (`gradient`) when a gradient is undefined or differs from its
/// parameter in shape, dtype or device.
pub(crate) fn grads_in_order(
    params: &[(String, Tensor)],
    group: &str,
    grads: &[(Tensor, Tensor)],
) -> Result<Vec<Tensor>> {
    let mut ordered: Vec<Tensor> = params.iter().map(|_| Tensor::new()).collect();
    for (p, g) in grads {
        let found = match p.defined() {
            true => params.iter().position(|(_, q)| q.is_set_to(p)),
            false => None,
        };
        let Some(i) = found else {
            let shape = if p.defined() { p.size() } else { Vec::new() };
            return Err(CoreError::Invalid(format!(
                "a gradient for a tensor of shape {shape:?} that is not a parameter of group `{group}`"
            )));
        };
        let name = &params[i].0;
        if !g.defined() || g.size() != p.size() || g.kind() != p.kind() || g.device() != p.device()
        {
            let got = match g.defined() {
                true => format!("{:?} {:?} on {:?}", g.size(), g.kind(), g.device()),
                false => "an undefined tensor".to_string(),
            };
            return Err(CoreError::shape(
                "gradient",
                format!(
                    "{got} for parameter `{name}`, which is {:?} {:?} on {:?}",
                    p.size(),
                    p.kind(),
                    p.device()
                ),
            ));
        }
        if ordered[i].defined() {
            return Err(CoreError::Invalid(format!(
                "two gradients for parameter `{name}` of group `{group}`"
            )));
        }
        ordered[i] = g.shallow_clone();
    }
    Ok(ordered)
}

/// What the step loop, evaluation and checkpointing need during a run.
pub(crate) struct Session<'a> {
    pub model: &'a mut dyn GenerativeModel,
    pub cfg: &'a TrainConfig,
    pub opts: &'a mut BTreeMap<String, Optimizer>,
    /// Each group's learning rate before the schedule's factor.
    pub base_lr: &'a BTreeMap<String, f64>,
    pub ema: &'a mut Option<Ema>,
    pub ckpt_dir: Option<&'a Path>,
    pub per_epoch: u64,
    /// The training data's fingerprint, recorded in every checkpoint.
    pub fingerprint: Option<String>,
    /// Scores samples at every evaluation (sample-quality metrics join the report).
    pub scorer: Option<&'a dyn crate::quality::Scorer>,
}

impl Session<'_> {
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
        let mut report = self.model.evaluate(test, &self.cfg.eval)?;
        if let Some(scorer) = self.scorer {
            let seed = seed::derive(self.cfg.seed, "quality", step);
            let (samples, _) =
                crate::quality::draw_samples(&*self.model, self.cfg.quality_samples, seed)?;
            report.metrics.extend(scorer.score(&samples)?.metrics);
        }
        log_report(&report, step, log)?;
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
            if let Some(r) = self.model.reconstructor() {
                let both = Tensor::cat(
                    &[
                        test.take(k).x_unit_f32(),
                        r.reconstruct(&x)?
                            .to_kind(Kind::Float)
                            .to_device(x.device()),
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
    fn save(&mut self, state: &RunState, is_best: bool) -> Result<Option<PathBuf>> {
        let Some(dir) = self.ckpt_dir else {
            return Ok(None);
        };
        let (step, best) = (state.step, &state.best);
        let (evals_since_best, last_losses) = (state.evals_since_best, &state.last_losses);
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
            data_fingerprint: self.fingerprint.clone(),
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

impl Session<'_> {
    /// Steps from `state.step` to `plan.stop` (or an early stop); returns the seconds spent in
    /// training steps (evaluation and checkpointing excluded).
    pub fn run_steps(
        &mut self,
        plan: &mut Plan,
        state: &mut RunState,
        log: &mut MetricsLog,
    ) -> Result<f64> {
        let cfg = self.cfg;
        let progress = Progress::new(cfg.progress, plan.total, state.step);
        let mut train_secs = 0.0f64;
        let mut window = (Instant::now(), state.step);
        while state.step < plan.stop {
            let t0 = Instant::now();
            let batch = plan.batches.next_batch();
            let factor = cfg.schedule.factor(state.step, plan.total);
            for (name, opt) in self.opts.iter_mut() {
                opt.set_lr(self.base_lr[name] * factor);
            }
            seed::seed_torch_stream(cfg.seed, "step", state.step);
            let losses = {
                let mut handle = StepOptim {
                    opts: &mut *self.opts,
                    clip: cfg.clip_grad_norm,
                    step: state.step,
                };
                self.model.train_step(&batch, &mut handle)?
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
                return Err(CoreError::NonFinite {
                    step: state.step,
                    parts,
                });
            }
            if let Some(e) = self.ema.as_mut() {
                e.update(state.step + 1);
            }
            state.step += 1;
            state.last_losses = map;
            train_secs += t0.elapsed().as_secs_f64();

            let step = state.step;
            if step % cfg.log_every == 0 || step == plan.stop {
                let dt = window.0.elapsed().as_secs_f64();
                let ips = (step - window.1) as f64 * plan.batch_size as f64 / dt.max(1e-9);
                window = (Instant::now(), step);
                self.log_train(step, ips, &state.last_losses, log)?;
                progress.update(step, &loss_summary(&state.last_losses), ips);
            }
            let mut stop_now = false;
            if cfg.eval_every > 0 && step % cfg.eval_every == 0 {
                stop_now = self.eval_and_track(&plan.test, state, log)?;
            }
            if self.ckpt_dir.is_some()
                && cfg.checkpoint_every > 0
                && step % cfg.checkpoint_every == 0
                && state.last_saved != Some(step)
            {
                log.flush()?;
                state.last_ckpt = self.save(state, false)?;
                state.last_saved = Some(step);
            }
            if stop_now {
                state.stopped_early = true;
                break;
            }
        }
        progress.finish();
        Ok(train_secs)
    }

    /// Logs a training row: the losses, each group's learning rate, the throughput.
    fn log_train(
        &self,
        step: u64,
        ips: f64,
        losses: &BTreeMap<String, f64>,
        log: &mut MetricsLog,
    ) -> Result<()> {
        let lrs: BTreeMap<String, f64> =
            self.opts.iter().map(|(k, o)| (k.clone(), o.lr())).collect();
        let (epoch, _) = position(step - 1, self.per_epoch);
        let mut nums: Vec<(String, f64)> = losses.iter().map(|(k, v)| (k.clone(), *v)).collect();
        nums.extend(lrs.iter().map(|(k, v)| (format!("lr/{k}"), *v)));
        nums.push(("images_per_second".into(), ips));
        let row = serde_json::json!({"step": step, "kind": "train", "epoch": epoch, "losses": losses, "lr": lrs, "images_per_second": ips});
        log.append(row, &nums)
    }

    /// Evaluates, saves a best checkpoint on improvement, counts evaluations without one;
    /// returns true when early stopping's patience has run out.
    fn eval_and_track(
        &mut self,
        test: &Dataset,
        state: &mut RunState,
        log: &mut MetricsLog,
    ) -> Result<bool> {
        let cfg = self.cfg;
        let step = state.step;
        let report = self.evaluate(test, step, log)?;
        let mut stop = false;
        if let Some(v) = tracked_value(&report, cfg)? {
            let better = match &state.best {
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
                state.evals_since_best = 0;
                state.best = Some(BestRecord {
                    metric: cfg.best_metric.name.clone(),
                    value: v,
                    step,
                    checkpoint: self.ckpt_dir.map(|_| ckpt::step_dir_name(step)),
                });
                if self.ckpt_dir.is_some() {
                    state.last_ckpt = self.save(state, true)?;
                    state.last_saved = Some(step);
                }
            } else {
                state.evals_since_best += 1;
                stop = cfg
                    .early_stopping
                    .as_ref()
                    .is_some_and(|e| state.evals_since_best >= e.patience);
            }
        }
        state.last_eval = Some((step, report));
        log.flush()?;
        log.write_curves()?;
        Ok(stop)
    }

    /// The final evaluation counts for the best checkpoint like any other: when it improves on
    /// the best so far (or is the run's first value of `best_metric`), the last checkpoint is
    /// written again with that record and `best` points at it, so that every run that evaluates
    /// has a `best` (the default metric, `nll`, is the test likelihood).
    fn track_final(&mut self, report: &EvalReport, state: &mut RunState) -> Result<()> {
        let Some(v) = tracked_value(report, self.cfg)? else {
            return Ok(());
        };
        let better = state
            .best
            .as_ref()
            .is_none_or(|b| match self.cfg.best_metric.mode {
                MetricMode::Min => v < b.value,
                MetricMode::Max => v > b.value,
            });
        if better {
            state.best = Some(BestRecord {
                metric: self.cfg.best_metric.name.clone(),
                value: v,
                step: state.step,
                checkpoint: self.ckpt_dir.map(|_| ckpt::step_dir_name(state.step)),
            });
            if self.ckpt_dir.is_some() {
                state.last_ckpt = self.save(state, true)?;
            }
        }
        Ok(())
    }

    /// The end of a run: the last checkpoint is written first, then (for a finished run with
    /// `final_eval`) the final evaluation, reusing one made at this very step.
    pub fn finish(
        &mut self,
        plan: &Plan,
        state: &mut RunState,
        log: &mut MetricsLog,
    ) -> Result<Option<EvalReport>> {
        log.flush()?;
        if self.ckpt_dir.is_some() && state.last_saved != Some(state.step) {
            state.last_ckpt = self.save(state, false)?;
            state.last_saved = Some(state.step);
        }
        let finished = state.step == plan.total || state.stopped_early;
        let final_eval = if finished && self.cfg.final_eval {
            match state.last_eval.take() {
                Some((s, r)) if s == state.step => Some(r),
                _ => {
                    let r = self.evaluate(&plan.test, state.step, log)?;
                    self.track_final(&r, state)?;
                    Some(r)
                }
            }
        } else {
            None
        };
        log.flush()?;
        log.write_curves()?;
        Ok(final_eval)
    }
}

/// The tracked metric of a report: `None` when the default metric (`nll`) is absent (models
/// without a likelihood and no configured metric), an error when a configured one is absent.
fn tracked_value(report: &EvalReport, cfg: &TrainConfig) -> Result<Option<f64>> {
    let name = cfg.best_metric.name.as_str();
    let v = if name == "nll" {
        report.nll_value()
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

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
