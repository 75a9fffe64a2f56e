//! Exact normalization: the probabilities of all possible images sum to 1.
use tch::{Kind, Tensor};

use super::*;
use genzoo_core::obs::Prepared;

/// `log sum_x p(x)` over every binary image of the model's shape.
fn log_total_binary(net: &dyn Autoregressive) -> f64 {
    let x = all_binary(&net.data());
    // Conditional models are checked given class 1.
    let n = x.size()[0];
    let labels = (net.num_classes() > 0).then(|| Tensor::ones([n], (Kind::Int64, Device::Cpu)));
    let prep = Prepared {
        input: x.shallow_clone(),
        target: x,
    };
    let lp = tch::no_grad(|| net.log_prob(&prep, labels.as_ref(), false).unwrap());
    lp.to_kind(Kind::Double)
        .logsumexp([0], false)
        .double_value(&[])
}

#[test]
fn binary_models_sum_to_one_over_all_512_images() {
    let d = image(1, 3, 3);
    for (what, b) in [
        ("pixelcnn", pixelcnn(d, Likelihood::Bernoulli, 2)),
        ("gated-pixelcnn", gated(d, Likelihood::Bernoulli, 3, 0)),
        (
            "conditional gated-pixelcnn",
            gated(d, Likelihood::Bernoulli, 2, 3),
        ),
        ("nade", nade_net(d)),
        ("made", made_net(d, 1)),
        ("made ensemble of 4", made_net(d, 4)),
        (
            "pixelrnn-row",
            pixelrnn(d, pixel_rnn::RnnKind::RowLstm, Likelihood::Bernoulli),
        ),
        (
            "pixelrnn-diag",
            pixelrnn(d, pixel_rnn::RnnKind::DiagonalBilstm, Likelihood::Bernoulli),
        ),
    ] {
        let t = log_total_binary(&*b.net);
        assert!(t.abs() < 1e-4, "{what}: log sum p = {t}");
    }
}

#[test]
fn rgb_channel_masks_normalize_over_all_4096_binary_images() {
    let d = image(3, 2, 2);
    for (what, b) in [
        ("pixelcnn", pixelcnn(d, Likelihood::Bernoulli, 1)),
        ("gated-pixelcnn", gated(d, Likelihood::Bernoulli, 2, 0)),
        (
            "pixelrnn-row",
            pixelrnn(d, pixel_rnn::RnnKind::RowLstm, Likelihood::Bernoulli),
        ),
        (
            "pixelrnn-diag",
            pixelrnn(d, pixel_rnn::RnnKind::DiagonalBilstm, Likelihood::Bernoulli),
        ),
    ] {
        let t = log_total_binary(&*b.net);
        assert!(t.abs() < 1e-4, "{what} rgb: log sum p = {t}");
    }
}

#[test]
fn the_256_way_softmax_sums_to_one_over_all_65536_two_pixel_images() {
    let d = image(1, 1, 2);
    let v = Tensor::arange(65536, (Kind::Int64, Device::Cpu));
    let levels =
        Tensor::stack(&[v.remainder(256), v.floor_divide_scalar(256)], 1).reshape([65536, 1, 1, 2]);
    for (what, b) in [
        ("pixelcnn", pixelcnn(d, Likelihood::Categorical, 1)),
        ("gated-pixelcnn", gated(d, Likelihood::Categorical, 2, 0)),
        ("pixelcnn logistic", pixelcnn(d, Likelihood::Logistic, 1)),
        (
            "pixelrnn-diag",
            pixelrnn(
                d,
                pixel_rnn::RnnKind::DiagonalBilstm,
                Likelihood::Categorical,
            ),
        ),
    ] {
        let prep = Prepared {
            input: levels.to_kind(Kind::Float) / 255.0,
            target: levels.shallow_clone(),
        };
        let lp = tch::no_grad(|| b.net.log_prob(&prep, None, false).unwrap());
        let t = lp
            .to_kind(Kind::Double)
            .logsumexp([0], false)
            .double_value(&[]);
        assert!(t.abs() < 1e-4, "{what}: log sum p = {t}");
    }
}
