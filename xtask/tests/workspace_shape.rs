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

/// A file of tests: under a `tests/` folder, or named `tests.rs` or `*_tests.rs`.
fn is_test_file(f: &Path) -> bool {
    let name = f
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    f.components().any(|c| c.as_os_str() == "tests")
        || name == "tests.rs"
        || name.ends_with("_tests.rs")
}

/// The lines of a source file before its `#[cfg(test)]` module (the code that is not a test).
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .collect()
}

/// The library and command-line sources (no tests, benchmarks' twins or fuzz targets).
fn code_files() -> Vec<PathBuf> {
    let root = root();
    let mut files = Vec::new();
    for d in ["crates", "xtask/src", "benches/src"] {
        rust_files(&root.join(d), &mut files);
    }
    files.retain(|f| !is_test_file(f));
    assert!(files.len() > 50, "found only {} files", files.len());
    files
}

/// Rooms with one job: no source file over 600 lines of code (400 in the command line, which
/// only parses and prints), and no function over 100 lines.
#[test]
fn no_file_or_function_is_too_long() {
    let mut bad = Vec::new();
    for f in code_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = code_lines(&text);
        let limit = if f.starts_with(root().join("xtask")) {
            400
        } else {
            600
        };
        if lines.len() > limit {
            bad.push(format!(
                "{}: {} lines (at most {limit})",
                f.display(),
                lines.len()
            ));
        }
        for (name, n) in long_functions(&lines) {
            bad.push(format!(
                "{}: fn {name} is {n} lines (at most 100)",
                f.display()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Functions of `lines` longer than 100 lines, from their `fn` line to the closing brace at the
/// same indentation.
fn long_functions(lines: &[&str]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim_start();
        let indent = l.len() - t.len();
        let sig = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "const fn ",
        ]
        .iter()
        .find_map(|p| t.strip_prefix(p));
        let Some(sig) = sig else {
            i += 1;
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = (i..lines.len()).find(|&j| {
            let e = lines[j].trim_end();
            e.ends_with('{') || e.ends_with(';')
        }) else {
            break;
        };
        if lines[open].trim_end().ends_with(';') {
            i = open + 1;
            continue;
        }
        let close = (open + 1..lines.len())
            .find(|&k| {
                let s = lines[k];
                s.len() > indent && s[indent..].starts_with('}') && s[..indent].trim().is_empty()
            })
            .unwrap_or(lines.len() - 1);
        if close - i + 1 > 100 {
            out.push((name, close - i + 1));
        }
        i = close + 1;
    }
    out
}

/// The module path of a source file below `src` (`a/b.rs` and `a/b/mod.rs` are `a::b`; the crate
/// root is the empty path).
fn module_of(src: &Path, f: &Path) -> Vec<String> {
    let rel = f.strip_prefix(src).unwrap().with_extension("");
    let mut m: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if matches!(m.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        m.pop();
    }
    m
}

/// The files (modules) of one crate that each file's code names through `crate::` or `super::`
/// paths (the crate root, a table of contents, excluded).
fn module_edges(src: &Path) -> BTreeMap<Vec<String>, Vec<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.retain(|f| !is_test_file(f));
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|p| modules.contains_key(p))
    };
    let mut edges = BTreeMap::new();
    for (m, f) in &modules {
        let text = std::fs::read_to_string(f).unwrap();
        let code: String = code_lines(&text)
            .iter()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let mut to = Vec::new();
        for (at, base) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let before = code[..at].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
            let mut start: Vec<String> = if base == "crate::" {
                Vec::new()
            } else {
                m[..m.len().saturating_sub(1)].to_vec()
            };
            let rest = &code[at + base.len()..];
            let mut segs: Vec<String> = rest
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s: &String| !s.is_empty())
                .collect();
            while segs.first().map(String::as_str) == Some("super") {
                start.pop();
                segs.remove(0);
            }
            let mut paths = vec![[start.clone(), segs.clone()].concat()];
            // `crate::a::{b, c::d}`: each item of the group
            let after: String = rest.split('{').nth(1).unwrap_or("").to_string();
            if rest.starts_with(&(segs.join("::") + "::{")) {
                for item in after.split('}').next().unwrap_or("").split(',') {
                    let item: Vec<String> = item
                        .trim()
                        .split(" as ")
                        .next()
                        .unwrap_or("")
                        .split("::")
                        .map(str::to_string)
                        .filter(|s| !s.is_empty() && s != "self")
                        .collect();
                    paths.push([start.clone(), segs.clone(), item].concat());
                }
            }
            for p in paths {
                if let Some(r) = resolve(&p).filter(|r| r != m && !r.is_empty()) {
                    to.push(r);
                }
            }
        }
        to.sort();
        to.dedup();
        edges.insert(m.clone(), to);
    }
    edges
}

/// No two files of one crate import each other, directly or round a circle: each crate's files
/// form a hierarchy that reads from the leaves up.
#[test]
fn no_files_of_a_crate_import_each_other_in_a_circle() {
    let root = root();
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    srcs.push(root.join("xtask/src"));
    srcs.push(root.join("benches/src"));
    let mut circles = Vec::new();
    for src in srcs {
        let edges = module_edges(&src);
        // A module is on a circle when it reaches itself.
        for start in edges.keys() {
            let mut seen = std::collections::BTreeSet::new();
            let mut stack: Vec<&Vec<String>> = edges[start].iter().collect();
            while let Some(m) = stack.pop() {
                if m == start {
                    circles.push(format!("{}: {}", src.display(), start.join("::")));
                    break;
                }
                if seen.insert(m.clone()) {
                    stack.extend(edges.get(m).into_iter().flatten());
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files on an import circle:\n{}",
        circles.join("\n")
    );
}
