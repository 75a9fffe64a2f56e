//! The engine-overhead benchmark: the same MLP trained by a bare tch
//! loop (tch's own Adam, `backward_step`, no reseeding, no loss read-back, no metrics) and by the
//! [`Trainer`], alternated over several rounds on the same batches, same batch size and thread
//! count. The engine must stay within 5% of the bare loop (`ratio >= 0.95`).
//!
//! The model is a 784-H-H-784 ReLU autoencoder with a Bernoulli (sigmoid cross-entropy) decoder on
//! pixels scaled to \[0,1\]; the data are MNIST-shaped `u8 [n, 1, 28, 28]` images.
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use genzoo_core::data::{Batch, BatchIter, DataKind, Dataset, Split};
use genzoo_core::model::{EvalOptions, EvalReport, GenerativeModel, Losses, Optimize};
use genzoo_core::{seed, CoreError, Result};
use genzoo_train::TrainConfig;
use genzoo_train::Trainer;

/// Benchmark settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Timed rounds per side (after one untimed warm-up round each).
    pub rounds: usize,
    pub steps_per_round: u64,
    pub batch_size: i64,
    pub threads: usize,
    pub hidden: i64,
    /// Training examples (random MNIST-shaped images).
    pub examples: i64,
    pub lr: f64,
    pub device: String,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            rounds: 10,
            steps_per_round: 60,
            batch_size: 128,
            threads: 2,
            hidden: 256,
            examples: 6400,
            lr: 1e-3,
            device: "cpu".into(),
        }
    }
}

/// Throughput of both sides over the timed rounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    /// Total images / total wall seconds.
    pub bare_images_per_sec: f64,
    pub engine_images_per_sec: f64,
    /// engine / bare, the median over the adjacent (bare, engine) round pairs: robust to other
    /// processes loading the machine in bursts. 1 means no overhead, 0.95 is the bound.
    pub ratio: f64,
    /// engine / bare from the totals.
    pub total_ratio: f64,
    /// bare / engine process CPU seconds (user + system, all threads; Linux `/proc/self/stat`),
    /// less sensitive to other processes than wall time. `None` elsewhere.
    pub cpu_ratio: Option<f64>,
    /// Per-round images/s.
    pub bare_rounds: Vec<f64>,
    pub engine_rounds: Vec<f64>,
    pub config: BenchConfig,
}

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat` (fields 14
/// and 15, in clock ticks of 1/100 s, the value of `_SC_CLK_TCK` on Linux).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..]; // fields from 3 (state) on
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((u + s) / 100.0)
}

/// Images/s (wall) and CPU seconds of one round.
struct Round {
    rate: f64,
    cpu: Option<f64>,
}

fn timed(images: f64, f: impl FnOnce() -> Result<()>) -> Result<Round> {
    let (t0, c0) = (Instant::now(), process_cpu_seconds());
    f()?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = match (c0, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(Round {
        rate: images / wall,
        cpu,
    })
}

/// The benchmark's model (an autoencoder: it reports reconstruction, no likelihood).
pub struct BenchMlp {
    vs: nn::VarStore,
    net: nn::Sequential,
    hidden: i64,
}

impl BenchMlp {
    /// A freshly initialized model; torch is seeded with `seed` first so both sides start equal.
    pub fn new(hidden: i64, device: Device, seed_value: u64) -> BenchMlp {
        seed::seed_torch_stream(seed_value, "bench-init", 0);
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let net = nn::seq()
            .add(nn::linear(&p / "fc1", 784, hidden, Default::default()))
            .add_fn(|x| x.relu())
            .add(nn::linear(&p / "fc2", hidden, hidden, Default::default()))
            .add_fn(|x| x.relu())
            .add(nn::linear(&p / "out", hidden, 784, Default::default()));
        BenchMlp { vs, net, hidden }
    }

    fn loss(&self, x: &Tensor) -> Tensor {
        let x = x.to_kind(Kind::Float).reshape([-1, 784]) / 255.0; // [b, 784]
        self.net
            .forward(&x)
            .binary_cross_entropy_with_logits::<Tensor>(&x, None, None, Reduction::Mean)
    }
}

impl GenerativeModel for BenchMlp {
    fn name(&self) -> &str {
        "bench-mlp"
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
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        let loss = self.loss(&batch.x);
        opt.minimize(MODEL_GROUP, &loss)?;
        Ok(Losses::new(loss))
    }
    fn evaluate(&self, data: &Dataset, _opts: &EvalOptions) -> Result<EvalReport> {
        let recon = self
            .loss(&data.x.to_device(self.vs.device()))
            .double_value(&[]);
        Ok(EvalReport {
            nll: None,
            data: format!("{} ({})", data.name, data.len()),
            metrics: [("recon_bce".to_string(), recon)].into(),
        })
    }
    fn sample(&self, _n: i64, _seed: u64) -> Result<Tensor> {
        Err(CoreError::model(
            "bench-mlp",
            "an autoencoder has no sampler",
        ))
    }
}

/// Random MNIST-shaped data for the benchmark.
pub fn bench_split(examples: i64, seed_value: u64) -> Split {
    seed::seed_torch_stream(seed_value, "bench-data", 0);
    let kind = DataKind::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    let make = |n: i64, name: &str| Dataset {
        name: name.into(),
        kind,
        x: Tensor::randint(256, [n, 1, 28, 28], (Kind::Int64, Device::Cpu)).to_kind(Kind::Uint8),
        y: None,
        num_classes: None,
    };
    Split {
        train: make(examples, "bench-random/train"),
        test: make(256, "bench-random/test"),
    }
}

/// The bare loop: tch's Adam over the same batches as the engine's data order. Returns images/s.
fn bare_round(cfg: &BenchConfig, data: &Dataset, device: Device) -> Result<Round> {
    let model = BenchMlp::new(cfg.hidden, device, 0);
    let mut opt = nn::Adam::default().build(&model.vs, cfg.lr)?;
    let mut batches = BatchIter::new(data, cfg.batch_size, 0, device)?;
    timed(cfg.steps_per_round as f64 * cfg.batch_size as f64, || {
        let mut last = Tensor::zeros([], (Kind::Float, device));
        for _ in 0..cfg.steps_per_round {
            let loss = model.loss(&batches.next_batch().x);
            opt.backward_step(&loss);
            last = loss;
        }
        let _ = last.double_value(&[]); // device sync
        Ok(())
    })
}

/// The same training through the [`Trainer`] (no run directory, no evaluation). Returns images/s.
fn engine_round(cfg: &BenchConfig, split: &Split, device: Device) -> Result<Round> {
    let mut model = BenchMlp::new(cfg.hidden, device, 0);
    let mut tc = TrainConfig::quick(cfg.steps_per_round, cfg.batch_size, cfg.lr);
    tc.threads = cfg.threads;
    tc.progress = false;
    tc.log_every = 10;
    timed(cfg.steps_per_round as f64 * cfg.batch_size as f64, || {
        Trainer::new(tc, None)?.fit(&mut model, split).map(|_| ())
    })
}

/// Runs the benchmark: one warm-up round per side, then `rounds` alternating timed rounds.
pub fn engine_overhead(cfg: &BenchConfig) -> Result<BenchResult> {
    if cfg.rounds == 0 || cfg.steps_per_round == 0 || cfg.batch_size <= 0 || cfg.hidden <= 0 {
        return Err(CoreError::Invalid(
            "bench engine: rounds, steps_per_round, batch_size and hidden must be > 0".into(),
        ));
    }
    if cfg.examples < cfg.batch_size {
        return Err(CoreError::Invalid(format!(
            "bench engine: examples ({}) < batch_size ({})",
            cfg.examples, cfg.batch_size
        )));
    }
    let device = genzoo_core::device::parse_device(&cfg.device)?;
    seed::set_threads(cfg.threads);
    let split = bench_split(cfg.examples, 0);
    bare_round(cfg, &split.train, device)?;
    engine_round(cfg, &split, device)?;
    let (mut bare, mut eng) = (Vec::new(), Vec::new());
    for r in 0..cfg.rounds {
        if r % 2 == 0 {
            bare.push(bare_round(cfg, &split.train, device)?);
            eng.push(engine_round(cfg, &split, device)?);
        } else {
            eng.push(engine_round(cfg, &split, device)?);
            bare.push(bare_round(cfg, &split.train, device)?);
        }
    }
    // total images / total seconds = harmonic mean of the per-round rates (equal images per round)
    let hmean = |v: &[Round]| v.len() as f64 / v.iter().map(|r| 1.0 / r.rate).sum::<f64>();
    let (b, e) = (hmean(&bare), hmean(&eng));
    let mut pairs: Vec<f64> = bare
        .iter()
        .zip(&eng)
        .map(|(b, e)| e.rate / b.rate)
        .collect();
    pairs.sort_by(f64::total_cmp);
    let m = pairs.len();
    let median = if m % 2 == 1 {
        pairs[m / 2]
    } else {
        0.5 * (pairs[m / 2 - 1] + pairs[m / 2])
    };
    let cpu_sum = |v: &[Round]| v.iter().map(|r| r.cpu).sum::<Option<f64>>();
    let cpu_ratio = match (cpu_sum(&bare), cpu_sum(&eng)) {
        (Some(b), Some(e)) if b > 0.0 && e > 0.0 => Some(b / e),
        _ => None,
    };
    Ok(BenchResult {
        bare_images_per_sec: b,
        engine_images_per_sec: e,
        ratio: median,
        total_ratio: e / b,
        cpu_ratio,
        bare_rounds: bare.iter().map(|r| r.rate).collect(),
        engine_rounds: eng.iter().map(|r| r.rate).collect(),
        config: cfg.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_both_sides_on_a_tiny_config() {
        let cfg = BenchConfig {
            rounds: 2,
            steps_per_round: 3,
            batch_size: 8,
            hidden: 8,
            examples: 32,
            ..Default::default()
        };
        let r = engine_overhead(&cfg).unwrap();
        assert_eq!(r.bare_rounds.len(), 2);
        assert!(r.bare_images_per_sec > 0.0 && r.engine_images_per_sec > 0.0);
        assert!((r.total_ratio - r.engine_images_per_sec / r.bare_images_per_sec).abs() < 1e-12);
        let pair = |i: usize| r.engine_rounds[i] / r.bare_rounds[i];
        assert!((r.ratio - 0.5 * (pair(0) + pair(1))).abs() < 1e-12);
        assert!(engine_overhead(&BenchConfig { rounds: 0, ..cfg }).is_err());
    }

    #[test]
    fn engine_and_bare_loop_train_the_same_model_to_the_same_weights() {
        // Same init, same batches, Adam on both sides: the engine's own Adam must reproduce
        // tch's, so the benchmark compares like with like.
        let cfg = BenchConfig {
            steps_per_round: 5,
            batch_size: 8,
            hidden: 8,
            examples: 32,
            ..Default::default()
        };
        let split = bench_split(cfg.examples, 1);
        let bare = BenchMlp::new(cfg.hidden, Device::Cpu, 0);
        let mut opt = nn::Adam::default().build(&bare.vs, cfg.lr).unwrap();
        let mut batches = BatchIter::new(&split.train, 8, 0, Device::Cpu).unwrap();
        for _ in 0..5u64 {
            opt.backward_step(&bare.loss(&batches.next_batch().x));
        }
        let mut eng = BenchMlp::new(cfg.hidden, Device::Cpu, 0);
        let mut tc = TrainConfig::quick(5, 8, cfg.lr);
        tc.progress = false;
        Trainer::new(tc, None)
            .unwrap()
            .fit(&mut eng, &split)
            .unwrap();
        let (a, b) = (bare.vs.variables(), eng.vs.variables());
        for (k, v) in &a {
            let d = (v - &b[k]).abs().max().double_value(&[]);
            assert!(d < 1e-5, "{k}: {d}");
        }
    }
}
