//! 2-D flows trained for a few hundred steps on a toy density: the learned density integrates to
//! 1 within 1% on a fine grid covering its support, the KL to the true density drops, and the
//! heatmap PNG (learned beside true) is written.
use genzoo_core::data::DataKind;
use genzoo_core::model::{EvalOptions, GenerativeModel};
use genzoo_data::toy::Toy;
use genzoo_flow::density::FlowCore;
use genzoo_flow::models::{maf, toy_flow};
use genzoo_train::heatmap;
use genzoo_train::{TrainConfig, Trainer};
use tch::{Device, Tensor};

const D2: DataKind = DataKind::Vector { dim: 2 };

fn train(model: &mut dyn GenerativeModel, toy: Toy, steps: u64) {
    let split = toy.split(4000, 1000, 0);
    let mut cfg = TrainConfig::quick(steps, 256, 5e-3);
    cfg.progress = false;
    Trainer::new(cfg, None).unwrap().fit(model, &split).unwrap();
}

fn integral(core: &FlowCore) -> f64 {
    heatmap::grid_integral(&mut |x: &Tensor| core.log_prob_vectors(x), -9.0, 9.0, 450).unwrap()
}

#[test]
fn trained_toy_flow_integrates_to_one_and_approaches_the_truth() {
    tch::manual_seed(0);
    let mut m = toy_flow::ToyFlow::owned(
        &toy_flow::Config::preset("tiny").unwrap(),
        D2,
        None,
        Device::Cpu,
    )
    .unwrap();
    let toy = Toy::EightGaussians;
    let test = toy.split(10, 2000, 1).test;
    let opts = EvalOptions {
        batch_size: 1000,
        ..EvalOptions::default()
    };
    let before = m.evaluate(&test, &opts).unwrap();
    train(&mut m, toy, 300);
    let after = m.evaluate(&test, &opts).unwrap();
    let (kl0, kl1) = (before.metrics["kl_to_truth"], after.metrics["kl_to_truth"]);
    assert!(kl1.is_finite() && kl1 < 0.5 * kl0, "KL {kl0} -> {kl1}");
    assert!(after.nll_value().unwrap() < before.nll_value().unwrap());
    let i = integral(&m.net.core);
    assert!((i - 1.0).abs() < 0.01, "integral {i}");
    // The heatmap: learned and true panels side by side.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("density.png");
    let (lo, hi) = toy.bounds();
    heatmap::write_heatmap(
        &path,
        &mut |x: &Tensor| m.net.core.log_prob_vectors(x),
        Some(&mut |x: &Tensor| toy.log_prob(x)),
        lo,
        hi,
        64,
    )
    .unwrap();
    let dec = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let info = dec.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (2 * 64 + 4, 64));
}

#[test]
fn trained_maf_integrates_to_one() {
    tch::manual_seed(0);
    let cfg = maf::Config {
        layers: 4,
        ..maf::Config::preset("toy").unwrap()
    };
    let mut m = maf::Maf::owned(&cfg, D2, None, Device::Cpu).unwrap();
    train(&mut m, Toy::TwoMoons, 200);
    let i = integral(&m.net.core);
    assert!((i - 1.0).abs() < 0.01, "integral {i}");
}
