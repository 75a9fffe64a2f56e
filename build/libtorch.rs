//! Build script shared by every genzoo package (`build = "../../build/libtorch.rs"`).
//!
//! It checks that `scripts/setup.sh` has run (`LIBTORCH`, set in `.cargo/config.toml`, must hold
//! torch 2.11.0) and prints one clear line otherwise. It then makes every binary, test and bench of
//! the package find libtorch at run time (an rpath to `$LIBTORCH/lib`) and really link
//! `libtorch_cuda` when the wheel carries it: tch's own linking lets `--as-needed` drop it, and then
//! `Device::Cuda(0)` is unavailable even on a GPU host.
use std::path::PathBuf;

const TORCH_VERSION: &str = "2.11.0";

fn fail(msg: &str) -> ! {
    eprintln!("genzoo: {msg}");
    println!("cargo:warning=genzoo: {msg}");
    std::process::exit(1);
}

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Some(libtorch) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        fail("LIBTORCH is not set (it comes from .cargo/config.toml): run `scripts/setup.sh` from the repository root");
    };
    let version_file = libtorch.join("build-version");
    println!("cargo:rerun-if-changed={}", version_file.display());
    let Ok(version) = std::fs::read_to_string(&version_file) else {
        fail(&format!(
            "libtorch is not set up ({} is missing): run `scripts/setup.sh` from the repository root",
            version_file.display()
        ));
    };
    let version = version.trim();
    if version.split('+').next() != Some(TORCH_VERSION) {
        fail(&format!(
            "tch 0.24 needs torch {TORCH_VERSION} but {} holds torch {version}: run `scripts/setup.sh` to reinstall it",
            libtorch.display()
        ));
    }
    let lib = libtorch.join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    if !lib.join("libtorch_cpu.so").exists() {
        fail(&format!(
            "{} holds no libtorch_cpu.so: run `scripts/setup.sh` to reinstall torch {TORCH_VERSION}",
            lib.display()
        ));
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
