//! Image output: PNG grids of samples and reconstructions, written atomically.
//!
//! Grids take `f32 [n, c, h, w]` tensors with values in \[0,1\] (c = 1 or 3), clamp them, lay them
//! out `nrow` per row with a 2-pixel border, and write 8-bit greyscale or RGB PNGs.
use std::path::Path;

use tch::{Kind, Tensor};

use genzoo_core::io::write_atomic;
use genzoo_core::{CoreError, Result};

/// `[n, c, h, w]` of `images`, checked to be a non-empty batch of 1- or 3-channel images.
fn image_shape(images: &Tensor) -> Result<(i64, i64, i64, i64)> {
    let size = images.size();
    if size.len() != 4 || !(size[1] == 1 || size[1] == 3) || size[0] == 0 {
        return Err(CoreError::shape(
            "images",
            format!("expected [n, 1|3, h, w] with n > 0, got {size:?}"),
        ));
    }
    Ok((size[0], size[1], size[2], size[3]))
}

/// Lays `images` (`f32 [n, c, h, w]` in \[0,1\]) out in a grid, `nrow` images per row, and returns
/// `(width, height, channels, bytes)` of the 8-bit grid.
///
/// # Errors
/// [`CoreError::Shape`] (`images`) when `images` is not `[n, c, h, w]` with n > 0 and c = 1 or 3; a
/// libtorch error when it cannot be copied to the CPU.
///
/// # Example
/// Four 28x28 grey images two to a row, with a 2-pixel border around each:
/// ```
/// use tch::{Device, Kind, Tensor};
/// let x = Tensor::ones([4, 1, 28, 28], (Kind::Float, Device::Cpu));
/// let (w, h, c, bytes) = genzoo_train::image::grid_bytes(&x, 2)?;
/// assert_eq!((w, h, c), (2 * 30 + 2, 2 * 30 + 2, 1));
/// assert_eq!(bytes.len(), (w * h) as usize);
/// assert_eq!(bytes.iter().filter(|&&b| b == 255).count(), 4 * 28 * 28);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn grid_bytes(images: &Tensor, nrow: i64) -> Result<(u32, u32, u8, Vec<u8>)> {
    let (n, c, h, w) = image_shape(images)?;
    let nrow = nrow.clamp(1, n);
    let ncol_rows = (n + nrow - 1) / nrow;
    let pad = 2;
    let gw = nrow * (w + pad) + pad;
    let gh = ncol_rows * (h + pad) + pad;
    let src = pixels(images)?;
    let mut out = vec![64u8; (gw * gh * c) as usize];
    for i in 0..n {
        let (gy, gx) = (i / nrow, i % nrow);
        let (oy, ox) = (pad + gy * (h + pad), pad + gx * (w + pad));
        for y in 0..h {
            let s = ((i * h + y) * w * c) as usize;
            let d = (((oy + y) * gw + ox) * c) as usize;
            out[d..d + (w * c) as usize].copy_from_slice(&src[s..s + (w * c) as usize]);
        }
    }
    Ok((gw as u32, gh as u32, c as u8, out))
}

/// The 8-bit pixels of `images` (`f32 [n, c, h, w]` in \[0,1\], clamped, rounded) laid out
/// `[n, h, w, c]`.
fn pixels(images: &Tensor) -> Result<Vec<u8>> {
    let px = (images
        .detach()
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Float)
        .clamp(0.0, 1.0)
        * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    Ok(Vec::try_from(px.reshape([-1]))?)
}

/// Writes each of `images` (`f32 [n, c, h, w]` in \[0,1\], c = 1 or 3) as its own 8-bit PNG
/// `dir/00000.png`, `dir/00001.png`, ... (what clean-fid, torch-fidelity and
/// `cargo xtask eval --samples` read), creating `dir`. Returns the paths in order.
///
/// # Errors
/// [`CoreError::Shape`] (`images`) as [`grid_bytes`]; [`CoreError::Io`] naming `dir` or a file.
pub fn save_images(dir: &Path, images: &Tensor) -> Result<Vec<std::path::PathBuf>> {
    let (n, c, h, w) = image_shape(images)?;
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let src = pixels(images)?;
    let color = if c == 1 {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    };
    let per = (h * w * c) as usize;
    let mut paths = Vec::with_capacity(n as usize);
    for (i, px) in src.chunks(per).enumerate() {
        let path = dir.join(format!("{i:05}.png"));
        save_png(&path, w as u32, h as u32, color, px)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Writes a PNG grid of `images` (`f32 [n, c, h, w]` in \[0,1\]) to `path`, `nrow` per row.
///
/// # Errors
/// [`CoreError::Shape`] (`images`) when `images` is not `[n, c, h, w]` with n > 0 and c = 1 or 3;
/// the errors of [`save_png`]; a libtorch error.
pub fn save_grid(path: impl AsRef<Path>, images: &Tensor, nrow: i64) -> Result<()> {
    let path = path.as_ref();
    let (w, h, c, bytes) = grid_bytes(images, nrow)?;
    let color = if c == 1 {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    };
    save_png(path, w, h, color, &bytes)
}

/// Writes raw 8-bit pixels as a PNG file, atomically.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when the PNG encoder rejects the header or the data (e.g.
/// `bytes` not `width * height * channels` long, or a zero width or height); [`CoreError::Io`]
/// naming `path` when the atomic write fails.
pub fn save_png(
    path: &Path,
    width: u32,
    height: u32,
    color: png::ColorType,
    bytes: &[u8],
) -> Result<()> {
    let mut buf = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut buf, width, height);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc
            .write_header()
            .map_err(|e| CoreError::format(path, format!("png header: {e}")))?;
        wr.write_image_data(bytes)
            .map_err(|e| CoreError::format(path, format!("png data: {e}")))?;
    }
    write_atomic(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_each_image_and_round_trips_through_png() {
        // Two 1x2x2 images: all-black and all-white, in one row.
        let imgs = Tensor::cat(
            &[
                Tensor::zeros([1, 1, 2, 2], (Kind::Float, tch::Device::Cpu)),
                Tensor::ones([1, 1, 2, 2], (Kind::Float, tch::Device::Cpu)),
            ],
            0,
        );
        let (w, h, c, bytes) = grid_bytes(&imgs, 2).unwrap();
        assert_eq!((w, h, c), (2 * 4 + 2, 4 + 2, 1));
        // First image at (2,2), second at (2, 6).
        assert_eq!(bytes[(2 * w + 2) as usize], 0);
        assert_eq!(bytes[(2 * w + 6) as usize], 255);
        assert_eq!(bytes[0], 64); // border
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.png");
        save_grid(&p, &imgs, 2).unwrap();
        let dec = png::Decoder::new(std::fs::File::open(&p).unwrap());
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(&buf[..info.buffer_size()], &bytes[..]);
    }

    #[test]
    fn rejects_bad_shapes() {
        let t = Tensor::zeros([2, 5, 3, 3], (Kind::Float, tch::Device::Cpu));
        let e = grid_bytes(&t, 2).unwrap_err().to_string();
        assert!(e.contains("images") && e.contains("[2, 5, 3, 3]"), "{e}");
    }
}
