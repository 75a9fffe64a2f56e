//! PixelCNN++ (Salimans et al. 2017): causality by gradients (grey through the shared helper, RGB
//! per pixel), no blind spot, exact normalization, the sampler's cropped passes and its draws
//! against the model's own probabilities, and the contract through the catalogue (training,
//! exact bits/dim, seeded sampling, completion, configuration errors).
use tch::{Kind, Tensor};

use super::causality::{assert_causal, grads};
use super::*;
use crate::model::Ar;
use crate::pixel_cnn_pp::{Config, PixelCnnPp};
use genzoo_core::model::{BuildArgs, EvalOptions, LikelihoodKind, Network};
use genzoo_core::units::NllUnit;

/// The `tiny` PixelCNN++ for `data` with `stages` resolutions, fresh seeded weights.
fn net(data: DataKind, stages: i64) -> (nn::VarStore, PixelCnnPp) {
    tch::manual_seed(11);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = Config::preset("tiny").unwrap();
    cfg.data = data;
    cfg.stages = stages;
    let net = PixelCnnPp::new(&vs.root(), &cfg).unwrap();
    (vs, net)
}

/// Zero gradient from a pixel itself and every later one, nonzero from an earlier one (the shared
/// helper), with one and three stages; and no blind spot.
#[test]
fn grey_pixelcnnpp_is_causal_and_has_no_blind_spot() {
    for stages in [1, 3] {
        let (_vs, n) = net(image(1, 8, 8), stages);
        assert_causal(&n, &format!("pixelcnn++, {stages} stages"));
    }
    // Three stages (8 -> 4 -> 2): every earlier pixel reaches (5, 3), those up and to the right
    // included (where plain PixelCNN is blind), and every pixel of the rows above reaches the
    // last pixel (its own row is reached 6 columns to the left by this one-block model).
    let (_vs, n) = net(image(1, 8, 8), 3);
    for (f, before) in [(8 * 5 + 3, 8 * 5 + 3), (63, 56)] {
        let g = grads(&n, f);
        let missed: Vec<usize> = (0..before as usize).filter(|&q| g[q] == 0.0).collect();
        assert!(missed.is_empty(), "output {f} misses inputs {missed:?}");
    }
}

#[test]
fn rgb_pixelcnnpp_parameters_see_only_earlier_pixels() {
    let (_vs, n) = net(image(3, 4, 4), 3);
    let hw = 16;
    for p in 0..hw {
        let g = grads(&n, p); // the parameters of pixel p (the same for its three channels)
        for (q, &gq) in g.iter().enumerate() {
            if q as i64 % hw >= p {
                assert_eq!(
                    gq,
                    0.0,
                    "pixel {p} sees input {q} (channel {})",
                    q as i64 / hw
                );
            }
        }
        assert!(
            p == 0
                || g.iter()
                    .enumerate()
                    .any(|(q, &gq)| (q as i64 % hw) < p && gq > 0.0),
            "pixel {p} sees no earlier pixel"
        );
    }
    // The parameters are shared by the channels of a pixel.
    let x = Tensor::rand([2, 3, 4, 4], (Kind::Float, Device::Cpu));
    let p = n.params(&x, None, false).unwrap();
    assert_eq!(p.size(), [2, 10 * 2, 3, 4, 4]);
    assert!(p.select(2, 0).equal(&p.select(2, 2)));
}

fn levels_1x2() -> Tensor {
    let v = Tensor::arange(65536, (Kind::Int64, Device::Cpu));
    Tensor::stack(&[v.remainder(256), v.floor_divide_scalar(256)], 1).reshape([65536, 1, 1, 2])
}

#[test]
fn pixelcnnpp_sums_to_one_over_all_65536_two_pixel_images() {
    let (_vs, n) = net(image(1, 1, 2), 1);
    let levels = levels_1x2();
    let prep = genzoo_core::obs::Prepared {
        input: levels.to_kind(Kind::Float) / 255.0,
        target: levels,
    };
    let lp = tch::no_grad(|| n.log_prob(&prep, None, false).unwrap());
    let t = lp
        .to_kind(Kind::Double)
        .logsumexp([0], false)
        .double_value(&[]);
    assert!(t.abs() < 1e-4, "log sum p = {t}");
}

/// With three stages (4 -> 2 -> 1): each pixel's conditional, for a fixed random past, sums to
/// one over its 256 levels; with causality, so does the joint.
#[test]
fn every_conditional_of_a_three_stage_model_sums_to_one() {
    let (_vs, n) = net(image(1, 4, 4), 3);
    tch::manual_seed(3);
    let base = Tensor::randint(256, [1, 1, 4, 4], (Kind::Int64, Device::Cpu));
    let v = Tensor::arange(256, (Kind::Int64, Device::Cpu));
    for p in 0..16 {
        let (i, j) = (p / 4, p % 4);
        let x = base.repeat([256, 1, 1, 1]);
        x.flatten(1, -1).select(1, p).copy_(&v);
        let input = x.to_kind(Kind::Float) / 255.0;
        let lp = tch::no_grad(|| n.pixel_log_prob(&input, &x, false).unwrap());
        let t = lp
            .select(1, i)
            .select(1, j)
            .to_kind(Kind::Double)
            .logsumexp([0], false)
            .double_value(&[]);
        assert!(t.abs() < 1e-4, "pixel ({i}, {j}): log sum p = {t}");
    }
}

/// The sampler runs the network on the rows that can reach the pixel: the same parameters as a
/// whole-image pass. Dropout acts in training only.
#[test]
fn cropped_passes_equal_the_whole_image_and_dropout_is_training_only() {
    let (_vs, mut n) = net(image(3, 8, 8), 3);
    let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
    let whole = n.mixture_params(&x, false).unwrap();
    let top = n.mixture_params(&x.narrow(2, 0, 4), false).unwrap();
    let diff = (whole.narrow(2, 0, 4) - &top).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "cropped pass differs by {diff}");
    n.cfg.dropout = 0.5;
    let (a, b) = (
        n.mixture_params(&x, true).unwrap(),
        n.mixture_params(&x, false).unwrap(),
    );
    assert!(!a.equal(&b) && b.equal(&whole));
}

/// 20,000 draws of a one-pixel grey image: mean and the mass below 128 as the model says.
#[test]
fn samples_follow_the_models_own_probabilities() {
    let (_vs, n) = net(image(1, 1, 1), 1);
    let all = Tensor::arange(256, (Kind::Int64, Device::Cpu)).reshape([256, 1, 1, 1]);
    let lp = n
        .pixel_log_prob(&(all.to_kind(Kind::Float) / 255.0), &all, false)
        .unwrap()
        .flatten(0, -1)
        .to_kind(Kind::Double);
    let p = lp.exp();
    let levels = Tensor::arange(256, (Kind::Double, Device::Cpu));
    let mean = (&p * &levels).sum(Kind::Double).double_value(&[]);
    let low = p.narrow(0, 0, 128).sum(Kind::Double).double_value(&[]);
    let mut ar = Ar::new(n);
    let s = (ar.sample(20_000, 5).unwrap() * 255.0).to_kind(Kind::Double);
    // the generic sampler cannot read the mixture: `cached = false` still uses the model's own
    ar.sampling.cached = false;
    let again = (ar.sample(20_000, 5).unwrap() * 255.0).to_kind(Kind::Double);
    assert!(
        again.equal(&s),
        "cached = false changed PixelCNN++'s samples"
    );
    let (m, l) = (
        s.mean(Kind::Double).double_value(&[]),
        s.lt(127.5)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]),
    );
    assert!((m - mean).abs() < 3.0, "sample mean {m}, model mean {mean}");
    assert!(
        (l - low).abs() < 0.02,
        "P(v < 128): samples {l}, model {low}"
    );
}

/// 64 RGB 8x8 images of four flat colours with small noise: a low-entropy set to learn.
fn flat_colours(n: i64, seed: i64, name: &str) -> genzoo_core::data::Dataset {
    tch::manual_seed(seed);
    let colour = Tensor::randint(4, [n, 3, 1, 1], (Kind::Int64, Device::Cpu)) * 64 + 32;
    let noise = Tensor::randint(5, [n, 3, 8, 8], (Kind::Int64, Device::Cpu)) - 2;
    genzoo_core::data::Dataset {
        name: name.into(),
        kind: image(3, 8, 8),
        x: (colour + noise).to_kind(Kind::Uint8),
        y: None,
        num_classes: None,
    }
}

fn build(
    data: DataKind,
    over: serde_json::Value,
) -> genzoo_core::Result<Box<dyn genzoo_core::model::GenerativeModel>> {
    let specs = crate::registry();
    let spec = genzoo_core::model::find_spec(&specs, "pixelcnn++").unwrap();
    (spec.build)(&BuildArgs {
        preset: "tiny",
        overrides: Some(&over),
        data,
        num_classes: None,
        device: Device::Cpu,
    })
}

#[test]
fn the_catalogue_model_trains_evaluates_in_bits_per_dim_and_samples_seeded() {
    let split = genzoo_core::data::Split {
        train: flat_colours(256, 1, "flat/train"),
        test: flat_colours(64, 2, "flat/test"),
    };
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = build(split.train.kind, serde_json::json!({ "dropout": 0.5 })).unwrap();
    let opts = EvalOptions::default();
    let before = model.evaluate(&split.test, &opts).unwrap().nll.unwrap();
    super::train_briefly(model.as_mut(), &split, 30);
    let report = model.evaluate(&split.test, &opts).unwrap();
    let nll = report.nll.unwrap();
    assert_eq!(
        (nll.kind, nll.unit),
        (LikelihoodKind::Exact, NllUnit::BitsPerDim)
    );
    assert!(nll.value.is_finite() && nll.value > 0.0, "{nll}");
    assert!(
        nll.value < before.value - 1.0,
        "{} -> {}",
        before.value,
        nll.value
    );
    let per = model
        .per_example_nll()
        .unwrap()
        .nll_per_example(&split.test, &opts)
        .unwrap();
    assert!((per.nll.mean(Kind::Double).double_value(&[]) - nll.value).abs() < 1e-3);
    // Seeded sampling on the 8-bit grid.
    let s = model.sample(3, 1).unwrap();
    assert_eq!(s.size(), [3, 3, 8, 8]);
    let v = &s * 255.0;
    assert!(v.min().double_value(&[]) >= 0.0 && v.max().double_value(&[]) <= 255.0);
    assert!(
        (&v - v.round()).abs().max().double_value(&[]) < 1e-4,
        "off the level grid"
    );
    assert!(model.sample(3, 1).unwrap().equal(&s), "not seeded");
    assert!(
        !model.sample(3, 2).unwrap().equal(&s),
        "seeds 1 and 2 agree"
    );
    // Completion keeps the known upper half.
    let x = split.test.x.narrow(0, 0, 2);
    let known = Tensor::zeros([2, 3, 8, 8], (Kind::Bool, Device::Cpu));
    let _ = known.narrow(2, 0, 4).fill_(1);
    let c = model
        .partial_sampler()
        .unwrap()
        .complete(&x, &known, 0)
        .unwrap();
    let kept = (c.narrow(2, 0, 4) * 255.0).round().to_kind(Kind::Uint8);
    assert!(kept.equal(&x.narrow(2, 0, 4)));
}

#[test]
fn sizes_the_stages_cannot_halve_and_bad_settings_are_config_errors() {
    let msg = |data, over| build(data, over).err().expect("an error").to_string();
    let e = msg(image(1, 30, 30), serde_json::json!({}));
    assert!(
        e.contains("`stages`") && e.contains("height 30") && e.contains("by 4"),
        "{e}"
    );
    let e = msg(image(1, 28, 28), serde_json::json!({ "stages": 4 }));
    assert!(
        e.contains("`stages`") && e.contains("width 28") && e.contains("by 8"),
        "{e}"
    );
    let e = msg(image(2, 8, 8), serde_json::json!({}));
    assert!(e.contains("`data`") && e.contains("2 channels"), "{e}");
    for (key, over) in [
        ("filters", serde_json::json!({ "filters": 0 })),
        ("mixtures", serde_json::json!({ "mixtures": 0 })),
        ("dropout", serde_json::json!({ "dropout": 1.0 })),
        ("stages", serde_json::json!({ "stages": 0 })),
    ] {
        let e = msg(image(1, 8, 8), over);
        assert!(e.contains(&format!("`{key}`")), "{e}");
    }
    // Input of another size and a temperature other than 1 are errors, not panics.
    let (_vs, n) = net(image(1, 8, 8), 3);
    let e = n.params(
        &Tensor::zeros([1, 1, 6, 8], (Kind::Float, Device::Cpu)),
        None,
        false,
    );
    assert!(e.err().unwrap().to_string().contains("input"));
    let e = n.mixture_params(
        &Tensor::zeros([1, 1, 6, 8], (Kind::Float, Device::Cpu)),
        false,
    );
    assert!(e.err().unwrap().to_string().contains("divisible by 4"));
    let mut ar = Ar::new(n);
    ar.sampling.temperature = 0.5;
    let e = ar.sample(1, 0).err().unwrap().to_string();
    assert!(e.contains("temperature"), "{e}");
}
