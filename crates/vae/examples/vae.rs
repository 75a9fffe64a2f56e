//! The classic VAE (`vae-mlp`, `classic` preset) on the shipped `mnist10k` with this crate alone:
//! a few hundred steps, its importance-sampled test NLL beside the ELBO bound, and a PNG of test
//! digits above their reconstructions.
//!
//! `cargo run --release -p genzoo-vae --example vae -- [STEPS] [OUT.png]` (defaults: 300 steps,
//! `vae.png`).
use genzoo_vae::genzoo_core::model::EvalOptions;
use genzoo_vae::genzoo_core::tch::{Device, Tensor};
use genzoo_vae::genzoo_train::{fit_briefly, image};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "vae.png".into());

    let split = genzoo_vae::genzoo_data::load_mnist10k()?;
    genzoo_vae::genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = genzoo_vae::build("vae-mlp", Some("classic"), &split.train, Device::Cpu)?;
    fit_briefly(model.as_mut(), &split, steps, 1e-3)?;
    let opts = EvalOptions {
        importance_samples: 100,
        max_examples: Some(500),
        ..Default::default()
    };
    let r = model.evaluate(&split.test, &opts)?;
    let nll = r.nll.ok_or("a VAE has a likelihood")?;
    // The IS estimate lies below the negative ELBO, the bound the VAE trains on.
    println!(
        "test NLL {nll}; neg_elbo {:.2} (a bound)",
        r.metrics["neg_elbo"]
    );
    let digits = split.test.take(8); // stored 8-bit pixels, as the model takes them
    let reconstructor = model.reconstructor().ok_or("a VAE reconstructs")?;
    let recon = reconstructor.reconstruct(&digits.x)?;
    image::save_grid(&out, &Tensor::cat(&[digits.x_unit_f32(), recon], 0), 8)?;
    println!("test digits above their reconstructions: {out}");
    Ok(())
}
