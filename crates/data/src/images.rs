//! Image sets from files, for scoring samples made anywhere (`cargo xtask eval --samples`): a
//! folder of PNG files (decoded by the `png` crate; grey, grey+alpha, RGB, RGBA, palette; 8 or
//! 16 bits), or one IDX image file. Every image must have one size.
use std::path::Path;

use genzoo_core::{CoreError, Result};
use tch::Tensor;

/// Decodes one PNG file into 8-bit channels (see [`decode_png_bytes`]).
fn decode_png(path: &Path) -> Result<(i64, i64, i64, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    decode_png_bytes(&bytes, path)
}

/// Decodes the bytes of one PNG (`path` names it in errors) into 8-bit channels:
/// `(channels 1 or 3, height, width, pixels HWC)`; alpha is dropped, palettes and 16-bit samples
/// are expanded and stripped to 8 bits.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when the bytes are not a readable PNG.
pub(crate) fn decode_png_bytes(bytes: &[u8], path: &Path) -> Result<(i64, i64, i64, Vec<u8>)> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| CoreError::format(path, format!("not a readable PNG: {e}")))?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| CoreError::format(path, format!("not a readable PNG: {e}")))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let per = info.color_type.samples();
    let keep = if per >= 3 { 3 } else { 1 };
    if per == keep {
        buf.truncate(w * h * per);
        return Ok((keep as i64, h as i64, w as i64, buf));
    }
    let mut px = Vec::with_capacity(w * h * keep);
    for p in buf[..w * h * per].chunks(per) {
        px.extend_from_slice(&p[..keep]);
    }
    Ok((keep as i64, h as i64, w as i64, px))
}

/// The PNG files of `dir` (sorted by name) as `u8 [n, c, h, w]`.
///
/// # Errors
/// [`CoreError::Io`] naming `dir` or a file that cannot be read; [`CoreError::Format`] naming a
/// file that is not a PNG, or whose size or channel count differs from the first file's;
/// [`CoreError::Invalid`] for a folder without PNG files.
pub fn load_png_dir(dir: &Path) -> Result<Tensor> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CoreError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    let Some(first) = files.first() else {
        return Err(CoreError::Invalid(format!(
            "{}: no .png files",
            dir.display()
        )));
    };
    let (c, h, w, _) = decode_png(first)?;
    let mut all = Vec::with_capacity(files.len() * (c * h * w) as usize);
    for f in &files {
        let (c2, h2, w2, px) = decode_png(f)?;
        if (c2, h2, w2) != (c, h, w) {
            return Err(CoreError::format(
                f,
                format!(
                    "{c2}x{h2}x{w2} (channels x height x width), but {} is {c}x{h}x{w}",
                    first.display()
                ),
            ));
        }
        all.extend(px);
    }
    let n = files.len() as i64;
    Ok(Tensor::from_slice(&all)
        .view([n, h, w, c])
        .permute([0, 3, 1, 2])
        .contiguous())
}

/// Images from `path`: a folder of PNG files, or an IDX image file (`u8 [n, c, h, w]`).
///
/// # Errors
/// As [`load_png_dir`] and [`crate::idx::read_images`].
pub fn load_images(path: &Path) -> Result<Tensor> {
    if path.is_dir() {
        load_png_dir(path)
    } else {
        crate::idx::read_images(path)
    }
}

/// `images` (`u8 [n, c, h, w]`, read from `path`) with `channels` channels, and a note saying
/// what was converted (`None` when nothing was): RGB images whose three channels agree everywhere
/// (grey images saved as RGB or RGBA, as torchvision's `save_image` writes them, or as palette
/// PNGs) become one channel; grey images become three equal channels.
///
/// # Errors
/// [`CoreError::Format`] naming `path` when RGB images hold real colour (their channels differ
/// somewhere) but one channel is wanted, or for any other channel count.
pub fn fit_channels(
    images: Tensor,
    channels: i64,
    path: &Path,
) -> Result<(Tensor, Option<String>)> {
    let c = images.size().get(1).copied().unwrap_or(0);
    match (c, channels) {
        (c, want) if c == want => Ok((images, None)),
        (3, 1) => {
            let r = images.f_narrow(1, 0, 1)?;
            let grey = r.f_expand_as(&images)?.f_equal(&images)?;
            if !grey {
                return Err(CoreError::format(
                    path,
                    "RGB images in colour (their channels differ), but the data is greyscale",
                ));
            }
            let note = "RGB images whose channels agree: read as greyscale".to_string();
            Ok((r.f_contiguous()?, Some(note)))
        }
        (1, 3) => {
            let rgb = images.f_expand([-1, 3, -1, -1], false)?.f_contiguous()?;
            Ok((
                rgb,
                Some("greyscale images: read as RGB with equal channels".into()),
            ))
        }
        (c, want) => Err(CoreError::format(
            path,
            format!("images with {c} channels, but the data has {want}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grey digits saved as RGB (or RGBA, or a palette) become one channel with their own
    /// pixels; coloured images are refused for grey data, naming the path; grey images become RGB.
    #[test]
    fn channels_are_fitted_only_where_they_agree() {
        let grey = Tensor::randint(256, [2, 1, 4, 4], (tch::Kind::Uint8, tch::Device::Cpu));
        let rgb = grey.expand([-1, 3, -1, -1], false).contiguous();
        let p = Path::new("my_pngs");
        let (back, note) = fit_channels(rgb.shallow_clone(), 1, p).unwrap();
        assert!(back.equal(&grey) && note.is_some());
        let (same, note) = fit_channels(grey.shallow_clone(), 1, p).unwrap();
        assert!(same.equal(&grey) && note.is_none());
        let (up, _) = fit_channels(grey.shallow_clone(), 3, p).unwrap();
        assert!(up.equal(&rgb));
        let colour = rgb.copy();
        let _ = colour
            .get(0)
            .get(2)
            .get(0)
            .get(0)
            .fill_(1 + grey.int64_value(&[0, 0, 0, 0]) % 255);
        let e = fit_channels(colour, 1, p).unwrap_err().to_string();
        assert!(e.contains("my_pngs") && e.contains("colour"), "{e}");
    }

    fn write_png(path: &Path, w: u32, h: u32, color: png::ColorType, px: &[u8]) {
        let f = std::fs::File::create(path).unwrap();
        let mut e = png::Encoder::new(f, w, h);
        e.set_color(color);
        e.set_depth(png::BitDepth::Eight);
        e.write_header().unwrap().write_image_data(px).unwrap();
    }

    #[test]
    fn grey_and_rgba_folders_decode_to_their_pixels() {
        let d = tempfile::tempdir().unwrap();
        write_png(
            &d.path().join("b.png"),
            2,
            1,
            png::ColorType::Grayscale,
            &[7, 9],
        );
        write_png(
            &d.path().join("a.png"),
            2,
            1,
            png::ColorType::Grayscale,
            &[1, 2],
        );
        let x = load_images(d.path()).unwrap();
        assert_eq!(x.size(), [2, 1, 1, 2]);
        assert_eq!(
            Vec::<u8>::try_from(&x.flatten(0, -1)).unwrap(),
            vec![1, 2, 7, 9]
        );
        let r = tempfile::tempdir().unwrap();
        write_png(
            &r.path().join("x.png"),
            1,
            1,
            png::ColorType::Rgba,
            &[10, 20, 30, 255],
        );
        let x = load_png_dir(r.path()).unwrap();
        assert_eq!(x.size(), [1, 3, 1, 1]);
        assert_eq!(
            Vec::<u8>::try_from(&x.flatten(0, -1)).unwrap(),
            vec![10, 20, 30]
        );
    }

    #[test]
    fn mixed_sizes_empty_folders_and_broken_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        assert!(load_png_dir(d.path())
            .unwrap_err()
            .to_string()
            .contains("no .png"));
        write_png(
            &d.path().join("a.png"),
            2,
            1,
            png::ColorType::Grayscale,
            &[1, 2],
        );
        write_png(
            &d.path().join("b.png"),
            1,
            1,
            png::ColorType::Grayscale,
            &[1],
        );
        assert!(load_png_dir(d.path())
            .unwrap_err()
            .to_string()
            .contains("b.png"));
        std::fs::write(d.path().join("b.png"), b"not a png").unwrap();
        assert!(load_png_dir(d.path())
            .unwrap_err()
            .to_string()
            .contains("b.png"));
    }
}
