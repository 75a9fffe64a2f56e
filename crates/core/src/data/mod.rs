//! Data types every model sees: [`DataKind`], [`Dataset`], [`Split`], [`Batch`], the transforms
//! from stored pixels to what models consume, and the seeded batch iterator. Readers, shipped data
//! and downloads live in the `genzoo-data` crate.
//!
//! A [`Dataset`] holds all of its examples in one tensor: 8-bit images as `u8 [n, c, h, w]`, or
//! continuous vectors as `f32 [n, d]`. Models turn raw pixels into what they consume (binarized,
//! dequantized, scaled) with [`transforms`].
use tch::{Device, Kind, Tensor};

pub mod batches;
pub mod grid;
pub mod mulaw;
pub mod transforms;

pub use batches::BatchIter;

/// What the examples of a dataset are. New kinds may be added: match with a wildcard arm.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DataKind {
    /// 8-bit images, `u8 [n, channels, height, width]`, values 0..=255.
    Image {
        channels: i64,
        height: i64,
        width: i64,
    },
    /// Continuous vectors, `f32 [n, dim]`.
    Vector { dim: i64 },
    /// 1-D sequences such as audio, `[n, channels, length]`: `u8` codes 0..=255 for
    /// [`SequenceEncoding::MuLaw8`] (mu-law companded, as WaveNet models them), `f32` in \[-1, 1\]
    /// for [`SequenceEncoding::Float`].
    Sequence {
        channels: i64,
        length: i64,
        encoding: SequenceEncoding,
    },
    /// Grids of categorical codes with `levels` values each, `i64 [n, height, width]` in
    /// `0..levels` (K may exceed 256: the code maps of VQ models).
    Categorical {
        levels: i64,
        height: i64,
        width: i64,
    },
}

/// How the samples of a [`DataKind::Sequence`] are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SequenceEncoding {
    /// 8-bit mu-law codes (mu = 255), `u8`.
    MuLaw8,
    /// Raw amplitudes in \[-1, 1\], `f32`.
    Float,
}

impl DataKind {
    /// Dimensions per example (c*h*w, dim, channels*length or h*w): the D of bits/dim.
    pub fn dims(&self) -> i64 {
        self.example_shape().iter().product()
    }
    /// The shape of one example.
    pub fn example_shape(&self) -> Vec<i64> {
        match *self {
            DataKind::Image {
                channels,
                height,
                width,
            } => vec![channels, height, width],
            DataKind::Vector { dim } => vec![dim],
            DataKind::Sequence {
                channels, length, ..
            } => vec![channels, length],
            DataKind::Categorical { height, width, .. } => vec![height, width],
        }
    }
    /// True for 8-bit images.
    pub fn is_image(&self) -> bool {
        matches!(self, DataKind::Image { .. })
    }
    /// True for continuous vectors.
    pub fn is_vector(&self) -> bool {
        matches!(self, DataKind::Vector { .. })
    }
}

/// A set of examples with optional integer labels.
#[derive(Debug)]
pub struct Dataset {
    /// Name used in reports (`mnist10k/train`).
    pub name: String,
    /// What the examples are.
    pub kind: DataKind,
    /// `u8 [n, c, h, w]` for images, `f32 [n, d]` for vectors.
    pub x: Tensor,
    /// `i64 [n]` labels, if any.
    pub y: Option<Tensor>,
    /// Number of classes when labelled.
    pub num_classes: Option<i64>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> i64 {
        self.x.size()[0]
    }
    /// True when the dataset holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The same data on `device`.
    pub fn to_device(&self, device: Device) -> Dataset {
        Dataset {
            name: self.name.clone(),
            kind: self.kind,
            x: self.x.to_device(device),
            y: self.y.as_ref().map(|y| y.to_device(device)),
            num_classes: self.num_classes,
        }
    }
    /// The first `n` examples (all of them when `n >= len`, none when `n <= 0`).
    pub fn take(&self, n: i64) -> Dataset {
        let n = n.clamp(0, self.len());
        Dataset {
            name: self.name.clone(),
            kind: self.kind,
            x: self.x.narrow(0, 0, n),
            y: self.y.as_ref().map(|y| y.narrow(0, 0, n)),
            num_classes: self.num_classes,
        }
    }
    /// The examples as `f32`: images scaled to \[0,1\], everything else as stored.
    pub fn x_unit_f32(&self) -> Tensor {
        match self.kind {
            DataKind::Image { .. } => self.x.to_kind(Kind::Float) / 255.0,
            _ => self.x.to_kind(Kind::Float),
        }
    }
}

/// A train/test pair.
#[derive(Debug)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
}

/// One mini-batch, on the model's device.
#[derive(Debug)]
pub struct Batch {
    /// Examples as stored in the dataset (`u8 [b, c, h, w]` or `f32 [b, d]`).
    pub x: Tensor,
    /// `i64 [b]` labels, if the dataset has them.
    pub y: Option<Tensor>,
    /// What the examples are.
    pub kind: DataKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_shape_dims_and_json_tag() {
        let seq = DataKind::Sequence {
            channels: 1,
            length: 16000,
            encoding: SequenceEncoding::MuLaw8,
        };
        assert_eq!(seq.example_shape(), vec![1, 16000]);
        assert_eq!(seq.dims(), 16000);
        let codes = DataKind::Categorical {
            levels: 512,
            height: 7,
            width: 7,
        };
        assert_eq!((codes.example_shape(), codes.dims()), (vec![7, 7], 49));
        let img = DataKind::Image {
            channels: 3,
            height: 32,
            width: 32,
        };
        assert_eq!(img.dims(), 3072);
        assert!(img.is_image() && !img.is_vector() && DataKind::Vector { dim: 2 }.is_vector());
        let j = serde_json::to_value(seq).unwrap();
        assert_eq!(j["kind"], "sequence");
        assert_eq!(j["encoding"], "mu-law8");
        for k in [seq, codes, img, DataKind::Vector { dim: 2 }] {
            let back: DataKind = serde_json::from_value(serde_json::to_value(k).unwrap()).unwrap();
            assert_eq!(back, k);
        }
    }
}

/// Above this many classes a label set must use at least half of `0..K` to be believed.
pub const PLAUSIBLE_CLASSES: i64 = 1024;

/// The class count `K = max + 1` of integer labels (`i64 [n]` each; empty ones ignored), checked:
/// labels are non-negative, and a count above [`PLAUSIBLE_CLASSES`] must be backed by at least
/// `K / 2` distinct labels (one stray label of 2,000,000 does not make a 2,000,001-class problem
/// whose conditional models would exhaust memory). `None` when there is no label.
///
/// # Errors
/// [`crate::CoreError::Shape`] naming `name` for a negative label or an implausible count, with
/// the number of distinct labels and the largest one.
pub fn class_count(name: &str, labels: &[&Tensor]) -> crate::Result<Option<i64>> {
    let parts: Vec<Tensor> = labels
        .iter()
        .filter(|y| y.numel() > 0)
        .map(|y| y.f_to_kind(Kind::Int64).and_then(|t| t.f_reshape([-1])))
        .collect::<Result<_, _>>()?;
    if parts.is_empty() {
        return Ok(None);
    }
    let all = Tensor::f_cat(&parts, 0)?;
    let (lo, hi) = (
        all.f_min()?.f_int64_value(&[])?,
        all.f_max()?.f_int64_value(&[])?,
    );
    if lo < 0 {
        return Err(crate::CoreError::shape(
            name,
            format!("negative label {lo}: labels must be 0..K-1"),
        ));
    }
    let k = hi + 1;
    if k > PLAUSIBLE_CLASSES {
        let (sorted, _) = all.f_sort(0, false)?;
        let (distinct, _, _) = sorted.f_unique_consecutive(false, false, None)?;
        let d = distinct.size()[0];
        if 2 * d < k {
            return Err(crate::CoreError::shape(
                name,
                format!(
                    "labels span 0..={hi} ({k} classes) but only {d} distinct values occur: \
                     relabel them 0..{d}-1 (a conditional model would allocate all {k} classes)"
                ),
            ));
        }
    }
    Ok(Some(k))
}

#[cfg(test)]
mod class_tests {
    use super::*;

    #[test]
    fn class_counts_are_checked() {
        let y = |v: &[i64]| Tensor::from_slice(v);
        assert_eq!(
            class_count("y", &[&y(&[0, 3, 1]), &y(&[2])]).unwrap(),
            Some(4)
        );
        assert_eq!(class_count("y", &[&y(&[])]).unwrap(), None);
        let e = class_count("train.y", &[&y(&[0, 0, 2_000_000])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.y") && e.contains("2000001 classes") && e.contains("only 2"),
            "{e}"
        );
        assert!(class_count("y", &[&y(&[0, -1])]).is_err());
        // Many classes, densely used: fine.
        let dense: Vec<i64> = (0..3000).collect();
        assert_eq!(class_count("y", &[&y(&dense)]).unwrap(), Some(3000));
    }
}
