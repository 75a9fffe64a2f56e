//! RealNVP (its `quick` preset) on the shipped `mnist10k` with this crate alone: a few hundred
//! steps, the exact density of the dequantized digits in bits per dimension (a bound on the 8-bit
//! NLL), and a PNG of samples at temperature 1 (top) and 0.7 (bottom).
//!
//! `cargo run --release -p genzoo-flow --example realnvp -- [STEPS] [OUT.png]` (defaults: 300
//! steps, `realnvp.png`).
use genzoo_flow::genzoo_core::model::EvalOptions;
use genzoo_flow::genzoo_core::tch::{Device, Tensor};
use genzoo_flow::genzoo_train::{fit_briefly, image};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "realnvp.png".into());

    let split = genzoo_flow::genzoo_data::load_mnist10k()?;
    genzoo_flow::genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = genzoo_flow::build("realnvp", Some("quick"), &split.train, Device::Cpu)?;
    fit_briefly(model.as_mut(), &split, steps, 1e-3)?;
    let opts = EvalOptions {
        max_examples: Some(500),
        ..Default::default()
    };
    let nll = model
        .evaluate(&split.test, &opts)?
        .nll
        .ok_or("a flow has a likelihood")?;
    println!("test NLL {nll}");
    let warm = model.sample(8, 0)?;
    model.set_temperature(0.7)?;
    image::save_grid(&out, &Tensor::cat(&[warm, model.sample(8, 0)?], 0), 8)?;
    println!("samples at T = 1 and T = 0.7: {out}");
    Ok(())
}
