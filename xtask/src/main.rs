//! `cargo xtask`: genzoo's one command line. It orchestrates (parses flags, picks data, calls the
//! crates, prints tables) and holds no model or math code: that lives in the library crates,
//! where library users get it too.
//!
//! Subcommands: `download`, `train`, `sample`, `eval`, `compare`, `tricks`, `bench`, `models`,
//! `device`.
use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod compare;
mod data;
mod eval;
mod quality;
mod registry;
mod sample;
mod train;
mod tricks;

/// genzoo: train, evaluate, sample and compare deep generative models on libtorch.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch a named dataset (mnist, fashion-mnist, cifar10) with checksums, or import local files.
    Download(data::DownloadArgs),
    /// Train a model on a dataset; writes a run directory (config.json, metrics, checkpoints, PNGs).
    Train(train::TrainArgs),
    /// Draw samples from a checkpoint: a PNG grid (or files), WAV clips or JSON rows.
    Sample(sample::SampleArgs),
    /// Evaluate a checkpoint: likelihood (saying what it is) and metrics, printed and written as JSON.
    Eval(eval::EvalArgs),
    /// Train and evaluate several models on one dataset and print the cross-model table.
    Compare(compare::CompareArgs),
    /// The GAN training tricks' table: each trick alone over several seeds on a 2-D toy (modes
    /// covered, high-quality share) or on images (sample-quality columns).
    Tricks(tricks::TricksArgs),
    /// Side-by-side throughput against the same model in PyTorch Python: prints `ratio R`.
    Bench(bench::BenchArgs),
    /// List the registered models and their presets.
    Models,
    /// Show the device genzoo selects and run a tensor op on it (proves the CUDA path on a GPU host).
    Device {
        /// auto, cpu, cuda or cuda:N (default: $GENZOO_DEVICE, else CUDA if available).
        #[arg(long)]
        device: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    genzoo::train::runtime::tune_allocator();
    let res: Result<()> = match cli.cmd {
        Cmd::Download(a) => data::download(a),
        Cmd::Train(a) => train::train(a),
        Cmd::Sample(a) => sample::sample(a),
        Cmd::Eval(a) => eval::eval(a),
        Cmd::Compare(a) => compare::compare(a),
        Cmd::Tricks(a) => tricks::tricks(a),
        Cmd::Bench(a) => bench::bench(a),
        Cmd::Models => registry::print_models(),
        Cmd::Device { device } => device_check(device.as_deref()),
    };
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn device_check(flag: Option<&str>) -> Result<()> {
    let dev = genzoo::core::device::select_device(flag)?;
    println!(
        "libtorch cuda available: {}, cuda devices: {}, cudnn: {}",
        tch::Cuda::is_available(),
        tch::Cuda::device_count(),
        tch::Cuda::cudnn_is_available()
    );
    println!(
        "selected device: {}",
        genzoo::core::device::device_name(dev)
    );
    let a = tch::Tensor::ones([1024, 1024], (tch::Kind::Float, dev));
    let s = a.matmul(&a).sum(tch::Kind::Double).double_value(&[]);
    println!(
        "ones(1024x1024) @ ones(1024x1024) summed on {}: {s} (expected {})",
        genzoo::core::device::device_name(dev),
        1024f64.powi(3)
    );
    anyhow::ensure!(s == 1024f64.powi(3), "wrong result {s} on {dev:?}");
    Ok(())
}
