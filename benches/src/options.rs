//! The options of `cargo xtask bench`, shared by every benchmark.

/// What `cargo xtask bench` passes on.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// engine, vae-mlp, vae-is-nll, grad-variance, realnvp, glow, maf, toy-flow, flow-sampling, pixelcnn, made, pixelcnn-sample, wavenet-sample, fid-domain, dcgan, gan-toy
    pub name: String,
    /// Rounds, alternating genzoo and PyTorch.
    pub rounds: usize,
    /// Training steps per round and side.
    pub steps: usize,
    /// Intra-op threads on both sides.
    pub threads: usize,
    /// auto, cpu, cuda, cuda:N
    pub device: Option<String>,
}
