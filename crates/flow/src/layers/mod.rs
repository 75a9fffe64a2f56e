//! Flow layers, each a [`crate::Bijector`] with forward, inverse and log|det J| both ways.
pub mod autoregressive;
pub mod conv1x1;
pub mod coupling;
pub mod nets;
pub mod norm;
pub mod preprocess;
pub mod reshape;

pub use autoregressive::AutoregressiveAffine;
pub use conv1x1::Conv1x1;
pub use coupling::{Coupling, CouplingKind, DiagScale, MaskKind};
pub use nets::{CouplingNet, NetConfig, NetKind};
pub use norm::{ActNorm, BatchNormFlow};
pub use preprocess::{Logit, Preprocess, Shift};
pub use reshape::{squeeze, unsqueeze, Permute, Squeeze};
