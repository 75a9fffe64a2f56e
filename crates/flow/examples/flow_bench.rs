//! Flow benchmarks not wired into `cargo xtask bench`: training throughput of the 2-D coupling
//! flow (twin: `benches/toy_flow.py`) and sampling throughput of every benchmark architecture.
//!
//! ```text
//! cargo run --release -p genzoo-flow --example flow_bench -- train toy-flow 300 2
//! cargo run --release -p genzoo-flow --example flow_bench -- sample realnvp 64 2
//! ```
//! Prints `images_per_sec X`.
use genzoo_flow::bench;
use tch::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    genzoo_core::runtime::tune_allocator();
    let usage = "usage: flow_bench (train NAME STEPS | sample NAME N) [THREADS]; train NAME: realnvp, glow, maf, toy-flow; sample NAME: also nice, iaf";
    if args.len() < 3 {
        return Err(usage.into());
    }
    let n: usize = args[2]
        .parse()
        .map_err(|_| format!("`{}` is not a count; {usage}", args[2]))?;
    let threads: usize = args
        .get(3)
        .map_or(Ok(2), |t| t.parse())
        .map_err(|_| usage)?;
    genzoo_core::seed::set_threads(threads);
    let dev = Device::Cpu;
    let ips = match (args[0].as_str(), args[1].as_str()) {
        ("train", "realnvp") => bench::realnvp_images_per_sec(n, dev)?,
        ("train", "glow") => bench::glow_images_per_sec(n, dev)?,
        ("train", "maf") => bench::maf_images_per_sec(n, dev)?,
        ("train", "toy-flow") => bench::toy_flow_images_per_sec(n, dev)?,
        ("sample", name) => bench::sampling_images_per_sec(name, n as i64, 3, dev)?,
        _ => return Err(usage.into()),
    };
    println!("images_per_sec {ips:.3}");
    Ok(())
}
