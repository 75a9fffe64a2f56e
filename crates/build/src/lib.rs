//! genzoo-build: one call in a build script that makes a package's binaries, tests and examples
//! run against libtorch with nothing exported by hand.
//!
//! In the `build.rs` of any crate that links tch (directly or through a genzoo crate), with
//! `genzoo-build` as a build-dependency:
//! ```text
//! fn main() {
//!     genzoo_build::link_libtorch();
//! }
//! ```
//!
//! It finds libtorch the way `torch-sys` (tch's build script) does, in the same order:
//! `DEP_TCH_LIBTORCH_LIB` (what torch-sys itself resolved, visible to packages that depend on
//! `torch-sys` directly), then `LIBTORCH_USE_PYTORCH` (the `torch` package of `python` when
//! `VIRTUAL_ENV` is set, else of `python3`), then `$LIBTORCH_LIB/lib` or `$LIBTORCH/lib` (give an
//! absolute path: torch-sys resolves a relative one against its own folder), then
//! `/usr/lib/libtorch.so`. Libtorch downloaded by tch's `download-libtorch` feature is not found;
//! set `LIBTORCH` instead.
//! It then
//! * adds an rpath to that `lib` folder, so binaries find `libtorch*.so` without
//!   `LD_LIBRARY_PATH`;
//! * links `libtorch_cuda` with `--no-as-needed` when the folder has it: tch's own linking lets
//!   `--as-needed` drop the library, and then `Device::Cuda(0)` is unavailable even on a GPU host.
//!
//! It never fails a build: where it finds no libtorch it prints a cargo warning and leaves the
//! error (if any) to tch's own build script, which knows best what to say.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where libtorch's shared libraries are, found as `torch-sys` finds them, or `None`.
pub fn libtorch_lib_dir() -> Option<PathBuf> {
    for var in [
        "DEP_TCH_LIBTORCH_LIB",
        "LIBTORCH_LIB",
        "LIBTORCH",
        "LIBTORCH_USE_PYTORCH",
        "VIRTUAL_ENV",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if let Some(dir) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
        return Some(PathBuf::from(dir));
    }
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        return python_torch_lib();
    }
    if let Some(root) = std::env::var_os("LIBTORCH_LIB").or_else(|| std::env::var_os("LIBTORCH")) {
        return Some(absolute(&PathBuf::from(root)).join("lib"));
    }
    Path::new("/usr/lib/libtorch.so")
        .exists()
        .then(|| PathBuf::from("/usr/lib"))
}

/// A relative `LIBTORCH` (a mistake: torch-sys resolves it against its own folder) is taken
/// relative to the package being built; cargo's `[env] relative = true` values are absolute.
fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(|d| PathBuf::from(d).join(p))
        .unwrap_or_else(|| p.to_path_buf())
}

fn python_torch_lib() -> Option<PathBuf> {
    // torch-sys 0.24 runs `python` inside a virtual environment and `python3` elsewhere.
    let py = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let out = Command::new(py)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !line.is_empty()).then(|| PathBuf::from(line))
}

/// Prints the cargo directives that make this package's binaries, tests and examples find
/// libtorch at run time and link its CUDA library when present (see the crate docs). Call it
/// from `build.rs`; it never fails.
pub fn link_libtorch() {
    let Some(lib) = libtorch_lib_dir() else {
        println!(
            "cargo:warning=genzoo-build: no libtorch found (LIBTORCH, LIBTORCH_USE_PYTORCH); \
             binaries will need LD_LIBRARY_PATH"
        );
        return;
    };
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rerun-if-changed={}", lib.display());
    // GNU-style linker flags: Linux and other ELF targets (rpath), not MSVC.
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc") {
        return;
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}

/// Compiles the C++ file `src` (relative to the calling package) against libtorch's ATen headers
/// into a static library linked into the package, with the flags tch's own glue uses (C++17,
/// `_GLIBCXX_USE_CXX11_ABI` from `LIBTORCH_CXX11_ABI`, default 1), and sets the cfg `cfg_name`
/// for the package's Rust code. Returns whether it did; where libtorch or its headers are not
/// found, or the compiler fails, it prints a cargo warning and returns `false` (the package then
/// builds its fallback), so that it never fails a build.
pub fn compile_aten_cpp(src: &str, lib_name: &str, cfg_name: &str) -> bool {
    println!("cargo::rustc-check-cfg=cfg({cfg_name})");
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Some(lib) = libtorch_lib_dir() else {
        return false;
    };
    let include = lib.join("..").join("include");
    if !include.join("ATen").join("ATen.h").exists() {
        println!(
            "cargo:warning=genzoo-build: no ATen headers under {}; {src} not compiled",
            include.display()
        );
        return false;
    }
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    let built = cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file(src)
        .try_compile(lib_name);
    match built {
        Ok(()) => {
            println!("cargo:rustc-cfg={cfg_name}");
            true
        }
        Err(e) => {
            println!("cargo:warning=genzoo-build: {src} not compiled ({e}); using the fallback");
            false
        }
    }
}
