//! The workspace's shape as a test: dependencies between genzoo crates run in one direction only
//! (read from `cargo metadata`), every Rust source file opens with a `//!` header, and no test is
//! switched off with an ignore attribute.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each genzoo package may depend on (normal dependencies; `genzoo-build` is every package's
/// build-dependency). Families stand on core and, where a user expects it, data and train; the
/// autoregressive and GAN families may use the VAE family; nothing depends on them.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    const FAMILY: &[&str] = &["genzoo-core", "genzoo-data", "genzoo-train"];
    const LATER_FAMILY: &[&str] = &["genzoo-core", "genzoo-data", "genzoo-train", "genzoo-vae"];
    BTreeMap::from([
        ("genzoo-build", &[][..]),
        ("genzoo-core", &[][..]),
        ("genzoo-data", &["genzoo-core"][..]),
        ("genzoo-train", &["genzoo-core"][..]),
        ("genzoo-baselines", &["genzoo-core", "genzoo-data"][..]),
        ("genzoo-vae", FAMILY),
        ("genzoo-flow", FAMILY),
        ("genzoo-autoregressive", LATER_FAMILY),
        ("genzoo-gan", LATER_FAMILY),
        (
            "genzoo",
            &[
                "genzoo-core",
                "genzoo-data",
                "genzoo-train",
                "genzoo-baselines",
                "genzoo-autoregressive",
                "genzoo-vae",
                "genzoo-gan",
                "genzoo-flow",
            ][..],
        ),
        // The command line reaches the library through the front door only.
        ("xtask", &["genzoo", "genzoo-benches"][..]),
    ])
}

fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn genzoo_dependencies_run_one_way() {
    let meta = metadata();
    let allowed = allowed();
    let mut seen = 0;
    let mut wrong = Vec::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some(ok) = allowed.get(name) else {
            continue; // benches and examples may use anything
        };
        seen += 1;
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if !dep_name.starts_with("genzoo") || kind == "dev" {
                continue;
            }
            let fine = if kind == "build" {
                dep_name == "genzoo-build"
            } else {
                ok.contains(&dep_name)
            };
            if !fine {
                wrong.push(format!("{name} -> {dep_name} ({kind})"));
            }
        }
    }
    assert_eq!(
        seen,
        allowed.len(),
        "a genzoo library crate is missing from the workspace"
    );
    assert!(
        wrong.is_empty(),
        "dependencies against the direction: {wrong:?}"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&p, out);
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_has_a_header_and_no_test_is_ignored() {
    let root = root();
    let mut files = Vec::new();
    for d in [
        "crates",
        "xtask",
        "benches",
        "examples",
        "fuzz/fuzz_targets",
    ] {
        rust_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let ignore_attr = concat!("#[", "ignore");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            bad.push(format!("{}: no //! header", f.display()));
        }
        if text.contains(ignore_attr) {
            bad.push(format!("{}: an ignored test", f.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
