//! 2-D density heatmaps for any model with a density (flows, baselines, the toys' truth): a
//! learned density on a grid, written as a PNG beside the true one (when the toy has a closed
//! form), each panel scaled to its own maximum, colour map black -> red -> yellow -> white. Also
//! the grid integral of a density (a check that it integrates to 1).
use std::path::Path;

use tch::{Device, Kind, Tensor};

use genzoo_core::data::grid::grid;
use genzoo_core::{CoreError, Result};

use crate::image;

/// A log density of 2-D points, `[m, 2]` to `[m]`.
pub type LogDensity<'a> = &'a mut dyn FnMut(&Tensor) -> Result<Tensor>;

/// `log p` on the cell centres of a `res x res` grid over `[lo, hi]^2` in row-major order
/// (row = first coordinate), `f64 [res * res]` on the CPU, and the cell area.
///
/// # Errors
/// `res < 2` or `lo >= hi` ([`CoreError::Invalid`]), an error of `log_prob`, a `log_prob` that
/// does not return one value per grid point (`[m]` for `m` points), or a libtorch error.
pub fn log_density_grid(
    log_prob: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    lo: f64,
    hi: f64,
    res: i64,
) -> Result<(Tensor, f64)> {
    if res < 2 || lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        return Err(CoreError::Invalid(format!(
            "density grid: need res >= 2 and lo < hi, got {res}, [{lo}, {hi}]"
        )));
    }
    let (x, dv) = grid(lo, hi, res, 2);
    let mut parts = Vec::new();
    let m = x.size()[0];
    let mut start = 0;
    while start < m {
        let len = 16384.min(m - start);
        let lp = log_prob(&x.f_narrow(0, start, len)?)?;
        let part = lp
            .f_to_device(Device::Cpu)?
            .f_to_kind(Kind::Double)?
            .f_reshape([-1])?;
        if part.size() != [len] {
            return Err(CoreError::shape(
                "grid log density",
                format!(
                    "expected {len} values for {len} grid points, got {:?}",
                    lp.size()
                ),
            ));
        }
        parts.push(part);
        start += len;
    }
    Ok((Tensor::f_cat(&parts, 0)?, dv))
}

/// `sum_cells p dV` over the grid: ~1 when the grid covers the support.
///
/// # Errors
/// As [`log_density_grid`].
pub fn grid_integral(
    log_prob: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    lo: f64,
    hi: f64,
    res: i64,
) -> Result<f64> {
    let (lp, dv) = log_density_grid(log_prob, lo, hi, res)?;
    Ok(lp.f_exp()?.f_sum(Kind::Double)?.f_double_value(&[])? * dv)
}

fn colour(v: f64) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0);
    let r = (3.0 * v).min(1.0);
    let g = (3.0 * v - 1.0).clamp(0.0, 1.0);
    let b = (3.0 * v - 2.0).clamp(0.0, 1.0);
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

fn panel(lp: &Tensor, res: i64) -> Result<Vec<[u8; 3]>> {
    let p = lp.f_exp()?.f_nan_to_num(0.0, None, None)?;
    let max = p.f_max()?.f_double_value(&[])?;
    let v: Vec<f64> = Vec::try_from(&p.f_div_scalar(if max > 0.0 { max } else { 1.0 })?)?;
    if v.len() != (res * res) as usize {
        return Err(CoreError::shape(
            "heatmap panel",
            format!(
                "expected {} values for a {res}x{res} grid, got {}",
                res * res,
                v.len()
            ),
        ));
    }
    // Image row r (top) is the largest second coordinate; column c the first coordinate.
    let mut out = vec![[0u8; 3]; (res * res) as usize];
    for i in 0..res {
        for j in 0..res {
            let r = res - 1 - j;
            out[(r * res + i) as usize] = colour(v[(i * res + j) as usize]);
        }
    }
    Ok(out)
}

/// Writes the learned density (left) and, if given, the true one (right) over `[lo, hi]^2` at
/// `res x res` pixels each to `path` (PNG).
///
/// # Errors
/// As [`log_density_grid`] for the model's and the true density (`truth`, the log density of 2-D
/// points `[m, 2]` as `[m]`), or an I/O error writing `path`.
pub fn write_heatmap(
    path: &Path,
    model_log_prob: LogDensity<'_>,
    truth: Option<LogDensity<'_>>,
    lo: f64,
    hi: f64,
    res: i64,
) -> Result<()> {
    let mut panels = vec![panel(
        &log_density_grid(model_log_prob, lo, hi, res)?.0,
        res,
    )?];
    if let Some(t) = truth {
        panels.push(panel(&log_density_grid(t, lo, hi, res)?.0, res)?);
    }
    let gap = 4i64;
    let w = res * panels.len() as i64 + gap * (panels.len() as i64 - 1);
    let mut bytes = vec![255u8; (w * res * 3) as usize];
    for (k, pnl) in panels.iter().enumerate() {
        let x0 = k as i64 * (res + gap);
        for r in 0..res {
            for c in 0..res {
                let d = ((r * w + x0 + c) * 3) as usize;
                bytes[d..d + 3].copy_from_slice(&pnl[(r * res + c) as usize]);
            }
        }
    }
    image::save_png(path, w as u32, res as u32, png::ColorType::Rgb, &bytes)
}
