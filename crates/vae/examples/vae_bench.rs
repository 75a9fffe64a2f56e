//! Runs the autoencoder family's benchmarks (the lead's `cargo xtask bench vae-mlp` wraps the
//! same functions): `cargo run --release -p genzoo-vae --example vae_bench -- [throughput|is-nll]
//! [steps|k] [threads]`.
fn main() -> genzoo_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("throughput");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    match what {
        "throughput" => {
            let ips = genzoo_vae::bench::vae_mlp_images_per_sec(n, threads, tch::Device::Cpu)?;
            println!("images_per_sec {ips:.1}");
        }
        "is-nll" => {
            let train_steps: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2000);
            let r = genzoo_vae::bench::is_nll_benchmark(n as i64, threads, tch::Device::Cpu, train_steps, 100)?;
            println!(
                "is_nll k={} examples={} data=\"{}\" nll_nats={:.3} seconds={:.2} (after {train_steps} training steps)",
                r.k, r.examples, r.data, r.nll_nats, r.seconds
            );
        }
        other => {
            return Err(genzoo_core::CoreError::Invalid(format!("unknown benchmark `{other}`: throughput or is-nll")));
        }
    }
    Ok(())
}
