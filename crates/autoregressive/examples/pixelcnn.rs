//! PixelCNN (its `mnist` preset) on the shipped `mnist10k` with this crate alone: a few hundred
//! steps, the exact NLL of the binarized test digits in nats, and a PNG of 8 test digits with
//! their lower halves hidden above the model's completions of them.
//!
//! `cargo run --release -p genzoo-autoregressive --example pixelcnn -- [STEPS] [OUT.png]`
//! (defaults: 300 steps, `pixelcnn.png`).
use genzoo_autoregressive::genzoo_core::model::EvalOptions;
use genzoo_autoregressive::genzoo_core::tch::{Device, Kind, Tensor};
use genzoo_autoregressive::genzoo_train::{fit_briefly, image};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "pixelcnn.png".into());

    let split = genzoo_autoregressive::genzoo_data::load_mnist10k()?;
    genzoo_autoregressive::genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model =
        genzoo_autoregressive::build("pixelcnn", Some("mnist"), &split.train, Device::Cpu)?;
    fit_briefly(model.as_mut(), &split, steps, 1e-3)?;
    let opts = EvalOptions {
        max_examples: Some(500),
        ..Default::default()
    };
    let nll = model
        .evaluate(&split.test, &opts)?
        .nll
        .ok_or("exact likelihood")?;
    println!("test NLL {nll}");
    let x = split.test.take(8).x;
    let known = x.ones_like().to_kind(Kind::Bool);
    let _ = known.narrow(2, 14, 14).fill_(0); // the lower half is unknown
    let done = model
        .partial_sampler()
        .ok_or("completes")?
        .complete(&x, &known, 0)?;
    let shown = split.test.take(8).x_unit_f32() * known.to_kind(Kind::Float);
    image::save_grid(&out, &Tensor::cat(&[shown, done], 0), 8)?;
    println!("half-known test digits above their completions: {out}");
    Ok(())
}
