//! `cargo xtask train`: one model, one dataset, one run directory (new, resumed or fine-tuned).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use genzoo::core::data::Split;
use genzoo::train::{RunConfig, RunMeta, TrainConfig, Trainer};
use tch::Device;

use crate::data::{load, DataArgs};

#[derive(Args)]
pub struct TrainArgs {
    /// Registry name (see `cargo xtask models`).
    #[arg(long)]
    model: Option<String>,
    /// Score `train.quality_samples` samples at every evaluation (`fid-domain`, `kid-domain`,
    /// precision, recall, classes covered on labelled images; modes covered on the 2-D
    /// mixtures), so that one of them can be `best_metric`. On whenever `best_metric` names one.
    #[arg(long)]
    quality: bool,
    #[command(flatten)]
    data: DataArgs,
    /// Named preset of the model (default: its first, see `models`).
    #[arg(long)]
    preset: Option<String>,
    /// A TOML run config (model, preset, overrides, dataset, [train]); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Train for this many steps.
    #[arg(long, conflicts_with = "epochs")]
    steps: Option<u64>,
    /// Train for this many epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Examples per training step (default: the TOML's `[train] batch_size`, else 64).
    #[arg(long)]
    batch_size: Option<i64>,
    /// Learning rate of every optimizer: the base rate and every per-group rate
    /// (`[train.groups.NAME] lr`) of the config, fresh or on --resume alike.
    #[arg(long)]
    lr: Option<f64>,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available).
    #[arg(long)]
    device: Option<String>,
    /// Seed of the initial weights, the data order and every random draw in training
    /// (default: the TOML's `[train] seed`, else 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Torch intra-op threads.
    #[arg(long)]
    threads: Option<usize>,
    /// Evaluate on the test split every this many steps.
    #[arg(long)]
    eval_every: Option<u64>,
    /// Write a checkpoint every this many steps (default: the TOML's `[train]
    /// checkpoint_every`, else 0: only at the end and at each new best evaluation).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Importance samples per test example for latent-variable models.
    #[arg(long)]
    importance_samples: Option<usize>,
    /// Run directory (default: runs/MODEL-DATASET).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint, exactly. --steps,
    /// --epochs, --lr, --eval-every, --checkpoint-every and --threads may change on resume (each
    /// change is printed and recorded in config.json's `resume_changes`); --preset, the data,
    /// --batch-size and --seed may not.
    #[arg(long, conflicts_with_all = ["model", "config"])]
    resume: Option<PathBuf>,
    /// Fine-tuning: start a new run whose initial weights are those of RUN (a run directory,
    /// a checkpoint, `RUN/best` or `RUN/latest`); same model and shapes, fresh optimizer and
    /// step count.
    #[arg(long, value_name = "RUN")]
    init_from: Option<PathBuf>,
}

/// On `--resume`: flags that would make the run a different experiment (model, preset, data,
/// batch size, seed) are refused, naming them; the settings a resume may change are applied by
/// `Trainer::apply_changes`.
fn refuse_other_experiment(a: &TrainArgs, meta: &RunMeta) -> Result<()> {
    let mut bad = Vec::new();
    if let Some(p) = &a.preset {
        if meta.preset.as_deref() != Some(p.as_str()) {
            bad.push(format!("--preset {p} (the run's is {:?})", meta.preset));
        }
    }
    if a.data.dataset.is_some() || a.data.data.is_some() {
        let asked = a.data.name();
        if meta.dataset_name().as_deref() != Some(asked.as_str()) {
            bad.push(format!(
                "data `{asked}` (the run's is {:?})",
                meta.dataset_name()
            ));
        }
    }
    if a.batch_size.is_some() {
        bad.push("--batch-size".into());
    }
    if a.seed.is_some() {
        bad.push("--seed".into());
    }
    if a.init_from.is_some() {
        bad.push("--init-from (it starts a new run)".into());
    }
    if bad.is_empty() {
        return Ok(());
    }
    bail!(
        "--resume continues the same experiment; these would make it another one: {}. Start a new run (with --init-from RUN to begin from this run's weights) instead",
        bad.join(", ")
    )
}

/// Gives `trainer` the data's sample-quality scorer when asked (`--quality`) or when the best
/// metric is one of the scorer's.
fn attach_scorer(
    trainer: &mut Trainer,
    wanted: bool,
    best_metric: Option<&str>,
    dataset: &str,
    split: &Split,
    device: Device,
) -> Result<()> {
    let needed = best_metric.is_some_and(|m| genzoo::train::quality::METRICS.contains(&m));
    if !(wanted || needed) {
        return Ok(());
    }
    let args = crate::quality::QualityArgs::default();
    match crate::quality::scorer(&args, dataset, split, device)? {
        Some(s) => trainer.set_scorer(s),
        None => bail!("`{dataset}` has no sample-quality scorer (it needs labelled images or a 2-D Gaussian-mixture toy), so --quality and best_metric = {best_metric:?} cannot be used"),
    }
    Ok(())
}

pub fn train(a: TrainArgs) -> Result<()> {
    let device = genzoo::core::device::select_device(a.device.as_deref())?;
    match &a.resume {
        Some(dir) => resume(&a, dir, device),
        None => start(&a, device),
    }
}

/// `--resume RUN`: the same model, data and configuration, continued from the latest checkpoint.
fn resume(a: &TrainArgs, dir: &Path, device: Device) -> Result<()> {
    let run = genzoo::open_run(dir, device)?;
    refuse_other_experiment(a, &run.meta)?;
    let dataset = run.dataset()?;
    let split = run.load_data(None, a.data.data_root.as_deref())?;
    let mut model = run.model;
    let mut trainer = Trainer::resume(dir)?;
    let changes = trainer.apply_changes(&genzoo::train::ResumeChanges {
        steps: a.steps,
        epochs: a.epochs,
        lr: a.lr,
        eval_every: a.eval_every,
        checkpoint_every: a.checkpoint_every,
        threads: a.threads,
    })?;
    for c in &changes {
        println!("resume changes {c}");
    }
    attach_scorer(
        &mut trainer,
        a.quality,
        run.meta.best_metric(),
        &dataset,
        &split,
        device,
    )?;
    let s = trainer.fit(model.as_mut(), &split)?;
    report_summary(dir, &s)
}

/// The run configuration of a new run: the TOML file's (or the defaults), with the flags over it.
fn run_config(a: &TrainArgs) -> Result<RunConfig> {
    let mut rc = match &a.config {
        Some(p) => RunConfig::load(p)?,
        None => RunConfig {
            model: a
                .model
                .clone()
                .context("give --model NAME (or --config FILE); `cargo xtask models` lists them")?,
            preset: None,
            dataset: None,
            data: None,
            overrides: None,
            train: TrainConfig {
                steps: Some(1000),
                eval_every: 0,
                checkpoint_every: 250,
                ..TrainConfig::default()
            },
        },
    };
    if let Some(m) = &a.model {
        rc.model = m.clone();
    }
    if a.preset.is_some() {
        rc.preset = a.preset.clone();
    }
    let t = &mut rc.train;
    if let Some(s) = a.steps {
        (t.steps, t.epochs) = (Some(s), None);
    }
    if let Some(e) = a.epochs {
        (t.steps, t.epochs) = (None, Some(e));
    }
    if let Some(b) = a.batch_size {
        t.batch_size = b;
    }
    if let Some(lr) = a.lr {
        // one rule with `--resume`: the flag sets every rate the configuration names
        t.optimizer.lr = lr;
        for o in t.groups.values_mut().filter(|o| o.lr.is_some()) {
            o.lr = Some(lr);
        }
    }
    if let Some(s) = a.seed {
        t.seed = s;
    }
    if let Some(n) = a.threads {
        t.threads = n;
    }
    if let Some(c) = a.checkpoint_every {
        t.checkpoint_every = c;
    }
    if let Some(e) = a.eval_every {
        t.eval_every = e;
    }
    if let Some(k) = a.importance_samples {
        t.eval.importance_samples = k;
    }
    t.validate()?;
    Ok(rc)
}

/// The dataset of a new run: the flags', else the config file's (`dataset` or `data`, a folder
/// relative to the working directory), else `mnist10k`.
fn dataset_of(a: &TrainArgs, rc: &RunConfig) -> String {
    match (&a.data.dataset, &a.data.data, &rc.dataset, &rc.data) {
        (Some(_), _, _, _) | (_, Some(_), _, _) => a.data.name(),
        (None, None, Some(d), _) => d.clone(),
        (None, None, None, Some(p)) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        _ => "mnist10k".into(),
    }
}

/// A new run, from scratch or (`--init-from`) from another run's weights.
fn start(a: &TrainArgs, device: Device) -> Result<()> {
    let mut rc = run_config(a)?;
    let dataset = dataset_of(a, &rc);
    let split = load(&dataset, a.data.data_root.as_deref())?;
    let mut model = genzoo::build(
        &rc.model,
        rc.preset.as_deref(),
        rc.overrides.as_ref(),
        &split.train,
        device,
        rc.train.seed,
    )?;
    // Without a config file, the optimizer is the model's own recipe (GANs: beta1 = 0.5).
    if let (None, Some(b)) = (&a.config, model.adam_betas()) {
        rc.train.optimizer.betas = b;
        println!(
            "Adam betas ({}, {}), as the model's papers train it",
            b[0], b[1]
        );
    }
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!(
            "{}-{}",
            rc.model,
            genzoo::train::metrics::sanitize(&dataset)
        ))
    });
    let mut trainer = Trainer::new(rc.train.clone(), Some(&out))?;
    trainer.set_dataset(&dataset);
    trainer.set_preset(rc.preset.as_deref());
    if let Some(src) = &a.init_from {
        let from = genzoo::train::checkpoint::resolve(src)?;
        genzoo::train::checkpoint::load_weights(model.as_mut(), &from, false)?;
        trainer.set_pretrained();
        trainer.set_init_from(&from);
        println!("initial weights from {}", from.display());
    }
    attach_scorer(
        &mut trainer,
        a.quality,
        Some(&rc.train.best_metric.name),
        &dataset,
        &split,
        device,
    )?;
    println!(
        "training {} on {dataset} ({} train / {} test) on {} -> {}",
        rc.model,
        split.train.len(),
        split.test.len(),
        genzoo::core::device::device_name(device),
        out.display()
    );
    let s = trainer.fit(model.as_mut(), &split)?;
    report_summary(&out, &s)
}

fn report_summary(out: &Path, s: &genzoo::train::TrainSummary) -> Result<()> {
    println!(
        "{} steps in {:.1} s ({:.0} images/s); last losses {:?}",
        s.steps, s.seconds, s.images_per_second, s.last_losses
    );
    println!("run directory: {}", out.display());
    if let Some(r) = &s.final_eval {
        crate::eval::print_report(r);
        // the weights are saved; a result that is not a number still fails the command
        let model = genzoo::train::read_meta(out)
            .map(|m| m.model)
            .unwrap_or_default();
        r.check_valid(&model)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: TrainArgs,
    }

    fn parse(args: &[&str]) -> TrainArgs {
        Cli::try_parse_from([&["x"], args].concat()).unwrap().a
    }

    /// `--resume` refuses the flags that make another experiment, naming them, and accepts the
    /// ones a resume may change.
    #[test]
    fn resume_refuses_another_experiment_by_name() {
        let meta: RunMeta = serde_json::from_value(serde_json::json!({
            "model": "vae-mlp", "family": "vae", "model_config": {}, "preset": "tiny",
            "data_kind": {"kind": "vector", "dim": 2}, "dataset": "mnist10k"}))
        .unwrap();
        let resume = |args: &[&str]| parse(&[&["--resume", "R"], args].concat());
        let e = refuse_other_experiment(&resume(&["--seed", "3", "--preset", "mnist"]), &meta)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--seed") && e.contains("--preset mnist"), "{e}");
        let e = refuse_other_experiment(&resume(&["--dataset", "fashion-mnist"]), &meta)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fashion-mnist"), "{e}");
        let ok = resume(&[
            "--steps",
            "400",
            "--lr",
            "0.01",
            "--preset",
            "tiny",
            "--dataset",
            "mnist10k",
        ]);
        refuse_other_experiment(&ok, &meta).unwrap();
    }

    /// `--lr` sets every rate a config file names (a GAN's `[train.groups.disc] lr` too), as it
    /// does on `--resume`.
    #[test]
    fn lr_reaches_every_group_of_a_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gan.toml");
        std::fs::write(
            &file,
            "[model]\nname = \"gan-mlp\"\n[train]\nsteps = 3\n[train.groups.disc]\nlr = 0.5\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let rc = run_config(&parse(&["--config", f, "--lr", "0.01"])).unwrap();
        assert_eq!(rc.train.optimizer.lr, 0.01);
        assert_eq!(rc.train.groups["disc"].lr, Some(0.01));
        let rc = run_config(&parse(&["--config", f])).unwrap();
        assert_eq!(rc.train.groups["disc"].lr, Some(0.5));
    }

    /// A config file's relative `data = "DIR"` is stored absolute, so that the run evaluates and
    /// resumes from any working directory.
    #[test]
    fn a_relative_data_folder_in_a_config_is_stored_absolute() {
        let rc = RunConfig {
            data: Some(PathBuf::from("src")),
            ..RunConfig::from_toml_str("[model]\nname = \"vae-mlp\"\n[train]\nsteps = 1\n").unwrap()
        };
        let a = parse(&["--model", "vae-mlp"]);
        let d = dataset_of(&a, &rc);
        assert!(Path::new(&d).is_absolute(), "{d}");
        assert!(Path::new(&d).join("main.rs").is_file(), "{d}");
    }
}
