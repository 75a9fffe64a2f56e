//! `cargo xtask train | sample | eval`: one model, one dataset, one run directory.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use genzoo_core::data::Split;
use genzoo_core::model::{EvalOptions, GenerativeModel};
use genzoo_train::{RunConfig, TrainConfig, Trainer};
use serde_json::{json, Value};
use tch::Device;

use crate::data::{load, DataArgs};
use crate::registry::all_specs;

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
    /// Learning rate of every optimizer.
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

/// Builds a registered model for the data in `split`, its initial weights seeded by `seed`.
pub fn build_model(
    name: &str,
    preset: Option<&str>,
    overrides: Option<&Value>,
    split: &Split,
    device: Device,
    seed: u64,
) -> Result<Box<dyn GenerativeModel>> {
    // Initial weights come from torch's generator: seed it so that a run is reproducible.
    genzoo_core::seed::seed_torch_stream(seed, "init", 0);
    Ok(genzoo_core::model::build_model(
        &all_specs(),
        name,
        preset,
        overrides,
        split.train.kind,
        split.train.num_classes,
        device,
    )?)
}

/// On `--resume`: flags that would make the run a different experiment (model, preset, data,
/// batch size, seed) are refused, naming them; the settings a resume may change are applied by
/// `Trainer::apply_changes`.
fn refuse_other_experiment(a: &TrainArgs, meta: &Value) -> Result<()> {
    let mut bad = Vec::new();
    if let Some(p) = &a.preset {
        if meta["preset"].as_str() != Some(p.as_str()) {
            bad.push(format!("--preset {p} (the run's is {})", meta["preset"]));
        }
    }
    if a.data.dataset.is_some() || a.data.data.is_some() {
        let asked = a.data.name();
        if run_dataset(meta).ok().as_deref() != Some(asked.as_str()) {
            bad.push(format!("data `{asked}` (the run's is {})", meta["dataset"]));
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
    let needed = best_metric.is_some_and(|m| genzoo_train::quality::METRICS.contains(&m));
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
    let device = genzoo_core::device::select_device(a.device.as_deref())?;
    if let Some(dir) = &a.resume {
        let meta = run_meta(dir)?;
        let split = load(&run_dataset(&meta)?, a.data.data_root.as_deref())?;
        let mut model = build_model(
            meta_str(&meta, "model")?,
            meta["preset"].as_str(),
            Some(&meta["model_config"]),
            &split,
            device,
            0, // the weights are loaded from the checkpoint
        )?;
        refuse_other_experiment(&a, &meta)?;
        let mut trainer = Trainer::resume(dir)?;
        let changes = trainer.apply_changes(&genzoo_train::ResumeChanges {
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
        let best = meta
            .pointer("/train/best_metric/name")
            .and_then(Value::as_str)
            .map(String::from);
        attach_scorer(
            &mut trainer,
            a.quality,
            best.as_deref(),
            &run_dataset(&meta)?,
            &split,
            device,
        )?;
        let s = trainer.fit(model.as_mut(), &split)?;
        return report_summary(dir, &s);
    }
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
        t.optimizer.lr = lr;
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
    let dataset = match (&a.data.dataset, &a.data.data, &rc.dataset, &rc.data) {
        (Some(_), _, _, _) | (_, Some(_), _, _) => a.data.name(),
        (None, None, Some(d), _) => d.clone(),
        (None, None, None, Some(p)) => p.display().to_string(),
        _ => "mnist10k".into(),
    };
    let split = load(&dataset, a.data.data_root.as_deref())?;
    let mut model = build_model(
        &rc.model,
        rc.preset.as_deref(),
        rc.overrides.as_ref(),
        &split,
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
            genzoo_train::metrics::sanitize(&dataset)
        ))
    });
    let mut trainer = Trainer::new(rc.train.clone(), Some(&out))?;
    trainer.set_meta("dataset", json!(dataset));
    trainer.set_meta("preset", json!(rc.preset));
    if let Some(src) = &a.init_from {
        let from = genzoo_train::checkpoint::resolve(src)?;
        genzoo_train::checkpoint::load_weights(model.as_mut(), &from, false)?;
        trainer.set_pretrained();
        let from = std::fs::canonicalize(&from).unwrap_or(from);
        println!("initial weights from {}", from.display());
        trainer.set_meta("init_from", json!(from));
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
        genzoo_core::device::device_name(device),
        out.display()
    );
    let s = trainer.fit(model.as_mut(), &split)?;
    report_summary(&out, &s)
}

fn report_summary(out: &Path, s: &genzoo_train::TrainSummary) -> Result<()> {
    println!(
        "{} steps in {:.1} s ({:.0} images/s); last losses {:?}",
        s.steps, s.seconds, s.images_per_second, s.last_losses
    );
    println!("run directory: {}", out.display());
    if let Some(r) = &s.final_eval {
        print_report(r);
        // the weights are saved; a result that is not a number still fails the command
        let model = genzoo_train::read_meta(out)
            .map(|m| m.model)
            .unwrap_or_default();
        r.check_valid(&model)?;
    }
    Ok(())
}

fn print_report(r: &genzoo_core::model::EvalReport) {
    match r.nll {
        Some(nll) => println!("test NLL {nll} on {}", r.data),
        None => println!("no likelihood on {}", r.data),
    }
    for (k, v) in &r.metrics {
        println!("  {k}: {v:.6}");
    }
}

/// The `config.json` of the run that holds `path` (a run directory or one of its checkpoints).
fn run_meta(path: &Path) -> Result<Value> {
    let file = genzoo_train::run::config_path(path)?;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", file.display()))
}

/// Writes `file` as CSV `index,label,nll,unit`: each example's NLL from the model's per-example
/// capability (its mean is the report's NLL).
fn write_per_example(
    model: &dyn GenerativeModel,
    test: &genzoo_core::data::Dataset,
    opts: &EvalOptions,
    file: &Path,
) -> Result<()> {
    let cap = model.per_example_nll().with_context(|| {
        format!(
            "{} has no per-example likelihood (no --per-example)",
            model.name()
        )
    })?;
    let e = cap.nll_per_example(test, opts)?;
    let nll: Vec<f64> = Vec::try_from(&e.nll)?;
    let labels: Option<Vec<i64>> = match &test.y {
        Some(y) => Some(Vec::try_from(&y.to_device(Device::Cpu))?),
        None => None,
    };
    let mut csv = String::from("index,label,nll,unit\n");
    for (i, v) in nll.iter().enumerate() {
        let label = labels
            .as_ref()
            .and_then(|l| l.get(i))
            .map_or(String::new(), |l| l.to_string());
        csv.push_str(&format!("{i},{label},{v},{}\n", e.unit.label()));
    }
    genzoo_core::io::write_atomic(file, csv.as_bytes())?;
    println!(
        "{} per-example NLLs ({}, {}) on {} -> {}",
        nll.len(),
        e.unit.label(),
        e.kind.label(),
        e.data,
        file.display()
    );
    Ok(())
}

/// The dataset a run trained on: as the CLI recorded it, else the name of the training split the
/// trainer recorded (`mnist10k/train` -> `mnist10k`) for runs written through the library.
fn run_dataset(meta: &Value) -> Result<String> {
    if let Ok(d) = meta_str(meta, "dataset") {
        return Ok(d.to_string());
    }
    meta["train_data"]
        .as_str()
        .and_then(|t| t.strip_suffix("/train"))
        .map(str::to_string)
        .context("the run records no loadable dataset: pass --dataset NAME")
}

fn meta_str<'a>(meta: &'a Value, key: &str) -> Result<&'a str> {
    meta[key]
        .as_str()
        .with_context(|| format!("config.json has no string `{key}`"))
}

/// `eval --samples PATH`: scores images from files against a dataset's test split; writes
/// `PATH.quality.json` (or `--out`) and the closest sample/training pairs beside it
/// (`*.memorization.png`).
fn eval_samples(a: &EvalArgs, path: &Path, device: Device) -> Result<()> {
    let dataset = a.dataset.clone().unwrap_or_else(|| "mnist10k".into());
    let split = load(&dataset, a.data_root.as_deref())?;
    let x = genzoo_data::images::load_images(path)?;
    println!(
        "scoring {} images {:?} from {} against {dataset}",
        x.size()[0],
        &x.size()[1..],
        path.display()
    );
    let scorer = crate::quality::image_scorer(
        &a.quality.classifier_cache,
        &a.quality.classifier_preset,
        &dataset,
        &split,
        device,
    )?;
    let samples = genzoo_core::data::transforms::scale_unit(&x);
    let t = Instant::now();
    let scored = genzoo_train::quality::Scorer::score(&scorer, &samples)?;
    for (k, v) in &scored.metrics {
        println!("  {k:<20} {v:.4}");
    }
    println!(
        "scored in {:.1} s; {}",
        t.elapsed().as_secs_f64(),
        genzoo_train::quality::Scorer::describe(&scorer)
    );
    let stem = path.to_string_lossy().trim_end_matches('/').to_string();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{stem}.quality.json")));
    genzoo_train::quality::scorer::save_pairs(
        &out.with_extension("memorization.png"),
        &scored,
        &samples,
        &split.train,
    )?;
    let rec = json!({"samples": path, "dataset": dataset, "metrics": scored.metrics, "binary": scored.binary,
        "closest_pairs": scored.closest, "quality": genzoo_train::quality::Scorer::describe(&scorer)});
    genzoo_core::io::write_atomic(&out, &serde_json::to_vec_pretty(&rec)?)?;
    println!("-> {}", out.display());
    Ok(())
}

/// Rebuilds the model of a checkpoint (through `genzoo_train::run`) and loads the data it is to
/// be evaluated on: `dataset`, else the run's own.
fn load_checkpoint(
    path: &Path,
    data_root: Option<&Path>,
    dataset: Option<&str>,
    device: Device,
    ema: bool,
) -> Result<(Box<dyn GenerativeModel>, Split, Value)> {
    let meta = run_meta(path)?;
    let (model, run) = genzoo_train::run::load_model(path, &all_specs(), device, ema)?;
    let dataset = match dataset {
        Some(d) => d.to_string(),
        None => run_dataset(&meta)?,
    };
    let split = load(&dataset, data_root).with_context(|| {
        format!(
            "the run's data `{dataset}` cannot be loaded (moved or deleted?): `sample` needs no \
             data; to evaluate, pass --dataset NAME or --dataset DIR with test data of the same kind"
        )
    })?;
    if run.data_kind != split.train.kind {
        bail!(
            "the checkpoint was trained on {:?} data but `{dataset}` holds {:?}",
            run.data_kind,
            split.train.kind
        );
    }
    Ok((model, split, meta))
}

#[derive(Args)]
pub struct SampleArgs {
    /// A run directory or a checkpoint directory in it (`latest` and `best` are resolved).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of samples.
    #[arg(short, default_value_t = 64)]
    n: i64,
    /// Seed of the noise the samples are drawn from
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// PNG grid to write (default: RUN/samples/sample-SEED.png).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images per row.
    #[arg(long, default_value_t = 8)]
    nrow: i64,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    /// Use the EMA weights when the checkpoint has them.
    #[arg(long)]
    ema: bool,
    /// Sampling temperature (flows: the prior's standard deviation, Glow's presets use 0.7;
    /// autoregressive models: logits divided by T). Default: the model's own. Recorded in
    /// `OUT.json` beside the samples.
    #[arg(long)]
    temperature: Option<f64>,
    /// Draw every sample of class K (class-conditional models: cvae, cond-realnvp, cgan, gated-pixelcnn with classes).
    #[arg(long, value_name = "K")]
    class: Option<i64>,
    /// Draw a traversal grid of latent factor F instead (InfoGAN: continuous code F sweeping
    /// [-2, 2] along each row of --nrow columns, one row per value of the categorical code).
    #[arg(long, value_name = "F")]
    traverse: Option<usize>,
    /// Complete the first N test images of the run's dataset from their upper half (models with
    /// partial sampling: the VAEs and the autoregressive models); the grid shows the half-known inputs above the completions.
    #[arg(long)]
    complete: bool,
    /// Dataset folder for --complete (default: the shipped datasets).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

/// What `sample` draws: plain samples, samples of one class, or completions of test images.
fn draw(a: &SampleArgs, model: &dyn GenerativeModel) -> Result<tch::Tensor> {
    if let Some(k) = a.class {
        let cs = model.class_sampler().with_context(|| {
            format!("`{}` is not class-conditional: drop --class", model.name())
        })?;
        let labels = tch::Tensor::full([a.n], k, (tch::Kind::Int64, model.var_store().device()));
        return Ok(cs.sample_classes(&labels, a.seed)?);
    }
    if let Some(f) = a.traverse {
        let t = model.traverser().with_context(|| {
            format!(
                "`{}` has no latent factors to traverse: drop --traverse",
                model.name()
            )
        })?;
        return Ok(t.traverse(f, a.nrow, a.seed)?);
    }
    if a.complete {
        let p = model.partial_sampler().with_context(|| {
            format!(
                "`{}` cannot complete partial inputs: drop --complete",
                model.name()
            )
        })?;
        let split = load(
            &run_dataset(&run_meta(&a.checkpoint)?)?,
            a.data_root.as_deref(),
        )?;
        let x = split.test.x.narrow(0, 0, a.n.min(split.test.len()));
        anyhow::ensure!(x.dim() == 4, "--complete needs image data");
        let x = x.to_device(model.var_store().device());
        let known = x.ones_like().to_kind(tch::Kind::Bool);
        let h = x.size()[2];
        let _ = known.narrow(2, h / 2, h - h / 2).fill_(0);
        let done = p.complete(&x, &known, a.seed)?;
        let shown = split
            .test
            .take(x.size()[0])
            .x_unit_f32()
            .to_device(x.device())
            * known.to_kind(tch::Kind::Float);
        return Ok(tch::Tensor::f_cat(&[shown, done], 0)?);
    }
    Ok(model.sample(a.n, a.seed)?)
}

pub fn sample(a: SampleArgs) -> Result<()> {
    let device = genzoo_core::device::select_device(a.device.as_deref())?;
    // Sampling needs no data: the run directory holds what rebuilds the model.
    let (mut model, meta) =
        genzoo_train::run::load_model(&a.checkpoint, &all_specs(), device, a.ema)?;
    if let Some(t) = a.temperature {
        model.set_temperature(t)?;
    }
    if a.n > 10_000 && meta.data_kind.is_image() {
        println!(
            "note: {} images make a PNG grid of about {} MB",
            a.n,
            a.n * meta.data_kind.dims() / 1_000_000
        );
    }
    let t = Instant::now();
    let x = draw(&a, model.as_ref())?;
    let secs = t.elapsed().as_secs_f64();
    let tag = a.temperature.map(|t| format!("-t{t}")).unwrap_or_default();
    let out = a.out.clone().unwrap_or_else(|| {
        a.checkpoint
            .join("samples")
            .join(format!("sample-{}{tag}.png", a.seed))
    });
    let record = json!({"checkpoint": a.checkpoint, "model": model.name(), "n": a.n, "seed": a.seed,
        "temperature": a.temperature, "class": a.class, "traverse": a.traverse, "complete": a.complete, "seconds": secs});
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    genzoo_core::io::write_atomic(
        &out.with_extension("sample.json"),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    if meta.data_kind.is_image() {
        genzoo_train::image::save_grid(&out, &x, a.nrow)?;
        println!("{} images in {secs:.3} s -> {}", x.size()[0], out.display());
    } else if let genzoo_core::data::DataKind::Sequence { .. } = meta.data_kind {
        // Audio: one 16 kHz WAV file per sample (waveforms in [-1, 1]).
        let rate = genzoo_data::audio::DEFAULT_RATE;
        let waves = Vec::<Vec<f32>>::try_from(
            x.to_device(Device::Cpu)
                .to_kind(tch::Kind::Float)
                .flatten(1, -1),
        )?;
        for (i, w) in waves.iter().enumerate() {
            let path = out.with_file_name(format!("sample-{}-{i}.wav", a.seed));
            genzoo_data::audio::write_wav(&path, w, rate)?;
        }
        println!(
            "{} audio samples ({} at {rate} Hz each) in {secs:.3} s -> {}",
            waves.len(),
            waves.first().map_or(0, Vec::len),
            out.with_file_name(format!("sample-{}-*.wav", a.seed))
                .display()
        );
    } else {
        let out = out.with_extension("json");
        let flat = x
            .to_device(Device::Cpu)
            .to_kind(tch::Kind::Float)
            .flatten(1, -1);
        let rows: Vec<Vec<f32>> = Vec::<Vec<f32>>::try_from(flat)?;
        genzoo_core::io::write_atomic(&out, &serde_json::to_vec(&rows)?)?;
        println!("{} samples in {secs:.3} s -> {}", a.n, out.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory or a checkpoint directory in it.
    #[arg(long, required_unless_present = "samples")]
    checkpoint: Option<PathBuf>,
    /// Score images made anywhere instead of a checkpoint: a folder of PNG files or an IDX
    /// image file, against --dataset (default mnist10k) with its domain classifier
    /// (`fid-domain`, `kid-domain`, precision, recall, classes covered, memorization).
    #[arg(long, conflicts_with = "checkpoint")]
    samples: Option<PathBuf>,
    /// With --checkpoint: also draw this many samples and score them with the data's
    /// sample-quality scorer (`fid-domain`, `kid-domain`, precision, recall, classes covered;
    /// modes on the 2-D mixtures). 0: none.
    #[arg(long, default_value_t = 0)]
    quality_samples: i64,
    #[command(flatten)]
    quality: crate::quality::QualityArgs,
    /// Evaluate on another dataset of the same kind (default: the run's).
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Importance samples per example for latent-variable models.
    #[arg(long, default_value_t = 5000)]
    importance_samples: usize,
    /// Evaluate on at most this many test examples.
    #[arg(long)]
    max_examples: Option<i64>,
    /// Seed of every random choice of the evaluation (binarization, importance samples, sample draws)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// JSON file to write (default: RUN/eval.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write each test example's NLL to this CSV (index,label,nll,unit), for models with a
    /// per-example likelihood.
    #[arg(long)]
    per_example: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available)
    #[arg(long)]
    device: Option<String>,
    /// Use the EMA weights when the checkpoint has them.
    #[arg(long)]
    ema: bool,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let device = genzoo_core::device::select_device(a.device.as_deref())?;
    if let Some(dir) = &a.samples {
        return eval_samples(&a, dir, device);
    }
    let checkpoint = a
        .checkpoint
        .clone()
        .context("--checkpoint or --samples is needed")?;
    let (model, split, meta) = load_checkpoint(
        &checkpoint,
        a.data_root.as_deref(),
        a.dataset.as_deref(),
        device,
        a.ema,
    )?;
    let opts = EvalOptions {
        importance_samples: a.importance_samples,
        seed: a.seed,
        max_examples: a.max_examples,
        ..EvalOptions::default()
    };
    opts.validate()?; // `--importance-samples 0` is refused, as `train` refuses it
    if a.per_example.is_some() && model.per_example_nll().is_none() {
        bail!(
            "{} has no per-example likelihood: --per-example needs a model with one",
            model.name()
        );
    }
    // Importance samples come from torch's generator: seed it from --seed before each pass, so
    // that the per-example NLLs average to the report exactly.
    genzoo_core::seed::seed_torch_stream(opts.seed, "eval", 0);
    let t = Instant::now();
    let mut r = model.evaluate(&split.test, &opts)?;
    if a.quality_samples > 0 {
        let dataset = match &a.dataset {
            Some(d) => d.clone(),
            None => run_dataset(&meta)?,
        };
        let Some(scorer) = crate::quality::scorer(&a.quality, &dataset, &split, device)? else {
            bail!("`{dataset}` has no sample-quality scorer (labelled images or a 2-D Gaussian-mixture toy)");
        };
        let (samples, _) =
            genzoo_train::quality::draw_samples(model.as_ref(), a.quality_samples, opts.seed)?;
        r.metrics.extend(scorer.score(&samples)?.metrics);
        r.metrics.extend(scorer.score_classes(
            model.as_ref(),
            genzoo_train::compare::CLASS_SAMPLES,
            opts.seed,
        )?);
        r.metrics.extend(scorer.score_reconstructions(
            model.as_ref(),
            &split.test,
            genzoo_train::compare::RECON_EXAMPLES,
        )?);
    }
    let secs = t.elapsed().as_secs_f64();
    print_report(&r);
    if let Some(file) = &a.per_example {
        genzoo_core::seed::seed_torch_stream(opts.seed, "eval", 0);
        write_per_example(model.as_ref(), &split.test, &opts, file)?;
    }
    println!("evaluated in {secs:.1} s");
    let out = a.out.unwrap_or_else(|| checkpoint.join("eval.json"));
    let rec = json!({"model": model.name(), "family": model.family(), "report": r, "eval_seconds": secs, "options": opts});
    genzoo_core::io::write_atomic(&out, &serde_json::to_vec_pretty(&rec)?)?;
    println!("-> {}", out.display());
    r.check_valid(model.name())?;
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

    #[derive(Parser)]
    struct SampleCli {
        #[command(flatten)]
        a: SampleArgs,
    }

    /// `sample --traverse F` draws InfoGAN's traversal grid (one row per category, `--nrow`
    /// columns) and names the flag for a model without latent factors.
    #[test]
    fn sample_draws_traversals_and_names_the_flag_for_other_models() {
        let split = genzoo_data::toy::Toy::EightGaussians.split(8, 8, 0);
        let images = genzoo_core::data::Split {
            train: genzoo_core::data::Dataset {
                name: "random".into(),
                kind: genzoo_core::data::DataKind::Image {
                    channels: 1,
                    height: 28,
                    width: 28,
                },
                x: tch::Tensor::randint(256, [8, 1, 28, 28], (tch::Kind::Uint8, Device::Cpu)),
                y: None,
                num_classes: None,
            },
            test: split.test.take(0),
        };
        let args =
            SampleCli::try_parse_from(["x", "--checkpoint", "R", "--traverse", "0", "--nrow", "4"])
                .unwrap()
                .a;
        let info = build_model("infogan", Some("tiny"), None, &images, Device::Cpu, 0).unwrap();
        let grid = draw(&args, info.as_ref()).unwrap();
        assert_eq!(grid.size(), [3 * 4, 1, 28, 28]);
        let other = build_model("gan-mlp", Some("toy"), None, &split, Device::Cpu, 0).unwrap();
        let e = format!("{:#}", draw(&args, other.as_ref()).unwrap_err());
        assert!(e.contains("--traverse") && e.contains("gan-mlp"), "{e}");
    }

    /// Issue 13, case 2: `--resume` refuses the flags that make another experiment, naming
    /// them, and accepts the ones a resume may change.
    #[test]
    fn resume_refuses_another_experiment_by_name() {
        let meta = json!({"preset": "tiny", "dataset": "mnist10k"});
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["x", "--resume", "R"], args].concat())
                .unwrap()
                .a
        };
        let e = refuse_other_experiment(&parse(&["--seed", "3", "--preset", "mnist"]), &meta)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--seed") && e.contains("--preset mnist"), "{e}");
        let e = refuse_other_experiment(&parse(&["--dataset", "fashion-mnist"]), &meta)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fashion-mnist"), "{e}");
        let ok = parse(&[
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
    /// Issue 13, case 4: a run whose training data have gone still samples (the run directory
    /// holds what rebuilds the model) and evaluates on test data named elsewhere; without it,
    /// the error names the missing data and the way out.
    #[test]
    fn a_run_whose_data_moved_samples_and_evaluates_elsewhere() {
        use genzoo_core::data::{DataKind, Dataset, Split};
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let moved = dir.path().join("d_small");
        let ds = |n: i64| Dataset {
            name: "d_small".into(),
            kind: DataKind::Image {
                channels: 1,
                height: 28,
                width: 28,
            },
            x: tch::Tensor::randint(256, [n, 1, 28, 28], (tch::Kind::Uint8, Device::Cpu)),
            y: None,
            num_classes: None,
        };
        let split = Split {
            train: ds(32),
            test: ds(8),
        };
        let mut model = build_model("vae-mlp", Some("tiny"), None, &split, Device::Cpu, 0).unwrap();
        let cfg = genzoo_train::TrainConfig {
            progress: false,
            sample_count: 0,
            final_eval: false,
            ..genzoo_train::TrainConfig::quick(2, 8, 1e-3)
        };
        let mut t = Trainer::new(cfg, Some(&run)).unwrap();
        t.set_meta("dataset", json!(moved.display().to_string()));
        t.fit(model.as_mut(), &split).unwrap();
        // sampling needs no data
        let (m, _) = genzoo_train::run::load_model(&run, &all_specs(), Device::Cpu, false).unwrap();
        assert_eq!(m.sample(2, 0).unwrap().size(), [2, 1, 28, 28]);
        // evaluation names the missing data and `--dataset`
        let e = format!(
            "{:#}",
            load_checkpoint(&run, None, None, Device::Cpu, false)
                .err()
                .unwrap()
        );
        assert!(e.contains("d_small") && e.contains("--dataset"), "{e}");
        // ... and runs on test data of the same kind named elsewhere
        let (_, other, _) =
            load_checkpoint(&run, None, Some("mnist10k"), Device::Cpu, false).unwrap();
        assert_eq!(other.test.kind, split.test.kind);
    }

    /// Every shipped `configs/*.toml` parses, names a shipped dataset (or CIFAR-10, built against
    /// `mnist10k-colour`), and builds its model with its overrides for that data (a key a model does not have, or a size its data refuses,
    /// fails here rather than in a user's run).
    #[test]
    fn every_shipped_config_builds_its_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let rc = RunConfig::load(&path).unwrap();
            let mut name = rc.dataset.clone().unwrap_or_else(|| "mnist10k".into());
            if name == "cifar10" {
                // Downloaded, not shipped: its configs build against the shipped set of the same
                // shape (8-bit [3, 32, 32] images, 10 classes).
                name = "mnist10k-colour".into();
            }
            let split = genzoo_data::load(&name, Path::new("data")).unwrap();
            let built = build_model(
                &rc.model,
                rc.preset.as_deref(),
                rc.overrides.as_ref(),
                &split,
                Device::Cpu,
                0,
            );
            assert!(built.is_ok(), "{}: {:?}", path.display(), built.err());
            seen += 1;
        }
        assert!(seen >= 7, "{seen} configs");
    }
}
