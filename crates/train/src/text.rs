//! Bitmap text for plots, with no system font: the public-domain 8x8 glyphs of `font8x8`
//! (printable ASCII; any other character draws as `?`).
//!
//! Buffers are RGB8, row-major, 3 bytes per pixel, `width x height` pixels. Positions are in
//! pixels from the top-left corner; a character at `scale` s covers `8s x 8s` pixels. Text is
//! clipped at the buffer's edges (and at the end of `buf` if it is shorter than
//! `width * height * 3`), so any position, text or scale is safe.
use font8x8::legacy::BASIC_LEGACY;

/// The 8 rows of `c`'s glyph (bit 0 of each row is its leftmost pixel); `?` for characters
/// outside printable ASCII.
fn glyph(c: char) -> [u8; 8] {
    let c = if (' '..='~').contains(&c) { c } else { '?' };
    BASIC_LEGACY[c as usize]
}

/// The width in pixels of `text` drawn at `scale`: `8 * scale` per character.
pub fn text_width(text: &str, scale: u32) -> i64 {
    let n = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    n.saturating_mul(8 * i64::from(scale))
}

/// Draws `text` in colour `rgb` into the RGB8 buffer `buf` of `width x height` pixels with its
/// top-left corner at pixel `(x, y)`, each glyph pixel a `scale x scale` square (nothing is
/// drawn for scale 0). Pixels outside the buffer are skipped.
pub fn draw_text(
    buf: &mut [u8],
    width: u32,
    height: u32,
    x: i64,
    y: i64,
    text: &str,
    rgb: [u8; 3],
    scale: u32,
) {
    let (w, s) = (i64::from(width), i64::from(scale));
    let npix = i64::try_from(buf.len() / 3).unwrap_or(i64::MAX);
    if w == 0 || s == 0 {
        return;
    }
    // Clip to the rows and columns the buffer really holds, so a buffer shorter than
    // `width * height * 3` neither overflows the index nor makes the loops long.
    let h = i64::from(height).min(npix / w + 1);
    let cols = w.min(npix);
    let size = 8 * s;
    if y >= h || y.saturating_add(size) <= 0 {
        return;
    }
    // Rows of the text box inside the buffer.
    let (r0, r1) = (y.max(0), y.saturating_add(size).min(h));
    let mut gx = x;
    for c in text.chars() {
        if gx >= cols {
            break;
        }
        let next = gx.saturating_add(size);
        if next > 0 {
            let rows = glyph(c);
            for py in r0..r1 {
                let bits = rows[((py - y) / s) as usize];
                if bits == 0 {
                    continue;
                }
                for px in gx.max(0)..next.min(cols) {
                    if bits & (1 << ((px - gx) / s)) != 0 {
                        let i = ((py * w + px) * 3) as usize;
                        if let Some(p) = buf.get_mut(i..i + 3) {
                            p.copy_from_slice(&rgb);
                        }
                    }
                }
            }
        }
        gx = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of a `w x h` RGB8 buffer that are not white.
    fn changed(buf: &[u8], w: i64) -> Vec<(i64, i64)> {
        (0..buf.len() / 3)
            .filter(|&i| buf[3 * i..3 * i + 3] != [255, 255, 255])
            .map(|i| (i as i64 % w, i as i64 / w))
            .collect()
    }

    #[test]
    fn draw_text_marks_pixels_only_inside_the_glyph_box() {
        let mut buf = vec![255u8; 20 * 20 * 3];
        draw_text(&mut buf, 20, 20, 5, 7, "8", [0, 0, 0], 1);
        let px = changed(&buf, 20);
        assert!(px.len() >= 10, "{px:?}");
        assert!(px
            .iter()
            .all(|&(x, y)| (5..13).contains(&x) && (7..15).contains(&y)));
    }

    #[test]
    fn draw_text_clips_at_any_position_and_never_panics() {
        let positions = [
            (-5, -3),
            (-100, 5),
            (15, 15),
            (19, 19),
            (20, 0),
            (0, 20),
            (i64::MIN, i64::MIN),
            (i64::MAX, i64::MAX),
            (i64::MAX - 3, 0),
            (0, i64::MAX - 3),
        ];
        for &(x, y) in &positions {
            for scale in [0, 1, 3, u32::MAX] {
                let mut buf = vec![255u8; 20 * 20 * 3 + 6];
                draw_text(
                    &mut buf,
                    20,
                    20,
                    x,
                    y,
                    "Wg\u{e9}\u{1F600}?",
                    [0, 0, 0],
                    scale,
                );
                assert_eq!(&buf[20 * 20 * 3..], &[255; 6], "wrote past the image");
                assert!(changed(&buf, 20).iter().all(|&(px, py)| {
                    px >= x.max(0) && py >= y.max(0) && py < y.saturating_add(8 * i64::from(scale))
                }));
            }
        }
        // Partly visible text still draws, and a short buffer is not overrun.
        let mut buf = vec![255u8; 20 * 20 * 3];
        draw_text(&mut buf, 20, 20, -4, -4, "88", [0, 0, 0], 1);
        assert!(!changed(&buf, 20).is_empty());
        let mut short = vec![255u8; 10];
        draw_text(&mut short, 20, 20, 0, 0, "8888", [0, 0, 0], 2);
        draw_text(
            &mut short,
            u32::MAX,
            u32::MAX,
            0,
            0,
            "8888",
            [0, 0, 0],
            u32::MAX,
        );
        draw_text(&mut short, u32::MAX, u32::MAX, -9, 1, "8", [0, 0, 0], 5);
        draw_text(&mut [], 0, 0, 0, 0, "8", [0, 0, 0], 1);
    }

    #[test]
    fn unknown_characters_draw_as_question_marks_and_widths_add_up() {
        let draw = |t: &str| {
            let mut buf = vec![255u8; 16 * 8 * 3];
            draw_text(&mut buf, 16, 8, 0, 0, t, [0, 0, 0], 1);
            buf
        };
        assert_eq!(draw("\u{e9}\u{7}"), draw("??"));
        assert_ne!(draw("ab"), draw("??"));
        assert_eq!(text_width("abc", 2), 48);
        assert_eq!(text_width("", 5), 0);
        assert_eq!(text_width("\u{e9}x", 1), 16);
    }
}
