//! The vector quantizer and the VQ models.
use tch::{nn, Device, Kind, Tensor};

use super::{images, set_var};
use crate::obs::Mode;
use crate::quantizer::{PositionPrior, Quantizer};
use crate::vq_vae::{Config, VqVae};
use genzoo_core::model::CodePrior;

#[test]
fn straight_through_gradients_reach_the_encoder() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let vq = VqVae::new(&vs.root(), &Config::preset("tiny").unwrap()).unwrap();
    let prep = vq.quant_input(&images(4, 1).x);
    let (losses, _) = vq.loss(&prep, false).unwrap();
    // Only the reconstruction term: its gradient can reach the encoder only through z_q's
    // straight-through copy.
    let recon = &losses.parts().iter().find(|(n, _)| n == "recon").unwrap().1;
    recon.backward();
    let vars = vs.variables();
    let enc_grad: f64 = vars
        .iter()
        .filter(|(n, _)| n.starts_with("enc."))
        .map(|(_, t)| t.grad().abs().sum(Kind::Double).double_value(&[]))
        .sum();
    assert!(enc_grad > 0.0, "no gradient reached the encoder");
    let pre = vars["pre_vq.weight"]
        .grad()
        .abs()
        .sum(Kind::Double)
        .double_value(&[]);
    assert!(pre > 0.0);
    // The EMA codebook is not trained by gradient.
    assert!(!vars["vq.embed"].requires_grad());
}

#[test]
fn ema_moves_each_code_to_the_mean_of_its_vectors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let decay = 0.75;
    let q = Quantizer::new(&(vs.root() / "vq"), 3, 2, true, decay, 0.0).unwrap();
    let codes = Tensor::from_slice(&[0.0f32, 0.0, 10.0, 0.0, 0.0, 10.0]).reshape([3, 2]);
    set_var(&vs, "vq.embed", &codes);
    set_var(&vs, "vq.embed_sum", &codes);
    // Vectors near codes 0 and 1 only; code 2 gets none.
    let v = Tensor::from_slice(&[1.0f32, 1.0, -1.0, 2.0, 9.0, 1.0, 11.0, 3.0, 12.0, -1.0])
        .reshape([5, 2]);
    let z_e = v.reshape([1, 5, 1, 2]).permute([0, 3, 1, 2]); // [1, D=2, 1, 5]
    let out = q.forward(&z_e, true).unwrap();
    assert_eq!(
        Vec::<i64>::try_from(out.codes.flatten(0, -1)).unwrap(),
        vec![0, 0, 1, 1, 1]
    );
    let e = q.embed.shallow_clone();
    let means = [
        Tensor::from_slice(&[0.0f32, 1.5]),
        Tensor::from_slice(&[32.0f32 / 3.0, 1.0]),
    ];
    let counts = [2.0, 3.0];
    for i in 0..2 {
        let old = codes.get(i as i64);
        let new = e.get(i as i64);
        let before = (&old - &means[i]).norm().double_value(&[]);
        let after = (&new - &means[i]).norm().double_value(&[]);
        assert!(after < before, "code {i}: {before} -> {after}");
        // e = (g e_old + (1 - g) n mean) / (g + (1 - g) n): a convex combination.
        let a = (1.0 - decay) * counts[i] / (decay + (1.0 - decay) * counts[i]);
        let want = &old * (1.0 - a) + &means[i] * a;
        assert!(
            new.allclose(&want, 1e-3, 1e-3, false),
            "code {i}: {new:?} vs {want:?}"
        );
    }
    assert!(
        e.get(2).allclose(&codes.get(2), 1e-4, 1e-4, false),
        "an unused code must not move"
    );
    let perplexity = out.perplexity.double_value(&[]);
    let h = -(0.4f64 * 0.4f64.ln() + 0.6 * 0.6f64.ln());
    assert!((perplexity - h.exp()).abs() < 1e-4);
}

#[test]
fn dead_codes_restart_from_encoder_outputs() {
    let vs = nn::VarStore::new(Device::Cpu);
    let q = Quantizer::new(&(vs.root() / "vq"), 4, 2, true, 0.99, 0.5).unwrap();
    tch::manual_seed(2);
    let z_e =
        (Tensor::randn([2, 2, 3, 3], (Kind::Float, Device::Cpu)) + 100.0).set_requires_grad(false);
    q.forward(&z_e, true).unwrap();
    // Usage starts at 0, so every code is restarted at an encoder output (all near 100).
    let e = q.embed.shallow_clone();
    assert!(e.ge(90.0).all().int64_value(&[]) == 1, "{e:?}");
    let flat = z_e.permute([0, 2, 3, 1]).reshape([-1, 2]);
    for i in 0..4 {
        let dist = (&flat - e.get(i))
            .norm_scalaropt_dim(2.0, [1], false)
            .min()
            .double_value(&[]);
        assert!(dist < 1e-5, "code {i} is not an encoder output");
    }
}

#[test]
fn position_prior_fits_code_frequencies() {
    let vs = nn::VarStore::new(Device::Cpu);
    let prior = PositionPrior::new(&(vs.root() / "p"), (1, 2), 3, 0.9).unwrap();
    let codes = Tensor::from_slice(&[0i64, 2, 0, 1, 0, 1, 1, 1]).reshape([4, 1, 2]);
    prior.fit(&codes).unwrap();
    let f = prior.freq.shallow_clone();
    assert!(f.get(0).allclose(
        &Tensor::from_slice(&[0.75f32, 0.25, 0.0]),
        1e-6,
        1e-6,
        false
    ));
    assert!(f.get(1).allclose(
        &Tensor::from_slice(&[0.0f32, 0.75, 0.25]),
        1e-6,
        1e-6,
        false
    ));
    let lp = prior
        .log_prob(&Tensor::from_slice(&[0i64, 1]).reshape([1, 1, 2]))
        .unwrap()
        .double_value(&[0]);
    let mix = |p: f64| {
        p * (1.0 - crate::quantizer::PRIOR_UNIFORM_MIX) + crate::quantizer::PRIOR_UNIFORM_MIX / 3.0
    };
    assert!((lp - 2.0 * mix(0.75).ln()).abs() < 1e-5, "{lp}");
    let s = CodePrior::sample(&prior, 4000, 3).unwrap();
    assert_eq!(s.size(), [4000, 1, 2]);
    // Codes of another grid or outside 0..K are errors, not panics.
    assert!(prior
        .log_prob(&Tensor::from_slice(&[0i64, 3]).reshape([1, 1, 2]))
        .is_err());
    assert!(prior
        .log_prob(&Tensor::from_slice(&[0i64, 1]).reshape([1, 2, 1]))
        .is_err());
    let p0 = s
        .select(2, 0)
        .eq(0)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((p0 - 0.75).abs() < 0.03, "{p0}");
}

impl VqVae {
    fn quant_input(&self, x: &Tensor) -> crate::obs::Prepared {
        crate::obs::Likelihood::Bernoulli
            .prepare(x, Mode::Eval { seed: 0 })
            .unwrap()
    }
}
