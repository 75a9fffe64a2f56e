//! BiGAN / ALI: the encoder's loss is the generator's with the sides swapped, reconstructions
//! are `G(E(x))`, ALI's encoder samples around its mean, and a short run on the 8-Gaussian ring
//! learns an encoder that `G` inverts better than the mean example.
use genzoo_core::model::{EvalOptions, Optimize, Reconstruct};
use genzoo_core::Result;
use genzoo_train::Trainer;
use tch::{nn, Device, Kind, Tensor};

use super::{image_split, quick, toy_split, val};
use crate::bigan::{Bigan, Config, Encoder};

/// Updates nothing.
struct NoOp;

impl Optimize for NoOp {
    fn minimize(&mut self, _group: &str, _loss: &Tensor) -> Result<()> {
        Ok(())
    }
    fn apply_grads(&mut self, _group: &str, _grads: &[(Tensor, Tensor)]) -> Result<()> {
        Ok(())
    }
    fn step(&self) -> u64 {
        0
    }
    fn group_steps(&self, _group: &str) -> Result<u64> {
        Ok(0)
    }
}

fn tiny(encoder: Encoder) -> (nn::VarStore, Bigan) {
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = Config {
        encoder,
        disc_dropout: 0.0,
        ..Config::preset("tiny").unwrap()
    };
    let m = Bigan::new(&vs.root(), &cfg).unwrap();
    (vs, m)
}

fn softplus_mean(t: &Tensor) -> f64 {
    val(&t.softplus().mean(Kind::Float))
}

#[test]
fn the_encoder_plays_the_generators_loss_with_the_sides_swapped() {
    let (_vs, m) = tiny(Encoder::Deterministic);
    let x = image_split(6, 1, 28).train.x;
    tch::manual_seed(5);
    let l = m.step(&x, &mut NoOp).unwrap().to_map();
    tch::manual_seed(5);
    let z = Tensor::randn([6, 3], (Kind::Float, Device::Cpu));
    let xs = crate::game::model_space("bigan", m.cfg.data, Device::Cpu, &x).unwrap();
    let real = m
        .discriminate(&xs, &m.encode(&xs, true, true).unwrap())
        .unwrap();
    let fake = m.discriminate(&m.generate(&z, true).unwrap(), &z).unwrap();
    let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-5, "{what}: {a} vs {b}");
    close(l["d_real"], val(&real.mean(Kind::Float)), "d_real");
    close(l["d_fake"], val(&fake.mean(Kind::Float)), "d_fake");
    // Non-saturating: D's loss softplus(-D(x, E(x))) + softplus(D(G(z), z)); G's
    // softplus(-D(G(z), z)); E's softplus(D(x, E(x))), the data pair pushed towards "fake".
    close(
        l["d_loss"],
        softplus_mean(&-&real) + softplus_mean(&fake),
        "d_loss",
    );
    close(l["g_generator"], softplus_mean(&-&fake), "g_generator");
    close(l["g_encoder"], softplus_mean(&real), "g_encoder");
    close(l["g_loss"], l["g_generator"] + l["g_encoder"], "g_loss");
}

#[test]
fn reconstructions_are_g_of_e_and_ali_samples_around_its_mean() {
    let (_vs, m) = tiny(Encoder::Gaussian);
    let x = image_split(4, 1, 28).test.x;
    let r = m.reconstruct(&x).unwrap();
    assert_eq!(r.size(), [4, 1, 28, 28]);
    let xs = crate::game::model_space("bigan", m.cfg.data, Device::Cpu, &x).unwrap();
    let by_hand = (m
        .generate(&m.encode(&xs, false, false).unwrap(), false)
        .unwrap()
        + 1.0)
        / 2.0;
    assert!(r.allclose(&by_hand, 1e-6, 1e-6, false));
    // draws and their mean with batch norm in the same (training) mode
    let mean = m.encode(&xs, false, true).unwrap();
    let draws = Tensor::stack(
        &(0..2000)
            .map(|_| m.encode(&xs, true, true).unwrap())
            .collect::<Vec<_>>(),
        0,
    );
    assert!(!draws.get(0).equal(&draws.get(1)));
    // the draws' mean within 5 standard errors of the encoder's mean, every code of every example
    let se = draws.std_dim(0, true, false) / (2000f64).sqrt();
    let gap = val(&((draws.mean_dim(0, false, Kind::Float) - &mean).abs() / se).max());
    assert!(gap < 5.0, "{gap} standard errors");
    let bad = Config {
        game: crate::latent_game::LatentGame {
            objective: crate::Objective::Lsgan,
            max_loss: 1e5,
        },
        ..Config::preset("tiny").unwrap()
    };
    let e = Bigan::new(&nn::VarStore::new(Device::Cpu).root(), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("objective"), "{e}");
}

/// Trained on the ring without any reconstruction loss, `G(E(x))` lands nearer `x` than the
/// ring's mean does (the mean's squared error is the ring's variance, about 2 per coordinate).
/// Configuration: the `toy` preset (64-64 networks, 2 latent dimensions, deterministic encoder,
/// no dropout), 3,000 steps of batch 128, Adam 1e-3, betas (0.5, 0.999).
#[test]
fn a_short_run_on_the_ring_learns_an_encoder_that_g_inverts() {
    let split = toy_split(2048);
    let mut m = super::build("bigan", "toy", serde_json::json!({}), split.train.kind);
    let mut cfg = quick(3000, 128);
    cfg.optimizer.betas = [0.5, 0.999];
    Trainer::new(cfg, None)
        .unwrap()
        .fit(m.as_mut(), &split)
        .unwrap();
    let r = m.evaluate(&split.test, &EvalOptions::default()).unwrap();
    let (rec, base) = (r.metrics["recon_mse"], r.metrics["recon_mse_mean"]);
    assert!(rec < 0.5 * base, "recon_mse {rec} vs the mean's {base}");
}

/// Batch norm in the generator and encoder (`batch_norm`, the paper's MNIST networks): named
/// `gen.g.bn*` / `gen.enc.bn*`; in training each hidden unit's pre-activation is normalized
/// over the batch (the first layer's normalized outputs have mean 0 and variance 1), while
/// sampling and reconstructions use the running statistics, so that an example's image does not
/// depend on the rest of its batch (one example at a time gives the same image).
#[test]
fn batch_norm_normalizes_in_training_and_samples_each_example_alone() {
    let (vs, m) = tiny(Encoder::Deterministic);
    assert!(m.cfg.batch_norm);
    let names: Vec<String> = vs.variables().into_keys().collect();
    for want in [
        "gen.g.bn1.weight",
        "gen.g.bn1.running_mean",
        "gen.enc.bn1.bias",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let z = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
    let pre = m.gen.layers[0].forward(&z, false).unwrap();
    let normed = crate::nets::batch_norm(&m.gen.bn[0], &pre, true).unwrap();
    assert!(val(&normed.mean_dim(0, false, Kind::Float).abs().max()) < 1e-5);
    let var = normed.var_dim(0, false, false);
    assert!(val(&(var - 1.0).abs().max()) < 1e-3);
    let all = m.generate(&z, false).unwrap();
    let one = m.generate(&z.narrow(0, 3, 1), false).unwrap();
    assert!(val(&(all.narrow(0, 3, 1) - one).abs().max()) < 1e-6);
    let x = image_split(4, 1, 28).train.x.narrow(0, 0, 1);
    assert_eq!(m.reconstruct(&x).unwrap().size(), [1, 1, 28, 28]);
}
