//! Volume-preserving rearrangements: squeeze/unsqueeze (RealNVP, Dinh et al. 2017, sec. 3.6:
//! `[b, c, h, w] -> [b, 4c, h/2, w/2]`, each 2x2 block becomes 4 channels) and fixed permutations
//! of the feature dimension (reversal as in RealNVP/Glow, or a seeded random shuffle). Their
//! log-determinant is 0.
use tch::{nn, Tensor};

use crate::bijector::{check_shape, zeros_b, Bijector, Ctx};
use genzoo_core::{CoreError, Result};

/// Squeeze (forward) / unsqueeze (inverse) by a factor of 2.
#[derive(Debug, Clone, Copy, Default)]
pub struct Squeeze;

/// `[b, c, h, w] -> [b, 4c, h/2, w/2]`; errors name odd sizes.
///
/// # Errors
/// `x` not 4-D or with an odd height or width, or a libtorch error.
pub fn squeeze(x: &Tensor) -> Result<Tensor> {
    check_shape("squeeze input", x, &[0, 0, 0, 0])?;
    let s = x.size();
    if s[2] % 2 != 0 || s[3] % 2 != 0 {
        return Err(CoreError::shape(
            "squeeze input",
            format!("height and width must be even, got {:?}", s),
        ));
    }
    Ok(x.f_pixel_unshuffle(2)?)
}

/// `[b, 4c, h, w] -> [b, c, 2h, 2w]`.
///
/// # Errors
/// `z` not 4-D or with a channel count that is not a multiple of 4, or a libtorch error.
pub fn unsqueeze(z: &Tensor) -> Result<Tensor> {
    check_shape("unsqueeze input", z, &[0, 0, 0, 0])?;
    if z.size()[1] % 4 != 0 {
        return Err(CoreError::shape(
            "unsqueeze input",
            format!("channels must be a multiple of 4, got {:?}", z.size()),
        ));
    }
    Ok(z.f_pixel_shuffle(2)?)
}

impl Bijector for Squeeze {
    fn forward(&self, x: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        Ok((squeeze(x)?, zeros_b(x)?))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        Ok((unsqueeze(z)?, zeros_b(z)?))
    }
    fn name(&self) -> &str {
        "squeeze"
    }
}

/// A fixed permutation of dimension 1 (features or channels). The indices are a non-trainable
/// variables (`perm`, `perm_inv`), so a random one is checkpointed.
#[derive(Debug)]
pub struct Permute {
    perm: Tensor,
    inv: Tensor,
    n: i64,
}

impl Permute {
    /// Reverses the `n` features/channels.
    pub fn reverse(p: &nn::Path, n: i64) -> Self {
        let perm: Vec<i64> = (0..n).rev().collect();
        Self::from_indices(p, &perm)
    }
    /// A seeded random permutation of `n`.
    pub fn random(p: &nn::Path, n: i64, seed: u64) -> Self {
        use rand::seq::SliceRandom;
        let mut perm: Vec<i64> = (0..n).collect();
        perm.shuffle(&mut genzoo_core::seed::rng(seed, "flow-permute", n as u64));
        Self::from_indices(p, &perm)
    }
    fn from_indices(p: &nn::Path, perm: &[i64]) -> Self {
        let t = Tensor::from_slice(perm).to_device(p.device());
        let perm_t = p.add("perm", t, false);
        let mut inv = vec![0i64; perm.len()];
        for (i, &j) in perm.iter().enumerate() {
            inv[j as usize] = i as i64;
        }
        let inv = p.add(
            "perm_inv",
            Tensor::from_slice(&inv).to_device(p.device()),
            false,
        );
        Permute {
            perm: perm_t,
            inv,
            n: perm.len() as i64,
        }
    }
    fn check(&self, x: &Tensor) -> Result<()> {
        if x.dim() < 2 || x.size()[1] != self.n {
            return Err(CoreError::shape(
                "permute input",
                format!("expected {} features in dim 1, got {:?}", self.n, x.size()),
            ));
        }
        Ok(())
    }
}

impl Bijector for Permute {
    fn forward(&self, x: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.check(x)?;
        Ok((x.f_index_select(1, &self.perm)?, zeros_b(x)?))
    }
    fn inverse(&self, z: &Tensor, _ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.check(z)?;
        Ok((z.f_index_select(1, &self.inv)?, zeros_b(z)?))
    }
    fn name(&self) -> &str {
        "permute"
    }
}
