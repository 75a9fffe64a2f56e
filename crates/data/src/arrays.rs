//! Datasets from `ndarray` arrays, for users who hold their data as arrays (from NumPy files,
//! Polars, their own decoders), and model samples back as arrays. `ndarray` is the version tch
//! itself depends on, so this costs no extra crate.
//!
//! * [`images_from_array`]: 8-bit images `u8 [n, c, h, w]` (+ labels) -> a [`Dataset`] of kind
//!   `Image`.
//! * [`vectors_from_array`]: continuous vectors `f32 [n, d]` (+ labels) -> kind `Vector`.
//! * [`tensor_to_array`]: any `f32` tensor (samples, per-example NLLs) -> `ArrayD<f32>` on the CPU.
use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::{CoreError, Result};
use ndarray::{ArrayD, ArrayView1, ArrayView2, ArrayView4};
use tch::{Kind, Tensor};

/// An image dataset named `name` from `x` (`u8 [n, c, h, w]`, any memory layout) and optional
/// labels (`i64 [n]`, classes `0..K` with `K = max + 1`).
///
/// # Errors
/// No examples, a zero-sized image dimension, labels of another length than `x`, or a negative
/// label (naming the array and what is wrong).
pub fn images_from_array(
    name: &str,
    x: ArrayView4<u8>,
    labels: Option<ArrayView1<i64>>,
) -> Result<Dataset> {
    let [n, c, h, w] = x.shape() else {
        return Err(CoreError::shape(
            format!("{name}.x"),
            "expected [n, c, h, w]",
        ));
    };
    let (n, c, h, w) = (*n as i64, *c as i64, *h as i64, *w as i64);
    if n == 0 || c == 0 || h == 0 || w == 0 {
        return Err(CoreError::shape(
            format!("{name}.x"),
            format!("empty array of shape {:?}", x.shape()),
        ));
    }
    let flat: Vec<u8> = x.iter().copied().collect();
    let x = Tensor::from_slice(&flat).f_reshape([n, c, h, w])?;
    let kind = DataKind::Image {
        channels: c,
        height: h,
        width: w,
    };
    with_labels(name, kind, x, labels)
}

/// A vector dataset named `name` from `x` (`f32 [n, d]`, finite) and optional labels (as for
/// [`images_from_array`]).
///
/// # Errors
/// No examples or dimensions, non-finite values, labels of another length than `x`, or a
/// negative label.
pub fn vectors_from_array(
    name: &str,
    x: ArrayView2<f32>,
    labels: Option<ArrayView1<i64>>,
) -> Result<Dataset> {
    let (n, d) = (x.nrows() as i64, x.ncols() as i64);
    if n == 0 || d == 0 {
        return Err(CoreError::shape(
            format!("{name}.x"),
            format!("empty array of shape [{n}, {d}]"),
        ));
    }
    if let Some(bad) = x.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::shape(
            format!("{name}.x"),
            format!("non-finite value at flat index {bad}"),
        ));
    }
    let flat: Vec<f32> = x.iter().copied().collect();
    let x = Tensor::from_slice(&flat).f_reshape([n, d])?;
    with_labels(name, DataKind::Vector { dim: d }, x, labels)
}

fn with_labels(
    name: &str,
    kind: DataKind,
    x: Tensor,
    labels: Option<ArrayView1<i64>>,
) -> Result<Dataset> {
    let n = x.size()[0];
    let (y, num_classes) = match labels {
        None => (None, None),
        Some(l) => {
            if l.len() as i64 != n {
                return Err(CoreError::shape(
                    format!("{name}.y"),
                    format!("{} labels for {n} examples", l.len()),
                ));
            }
            let v: Vec<i64> = l.iter().copied().collect();
            let y = Tensor::from_slice(&v);
            let k = genzoo_core::data::class_count(&format!("{name}.y"), &[&y])?;
            (Some(y), k)
        }
    };
    Ok(Dataset {
        name: name.to_string(),
        kind,
        x,
        y,
        num_classes,
    })
}

/// `t` as an `f32` array of the same shape, copied to the CPU (samples, reconstructions,
/// per-example NLLs).
///
/// # Errors
/// A libtorch error converting the tensor.
pub fn tensor_to_array(t: &Tensor) -> Result<ArrayD<f32>> {
    let t = t
        .f_detach()?
        .f_to_device(tch::Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?;
    let a: ArrayD<f32> = (&t).try_into()?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, Array4, ShapeBuilder};

    #[test]
    fn arrays_round_trip_into_datasets_in_any_layout() {
        // A Fortran-order (column-major) array must keep its logical order.
        let x = Array4::from_shape_fn((3, 1, 2, 2).f(), |(i, _, r, c)| (i * 4 + r * 2 + c) as u8);
        let y = Array1::from(vec![0i64, 2, 1]);
        let d = images_from_array("arr", x.view(), Some(y.view())).unwrap();
        assert_eq!(
            d.kind,
            DataKind::Image {
                channels: 1,
                height: 2,
                width: 2
            }
        );
        assert_eq!(d.num_classes, Some(3));
        assert_eq!(d.x.int64_value(&[1, 0, 1, 0]), 6);
        assert_eq!(d.y.as_ref().unwrap().int64_value(&[1]), 2);
        let back = tensor_to_array(&d.x).unwrap();
        assert_eq!(back.shape(), &[3, 1, 2, 2]);
        assert_eq!(back[[2, 0, 1, 1]], 11.0);

        let v = Array2::from_shape_vec((2, 3), vec![0.5f32, 1.0, 1.5, 2.0, 2.5, 3.0]).unwrap();
        let d = vectors_from_array("vec", v.view(), None).unwrap();
        assert_eq!(d.kind, DataKind::Vector { dim: 3 });
        assert!(d.y.is_none());
        assert_eq!(d.x.double_value(&[1, 2]), 3.0);
    }

    #[test]
    fn bad_arrays_are_named_errors() {
        let empty = Array4::<u8>::zeros((0, 1, 2, 2));
        let e = images_from_array("arr", empty.view(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("arr.x"), "{e}");
        let x = Array4::<u8>::zeros((2, 1, 2, 2));
        let y = Array1::from(vec![0i64]);
        let e = images_from_array("arr", x.view(), Some(y.view()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("arr.y") && e.contains("1 labels for 2"), "{e}");
        let y = Array1::from(vec![0i64, -1]);
        assert!(images_from_array("arr", x.view(), Some(y.view())).is_err());
        let v = Array2::from_shape_vec((1, 2), vec![0.0f32, f32::NAN]).unwrap();
        let e = vectors_from_array("vec", v.view(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite"), "{e}");
    }
}
