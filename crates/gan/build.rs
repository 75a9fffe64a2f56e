//! Makes this package's tests, examples and binaries find libtorch at run time (rpath) and link
//! its CUDA library when present (see `genzoo-build`), and compiles `src/leaky_relu.cpp`, ATen's
//! LeakyReLU with a chosen slope that tch does not bind (cfg `genzoo_leaky_relu`; without it
//! `nets::leaky_relu` falls back to PReLU with a constant slope).
fn main() {
    genzoo_build::link_libtorch();
    genzoo_build::compile_aten_cpp(
        "src/leaky_relu.cpp",
        "genzoo_leaky_relu",
        "genzoo_leaky_relu",
    );
}
