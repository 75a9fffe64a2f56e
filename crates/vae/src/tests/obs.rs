//! Decoder likelihoods.
use genzoo_core::dist::Bernoulli;
use tch::{Device, Kind, Tensor};

use super::mean;
use crate::obs::{Likelihood, Mode};

#[test]
fn fused_bernoulli_equals_core_bernoulli() {
    tch::manual_seed(0);
    let logits = Tensor::randn([3, 1, 1, 4, 4], (Kind::Float, Device::Cpu)) * 5.0;
    let x = Tensor::randint(2, [3, 1, 4, 4], (Kind::Float, Device::Cpu));
    let ours = Likelihood::Bernoulli.log_prob(&logits, &x).unwrap();
    let core = Bernoulli::new(&logits.select(1, 0))
        .unwrap()
        .f_log_prob(&x)
        .unwrap()
        .reshape([3, -1])
        .sum_dim_intlist(1, false, Kind::Float);
    assert!(
        ours.allclose(&core, 1e-5, 1e-4, false),
        "{ours:?} vs {core:?}"
    );
    assert!(mean(&ours) < 0.0);
}

/// Every 8-bit model's masses over the 256 levels of a pixel sum to one.
#[test]
fn eight_bit_likelihoods_normalize() {
    tch::manual_seed(1);
    let levels = Tensor::arange(256, (Kind::Int64, Device::Cpu)).reshape([256, 1, 1, 1]);
    for lik in [Likelihood::Categorical, Likelihood::Logistic] {
        for trial in 0..3 {
            let p = Tensor::randn([1, lik.params(), 1, 1, 1], (Kind::Float, Device::Cpu))
                * (1.0 + trial as f64);
            let params = p.expand([256, lik.params(), 1, 1, 1], false).contiguous();
            let lp = lik.log_prob(&params, &levels).unwrap();
            let total = lp.logsumexp([0], false).double_value(&[]);
            assert!(total.abs() < 1e-4, "{lik:?}: log sum of masses = {total}");
        }
        assert_eq!(lik.unit(), genzoo_core::units::NllUnit::BitsPerDim);
    }
}

#[test]
fn gaussian_likelihood_matches_closed_form() {
    // N(x; 1, e^{0.5}) at x = 2 in each of 2 dims.
    let params = Tensor::from_slice(&[1.0f32, 1.0, 0.5, 0.5]).reshape([1, 2, 2]);
    let lp = Likelihood::Gaussian
        .log_prob(&params, &Tensor::from_slice(&[2.0f32, 2.0]).reshape([1, 2]))
        .unwrap();
    let s = 0.5f64.exp();
    let want = 2.0 * (-0.5 * (1.0 / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln());
    assert!((lp.double_value(&[0]) - want).abs() < 1e-5);
}

#[test]
fn static_binarization_is_fixed_and_dynamic_is_not() {
    let x = super::images(4, 9).x;
    let a = Likelihood::Bernoulli
        .prepare(&x, Mode::Eval { seed: 3 })
        .unwrap()
        .target;
    let b = Likelihood::Bernoulli
        .prepare(&x, Mode::Eval { seed: 3 })
        .unwrap()
        .target;
    assert!(a.equal(&b));
    let c = Likelihood::Bernoulli
        .prepare(&x, Mode::Train)
        .unwrap()
        .target;
    let d = Likelihood::Bernoulli
        .prepare(&x, Mode::Train)
        .unwrap()
        .target;
    assert!(!c.equal(&d));
    // Levels must be u8 for the 8-bit likelihoods; vectors are refused by them.
    let err = Likelihood::Categorical
        .prepare(&x.to_kind(Kind::Float), Mode::Train)
        .unwrap_err();
    assert!(err.to_string().contains("u8"), "{err}");
    let err = Likelihood::Logistic
        .resolve(&genzoo_core::data::DataKind::Vector { dim: 2 })
        .unwrap_err();
    assert!(err.to_string().contains("likelihood"), "{err}");
}

#[test]
fn repeated_fast_path_equals_fused_bce() {
    tch::manual_seed(4);
    let (k, b) = (3i64, 2i64);
    let logits = Tensor::randn([k * b, 1, 1, 4, 4], (Kind::Float, Device::Cpu)) * 4.0;
    let _ = logits.get(0).get(0).get(0).get(0).fill_(1e4);
    let _ = logits.get(1).get(0).get(0).get(0).fill_(-1e4);
    let x = Tensor::randint(2, [b, 1, 4, 4], (Kind::Float, Device::Cpu));
    let fast = Likelihood::Bernoulli
        .log_prob_repeated(&logits, &x, k)
        .unwrap();
    let slow = Likelihood::Bernoulli
        .log_prob(&logits, &crate::latent::expand_rows(&x, k).unwrap())
        .unwrap();
    assert!(bool::try_from(fast.isfinite().all()).unwrap());
    assert!(
        fast.allclose(&slow, 1e-5, 1e-3, false),
        "{fast:?} vs {slow:?}"
    );
}
