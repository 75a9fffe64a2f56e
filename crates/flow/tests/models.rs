//! Every model (tiny presets): the whole flow (pre-processing + body) round-trips, its log-dets
//! cancel and match autograd's Jacobian (f64); finite losses and gradients at pixel values 0 and
//! 255; NICE's likelihood at initialization in closed form (units bookkeeping); variational
//! dequantization reported as a bound; seeded sampling with temperature; class conditioning;
//! the registry; training lowers the loss.
mod common;

use common::*;
use genzoo_core::data::{Batch, DataKind, Dataset, Split};
use genzoo_core::model::{
    find_spec, BuildArgs, EvalOptions, GenerativeModel, LikelihoodKind, Owned,
};
use genzoo_core::units;
use genzoo_flow::density::FlowCore;
use genzoo_flow::dequant::DequantKind;
use genzoo_flow::models::{glow, iaf, maf, nice, real_nvp, toy_flow};
use genzoo_flow::{registry, Ctx};
use genzoo_train::{TrainConfig, Trainer};
use tch::{nn, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;
const IMG: DataKind = DataKind::Image {
    channels: 1,
    height: 4,
    width: 4,
};

/// Builds a model's variables and flow.
type Builder = Box<dyn FnOnce() -> (nn::VarStore, FlowCore)>;

/// The tiny models with their data kind.
fn tiny_models() -> Vec<(&'static str, Builder, DataKind)> {
    let v8 = DataKind::Vector { dim: 8 };
    vec![
        (
            "nice",
            Box::new(|| {
                let m = nice::Nice::owned(&nice::Config::preset("tiny").unwrap(), IMG, None, CPU)
                    .unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "realnvp",
            Box::new(|| {
                let m = real_nvp::RealNvp::owned(
                    &real_nvp::Config::preset("tiny").unwrap(),
                    IMG,
                    None,
                    CPU,
                )
                .unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "realnvp+bn",
            Box::new(|| {
                let cfg = real_nvp::Config {
                    batch_norm: true,
                    ..real_nvp::Config::preset("tiny").unwrap()
                };
                let m = real_nvp::RealNvp::owned(&cfg, IMG, None, CPU).unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "glow",
            Box::new(|| {
                let m = glow::Glow::owned(&glow::Config::preset("tiny").unwrap(), IMG, None, CPU)
                    .unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "glow-plain-additive",
            Box::new(|| {
                let cfg = glow::Config {
                    lu: false,
                    additive: true,
                    ..glow::Config::preset("tiny").unwrap()
                };
                let m = glow::Glow::owned(&cfg, IMG, None, CPU).unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "maf-img",
            Box::new(|| {
                let cfg = maf::Config {
                    batch_norm: true,
                    ..maf::Config::preset("tiny").unwrap()
                };
                let m = maf::Maf::owned(&cfg, IMG, None, CPU).unwrap();
                (m.vs, m.net.core)
            }),
            IMG,
        ),
        (
            "maf",
            Box::new(move || {
                let m =
                    maf::Maf::owned(&maf::Config::preset("tiny").unwrap(), v8, None, CPU).unwrap();
                (m.vs, m.net.core)
            }),
            v8,
        ),
        (
            "iaf",
            Box::new(move || {
                let m = iaf::Iaf::owned(&iaf::preset("tiny").unwrap(), v8, None, CPU).unwrap();
                (m.vs, m.net.core)
            }),
            v8,
        ),
        (
            "toy-flow",
            Box::new(|| {
                let m = toy_flow::ToyFlow::owned(
                    &toy_flow::Config::preset("tiny").unwrap(),
                    DataKind::Vector { dim: 2 },
                    None,
                    CPU,
                )
                .unwrap();
                (m.vs, m.net.core)
            }),
            DataKind::Vector { dim: 2 },
        ),
    ]
}

fn continuous_input(kind: DataKind, kind_t: Kind) -> Tensor {
    tch::manual_seed(3);
    match kind {
        DataKind::Image { .. } => {
            // Unit-interval values including both pixel edges.
            let y = Tensor::rand([2, 1, 4, 4], (kind_t, CPU)) * 0.9 + 0.05;
            let _ = y.get(0).get(0).get(0).fill_(0.0);
            let _ = y.get(1).get(0).get(3).fill_(255.9 / 256.0);
            y
        }
        DataKind::Vector { dim } => Tensor::randn([3, dim], (kind_t, CPU)),
        other => panic!("no flow test input for {other:?}"),
    }
}

#[test]
fn every_model_round_trips_and_its_log_det_matches_autograd() {
    for (name, build, kind) in tiny_models() {
        let (mut vs, core) = build();
        perturb(&vs, 0.05, 11);
        vs.double();
        let y = continuous_input(kind, Kind::Double);
        let ctx = Ctx::eval();
        check_round_trip(name, &core, &y, &ctx, 1e-8);
        // The logit's log-det comes from genzoo_core::units in f32.
        let tol = if matches!(kind, DataKind::Image { .. })
            && !name.starts_with("glow")
            && name != "nice"
        {
            1e-3
        } else {
            1e-7
        };
        check_jacobian(name, &core, &y, &ctx, tol);
        vs.float();
        let y = continuous_input(kind, Kind::Float);
        check_round_trip(name, &core, &y, &ctx, 1e-4);
        // Forward in training mode gives finite values, too.
        let (z, ld) = core.to_latent(&y, &Ctx::train()).unwrap();
        assert!(
            bool::try_from(z.isfinite().all()).unwrap()
                && bool::try_from(ld.isfinite().all()).unwrap(),
            "{name}"
        );
    }
}

fn u8_images(vals: &[u8]) -> Tensor {
    let n = vals.len() as i64;
    Tensor::from_slice(vals)
        .view([n, 1, 1, 1])
        .expand([n, 1, 4, 4], false)
        .contiguous()
}

#[test]
fn no_nan_or_inf_at_pixel_edges() {
    for (name, build, kind) in tiny_models() {
        if !kind.is_image() {
            continue;
        }
        let (vs, core) = build();
        perturb(&vs, 0.05, 12);
        let x = u8_images(&[0, 255, 0, 255]);
        let batch = Batch {
            x: x.shallow_clone(),
            y: None,
            kind,
        };
        let losses = core.losses(&batch).unwrap();
        for (part, t) in losses.parts() {
            assert!(t.double_value(&[]).is_finite(), "{name}: {part} not finite");
        }
        losses.total().unwrap().backward();
        for (vname, v) in vs.variables() {
            if v.requires_grad() && v.grad().defined() {
                assert!(
                    bool::try_from(v.grad().isfinite().all()).unwrap(),
                    "{name}: gradient of {vname}"
                );
            }
        }
        let ds = Dataset {
            name: "edges/test".into(),
            kind,
            x,
            y: None,
            num_classes: None,
        };
        let rep = core
            .evaluate(
                &ds,
                &EvalOptions {
                    batch_size: 2,
                    ..EvalOptions::default()
                },
            )
            .unwrap();
        assert!(
            rep.nll_value().unwrap().is_finite() && rep.metrics["recon_error"] < 1e-4,
            "{name}: {rep:?}"
        );
        let s = core.sample(3, 1.0, 0, None).unwrap();
        assert!(
            bool::try_from(s.isfinite().all()).unwrap(),
            "{name}: samples"
        );
    }
}

/// NICE at initialization is the identity map (zero-initialized coupling outputs, zero log-scale)
/// followed by a standard logistic: its bits/dim on dequantized pixels has a closed form.
#[test]
fn nice_at_init_is_a_logistic_density_with_the_discretization_term() {
    let m = nice::Nice::owned(&nice::Config::preset("tiny").unwrap(), IMG, None, CPU).unwrap();
    tch::manual_seed(0);
    let x = (Tensor::rand([6, 1, 4, 4], (Kind::Float, CPU)) * 255.0).to_kind(Kind::Uint8);
    let ds = Dataset {
        name: "rand/test".into(),
        kind: IMG,
        x: x.shallow_clone(),
        y: None,
        num_classes: None,
    };
    let opts = EvalOptions {
        batch_size: 6,
        seed: 4,
        ..EvalOptions::default()
    };
    let rep = m.evaluate(&ds, &opts).unwrap();
    // Reproduce the evaluation's dequantization noise.
    genzoo_core::seed::seed_torch_stream(4, "flow-eval", 0);
    let y = genzoo_core::data::transforms::dequantize(&x)
        .unwrap()
        .to_kind(Kind::Double);
    let log_logistic = -(&y) - (-&y).softplus() * 2.0;
    let nll = -log_logistic.sum(Kind::Double).double_value(&[]) / 6.0 + 16.0 * 256f64.ln();
    let bpd = nll / (16.0 * std::f64::consts::LN_2);
    assert!(
        (rep.nll_value().unwrap() - bpd).abs() < 1e-4,
        "{} vs {bpd}",
        rep.nll.unwrap()
    );
    assert_eq!(
        rep.nll.map(|n| (n.unit, n.kind)),
        Some((units::NllUnit::BitsPerDim, LikelihoodKind::Bound))
    );
    assert!(rep.data.contains("uniformly dequantized"));
}

#[test]
fn variational_dequantization_is_reported_as_a_bound() {
    let cfg = real_nvp::Config {
        dequant: DequantKind::Variational,
        ..real_nvp::Config::preset("tiny").unwrap()
    };
    let m = real_nvp::RealNvp::owned(&cfg, IMG, None, CPU).unwrap();
    perturb(&m.vs, 0.05, 3);
    let x = u8_images(&[0, 255, 17, 200]);
    let ds = Dataset {
        name: "edges/test".into(),
        kind: IMG,
        x: x.shallow_clone(),
        y: None,
        num_classes: None,
    };
    let rep = m
        .evaluate(
            &ds,
            &EvalOptions {
                batch_size: 4,
                ..EvalOptions::default()
            },
        )
        .unwrap();
    assert_eq!(rep.nll.map(|n| n.kind), Some(LikelihoodKind::Bound));
    assert!(rep.nll_value().unwrap().is_finite() && rep.metrics.contains_key("log_q"));
    // The bound's log q(u|x) enters the loss and gets gradients (q is trained jointly).
    let losses = m
        .net
        .core
        .losses(&Batch {
            x,
            y: None,
            kind: IMG,
        })
        .unwrap();
    losses.total().unwrap().backward();
    let g =
        m.vs.variables()
            .into_iter()
            .filter(|(n, _)| n.starts_with("dequant"))
            .map(|(_, v)| max_abs(&v.grad()))
            .fold(0.0, f64::max);
    assert!(g > 0.0);
}

#[test]
fn sampling_is_seeded_and_takes_a_temperature() {
    let m = glow::Glow::owned(&glow::Config::preset("tiny").unwrap(), IMG, None, CPU).unwrap();
    perturb(&m.vs, 0.05, 5);
    let a = m.sample(4, 1).unwrap();
    assert_eq!(a.size(), vec![4, 1, 4, 4]);
    assert!(a.equal(&m.sample(4, 1).unwrap()));
    assert!(!a.equal(&m.sample(4, 2).unwrap()));
    assert!(bool::try_from(a.ge(0.0).logical_and(&a.le(1.0)).all()).unwrap());
    // At temperature 0 every sample is the image of the prior's mode.
    let z = m.net.core.sample(3, 0.0, 9, None).unwrap();
    assert!(max_abs(&(z.get(0) - z.get(2))) < 1e-6);
    assert!(m.net.core.sample(3, -1.0, 9, None).is_err());
    // Vectors: spread grows with the temperature.
    let t = toy_flow::ToyFlow::owned(
        &toy_flow::Config::preset("tiny").unwrap(),
        DataKind::Vector { dim: 2 },
        None,
        CPU,
    )
    .unwrap();
    let s1 = t
        .net
        .core
        .sample(2000, 1.0, 0, None)
        .unwrap()
        .std(true)
        .double_value(&[]);
    let s2 = t
        .net
        .core
        .sample(2000, 0.5, 0, None)
        .unwrap()
        .std(true)
        .double_value(&[]);
    assert!((s2 / s1 - 0.5).abs() < 0.05, "{s1} {s2}");
}

#[test]
fn conditional_realnvp_depends_on_the_class() {
    let specs = registry();
    let spec = find_spec(&specs, "cond-realnvp").unwrap();
    let args = BuildArgs {
        preset: "tiny",
        overrides: None,
        data: IMG,
        num_classes: Some(3),
        device: CPU,
    };
    let model = (spec.build)(&args).unwrap();
    let missing = BuildArgs {
        num_classes: None,
        ..args
    };
    assert!((spec.build)(&missing)
        .err()
        .unwrap()
        .to_string()
        .contains("conditional"));
    let m = real_nvp::RealNvp::owned(
        &real_nvp::Config {
            conditional: true,
            ..real_nvp::Config::preset("tiny").unwrap()
        },
        IMG,
        Some(3),
        CPU,
    )
    .unwrap();
    perturb(&m.vs, 0.05, 6);
    let x = u8_images(&[10, 240]);
    tch::manual_seed(0);
    let l0 = m
        .net
        .core
        .nll(&x, Some(&Tensor::from_slice(&[0i64, 0])), false)
        .unwrap()
        .nll;
    tch::manual_seed(0);
    let l1 = m
        .net
        .core
        .nll(&x, Some(&Tensor::from_slice(&[2i64, 2])), false)
        .unwrap()
        .nll;
    assert!(max_abs(&(l0 - l1)) > 1e-4);
    assert!(m.net.core.nll(&x, None, false).is_err());
    let s = m
        .net
        .sample_classes_at(&Tensor::from_slice(&[0i64, 1, 2]), 0.0, 0)
        .unwrap();
    assert!(max_abs(&(s.get(0) - s.get(2))) > 1e-5);
    assert_eq!(model.sample(5, 0).unwrap().size(), vec![5, 1, 4, 4]);
    // The capability: one sample per label, at the model's temperature, out-of-range labels an
    // error; a conditional flow has no label-free reconstruction or density.
    let cs = m
        .class_sampler()
        .expect("a conditional flow samples classes");
    assert_eq!(cs.num_classes(), 3);
    let labels = Tensor::from_slice(&[2i64, 0]);
    let a = cs.sample_classes(&labels, 4).unwrap();
    assert_eq!(a.size(), [2, 1, 4, 4]);
    assert!(a.equal(&cs.sample_classes(&labels, 4).unwrap()));
    assert!(cs.sample_classes(&Tensor::from_slice(&[3i64]), 4).is_err());
    assert!(m.reconstructor().is_none() && m.density().is_none());
    let plain =
        real_nvp::RealNvp::owned(&real_nvp::Config::preset("tiny").unwrap(), IMG, None, CPU)
            .unwrap();
    assert!(plain.class_sampler().is_none() && plain.reconstructor().is_some());
    assert!(
        plain.density().is_none(),
        "images: the density is of dequantized data, not vectors"
    );
    let toy = maf::Maf::owned(
        &maf::Config::preset("tiny").unwrap(),
        DataKind::Vector { dim: 2 },
        None,
        CPU,
    )
    .unwrap();
    let d = toy
        .density()
        .expect("a flow on vectors has an exact density");
    let x = Tensor::from_slice(&[0.1f32, -0.2, 1.0, 0.5]).reshape([2, 2]);
    let lp = d.log_density(&x).unwrap();
    let per = toy
        .per_example_nll()
        .unwrap()
        .nll_per_example(
            &Dataset {
                name: "v".into(),
                kind: DataKind::Vector { dim: 2 },
                x,
                y: None,
                num_classes: None,
            },
            &EvalOptions::default(),
        )
        .unwrap();
    assert!(lp
        .to_kind(Kind::Double)
        .allclose(&-per.nll, 1e-5, 1e-5, false));
}

#[test]
fn registry_builds_every_model_and_rejects_bad_configs() {
    const MNIST28: DataKind = DataKind::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    const CIFAR: DataKind = DataKind::Image {
        channels: 3,
        height: 32,
        width: 32,
    };
    let specs = registry();
    for spec in &specs {
        let data = if (spec.accepts)(&IMG) {
            IMG
        } else {
            DataKind::Vector { dim: 2 }
        };
        let args = BuildArgs {
            preset: "tiny",
            overrides: None,
            data,
            num_classes: Some(10),
            device: CPU,
        };
        let m = (spec.build)(&args).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(m.family(), "flow");
        assert!(m.config_json().is_object());
        // Every listed preset resolves and builds at its own scale: 28x28 images (or CIFAR's
        // 3x32x32 for presets made for it, as Glow's `paper`), or 2-D vectors.
        for preset in spec.presets {
            let at = |data| {
                (spec.build)(&BuildArgs {
                    preset,
                    data,
                    ..args
                })
            };
            let built = if (spec.accepts)(&MNIST28) {
                at(MNIST28).or_else(|_| at(CIFAR))
            } else {
                at(DataKind::Vector { dim: 2 })
            };
            built.unwrap_or_else(|e| panic!("{}/{preset}: {e}", spec.name));
        }
    }
    let glow_spec = find_spec(&specs, "glow").unwrap();
    let bad = serde_json::json!({ "levelz": 3 });
    let args = BuildArgs {
        preset: "tiny",
        overrides: Some(&bad),
        data: IMG,
        num_classes: None,
        device: CPU,
    };
    assert!((glow_spec.build)(&args)
        .err()
        .unwrap()
        .to_string()
        .contains("levelz"));
    let deep = serde_json::json!({ "levels": 3 });
    let args = BuildArgs {
        overrides: Some(&deep),
        ..args
    };
    assert!((glow_spec.build)(&args)
        .err()
        .unwrap()
        .to_string()
        .contains("squeezed"));
    let rn = find_spec(&specs, "realnvp").unwrap();
    let vec_args = BuildArgs {
        preset: "tiny",
        overrides: None,
        data: DataKind::Vector { dim: 2 },
        num_classes: None,
        device: CPU,
    };
    assert!((rn.build)(&vec_args).is_err());
}

#[test]
fn training_lowers_the_nll() {
    // 64 structured 4x4 images: a bright bar at a random row.
    tch::manual_seed(1);
    let rows = Tensor::randint(4, [64], (Kind::Int64, CPU));
    let x = Tensor::zeros([64, 1, 4, 4], (Kind::Float, CPU)) + 20.0;
    let bar = rows.one_hot(4).to_kind(Kind::Float).view([64, 1, 4, 1]) * 200.0;
    let x = (x + bar).to_kind(Kind::Uint8);
    let mk = |name: &str, x: &Tensor| Dataset {
        name: format!("bars/{name}"),
        kind: IMG,
        x: x.shallow_clone(),
        y: None,
        num_classes: None,
    };
    let split = Split {
        train: mk("train", &x),
        test: mk("test", &x),
    };
    for name in ["realnvp", "glow"] {
        let specs = registry();
        let spec = find_spec(&specs, name).unwrap();
        let mut model = (spec.build)(&BuildArgs {
            preset: "tiny",
            overrides: None,
            data: IMG,
            num_classes: None,
            device: CPU,
        })
        .unwrap();
        let opts = EvalOptions {
            batch_size: 64,
            ..EvalOptions::default()
        };
        let before = model
            .evaluate(&split.test, &opts)
            .unwrap()
            .nll_value()
            .unwrap();
        let mut cfg = TrainConfig::quick(60, 32, 5e-3);
        cfg.progress = false;
        let summary = Trainer::new(cfg, None)
            .unwrap()
            .fit(model.as_mut(), &split)
            .unwrap();
        assert_eq!(summary.steps, 60);
        let after = model
            .evaluate(&split.test, &opts)
            .unwrap()
            .nll_value()
            .unwrap();
        assert!(after < before - 0.5, "{name}: {before} -> {after} bits/dim");
    }
}

/// Glow's ActNorm layers are initialized from the first batch once: a second call (a resumed or
/// re-fitted model) leaves them alone; the flag is a checkpointed variable.
#[test]
fn glow_data_dependent_init_happens_once() {
    let mut m = glow::Glow::owned(&glow::Config::preset("tiny").unwrap(), IMG, None, CPU).unwrap();
    let before = m_var(&m, "level0.step0.actnorm.bias");
    assert_eq!(max_abs(&before), 0.0);
    let b1 = Batch {
        x: u8_images(&[0, 30, 200, 255, 90, 140]),
        y: None,
        kind: IMG,
    };
    m.init_from_batch(&b1).unwrap();
    let after = m_var(&m, "level0.step0.actnorm.bias");
    assert!(max_abs(&after) > 1e-3);
    assert_eq!(m_var(&m, "data_init_done").double_value(&[0]), 1.0);
    let b2 = Batch {
        x: u8_images(&[255, 255, 1, 2]),
        y: None,
        kind: IMG,
    };
    m.init_from_batch(&b2).unwrap();
    assert!(after.equal(&m_var(&m, "level0.step0.actnorm.bias")));
    // Models without data-dependent layers have nothing to initialize.
    let mut r =
        real_nvp::RealNvp::owned(&real_nvp::Config::preset("tiny").unwrap(), IMG, None, CPU)
            .unwrap();
    assert!(r.net.core.init_flag.is_none());
    r.init_from_batch(&b1).unwrap();
}

fn m_var(m: &Owned<glow::Glow>, name: &str) -> Tensor {
    m.vs.variables()[name].detach().copy()
}

/// The per-example capability is discoverable without running the model, and its per-example
/// NLLs average to the report's NLL under the same options (same dequantization noise), over
/// several evaluation batches; on vectors the kind is exact.
#[test]
fn per_example_nlls_average_to_the_report() {
    tch::manual_seed(2);
    let images = Dataset {
        name: "noise/test".into(),
        kind: IMG,
        x: Tensor::randint(256, [37, 1, 4, 4], (Kind::Uint8, CPU)),
        y: None,
        num_classes: None,
    };
    let vectors = Dataset {
        name: "gauss/test".into(),
        kind: DataKind::Vector { dim: 2 },
        x: Tensor::randn([23, 2], (Kind::Float, CPU)),
        y: None,
        num_classes: None,
    };
    for (name, data) in [("glow", &images), ("nice", &images), ("maf", &vectors)] {
        let specs = registry();
        let spec = find_spec(&specs, name).unwrap();
        let model = (spec.build)(&BuildArgs {
            preset: "tiny",
            overrides: None,
            data: data.kind,
            num_classes: None,
            device: CPU,
        })
        .unwrap();
        let opts = EvalOptions {
            batch_size: 10,
            seed: 7,
            ..EvalOptions::default()
        };
        let report = model.evaluate(data, &opts).unwrap();
        let cap = model
            .per_example_nll()
            .expect("flows have a per-example NLL");
        let e = cap.nll_per_example(data, &opts).unwrap();
        assert_eq!(e.nll.size(), [data.len()]);
        let want = report.nll.unwrap();
        assert_eq!((e.unit, e.kind), (want.unit, want.kind), "{name}");
        let mean = e.nll.mean(Kind::Double).double_value(&[]);
        let want = want.value;
        assert!(
            (mean - want).abs() < 1e-5 * want.abs().max(1.0),
            "{name}: {mean} vs {want}"
        );
        // Not all equal: they are per-example numbers, not the mean repeated.
        assert!(e.nll.std(true).double_value(&[]) > 1e-6, "{name}");
    }
}
