//! The one line a crate that links libtorch through genzoo needs in its build script.
fn main() {
    genzoo_build::link_libtorch();
}
