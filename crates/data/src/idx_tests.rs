//! Tests of [`super`] (the IDX reader and writer): round trips, malformed files, corpus replay.
use super::*;

fn sample() -> IdxArray {
    let data: Vec<u8> = (0..2 * 3 * 5).map(|i| (i * 7 % 256) as u8).collect();
    IdxArray::from_u8(vec![2, 3, 5], data).unwrap()
}

#[test]
fn round_trip_raw_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let p = dir.path().join(if gz { "a.gz" } else { "a" });
        write_idx(&p, &sample(), gz).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(is_gzip(&bytes), gz);
        assert_eq!(read_idx(&p).unwrap(), sample());
        let t = read_images(&p).unwrap();
        assert_eq!(t.size(), vec![2, 1, 3, 5]);
        assert_eq!(
            t.int64_value(&[1, 0, 2, 4]),
            i64::from(sample().data[15 + 2 * 5 + 4])
        );
    }
    // Deterministic gzip: writing twice gives the same bytes.
    let p2 = dir.path().join("b.gz");
    write_idx(&p2, &sample(), true).unwrap();
    assert_eq!(
        std::fs::read(&p2).unwrap(),
        std::fs::read(dir.path().join("a.gz")).unwrap()
    );
    // Other element types round-trip through the tensor conversion.
    let f = IdxArray {
        dtype: IdxDtype::F32,
        dims: vec![2],
        data: [1.5f32.to_be_bytes(), (-2.0f32).to_be_bytes()].concat(),
    };
    let p3 = dir.path().join("f");
    write_idx(&p3, &f, false).unwrap();
    let t = read_idx(&p3).unwrap().to_tensor().unwrap();
    assert_eq!(Vec::<f32>::try_from(&t).unwrap(), vec![1.5, -2.0]);
    let l = IdxArray {
        dtype: IdxDtype::I32,
        dims: vec![2],
        data: [7i32.to_be_bytes(), 300i32.to_be_bytes()].concat(),
    };
    write_idx(&p3, &l, true).unwrap();
    assert_eq!(
        Vec::<i64>::try_from(&read_labels(&p3).unwrap()).unwrap(),
        vec![7, 300]
    );
}

#[test]
fn channels_last_and_first_images() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..2 * 4 * 5 * 3).map(|i| i as u8).collect();
    let p = dir.path().join("hwc");
    write_idx(
        &p,
        &IdxArray::from_u8(vec![2, 4, 5, 3], data.clone()).unwrap(),
        false,
    )
    .unwrap();
    let t = read_images(&p).unwrap();
    assert_eq!(t.size(), vec![2, 3, 4, 5]);
    // element [n=1, h=2, w=3, c=1] of the file is at [1, 1, 2, 3] after the permutation.
    assert_eq!(
        t.int64_value(&[1, 1, 2, 3]),
        i64::from(data[((4 + 2) * 5 + 3) * 3 + 1])
    );
    write_idx(
        &p,
        &IdxArray::from_u8(vec![2, 3, 4, 5], data).unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(read_images(&p).unwrap().size(), vec![2, 3, 4, 5]);
}

/// Each malformed file gives a `Format` error naming the file and the problem.
#[test]
fn malformed_files_name_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample().to_bytes().unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "truncated header"),
        ("short-header", vec![0, 0, 8], "truncated header"),
        (
            "bad-magic",
            [&[1u8, 0][..], &good[2..]].concat(),
            "bad magic",
        ),
        (
            "bad-type",
            [&[0u8, 0, 0x07][..], &good[3..]].concat(),
            "unknown element type code 0x07",
        ),
        ("zero-dims", vec![0, 0, 8, 0], "0 dimensions"),
        (
            "short-dims",
            good[..10].to_vec(),
            "truncated dimension list",
        ),
        (
            "truncated",
            good[..good.len() - 1].to_vec(),
            "only 29 present",
        ),
        (
            "trailing",
            [&good[..], &[9u8][..]].concat(),
            "trailing bytes",
        ),
        (
            "huge",
            vec![
                0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 9,
            ],
            "exceed",
        ),
    ];
    let gz_trunc = gzip_bytes(&good).unwrap();
    cases.push((
        "gz-truncated-stream",
        gz_trunc[..gz_trunc.len() / 2].to_vec(),
        "gzip IDX file",
    ));
    cases.push((
        "gz-short-payload",
        gzip_bytes(&good[..good.len() - 3]).unwrap(),
        "only 27 present",
    ));
    for (name, bytes, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let err = read_idx(&p).expect_err(name).to_string();
        assert!(
            err.contains(name),
            "{name}: error does not name the file: {err}"
        );
        assert!(
            err.contains(needle),
            "{name}: expected `{needle}` in: {err}"
        );
    }
    // Images of the wrong element type and labels of the wrong rank are refused by name.
    let p = dir.path().join("float-images");
    write_idx(
        &p,
        &IdxArray {
            dtype: IdxDtype::F32,
            dims: vec![1, 1, 1],
            data: vec![0; 4],
        },
        false,
    )
    .unwrap();
    assert!(read_images(&p)
        .unwrap_err()
        .to_string()
        .contains("unsigned bytes"));
    let p = dir.path().join("2d-labels");
    write_idx(
        &p,
        &IdxArray::from_u8(vec![2, 2], vec![0; 4]).unwrap(),
        false,
    )
    .unwrap();
    assert!(read_labels(&p)
        .unwrap_err()
        .to_string()
        .contains("must be 1-D"));
    let missing = dir.path().join("nope");
    assert!(read_idx(&missing).unwrap_err().to_string().contains("nope"));
}

/// Replays the fuzz corpus (`fuzz/corpus/idx/`): every file parses to Ok or a clean error.
#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/idx");
    let mut n = 0;
    let (mut ok, mut err) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        match parse_idx(&bytes, &p) {
            Ok(a) => {
                assert_eq!(a.data.len(), a.len() * a.dtype.size());
                ok += 1;
            }
            Err(e) => {
                assert!(
                    matches!(e, CoreError::Format { .. }),
                    "{}: {e}",
                    p.display()
                );
                err += 1;
            }
        }
        n += 1;
    }
    assert!(n >= 8, "corpus too small: {n} files in {}", dir.display());
    assert!(
        ok >= 2 && err >= 5,
        "corpus should hold good and bad files: {ok} ok, {err} errors"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Stable-toolchain fuzzing: mutated (byte flips, truncation, appended bytes) raw and gzip
    /// files, and arbitrary bytes, parse to Ok with exactly the declared bytes, or to a Format
    /// error; never a panic.
    #[test]
    fn mutated_files_never_panic(
        flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..6),
        cut in 0usize..80,
        extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        gz in proptest::prelude::any::<bool>(),
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
    ) {
        let mut bytes = sample().to_bytes().unwrap();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        bytes.truncate(cut.min(bytes.len()));
        bytes.extend(extra);
        if gz {
            bytes = gzip_bytes(&bytes).unwrap();
        }
        for input in [&bytes, &noise, &[&[0x1f, 0x8b][..], &noise[..]].concat()] {
            match parse_idx(input, Path::new("prop")) {
                Ok(a) => proptest::prop_assert_eq!(a.data.len(), a.len() * a.dtype.size()),
                Err(e) => proptest::prop_assert!(matches!(e, CoreError::Format { .. }), "{}", e),
            }
        }
    }
}
