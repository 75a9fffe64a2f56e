//! Layers shared by several genzoo families.
//!
//! * [`made`]: MADE's masked linear layer, its degree/mask construction (natural, order-agnostic
//!   and connectivity-agnostic) and the MADE network (Germain et al. 2015, "MADE: Masked
//!   Autoencoder for Distribution Estimation", eqs. 12-13), used by the flow family's MAF/IAF and
//!   by the autoregressive family.
//! * [`made_backprop`]: MADE's training pass without autograd (its gradients by the chain rule,
//!   in buffers reused from step to step);
//! * [`mask_blocks`]: the blocks of a mask holding its nonzero entries (masked products that skip
//!   the rest).
pub mod made;
pub mod made_backprop;
pub mod mask_blocks;

pub use made::{made_masks, Made, MadeConfig, MaskedLinear, Ordering};
pub use made_backprop::{MadeWorkspace, Products};
