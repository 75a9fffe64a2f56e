//! DCGAN (its `mnist` preset) on the shipped `mnist10k` with this crate alone: a few hundred
//! steps of the two players (Adam at 2e-4 with beta1 = 0.5, Radford et al. 2016), both players'
//! last losses, and a PNG of 64 samples. A GAN has no likelihood: its evaluation reports none.
//!
//! `cargo run --release -p genzoo-gan --example dcgan -- [STEPS] [OUT.png]` (defaults: 300
//! steps, `dcgan.png`).
use genzoo_gan::genzoo_core::model::EvalOptions;
use genzoo_gan::genzoo_train::{fit_briefly, image};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args.next().map_or(Ok(300), |s| s.parse())?;
    let out = args.next().unwrap_or_else(|| "dcgan.png".into());

    let split = genzoo_gan::genzoo_data::load_mnist10k()?;
    let device = genzoo_gan::genzoo_core::device::select_device(None)?;
    genzoo_gan::genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = genzoo_gan::build("dcgan", Some("mnist"), &split.train, device)?;
    let s = fit_briefly(model.as_mut(), &split, steps, 2e-4)?;
    println!(
        "{} steps in {:.1} s; last losses {:?}",
        s.steps, s.seconds, s.last_losses
    );
    let r = model.evaluate(&split.test.take(500), &EvalOptions::default())?;
    assert!(r.nll.is_none(), "a GAN reports no likelihood");
    println!("on {}: {:?}", r.data, r.metrics);
    image::save_grid(&out, &model.sample(64, 0)?, 8)?;
    println!("samples: {out}");
    Ok(())
}
