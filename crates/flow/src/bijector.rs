//! The bijector interface of every flow layer and model, and the sequential composition.
//!
//! A bijector maps data-side `x` to latent-side `z = f(x)` ("forward", the density direction) and
//! back ("inverse", the sampling direction). Both return the log-determinant of their own Jacobian
//! per example, `[b]`: forward gives `log|det df/dx|`, inverse gives `log|det df^{-1}/dz|`, so for a
//! round trip they cancel. The change of variables (Dinh et al. 2015, eq. 1):
//! `log p_x(x) = log p_z(f(x)) + log|det df/dx|`.
use tch::{Kind, Tensor};

use genzoo_core::{CoreError, Result};

/// What a layer needs besides its input.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx<'a> {
    /// A conditioning tensor (class one-hot `[b, k]`) for conditional layers.
    pub cond: Option<&'a Tensor>,
    /// Training mode: batch norm uses batch statistics and updates its running averages.
    pub train: bool,
    /// Data-dependent initialization pass (ActNorm sets its parameters from its input).
    pub init: bool,
}

impl<'a> Ctx<'a> {
    /// Evaluation mode, no condition.
    pub fn eval() -> Self {
        Ctx::default()
    }
    /// Training mode, no condition.
    pub fn train() -> Self {
        Ctx {
            train: true,
            ..Ctx::default()
        }
    }
    /// The same context with a condition.
    pub fn with_cond(self, cond: Option<&'a Tensor>) -> Self {
        Ctx { cond, ..self }
    }
}

/// An invertible map with tractable Jacobian determinant.
pub trait Bijector: Send {
    /// `x -> (z, log|det dz/dx|)`, the log-det as `[b]`.
    ///
    /// # Errors
    /// An input whose shape the layer does not take (a [`CoreError::Shape`] naming the layer's
    /// input), a missing or mis-shaped condition for conditional layers, or a libtorch error.
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)>;
    /// `z -> (x, log|det dx/dz|)`, the log-det as `[b]`.
    ///
    /// # Errors
    /// As [`Bijector::forward`], for the latent-side input (also a singular weight for layers
    /// whose inverse takes a matrix inverse).
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)>;
    /// A short name for errors and summaries.
    fn name(&self) -> &str;
}

/// Layers applied one after another (forward in order, inverse in reverse order).
#[derive(Default)]
pub struct Sequential {
    pub layers: Vec<Box<dyn Bijector>>,
}

impl Sequential {
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }
    /// Appends a layer.
    pub fn push(&mut self, layer: impl Bijector + 'static) {
        self.layers.push(Box::new(layer));
    }
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

// `ld = ld + d` (not `+=`): layers may return expanded (stride-0) log-dets; no in-place ops.
impl Bijector for Sequential {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut h = x.shallow_clone();
        let mut ld: Option<Tensor> = None;
        for l in &self.layers {
            let (y, d) = l.forward(&h, ctx)?;
            h = y;
            ld = Some(match ld {
                None => d,
                Some(acc) => acc.f_add(&d)?,
            });
        }
        let ld = match ld {
            Some(ld) => ld,
            None => zeros_b(x)?,
        };
        Ok((h, ld))
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut h = z.shallow_clone();
        let mut ld: Option<Tensor> = None;
        for l in self.layers.iter().rev() {
            let (y, d) = l.inverse(&h, ctx)?;
            h = y;
            ld = Some(match ld {
                None => d,
                Some(acc) => acc.f_add(&d)?,
            });
        }
        let ld = match ld {
            Some(ld) => ld,
            None => zeros_b(z)?,
        };
        Ok((h, ld))
    }
    fn name(&self) -> &str {
        "sequential"
    }
}

/// The batch size `b` of `x [b, ...]`, naming the tensor.
///
/// # Errors
/// `x` is a scalar (0-dim): it has no batch dimension.
pub fn batch_size(name: &str, x: &Tensor) -> Result<i64> {
    x.size()
        .first()
        .copied()
        .ok_or_else(|| CoreError::shape(name, "needs a batch dimension, got a scalar"))
}

/// A zero log-det `[b]` of the input's kind and device.
///
/// # Errors
/// `x` is a scalar (no batch dimension), or a libtorch error.
pub fn zeros_b(x: &Tensor) -> Result<Tensor> {
    let b = batch_size("log-det input", x)?;
    Ok(Tensor::f_zeros([b], (x.kind(), x.device()))?)
}

/// Sum over every dimension but the first: `[b, ...] -> [b]`.
///
/// # Errors
/// A libtorch error (not expected for a tensor of a real kind).
pub fn sum_per_example(t: &Tensor) -> Result<Tensor> {
    if t.dim() < 2 {
        return Ok(t.shallow_clone());
    }
    let dims: Vec<i64> = (1..t.dim() as i64).collect();
    Ok(t.f_sum_dim_intlist(dims.as_slice(), false, t.kind())?)
}

/// Checks that `x` has `dims` dimensions and, where `shape[i] > 0`, that size; names the tensor.
///
/// # Errors
/// [`CoreError::Shape`] naming `name` when the rank or a fixed size differs.
pub fn check_shape(name: &str, x: &Tensor, shape: &[i64]) -> Result<()> {
    let s = x.size();
    let ok = s.len() == shape.len() && s.iter().zip(shape).all(|(&a, &e)| e <= 0 || a == e);
    if ok {
        Ok(())
    } else {
        Err(CoreError::shape(
            name,
            format!("expected {shape:?} (0 = any), got {s:?}"),
        ))
    }
}

/// Float kind of a tensor for reductions (keeps f64 in f64 tests).
pub fn float_kind(x: &Tensor) -> Kind {
    match x.kind() {
        Kind::Double => Kind::Double,
        _ => Kind::Float,
    }
}
