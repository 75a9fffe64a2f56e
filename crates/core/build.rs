//! Makes this package's tests, examples and binaries find libtorch at run time (rpath) and link
//! its CUDA library when present (see `genzoo-build`), and compiles `src/kernels/kernels.cpp`,
//! the ATen kernels tch does not bind (cfg `genzoo_kernels`; without it each caller runs its
//! fallback, and the first one says so).
fn main() {
    genzoo_build::link_libtorch();
    genzoo_build::compile_aten_cpp(
        "src/kernels/kernels.cpp",
        "genzoo_kernels",
        "genzoo_kernels",
    );
}
