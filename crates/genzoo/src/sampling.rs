//! Drawing from a trained model the way `cargo xtask sample` does (plain samples, one class, a
//! latent traversal, completions of test inputs) and writing what was drawn by data kind: PNG
//! grids or one PNG per image, one WAV per audio clip, JSON rows for vectors.
use std::path::{Path, PathBuf};

use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};
use tch::{Device, Kind, Tensor};

/// What to draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Draw {
    /// `n` samples of the model.
    Plain,
    /// `n` samples of class `K` (class-conditional models).
    Class(i64),
    /// A traversal grid of latent factor `factor` (InfoGAN's codes), `nrow` values per row.
    Traverse { factor: usize, nrow: i64 },
    /// The lower halves of the first `n` test images filled in from their upper halves (models
    /// with partial sampling); the result holds the half-known inputs, then the completions.
    Complete,
}

/// A request to sample: what, how many, and with which seed and temperature.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRequest {
    pub draw: Draw,
    /// Number of samples (completions: test images).
    pub n: i64,
    /// Seed of the noise the samples are drawn from.
    pub seed: u64,
    /// Sampling temperature (flows: the prior's standard deviation; autoregressive models:
    /// logits divided by T); `None`: the model's own.
    pub temperature: Option<f64>,
}

impl SampleRequest {
    /// `n` plain samples with `seed` at the model's own temperature.
    pub fn plain(n: i64, seed: u64) -> SampleRequest {
        SampleRequest {
            draw: Draw::Plain,
            n,
            seed,
            temperature: None,
        }
    }

    /// The file stem that says what was drawn, so that no two different requests share an
    /// output: `sample-s0`, `sample-s0-t0.7`, `class7-s0`, `traverse-c1-s0`, `complete-s0`.
    pub fn stem(&self) -> String {
        let what = match &self.draw {
            Draw::Plain => "sample".to_string(),
            Draw::Class(k) => format!("class{k}"),
            Draw::Traverse { factor, .. } => format!("traverse-c{factor}"),
            Draw::Complete => "complete".to_string(),
        };
        let t = self
            .temperature
            .map(|t| format!("-t{t}"))
            .unwrap_or_default();
        format!("{what}-s{}{t}", self.seed)
    }
}

/// Draws what `req` asks of `model` (its temperature set first). `test` is needed for
/// [`Draw::Complete`] only. Returns images `f32 [n, c, h, w]` in \[0, 1\], audio `f32 [n, 1, t]`
/// in \[-1, 1\] or vectors `f32 [n, d]`.
///
/// # Errors
/// [`CoreError::Invalid`] naming the option when the model lacks the capability asked for
/// (class-conditional sampling, latent factors, partial sampling) or `test` is missing or not
/// images; the model's own errors (a temperature it refuses, an unknown class).
pub fn draw(
    model: &mut dyn GenerativeModel,
    req: &SampleRequest,
    test: Option<&Dataset>,
) -> Result<Tensor> {
    if let Some(t) = req.temperature {
        model.set_temperature(t)?;
    }
    let refuse = |what: &str| CoreError::Invalid(format!("`{}` {what}", model.name()));
    match &req.draw {
        Draw::Plain => model.sample(req.n, req.seed),
        Draw::Class(k) => {
            let cs = model
                .class_sampler()
                .ok_or_else(|| refuse("is not class-conditional: drop --class"))?;
            let dev = model.var_store().device();
            let labels = Tensor::f_full([req.n], *k, (Kind::Int64, dev))?;
            cs.sample_classes(&labels, req.seed)
        }
        Draw::Traverse { factor, nrow } => model
            .traverser()
            .ok_or_else(|| refuse("has no latent factors to traverse: drop --traverse"))?
            .traverse(*factor, *nrow, req.seed),
        Draw::Complete => {
            let p = model
                .partial_sampler()
                .ok_or_else(|| refuse("cannot complete partial inputs: drop --complete"))?;
            let test = test
                .ok_or_else(|| CoreError::Invalid("completion needs the run's test data".into()))?;
            complete_lower_halves(p, test, req.n, req.seed, model.var_store().device())
        }
    }
}

/// The first `n` images of `test` with their lower halves hidden, above their completions.
fn complete_lower_halves(
    p: &dyn genzoo_core::model::PartialSample,
    test: &Dataset,
    n: i64,
    seed: u64,
    device: Device,
) -> Result<Tensor> {
    if !test.kind.is_image() {
        return Err(CoreError::Invalid(format!(
            "completion needs image data; `{}` holds {:?}",
            test.name, test.kind
        )));
    }
    let part = test.take(n.min(test.len()));
    let x = part.x.to_device(device);
    let known = x.ones_like().to_kind(Kind::Bool);
    let h = x.size()[2];
    let _ = known.narrow(2, h / 2, h - h / 2).fill_(0);
    let done = p.complete(&x, &known, seed)?;
    let shown = part.x_unit_f32().to_device(device) * known.to_kind(Kind::Float);
    Ok(Tensor::f_cat(&[shown, done], 0)?)
}

/// How images are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One PNG grid, `nrow` images per row.
    Grid { nrow: i64 },
    /// One PNG per image in a folder (what clean-fid, torch-fidelity and `eval --samples` read).
    Files,
}

/// Writes `x` as drawn for data of `kind` under the name `out` and returns the files written:
/// images as the PNG grid `out` (or, with [`Layout::Files`], the folder `out` without its
/// extension holding `00000.png`, ...); audio as `OUT-0.wav`, `OUT-1.wav`, ... at 16 kHz beside
/// `out`; vectors as the JSON rows `out` with extension `json`. Every file is written atomically.
///
/// # Errors
/// [`CoreError::Shape`] (`images`) for images that are not `[n, 1|3, h, w]`; [`CoreError::Io`]
/// naming the folder or file that cannot be written.
pub fn write_samples(
    x: &Tensor,
    kind: &DataKind,
    out: &Path,
    layout: Layout,
) -> Result<Vec<PathBuf>> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    }
    match (kind, layout) {
        (DataKind::Image { .. }, Layout::Grid { nrow }) => {
            genzoo_train::image::save_grid(out, x, nrow)?;
            Ok(vec![out.to_path_buf()])
        }
        (DataKind::Image { .. }, Layout::Files) => {
            genzoo_train::image::save_images(&out.with_extension(""), x)
        }
        (DataKind::Sequence { .. }, _) => write_clips(x, out),
        _ => {
            let file = out.with_extension("json");
            let rows = Vec::<Vec<f32>>::try_from(cpu_rows(x)?)?;
            genzoo_core::io::write_atomic(&file, &serde_json::to_vec(&rows)?)?;
            Ok(vec![file])
        }
    }
}

/// `x` on the CPU as `f32 [n, rest]`.
fn cpu_rows(x: &Tensor) -> Result<Tensor> {
    Ok(x.f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_flatten(1, -1)?)
}

/// One 16 kHz WAV file per clip, named after `out`'s stem.
#[cfg(feature = "audio")]
fn write_clips(x: &Tensor, out: &Path) -> Result<Vec<PathBuf>> {
    let rate = genzoo_data::audio::DEFAULT_RATE;
    let stem = out
        .file_stem()
        .map_or_else(|| "sample".into(), |s| s.to_string_lossy().into_owned());
    let waves = Vec::<Vec<f32>>::try_from(cpu_rows(x)?)?;
    let mut paths = Vec::with_capacity(waves.len());
    for (i, w) in waves.iter().enumerate() {
        let path = out.with_file_name(format!("{stem}-{i}.wav"));
        genzoo_data::audio::write_wav(&path, w, rate)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Without the `audio` feature there is no WAV writer.
#[cfg(not(feature = "audio"))]
fn write_clips(_x: &Tensor, out: &Path) -> Result<Vec<PathBuf>> {
    Err(CoreError::format(
        out,
        "writing audio needs genzoo's `audio` feature (on with the autoregressive family)",
    ))
}
