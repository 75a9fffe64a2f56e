//! Runs the autoencoder family's benchmarks (the lead's `cargo xtask bench vae-mlp` wraps the
//! same functions): `cargo run --release -p genzoo-vae --example vae_bench -- [throughput|is-nll]
//! [steps|k] [threads]`.
fn main() -> genzoo_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    genzoo_core::runtime::tune_allocator();
    let what = args.get(1).map(String::as_str).unwrap_or("throughput");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    match what {
        "throughput" => {
            let t = genzoo_vae::bench::vae_mlp_throughput(n, threads, tch::Device::Cpu)?;
            println!("images_per_sec {:.1}", t.images_per_sec);
            if let Some(c) = t.images_per_cpu_sec {
                println!("images_per_cpu_sec {c:.1}");
            }
        }
        "is-nll" => {
            let train_steps: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2000);
            let r = genzoo_vae::bench::is_nll_benchmark(
                n as i64,
                threads,
                tch::Device::Cpu,
                train_steps,
                100,
            )?;
            println!(
                "is_nll k={} examples={} data=\"{}\" nll_nats={:.3} seconds={:.2} (after {train_steps} training steps)",
                r.k, r.examples, r.data, r.nll_nats, r.seconds
            );
        }
        "grad-variance" => {
            // The classic VAE after `n` training steps on mnist10k; 64 single-sample gradients
            // of the ELBO with respect to the encoder under each estimator, same batch of 128.
            use genzoo_core::engine::{TrainConfig, Trainer};
            use genzoo_vae::{bench, grad, obs::Mode, vae, Owned};
            genzoo_core::seed::set_threads(threads);
            let split = bench::bench_split()?;
            let cfg = vae::Config::mlp_preset("classic").expect("preset");
            let mut m = Owned::build(tch::Device::Cpu, |p| vae::Vae::named(p, &cfg, "vae-mlp"))?;
            if n > 0 {
                let tc = TrainConfig {
                    threads,
                    progress: false,
                    sample_count: 0,
                    ..TrainConfig::quick(n, 128, 1e-3)
                };
                Trainer::new(tc, None)?.fit(&mut m, &split)?;
            }
            let prep = m
                .net
                .lat
                .lik
                .prepare(&split.test.x.narrow(0, 0, 128), Mode::Eval { seed: 0 })?;
            let base = tch::Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu));
            let recon = cfg
                .objective
                .loss(&m.net.lat, &prep, None, 0, &base)?
                .to_map()["recon"];
            for est in [vae::Estimator::Pathwise, vae::Estimator::ScoreFunction] {
                let s = grad::encoder_gradient_stats(&m.net, &m.vs, &prep, est, 64, -recon, 0)?;
                println!("grad_variance estimator={est:?} steps={n} mean_sq_norm={:.4e} total_variance={:.4e}", s.mean_sq_norm, s.total_variance);
            }
        }
        other => {
            return Err(genzoo_core::CoreError::Invalid(format!(
                "unknown benchmark `{other}`: throughput or is-nll"
            )));
        }
    }
    Ok(())
}
