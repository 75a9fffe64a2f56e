//! The objectives against their formulas, computed here in plain f64 from the same hand-made
//! outputs; the gradient penalty of a linear critic against its closed form; weight clipping.
use genzoo_core::divergence::FDivergence;
use genzoo_core::model::Losses;
use genzoo_core::CoreError;
use tch::{Kind, Tensor};

use super::val;
use crate::objective::{self as obj, Objective};

fn t(v: &[f64]) -> Tensor {
    Tensor::from_slice(v)
}

fn part(l: &Losses, name: &str) -> f64 {
    val(l.get(name).unwrap_or_else(|| panic!("no part {name}")))
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}");
}

fn log_sigmoid(x: f64) -> f64 {
    -(1.0 + (-x).exp()).ln()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

const REAL: [f64; 3] = [2.0, -1.0, 0.5];
const FAKE: [f64; 2] = [0.5, -3.0];

#[test]
fn minimax_is_minus_log4_where_d_is_one_half_and_matches_eq_1() {
    // D = 1/2 everywhere (logits 0): V = 2 log(1/2) = -log 4, the value at the equilibrium.
    let zeros = Tensor::zeros([5], (Kind::Double, tch::Device::Cpu));
    let d = Objective::Minimax.d_losses(&zeros, &zeros).unwrap();
    close(part(&d, "gan_value"), -(4f64.ln()), "V at D = 1/2");
    close(part(&d, "d_loss"), 4f64.ln(), "d_loss at D = 1/2");
    let g = Objective::Minimax.g_losses(&zeros).unwrap();
    close(part(&g, "g_loss"), (0.5f64).ln(), "log(1 - 1/2)");
    let ns = Objective::NonSaturating.g_losses(&zeros).unwrap();
    close(part(&ns, "g_loss"), 2f64.ln(), "-log(1/2)");
    // Hand-made logits: eq. 1 term by term.
    let v = mean(&REAL.map(log_sigmoid)) + mean(&FAKE.map(|f| log_sigmoid(-f)));
    let d = Objective::Minimax.d_losses(&t(&REAL), &t(&FAKE)).unwrap();
    close(part(&d, "d_loss"), -v, "minimax d_loss");
    assert_eq!(d.parts()[0].0, "d_loss");
    // The non-saturating discriminator plays the same game.
    let dn = Objective::NonSaturating
        .d_losses(&t(&REAL), &t(&FAKE))
        .unwrap();
    close(part(&dn, "d_loss"), -v, "non-saturating d_loss");
    let g = Objective::Minimax.g_losses(&t(&FAKE)).unwrap();
    close(
        part(&g, "g_loss"),
        mean(&FAKE.map(|f| log_sigmoid(-f))),
        "minimax g",
    );
    let g = Objective::NonSaturating.g_losses(&t(&FAKE)).unwrap();
    close(
        part(&g, "g_loss"),
        -mean(&FAKE.map(log_sigmoid)),
        "non-saturating g",
    );
}

#[test]
fn wasserstein_lsgan_and_hinge_match_their_formulas() {
    for o in [Objective::WganClip, Objective::WganGp] {
        let d = o.d_losses(&t(&[1.0, 3.0]), &t(&[-2.0, 0.0])).unwrap();
        close(
            part(&d, "d_loss"),
            -1.0 - 2.0,
            "wgan d_loss = E C(fake) - E C(real)",
        );
        close(part(&d, "wasserstein"), 3.0, "wgan estimate");
        close(
            part(&o.g_losses(&t(&[-2.0, 0.0])).unwrap(), "g_loss"),
            1.0,
            "wgan g",
        );
    }
    // LSGAN 0-1-1: (1/2) E(D(x) - 1)^2 + (1/2) E D(G(z))^2 and (1/2) E(D(G(z)) - 1)^2.
    let d = Objective::Lsgan.d_losses(&t(&REAL), &t(&FAKE)).unwrap();
    let want = 0.5 * mean(&REAL.map(|r| (r - 1.0).powi(2))) + 0.5 * mean(&FAKE.map(|f| f * f));
    close(part(&d, "d_loss"), want, "lsgan d");
    let g = Objective::Lsgan.g_losses(&t(&FAKE)).unwrap();
    close(
        part(&g, "g_loss"),
        0.5 * mean(&FAKE.map(|f| (f - 1.0).powi(2))),
        "lsgan g",
    );
    // Hinge: E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))); -E D(G(z)).
    let (r, f) = ([2.0, 0.5, -1.0], [-2.0, 0.0, 0.5]);
    let d = Objective::Hinge.d_losses(&t(&r), &t(&f)).unwrap();
    close(
        part(&d, "d_loss"),
        (0.0 + 0.5 + 2.0) / 3.0 + (0.0 + 1.0 + 1.5) / 3.0,
        "hinge d",
    );
    close(
        part(&Objective::Hinge.g_losses(&t(&f)).unwrap(), "g_loss"),
        0.5,
        "hinge g",
    );
}

#[test]
fn f_gan_goes_through_core_and_its_js_game_is_the_gan_game() {
    // KL: g_f(v) = v, f*(t) = exp(t - 1): F = E v_real - E exp(v_fake - 1) (eq. 6).
    let kl = Objective::FGan(FDivergence::KullbackLeibler);
    let (r, f) = ([0.0, 1.0], [0.0, 2.0]);
    let bound = mean(&r) - mean(&f.map(|v: f64| (v - 1.0).exp()));
    let d = kl.d_losses(&t(&r), &t(&f)).unwrap();
    close(part(&d, "d_loss"), -bound, "f-gan KL d");
    close(part(&d, "f_bound"), bound, "f-gan KL bound");
    let g = kl.g_losses(&t(&f)).unwrap();
    close(
        part(&g, "g_loss"),
        -mean(&f.map(|v: f64| (v - 1.0).exp())),
        "f-gan KL g",
    );
    // With Table 2's JS activation and conjugate, F = V(D, G) + log 4 for the same logits.
    let js = Objective::FGan(FDivergence::JensenShannon);
    let f_js = part(&js.d_losses(&t(&REAL), &t(&FAKE)).unwrap(), "f_bound");
    let v = part(
        &Objective::Minimax.d_losses(&t(&REAL), &t(&FAKE)).unwrap(),
        "gan_value",
    );
    assert!(
        (f_js - (v + 4f64.ln())).abs() < 1e-12,
        "{f_js} vs {v} + log 4"
    );
}

#[test]
fn decision_points_are_where_the_optimum_says_one_half() {
    let says = |o: Objective, v: &[f64]| -> Vec<bool> {
        Vec::<bool>::try_from(&o.says_real(&t(v)).unwrap().unwrap()).unwrap()
    };
    assert_eq!(says(Objective::Minimax, &[-0.1, 0.1]), [false, true]);
    assert_eq!(says(Objective::Lsgan, &[0.4, 0.6]), [false, true]);
    assert_eq!(says(Objective::Hinge, &[-0.1, 0.1]), [false, true]);
    // KL: T* = f'(1) = 1 at density ratio 1, g_f the identity.
    let kl = Objective::FGan(FDivergence::KullbackLeibler);
    assert_eq!(says(kl, &[0.9, 1.1]), [false, true]);
    // Every other divergence of the table has its point at v = 0.
    for div in FDivergence::ALL
        .into_iter()
        .filter(|d| *d != FDivergence::KullbackLeibler)
    {
        assert_eq!(
            says(Objective::FGan(div), &[-0.1, 0.1]),
            [false, true],
            "{div:?}"
        );
    }
    assert!(Objective::WganGp.says_real(&t(&[0.0])).unwrap().is_none());
}

#[test]
fn objectives_have_their_kebab_case_names() {
    let names: Vec<String> = Objective::all().iter().map(Objective::label).collect();
    assert_eq!(
        names[..6],
        [
            "minimax",
            "non-saturating",
            "wgan-clip",
            "wgan-gp",
            "lsgan",
            "hinge"
        ]
    );
    assert_eq!(names[7], "f-gan:kullback_leibler");
    for o in Objective::all() {
        let j = serde_json::to_value(o).unwrap();
        assert_eq!(serde_json::from_value::<Objective>(j).unwrap(), o);
    }
    let o: Objective =
        serde_json::from_value(serde_json::json!({"f-gan": "jensen_shannon"})).unwrap();
    assert_eq!(o, Objective::FGan(FDivergence::JensenShannon));
    assert!(serde_json::from_value::<Objective>(serde_json::json!("wgan")).is_err());
}

/// A linear critic `D(x) = w . x` has gradient w everywhere, so the penalty is exactly
/// `lambda (|w| - 1)^2` at any points, and its gradient in w is `2 lambda (|w| - 1) w / |w|`.
#[test]
fn gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared() {
    tch::manual_seed(0);
    let w = t(&[3.0, 4.0]).set_requires_grad(true); // |w| = 5
    let critic = |x: &Tensor| Ok(x.matmul(&w));
    let real = Tensor::randn([16, 2], (Kind::Double, tch::Device::Cpu));
    let fake = Tensor::randn([16, 2], (Kind::Double, tch::Device::Cpu)) * 3.0;
    let gp = obj::gradient_penalty(critic, &real, &fake, 10.0).unwrap();
    close(val(&gp), 10.0 * 16.0, "10 (5 - 1)^2");
    // create_graph: the penalty back-propagates into the critic's weights.
    let g = Tensor::run_backward(&[&gp], &[&w], false, false);
    let want = [2.0 * 10.0 * 4.0 * 0.6, 2.0 * 10.0 * 4.0 * 0.8];
    assert!(g[0].allclose(&t(&want), 1e-10, 1e-10, false), "{:?}", g[0]);
    // A unit-norm critic pays nothing; on images the gradient is flattened per example.
    let unit = t(&[0.6, 0.8]);
    let gp0 = obj::gradient_penalty(|x: &Tensor| Ok(x.matmul(&unit)), &real, &fake, 10.0).unwrap();
    close(val(&gp0), 0.0, "unit norm");
    let wi = t(&[1.0, 2.0, 2.0, 0.0]).view([1, 2, 2]); // |w| = 3
    let img =
        |x: &Tensor| Ok((x * &wi).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Double));
    let ri = Tensor::randn([8, 1, 2, 2], (Kind::Double, tch::Device::Cpu));
    let fi = Tensor::randn([8, 1, 2, 2], (Kind::Double, tch::Device::Cpu));
    let gpi = obj::gradient_penalty(img, &ri, &fi, 0.5).unwrap();
    close(val(&gpi), 0.5 * 4.0, "images: 0.5 (3 - 1)^2");
    assert!(matches!(
        obj::gradient_penalty(critic, &real, &fake, -1.0),
        Err(CoreError::Config { ref key, .. }) if key == "gp_lambda"
    ));
}

#[test]
fn interpolates_lie_between_their_real_and_fake_examples() {
    tch::manual_seed(1);
    let real = Tensor::randn([64, 3], (Kind::Double, tch::Device::Cpu));
    let fake = Tensor::randn([64, 3], (Kind::Double, tch::Device::Cpu));
    let x = obj::interpolates(&real, &fake).unwrap();
    // x - fake = e (real - fake) with one e in [0, 1] per example.
    let e = (&x - &fake) / (&real - &fake);
    let (lo, hi) = (e.min_dim(1, false).0, e.max_dim(1, false).0);
    assert!((&hi - &lo).abs().max().double_value(&[]) < 1e-9);
    assert!(lo.min().double_value(&[]) >= 0.0 && hi.max().double_value(&[]) <= 1.0);
    assert!(
        hi.std(true).double_value(&[]) > 0.1,
        "one e per example, not one per batch"
    );
    assert!(obj::interpolates(&real, &fake.narrow(0, 0, 3)).is_err());
}

#[test]
fn weight_clipping_bounds_every_weight() {
    tch::manual_seed(2);
    let vars = [
        Tensor::randn([10, 4], (Kind::Float, tch::Device::Cpu)),
        Tensor::randn([4], (Kind::Float, tch::Device::Cpu)) * 0.001,
    ];
    let small = vars[1].copy();
    obj::clip_weights(&vars, 0.01).unwrap();
    for v in &vars {
        assert!(v.abs().max().double_value(&[]) <= 0.01 + 1e-9);
    }
    assert!(vars[0].abs().max().double_value(&[]) >= 0.01 - 1e-9);
    assert!(
        vars[1].equal(&small),
        "values inside [-c, c] are left alone"
    );
    assert!(obj::clip_weights(&vars, 0.0).is_err());
}

/// For a nonlinear critic (the MLP discriminator, LeakyReLU, in double precision) the penalty's
/// gradient in the weights, through the input gradient taken with `create_graph`, matches central
/// finite differences.
#[test]
fn gradient_penalty_gradient_matches_finite_differences_for_an_mlp_critic() {
    tch::manual_seed(3);
    let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let mlp =
        crate::nets::Mlp::new(&vs.root(), &[2, 8, 8, 1], crate::nets::Act::LeakyRelu, "h").unwrap();
    vs.double();
    let x_hat = Tensor::randn([6, 2], (Kind::Double, tch::Device::Cpu));
    let penalty = || {
        let critic = |x: &Tensor| Ok(mlp.forward(x, true)?.view([-1]));
        obj::gradient_penalty_at(critic, &x_hat, 10.0).unwrap()
    };
    let params = mlp.params();
    let grads = Tensor::run_backward(&[penalty()], &params, false, false);
    let eps = 1e-6;
    let mut checked = 0;
    for (p, g) in params.iter().zip(&grads) {
        let flat = p.view([-1]);
        for i in [0, flat.size()[0] - 1] {
            let at = |delta: f64| {
                tch::no_grad(|| {
                    let _ = flat.get(i).f_add_scalar_(delta);
                });
                let v = val(&penalty());
                tch::no_grad(|| {
                    let _ = flat.get(i).f_sub_scalar_(delta);
                });
                v
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            // The output bias does not move the input gradient: no gradient at all.
            let an = if g.defined() {
                g.view([-1]).double_value(&[i])
            } else {
                0.0
            };
            assert!(
                (fd - an).abs() < 1e-5 * (1.0 + an.abs()),
                "param {checked}: fd {fd} vs {an}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
    assert!(
        !grads[5].defined(),
        "the output bias has no say in the penalty"
    );
}
