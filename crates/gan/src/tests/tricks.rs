//! The training tricks and the discriminator's optimum: closed forms on hand-made inputs,
//! spectral normalization's singular value, the learned discriminator against D* on 1-D
//! Gaussians, every trick switched on in a training step of both models, and older configs
//! without the trick keys.
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::{build, image_split, quick, snapshot, toy_split, val};
use crate::head::{minibatch_stddev, MinibatchDiscrimination};
use crate::nets::{Act, Mlp};
use crate::spectral_norm::{Linear, SpectralNorm};
use crate::tricks::{feature_matching, smoothed_logistic_d, HistoricalAverage, Tricks};
use genzoo_core::dist::{DiagGaussian, Distribution};
use genzoo_core::divergence::gan::{gan_value_on_grid, optimal_discriminator};
use genzoo_core::divergence::js::js_discrete;
use genzoo_train::Trainer;

const F32: (Kind, Device) = (Kind::Float, Device::Cpu);

/// The largest singular value of a matrix `[m, n]`.
fn top_singular_value(m: &Tensor) -> f64 {
    let (_, s, _) = m.to_kind(Kind::Double).svd(true, false);
    val(&s.get(0))
}

#[test]
fn spectral_normalization_gives_a_largest_singular_value_of_one() {
    let vs = nn::VarStore::new(Device::Cpu);
    tch::manual_seed(3);
    // A linear weight and a convolution weight [out, in, kh, kw], scaled far from norm 1.
    for (name, shape) in [("lin", vec![24i64, 40]), ("conv", vec![16, 8, 4, 4])] {
        let w = Tensor::randn(shape.as_slice(), F32) * 7.0;
        let sn = SpectralNorm::new(&(vs.root() / name), shape[0]).unwrap();
        assert!(top_singular_value(&w.reshape([shape[0], -1])) > 5.0);
        // One power iteration per training step, as in training: 60 steps.
        for _ in 0..60 {
            let _ = sn.weight(&w, true, 1).unwrap();
        }
        let wn = sn.weight(&w, false, 0).unwrap();
        let s = top_singular_value(&wn.reshape([shape[0], -1]));
        assert!((s - 1.0).abs() < 1e-3, "{name}: sigma = {s}");
        // Evaluation does not move the estimate.
        let u = sn.u.copy();
        let _ = sn.weight(&w, false, 0).unwrap();
        assert!(u.equal(&sn.u));
    }
    // Through a layer: the output is W x / sigma(W) + b.
    let lin = Linear::new(vs.root() / "layer", 5, 3, Default::default(), true).unwrap();
    for _ in 0..60 {
        let _ = lin.forward(&Tensor::ones([1, 5], F32), true).unwrap();
    }
    let x = Tensor::randn([4, 5], F32);
    let sigma = top_singular_value(&lin.lin.ws);
    let want = x.matmul(&(lin.lin.ws.tr() / sigma)) + lin.lin.bs.as_ref().unwrap();
    let got = lin.forward(&x, false).unwrap();
    assert!(val(&(got - want).abs().max()) < 1e-4);
}

/// With p_data = N(0, 1) and a fixed p_g = N(1.5, 0.7), a discriminator (an MLP 1-64-64-1 with
/// LeakyReLU) trained on the minimax loss for 1,500 Adam steps of 512 fresh samples from each
/// approaches D* = p_data / (p_data + p_g) (Goodfellow et al. 2014, Proposition 1): within 0.06
/// on [-1.5, 2.5], where both densities have mass. Its value V(D, G) on a fine grid stays below
/// V(D*, G) = 2 JS - log 4 (Theorem 1; JS on the grid by core's `js_discrete`), and within 0.01
/// nats of it. About 3 s.
#[test]
fn the_trained_discriminator_approaches_d_star_and_its_value_2js_minus_log4() {
    let normal = |mu: f64, s: f64| {
        DiagGaussian::from_scale(&Tensor::from_slice(&[mu]), &Tensor::from_slice(&[s])).unwrap()
    };
    let (pd, pg) = (normal(0.0, 1.0), normal(1.5, 0.7));
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let d = Mlp::new(&vs.root(), &[1, 64, 64, 1], Act::LeakyRelu, "d").unwrap();
    let mut opt = nn::Adam::default().build(&vs, 3e-3).unwrap();
    for _ in 0..1500 {
        let real = Tensor::randn([512, 1], F32);
        let fake = Tensor::randn([512, 1], F32) * 0.7 + 1.5;
        let loss = crate::objective::minimax_d(
            &d.forward(&real, true).unwrap().view([-1]),
            &d.forward(&fake, true).unwrap().view([-1]),
        )
        .unwrap();
        opt.backward_step(loss.get("d_loss").unwrap());
    }
    let (lo, hi, n) = (-10.0, 10.0, 20_001);
    let dx = (hi - lo) / (n - 1) as f64;
    let grid = Tensor::linspace(lo, hi, n, (Kind::Double, Device::Cpu));
    let (lpd, lpg) = (pd.log_prob(&grid).unwrap(), pg.log_prob(&grid).unwrap());
    let logits = tch::no_grad(|| d.forward(&grid.to_kind(Kind::Float).view([-1, 1]), false))
        .unwrap()
        .view([-1])
        .to_kind(Kind::Double);
    let d_star = optimal_discriminator(&lpd, &lpg).unwrap();
    let inside = grid.ge(-1.5).logical_and(&grid.le(2.5));
    let err = (logits.sigmoid() - &d_star)
        .abs()
        .masked_select(&inside)
        .max();
    assert!(
        val(&err) < 0.06,
        "max |D - D*| on [-1.5, 2.5] = {}",
        val(&err)
    );
    let v = val(&gan_value_on_grid(&lpd, &lpg, &logits, dx).unwrap());
    let logit_star = &lpd - &lpg;
    let v_star = val(&gan_value_on_grid(&lpd, &lpg, &logit_star, dx).unwrap());
    let js = val(&js_discrete(&(&lpd + dx.ln()), &(&lpg + dx.ln()), 0).unwrap());
    assert!((v_star - (2.0 * js - 4f64.ln())).abs() < 1e-6);
    assert!(v <= v_star + 1e-6, "V(D) = {v} above V(D*) = {v_star}");
    assert!(v_star - v < 0.01, "V(D) = {v}, V(D*) = {v_star}");
}

#[test]
fn label_smoothing_feature_matching_and_the_batch_features_by_hand() {
    let t = |v: &[f64]| Tensor::from_slice(v).to_kind(Kind::Float);
    let (r, f) = (t(&[2.0, -1.0]), t(&[0.5]));
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    // eps = 0 is the minimax loss; eps = 0.1 by the cross-entropy against 0.9.
    let plain = crate::objective::minimax_d(&r, &f).unwrap();
    assert!(
        (val(&smoothed_logistic_d(&r, &f, 0.0).unwrap()) - val(plain.get("d_loss").unwrap())).abs()
            < 1e-6
    );
    let bce = |x: f64, y: f64| -(y * sig(x).ln() + (1.0 - y) * (1.0 - sig(x)).ln());
    let want = (bce(2.0, 0.9) + bce(-1.0, 0.9)) / 2.0 + bce(0.5, 0.0);
    assert!((val(&smoothed_logistic_d(&r, &f, 0.1).unwrap()) - want).abs() < 1e-5);
    // Feature matching: means [1, 2] and [0, 0] -> 1 + 4.
    let fr = t(&[0.0, 1.0, 2.0, 3.0]).view([2, 2]);
    let ff = t(&[1.0, -1.0, -1.0, 1.0]).view([2, 2]);
    assert!((val(&feature_matching(&fr, &ff).unwrap()) - 5.0).abs() < 1e-6);
    assert!(feature_matching(&fr, &t(&[1.0, 2.0, 3.0]).view([1, 3])).is_err());
    // Minibatch standard deviation: 0 for identical rows; population std otherwise.
    let same = t(&[1.0, 2.0, 1.0, 2.0]).view([2, 2]);
    assert_eq!(val(&minibatch_stddev(&same).unwrap().sum(Kind::Float)), 0.0);
    let apart = t(&[0.0, 0.0, 2.0, 4.0]).view([2, 2]); // stds 1 and 2
    assert_eq!(minibatch_stddev(&apart).unwrap().size(), [2, 1]);
    assert!((val(&minibatch_stddev(&apart).unwrap().get(0).get(0)) - 1.5).abs() < 1e-6);
    // Minibatch discrimination: identical examples are each fully close to the others (1 per
    // kernel), examples far apart not at all (0).
    let vs = nn::VarStore::new(Device::Cpu);
    let mbd = MinibatchDiscrimination::new(&vs.root(), 2, 3, 4);
    let o = mbd.forward(&same.repeat([2, 1])).unwrap();
    assert_eq!(o.size(), [4, 3]);
    assert!(val(&(o - 1.0).abs().max()) < 1e-6);
    let far = t(&[0.0, 0.0, 1e4, -1e4]).view([2, 2]);
    assert!(val(&mbd.forward(&far).unwrap().abs().max()) < 1e-6);
}

#[test]
fn historical_averaging_keeps_the_running_mean_and_its_penalty() {
    let vs = nn::VarStore::new(Device::Cpu);
    let theta = vs.root().zeros("theta", &[3]);
    let h = HistoricalAverage::new(&(vs.root() / "hist"), &[theta.shallow_clone()]);
    let seen = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [2.0, 5.0, 2.0]];
    for (i, v) in seen.iter().enumerate() {
        tch::no_grad(|| {
            theta
                .shallow_clone()
                .copy_(&Tensor::from_slice(v).to_kind(Kind::Float))
        });
        h.update(&[theta.shallow_clone()], i as u64 + 1).unwrap();
    }
    // The mean of the three: [2, 3, 2]; theta = [2, 5, 2]: penalty 0.5 * 4.
    let p = h.penalty(&[theta.shallow_clone()], 0.5).unwrap();
    assert!((val(&p) - 2.0).abs() < 1e-6);
    assert!(h.penalty(&[], 0.5).is_err());
    // Its means are untrained variables of the store (checkpointed, not optimized).
    let names: Vec<String> = vs.variables().into_keys().collect();
    assert!(names.contains(&"hist.0".to_string()), "{names:?}");
    assert_eq!(vs.trainable_variables().len(), 1);
}

#[test]
fn tricks_validate_their_keys_and_anneal_the_instance_noise() {
    let on = Tricks {
        instance_noise: 0.2,
        instance_noise_steps: 100,
        ..Tricks::default()
    };
    assert_eq!(on.instance_noise_at(0), 0.2);
    assert!((on.instance_noise_at(50) - 0.1).abs() < 1e-12);
    assert_eq!(on.instance_noise_at(100), 0.0);
    assert_eq!(on.instance_noise_at(1000), 0.0);
    let bad = |t: Tricks, logistic: bool, key: &str| {
        let e = t.validate(logistic).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    };
    let smooth = Tricks {
        label_smoothing: 0.1,
        ..Tricks::default()
    };
    assert!(smooth.validate(true).is_ok());
    bad(smooth, false, "label_smoothing");
    bad(
        Tricks {
            label_smoothing: 0.7,
            ..Tricks::default()
        },
        true,
        "label_smoothing",
    );
    bad(
        Tricks {
            historical_averaging: -1.0,
            ..Tricks::default()
        },
        true,
        "historical_averaging",
    );
    bad(
        Tricks {
            instance_noise: f64::NAN,
            ..Tricks::default()
        },
        true,
        "instance_noise",
    );
    bad(
        Tricks {
            minibatch_discrimination: Some([0, 5]),
            ..Tricks::default()
        },
        true,
        "minibatch_discrimination",
    );
}

/// Every trick at once: one training step of each model changes only the stepping player's
/// weights, historical averaging's means follow, samples are seeded and finite; the WGAN-GP
/// critic refuses label smoothing by name.
#[test]
fn every_trick_trains_a_step_of_both_models() {
    let tricks = serde_json::json!({
        "feature_matching": true,
        "minibatch_discrimination": [4, 3],
        "minibatch_stddev": true,
        "historical_averaging": 0.01,
        "label_smoothing": 0.1,
        "instance_noise": 0.1,
        "instance_noise_steps": 10,
        "spectral_norm": true,
    });
    let toy = toy_split(64);
    let img = image_split(16, 1, 28);
    for (name, preset, split) in [("gan-mlp", "toy", &toy), ("dcgan", "tiny", &img)] {
        let mut model = build(name, preset, tricks.clone(), split.train.kind);
        let names: Vec<String> = model.var_store().variables().into_keys().collect();
        for want in [
            "hist.disc.0",
            "hist.gen.0",
            "disc.conv1.sn_u",
            "disc.fc1.sn_u",
            "disc.mbd_t",
        ] {
            let expected = name == "dcgan" || !want.contains("conv");
            let expected = expected && (name == "gan-mlp" || want != "disc.fc1.sn_u");
            assert_eq!(
                names.iter().any(|n| n == want),
                expected,
                "{name}: {want} in {names:?}"
            );
        }
        let before = snapshot(model.as_ref(), "hist.");
        let s = Trainer::new(quick(2, 8), None)
            .unwrap()
            .fit(model.as_mut(), split)
            .unwrap();
        for part in [
            "d_loss",
            "g_loss",
            "g_adversarial",
            "hist_d",
            "hist_g",
            "instance_noise",
        ] {
            assert!(
                s.last_losses.contains_key(part),
                "{name}: {part} in {:?}",
                s.last_losses
            );
        }
        let after: Vec<(String, Tensor)> = model
            .var_store()
            .variables()
            .into_iter()
            .filter(|(n, _)| n.starts_with("hist."))
            .map(|(n, t)| (n, t.detach().copy()))
            .collect();
        assert!(before.is_empty(), "means are not trained");
        assert!(after
            .iter()
            .any(|(_, t)| val(&t.abs().sum(Kind::Float)) > 0.0));
        let x = model.sample(6, 3).unwrap();
        assert!(x.equal(&model.sample(6, 3).unwrap()));
        assert_eq!(val(&x.isfinite().all().to_kind(Kind::Float)), 1.0);
    }
    let e = genzoo_core::model::build_model(
        &crate::registry(),
        "gan-mlp",
        Some("toy"),
        Some(&serde_json::json!({"objective": "wgan-gp", "label_smoothing": 0.1})),
        toy.train.kind,
        None,
        Device::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("label_smoothing"), "{e}");
}

/// A configuration saved before the trick keys existed still builds, every trick off.
#[test]
fn configs_without_the_trick_keys_build_with_every_trick_off() {
    let preset = crate::mlp_gan::Config::preset("toy").unwrap();
    let mut old = serde_json::to_value(&preset).unwrap();
    let keys = serde_json::to_value(Tricks::default()).unwrap();
    for k in keys.as_object().unwrap().keys() {
        assert!(old.as_object_mut().unwrap().remove(k).is_some(), "{k}");
    }
    assert!(old.get("objective").is_some());
    let cfg: crate::mlp_gan::Config = serde_json::from_value(old).unwrap();
    assert_eq!(cfg.game.tricks, Tricks::default());
    assert_eq!(cfg, preset);
}

/// A GAN run stopped at step 7 and resumed ends where an uninterrupted 12-step run ends, every
/// variable equal: the per-player step counts behind `n_critic` = 3 (9 critic and 4 generator
/// steps at step 12 either way), historical averaging's running means, spectral normalization's
/// vectors and the annealed instance noise all survive the resume.
#[test]
fn a_resumed_gan_run_continues_exactly() {
    let tricks = serde_json::json!({
        "n_critic": 3,
        "historical_averaging": 0.01,
        "spectral_norm": true,
        "instance_noise": 0.1,
        "instance_noise_steps": 10,
    });
    let split = toy_split(64);
    let cfg = || genzoo_train::TrainConfig {
        checkpoint_every: 3,
        ..quick(12, 8)
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut straight = build("gan-mlp", "toy", tricks.clone(), split.train.kind);
    let s = Trainer::new(cfg(), Some(a.path()))
        .unwrap()
        .fit(straight.as_mut(), &split)
        .unwrap();
    assert_eq!(s.steps, 12);
    let mut first = build("gan-mlp", "toy", tricks.clone(), split.train.kind);
    let mut t = Trainer::new(cfg(), Some(b.path())).unwrap();
    t.stop_at(7);
    t.fit(first.as_mut(), &split).unwrap();
    let mut resumed = build("gan-mlp", "toy", tricks, split.train.kind);
    let s2 = Trainer::resume(b.path())
        .unwrap()
        .fit(resumed.as_mut(), &split)
        .unwrap();
    assert_eq!((s2.steps, s2.steps_run), (12, 5));
    let vars = resumed.var_store().variables();
    for (name, v) in straight.var_store().variables() {
        assert!(v.equal(&vars[&name]), "{name} differs after resume");
    }
    assert_eq!(s.last_losses, s2.last_losses);
}

/// Virtual batch norm of a row is batch norm (batch statistics, biased variance) over the
/// reference rows and that row alone; the reference rows are normalized by themselves.
#[test]
fn virtual_batch_norm_is_batch_norm_over_the_reference_batch_and_the_example() {
    tch::manual_seed(3);
    let (n_ref, b, c) = (5, 3, 4);
    let h = Tensor::randn([n_ref + b, c, 3, 3], (Kind::Float, Device::Cpu)) * 2.0 + 0.5;
    let gamma = Tensor::randn([c], (Kind::Float, Device::Cpu));
    let beta = Tensor::randn([c], (Kind::Float, Device::Cpu));
    let out = crate::tricks::virtual_batch_norm(&h, n_ref, Some(&gamma), Some(&beta)).unwrap();
    let bn = |x: &Tensor| {
        x.batch_norm(
            Some(&gamma),
            Some(&beta),
            None::<&Tensor>,
            None::<&Tensor>,
            true,
            0.1,
            1e-5,
            false,
        )
    };
    let reference = h.narrow(0, 0, n_ref);
    assert!(out
        .narrow(0, 0, n_ref)
        .allclose(&bn(&reference), 1e-4, 1e-5, false));
    for i in 0..b {
        let row = h.narrow(0, n_ref + i, 1);
        let want = bn(&Tensor::cat(&[&reference, &row], 0)).narrow(0, n_ref, 1);
        assert!(
            out.narrow(0, n_ref + i, 1)
                .allclose(&want, 1e-4, 1e-5, false),
            "row {i}"
        );
    }
    assert!(crate::tricks::virtual_batch_norm(&h, 8, None, None).is_err());
}

/// With virtual batch norm DCGAN's generator draws each example independently of the rest of
/// its batch, in training as in sampling (ordinary batch norm in training mode does not); the
/// reference noise is checkpointed but never trained; MLP generators refuse the key.
#[test]
fn virtual_batch_norm_makes_each_generated_example_independent_of_its_batch() {
    use crate::dcgan::{Config, Dcgan};
    use crate::game::{Adversarial, Gan};
    let z = Tensor::randn([6, 8], (Kind::Float, Device::Cpu));
    for vbn in [Some(16), None] {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let mut cfg = Config::preset("tiny").unwrap();
        cfg.game.tricks.virtual_batch_norm = vbn;
        let g = Gan::new(&vs.root(), Dcgan::new(&vs.root(), &cfg).unwrap()).unwrap();
        let all = g.net.generate(&z, None, true).unwrap();
        let one = g.net.generate(&z.narrow(0, 2, 1), None, true).unwrap();
        let same = all.narrow(0, 2, 1).allclose(&one, 1e-5, 1e-6, false);
        assert_eq!(same, vbn.is_some(), "vbn {vbn:?}");
        if vbn.is_some() {
            let eval = g.net.generate(&z, None, false).unwrap();
            assert!(eval.allclose(&all, 1e-5, 1e-6, false));
            let vars = vs.variables();
            assert_eq!(vars["gen.vbn_ref_z"].size(), [16, 8]);
            assert!(!vars["gen.vbn_ref_z"].requires_grad());
        }
    }
    let split = image_split(16, 1, 28);
    let mut m = build(
        "dcgan",
        "tiny",
        serde_json::json!({"virtual_batch_norm": 8}),
        split.train.kind,
    );
    let r0 = m.var_store().variables()["gen.vbn_ref_z"].copy();
    Trainer::new(quick(2, 8), None)
        .unwrap()
        .fit(m.as_mut(), &split)
        .unwrap();
    assert!(m.var_store().variables()["gen.vbn_ref_z"].equal(&r0));
    let e = genzoo_core::model::build_model(
        &crate::registry(),
        "gan-mlp",
        Some("tiny"),
        Some(&serde_json::json!({"virtual_batch_norm": 8})),
        split.train.kind,
        None,
        Device::Cpu,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("virtual_batch_norm"), "{e}");
}
