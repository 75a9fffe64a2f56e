//! Loss curves and 2-D scatter plots as PNG (feature `plots`, through `plotters`), labelled with
//! the bitmap text of [`crate::text`] so that no system font is needed.
use std::path::Path;

use plotters::prelude::*;

use genzoo_core::{CoreError, Result};

/// The colour of axis labels.
const INK: [u8; 3] = [40, 40, 40];

/// `v` in at most 11 characters (88 pixels at scale 1): fixed-point with up to 4 decimals (trailing zeros trimmed), or
/// scientific with 4 significant digits when `|v| >= 1e5` or `0 < |v| < 1e-3`.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".into()
    } else {
        s.into()
    }
}

/// Draws `text` into the RGB8 buffer of a `w x h` image at pixel row `y` (its top), placed
/// left of, centred on or right of pixel column `x` for `anchor` 2, 1 or 0 half-widths.
fn label(buf: &mut [u8], (w, h): (u32, u32), x: i64, y: i64, anchor: i64, text: &str, scale: u32) {
    let x = x - crate::text::text_width(text, scale) * anchor / 2;
    crate::text::draw_text(buf, w, h, x, y, text, INK, scale);
}

/// A short tick of the axes (`(x, y)` pixel pairs, absolute in the image).
fn tick<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    from: (i32, i32),
    to: (i32, i32),
) -> std::result::Result<(), String> {
    root.draw(&PathElement::new(vec![from, to], BLACK))
        .map_err(|e| e.to_string())
}

/// Colours of the curves of [`plot_curves`], in order (blue, orange, green, red, purple).
const SERIES: [[u8; 3]; 5] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
];

/// Draws `(step, value)` as a line on a white 640x400 RGB PNG: [`plot_curves`] with one
/// unnamed curve.
///
/// # Errors
/// An I/O or encoding error writing the PNG at `path` (naming it).
pub fn plot_curve(path: &Path, title: &str, pts: &[(u64, f64)]) -> Result<()> {
    plot_curves(path, title, &[("", pts)])
}

/// Draws named `(step, value)` curves on one white 640x400 RGB PNG (the two players of a GAN
/// on shared axes): `title` (e.g. `train/total`) centred at the top, a frame, grid lines at the
/// quarter marks, the curves in five colours (blue, orange, green, red, purple, cycled), each curve's name in its
/// colour at the frame's top left when there is more than one, the lowest and highest value at
/// their heights left of the frame, the first and last step under it and the word `step` below
/// those. Text is 8x8 bitmap glyphs ([`crate::text`]); non-finite points are skipped, and
/// nothing is written when no point is left.
///
/// # Errors
/// An I/O or encoding error writing the PNG at `path` (naming it).
pub fn plot_curves(path: &Path, title: &str, curves: &[(&str, &[(u64, f64)])]) -> Result<()> {
    let (w, h) = (640u32, 400u32);
    let curves: Vec<(&str, Vec<(u64, f64)>)> = curves
        .iter()
        .map(|(n, pts)| {
            (
                *n,
                pts.iter().copied().filter(|p| p.1.is_finite()).collect(),
            )
        })
        .collect();
    let all = || curves.iter().flat_map(|c| c.1.iter());
    let (Some(smin), Some(smax)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        return Ok(());
    };
    let (vmin, vmax) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let (x0, x1) = (smin as f64, smax as f64);
    let pad = ((vmax - vmin) * 0.05).max(1e-9);
    let (x1, y0, y1) = (if x1 > x0 { x1 } else { x0 + 1.0 }, vmin - pad, vmax + pad);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let err = |e: String| CoreError::Invalid(format!("plotting {}: {e}", path.display()));
    let (xr, yr, row_max, row_min);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_top(32)
            .margin_left(96)
            .margin_right(16)
            .margin_bottom(40)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(e.to_string()))?;
        let grid = RGBColor(225, 225, 225);
        for i in 1..4 {
            let fx = x0 + (x1 - x0) * f64::from(i) / 4.0;
            let fy = y0 + (y1 - y0) * f64::from(i) / 4.0;
            chart
                .draw_series(LineSeries::new(vec![(fx, y0), (fx, y1)], grid))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(LineSeries::new(vec![(x0, fy), (x1, fy)], grid))
                .map_err(|e| err(e.to_string()))?;
        }
        let frame = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        chart
            .draw_series(LineSeries::new(frame, BLACK))
            .map_err(|e| err(e.to_string()))?;
        for (i, (_, pts)) in curves.iter().enumerate() {
            let [r, g, b] = SERIES[i % SERIES.len()];
            let line = pts.iter().map(|&(s, v)| (s as f64, v));
            chart
                .draw_series(LineSeries::new(line, RGBColor(r, g, b).stroke_width(2)))
                .map_err(|e| err(e.to_string()))?;
        }
        (xr, yr) = chart.plotting_area().get_pixel_range();
        row_max = chart.backend_coord(&(x0, vmax)).1;
        row_min = chart.backend_coord(&(x0, vmin)).1;
        for row in [row_max, row_min] {
            tick(&root, (xr.start - 4, row), (xr.start, row)).map_err(err)?;
        }
        for col in [xr.start, xr.end - 1] {
            tick(&root, (col, yr.end), (col, yr.end + 4)).map_err(err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let names: Vec<&str> = curves.iter().map(|c| c.0).collect();
    let axes = Axes {
        left: i64::from(xr.start),
        right: i64::from(xr.end),
        top: i64::from(yr.start),
        bottom: i64::from(yr.end),
        row_max: i64::from(row_max),
        row_min: i64::from(row_min),
    };
    draw_labels(
        &mut buf,
        (w, h),
        &axes,
        &names,
        title,
        (vmin, vmax),
        (smin, smax),
    );
    crate::image::save_png(path, w, h, png::ColorType::Rgb, &buf)
}

/// The pixel frame of a chart's plotting area and the rows of its largest and smallest values.
struct Axes {
    left: i64,
    right: i64,
    top: i64,
    bottom: i64,
    row_max: i64,
    row_min: i64,
}

/// The legend (for more than one curve), the title, the value labels at `vmin`/`vmax` and the step
/// labels at `smin`/`smax` of a chart, drawn into the RGB `buf` of `size`.
fn draw_labels(
    buf: &mut [u8],
    size: (u32, u32),
    axes: &Axes,
    names: &[&str],
    title: &str,
    (vmin, vmax): (f64, f64),
    (smin, smax): (u64, u64),
) {
    let (w, h) = size;
    let (left, right) = (axes.left, axes.right);
    let (mid, bottom) = ((left + right) / 2, axes.bottom);
    if names.len() > 1 {
        for (i, name) in names.iter().enumerate() {
            let y = axes.top + 6 + 12 * i as i64;
            crate::text::draw_text(buf, w, h, left + 8, y, name, SERIES[i % SERIES.len()], 1);
        }
    }
    // Scale 2 when the title fits, else scale 1 (clipped at the right edge if still too long).
    let scale = if crate::text::text_width(title, 2) <= i64::from(w) - 8 {
        2
    } else {
        1
    };
    let title_x = (i64::from(w) / 2).max(crate::text::text_width(title, scale) / 2 + 4);
    label(
        buf,
        size,
        title_x,
        16 - 4 * i64::from(scale),
        1,
        title,
        scale,
    );
    label(buf, size, left - 6, axes.row_max - 4, 2, &compact(vmax), 1);
    if vmin < vmax {
        label(buf, size, left - 6, axes.row_min - 4, 2, &compact(vmin), 1);
    }
    label(buf, size, left, bottom + 6, 0, &smin.to_string(), 1);
    if smax > smin {
        label(buf, size, right, bottom + 6, 2, &smax.to_string(), 1);
    }
    label(buf, size, mid, bottom + 22, 1, "step", 1);
}

/// A 2-D scatter plot of samples `f32 [n, 2]` (toy data) on a white 480x480 RGB PNG: the points
/// in blue inside a square frame spanning `[-lim, lim]` on both axes (`lim` 5% past the largest
/// `|coordinate|`), with `-lim` and `lim` written at the ends of both axes and the axis names
/// `x` and `y` beside them. Non-finite points are skipped.
///
/// # Errors
/// `s` not of shape `[n, 2]`, or an I/O or encoding error writing the PNG at `path`.
pub fn plot_scatter(path: &Path, s: &tch::Tensor) -> Result<()> {
    let v: Vec<f64> = Vec::try_from(
        s.to_kind(tch::Kind::Double)
            .to_device(tch::Device::Cpu)
            .reshape([-1]),
    )?;
    let pts: Vec<(f64, f64)> = v
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1]))
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let lim = pts
        .iter()
        .fold(1e-6f64, |m, p| m.max(p.0.abs()).max(p.1.abs()))
        * 1.05;
    let (w, h) = (480u32, 480u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let err = |e: String| CoreError::Invalid(format!("plotting {}: {e}", path.display()));
    let (xr, yr);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin_top(24)
            .margin_left(64)
            .margin_right(16)
            .margin_bottom(56)
            .build_cartesian_2d(-lim..lim, -lim..lim)
            .map_err(|e| err(e.to_string()))?;
        let frame = vec![
            (-lim, -lim),
            (lim, -lim),
            (lim, lim),
            (-lim, lim),
            (-lim, -lim),
        ];
        chart
            .draw_series(LineSeries::new(frame, RGBColor(160, 160, 160)))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 2, BLUE.filled())))
            .map_err(|e| err(e.to_string()))?;
        (xr, yr) = chart.plotting_area().get_pixel_range();
        for row in [yr.start, yr.end - 1] {
            tick(&root, (xr.start - 4, row), (xr.start, row)).map_err(err)?;
        }
        for col in [xr.start, xr.end - 1] {
            tick(&root, (col, yr.end), (col, yr.end + 4)).map_err(err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let size = (w, h);
    let (left, right) = (i64::from(xr.start), i64::from(xr.end));
    let (top, bottom) = (i64::from(yr.start), i64::from(yr.end));
    let (hi, lo) = (compact(lim), compact(-lim));
    label(&mut buf, size, left - 6, top, 2, &hi, 1);
    label(&mut buf, size, left - 6, bottom - 8, 2, &lo, 1);
    label(&mut buf, size, left - 6, (top + bottom) / 2 - 4, 2, "y", 1);
    label(&mut buf, size, left, bottom + 6, 0, &lo, 1);
    label(&mut buf, size, right, bottom + 6, 2, &hi, 1);
    label(&mut buf, size, (left + right) / 2, bottom + 6, 1, "x", 1);
    crate::image::save_png(path, w, h, png::ColorType::Rgb, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn numbers_are_labelled_compactly() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(-0.0), "0");
        assert_eq!(compact(1.5), "1.5");
        assert_eq!(compact(2.0), "2");
        assert_eq!(compact(-0.12345), "-0.1235");
        assert_eq!(compact(12345.6), "12345.6");
        assert_eq!(compact(123456.0), "1.235e5");
        assert_eq!(compact(-0.00001234), "-1.234e-5");
        for v in [f64::MAX, f64::MIN, f64::MIN_POSITIVE, -1e-300, 99999.99999] {
            assert!(compact(v).len() <= 11, "{v}: {}", compact(v));
        }
    }

    #[test]
    fn curves_carry_a_title_and_axis_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        plot_curve(
            &path,
            "train/total",
            &[(10, 3.0), (20, 1.0), (30, f64::NAN)],
        )
        .unwrap();
        let dec = png::Decoder::new(fs::File::open(&path).unwrap());
        let mut reader = dec.read_info().unwrap();
        let mut px = vec![0u8; reader.output_buffer_size()];
        let info = reader.next_frame(&mut px).unwrap();
        assert_eq!((info.width, info.height), (640, 400));
        let inked = |x0: usize, x1: usize, y0: usize, y1: usize| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (y * 640 + x) * 3))
                .filter(|&i| px[i..i + 3] == INK)
                .count()
        };
        assert!(inked(0, 640, 0, 30) > 50, "no title");
        assert!(inked(0, 94, 30, 360) > 20, "no value labels");
        assert!(inked(0, 640, 362, 400) > 30, "no step labels");
        // Two named curves: both drawn in their colours, and both names written in them.
        let two = dir.path().join("two.png");
        let (d, g) = ([(1, 1.0), (2, 0.5)], [(1, 0.2), (2, 3.0)]);
        plot_curves(&two, "players", &[("d_loss", &d[..]), ("g_loss", &g[..])]).unwrap();
        let dec = png::Decoder::new(fs::File::open(&two).unwrap());
        let mut reader = dec.read_info().unwrap();
        let mut px2 = vec![0u8; reader.output_buffer_size()];
        reader.next_frame(&mut px2).unwrap();
        for (i, colour) in SERIES.iter().take(2).enumerate() {
            let count = |x0: usize, x1: usize, y0: usize, y1: usize| {
                (y0..y1)
                    .flat_map(|y| (x0..x1).map(move |x| (y * 640 + x) * 3))
                    .filter(|&k| px2[k..k + 3] == colour[..])
                    .count()
            };
            assert!(count(0, 640, 0, 400) > 400, "curve {i} not drawn");
            let row = 38 + 12 * i;
            assert!(count(96, 200, row, row + 12) > 10, "name {i} not written");
        }
        // An empty or all-NaN curve writes nothing and does not fail.
        plot_curve(&dir.path().join("e.png"), "", &[(1, f64::NAN)]).unwrap();
        assert!(!dir.path().join("e.png").exists());
    }
}
