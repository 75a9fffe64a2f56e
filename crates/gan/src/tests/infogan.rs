//! InfoGAN: the codes' draws and entropy, `L_I`'s parts against hand values, Q trained with the
//! discriminator (and nothing of the discriminator by the generator's step), sampling with the
//! first code fixed, traversal grids.
use genzoo_train::Trainer;
use tch::{nn, Device, Kind, Tensor};

use super::{build, changed, image_split, quick, snapshot, val};
use crate::game::{Adversarial, Gan};
use crate::infogan::{q_nll, Codes, Config, InfoGan, QScale};

/// Every row of `block` is one-hot: entries 0 or 1, summing to 1.
fn assert_one_hot(block: &Tensor) {
    let sums_to_one = block.sum_dim_intlist(1, false, Kind::Float).eq(1.0).all();
    let binary = block.eq(0.0).logical_or(&block.eq(1.0)).all();
    assert!(
        sums_to_one.int64_value(&[]) == 1 && binary.int64_value(&[]) == 1,
        "{block}"
    );
}

fn codes() -> Codes {
    Codes {
        categorical: vec![10, 3],
        continuous: 2,
    }
}

#[test]
fn codes_are_one_hot_blocks_and_uniform_values_with_their_entropy() {
    tch::manual_seed(0);
    let c = codes();
    assert_eq!(c.dims(), 15);
    let want = 10f64.ln() + 3f64.ln() + 2.0 * 2f64.ln();
    assert!((c.entropy() - want).abs() < 1e-12);
    let labels = Tensor::from_slice(&[0i64, 9, 4, 4, 7, 1]);
    let x = c.sample(6, Some(&labels), Device::Cpu).unwrap();
    assert_eq!(x.size(), [6, 15]);
    let first = x.narrow(1, 0, 10);
    assert!(first.argmax(1, false).equal(&labels));
    for (off, k) in [(0, 10), (10, 3)] {
        assert_one_hot(&x.narrow(1, off, k));
    }
    let u = c.sample(4000, None, Device::Cpu).unwrap().narrow(1, 13, 2);
    assert!(val(&u.min()) >= -1.0 && val(&u.max()) <= 1.0);
    // U(-1, 1): mean 0, variance 1/3.
    assert!(val(&u.mean(Kind::Float)).abs() < 0.03);
    assert!((val(&u.var(true)) - 1.0 / 3.0).abs() < 0.02);
    for bad in [
        Codes {
            categorical: vec![1],
            continuous: 0,
        },
        Codes {
            categorical: vec![],
            continuous: 0,
        },
        Codes {
            categorical: vec![],
            continuous: -1,
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("codes"), "{e}");
    }
}

#[test]
fn the_info_terms_match_hand_values_and_a_perfect_q_reaches_h_c() {
    let c = Codes {
        categorical: vec![3],
        continuous: 1,
    };
    // Two examples: codes (class 2, u = 0.5) and (class 0, u = -1).
    let codes = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 0.5, 1.0, 0.0, 0.0, -1.0]).view([2, 4]);
    // Q: logits, mean, log std.
    let q =
        Tensor::from_slice(&[0.0f32, 1.0, 2.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, -0.5]).view([2, 5]);
    // Q's log standard deviations go through the soft clamp 2.5 tanh(s / 2.5).
    let soft = |s: f64| 2.5 * (s / 2.5).tanh();
    let (ce, nll) = q_nll(&c, &codes, &q, QScale::Learned).unwrap();
    let lse = |v: &[f64]| v.iter().map(|x| x.exp()).sum::<f64>().ln();
    let ce_want = 0.5 * ((lse(&[0.0, 1.0, 2.0]) - 2.0) + (lse(&[0.0, 0.0, 0.0]) - 0.0));
    let gauss = |x: f64, m: f64, ls: f64| {
        0.5 * ((x - m) / ls.exp()).powi(2) + ls + 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    let nll_want = 0.5 * (gauss(0.5, 0.0, soft(0.3)) + gauss(-1.0, 0.0, soft(-0.5)));
    assert!(
        (val(&ce) - ce_want).abs() < 1e-5,
        "{} vs {ce_want}",
        val(&ce)
    );
    assert!(
        (val(&nll) - nll_want).abs() < 1e-5,
        "{} vs {nll_want}",
        val(&nll)
    );
    // With the scale fixed at 1 (the official code's fix_std), Q's log-scale outputs are unused.
    let (ce_fixed, nll_fixed) = q_nll(&c, &codes, &q, QScale::Fixed).unwrap();
    let nll_want = 0.5 * (gauss(0.5, 0.0, 0.0) + gauss(-1.0, 0.0, 0.0));
    assert!(
        (val(&nll_fixed) - nll_want).abs() < 1e-5,
        "{}",
        val(&nll_fixed)
    );
    assert!((val(&ce_fixed) - ce_want).abs() < 1e-5);

    // A log standard deviation far outside the bound still gets a gradient (a hard clamp
    // froze Q's at its upper bound in a mnist10k run).
    let far = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0, 6.0])
        .view([1, 5])
        .set_requires_grad(true);
    let (_, nll) = q_nll(&c, &codes.narrow(0, 0, 1), &far, QScale::Learned).unwrap();
    let g = Tensor::run_backward(&[nll], &[&far], false, false);
    assert!(
        val(&g[0].get(0).get(4)) > 1e-3,
        "{}",
        val(&g[0].get(0).get(4))
    );

    // Q certain of the right category: the categorical bound is ln K.
    let only_cat = Codes {
        categorical: vec![4],
        continuous: 0,
    };
    let y = Tensor::from_slice(&[3i64, 1, 0]);
    let onehot = y.one_hot(4).to_kind(Kind::Float);
    let (ce, nll) = q_nll(
        &only_cat,
        &onehot,
        &onehot.g_mul_scalar(40.0),
        QScale::Learned,
    )
    .unwrap();
    assert_eq!(val(&nll), 0.0);
    assert!((only_cat.entropy() - val(&ce) - 4f64.ln()).abs() < 1e-6);
    // A Q that knows nothing (equal logits): the bound is 0.
    let (ce, _) = q_nll(&only_cat, &onehot, &onehot.zeros_like(), QScale::Learned).unwrap();
    assert!((only_cat.entropy() - val(&ce)).abs() < 1e-6);
}

#[test]
fn q_trains_with_the_discriminator_and_the_bound_is_reported() {
    let split = image_split(16, 1, 28);
    let mut m = build("infogan", "tiny", serde_json::json!({}), split.train.kind);
    let q0 = snapshot(m.as_ref(), "disc.q.");
    assert_eq!(q0.len(), 4, "disc.q.fc1/fc2 weights and biases");
    let s = Trainer::new(quick(2, 8), None)
        .unwrap()
        .fit(m.as_mut(), &split)
        .unwrap();
    assert_eq!(changed(&q0, &snapshot(m.as_ref(), "disc.q.")).len(), 4);
    let h = Codes {
        categorical: vec![3],
        continuous: 1,
    }
    .entropy();
    let b = s.last_losses["mi_lower_bound"];
    let parts = s.last_losses["q_cat_ce"] + s.last_losses["q_cont_nll"];
    assert!((b - (h - parts)).abs() < 1e-4, "{b} vs {h} - {parts}");
    assert!(s.last_losses["g_info"].is_finite() && s.last_losses["d_info"].is_finite());
}

fn tiny() -> (nn::VarStore, Gan<InfoGan>) {
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = Config::preset("tiny").unwrap();
    let p = vs.root();
    let gan = Gan::new(&p, InfoGan::new(&p, &cfg).unwrap()).unwrap();
    (vs, gan)
}

#[test]
fn class_sampling_fixes_the_first_code_and_traversals_sweep_one_code() {
    use genzoo_core::model::{ConditionalSample, Traverse};
    let (_vs, gan) = tiny();
    assert_eq!(gan.net.latent_classes(), Some(3));
    assert_eq!(ConditionalSample::num_classes(&gan), 3);
    let labels = Tensor::from_slice(&[2i64, 0, 1, 2]);
    let z = gan.net.sample_latent(4, Some(&labels)).unwrap();
    assert_eq!(z.size(), [4, 8 + 3 + 1]);
    assert!(z.narrow(1, 8, 3).argmax(1, false).equal(&labels));
    let x = gan.sample_classes(&labels, 5).unwrap();
    assert_eq!(x.size(), [4, 1, 28, 28]);
    assert!(x.equal(&gan.sample_classes(&labels, 5).unwrap()));
    let e = gan
        .sample_classes(&Tensor::from_slice(&[3i64]), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("labels"), "{e}");

    assert_eq!(gan.factors(), 1);
    let grid = gan.traverse(0, 5, 1).unwrap();
    assert_eq!(grid.size(), [15, 1, 28, 28]);
    assert!(grid.equal(&gan.traverse(0, 5, 1).unwrap()));
    let z = gan.net.traversal_latent(0, 5).unwrap();
    // Rows: category r; columns: the continuous code from -2 to 2; one noise per row.
    let cats = z.narrow(1, 8, 3).argmax(1, false);
    let want = Tensor::from_slice(&[0i64, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    assert!(cats.equal(&want));
    let sweep: Vec<f32> = Vec::try_from(z.narrow(1, 11, 1).reshape([-1])).unwrap();
    assert_eq!(&sweep[..5], &[-2.0, -1.0, 0.0, 1.0, 2.0]);
    assert!(z
        .narrow(0, 0, 1)
        .narrow(1, 0, 8)
        .equal(&z.narrow(0, 4, 1).narrow(1, 0, 8)));
    assert!(!z
        .narrow(0, 0, 1)
        .narrow(1, 0, 8)
        .equal(&z.narrow(0, 5, 1).narrow(1, 0, 8)));
    assert!(gan.traverse(1, 5, 0).is_err() && gan.traverse(0, 1, 0).is_err());
}

/// InfoGAN refuses weight clipping (it would clip Q); its virtual batch norm's reference batch
/// is drawn from its own latent (one-hot and uniform code columns); a traversal gives every
/// further categorical code a valid one-hot value.
#[test]
fn the_reference_batch_and_traversals_carry_valid_codes_and_clipping_is_refused() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = Config::preset("tiny").unwrap();
    cfg.players.game.objective = crate::Objective::WganClip;
    let e = InfoGan::new(&vs.root(), &cfg).unwrap_err().to_string();
    assert!(e.contains("objective") && e.contains("wgan-clip"), "{e}");

    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = Config::preset("tiny").unwrap();
    cfg.players.game.tricks.virtual_batch_norm = Some(32);
    cfg.codes = Codes {
        categorical: vec![3, 2],
        continuous: 1,
    };
    let m = InfoGan::new(&vs.root(), &cfg).unwrap();
    let r = vs.variables()["gen.vbn_ref_z"].copy();
    assert_eq!(r.size(), [32, 8 + 6]);
    for (off, k) in [(8, 3), (11, 2)] {
        assert_one_hot(&r.narrow(1, off, k));
    }
    let u = r.narrow(1, 13, 1);
    assert!(val(&u.abs().max()) <= 1.0);
    let z = m.traversal_latent(0, 4).unwrap();
    let second = z.narrow(1, 11, 2);
    assert_one_hot(&second);
    // within a row the further code stays fixed
    assert!(second.narrow(0, 0, 1).equal(&second.narrow(0, 3, 1)));
}
