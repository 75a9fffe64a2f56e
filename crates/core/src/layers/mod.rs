//! Layers shared by several genzoo families.
//!
//! * [`made`]: MADE's masked linear layer, its degree/mask construction (natural, order-agnostic
//!   and connectivity-agnostic) and the MADE network (Germain et al. 2015, "MADE: Masked
//!   Autoencoder for Distribution Estimation", eqs. 12-13), used by the flow family's MAF/IAF and
//!   by the autoregressive family.
pub mod made;

pub use made::{made_masks, Made, MadeConfig, MaskedLinear, Ordering};
