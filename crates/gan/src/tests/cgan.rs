//! The conditional GAN: the label reaches both players, bad labels are named, samples follow
//! their class, and a short run learns one mode per class on a labelled 2-D toy.
use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_train::{OptimConfig, TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

use super::{build, val};
use crate::cgan::{check_labels, Cgan, Conditioning, Config};
use crate::game::{Adversarial, Gan};

/// Four classes, each a Gaussian of std 0.1 at one corner `(+-2, +-2)`; `n` points, seeded.
fn corners(n: i64, seed: i64) -> Dataset {
    tch::manual_seed(seed);
    let y = Tensor::randint(4, [n], (Kind::Int64, Device::Cpu));
    let centres = Tensor::from_slice(&[-2.0f32, -2.0, -2.0, 2.0, 2.0, -2.0, 2.0, 2.0]).view([4, 2]);
    let x = centres.index_select(0, &y) + Tensor::randn([n, 2], (Kind::Float, Device::Cpu)) * 0.1;
    Dataset {
        name: "corners".into(),
        kind: DataKind::Vector { dim: 2 },
        x,
        y: Some(y),
        num_classes: Some(4),
    }
}

fn config(conditioning: Conditioning) -> Config {
    Config {
        data: DataKind::Vector { dim: 2 },
        num_classes: 4,
        latent_dim: 4,
        gen_hidden: vec![64, 64],
        disc_hidden: vec![64, 64],
        conditioning,
        ..Config::preset("tiny").unwrap()
    }
}

/// For both conditionings: with the same noise and input, changing the label changes what the
/// generator makes and what the discriminator says; the generator's output for one example
/// depends only on its own label.
#[test]
fn the_label_reaches_both_players() {
    for c in [Conditioning::Concat, Conditioning::Projection] {
        tch::manual_seed(0);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let m = Cgan::new(&vs.root(), &config(c)).unwrap();
        let z = Tensor::randn([4, 4], (Kind::Float, Device::Cpu));
        let (y0, y1) = (
            Tensor::from_slice(&[0i64, 1, 2, 3]),
            Tensor::from_slice(&[3i64, 1, 2, 0]),
        );
        let (g0, g1) = (
            m.generate(&z, Some(&y0), false).unwrap(),
            m.generate(&z, Some(&y1), false).unwrap(),
        );
        let moved = (&g0 - &g1)
            .abs()
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        // rows 0 and 3 changed label, rows 1 and 2 did not
        assert!(
            val(&moved.get(0)) > 1e-4 && val(&moved.get(3)) > 1e-4,
            "{c:?}"
        );
        assert_eq!(val(&moved.get(1)), 0.0);
        assert_eq!(val(&moved.get(2)), 0.0);
        let (d0, d1) = (
            m.discriminate(&g0, Some(&y0), false).unwrap(),
            m.discriminate(&g0, Some(&y1), false).unwrap(),
        );
        let dd = (&d0 - &d1).abs();
        assert!(
            val(&dd.get(0)) > 1e-6 && val(&dd.get(1)) == 0.0,
            "{c:?}: {dd:?}"
        );
        assert!(m.generate(&z, None, false).is_err());
    }
}

#[test]
fn bad_labels_are_named() {
    let e = check_labels(&Tensor::from_slice(&[0i64, 4]), 2, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("labels") && e.contains("0..=4"), "{e}");
    let e = check_labels(&Tensor::from_slice(&[0.0f32, 1.0]), 2, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("integer"), "{e}");
    assert!(check_labels(&Tensor::from_slice(&[0i64, 1]), 3, 4).is_err());
    // unlabelled data: the training step says what is missing
    let mut model = build(
        "cgan",
        "tiny",
        serde_json::json!({}),
        DataKind::Vector { dim: 2 },
    );
    let unlabelled = |seed| Dataset {
        y: None,
        num_classes: None,
        ..corners(32, seed)
    };
    let split = Split {
        train: unlabelled(1),
        test: unlabelled(2),
    };
    let e = Trainer::new(super::quick(1, 8), None)
        .unwrap()
        .fit(model.as_mut(), &split)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("labelled data"), "{e}");
}

/// 1,500 steps of batch 128 (Adam 1e-3, betas (0.5, 0.999), non-saturating loss, projection
/// discriminator, seed 0) on 4,000 labelled corner points: at least 90% of the samples drawn
/// for each class lie within 0.5 (5 std) of that class's corner. An unconditional generator
/// could not place each class: chance is 25%. About 5 s.
#[test]
fn a_short_run_puts_each_class_at_its_own_mode() {
    let split = Split {
        train: corners(4000, 0),
        test: corners(500, 1),
    };
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let vs_model = genzoo_core::model::Owned::build(Device::Cpu, |p| {
        Gan::new(p, Cgan::new(p, &config(Conditioning::Projection))?)
    })
    .unwrap();
    let mut model: Box<dyn genzoo_core::model::GenerativeModel> = Box::new(vs_model);
    let cfg = TrainConfig {
        sample_count: 0,
        progress: false,
        optimizer: OptimConfig {
            lr: 1e-3,
            betas: [0.5, 0.999],
            ..OptimConfig::default()
        },
        ..TrainConfig::quick(1500, 128, 1e-3)
    };
    Trainer::new(cfg, None)
        .unwrap()
        .fit(model.as_mut(), &split)
        .unwrap();
    let cs = model.class_sampler().expect("a cGAN samples by class");
    assert_eq!(cs.num_classes(), 4);
    let centres = [[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]];
    for (k, c) in centres.iter().enumerate() {
        let x = cs
            .sample_classes(
                &Tensor::full([400], k as i64, (Kind::Int64, Device::Cpu)),
                7,
            )
            .unwrap();
        let d = (x - Tensor::from_slice(&[c[0] as f32, c[1] as f32]))
            .square()
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            .sqrt();
        let near = val(&d.lt(0.5).to_kind(Kind::Float).mean(Kind::Float));
        assert!(
            near >= 0.9,
            "class {k}: {near} of its samples near its corner"
        );
    }
    // unconditional `sample` cycles the classes; evaluation scores labelled test data
    assert_eq!(model.sample(8, 0).unwrap().size(), [8, 2]);
    let r = model.evaluate(&split.test, &Default::default()).unwrap();
    assert!(r.metrics.contains_key("disc_auc"));
}
