//! The flow models, one per file, each with a serde `Config`, named presets and a
//! `GenerativeModel` implementation.
pub mod glow;
pub mod iaf;
pub mod maf;
pub mod nice;
pub mod real_nvp;
pub mod toy_flow;

use genzoo_core::data::DataKind;
use genzoo_core::{CoreError, Result};

/// The class count a conditional model needs, or `None` for an unconditional one.
///
/// # Errors
/// [`CoreError::Config`] for a conditional model without `num_classes >= 2`.
pub fn classes(model: &str, conditional: bool, num_classes: Option<i64>) -> Result<Option<i64>> {
    if !conditional {
        return Ok(None);
    }
    match num_classes {
        Some(k) if k >= 2 => Ok(Some(k)),
        other => Err(CoreError::config(
            format!("{model}.conditional"),
            format!(
                "a class-conditional flow needs labelled data with >= 2 classes, got {other:?}"
            ),
        )),
    }
}

/// `[c, h, w]` of image data, or an error naming the model.
///
/// # Errors
/// [`CoreError::Config`] when `data` is not image data.
pub fn image_shape(model: &str, data: &DataKind) -> Result<[i64; 3]> {
    match *data {
        DataKind::Image {
            channels,
            height,
            width,
        } => Ok([channels, height, width]),
        other => Err(CoreError::config(
            format!("{model}.data"),
            format!("{model} models 8-bit images; got {other:?}"),
        )),
    }
}
