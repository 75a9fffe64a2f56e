//! Tests of [`super`] (datasets by name and folder): IDX folders of any size and channel count,
//! labels, checksums and the errors that name the file.
use super::*;
use crate::idx::{write_idx, IdxArray};

#[test]
fn mnist10k_loads_with_its_split_and_checksums() {
    let s = load(MNIST10K, Path::new("unused")).unwrap();
    assert_eq!(s.train.len(), 9000);
    assert_eq!(s.test.len(), 1000);
    assert_eq!(
        s.train.kind,
        DataKind::Image {
            channels: 1,
            height: 28,
            width: 28
        }
    );
    assert_eq!(s.train.x.size(), vec![9000, 1, 28, 28]);
    assert_eq!(s.train.num_classes, Some(10));
    assert_eq!(label_counts(s.test.y.as_ref().unwrap(), 10), vec![100; 10]);
    // The npm package is not balanced: train holds every image not drawn for test.
    assert_eq!(
        label_counts(s.train.y.as_ref().unwrap(), 10),
        vec![901, 1027, 891, 932, 880, 763, 914, 970, 844, 878]
    );
    // Real digits: about 19% of MNIST pixels are non-zero, mean intensity ~0.13.
    let mean = s.test.x_unit_f32().mean(tch::Kind::Float).double_value(&[]);
    assert!((0.10..0.16).contains(&mean), "mean pixel {mean}");
    assert_eq!(s.train.x.max().int64_value(&[]), 255);
    // Any prefix of the test file mixes classes (the documented hash order).
    let first50 = label_counts(&s.test.y.as_ref().unwrap().narrow(0, 0, 50), 10);
    assert!(
        first50.iter().filter(|&&c| c > 0).count() >= 8,
        "{first50:?}"
    );
}

#[test]
fn readme_lists_the_checked_sums() {
    let readme =
        std::fs::read_to_string(shipped_root().unwrap().join("mnist10k/README.md")).unwrap();
    for (name, sha) in MNIST10K_SHA256 {
        assert!(
            readme.contains(&format!("{sha}  {name}")),
            "README lacks the sum of {name}"
        );
    }
}

#[test]
fn tampered_mnist10k_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = shipped_root().unwrap().join(MNIST10K);
    std::fs::create_dir(dir.path().join(MNIST10K)).unwrap();
    for (name, _) in MNIST10K_SHA256 {
        std::fs::copy(src.join(name), dir.path().join(MNIST10K).join(name)).unwrap();
    }
    let p = dir.path().join(MNIST10K).join("t10k-labels-idx1-ubyte.gz");
    let mut b = std::fs::read(&p).unwrap();
    let n = b.len();
    b[n - 5] ^= 1;
    std::fs::write(&p, b).unwrap();
    let e = load_mnist10k_from(&dir.path().join(MNIST10K))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("checksum mismatch"),
        "{e}"
    );
}

#[test]
fn user_idx_folder_any_size_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 3-channel 5x7 images stored channels-last, train 4 / test 2, labels 0..2.
    let tr: Vec<u8> = (0..4 * 5 * 7 * 3).map(|i| i as u8).collect();
    write_idx(
        &d.join("train-images-idx4-ubyte.gz"),
        &IdxArray::from_u8(vec![4, 5, 7, 3], tr).unwrap(),
        true,
    )
    .unwrap();
    write_idx(
        &d.join("train-labels-idx1-ubyte"),
        &IdxArray::from_u8(vec![4], vec![0, 2, 1, 2]).unwrap(),
        false,
    )
    .unwrap();
    write_idx(
        &d.join("t10k-images-idx4-ubyte"),
        &IdxArray::from_u8(vec![2, 5, 7, 3], vec![9; 210]).unwrap(),
        false,
    )
    .unwrap();
    write_idx(
        &d.join("t10k-labels-idx1-ubyte"),
        &IdxArray::from_u8(vec![2], vec![1, 0]).unwrap(),
        false,
    )
    .unwrap();
    let s = load(d.to_str().unwrap(), Path::new("unused")).unwrap();
    assert_eq!(
        s.train.kind,
        DataKind::Image {
            channels: 3,
            height: 5,
            width: 7
        }
    );
    assert_eq!(
        (s.train.len(), s.test.len(), s.train.num_classes),
        (4, 2, Some(3))
    );
    // Channel 2 of pixel (h=1, w=3) of image 0 is byte (1*7+3)*3+2 = 32 of the file.
    assert_eq!(s.train.x.int64_value(&[0, 2, 1, 3]), 32);

    // Mismatched label count names the label file.
    write_idx(
        &d.join("t10k-labels-idx1-ubyte"),
        &IdxArray::from_u8(vec![3], vec![1, 0, 1]).unwrap(),
        false,
    )
    .unwrap();
    let e = load_idx_dir(d).unwrap_err().to_string();
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("3 labels for 2 images"),
        "{e}"
    );
    // One stray label does not make a 2,000,001-class problem: refused,
    // naming the folder and what the labels hold.
    let big: Vec<u8> = [0i32, 0, 2_000_000]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    write_idx(
        &d.join("t10k-labels-idx1-ubyte"),
        &IdxArray {
            dtype: crate::idx::IdxDtype::I32,
            dims: vec![2],
            data: big[4..].to_vec(),
        },
        false,
    )
    .unwrap();
    let e = load_idx_dir(d).unwrap_err().to_string();
    assert!(
        e.contains("2000001 classes") && e.contains("relabel"),
        "{e}"
    );
    // Unlabelled 1-channel grayscale folder of another size works too.
    let g = tempfile::tempdir().unwrap();
    write_idx(
        &g.path().join("train-images"),
        &IdxArray::from_u8(vec![3, 2, 9], vec![1; 54]).unwrap(),
        false,
    )
    .unwrap();
    write_idx(
        &g.path().join("test-images"),
        &IdxArray::from_u8(vec![1, 2, 9], vec![1; 18]).unwrap(),
        false,
    )
    .unwrap();
    let s = load_idx_dir(g.path()).unwrap();
    assert_eq!(
        (s.train.kind.dims(), s.test.len(), s.train.y.is_none()),
        (18, 1, true)
    );
    // A folder without test files says what it found.
    std::fs::remove_file(g.path().join("test-images")).unwrap();
    let e = load_idx_dir(g.path()).unwrap_err().to_string();
    assert!(
        e.contains("no test image file") && e.contains("train-images"),
        "{e}"
    );
}

#[test]
fn unknown_and_missing_datasets_say_what_to_do() {
    let e = load("nosuch", Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nosuch") && e.contains("mnist10k") && e.contains("eight-gaussians"),
        "{e}"
    );
    let root = tempfile::tempdir().unwrap();
    let e = load("mnist", root.path()).unwrap_err().to_string();
    assert!(e.contains("cargo xtask download mnist"), "{e}");
    let e = load("cifar10", root.path()).unwrap_err().to_string();
    assert!(e.contains("test_batch.bin"), "{e}");
    // Fashion-MNIST: from Debian's package when installed, else the apt-get hint.
    match load("fashion-mnist", root.path()) {
        Ok(s) => {
            assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
            assert_eq!(label_counts(s.test.y.as_ref().unwrap(), 10), vec![1000; 10]);
        }
        Err(e) => assert!(
            e.to_string()
                .contains("apt-get install dataset-fashion-mnist"),
            "{e}"
        ),
    }
}
