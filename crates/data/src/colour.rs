//! `mnist10k-colour`: the shipped `mnist10k` digits as 32x32 RGB images, so that the models
//! built for colour images (DCGAN's 32x32 RGB networks, the channel masks of PixelCNN and
//! PixelRNN) train and are scored on small real data in minutes (CIFAR-10 itself: `cifar`,
//! `cifar_png`). Each digit is
//! padded by 2 pixels to 32x32 and drawn in its own foreground colour over its own background
//! colour: `x_c = bg_c + (fg_c - bg_c) * ink`, with `ink` the grey value in `[0, 1]`, rounded to
//! 8 bits. The colours are a fixed function of the split and the example's index (a SplitMix64
//! stream, Steele et al. 2014): foreground channels uniform in `[FG_LOW, 255]`, background in
//! `[0, BG_HIGH]`, so every digit stays readable while colour varies freely, in the spirit of
//! the "Colored MNIST" sets of the domain-adaptation literature. Labels are the digits'.
use tch::{Kind, Tensor};

use genzoo_core::data::{DataKind, Dataset, Split};
use genzoo_core::{CoreError, Result};

/// The dataset's name in every command.
pub const MNIST10K_COLOUR: &str = "mnist10k-colour";
/// The lowest foreground channel value.
pub const FG_LOW: u8 = 140;
/// The highest background channel value.
pub const BG_HIGH: u8 = 100;
/// Pixels of padding on every side (28 -> 32).
pub const PAD: i64 = 2;

/// SplitMix64's output for `state` (one step of the generator).
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The foreground and background colours of example `i` of the split with stream `stream`:
/// `[r, g, b]` each, foreground in `[FG_LOW, 255]`, background in `[0, BG_HIGH]`.
pub fn colours(stream: u64, i: u64) -> ([u8; 3], [u8; 3]) {
    let draw = |k: u64| splitmix64(stream.wrapping_mul(0x1_0000_0001).wrapping_add(6 * i + k));
    let fg_span = u64::from(255 - FG_LOW) + 1;
    let bg_span = u64::from(BG_HIGH) + 1;
    let fg = [0, 1, 2].map(|k| FG_LOW + (draw(k) % fg_span) as u8);
    let bg = [3, 4, 5].map(|k| (draw(k) % bg_span) as u8);
    (fg, bg)
}

/// `data` (grey `u8 [n, 1, h, w]` images) coloured as the module says: `u8 [n, 3, h + 4, w + 4]`,
/// the same labels, named `<name>-colour`.
///
/// # Errors
/// [`CoreError::Shape`] (`data`) for data that are not one-channel images; a libtorch error.
pub fn colourize(data: &Dataset, stream: u64) -> Result<Dataset> {
    let DataKind::Image {
        channels: 1,
        height,
        width,
    } = data.kind
    else {
        return Err(CoreError::shape(
            "data",
            format!(
                "{}: colouring takes one-channel images, got {:?}",
                data.name, data.kind
            ),
        ));
    };
    let n = data.len();
    let (mut fg, mut bg) = (Vec::with_capacity(3 * n as usize), Vec::new());
    for i in 0..n as u64 {
        let (f, b) = colours(stream, i);
        fg.extend(f.map(f32::from));
        bg.extend(b.map(f32::from));
    }
    let fg = Tensor::from_slice(&fg).f_reshape([n, 3, 1, 1])?;
    let bg = Tensor::from_slice(&bg).f_reshape([n, 3, 1, 1])?;
    let ink = data
        .x
        .f_to_device(tch::Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?
        .f_constant_pad_nd([PAD, PAD, PAD, PAD])?;
    let x = bg
        .f_add(&fg.f_sub(&bg)?.f_mul(&ink)?)?
        .f_round()?
        .f_clamp(0.0, 255.0)?
        .f_to_kind(Kind::Uint8)?;
    Ok(Dataset {
        name: data
            .name
            .replacen(crate::names::MNIST10K, MNIST10K_COLOUR, 1),
        kind: DataKind::Image {
            channels: 3,
            height: height + 2 * PAD,
            width: width + 2 * PAD,
        },
        x,
        y: data.y.as_ref().map(Tensor::shallow_clone),
        num_classes: data.num_classes,
    })
}

/// `mnist10k-colour`: the shipped digits coloured (train split stream 0, test split stream 1).
///
/// # Errors
/// The errors of [`crate::load_mnist10k`].
pub fn load_mnist10k_colour() -> Result<Split> {
    let s = crate::load_mnist10k()?;
    Ok(Split {
        train: colourize(&s.train, 0)?,
        test: colourize(&s.test, 1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shape, labels and the colour formula at known pixels: background where the digit has no
    /// ink (the padding too), foreground where it has full ink, every channel in its range.
    #[test]
    fn digits_are_drawn_in_their_colours_over_their_backgrounds() {
        let s = load_mnist10k_colour().unwrap();
        let grey = crate::load_mnist10k().unwrap();
        assert_eq!(s.train.x.size(), [9000, 3, 32, 32]);
        assert_eq!(s.test.x.size(), [1000, 3, 32, 32]);
        assert_eq!(s.train.name, "mnist10k-colour/train");
        assert!(s
            .test
            .y
            .as_ref()
            .unwrap()
            .equal(grey.test.y.as_ref().unwrap()));
        for i in [0i64, 17, 999] {
            let (fg, bg) = colours(1, i as u64);
            assert!(fg.iter().all(|&v| v >= FG_LOW) && bg.iter().all(|&v| v <= BG_HIGH));
            let img = s.test.x.get(i);
            let g = grey.test.x.get(i).get(0);
            let at = |c: i64, r: i64, col: i64| img.int64_value(&[c, r, col]) as u8;
            // padding is background
            assert_eq!([at(0, 0, 0), at(1, 0, 0), at(2, 0, 0)], bg);
            // the most inked and the first blank pixel of the digit
            let v: Vec<u8> = Vec::try_from(g.flatten(0, -1)).unwrap();
            let (most, &ink) = v.iter().enumerate().max_by_key(|p| *p.1).unwrap();
            let (r, col) = (most as i64 / 28 + PAD, most as i64 % 28 + PAD);
            let mix = |c: usize| {
                let (f, b) = (f32::from(fg[c]), f32::from(bg[c]));
                (b + (f - b) * (f32::from(ink) / 255.0)).round() as u8
            };
            assert_eq!(
                [at(0, r, col), at(1, r, col), at(2, r, col)],
                [0, 1, 2].map(mix)
            );
            let blank = v.iter().position(|&p| p == 0).unwrap() as i64;
            let (r, col) = (blank / 28 + PAD, blank % 28 + PAD);
            assert_eq!([at(0, r, col), at(1, r, col), at(2, r, col)], bg);
        }
        // the colours differ between examples and splits
        assert_ne!(colours(0, 0), colours(0, 1));
        assert_ne!(colours(0, 5), colours(1, 5));
        let e = colourize(&s.test, 0).unwrap_err().to_string();
        assert!(
            e.contains("one-channel") && e.contains("mnist10k-colour/test"),
            "{e}"
        );
    }
}
