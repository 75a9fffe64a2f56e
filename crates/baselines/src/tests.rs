//! Tests of the baseline registry, input checks and [`super::evaluate`] (units, likelihood
//! kinds, KL to a known truth).
use std::collections::BTreeMap;

use super::evaluate::flag_degenerate;
use super::*;
use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::{LikelihoodKind, Nll};
use genzoo_core::units::NllUnit;
use genzoo_core::{seed, CoreError};
use genzoo_data::toy;
use rand::Rng;
use tch::{Device, Kind, Tensor};

fn toy_split() -> (Dataset, Dataset) {
    let mk = |name: &str, seed_: u64| {
        let x = std_normal(500, 2, seed_, "toy", 0, Device::Cpu)
            * Tensor::from_slice(&[2.0f64, 0.5])
            + 1.0;
        Dataset {
            name: name.into(),
            kind: DataKind::Vector { dim: 2 },
            x: x.to_kind(Kind::Float),
            y: None,
            num_classes: None,
        }
    };
    (mk("toy/train", 1), mk("toy/test", 2))
}

#[test]
fn baselines_evaluate_reports_exact_nats_on_vectors() {
    let (train, test) = toy_split();
    let mut g = build("gaussian", "default", None).unwrap();
    let r = evaluate(g.as_mut(), &train, &test, 0).unwrap();
    let nll = r.report.nll.unwrap();
    assert_eq!((nll.unit, nll.kind), (NllUnit::Nats, LikelihoodKind::Exact));
    // True density: independent N(1, 4) x N(1, 0.25): entropy = ln(2 pi e) + ln(2 * 0.5).
    let entropy = LN_2PI + 1.0;
    let nll = nll.value;
    assert!(
        (nll - entropy).abs() < 0.15,
        "nll {nll} vs entropy {entropy}"
    );
    assert_eq!(r.params, 2 + 3);
    let mut k = build("kmeans", "tiny", None).unwrap();
    let r = evaluate(k.as_mut(), &train, &test, 0).unwrap();
    assert!(r.report.nll.is_none());
    assert!(r.report.metrics["test_distortion"] > 0.0);
}

#[test]
fn baselines_evaluate_against_truth_scores_kl() {
    // The lecture notes' 1-D three-component mixture: a 3-component GMM nearly matches it,
    // one Gaussian cannot (KL well above 0).
    let toy = toy::Toy::Gmm1d;
    let split = toy.split(4000, 2000, 1);
    let over = serde_json::json!({"k": 3, "max_iter": 200, "tol": 1e-8});
    let mut g = build("gmm-diag", "default", Some(&over)).unwrap();
    let r = evaluate_against(g.as_mut(), &split.train, &split.test, 0, Some(&toy)).unwrap();
    let kl = r.report.metrics["kl_to_truth"];
    assert!(kl.abs() < 0.02, "gmm kl {kl}");
    // NLL on test ~ entropy of the truth = NLL of the truth itself on the same test set.
    let true_nll = -toy
        .log_prob(&split.test.x)
        .unwrap()
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((r.report.nll_value().unwrap() - true_nll).abs() < 0.03);
    let mut gauss = build("gaussian", "default", None).unwrap();
    let r = evaluate_against(gauss.as_mut(), &split.train, &split.test, 0, Some(&toy)).unwrap();
    assert!(
        r.report.metrics["kl_to_truth"] > 0.1,
        "{:?}",
        r.report.metrics
    );
}

#[test]
fn baselines_evaluate_images_in_bits_per_dim_bound() {
    // Images whose pixels are iid uniform on 0..=255: the best density on the dequantized
    // data is uniform on [0,1]^D, i.e. 8 bits/dim; a Gaussian must be slightly worse (its
    // entropy per dim for variance 1/12 is 0.5 ln(2 pi e / 12) = 0.176 nats > 0).
    let mut rng = seed::rng(3, "img", 0);
    let mk = |n: i64, rng: &mut rand_chacha::ChaCha8Rng| {
        let v: Vec<u8> = (0..n * 16).map(|_| rng.gen::<u8>()).collect();
        Dataset {
            name: "unif".into(),
            kind: DataKind::Image {
                channels: 1,
                height: 4,
                width: 4,
            },
            x: Tensor::from_slice(&v).reshape([n, 1, 4, 4]),
            y: None,
            num_classes: None,
        }
    };
    let train = mk(4000, &mut rng);
    let test = mk(1000, &mut rng);
    let mut g = build("gaussian", "default", None).unwrap();
    let r = evaluate(g.as_mut(), &train, &test, 0).unwrap();
    let nll = r.report.nll.unwrap();
    assert_eq!(
        (nll.unit, nll.kind),
        (NllUnit::BitsPerDim, LikelihoodKind::Bound)
    );
    let expect = 8.0
        + 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E / 12.0).ln()
            / std::f64::consts::LN_2;
    let nll = nll.value;
    assert!((nll - expect).abs() < 0.02, "bpd {nll} vs {expect}");
    let imgs = samples_as_data(&train.kind, &g.sample(5, 0).unwrap()).unwrap();
    assert_eq!(imgs.size(), vec![5, 1, 4, 4]);
}

#[test]
fn baselines_build_rejects_unknown_names_and_keys() {
    assert!(matches!(
        build("nope", "default", None),
        Err(CoreError::Unknown { .. })
    ));
    let over = serde_json::json!({"bogus": 1});
    match build("gmm-full", "default", Some(&over)) {
        Err(CoreError::Config { key, .. }) => assert_eq!(key, "model.bogus"),
        other => panic!(
            "expected a config error, got {:?}",
            other.map(|m| m.name().to_string())
        ),
    }
    let over = serde_json::json!({"covariance": "diag"});
    assert!(matches!(
        build("gmm-full", "default", Some(&over)),
        Err(CoreError::Config { .. })
    ));
    for s in registry() {
        for p in s.presets {
            assert_eq!(build(s.name, p, None).unwrap().name(), s.name);
        }
    }
}

#[test]
fn baselines_check_input_rejects_bad_tensors() {
    let bad = Tensor::from_slice(&[1.0f64, f64::NAN]).reshape([1, 2]);
    assert!(matches!(
        check_input(&bad, "x", 1, None),
        Err(CoreError::Shape { .. })
    ));
    let v = Tensor::from_slice(&[1.0f64, 2.0]);
    assert!(matches!(
        check_input(&v, "x", 1, None),
        Err(CoreError::Shape { .. })
    ));
    let ok = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
    assert!(check_input(&ok, "x", 1, Some(3)).is_err());
    assert!(check_input(&ok, "x", 1, Some(2)).is_ok());
}

/// The catalogue route (build by name, `Fit`, `evaluate`) gives the numbers of [`evaluate`]; its
/// per-example NLLs average to the report; it refuses gradient steps and use before `fit`.
#[test]
fn baselines_in_the_catalogue_match_evaluate() {
    use genzoo_core::model::{build_model, EvalOptions};
    let (train, test) = toy_split();
    let mut direct = build("gmm-diag", "tiny", None).unwrap();
    let want = evaluate(direct.as_mut(), &train, &test, 4).unwrap().report;
    let mut m = build_model(
        &registry(),
        "gmm-diag",
        Some("tiny"),
        None,
        train.kind,
        None,
        Device::Cpu,
    )
    .unwrap();
    assert_eq!(m.family(), "baseline");
    assert!(
        m.evaluate(&test, &EvalOptions::default()).is_err(),
        "evaluated before fit"
    );
    let fit = m
        .fitter()
        .expect("baselines are fitted")
        .fit(&train, 4)
        .unwrap();
    assert!(fit["params"] > 0.0 && fit.contains_key("iterations"));
    let opts = EvalOptions {
        seed: 4,
        ..EvalOptions::default()
    };
    let got = m.evaluate(&test, &opts).unwrap();
    assert_eq!(got.nll, want.nll);
    assert_eq!(got.metrics["train_nll"], want.metrics["train_nll"]);
    let e = m
        .per_example_nll()
        .unwrap()
        .nll_per_example(&test, &opts)
        .unwrap();
    let mean = e.nll.mean(Kind::Double).double_value(&[]);
    assert!(
        (mean - got.nll_value().unwrap()).abs() < 1e-9,
        "{mean} vs {:?}",
        got.nll
    );
    let x = test.x.narrow(0, 0, 5);
    let lp = m.density().unwrap().log_density(&x).unwrap();
    let by_rows = -e.nll.narrow(0, 0, 5).to_kind(Kind::Float);
    assert!(lp.allclose(&by_rows, 1e-5, 1e-5, false));
    assert_eq!(m.sample(3, 0).unwrap().size(), [3, 2]);
    // k-means has no density: no per-example NLL, no density, and a report without an NLL.
    let mut k = build_model(
        &registry(),
        "kmeans",
        Some("tiny"),
        None,
        train.kind,
        None,
        Device::Cpu,
    )
    .unwrap();
    k.fitter().unwrap().fit(&train, 0).unwrap();
    assert!(k.per_example_nll().is_none() && k.density().is_none());
    assert!(k
        .evaluate(&test, &EvalOptions::default())
        .unwrap()
        .nll
        .is_none());
}

/// A PPCA whose latent dimension reaches the rank of its training covariance,
/// and a Gaussian on constant (all-zero) images whose NLL goes below the 0 a discrete likelihood
/// allows, are named as degenerate fits in their reports, and the negative NLL is `invalid`.
#[test]
fn degenerate_fits_are_named_not_reported_as_results() {
    let mut rng = seed::rng(5, "img", 0);
    let kind = DataKind::Image {
        channels: 1,
        height: 4,
        width: 4,
    };
    let mk = |n: i64, zero: bool, rng: &mut rand_chacha::ChaCha8Rng| {
        let v: Vec<u8> = (0..n * 16)
            .map(|_| if zero { 0 } else { rng.gen::<u8>() })
            .collect();
        Dataset {
            name: "d".into(),
            kind,
            x: Tensor::from_slice(&v).reshape([n, 1, 4, 4]),
            y: None,
            num_classes: None,
        }
    };
    // 8 examples in 16 dimensions: rank 7, and latent_dim 12 >= 7
    let (train, test) = (mk(8, false, &mut rng), mk(20, false, &mut rng));
    let mut p = build(
        "ppca",
        "default",
        Some(&serde_json::json!({"latent_dim": 12})),
    )
    .unwrap();
    let r = evaluate(p.as_mut(), &train, &test, 0).unwrap().report;
    assert_eq!(r.metrics.get("degenerate_fit"), Some(&1.0), "{r:?}");
    assert!(r.data.contains("latent_dim 12 >= rank 7"), "{}", r.data);
    // with room to spare, no flag
    let big = mk(400, false, &mut rng);
    let mut p = build(
        "ppca",
        "default",
        Some(&serde_json::json!({"latent_dim": 4})),
    )
    .unwrap();
    let r = evaluate(p.as_mut(), &big, &test, 0).unwrap().report;
    assert!(!r.metrics.contains_key("degenerate_fit"), "{}", r.data);
    // all-zero images, 8 of them in 16 dimensions with the `tiny` ridge: the Gaussian's
    // density collapses onto the training examples (a training NLL far below 0)
    let (zt, ze) = (mk(8, true, &mut rng), mk(10, true, &mut rng));
    let mut g = build("gaussian", "tiny", None).unwrap();
    let r = evaluate(g.as_mut(), &zt, &ze, 0).unwrap().report;
    assert!(r.metrics["train_nll"] < 0.0, "{r:?}");
    assert_eq!(r.metrics.get("degenerate_fit"), Some(&1.0));
    assert!(r.data.contains("training NLL of -"), "{}", r.data);
    // a negative test NLL is no likelihood at all: `invalid`, and commands fail on it
    let mut m = BTreeMap::new();
    let neg = Nll::new(-2.37, NllUnit::BitsPerDim, LikelihoodKind::Bound);
    let (nll, data) = flag_degenerate(Some(neg), "d".into(), &FitStats::default(), &mut m, kind);
    let nll = nll.unwrap();
    assert_eq!(nll.kind, LikelihoodKind::Invalid);
    assert!(
        data.contains("test NLL of -2.370") && m["degenerate_fit"] == 1.0,
        "{data}"
    );
    let r = genzoo_core::model::EvalReport {
        nll: Some(nll),
        data,
        metrics: m,
    };
    assert!(r.check_valid("gaussian").is_err());
}
