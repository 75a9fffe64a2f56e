//! Tests of the discretized logistic mixture (PixelCNN++, Salimans et al. 2017): edge cases at
//! 0 and 255, the log-pdf fallback, normalization over the 256 levels, and the RGB coupling.
use super::*;
use proptest::prelude::*;
use tch::Device;

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn levels() -> Tensor {
    Tensor::arange(256, (Kind::Int64, Device::Cpu))
}

#[test]
fn edge_and_interior_masses_match_the_logistic_cdf() {
    let (mu, s) = (0.1f64, 0.3f64);
    let d = DiscretizedLogisticMixture::new(
        &Tensor::zeros([1], F64),
        &Tensor::from_slice(&[mu]),
        &Tensor::from_slice(&[s.ln()]),
        256,
    )
    .unwrap();
    let lp = d
        .log_prob(&Tensor::from_slice(&[0i64, 255, 100]).view([3, 1]))
        .unwrap()
        .view([3]);
    let h = 1.0 / 255.0;
    let p0 = sigmoid((-1.0 + h - mu) / s);
    let p255 = 1.0 - sigmoid((1.0 - h - mu) / s);
    let x100 = 200.0 / 255.0 - 1.0;
    let p100 = sigmoid((x100 + h - mu) / s) - sigmoid((x100 - h - mu) / s);
    assert!((lp.double_value(&[0]) - p0.ln()).abs() < 1e-10, "edge 0");
    assert!(
        (lp.double_value(&[1]) - p255.ln()).abs() < 1e-10,
        "edge 255"
    );
    assert!(
        (lp.double_value(&[2]) - p100.ln()).abs() < 1e-10,
        "interior"
    );
    // the same values in [-1,1] units
    let x = levels_to_unit(&Tensor::from_slice(&[0i64, 255, 100]), 256, Kind::Double).unwrap();
    let lpx = d.log_prob(&x.view([3, 1])).unwrap().view([3]);
    assert!((lpx - lp).abs().max().double_value(&[]) < 1e-12);
    // no bin needs the fallback here, so the 256 masses telescope to exactly one
    let total = d
        .log_prob(&levels().view([256, 1]))
        .unwrap()
        .exp()
        .sum(Kind::Double)
        .double_value(&[]);
    assert!((total - 1.0).abs() < 1e-12, "{total}");
}

#[test]
fn underflowing_bins_use_the_log_pdf_fallback() {
    // a narrow component far from level 128: the interior mass underflows below 1e-5
    let (mu, ls) = (-0.9f64, -5.0f64);
    let x = 2.0 * 128.0 / 255.0 - 1.0;
    let lp = discretized_logistic_log_prob(
        &Tensor::from_slice(&[x]),
        &Tensor::from_slice(&[mu]),
        &Tensor::from_slice(&[ls]),
        256,
    )
    .unwrap()
    .double_value(&[0]);
    let z = (x - mu) / ls.exp();
    let want = z - ls - 2.0 * (1.0 + z.exp()).ln() - 127.5f64.ln();
    assert!((lp - want).abs() < 1e-9 * want.abs(), "{lp} vs {want}");
    assert!(lp.is_finite() && lp < -100.0);
    // log-scales below -7 are clamped as in PixelCNN++
    let a = discretized_logistic_log_prob(
        &Tensor::from_slice(&[0.0f64]),
        &Tensor::from_slice(&[0.0f64]),
        &Tensor::from_slice(&[-30.0f64]),
        256,
    )
    .unwrap();
    let b = discretized_logistic_log_prob(
        &Tensor::from_slice(&[0.0f64]),
        &Tensor::from_slice(&[0.0f64]),
        &Tensor::from_slice(&[MIN_LOG_SCALE]),
        256,
    )
    .unwrap();
    assert_eq!(a.double_value(&[0]), b.double_value(&[0]));
}

#[test]
fn extreme_weight_logits_are_finite_and_entropy_is_exact() {
    let d = DiscretizedLogisticMixture::new(
        &Tensor::from_slice(&[1e4f32, -1e4]),
        &Tensor::from_slice(&[0.0f32, 0.5]),
        &Tensor::from_slice(&[-2.0f32, -1.0]),
        256,
    )
    .unwrap();
    let lp = d.log_prob(&levels().view([256, 1])).unwrap();
    assert!(bool::try_from(lp.isfinite().all()).unwrap());
    // the weight logits make component 0 certain: same as the single component
    let d0 = DiscretizedLogisticMixture::new(
        &Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        &Tensor::from_slice(&[0.0f32]),
        &Tensor::from_slice(&[-2.0f32]),
        256,
    )
    .unwrap();
    let lp0 = d0.log_prob(&levels().view([256, 1])).unwrap();
    assert!((&lp - &lp0).abs().max().double_value(&[]) < 1e-4);
    let h = d0.entropy().unwrap().double_value(&[]);
    let p = lp0.exp().to_kind(Kind::Double);
    let want = -(&p * p.log()).sum(Kind::Double).double_value(&[]);
    assert!((h - want).abs() < 1e-4 && h > 0.0 && h < 256f64.ln());
}

#[test]
fn samples_follow_the_mixture() {
    tch::manual_seed(11);
    let d = DiscretizedLogisticMixture::new(
        &Tensor::from_slice(&[0.25f64.ln(), 0.75f64.ln()]),
        &Tensor::from_slice(&[-0.5f64, 0.5]),
        &Tensor::from_slice(&[-4.0f64, -4.0]),
        256,
    )
    .unwrap();
    let s = d.sample(&[40_000]);
    assert_eq!(s.size(), vec![40_000]);
    let v = unit_to_levels(&s, 256).unwrap();
    // on the grid
    assert!(
        (levels_to_unit(&v, 256, Kind::Double).unwrap() - &s)
            .abs()
            .max()
            .double_value(&[])
            < 1e-12
    );
    let frac_hi = s
        .gt(0.0)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((frac_hi - 0.75).abs() < 0.01, "{frac_hi}");
    assert!(bool::try_from(d.log_prob(&s).unwrap().isfinite().all()).unwrap());
}

#[test]
fn pixelcnnpp_grey_equals_the_per_dimension_mixture() {
    tch::manual_seed(2);
    let k = 3;
    let l = Tensor::randn([2, 3 * k, 2, 2], F64);
    let x = levels_to_unit(
        &Tensor::randint(256, [2, 1, 2, 2], (Kind::Int64, Device::Cpu)),
        256,
        Kind::Double,
    )
    .unwrap();
    let got = pixelcnnpp_log_prob(&x, &l).unwrap(); // [2, 2, 2]
    let lp = l.permute([0, 2, 3, 1]);
    let d = DiscretizedLogisticMixture::new(
        &lp.narrow(3, 0, k),
        &lp.narrow(3, k, k),
        &lp.narrow(3, 2 * k, k),
        256,
    )
    .unwrap();
    let want = d.log_prob(&x.squeeze_dim(1)).unwrap();
    assert!((got - want).abs().max().double_value(&[]) < 1e-10);
}

#[test]
fn pixelcnnpp_rgb_marginalizes_to_the_red_mixture() {
    tch::manual_seed(4);
    let k = 2;
    let l = Tensor::randn([1, 10 * k, 1, 1], F64) * 0.7;
    // every (g, b) for r = 77: sum_{g,b} p(r, g, b) = p(r) = sum_k pi_k p_k(r)
    let r = 77i64;
    let gb = Tensor::arange(256 * 256, (Kind::Int64, Device::Cpu));
    let rgb = Tensor::stack(
        &[
            gb.full_like(r),
            gb.divide_scalar_mode(256, "floor"),
            gb.remainder(256),
        ],
        1,
    ); // [65536, 3]
    let x = levels_to_unit(&rgb, 256, Kind::Double)
        .unwrap()
        .view([65536, 3, 1, 1]);
    let lp = pixelcnnpp_log_prob(&x, &l.expand([65536, 10 * k, 1, 1], false)).unwrap();
    let total = lp.logsumexp([0i64, 1, 2], false).double_value(&[]);
    let p = l.view([10 * k]);
    let red = DiscretizedLogisticMixture::new(
        &p.narrow(0, 0, k),
        &p.narrow(0, k, k),
        &p.narrow(0, 2 * k, k),
        256,
    )
    .unwrap();
    let want = red
        .log_prob(&Tensor::from_slice(&[r]))
        .unwrap()
        .double_value(&[0]);
    assert!((total - want).abs() < 1e-6, "{total} vs {want}");
    // samples are on the grid, in [-1,1], with finite log-likelihood
    let s = pixelcnnpp_sample(&l.expand([8, 10 * k, 3, 2], false), 3).unwrap();
    assert_eq!(s.size(), vec![8, 3, 3, 2]);
    assert!(s.abs().max().double_value(&[]) <= 1.0);
    let lps = pixelcnnpp_log_prob(&s, &l.expand([8, 10 * k, 3, 2], false)).unwrap();
    assert!(bool::try_from(lps.isfinite().all()).unwrap());
}

#[test]
fn bad_shapes_are_named() {
    let l = Tensor::zeros([1, 7, 2, 2], F64);
    let x = Tensor::zeros([1, 3, 2, 2], F64);
    assert!(
        matches!(pixelcnnpp_log_prob(&x, &l), Err(CoreError::Shape { ref name, .. }) if name == "l")
    );
    let l = Tensor::zeros([1, 10, 2, 3], F64);
    assert!(
        matches!(pixelcnnpp_log_prob(&x, &l), Err(CoreError::Shape { ref name, .. }) if name == "l")
    );
    let d = DiscretizedLogisticMixture::new(
        &Tensor::zeros([2], F64),
        &Tensor::zeros([2], F64),
        &Tensor::zeros([2], F64),
        256,
    )
    .unwrap();
    assert!(
        matches!(d.f_log_prob(&Tensor::from_slice(&[256i64])), Err(CoreError::Shape { ref name, .. }) if name == "x")
    );
    assert!(matches!(
        DiscretizedLogisticMixture::new(&Tensor::zeros([2], F64), &Tensor::zeros([3], F64), &Tensor::zeros([2], F64), 256),
        Err(CoreError::Shape { ref name, .. }) if name == "loc"
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn normalizes_over_256_levels(seed in 0i64..10_000, k in 1i64..5) {
        tch::manual_seed(seed);
        let logits = Tensor::randn([2, k], F64) * 3.0;
        let loc = Tensor::rand([2, k], F64) * 2.4 - 1.2;
        let log_scale = Tensor::rand([2, k], F64) * 9.0 - 7.0; // [-7, 2]
        let d = DiscretizedLogisticMixture::new(&logits, &loc, &log_scale, 256).unwrap();
        let lp = d.log_prob(&levels().view([256, 1])).unwrap();
        let total = lp.exp().sum_dim_intlist(0, false, Kind::Double);
        // exact up to the fallback bins, whose true masses are below 1e-5 each
        prop_assert!((total - 1.0).abs().max().double_value(&[]) < 5e-4);
        let lps = d.log_prob(&d.sample(&[16])).unwrap();
        prop_assert!(bool::try_from(lps.isfinite().all()).unwrap());
    }
}

#[test]
fn pixelcnnpp_rgb_coupling_matches_the_reference_layout() {
    // K = 1, one pixel: channels = [logit | R: m, ls, c | G: m, ls, c | B: m, ls, c]
    let p = [0.3f64, 0.1, -2.0, 0.5, -0.2, -1.5, -0.4, 0.05, -1.8, 1.2];
    let l = Tensor::from_slice(&p).view([1, 10, 1, 1]);
    let v = [200i64, 31, 120];
    let x = levels_to_unit(&Tensor::from_slice(&v), 256, Kind::Double).unwrap();
    let (r, g) = (x.double_value(&[0]), x.double_value(&[1]));
    let (c0, c1, c2) = (p[3].tanh(), p[6].tanh(), p[9].tanh());
    let means = [p[1], p[4] + c0 * r, p[7] + c1 * r + c2 * g];
    let scales = [p[2], p[5], p[8]];
    let want = discretized_logistic_log_prob(
        &x,
        &Tensor::from_slice(&means),
        &Tensor::from_slice(&scales),
        256,
    )
    .unwrap()
    .sum(Kind::Double)
    .double_value(&[]);
    let got = pixelcnnpp_log_prob(&x.view([1, 3, 1, 1]), &l)
        .unwrap()
        .double_value(&[0, 0, 0]);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    // without the coupling the value would differ
    let uncoupled = discretized_logistic_log_prob(
        &x,
        &Tensor::from_slice(&[p[1], p[4], p[7]]),
        &Tensor::from_slice(&scales),
        256,
    )
    .unwrap()
    .sum(Kind::Double)
    .double_value(&[]);
    assert!((got - uncoupled).abs() > 0.1);
}
