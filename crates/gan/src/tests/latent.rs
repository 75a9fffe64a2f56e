//! The adversarially trained latent-variable models: the AAE's priors (the mixture integrates to
//! one, its samples sit at its components) and its KL to the mixture, AVB's moment-matched
//! proposal, both models' evaluation as importance-sampled estimates beside their bounds.
use genzoo_core::dist::DiagGaussian;
use genzoo_core::model::{EvalOptions, LikelihoodKind};
use genzoo_train::Trainer;
use genzoo_vae::latent::LatentModel;
use tch::{nn, Device, Kind, Tensor};

use super::{build, image_split, quick, val};
use crate::aae::{Aae, Config as AaeConfig, Prior};
use crate::avb::{Avb, Config as AvbConfig, PROPOSAL_MIN_STD};

const TEN: Prior = Prior::Mixture {
    components: 10,
    radius: 4.0,
    std: 0.5,
};

#[test]
fn the_mixture_prior_integrates_to_one_and_its_draws_sit_at_its_components() {
    // A Riemann sum of exp(log p) over [-7, 7]^2 with spacing 0.02.
    let h = 0.02;
    let g = Tensor::arange_start_step(-7.0, 7.0, h, (Kind::Float, Device::Cpu));
    let n = g.size()[0];
    let grid = Tensor::stack(
        &[
            g.unsqueeze(1).expand([n, n], false),
            g.unsqueeze(0).expand([n, n], false),
        ],
        2,
    );
    let mass = val(&TEN.log_prob(&grid).unwrap().exp().sum(Kind::Double)) * h * h;
    assert!((mass - 1.0).abs() < 1e-3, "{mass}");

    // In more dimensions the others are N(0, 1): log p adds -(z^2 + ln 2 pi) / 2 per dimension.
    let z2 = Tensor::from_slice(&[0.3f32, -1.2]);
    let z4 = Tensor::from_slice(&[0.3f32, -1.2, 0.5, -2.0]);
    let extra = -0.5 * (0.25 + 4.0) - (2.0 * std::f64::consts::PI).ln();
    let d = val(&TEN.log_prob(&z4).unwrap()) - val(&TEN.log_prob(&z2).unwrap());
    assert!((d - extra).abs() < 1e-5, "{d} vs {extra}");
    let gauss = val(&Prior::Gaussian.log_prob(&z2).unwrap());
    let want = -0.5 * (0.09 + 1.44) - (2.0 * std::f64::consts::PI).ln();
    assert!((gauss - want).abs() < 1e-5);

    // Draws: every component about equally often, at distance std * sqrt(pi / 2) on average
    // from their nearest mean (a 2-D Gaussian's Rayleigh radius).
    tch::manual_seed(0);
    let z = TEN.sample(20_000, 3, Device::Cpu).unwrap();
    let theta =
        Tensor::arange(10, (Kind::Float, Device::Cpu)) * (2.0 * std::f64::consts::PI / 10.0);
    let mu = Tensor::stack(&[theta.cos(), theta.sin()], 1) * 4.0;
    let dist = (z.narrow(1, 0, 2).unsqueeze(1) - mu.unsqueeze(0))
        .square()
        .sum_dim_intlist(2, false, Kind::Float)
        .sqrt();
    let (nearest, which) = dist.min_dim(1, false);
    let rayleigh = 0.5 * (std::f64::consts::PI / 2.0).sqrt();
    assert!((val(&nearest.mean(Kind::Float)) - rayleigh).abs() < 0.02);
    let counts = which.bincount(None::<Tensor>, 10).to_kind(Kind::Float) / 20_000.0;
    assert!(val(&(counts - 0.1).abs().max()) < 0.01);
    let rest = z.narrow(1, 2, 1);
    assert!(val(&rest.mean(Kind::Float)).abs() < 0.03 && (val(&rest.std(true)) - 1.0).abs() < 0.03);
}

fn aae(prior: Prior, latent: i64) -> (nn::VarStore, Aae) {
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = AaeConfig {
        prior,
        latent_dim: latent,
        ..AaeConfig::preset("tiny").unwrap()
    };
    let m = Aae::new(&vs.root(), &cfg).unwrap();
    (vs, m)
}

#[test]
fn the_aae_kl_is_closed_form_for_n01_and_ln_k_at_a_mixture_component() {
    let (_vs, g) = aae(Prior::Gaussian, 3);
    let q = DiagGaussian::new(
        &Tensor::from_slice(&[0.5f32, -1.0, 0.0]).view([1, 3]),
        &Tensor::from_slice(&[-0.2f32, 0.1, 0.0]).view([1, 3]),
    )
    .unwrap();
    let kl: Vec<f32> = Vec::try_from(g.kl(&q).unwrap().reshape([-1])).unwrap();
    for (i, (m, ls)) in [(0.5f64, -0.2f64), (-1.0, 0.1), (0.0, 0.0)]
        .into_iter()
        .enumerate()
    {
        let want = 0.5 * (m * m + (2.0 * ls).exp() - 1.0 - 2.0 * ls);
        assert!((kl[i] as f64 - want).abs() < 1e-5, "dim {i}");
    }
    // q exactly one component of ten nearly disjoint ones (neighbours ~5 std apart): the plane's
    // KL is ln 10 less the sliver of overlap; the third dimension matches N(0, 1): 0.
    let (_vs, m) = aae(TEN, 3);
    tch::manual_seed(1);
    let q = DiagGaussian::new(
        &Tensor::from_slice(&[4.0f32, 0.0, 0.0]).view([1, 3]),
        &Tensor::from_slice(&[0.5f32.ln(), 0.5f32.ln(), 0.0]).view([1, 3]),
    )
    .unwrap();
    let kl = m.kl(&q).unwrap();
    assert_eq!(kl.size(), [1, 3]);
    let plane = val(&kl.narrow(1, 0, 2).sum(Kind::Float));
    assert!((plane - 10f64.ln()).abs() < 0.03, "{plane}");
    assert!(val(&kl.narrow(1, 2, 1).sum(Kind::Float)).abs() < 1e-6);
    assert!(Prior::Mixture {
        components: 3,
        radius: 1.0,
        std: 0.5
    }
    .validate(1)
    .is_err());
    assert!(Prior::Mixture {
        components: 3,
        radius: 1.0,
        std: 0.0
    }
    .validate(2)
    .is_err());
}

#[test]
fn avbs_proposal_is_moment_matched_to_its_implicit_encoder() {
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let vs = nn::VarStore::new(Device::Cpu);
    let m = Avb::new(&vs.root(), &AvbConfig::preset("tiny").unwrap()).unwrap();
    let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, Device::Cpu)).round();
    tch::manual_seed(2);
    let q = m.posterior(&x, None).unwrap();
    // The same draws by hand: 64 encoder passes over the repeated batch.
    tch::manual_seed(2);
    let rows = genzoo_vae::latent::expand_rows(&x, crate::avb::PROPOSAL_DRAWS).unwrap();
    let z = m
        .encode(&rows)
        .unwrap()
        .view([crate::avb::PROPOSAL_DRAWS, 3, 2]);
    assert!(q
        .loc
        .allclose(&z.mean_dim(0, false, Kind::Float), 1e-5, 1e-6, false));
    let sd = z.std_dim(0, true, false);
    assert!(q.log_scale.exp().allclose(&sd, 1e-4, 1e-6, false));
    assert!(val(&sd.min()) > 0.0, "the noise reaches z");
    // An encoder deaf to its noise: the proposal's width is the floor.
    tch::no_grad(|| {
        for (name, t) in vs.variables() {
            if name.starts_with("gen.enc.") {
                let _ = t.shallow_clone().zero_();
            }
        }
    });
    let q = m.posterior(&x, None).unwrap();
    assert!((val(&q.log_scale.exp().max()) - PROPOSAL_MIN_STD).abs() < 1e-9);
}

#[test]
fn aae_and_avb_report_importance_sampled_estimates_beside_their_bounds() {
    let split = image_split(32, 1, 28);
    for (name, preset) in [("aae", "tiny"), ("aae", "mnist"), ("avb", "tiny")] {
        let mut m = build(name, preset, serde_json::json!({}), split.train.kind);
        Trainer::new(quick(3, 8), None)
            .unwrap()
            .fit(m.as_mut(), &split)
            .unwrap();
        let opts = EvalOptions {
            importance_samples: 20,
            max_examples: Some(16),
            ..EvalOptions::default()
        };
        let r = m.evaluate(&split.test, &opts).unwrap();
        let nll = r.nll.as_ref().expect("a likelihood estimate");
        assert_eq!(nll.kind, LikelihoodKind::IsEstimate, "{name}");
        let (is_nats, neg_elbo) = (
            r.metrics["nll_nats"],
            r.metrics["recon_nats"] + r.metrics["kl_nats"],
        );
        assert!(is_nats.is_finite() && is_nats > 0.0, "{name}: {is_nats}");
        // log-mean-exp of k weights is at least their mean: the estimate's NLL is at most the
        // negative ELBO of the same draws, up to the KL's Monte Carlo part for the mixture.
        assert!(
            is_nats <= neg_elbo + 0.5,
            "{name}/{preset}: {is_nats} > {neg_elbo}"
        );
        let per = m
            .per_example_nll()
            .unwrap()
            .nll_per_example(&split.test, &opts)
            .unwrap();
        assert_eq!(per.nll.size(), [16]);
        assert!(per.data.contains("IS estimate"), "{}", per.data);
        if name == "avb" {
            assert!(r.metrics["avb_elbo_nats"].is_finite());
            assert!(r.data.contains("moment-matched"), "{}", r.data);
        }
    }
}

/// A latent model's player beyond `max_loss` stops the step before any update, naming the step
/// and every part; a large reconstruction NLL alone does not stop the encoder and decoder.
#[test]
fn the_latent_models_stop_on_a_diverging_adversarial_loss_only() {
    let split = image_split(16, 1, 28);
    for name in ["aae", "avb", "bigan"] {
        let mut m = build(
            name,
            "tiny",
            serde_json::json!({"max_loss": 1e-3}),
            split.train.kind,
        );
        let before = super::snapshot(m.as_ref(), "");
        let e = Trainer::new(quick(1, 8), None)
            .unwrap()
            .fit(m.as_mut(), &split)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("diverged at step 0") && e.contains("d_fake="),
            "{name}: {e}"
        );
        assert!(super::changed(&before, &super::snapshot(m.as_ref(), "")).is_empty());
    }
    // The ring at initialization: the Gaussian decoder's first reconstruction NLL is far past
    // the default bound (its log-scale starts near the clamp at -7), the adversarial part a few
    // nats; the step goes ahead.
    let toy = super::toy_split(8);
    let mut m = build("aae", "toy", serde_json::json!({}), toy.train.kind);
    let s = Trainer::new(quick(1, 8), None)
        .unwrap()
        .fit(m.as_mut(), &toy)
        .unwrap();
    assert!(s.last_losses["recon"] > 1e5, "{:?}", s.last_losses);
    assert!(
        s.last_losses["g_adversarial"].abs() < 100.0,
        "{:?}",
        s.last_losses
    );
}

/// AVB's discriminator estimates the log density ratio only at the logistic loss's optimum:
/// the other objectives are refused by name.
#[test]
fn avb_refuses_the_objectives_whose_optimum_is_not_the_log_ratio() {
    for o in ["lsgan", "hinge"] {
        let cfg: AvbConfig = serde_json::from_value({
            let mut v = serde_json::to_value(AvbConfig::preset("tiny").unwrap()).unwrap();
            v["objective"] = o.into();
            v
        })
        .unwrap();
        let e = Avb::new(&nn::VarStore::new(Device::Cpu).root(), &cfg)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("objective") && e.contains("Proposition 1"),
            "{o}: {e}"
        );
    }
}
