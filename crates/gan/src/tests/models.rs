//! Every model and preset through the engine's `Trainer`, every objective on both models, the
//! DCGAN sizes, evaluation reports and configuration errors.
use genzoo_core::data::DataKind;
use genzoo_core::model::{EvalOptions, Owned};
use genzoo_core::CoreError;
use genzoo_train::Trainer;
use tch::{Device, Kind, Tensor};

use super::{build, image_split, quick, toy_split};
use crate::game::{Adversarial, Gan};
use crate::objective::Objective;
use crate::{dcgan, eval, registry};

#[test]
fn every_model_and_preset_trains_one_step_and_samples() {
    let (grey, rgb, toy) = (image_split(8, 1, 28), image_split(8, 3, 32), toy_split(8));
    let labelled = super::labelled_split(8, 10);
    let mut seen = 0;
    for spec in registry() {
        assert_eq!(spec.family, "gan");
        for &preset in spec.presets {
            let split = match (spec.name, preset) {
                (_, "toy") => &toy,
                ("dcgan", "paper") => &rgb,
                ("cgan", _) => &labelled,
                _ => &grey,
            };
            let what = format!("{}/{preset}", spec.name);
            assert!((spec.accepts)(&split.train.kind), "{what}");
            let mut m = build(spec.name, preset, serde_json::json!({}), split.train.kind);
            assert_eq!((m.name(), m.family().as_str()), (spec.name, "gan"));
            let groups: Vec<String> = m.param_groups().into_iter().map(|g| g.name).collect();
            assert_eq!(groups, ["disc", "gen"], "{what}");
            let s = Trainer::new(quick(1, 4), None)
                .unwrap()
                .fit(m.as_mut(), split)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            for part in ["d_loss", "g_loss", "d_real", "d_fake"] {
                assert!(s.last_losses[part].is_finite(), "{what}: {part}");
            }
            let x = m.sample(3, 7).unwrap();
            let mut want = vec![3];
            want.extend(split.train.kind.example_shape());
            assert_eq!(x.size(), want, "{what}");
            assert_eq!(x.kind(), Kind::Float);
            if split.train.kind.is_image() {
                let (lo, hi) = (x.min().double_value(&[]), x.max().double_value(&[]));
                assert!(lo >= 0.0 && hi <= 1.0, "{what}: [{lo}, {hi}]");
            }
            assert!(x.equal(&m.sample(3, 7).unwrap()), "{what}: not seeded");
            assert!(!x.equal(&m.sample(3, 8).unwrap()), "{what}: seed ignored");
            seen += 1;
        }
    }
    assert_eq!(seen, 27);
}

#[test]
fn every_objective_trains_dcgan_and_reports_what_it_scores() {
    let split = image_split(8, 1, 28);
    for o in Objective::all() {
        let norm = if o == Objective::WganGp {
            "layer"
        } else {
            "batch"
        };
        let over = serde_json::json!({"objective": o, "disc_norm": norm, "n_critic": 1});
        let mut m = build("dcgan", "tiny", over, split.train.kind);
        let s = Trainer::new(quick(2, 4), None)
            .unwrap()
            .fit(m.as_mut(), &split)
            .unwrap_or_else(|e| panic!("{o:?}: {e}"));
        assert!(s.last_losses.values().all(|v| v.is_finite()), "{o:?}");
        let extra = match o {
            Objective::Minimax | Objective::NonSaturating => Some("gan_value"),
            Objective::WganClip => Some("wasserstein"),
            Objective::WganGp => Some("gp"),
            Objective::FGan(_) => Some("f_bound"),
            _ => None,
        };
        if let Some(k) = extra {
            assert!(s.last_losses.contains_key(k), "{o:?}: {:?}", s.last_losses);
        }
        let opts = EvalOptions {
            max_examples: Some(6),
            batch_size: 4,
            ..EvalOptions::default()
        };
        let r = m.evaluate(&split.test, &opts).unwrap();
        assert!(r.nll.is_none());
        let wgan = matches!(o, Objective::WganClip | Objective::WganGp);
        assert_eq!(r.metrics.contains_key("disc_accuracy"), !wgan, "{o:?}");
        for k in ["d_real", "d_fake", "disc_auc", "d_loss", "g_loss"] {
            assert!(r.metrics[k].is_finite(), "{o:?}: {k}");
        }
        assert!(r.data.contains(&o.label()), "{}", r.data);
    }
}

#[test]
fn dcgan_goes_7_14_28_for_grey_and_4_8_16_32_for_rgb() {
    assert_eq!(dcgan::levels(28), Some((7, 2)));
    assert_eq!(dcgan::levels(32), Some((4, 3)));
    assert_eq!(dcgan::levels(64), Some((4, 4)));
    assert_eq!(dcgan::levels(7), None);
    let mnist = dcgan::Config::preset("mnist").unwrap();
    let m = Owned::build(Device::Cpu, |p| dcgan::Dcgan::new(p, &mnist)).unwrap();
    let size = |n: &str| m.vs.variables().get(n).map(Tensor::size);
    assert_eq!(size("gen.fc.weight"), Some(vec![64 * 7 * 7, 64]));
    assert_eq!(size("gen.bn0.weight"), Some(vec![64]));
    assert_eq!(size("gen.tconv1.weight"), Some(vec![64, 32, 4, 4]));
    assert_eq!(size("gen.bn1.weight"), Some(vec![32]));
    assert_eq!(size("gen.tconv2.weight"), Some(vec![32, 1, 4, 4]));
    assert_eq!(size("gen.bn2.weight"), None, "no batch norm on the output");
    assert_eq!(size("disc.conv1.weight"), Some(vec![32, 1, 4, 4]));
    assert_eq!(
        size("disc.norm1.weight"),
        None,
        "no batch norm on the first layer"
    );
    assert_eq!(size("disc.conv2.weight"), Some(vec![64, 32, 4, 4]));
    assert_eq!(size("disc.norm2.weight"), Some(vec![64]));
    assert_eq!(size("disc.fc.weight"), Some(vec![1, 64 * 7 * 7]));
    let paper = dcgan::Config::preset("paper").unwrap();
    let m = Owned::build(Device::Cpu, |p| dcgan::Dcgan::new(p, &paper)).unwrap();
    let size = |n: &str| m.vs.variables().get(n).map(Tensor::size);
    assert_eq!(size("gen.fc.weight"), Some(vec![512 * 4 * 4, 100]));
    assert_eq!(size("gen.tconv3.weight"), Some(vec![128, 3, 4, 4]));
    assert_eq!(size("disc.conv3.weight"), Some(vec![512, 256, 4, 4]));
    assert_eq!(size("disc.fc.weight"), Some(vec![1, 512 * 4 * 4]));
    for (c, side) in [(1, 28), (3, 32), (3, 64)] {
        let cfg = dcgan::Config {
            data: DataKind::Image {
                channels: c,
                height: side,
                width: side,
            },
            ..dcgan::Config::preset("tiny").unwrap()
        };
        let m = Owned::build(Device::Cpu, |p| dcgan::Dcgan::new(p, &cfg)).unwrap();
        let z = Tensor::randn([2, cfg.latent_dim], (Kind::Float, Device::Cpu));
        let x = m.net.generate(&z, None, true).unwrap();
        assert_eq!(x.size(), [2, c, side, side]);
        assert!(x.abs().max().double_value(&[]) <= 1.0, "tanh output");
        assert_eq!(m.net.discriminate(&x, None, true).unwrap().size(), [2]);
        // Sampling uses running statistics: a row does not depend on its batch; training uses
        // the batch's.
        let first = |train: bool| m.net.generate(&z.narrow(0, 0, 1), None, train).unwrap();
        let (pair, pair_eval) = (x.narrow(0, 0, 1), m.net.generate(&z, None, false).unwrap());
        assert!(first(false).allclose(&pair_eval.narrow(0, 0, 1), 1e-5, 1e-6, false));
        if side == 28 {
            assert!(
                !first(true).allclose(&pair, 1e-3, 1e-3, false),
                "batch norm in training"
            );
        }
    }
}

#[test]
fn auc_counts_wins_and_half_ties() {
    let t = |v: &[f64]| Tensor::from_slice(v);
    // (1 > 0), (1 < 2), (2 > 0), (2 = 2: 1/2), (3 > 0), (3 > 2): 4.5 of 6.
    assert!((eval::auc(&t(&[1.0, 2.0, 3.0]), &t(&[0.0, 2.0])).unwrap() - 0.75).abs() < 1e-12);
    assert_eq!(eval::auc(&t(&[5.0]), &t(&[1.0, 2.0])).unwrap(), 1.0);
    assert!(eval::auc(&t(&[]), &t(&[1.0])).is_err());
}

#[test]
fn evaluation_on_the_eight_gaussians_counts_modes_and_is_seeded() {
    let split = toy_split(400);
    let m = build("gan-mlp", "toy", serde_json::json!({}), split.train.kind);
    let opts = EvalOptions::default();
    let r = m.evaluate(&split.test, &opts).unwrap();
    assert!(r.nll.is_none());
    assert_eq!(r.metrics["modes"], 8.0);
    assert!((0.0..=8.0).contains(&r.metrics["modes_covered"]));
    assert!(
        r.data
            .contains("eight-gaussians/test (400) against 400 samples"),
        "{}",
        r.data
    );
    assert!(r.data.contains("no likelihood"), "{}", r.data);
    let again = m.evaluate(&split.test, &opts).unwrap();
    assert_eq!(r.metrics, again.metrics);
    // Random images are no toy: no mode counts.
    let images = image_split(8, 1, 28);
    let m = build("gan-mlp", "tiny", serde_json::json!({}), images.train.kind);
    let r = m.evaluate(&images.test, &opts).unwrap();
    assert!(!r.metrics.contains_key("modes") && (0.0..=1.0).contains(&r.metrics["disc_auc"]));
}

#[test]
fn bad_settings_and_data_are_refused_by_name() {
    let grey = DataKind::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    let key = |name: &str, over: serde_json::Value, kind: DataKind| -> String {
        genzoo_core::model::build_model(
            &registry(),
            name,
            Some("tiny"),
            Some(&over),
            kind,
            None,
            Device::Cpu,
        )
        .err()
        .map(|e| match e {
            CoreError::Config { key, .. } => key,
            other => format!("not a config error: {other}"),
        })
        .unwrap_or_else(|| "built".into())
    };
    assert_eq!(
        key("gan-mlp", serde_json::json!({"n_critic": 0}), grey),
        "n_critic"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"gp_lambda": -1.0}), grey),
        "gp_lambda"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"max_loss": 0.0}), grey),
        "max_loss"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"latent_dim": 0}), grey),
        "latent_dim"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"gen_hidden": [0]}), grey),
        "gen_hidden"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"n_critics": 2}), grey),
        "model.n_critics"
    );
    assert_eq!(
        key("gan-mlp", serde_json::json!({"objective": "wgan"}), grey),
        "model"
    );
    assert_eq!(
        key("dcgan", serde_json::json!({"objective": "wgan-gp"}), grey),
        "disc_norm"
    );
    let ok = serde_json::json!({"objective": "wgan-gp", "disc_norm": "none"});
    assert_eq!(key("dcgan", ok, grey), "built");
    assert_eq!(
        key("dcgan", serde_json::json!({}), DataKind::Vector { dim: 2 }),
        "data"
    );
    let odd = DataKind::Image {
        channels: 1,
        height: 28,
        width: 20,
    };
    assert_eq!(key("dcgan", serde_json::json!({}), odd), "data");
    // The game's keys sit at the top level of the written configuration.
    let over = serde_json::json!({"objective": {"f-gan": "pearson_chi2"}, "n_critic": 2});
    let m = build("gan-mlp", "tiny", over, grey);
    let j = m.config_json();
    assert_eq!(j["objective"], serde_json::json!({"f-gan": "pearson_chi2"}));
    assert_eq!(
        (j["n_critic"].as_u64(), j["clip"].as_f64()),
        (Some(2), Some(0.01))
    );
    // A batch of another shape than the model's.
    let cfg = crate::mlp_gan::Config::preset("tiny").unwrap();
    let g = Owned::build(Device::Cpu, |p| {
        Gan::new(p, crate::mlp_gan::MlpGan::new(p, &cfg)?)
    })
    .unwrap();
    let wrong = Tensor::zeros([2, 3, 32, 32], (Kind::Uint8, Device::Cpu));
    assert!(
        matches!(g.net.to_model_space(&wrong), Err(CoreError::Shape { ref name, .. }) if name == "x")
    );
}
