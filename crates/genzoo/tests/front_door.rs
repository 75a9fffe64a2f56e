//! The front door as a user meets it: the one catalogue, building with a seed, reopening a run
//! from every spelling of its path, drawing and writing samples, and the shipped configs.
use std::path::Path;

use genzoo::prelude::*;
use genzoo::sampling::{draw, write_samples};

fn digits(n: i64) -> Dataset {
    Dataset {
        name: "random".into(),
        kind: DataKind::Image {
            channels: 1,
            height: 28,
            width: 28,
        },
        x: Tensor::randint(256, [n, 1, 28, 28], (Kind::Uint8, Device::Cpu)),
        y: None,
        num_classes: None,
    }
}

/// A short run of `name` (tiny preset) on random digits in `dir`, recording `dataset`.
fn short_run(dir: &Path, name: &str, dataset: &str) -> Split {
    short_run_with(dir, name, dataset, false)
}

/// [`short_run`], with its final evaluation or without.
fn short_run_with(dir: &Path, name: &str, dataset: &str, final_eval: bool) -> Split {
    let split = Split {
        train: digits(32),
        test: digits(8),
    };
    let mut model = genzoo::build(name, Some("tiny"), None, &split.train, Device::Cpu, 0).unwrap();
    let cfg = TrainConfig {
        progress: false,
        sample_count: 0,
        final_eval,
        eval: EvalOptions {
            importance_samples: 2,
            ..EvalOptions::default()
        },
        ..TrainConfig::quick(2, 8, 1e-3)
    };
    let mut t = Trainer::new(cfg, Some(dir)).unwrap();
    t.set_dataset(dataset);
    t.set_preset(Some("tiny"));
    t.fit(model.as_mut(), &split).unwrap();
    split
}

/// One catalogue: unique names, the baselines and every family, and a default preset (the
/// first) that a user would start with, never the test-sized `tiny`, which every model has.
#[test]
fn the_catalogue_holds_every_model_once_with_a_real_default() {
    let specs = genzoo::catalogue();
    let mut names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate catalogue names");
    for family in ["baseline", "autoregressive", "vae", "flow", "gan"] {
        assert!(specs.iter().any(|s| s.family == family), "{family} missing");
    }
    for s in &specs {
        assert_ne!(
            s.presets.first(),
            Some(&"tiny"),
            "{}: default preset is tiny",
            s.name
        );
        assert!(
            s.presets.contains(&"tiny"),
            "{}: no tiny preset for tests",
            s.name
        );
    }
}

/// Building takes the seed: the same seed gives the same initial weights wherever torch's
/// generator stood before, another seed other weights.
#[test]
fn building_with_a_seed_gives_the_same_weights() {
    let data = digits(4);
    let weights = |seed: u64| {
        let _ = Tensor::randn([7], (Kind::Float, Device::Cpu)); // move the generator
        let m = genzoo::build("vae-mlp", Some("tiny"), None, &data, Device::Cpu, seed).unwrap();
        let mut v = m.var_store().variables().into_iter().collect::<Vec<_>>();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Tensor::cat(
            &v.iter().map(|(_, t)| t.flatten(0, -1)).collect::<Vec<_>>(),
            0,
        )
    };
    assert!(weights(3).equal(&weights(3)));
    assert!(!weights(3).equal(&weights(4)));
}

/// A run reopens from every documented spelling of its path, with the same weights (so the same
/// samples), the run directory as its root, and its typed metadata.
#[test]
fn a_run_reopens_from_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    short_run(&run, "vae-mlp", "mnist10k");
    let first = genzoo::open_run(&run, Device::Cpu).unwrap();
    assert_eq!(first.meta.model, "vae-mlp");
    assert_eq!(first.meta.preset.as_deref(), Some("tiny"));
    assert_eq!(first.dataset().unwrap(), "mnist10k");
    let want = first.model.sample(3, 5).unwrap();
    for spelling in ["latest", "checkpoints/latest", "checkpoints/step-00000002"] {
        let r = genzoo::open_run(&run.join(spelling), Device::Cpu).unwrap();
        assert_eq!(r.root, run, "{spelling}");
        assert!(r.model.sample(3, 5).unwrap().equal(&want), "{spelling}");
    }
}

/// Every run that evaluates at its end has a `best` (its final test NLL, the default
/// `best_metric`), under both spellings; a run that never evaluated says so and names `latest`.
#[test]
fn the_best_checkpoint_is_there_after_a_final_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    short_run_with(&run, "vae-mlp", "mnist10k", true);
    let latest = genzoo::open_run(&run, Device::Cpu).unwrap();
    for spelling in ["best", "checkpoints/best"] {
        let best = genzoo::open_run(&run.join(spelling), Device::Cpu).unwrap();
        assert_eq!(best.checkpoint, latest.checkpoint, "{spelling}");
    }
    let quiet = dir.path().join("quiet");
    short_run(&quiet, "vae-mlp", "mnist10k");
    let e = genzoo::open_run(&quiet.join("best"), Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("no best checkpoint was recorded") && e.contains("latest"),
        "{e}"
    );
}

/// A run whose training data have gone still samples (the run directory holds what rebuilds the
/// model) and evaluates on test data named elsewhere; without it, the error names the missing
/// data and the way out.
#[test]
fn a_run_whose_data_moved_samples_and_evaluates_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let moved = dir.path().join("d_small");
    short_run(&run, "vae-mlp", &moved.display().to_string());
    let r = genzoo::open_run(&run, Device::Cpu).unwrap();
    assert_eq!(r.model.sample(2, 0).unwrap().size(), [2, 1, 28, 28]);
    let e = r.load_data(None, None).err().unwrap().to_string();
    assert!(e.contains("d_small") && e.contains("--dataset"), "{e}");
    let other = r.load_data(Some("mnist10k"), None).unwrap();
    assert_eq!(other.test.kind, r.meta.data_kind);
    let e = r
        .load_data(Some("eight-gaussians"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("eight-gaussians") && e.contains("trained on"),
        "{e}"
    );
}

/// InfoGAN draws its traversal grid (one row per category, `nrow` columns); a model without
/// latent factors is refused naming the flag and the model.
#[test]
fn traversals_are_drawn_and_refused_by_name() {
    let data = digits(8);
    let mut info = genzoo::build("infogan", Some("tiny"), None, &data, Device::Cpu, 0).unwrap();
    let req = SampleRequest {
        draw: Draw::Traverse { factor: 0, nrow: 4 },
        ..SampleRequest::plain(0, 0)
    };
    assert_eq!(
        draw(info.as_mut(), &req, None).unwrap().size(),
        [3 * 4, 1, 28, 28]
    );
    let mut vae = genzoo::build("vae-mlp", Some("tiny"), None, &data, Device::Cpu, 0).unwrap();
    let e = draw(vae.as_mut(), &req, None).unwrap_err().to_string();
    assert!(e.contains("--traverse") && e.contains("vae-mlp"), "{e}");
}

/// Output names say what was drawn, so no two different requests overwrite each other.
#[test]
fn sample_names_differ_by_what_was_drawn() {
    let base = SampleRequest::plain(16, 0);
    let reqs = [
        base.clone(),
        SampleRequest {
            seed: 1,
            ..base.clone()
        },
        SampleRequest {
            temperature: Some(0.7),
            ..base.clone()
        },
        SampleRequest {
            draw: Draw::Class(7),
            ..base.clone()
        },
        SampleRequest {
            draw: Draw::Class(3),
            ..base.clone()
        },
        SampleRequest {
            draw: Draw::Traverse { factor: 1, nrow: 8 },
            ..base.clone()
        },
        SampleRequest {
            draw: Draw::Traverse { factor: 2, nrow: 8 },
            ..base.clone()
        },
        SampleRequest {
            draw: Draw::Complete,
            ..base.clone()
        },
    ];
    let mut stems: Vec<String> = reqs.iter().map(SampleRequest::stem).collect();
    stems.sort();
    stems.dedup();
    assert_eq!(stems.len(), reqs.len(), "{stems:?}");
}

/// Samples are written by data kind: a grid, one PNG per image (decoding to the drawn pixels),
/// one WAV per clip named after the output, JSON rows for vectors.
#[test]
fn samples_are_written_by_data_kind() {
    let dir = tempfile::tempdir().unwrap();
    let x = (Tensor::arange(2 * 28 * 28, (Kind::Float, Device::Cpu)) / (2 * 28 * 28) as f64)
        .reshape([2, 1, 28, 28]);
    let kind = DataKind::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    let grid = write_samples(
        &x,
        &kind,
        &dir.path().join("g.png"),
        Layout::Grid { nrow: 2 },
    )
    .unwrap();
    assert_eq!(grid, [dir.path().join("g.png")]);
    let files = write_samples(&x, &kind, &dir.path().join("f.png"), Layout::Files).unwrap();
    assert_eq!(files.len(), 2);
    let back = genzoo::data::images::load_images(&dir.path().join("f")).unwrap();
    let want = (x * 255.0).round().to_kind(Kind::Uint8);
    assert!(back.equal(&want), "the PNG files hold other pixels");

    let clips = Tensor::zeros([3, 1, 100], (Kind::Float, Device::Cpu));
    let kind = genzoo::data::audio::sets::clip_kind(100);
    let wavs = write_samples(
        &clips,
        &kind,
        &dir.path().join("a/piano-s0.png"),
        Layout::Grid { nrow: 8 },
    )
    .unwrap();
    assert_eq!(wavs.len(), 3);
    assert!(wavs[2].ends_with("a/piano-s0-2.wav"), "{:?}", wavs[2]);

    let v = Tensor::ones([4, 2], (Kind::Float, Device::Cpu));
    let kind = DataKind::Vector { dim: 2 };
    let rows = write_samples(
        &v,
        &kind,
        &dir.path().join("v.png"),
        Layout::Grid { nrow: 8 },
    )
    .unwrap();
    let text = std::fs::read_to_string(&rows[0]).unwrap();
    let back: Vec<Vec<f32>> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, vec![vec![1.0, 1.0]; 4]);
}

/// Every shipped `configs/*.toml` parses, names a shipped dataset (or CIFAR-10, built against
/// `mnist10k-colour`, the same shape), and builds its model with its overrides for that data
/// (a key a model does not have, or a size its data refuses, fails here rather than in a
/// user's run).
#[test]
fn every_shipped_config_builds_its_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let rc = genzoo::train::RunConfig::load(&path).unwrap();
        let mut name = rc.dataset.clone().unwrap_or_else(|| "mnist10k".into());
        if name == "cifar10" {
            name = "mnist10k-colour".into();
        }
        let split = genzoo::load_dataset(&name, Some(Path::new("data"))).unwrap();
        let built = genzoo::build(
            &rc.model,
            rc.preset.as_deref(),
            rc.overrides.as_ref(),
            &split.train,
            Device::Cpu,
            0,
        );
        assert!(built.is_ok(), "{}: {:?}", path.display(), built.err());
        seen += 1;
    }
    assert!(seen >= 7, "{seen} configs");
}
