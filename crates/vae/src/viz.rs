//! PNG grids of the autoencoder family through `genzoo_train::image::save_grid`: samples,
//! reconstructions (originals above their reconstructions), latent interpolations between pairs
//! of test images (Kingma & Welling 2014, Fig. 4 style; one row per pair) and latent traversals
//! (Higgins et al. 2017, Fig. 1-2: one row per latent dimension, the others held at the posterior
//! mean of a seed image). All batched: one decoder call per grid.
use std::path::Path;

use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};
use genzoo_train::image::save_grid;
use tch::{Kind, Tensor};

use crate::latent::GaussianLatent;
use crate::obs::Mode;

fn check_images(lat: &GaussianLatent) -> Result<()> {
    if lat.data.is_image() {
        Ok(())
    } else {
        Err(CoreError::Invalid(
            "latent grids need an image model".into(),
        ))
    }
}

/// `n` samples of any model as a grid of `nrow` per row.
///
/// # Errors
/// The error of `model.sample`; [`CoreError::Shape`] (`images`) when the samples are not
/// `[n, 1|3, h, w]` images; [`CoreError::Io`] or [`CoreError::Format`] naming `path` when the
/// PNG cannot be written.
pub fn save_samples(
    path: impl AsRef<Path>,
    model: &dyn GenerativeModel,
    n: i64,
    seed: u64,
    nrow: i64,
) -> Result<()> {
    save_grid(path, &model.sample(n, seed)?, nrow)
}

/// The first `n` images of `x` (stored `u8 [b, c, h, w]`) in the first row(s) and their
/// reconstructions below, `nrow` per row (`n` a multiple of `nrow` keeps pairs aligned).
///
/// # Errors
/// [`CoreError::Model`] when `model` has no reconstructions; the error of its `reconstruct`;
/// [`CoreError::Shape`] (`images`) when they are not images (or `n` is 0); [`CoreError::Io`] or
/// [`CoreError::Format`] naming `path` when the PNG cannot be written; a libtorch error.
pub fn save_reconstructions(
    path: impl AsRef<Path>,
    model: &dyn GenerativeModel,
    x: &Tensor,
    n: i64,
    nrow: i64,
) -> Result<()> {
    let x = x.narrow(0, 0, n.min(x.size()[0]));
    let rec = model
        .reconstructor()
        .ok_or_else(|| CoreError::model(model.name(), "this model has no reconstructions"))?
        .reconstruct(&x)?;
    let orig = x
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?
        .f_to_device(rec.device())?;
    save_grid(path, &Tensor::f_cat(&[orig, rec], 0)?, nrow)
}

/// Decoded latent codes `z [n, d]` as images `[n, c, h, w]` in \[0,1\].
///
/// # Errors
/// [`CoreError::Invalid`] when `lat` is not an image model; a libtorch error.
pub fn decode_images(lat: &GaussianLatent, z: &Tensor) -> Result<Tensor> {
    check_images(lat)?;
    tch::no_grad(|| lat.lik.mean(&lat.decode(z, None)))
}

/// Linear interpolations in latent space between the posterior means of `a[i]` and `b[i]`
/// (stored batches of equal size): `[pairs * steps, c, h, w]`, one pair per `steps` images.
///
/// # Errors
/// [`CoreError::Invalid`] when `lat` is not an image model, `steps < 2` or `a` and `b` differ in
/// shape; [`CoreError::Shape`] when they are data the likelihood cannot model (e.g. not `u8`
/// pixels); a libtorch error.
pub fn interpolations(lat: &GaussianLatent, a: &Tensor, b: &Tensor, steps: i64) -> Result<Tensor> {
    check_images(lat)?;
    if steps < 2 || a.size() != b.size() {
        return Err(CoreError::Invalid(format!(
            "interpolations: need steps >= 2 and equal batches, got {steps}, {:?} vs {:?}",
            a.size(),
            b.size()
        )));
    }
    tch::no_grad(|| {
        let pa = lat.lik.prepare(a, Mode::Eval { seed: 0 })?;
        let pb = lat.lik.prepare(b, Mode::Eval { seed: 1 })?;
        let za = lat.encode(&pa.input, None)?.loc; // [p, d]
        let zb = lat.encode(&pb.input, None)?.loc;
        let t = Tensor::f_linspace(0.0, 1.0, steps, (Kind::Float, za.device()))?
            .f_reshape([1, steps, 1])?;
        let z = za
            .f_unsqueeze(1)?
            .f_add(&zb.f_sub(&za)?.f_unsqueeze(1)?.f_mul(&t)?)?; // [p, steps, d]
        decode_images(lat, &z.f_reshape([-1, lat.latent])?)
    })
}

/// Traversals of every latent dimension from `-range` to `range` in `steps` values around the
/// posterior mean of `x` (one stored image `[1, c, h, w]`): `[d * steps, c, h, w]`.
///
/// # Errors
/// [`CoreError::Invalid`] when `lat` is not an image model or `steps < 2`; [`CoreError::Shape`]
/// when `x` is data the likelihood cannot model (e.g. not `u8` pixels); a libtorch error.
pub fn traversals(lat: &GaussianLatent, x: &Tensor, range: f64, steps: i64) -> Result<Tensor> {
    check_images(lat)?;
    if steps < 2 {
        return Err(CoreError::Invalid(format!(
            "traversals: need steps >= 2, got {steps}"
        )));
    }
    tch::no_grad(|| {
        let p = lat
            .lik
            .prepare(&x.narrow(0, 0, 1), Mode::Eval { seed: 0 })?;
        let mu = lat.encode(&p.input, None)?.loc; // [1, d]
        let d = lat.latent;
        let vals = Tensor::f_linspace(-range, range, steps, (Kind::Float, mu.device()))?;
        let z = mu.f_repeat([d * steps, 1])?; // [d*steps, d]
        let rows = Tensor::f_arange(d, (Kind::Int64, mu.device()))?
            .f_repeat_interleave_self_int(steps, None, None)?;
        let v = vals.f_repeat([d])?.f_unsqueeze(1)?; // [d*steps, 1]
        let z = z.f_scatter(1, &rows.f_unsqueeze(1)?, &v)?; // row r varies dimension r / steps
        decode_images(lat, &z)
    })
}

/// Saves [`interpolations`] with one pair per row.
///
/// # Errors
/// The errors of [`interpolations`]; [`CoreError::Io`] or [`CoreError::Format`] naming `path` when
/// the PNG cannot be written.
pub fn save_interpolations(
    path: impl AsRef<Path>,
    lat: &GaussianLatent,
    a: &Tensor,
    b: &Tensor,
    steps: i64,
) -> Result<()> {
    save_grid(path, &interpolations(lat, a, b, steps)?, steps)
}

/// Saves [`traversals`] with one latent dimension per row.
///
/// # Errors
/// The errors of [`traversals`]; [`CoreError::Io`] or [`CoreError::Format`] naming `path` when the
/// PNG cannot be written.
pub fn save_traversals(
    path: impl AsRef<Path>,
    lat: &GaussianLatent,
    x: &Tensor,
    range: f64,
    steps: i64,
) -> Result<()> {
    save_grid(path, &traversals(lat, x, range, steps)?, steps)
}
