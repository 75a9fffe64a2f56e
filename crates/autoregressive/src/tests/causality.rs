//! Causality by gradients: the parameters at a position have exactly zero gradient with respect
//! to the input at that position and every later one (raster order, later channels for RGB; the
//! model's own order for MADE), and a nonzero gradient for some earlier one. Plain PixelCNN's
//! blind spot shows as zero gradients where Gated PixelCNN's are nonzero.
use tch::{Kind, Tensor};

use super::*;

/// |d params(f) / d x| summed over 32 random inputs (so that no path is dead at every one of
/// them): one value per input position.
pub(super) fn grads(net: &dyn Autoregressive, f: i64) -> Vec<f64> {
    let kind = net.data();
    let mut shape = vec![32];
    shape.extend(kind.example_shape());
    tch::manual_seed(9);
    let x = Tensor::rand(shape.as_slice(), (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let labels = (net.num_classes() > 0)
        .then(|| Tensor::arange(32, (Kind::Int64, Device::Cpu)).remainder(2));
    let params = net.params(&x, labels.as_ref(), false).unwrap();
    let out = params.flatten(2, -1).select(2, f).sum(Kind::Float);
    let g = Tensor::run_backward(&[out], &[&x], false, false)
        .pop()
        .unwrap();
    let g = g
        .abs()
        .sum_dim_intlist(0, false, Kind::Double)
        .flatten(0, -1);
    Vec::<f64>::try_from(&g).unwrap()
}

/// Checks every output position of `net`: zero gradient from itself and later positions,
/// nonzero from some earlier one (for every position but the first) when `reach`.
pub(super) fn assert_causal(net: &dyn Autoregressive, what: &str) {
    check_causal(net, what, true);
}

fn check_causal(net: &dyn Autoregressive, what: &str, reach: bool) {
    let order = net.order();
    let mut rank = vec![0usize; order.len()];
    for (r, &f) in order.iter().enumerate() {
        rank[f as usize] = r;
    }
    for (r, &f) in order.iter().enumerate() {
        let g = grads(net, f);
        for (q, &gq) in g.iter().enumerate() {
            if rank[q] >= r {
                assert_eq!(gq, 0.0, "{what}: output {f} sees input {q} (not earlier)");
            }
        }
        if reach && r > 0 {
            assert!(
                g.iter().enumerate().any(|(q, &gq)| rank[q] < r && gq > 0.0),
                "{what}: output {f} sees no earlier input"
            );
        }
    }
}

#[test]
fn image_models_are_causal_in_raster_order() {
    let grey = image(1, 5, 5);
    assert_causal(&*pixelcnn(grey, Likelihood::Bernoulli, 2).net, "pixelcnn");
    assert_causal(
        &*gated(grey, Likelihood::Bernoulli, 3, 0).net,
        "gated-pixelcnn",
    );
    assert_causal(
        &*gated(grey, Likelihood::Bernoulli, 2, 3).net,
        "conditional gated-pixelcnn",
    );
    let small = image(1, 4, 4);
    assert_causal(&*nade_net(small).net, "nade");
    for kind in [
        pixel_rnn::RnnKind::RowLstm,
        pixel_rnn::RnnKind::DiagonalBilstm,
    ] {
        assert_causal(
            &*pixelrnn(grey, kind, Likelihood::Bernoulli).net,
            &format!("{kind:?}"),
        );
    }
}

#[test]
fn rgb_channel_masks_order_r_then_g_then_b() {
    let rgb = image(3, 3, 3);
    assert_causal(
        &*pixelcnn(rgb, Likelihood::Categorical, 1).net,
        "pixelcnn rgb",
    );
    assert_causal(
        &*gated(rgb, Likelihood::Categorical, 2, 0).net,
        "gated-pixelcnn rgb",
    );
    // PixelRNN's colour groups: a hidden size of 12 (four units per colour, per gate).
    for kind in [
        pixel_rnn::RnnKind::RowLstm,
        pixel_rnn::RnnKind::DiagonalBilstm,
    ] {
        let net = pixelrnn(rgb, kind, Likelihood::Categorical);
        assert_causal(&*net.net, &format!("{kind:?} rgb"));
        // B at the centre pixel sees its R and G, G sees R only
        let g = grads(&*net.net, 18 + 4);
        assert!(g[4] > 0.0 && g[9 + 4] > 0.0, "{kind:?}: B misses R or G");
        let g = grads(&*net.net, 9 + 4);
        assert!(
            g[4] > 0.0 && g[9 + 4] == 0.0,
            "{kind:?}: G at its own pixel"
        );
    }
    // The catalogue rounds the presets' widths up to the colour groups (16 -> 18, 32 -> 33).
    let mut c = pixel_rnn::Config::row_preset("mnist").unwrap();
    c.data = rgb;
    c.fit_colour_groups();
    assert_eq!((c.hidden, c.head), (18, 33));
    // B at a pixel sees R and G of the same pixel (through the channel masks).
    let b = gated(rgb, Likelihood::Categorical, 2, 0);
    let (r_at, g_at, b_at) = (4, 9 + 4, 18 + 4); // the centre pixel's R, G, B
    let g = grads(&*b.net, b_at);
    assert!(g[r_at] > 0.0 && g[g_at as usize] > 0.0 && g[b_at as usize] == 0.0);
}

#[test]
fn made_is_causal_in_each_drawn_order() {
    let mut m = made_net(image(1, 3, 3), 1);
    // With random hidden degrees a conditional may be left unconnected (then it is a constant,
    // as in the paper's sampling of degrees): only the zero gradients are required.
    for draw in [0, 1, 3] {
        m.net.start_step(draw).unwrap();
        check_causal(&*m.net, &format!("made draw {draw}"), false);
    }
    // Order-agnostic: different draws generate in different orders.
    m.net.start_step(1).unwrap();
    let o1 = m.net.order();
    m.net.start_step(3).unwrap();
    assert_ne!(o1, m.net.order());
}

#[test]
fn pixelcnn_has_a_blind_spot_that_gated_pixelcnn_does_not() {
    let data = image(1, 7, 7);
    let plain = pixelcnn(data, Likelihood::Bernoulli, 2); // three 3x3 masked layers
    let gated = gated(data, Likelihood::Bernoulli, 3, 0); // three gated layers
    let (i, j) = (5i64, 3i64);
    let f = i * 7 + j;
    let (gp, gg) = (grads(&*plain.net, f), grads(&*gated.net, f));
    let earlier = |q: i64| q < f;
    // Every earlier pixel within two rows above and two columns either side reaches the gated
    // model's output; some of them do not reach plain PixelCNN's: its blind spot.
    let window: Vec<i64> = (i - 2..=i)
        .flat_map(|r| (j - 2..=j + 2).map(move |c| r * 7 + c))
        .filter(|&q| earlier(q))
        .collect();
    for &q in &window {
        assert!(gg[q as usize] > 0.0, "gated-pixelcnn misses input {q}");
    }
    let blind: Vec<i64> = window
        .iter()
        .copied()
        .filter(|&q| gp[q as usize] == 0.0)
        .collect();
    assert!(!blind.is_empty(), "plain PixelCNN shows no blind spot");
    // The blind spot is up and to the right (fig. 1 of the Gated PixelCNN paper).
    assert!(blind.iter().all(|&q| q / 7 < i && q % 7 > j), "{blind:?}");
}
