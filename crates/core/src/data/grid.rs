//! Regular grids of cell centres, for quadrature over low-dimensional densities (the 2-D toys'
//! KL to the truth, grid integrals, heatmaps).
use tch::{Device, Kind, Tensor};

/// The cell centres of a `res^d` grid over `[lo, hi]^d` (d = 1 or 2), `f32 [res^d, d]`, and the
/// cell volume.
pub fn grid(lo: f64, hi: f64, res: i64, d: usize) -> (Tensor, f64) {
    let h = (hi - lo) / res as f64;
    let c = Tensor::arange(res, (Kind::Double, Device::Cpu)) * h + (lo + 0.5 * h);
    if d == 1 {
        (c.unsqueeze(1).to_kind(Kind::Float), h)
    } else {
        let g = Tensor::meshgrid_indexing(&[&c, &c], "ij");
        (
            Tensor::stack(&[g[0].reshape([-1]), g[1].reshape([-1])], 1).to_kind(Kind::Float),
            h * h,
        )
    }
}
