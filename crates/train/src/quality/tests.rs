//! The domain classifier learns (a floor a broken one cannot reach), caches by checksum, and the
//! image scorer gives the exact values a set scored against itself must give.
use genzoo_core::data::{transforms, Split};
use genzoo_core::model::Family;
use tch::Device;

use super::classifier::{self, load_or_train};
use super::scorer::MIN_QUALITY_SAMPLES;
use super::{ImageScorer, QualityOptions, Scorer};

/// 2,000 training and 500 test digits of the shipped `mnist10k`.
fn digits() -> Split {
    let s = genzoo_data::load_mnist10k().unwrap();
    Split {
        train: s.train.take(2000),
        test: s.test.take(500),
    }
}

#[test]
fn the_tiny_classifier_learns_digits_and_is_cached_by_checksum() {
    let split = digits();
    let dir = tempfile::tempdir().unwrap();
    let c = load_or_train(dir.path(), &split, "mnist10k-sub", "tiny", Device::Cpu).unwrap();
    // 10 classes: chance is 10%; six epochs of the tiny net on 2,000 digits reach about 80%
    // (75% binarized) with seed 0: the floors leave room for other CPUs' float kernels.
    assert!(c.info.test_accuracy > 0.6, "{:?}", c.info);
    assert!(c.info.binarized_test_accuracy > 0.55, "{:?}", c.info);
    // the second call loads the cached weights: same provenance, same features
    let again = load_or_train(dir.path(), &split, "mnist10k-sub", "tiny", Device::Cpu).unwrap();
    assert_eq!(again.info, c.info);
    let x = transforms::scale_unit(&split.test.x.narrow(0, 0, 8));
    let (f1, _) = c.embed(&x).unwrap();
    let (f2, _) = again.embed(&x).unwrap();
    assert_eq!(f1, f2);
    // other training data: another checksum, another cache folder
    let other = Split {
        train: split.train.take(1000),
        test: split.test.take(100),
    };
    assert_ne!(classifier::checksum(&other.train).unwrap(), c.info.checksum);
    let e = classifier::load_or_train(dir.path(), &other, "x", "nope", Device::Cpu);
    assert!(e.unwrap_err().to_string().contains("classifier.preset"));
}

#[test]
fn the_test_set_scored_against_itself_is_perfect() {
    let split = digits();
    let dir = tempfile::tempdir().unwrap();
    let c = load_or_train(dir.path(), &split, "mnist10k-sub", "tiny", Device::Cpu).unwrap();
    let s = ImageScorer::new(c, &split.train, &split.test, QualityOptions::default()).unwrap();
    for (x, binary) in [
        (transforms::scale_unit(&split.test.x), false),
        (
            transforms::binarize_dataset_static(&split.test, 0).unwrap(),
            true,
        ),
    ] {
        let r = s.score(&x).unwrap();
        let m = &r.metrics;
        assert_eq!(r.binary, binary);
        assert!(m["fid-domain"].abs() < 1e-6, "{m:?}");
        assert_eq!((m["precision"], m["recall"]), (1.0, 1.0));
        // the test digits are not copies of training digits
        assert!(m["memorized_share"] < 0.05, "{m:?}");
        assert!(m["classes_covered"] >= 9.0, "{m:?}");
        assert_eq!(m["mode_collapse"], 0.0, "{m:?}");
    }
    // a collapsed set: one digit repeated covers one class and is far from the test set
    let one = transforms::scale_unit(&split.test.x.narrow(0, 0, 1)).repeat([200, 1, 1, 1]);
    let m = s.score(&one).unwrap().metrics;
    assert_eq!(m["classes_covered"], 1.0);
    assert_eq!(m["mode_collapse"], 1.0, "a collapse is named: {m:?}");
    assert!(m["recall"] < 0.1 && m["fid-domain"] > 1.0, "{m:?}");
    // training digits drawn as "samples" are memorized
    let copies = transforms::scale_unit(&split.train.x.narrow(0, 0, 100));
    let r = s.score(&copies).unwrap();
    assert_eq!(r.metrics["memorized_share"], 1.0);
    // 100 samples are too few for figures that drift with n: said, with the count
    assert_eq!(r.metrics["too_few_samples"], 1.0);
    assert_eq!(r.metrics["quality_samples"], 100.0);
    let enough = transforms::scale_unit(&split.train.x.narrow(0, 0, MIN_QUALITY_SAMPLES));
    assert!(!s
        .score(&enough)
        .unwrap()
        .metrics
        .contains_key("too_few_samples"));
    assert!(r.closest.iter().all(|(si, ti, _)| si == ti));
    // wrong shapes are named
    let e = s.score(&tch::Tensor::zeros(
        [4, 1, 8, 8],
        (tch::Kind::Float, Device::Cpu),
    ));
    assert!(e.unwrap_err().to_string().contains("samples"));
}

/// The grid's scorer names a collapse below 90% of the modes: 23 of 25 covered is not one, 22 is.
#[test]
fn the_mode_scorer_names_a_collapse_below_nine_tenths_of_the_modes() {
    use super::ModeScorer;
    let centres: Vec<Vec<f64>> = (0..25)
        .map(|i| vec![(i % 5) as f64, (i / 5) as f64])
        .collect();
    let s = ModeScorer::new(&centres, 0.01).unwrap();
    for (covered, collapse) in [(25, 0.0), (23, 0.0), (22, 1.0)] {
        // 40 points on each of the first `covered` centres.
        let pts: Vec<f64> = centres[..covered]
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.clone(), 40))
            .flatten()
            .collect();
        let x = tch::Tensor::from_slice(&pts)
            .view([-1, 2])
            .to_kind(tch::Kind::Float);
        let m = s.score(&x).unwrap().metrics;
        assert_eq!(m["modes_covered"], covered as f64, "{m:?}");
        assert_eq!(m["mode_collapse"], collapse, "{covered}: {m:?}");
    }
}

/// CIFAR-10's shape (three channels, 32x32) goes through the same classifier: a tiny run on
/// random labelled RGB images trains, caches and embeds `[n, features]` with 10-way softmaxes,
/// and the image scorer on it scores RGB samples.
#[test]
fn the_classifier_and_scorer_take_rgb_images() {
    use genzoo_core::data::{DataKind, Dataset};
    let rgb = |n: i64, seed: i64| {
        tch::manual_seed(seed);
        Dataset {
            name: format!("rgb-{seed}"),
            kind: DataKind::Image {
                channels: 3,
                height: 32,
                width: 32,
            },
            x: tch::Tensor::randint(256, [n, 3, 32, 32], (tch::Kind::Uint8, Device::Cpu)),
            y: Some(tch::Tensor::randint(
                10,
                [n],
                (tch::Kind::Int64, Device::Cpu),
            )),
            num_classes: Some(10),
        }
    };
    let split = Split {
        train: rgb(200, 1),
        test: rgb(50, 2),
    };
    let dir = tempfile::tempdir().unwrap();
    let c = load_or_train(dir.path(), &split, "rgb", "tiny", Device::Cpu).unwrap();
    assert_eq!(c.info.config.in_channels, 3);
    let x = transforms::scale_unit(&split.test.x);
    let (f, p) = c.embed(&x).unwrap();
    assert_eq!((f.size()[0], p.size()), (50, vec![50, 10]));
    assert!((p.sum(tch::Kind::Float).double_value(&[]) - 50.0).abs() < 1e-3);
    let s = ImageScorer::new(c, &split.train, &split.test, QualityOptions::default()).unwrap();
    let m = s.score(&x).unwrap().metrics;
    assert!(m["fid-domain"].abs() < 1e-6, "{m:?}");
}

/// A "model" whose class `k` draws real test digits of class `(k + shift) % 10`, with labels
/// that are the data's (`labelled`) or a code's.
struct Shifted {
    digits: genzoo_core::data::Dataset,
    shift: i64,
    labelled: bool,
}

impl genzoo_core::model::ConditionalSample for Shifted {
    fn num_classes(&self) -> i64 {
        10
    }
    fn sample_classes(&self, labels: &tch::Tensor, _seed: u64) -> genzoo_core::Result<tch::Tensor> {
        let y = self.digits.y.as_ref().unwrap();
        let mut rows = vec![];
        for (i, k) in Vec::<i64>::try_from(labels)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            let of = y.eq((k + self.shift) % 10).nonzero().view([-1]);
            rows.push(of.get(i as i64 % of.size()[0]));
        }
        let idx = tch::Tensor::stack(&rows, 0);
        Ok(transforms::scale_unit(&self.digits.x.index_select(0, &idx)))
    }
    fn classes_are_labels(&self) -> bool {
        self.labelled
    }
}

/// Reconstructions: the batch itself rolled by `shift` examples (0: perfect ones).
impl genzoo_core::model::Reconstruct for Shifted {
    fn reconstruct(&self, x: &tch::Tensor) -> genzoo_core::Result<tch::Tensor> {
        Ok(transforms::scale_unit(x).roll([self.shift], [0]))
    }
}

impl genzoo_core::model::Network for Shifted {
    fn name(&self) -> &str {
        "shifted"
    }
    fn family(&self) -> Family {
        Family::Vae
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn train_step(
        &mut self,
        _batch: &genzoo_core::data::Batch,
        _opt: &mut dyn genzoo_core::model::Optimize,
    ) -> genzoo_core::Result<genzoo_core::model::Losses> {
        unreachable!("not trained")
    }
    fn evaluate(
        &self,
        _data: &genzoo_core::data::Dataset,
        _opts: &genzoo_core::model::EvalOptions,
    ) -> genzoo_core::Result<genzoo_core::model::EvalReport> {
        unreachable!("not evaluated")
    }
    fn sample(&self, _n: i64, _seed: u64) -> genzoo_core::Result<tch::Tensor> {
        unreachable!("not sampled")
    }
    fn class_sampler(&self) -> Option<&dyn genzoo_core::model::ConditionalSample> {
        Some(self)
    }
    fn reconstructor(&self) -> Option<&dyn genzoo_core::model::Reconstruct> {
        Some(self)
    }
}

/// Real digits of a consistent class per code value score `class_consistency` about the
/// classifier's accuracy and 10 `classes_by_code` whatever the order; `class_agreement` is
/// reported for data labels only, and falls with the shift; so does `recon_class_agreement`.
#[test]
fn class_consistency_sees_a_consistent_code_in_any_order() {
    let split = digits();
    let dir = tempfile::tempdir().unwrap();
    let c = load_or_train(dir.path(), &split, "mnist10k-sub", "tiny", Device::Cpu).unwrap();
    let acc = c.info.test_accuracy;
    let s = ImageScorer::new(c, &split.train, &split.test, QualityOptions::default()).unwrap();
    for (shift, labelled) in [(0, true), (3, true), (3, false)] {
        let m = genzoo_core::model::Owned::build(Device::Cpu, |_| {
            Ok(Shifted {
                digits: split.test.take(split.test.len()),
                shift,
                labelled,
            })
        })
        .unwrap();
        let r = s.score_classes(&m, 20, 0).unwrap();
        assert!(
            (r["class_consistency"] - acc).abs() < 0.2,
            "{r:?} vs accuracy {acc}"
        );
        assert!(r["classes_by_code"] >= 8.0, "{r:?}");
        match (shift, labelled) {
            (_, false) => assert!(!r.contains_key("class_agreement")),
            (0, true) => assert!(r["class_agreement"] > acc - 0.2, "{r:?}"),
            _ => assert!(r["class_agreement"] < 0.2, "{r:?}"),
        }
        // Reconstructions keep their digit's label when they are the digits themselves, and
        // agree about as often as chance when they are other digits; unlabelled data: none.
        let r = s.score_reconstructions(&m, &split.test, 300).unwrap();
        let agree = r["recon_class_agreement"];
        if shift == 0 {
            assert!((agree - acc).abs() < 0.08, "{agree} vs accuracy {acc}");
        } else {
            assert!(agree < 0.25, "{agree}");
        }
        let unlabelled = genzoo_core::data::Dataset {
            y: None,
            ..split.test.take(10)
        };
        assert!(s
            .score_reconstructions(&m, &unlabelled, 10)
            .unwrap()
            .is_empty());
    }
}
