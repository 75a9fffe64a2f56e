//! The names of the shipped datasets, in one place for the readers, the registry and the
//! downloader.

/// The shipped digits (`datasets/mnist10k`): 9,000 train / 1,000 test real MNIST digits.
pub const MNIST10K: &str = "mnist10k";

/// The shipped piano notes (`datasets/piano`).
pub const PIANO: &str = "piano";
