//! Every model and preset: one training step through the engine's Trainer, one `sample`, and an
//! evaluation report that says what its number is.
use genzoo_core::model::{BuildArgs, EvalOptions, LikelihoodKind};
use genzoo_core::units::NllUnit;
use genzoo_train::{TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

use super::{image_split, vector_split};
use crate::registry;

/// Presets whose data are continuous vectors.
fn is_vector_preset(name: &str, preset: &str) -> bool {
    name == "vae-mlp" && preset == "toy"
}

#[test]
fn every_model_and_preset_trains_one_step_and_samples() {
    let images = image_split(8);
    let vectors = vector_split(8);
    let mut seen = 0;
    for spec in registry() {
        for preset in spec.presets {
            let split = if is_vector_preset(spec.name, preset) {
                &vectors
            } else {
                &images
            };
            assert!(
                (spec.accepts)(&split.train.kind),
                "{} should accept {:?}",
                spec.name,
                split.train.kind
            );
            let args = BuildArgs {
                preset,
                overrides: None,
                data: split.train.kind,
                num_classes: Some(10),
                device: Device::Cpu,
            };
            let mut model =
                (spec.build)(&args).unwrap_or_else(|e| panic!("{}/{preset}: {e}", spec.name));
            assert_eq!(model.family(), "vae");
            assert_eq!(model.name(), spec.name);
            let cfg = TrainConfig {
                progress: false,
                sample_count: 0,
                ..TrainConfig::quick(1, 4, 1e-3)
            };
            let summary = Trainer::new(cfg, None)
                .unwrap()
                .fit(model.as_mut(), split)
                .unwrap_or_else(|e| panic!("{}/{preset}: {e}", spec.name));
            assert_eq!(summary.steps, 1, "{}/{preset}", spec.name);
            let total = summary.last_losses["total"];
            assert!(total.is_finite(), "{}/{preset}: total {total}", spec.name);
            let s = model.sample(3, 7).unwrap();
            let want: Vec<i64> = if split.train.kind.is_image() {
                vec![3, 1, 28, 28]
            } else {
                vec![3, 2]
            };
            assert_eq!(s.size(), want, "{}/{preset}", spec.name);
            assert!(bool::try_from(s.isfinite().all()).unwrap());
            if split.train.kind.is_image() {
                let (lo, hi) = (s.min().double_value(&[]), s.max().double_value(&[]));
                assert!(
                    (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
                    "{}/{preset}: samples in [{lo}, {hi}]",
                    spec.name
                );
            }
            // Seeded: the same seed gives the same samples.
            assert!(
                s.equal(&model.sample(3, 7).unwrap()),
                "{}/{preset} sampling is not seeded",
                spec.name
            );
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} model/preset pairs");
}

#[test]
fn evaluation_reports_say_what_they_are() {
    let split = image_split(12);
    let opts = EvalOptions {
        importance_samples: 4,
        batch_size: 3,
        seed: 0,
        max_examples: Some(5),
    };
    for (name, preset, kind) in [
        ("vae-mlp", "tiny", Some(LikelihoodKind::IsEstimate)),
        ("vae-conv", "tiny", Some(LikelihoodKind::IsEstimate)),
        ("iwae", "tiny", Some(LikelihoodKind::IsEstimate)),
        ("cvae", "tiny", Some(LikelihoodKind::IsEstimate)),
        ("beta-vae", "tiny", Some(LikelihoodKind::IsEstimate)),
        ("vq-vae", "tiny", Some(LikelihoodKind::Bound)),
        ("vq-vae2", "tiny", Some(LikelihoodKind::Bound)),
        ("ae-mlp", "tiny", None),
    ] {
        let spec = registry().into_iter().find(|s| s.name == name).unwrap();
        let args = BuildArgs {
            preset,
            overrides: None,
            data: split.train.kind,
            num_classes: Some(10),
            device: Device::Cpu,
        };
        let model = (spec.build)(&args).unwrap();
        let r = model
            .evaluate(&split.test, &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.nll.map(|n| n.kind), kind, "{name}");
        let nll = r.nll_value().unwrap_or(f64::NAN);
        match kind {
            None => assert!(r.nll.is_none() && r.metrics["recon"] > 0.0),
            Some(_) => {
                assert!(nll.is_finite() && nll > 0.0, "{name}: {nll}");
                assert_eq!(r.nll.map(|n| n.unit), Some(NllUnit::Nats));
                assert!(r.data.contains("static binarization"), "{name}: {}", r.data);
            }
        }
        if kind == Some(LikelihoodKind::IsEstimate) {
            // The k-sample estimate is at least as tight as the ELBO on average (k = 4, 5 digits:
            // allow a little Monte-Carlo slack).
            assert!(
                nll <= r.metrics["neg_elbo"] + 1.0,
                "{name}: IS {nll} vs -ELBO {}",
                r.metrics["neg_elbo"]
            );
            assert!(r.metrics["mutual_info_nats"] <= (5f64).ln() + 1e-6);
            assert!(r.metrics.contains_key("kl_dim/000") && r.metrics.contains_key("active_units"));
            assert!(r.data.contains("k=4"));
        }
    }
}

#[test]
fn eight_bit_models_report_bits_per_dim() {
    let split = image_split(6);
    let opts = EvalOptions {
        importance_samples: 2,
        batch_size: 4,
        seed: 0,
        max_examples: Some(4),
    };
    for (name, preset) in [
        ("vae-conv", "conv-logistic"),
        ("vae-conv", "conv-categorical"),
    ] {
        let spec = registry().into_iter().find(|s| s.name == name).unwrap();
        let args = BuildArgs {
            preset,
            overrides: None,
            data: split.train.kind,
            num_classes: None,
            device: Device::Cpu,
        };
        tch::manual_seed(0); // the initial weights
        let r = (spec.build)(&args)
            .unwrap()
            .evaluate(&split.test, &opts)
            .unwrap();
        assert_eq!(r.nll.map(|n| n.unit), Some(NllUnit::BitsPerDim));
        let bpd = r.nll_value().unwrap();
        let nats = r.metrics["nll_nats"];
        assert!((bpd - genzoo_core::units::nats_to_bits_per_dim(nats, 784)).abs() < 1e-9);
        // An untrained model over uniform random levels: more than the data's 8 bits/dim in
        // expectation is possible (narrow initial scales put little mass on most levels), but
        // finite and of the order of tens.
        assert!(bpd > 1.0 && bpd < 64.0, "{name}/{preset}: {bpd} bits/dim");
    }
}

#[test]
fn overrides_and_unknown_keys() {
    let spec = registry()
        .into_iter()
        .find(|s| s.name == "beta-vae")
        .unwrap();
    let over = serde_json::json!({"beta": 8.0, "latent_dim": 5});
    let kind = image_split(2).train.kind;
    let args = BuildArgs {
        preset: "tiny",
        overrides: Some(&over),
        data: kind,
        num_classes: None,
        device: Device::Cpu,
    };
    let m = (spec.build)(&args).unwrap();
    assert_eq!(m.config_json()["beta"], 8.0);
    assert_eq!(m.config_json()["latent_dim"], 5);
    let bad = serde_json::json!({"betta": 8.0});
    let args = BuildArgs {
        overrides: Some(&bad),
        ..args
    };
    let err = (spec.build)(&args).err().unwrap().to_string();
    assert!(err.contains("betta"), "{err}");
    let args = BuildArgs {
        preset: "nope",
        overrides: None,
        ..args
    };
    assert!((spec.build)(&args)
        .err()
        .unwrap()
        .to_string()
        .contains("nope"));
}

#[test]
fn active_units_and_collapse_from_a_constructed_encoder() {
    // A linear encoder whose first latent follows the input and whose others ignore it.
    let (vs, vae) = super::tiny_vae(11);
    let vars = vs.variables();
    for (n, t) in vars.iter() {
        if n.starts_with("enc.") {
            let _ = tch::no_grad(|| t.shallow_clone().zero_());
        }
    }
    // h = relu(fc0 x): make unit 0 = sum of pixels; mu_0 = h_0; logvar = 0 everywhere.
    let w = Tensor::zeros([32, 784], (Kind::Float, Device::Cpu));
    let _ = w.get(0).fill_(0.05);
    super::set_var(&vs, "enc.fc0.weight", &w);
    let head = Tensor::zeros([8, 32], (Kind::Float, Device::Cpu));
    let _ = head.get(0).get(0).fill_(1.0);
    super::set_var(&vs, "enc.out.weight", &head);
    let split = image_split(40);
    let opts = EvalOptions {
        importance_samples: 2,
        batch_size: 16,
        seed: 0,
        max_examples: None,
    };
    let r = genzoo_core::model::Network::evaluate(&vae, &split.test, &opts).unwrap();
    assert_eq!(r.metrics["active_units"], 1.0, "{:?}", r.metrics);
    assert_eq!(r.metrics["collapsed_dims"], 3.0);
    assert!(r.metrics["kl_dim/001"].abs() < 1e-6 && r.metrics["kl_dim/000"] > 0.01);
    assert_eq!(r.metrics["posterior_collapse"], 0.0);
}

#[test]
fn grids_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (_vs, vae) = super::tiny_vae(12);
    let x = super::images(4, 3).x;
    crate::viz::save_interpolations(
        dir.path().join("interp.png"),
        &vae.lat,
        &x.narrow(0, 0, 2),
        &x.narrow(0, 2, 2),
        5,
    )
    .unwrap();
    crate::viz::save_traversals(dir.path().join("trav.png"), &vae.lat, &x, 3.0, 6).unwrap();
    let t = crate::viz::traversals(&vae.lat, &x, 3.0, 6).unwrap();
    assert_eq!(t.size(), vec![4 * 6, 1, 28, 28]);
    let i =
        crate::viz::interpolations(&vae.lat, &x.narrow(0, 0, 2), &x.narrow(0, 2, 2), 5).unwrap();
    // The interpolation's end points decode the posterior means of the two images.
    let ends = crate::viz::decode_images(
        &vae.lat,
        &tch::no_grad(|| {
            let p = vae
                .lat
                .lik
                .prepare(&x.narrow(0, 0, 1), crate::obs::Mode::Eval { seed: 0 })
                .unwrap();
            vae.lat.encode(&p.input, None).unwrap().loc
        }),
    )
    .unwrap();
    assert!(i.get(0).allclose(&ends.get(0), 1e-5, 1e-5, false));
    let spec = registry()
        .into_iter()
        .find(|s| s.name == "vae-mlp")
        .unwrap();
    let args = BuildArgs {
        preset: "tiny",
        overrides: None,
        data: crate::vae::MNIST,
        num_classes: None,
        device: Device::Cpu,
    };
    let m = (spec.build)(&args).unwrap();
    crate::viz::save_reconstructions(dir.path().join("rec.png"), m.as_ref(), &x, 4, 4).unwrap();
    crate::viz::save_samples(dir.path().join("s.png"), m.as_ref(), 8, 0, 4).unwrap();
    for f in ["interp.png", "trav.png", "rec.png", "s.png"] {
        assert!(
            std::fs::metadata(dir.path().join(f)).unwrap().len() > 100,
            "{f}"
        );
    }
}

/// The latent-variable models expose a per-example NLL whose mean is the report's IS estimate
/// (same k, same static binarization seed, several batches); the plain autoencoder has none.
#[test]
fn per_example_nlls_average_to_the_report() {
    let split = image_split(8);
    let test = &split.test;
    assert!(test.len() >= 3);
    let opts = EvalOptions {
        importance_samples: 6,
        batch_size: 2,
        seed: 3,
        ..EvalOptions::default()
    };
    for name in ["vae-mlp", "iwae", "cvae", "ae-mlp"] {
        let model = crate::build(name, Some("tiny"), &split.train, Device::Cpu).unwrap();
        let Some(cap) = model.per_example_nll() else {
            assert_eq!(name, "ae-mlp", "{name} lost its per-example NLL");
            continue;
        };
        // The report draws its importance samples from torch's generator: reseed for both.
        tch::manual_seed(11);
        let report = model.evaluate(test, &opts).unwrap();
        tch::manual_seed(11);
        let e = cap.nll_per_example(test, &opts).unwrap();
        assert_eq!(e.nll.size(), [test.len()]);
        let want = report.nll.unwrap();
        assert_eq!((e.unit, e.kind), (want.unit, LikelihoodKind::IsEstimate));
        let mean = e.nll.mean(Kind::Double).double_value(&[]);
        let want = want.value;
        assert!(
            (mean - want).abs() < 1e-4 * want,
            "{name}: {mean} vs {want}"
        );
        assert!(e.nll.std(true).double_value(&[]) > 1e-6, "{name}");
    }
}

/// Capabilities are discoverable without running the model, and each works: partial sampling
/// keeps the known values bit for bit and is seeded; class-conditional sampling gives one sample
/// per label and rejects labels outside the classes; the VQ models expose their code prior.
#[test]
fn capabilities_are_discoverable_and_work() {
    let split = image_split(8);
    let vae = crate::build("vae-mlp", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let x = split.test.x.narrow(0, 0, 3);
    let known = Tensor::ones_like(&x).to_kind(Kind::Bool);
    let _ = known.narrow(3, 14, 14).fill_(0); // the right half of each digit is unknown
    let p = vae.partial_sampler().expect("a VAE completes inputs");
    let a = p.complete(&x, &known, 5).unwrap();
    let b = p.complete(&x, &known, 5).unwrap();
    let c = p.complete(&x, &known, 6).unwrap();
    let x_unit = x.to_kind(Kind::Float) / 255.0;
    assert_eq!(a.size(), x.size());
    assert!(a.masked_select(&known).equal(&x_unit.masked_select(&known)));
    assert!(a.equal(&b), "the same seed completes the same way");
    assert!(!a.equal(&c), "another seed draws another completion");
    let all = Tensor::ones_like(&x).to_kind(Kind::Bool);
    assert!(p.complete(&x, &all, 0).unwrap().equal(&x_unit));
    assert!(p.complete(&x, &known.narrow(0, 0, 2), 0).is_err());
    assert!(vae.class_sampler().is_none() && vae.code_prior().is_none());

    let cvae = crate::build("cvae", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let cs = cvae.class_sampler().expect("a cVAE samples classes");
    assert_eq!(cs.num_classes(), 10);
    let labels = Tensor::from_slice(&[3i64, 3, 7]);
    let s = cs.sample_classes(&labels, 1).unwrap();
    assert_eq!(s.size(), [3, 1, 28, 28]);
    assert!(cs.sample_classes(&Tensor::from_slice(&[10i64]), 1).is_err());
    assert!(
        cvae.reconstructor().is_none(),
        "reconstruction needs labels the trait lacks"
    );

    let vq = crate::build("vq-vae", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let prior = vq.code_prior().expect("VQ-VAE has a code prior");
    let codes = prior.sample(4, 0).unwrap();
    let (h, w) = prior.grid();
    assert_eq!(codes.size(), [4, h, w]);
    // The default prior starts uniform: log pi = -h w log K for any codes.
    let lp = prior.log_prob(&codes).unwrap();
    let want = -((h * w) as f64) * (prior.num_codes() as f64).ln();
    assert!(
        (lp.double_value(&[0]) - want).abs() < 1e-3,
        "{lp:?} vs {want}"
    );
}

/// A VQ model's prior can be replaced by any `CodePrior` of its grid and codebook size (a
/// PixelCNN over codes); the evaluated bound then uses it, and a mismatched one is refused.
#[test]
fn vq_prior_is_replaceable() {
    use genzoo_core::model::{CodePrior, GenerativeModel};
    #[derive(Debug)]
    struct Uniform {
        k: i64,
        grid: (i64, i64),
    }
    impl CodePrior for Uniform {
        fn num_codes(&self) -> i64 {
            self.k
        }
        fn grid(&self) -> (i64, i64) {
            self.grid
        }
        fn log_prob(&self, codes: &Tensor) -> genzoo_core::Result<Tensor> {
            let n = codes.size()[0];
            let v = -((self.grid.0 * self.grid.1) as f64) * (self.k as f64).ln();
            Ok(Tensor::full([n], v, (Kind::Float, Device::Cpu)))
        }
        fn sample(&self, n: i64, seed: u64) -> genzoo_core::Result<Tensor> {
            tch::manual_seed(seed as i64);
            Ok(Tensor::randint(
                self.k,
                [n, self.grid.0, self.grid.1],
                (Kind::Int64, Device::Cpu),
            ))
        }
    }
    let split = image_split(8);
    let cfg = crate::vq_vae::Config::preset("tiny").unwrap();
    let mut m =
        genzoo_core::model::Owned::build(Device::Cpu, |p| crate::vq_vae::VqVae::new(p, &cfg))
            .unwrap();
    let grid = m.net.code_prior_grid();
    let opts = EvalOptions {
        batch_size: 4,
        ..EvalOptions::default()
    };
    assert!(m
        .net
        .set_prior(Box::new(Uniform {
            k: cfg.codebook_size + 1,
            grid
        }))
        .is_err());
    m.net
        .set_prior(Box::new(Uniform {
            k: cfg.codebook_size,
            grid,
        }))
        .unwrap();
    let r = m.evaluate(&split.test, &opts).unwrap();
    let want = (grid.0 * grid.1) as f64 * (cfg.codebook_size as f64).ln();
    assert!(
        (r.metrics["prior_nats"] - want).abs() < 1e-3,
        "{} vs {want}",
        r.metrics["prior_nats"]
    );
    assert_eq!(m.sample(2, 0).unwrap().size(), [2, 1, 28, 28]);
}

/// Evaluation options are checked, not silently mended: k = 0 importance
/// samples is an error naming the key, in the library as in `train` and `eval`.
#[test]
fn zero_importance_samples_is_an_error_naming_the_key() {
    let split = image_split(4);
    let vae = crate::build("vae-mlp", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let opts = EvalOptions {
        importance_samples: 0,
        ..EvalOptions::default()
    };
    let e = vae.evaluate(&split.test, &opts).unwrap_err().to_string();
    assert!(e.contains("eval.importance_samples"), "{e}");
    let e = vae
        .per_example_nll()
        .unwrap()
        .nll_per_example(&split.test, &opts)
        .unwrap_err();
    assert!(e.to_string().contains("eval.importance_samples"));
}
