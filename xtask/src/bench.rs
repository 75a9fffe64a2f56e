//! `cargo xtask bench NAME`: parses the arguments and hands them to `genzoo-benches`, which runs a
//! genzoo model against its PyTorch twin and prints `ratio R`.
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {
    /// engine, vae-mlp, vae-is-nll, grad-variance, realnvp, glow, maf, toy-flow, flow-sampling, pixelcnn, made, pixelcnn-sample, wavenet-sample, fid-domain, dcgan, gan-toy
    name: String,
    /// Rounds, alternating genzoo and PyTorch.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Training steps per round and side.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Intra-op threads on both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// auto, cpu, cuda, cuda:N
    #[arg(long)]
    device: Option<String>,
}

pub fn bench(a: BenchArgs) -> Result<()> {
    genzoo_benches::harness::run(&genzoo_benches::harness::BenchOptions {
        name: a.name,
        rounds: a.rounds,
        steps: a.steps,
        threads: a.threads,
        device: a.device,
    })
}
