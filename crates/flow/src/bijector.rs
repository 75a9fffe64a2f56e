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
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)>;
    /// `z -> (x, log|det dx/dz|)`, the log-det as `[b]`.
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
#[allow(clippy::assign_op_pattern)]
impl Bijector for Sequential {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut h = x.shallow_clone();
        let mut ld: Option<Tensor> = None;
        for l in &self.layers {
            let (y, d) = l.forward(&h, ctx)?;
            h = y;
            ld = Some(match ld {
                None => d,
                Some(acc) => acc + d,
            });
        }
        Ok((h, ld.unwrap_or_else(|| zeros_b(x))))
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let mut h = z.shallow_clone();
        let mut ld: Option<Tensor> = None;
        for l in self.layers.iter().rev() {
            let (y, d) = l.inverse(&h, ctx)?;
            h = y;
            ld = Some(match ld {
                None => d,
                Some(acc) => acc + d,
            });
        }
        Ok((h, ld.unwrap_or_else(|| zeros_b(z))))
    }
    fn name(&self) -> &str {
        "sequential"
    }
}

/// A zero log-det `[b]` of the input's kind and device.
pub fn zeros_b(x: &Tensor) -> Tensor {
    Tensor::zeros([x.size()[0]], (x.kind(), x.device()))
}

/// Sum over every dimension but the first: `[b, ...] -> [b]`.
pub fn sum_per_example(t: &Tensor) -> Tensor {
    if t.dim() < 2 {
        return t.shallow_clone();
    }
    let dims: Vec<i64> = (1..t.dim() as i64).collect();
    t.sum_dim_intlist(dims.as_slice(), false, t.kind())
}

/// Checks that `x` has `dims` dimensions and, where `shape[i] > 0`, that size; names the tensor.
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
