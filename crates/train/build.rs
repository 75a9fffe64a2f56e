//! Makes this package's tests, examples and binaries find libtorch at run time (rpath) and link
//! its CUDA library when present (see `genzoo-build`), and compiles `src/fused_adam.cpp`, the
//! binding of PyTorch's fused Adam kernel that tch does not have (cfg `genzoo_fused_adam`; without
//! it the optimizer keeps its own multi-kernel update).
fn main() {
    genzoo_build::link_libtorch();
    genzoo_build::compile_aten_cpp(
        "src/fused_adam.cpp",
        "genzoo_fused_adam",
        "genzoo_fused_adam",
    );
}
