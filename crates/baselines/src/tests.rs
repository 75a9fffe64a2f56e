//! Tests of the baseline registry, input checks and [`super::evaluate`] (units, likelihood
//! kinds, KL to a known truth).
use super::*;

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
    assert_eq!(r.report.unit, NllUnit::Nats);
    assert_eq!(r.report.kind, LikelihoodKind::Exact);
    // True density: independent N(1, 4) x N(1, 0.25): entropy = ln(2 pi e) + ln(2 * 0.5).
    let entropy = LN_2PI + 1.0;
    let nll = r.report.nll.unwrap();
    assert!(
        (nll - entropy).abs() < 0.15,
        "nll {nll} vs entropy {entropy}"
    );
    assert_eq!(r.params, 2 + 3);
    let mut k = build("kmeans", "tiny", None).unwrap();
    let r = evaluate(k.as_mut(), &train, &test, 0).unwrap();
    assert_eq!(r.report.kind, LikelihoodKind::None);
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
    assert!((r.report.nll.unwrap() - true_nll).abs() < 0.03);
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
    assert_eq!(r.report.unit, NllUnit::BitsPerDim);
    assert_eq!(r.report.kind, LikelihoodKind::Bound);
    let expect = 8.0
        + 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E / 12.0).ln()
            / std::f64::consts::LN_2;
    let nll = r.report.nll.unwrap();
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
    for s in SPECS {
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
