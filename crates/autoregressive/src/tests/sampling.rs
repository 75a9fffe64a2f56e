//! Cached sampling equals naive sampling for the same seed; known values are kept; temperature.
use tch::{Kind, Tensor};

use super::*;
use crate::model::{sample_naive, SampleJob};
use crate::sampling::uniforms;

fn both(
    net: &dyn Autoregressive,
    n: i64,
    labels: Option<&Tensor>,
    known: Option<(&Tensor, &Tensor)>,
    t: f64,
) -> (Tensor, Tensor) {
    let u = uniforms(n, net.data().dims(), 7, Device::Cpu).unwrap();
    let job = SampleJob {
        n,
        labels,
        u: &u,
        temperature: t,
        known,
        cond_map: None,
    };
    let naive = sample_naive(net, &job).unwrap();
    let cached = tch::no_grad(|| net.cached().unwrap().sample_cached(&job).unwrap());
    (naive, cached)
}

fn assert_same(net: &dyn Autoregressive, what: &str, labels: Option<&Tensor>) {
    for t in [1.0, 0.7] {
        let (naive, cached) = both(net, 6, labels, None, t);
        assert!(
            naive.equal(&cached),
            "{what} at T={t}: cached samples differ from naive ones"
        );
        // Not a degenerate canvas: the draws vary.
        assert!(
            naive.std(false).double_value(&[]) > 0.0,
            "{what}: constant samples"
        );
    }
}

#[test]
fn cached_sampling_equals_naive_sampling() {
    let grey = image(1, 5, 6);
    assert_same(
        &*pixelcnn(grey, Likelihood::Bernoulli, 2).net,
        "pixelcnn",
        None,
    );
    assert_same(
        &*gated(grey, Likelihood::Bernoulli, 3, 0).net,
        "gated-pixelcnn",
        None,
    );
    let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
    assert_same(
        &*gated(grey, Likelihood::Bernoulli, 2, 3).net,
        "conditional gated",
        Some(&labels),
    );
    assert_same(&*nade_net(grey).net, "nade", None);
    // MADE in two of its drawn orders, with two hidden layers (tiny).
    let mut m = made_net(grey, 1);
    for draw in [0, 2] {
        m.net.start_step(draw).unwrap();
        assert_same(&*m.net, &format!("made draw {draw}"), None);
    }
}

#[test]
fn cached_sampling_equals_naive_for_8_bit_and_rgb() {
    let grey = image(1, 4, 4);
    assert_same(
        &*pixelcnn(grey, Likelihood::Categorical, 1).net,
        "pixelcnn 256-way",
        None,
    );
    assert_same(
        &*pixelcnn(grey, Likelihood::Logistic, 1).net,
        "pixelcnn logistic",
        None,
    );
    let rgb = image(3, 3, 3);
    assert_same(
        &*pixelcnn(rgb, Likelihood::Categorical, 1).net,
        "pixelcnn rgb",
        None,
    );
    assert_same(
        &*gated(rgb, Likelihood::Categorical, 2, 0).net,
        "gated rgb",
        None,
    );
}

#[test]
fn completion_keeps_the_known_half_and_both_samplers_agree() {
    let d = image(1, 4, 5);
    let b = gated(d, Likelihood::Bernoulli, 2, 0);
    let x = Tensor::rand([6, 1, 4, 5], (Kind::Float, Device::Cpu)).round();
    let known = Tensor::ones([6, 1, 4, 5], (Kind::Bool, Device::Cpu));
    let _ = known.narrow(2, 2, 2).fill_(0);
    let (naive, cached) = both(&*b.net, 6, None, Some((&x, &known)), 1.0);
    assert!(naive.equal(&cached));
    assert!(
        naive.narrow(2, 0, 2).equal(&x.narrow(2, 0, 2)),
        "the known top half changed"
    );
}

#[test]
fn temperature_near_zero_is_greedy() {
    // At T -> 0 a Bernoulli draw is 1 exactly when its logit is positive.
    let b = nade_net(image(1, 3, 3));
    let (naive, _) = both(&*b.net, 4, None, None, 1e-6);
    let params = b.net.params(&naive, None, false).unwrap().flatten(1, -1);
    assert!(params
        .gt(0.0)
        .to_kind(Kind::Float)
        .equal(&naive.flatten(1, -1)));
}

/// Temperatures far below `f32`'s range (where logits / T overflow to infinities and a softmax
/// to NaN) draw the greedy value, not a degenerate constant: the argmax of a categorical (here
/// level 200 of 256, not 0 or 255), 1 iff a Bernoulli logit is positive.
#[test]
fn tiny_temperatures_draw_the_most_likely_value() {
    use genzoo_core::obs::Likelihood;
    let logits = Tensor::zeros([2, 256], (Kind::Float, tch::Device::Cpu));
    let _ = logits.get(0).get(200).fill_(3.0);
    let _ = logits.get(1).get(17).fill_(0.5);
    let u = Tensor::from_slice(&[0.999f32, 0.001]);
    for t in [1e-6, 1e-12, 1e-40, 1e-300] {
        let x = crate::sampling::draw(Likelihood::Categorical, &logits, &u, t).unwrap();
        assert_eq!(Vec::<f32>::try_from(&x).unwrap(), [200.0, 17.0], "T = {t}");
        let b = crate::sampling::draw(
            Likelihood::Bernoulli,
            &Tensor::from_slice(&[-0.3f32, 2.0]).unsqueeze(1),
            &u,
            t,
        )
        .unwrap();
        assert_eq!(Vec::<f32>::try_from(&b).unwrap(), [0.0, 1.0], "T = {t}");
    }
}
