//! VLAE: the PixelCNN decoder p(x|z) normalizes for any decoder features, samples given them
//! (cached = naive), and the whole model trains through the catalogue with the VAE family's
//! evaluation (importance-sampled NLL, the nats the latent keeps).
use tch::{Kind, Tensor};

use super::*;
use crate::model::SampleJob;
use crate::sampling::uniforms;
use crate::vlae::PixelDecoder;
use genzoo_core::model::{EvalOptions, LikelihoodKind};
use genzoo_vae::decoder::DecoderLikelihood;

fn decoder(data: DataKind) -> (nn::VarStore, PixelDecoder) {
    tch::manual_seed(12);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = gated_pixel_cnn::Config::preset("tiny").unwrap();
    let dec = PixelDecoder::new(&vs.root(), &cfg, 2, data).unwrap();
    (vs, dec)
}

#[test]
fn the_pixel_decoder_sums_to_one_for_any_decoder_features() {
    let d = image(1, 3, 3);
    let (_vs, dec) = decoder(d);
    let x = all_binary(&d);
    for seed in [0, 1] {
        tch::manual_seed(seed);
        // One feature map per example, the same for all 512 images: p(. | z) for one z.
        let params = Tensor::randn([1, 2, 1, 3, 3], (Kind::Float, Device::Cpu))
            .expand([512, 2, 1, 3, 3], false);
        let lp = tch::no_grad(|| dec.log_prob(&params, &x).unwrap());
        let t = lp
            .to_kind(Kind::Double)
            .logsumexp([0], false)
            .double_value(&[]);
        assert!(t.abs() < 1e-4, "log sum p(x|z) = {t}");
    }
}

#[test]
fn sampling_given_decoder_features_is_cached_and_equals_the_naive_loop() {
    use crate::model::CachedSample;
    let d = image(1, 4, 4);
    tch::manual_seed(13);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = gated_pixel_cnn::Config::preset("tiny").unwrap();
    cfg.data = d;
    cfg.cond_channels = 2;
    let net = gated_pixel_cnn::GatedPixelCnn::new(&vs.root(), &cfg).unwrap();
    let map = Tensor::randn([3, 2, 4, 4], (Kind::Float, Device::Cpu)) * 3.0;
    let u = uniforms(3, 16, 5, Device::Cpu).unwrap();
    let job = SampleJob {
        n: 3,
        labels: None,
        u: &u,
        temperature: 1.0,
        known: None,
        cond_map: Some(&map),
    };
    let cached = tch::no_grad(|| net.sample_cached(&job).unwrap());
    let canvas = Tensor::zeros([3, 1, 4, 4], (Kind::Float, Device::Cpu));
    tch::no_grad(|| {
        for f in 0..16 {
            let logits = net
                .forward(&canvas, None, Some(&map))
                .unwrap()
                .flatten(1, -1)
                .select(1, f);
            let v = u
                .select(1, f)
                .lt_tensor(&logits.sigmoid())
                .to_kind(Kind::Float);
            canvas.view([3, -1]).select(1, f).copy_(&v);
        }
    });
    assert!(cached.equal(&canvas));
    // Without its map the network refuses to run.
    let e = net.forward(&canvas, None, None).unwrap_err().to_string();
    assert!(e.contains("map"), "{e}");
}

#[test]
fn vlae_trains_and_reports_the_is_nll_and_the_nats_the_latent_keeps() {
    let s = genzoo_data::load_mnist10k().unwrap();
    let split = genzoo_core::data::Split {
        train: s.train.take(512),
        test: s.test.take(32),
    };
    genzoo_core::seed::seed_torch_stream(0, "init", 0);
    let mut model = crate::build("vlae", Some("tiny"), &split.train, Device::Cpu).unwrap();
    let opts = EvalOptions {
        importance_samples: 5,
        batch_size: 32,
        ..EvalOptions::default()
    };
    let before = model.evaluate(&split.test, &opts).unwrap().nll.unwrap();
    super::train_briefly(model.as_mut(), &split, 40);
    let report = model.evaluate(&split.test, &opts).unwrap();
    let nll = report.nll.unwrap();
    assert_eq!(nll.kind, LikelihoodKind::IsEstimate);
    assert!(
        nll.value < before.value - 20.0,
        "{} -> {}",
        before.value,
        nll.value
    );
    assert!(
        report.metrics.contains_key("kl_nats"),
        "{:?}",
        report.metrics.keys()
    );
    assert!(report.data.contains("vlae"), "{}", report.data);
    let x = model.sample(2, 0).unwrap();
    assert_eq!(x.size(), [2, 1, 28, 28]);
    assert!(x.eq(0.0).logical_or(&x.eq(1.0)).all().int64_value(&[]) == 1);
}
