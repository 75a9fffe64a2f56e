//! WaveNet: causality in time with the receptive field of the formula, Fast WaveNet's queues
//! equal to naive sampling, and training on synthetic audio through the catalogue.
use tch::{Kind, Tensor};

use super::*;
use crate::sampling::uniforms;
use genzoo_core::model::{EvalOptions, LikelihoodKind};
use genzoo_core::units::NllUnit;

#[test]
fn output_t_depends_on_exactly_the_receptive_field_before_t() {
    let (_vs, net) = wavenet_net(40, 0);
    let r = net.receptive_field();
    assert_eq!(r, 2 + 2 * (1 + 2 + 4)); // tiny: two cycles of dilations 1, 2, 4
    tch::manual_seed(3);
    let x = Tensor::rand([8, 256, 40], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let logits = net.logits_of(&x, None).unwrap();
    for t in [0i64, 5, 20, 39] {
        let out = logits.select(2, t).sum(Kind::Float);
        let g = Tensor::run_backward(&[out], &[&x], true, false)
            .pop()
            .unwrap();
        let per_step = g
            .abs()
            .sum_dim_intlist([0i64, 1].as_slice(), false, Kind::Double);
        let per_step = Vec::<f64>::try_from(&per_step).unwrap();
        for (s, &gs) in per_step.iter().enumerate() {
            let s = s as i64;
            let inside = s < t && s >= t - r;
            assert_eq!(gs > 0.0, inside, "t={t}: d out / d x_{s} = {gs} (R = {r})");
        }
    }
}

#[test]
fn fast_wavenet_queues_equal_naive_sampling() {
    for classes in [0, 2] {
        let (_vs, net) = wavenet_net(50, classes);
        let u = uniforms(3, 50, 11, Device::Cpu).unwrap();
        let labels = (classes > 0).then(|| Tensor::from_slice(&[0i64, 1, 1]));
        for t in [1.0, 0.8] {
            let naive = net.sample_naive(labels.as_ref(), &u, t).unwrap();
            let cached = net.sample_cached(labels.as_ref(), &u, t).unwrap();
            assert!(naive.equal(&cached), "classes={classes}, T={t}");
            assert!(naive.to_kind(Kind::Float).std(false).double_value(&[]) > 0.0);
        }
    }
}

#[test]
fn wavenet_trains_on_synthetic_audio_with_an_exact_nll_in_bits_per_sample() {
    use genzoo_train::{TrainConfig, Trainer};
    let all = genzoo_data::audio::synthetic(96, 256, 1);
    let split = genzoo_core::data::Split {
        train: all.take(80),
        test: {
            let mut t = all.take(96);
            t.x = t.x.narrow(0, 80, 16);
            t.y = t.y.map(|y| y.narrow(0, 80, 16));
            t
        },
    };
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = crate::build("wavenet", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let opts = EvalOptions::default();
    let before = model.evaluate(&split.test, &opts).unwrap().nll.unwrap();
    let cfg = TrainConfig {
        sample_count: 0,
        progress: false,
        ..TrainConfig::quick(60, 16, 1e-2)
    };
    Trainer::new(cfg, None)
        .unwrap()
        .fit(model.as_mut(), &split)
        .unwrap();
    let nll = model.evaluate(&split.test, &opts).unwrap().nll.unwrap();
    assert_eq!(
        (nll.kind, nll.unit),
        (LikelihoodKind::Exact, NllUnit::BitsPerDim)
    );
    // Untrained: about log2(256) = 8 bits per sample; trained: well below.
    assert!((before.value - 8.0).abs() < 0.5, "{}", before.value);
    assert!(
        nll.value < before.value - 1.0,
        "{} -> {}",
        before.value,
        nll.value
    );
    let s = model.sample(2, 0).unwrap();
    assert_eq!(s.size(), [2, 1, 256]);
    assert!(s.abs().max().double_value(&[]) <= 1.0);
}
