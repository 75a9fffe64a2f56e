//! The Gated PixelCNN code prior normalizes over every code grid, and the two-stage VQ-VAE +
//! prior trains the VQ-VAE first, then only the prior, and is evaluated with the prior's bound.
use tch::{Kind, Tensor};

use super::*;
use crate::vq_prior::GatedCodePrior;
use genzoo_core::model::{CodePrior, EvalOptions, LikelihoodKind};

#[test]
fn the_code_prior_sums_to_one_over_all_81_grids_of_3_codes() {
    tch::manual_seed(8);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = gated_pixel_cnn::Config::preset("tiny").unwrap();
    let prior = GatedCodePrior::new(&vs.root(), &cfg, 3, (2, 2)).unwrap();
    let v = Tensor::arange(81, (Kind::Int64, Device::Cpu));
    let digits: Vec<Tensor> = (0..4)
        .map(|d| v.floor_divide_scalar(3i64.pow(d)).remainder(3))
        .collect();
    let grids = Tensor::stack(&digits, 1).reshape([81, 2, 2]);
    let lp = tch::no_grad(|| prior.log_prob(&grids).unwrap());
    let total = lp
        .to_kind(Kind::Double)
        .logsumexp([0], false)
        .double_value(&[]);
    assert!(total.abs() < 1e-4, "log sum = {total}");
    let s = prior.sample(5, 0).unwrap();
    assert_eq!(s.size(), [5, 2, 2]);
    assert!(s.ge(0).logical_and(&s.lt(3)).all().int64_value(&[]) == 1);
    assert!(prior.sample(5, 0).unwrap().equal(&s));
    // Grids of another shape are refused, naming the tensor.
    let e = prior
        .log_prob(&Tensor::zeros([1, 3, 3], (Kind::Int64, Device::Cpu)))
        .unwrap_err();
    assert!(e.to_string().contains("codes"), "{e}");
}

#[test]
fn two_stage_training_freezes_the_vq_vae_and_reports_the_prior_bound() {
    check_two_stage("vq-vae-pixelcnn");
}

#[test]
fn vq_vae2_priors_condition_the_bottom_on_the_top_and_train_in_stage_two() {
    check_two_stage("vq-vae2-pixelcnn");
}

#[test]
fn the_bottom_prior_depends_on_the_top_codes() {
    use genzoo_vae::vq_vae2::{Codes2, LevelPriors};
    tch::manual_seed(9);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = gated_pixel_cnn::Config::preset("tiny").unwrap();
    let priors =
        crate::vq_vae2_prior::PixelCnnPriors::new(&vs.root(), &cfg, 4, ((2, 2), (4, 4))).unwrap();
    let bottom = Tensor::zeros([1, 4, 4], (Kind::Int64, Device::Cpu));
    let lp = |top: Tensor| {
        priors
            .log_prob(&Codes2 {
                top,
                bottom: bottom.shallow_clone(),
            })
            .unwrap()
            .double_value(&[0])
    };
    let top_prior = |top: &Tensor| priors.top.log_prob(top).unwrap().double_value(&[0]);
    let (t0, t1) = (
        Tensor::zeros([1, 2, 2], (Kind::Int64, Device::Cpu)),
        Tensor::ones([1, 2, 2], (Kind::Int64, Device::Cpu)),
    );
    // log p(bottom | top) = log p(top, bottom) - log p(top) changes with the top codes.
    let (b0, b1) = (
        lp(t0.shallow_clone()) - top_prior(&t0),
        lp(t1.shallow_clone()) - top_prior(&t1),
    );
    assert!((b0 - b1).abs() > 1e-3, "{b0} {b1}");
    let s = priors.sample(3, 0).unwrap();
    assert_eq!(
        (s.top.size(), s.bottom.size()),
        (vec![3, 2, 2], vec![3, 4, 4])
    );
}

fn check_two_stage(name: &str) {
    use genzoo_train::{TrainConfig, Trainer};
    let s = genzoo_data::load_mnist10k().unwrap();
    let split = genzoo_core::data::Split {
        train: s.train.take(256),
        test: s.test.take(64),
    };
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = crate::build(name, Some("tiny"), &split.train, Device::Cpu).unwrap();
    let vq_weights = |m: &dyn genzoo_core::model::GenerativeModel| -> Vec<(String, Tensor)> {
        let mut v: Vec<_> = m
            .var_store()
            .variables()
            .into_iter()
            .filter(|(n, t)| !n.starts_with("code_prior.") && t.requires_grad())
            .map(|(n, t)| (n, t.copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let cfg = |steps| TrainConfig {
        sample_count: 0,
        progress: false,
        ..TrainConfig::quick(steps, 32, 3e-3)
    };
    // Stage 1 only (tiny: 10 VQ steps).
    Trainer::new(cfg(10), None)
        .unwrap()
        .fit(model.as_mut(), &split)
        .unwrap();
    let opts = EvalOptions {
        batch_size: 32,
        ..EvalOptions::default()
    };
    let before = model.evaluate(&split.test, &opts).unwrap();
    let after_stage1 = vq_weights(model.as_ref());
    // Stages 1 and 2 from scratch: 10 VQ steps, then 40 prior steps.
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = crate::build(name, Some("tiny"), &split.train, Device::Cpu).unwrap();
    Trainer::new(cfg(50), None)
        .unwrap()
        .fit(model.as_mut(), &split)
        .unwrap();
    let after_stage2 = vq_weights(model.as_ref());
    for ((n, a), (_, b)) in after_stage1.iter().zip(&after_stage2) {
        assert!(a.equal(b), "{n} changed while the prior trained");
    }
    let report = model.evaluate(&split.test, &opts).unwrap();
    let (nll0, nll) = (before.nll.unwrap(), report.nll.unwrap());
    assert_eq!(nll.kind, LikelihoodKind::Bound);
    // Same recon term; the trained prior costs fewer nats than the untrained one.
    assert!((report.metrics["recon_nats"] - before.metrics["recon_nats"]).abs() < 1e-3);
    assert!(
        report.metrics["prior_nats"] < before.metrics["prior_nats"] - 5.0,
        "{:?} {:?}",
        before.metrics,
        report.metrics
    );
    assert!(nll.value < nll0.value);
    let x = model.sample(4, 0).unwrap();
    assert_eq!(x.size(), [4, 1, 28, 28]);
}
