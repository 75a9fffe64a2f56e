//! The domain classifier learns (a floor a broken one cannot reach), caches by checksum, and the
//! image scorer gives the exact values a set scored against itself must give.
use genzoo_core::data::{transforms, Split};
use tch::Device;

use super::classifier::{self, load_or_train};
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
    }
    // a collapsed set: one digit repeated covers one class and is far from the test set
    let one = transforms::scale_unit(&split.test.x.narrow(0, 0, 1)).repeat([200, 1, 1, 1]);
    let m = s.score(&one).unwrap().metrics;
    assert_eq!(m["classes_covered"], 1.0);
    assert!(m["recall"] < 0.1 && m["fid-domain"] > 1.0, "{m:?}");
    // training digits drawn as "samples" are memorized
    let copies = transforms::scale_unit(&split.train.x.narrow(0, 0, 100));
    let r = s.score(&copies).unwrap();
    assert_eq!(r.metrics["memorized_share"], 1.0);
    assert!(r.closest.iter().all(|(si, ti, _)| si == ti));
    // wrong shapes are named
    let e = s.score(&tch::Tensor::zeros(
        [4, 1, 8, 8],
        (tch::Kind::Float, Device::Cpu),
    ));
    assert!(e.unwrap_err().to_string().contains("samples"));
}
