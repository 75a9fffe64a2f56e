//! Makes this package's tests, examples and binaries find libtorch at run time (rpath) and link
//! its CUDA library when present: see `genzoo-build`.
fn main() {
    genzoo_build::link_libtorch();
}
