//! What every flow model shares: dequantization, pre-processing, body, prior, class condition,
//! and from them the likelihood (exact for uniform dequantization, a bound for variational),
//! training losses, evaluation, sampling with a temperature and round-trip reconstruction.
//!
//! Likelihood of a batch (change of variables, Dinh et al. 2017 eq. 3):
//! * 8-bit images: `y = (x + u)/256`, `-log P(x) <= -log p(y) + log q(u|x) + D log 256` in nats
//!   (the D log 256 from `genzoo_core::units`), reported in bits/dim;
//! * vectors (2-D toys): `-log p(x)` in nats.
use std::collections::BTreeMap;

use tch::{Device, Kind, Tensor};

use crate::bijector::{batch_size, Bijector, Ctx};
use crate::dequant::{self, VariationalDequantizer};
use crate::prior::Prior;
use genzoo_core::data::{transforms, Batch, DataKind, Dataset};
use genzoo_core::model::{EvalOptions, EvalReport, LikelihoodKind, Losses, Nll};
use genzoo_core::units::{self, NllUnit};
use genzoo_core::{CoreError, Result};
use genzoo_data::toy::{self, Toy};

/// Whether the body takes images as they are or flattened to `[b, D]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyInput {
    Image,
    Flat,
}

/// The per-example parts of the NLL, `[b]` each, in nats.
pub struct NllParts {
    /// NLL of the data as stored (discrete for images): the optimized and reported quantity.
    pub nll: Tensor,
    pub log_pz: Tensor,
    pub logdet: Tensor,
    /// `log q(u|x)` (zero for uniform dequantization).
    pub log_q: Tensor,
}

/// The shared core of a flow model.
pub struct FlowCore {
    pub model: String,
    pub data: DataKind,
    /// Pre-processing (`None`: identity).
    pub pre: Option<Box<dyn Bijector>>,
    pub body: Box<dyn Bijector>,
    pub body_input: BodyInput,
    pub prior: Prior,
    pub vdq: Option<VariationalDequantizer>,
    /// Classes of a class-conditional model.
    pub num_classes: Option<i64>,
    pub temperature: f64,
    pub device: Device,
    /// For models with data-dependent layers (ActNorm): a non-trainable `[1]` variable, 1 once
    /// initialized (checkpointed, so a resumed or re-fitted model is not re-initialized); `None`
    /// for models without such layers.
    pub init_flag: Option<Tensor>,
}

impl FlowCore {
    /// Data dims D.
    pub fn dims(&self) -> i64 {
        self.data.dims()
    }

    /// The class one-hot `[b, k]` of a conditional model (`None` for an unconditional one).
    ///
    /// # Errors
    /// A conditional model without labels, labels not of shape `[b]`, labels outside
    /// `0..num_classes`, or a libtorch error.
    pub fn cond(&self, y: Option<&Tensor>, b: i64) -> Result<Option<Tensor>> {
        let Some(k) = self.num_classes else {
            return Ok(None);
        };
        let y = y.ok_or_else(|| {
            CoreError::model(&self.model, "this conditional model needs labels (batch.y)")
        })?;
        if y.size() != [b] {
            return Err(CoreError::shape(
                "labels",
                format!("expected [{b}], got {:?}", y.size()),
            ));
        }
        Ok(Some(transforms::one_hot(y, k)?.f_to_device(self.device)?))
    }

    fn check_data(&self, x: &Tensor) -> Result<()> {
        let mut want = vec![x.size().first().copied().unwrap_or(0)];
        want.extend(self.data.example_shape());
        if x.size() != want {
            return Err(CoreError::shape(
                format!("{} input", self.model),
                format!(
                    "expected [b, {:?}] for {:?}, got {:?}",
                    self.data.example_shape(),
                    self.data,
                    x.size()
                ),
            ));
        }
        Ok(())
    }

    fn body_shape(&self, t: &Tensor) -> Result<Tensor> {
        Ok(match self.body_input {
            BodyInput::Flat => t.f_reshape([batch_size("flow body input", t)?, -1])?,
            BodyInput::Image => t.shallow_clone(),
        })
    }

    /// Continuous data (unit-interval images or vectors) to the flat latent `[b, D]` with
    /// `log|det|` of the whole map (pre-processing and body).
    ///
    /// # Errors
    /// `y` not of a shape the model's layers take (`[b, ...]` of the data shape), a missing or
    /// mis-shaped condition in `ctx`, or a libtorch error.
    pub fn to_latent(&self, y: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let (h, ld1) = match &self.pre {
            Some(pre) => {
                let (h, ld) = pre.forward(y, ctx)?;
                (h, Some(ld))
            }
            None => (y.shallow_clone(), None),
        };
        let (z, ld2) = self.body.forward(&self.body_shape(&h)?, ctx)?;
        let z = if z.dim() == 2 {
            z
        } else {
            z.f_reshape([batch_size("flow latent", &z)?, -1])?
        };
        let ld = match ld1 {
            Some(l) => l.f_add(&ld2)?,
            None => ld2,
        };
        Ok((z, ld))
    }

    /// The flat latent `[b, D]` back to continuous data of the data shape, with `log|det|`.
    ///
    /// # Errors
    /// `z` not of shape `[b, D]`, a missing or mis-shaped condition in `ctx`, or a libtorch
    /// error (e.g. a singular 1x1-convolution weight).
    pub fn from_latent(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        let n = batch_size("flow latent", z)?;
        let mut shape = vec![n];
        shape.extend(self.data.example_shape());
        let (h, ld2) = self.body.inverse(z, ctx)?;
        let h = h.f_reshape(shape.as_slice())?;
        match &self.pre {
            Some(pre) => {
                let (y, ld1) = pre.inverse(&h, ctx)?;
                Ok((y, ld1.f_add(&ld2)?))
            }
            None => Ok((h, ld2)),
        }
    }

    /// `log p(y)` `[b]` of continuous `y` (unit-interval images or vectors) with its parts
    /// `(log p, log p_z, log-det)`.
    ///
    /// # Errors
    /// As [`FlowCore::to_latent`], or a latent of the wrong size for the prior.
    pub fn log_prob_continuous(&self, y: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor, Tensor)> {
        let (z, ld) = self.to_latent(y, ctx)?;
        let log_pz = self.prior.log_prob(&z)?;
        Ok((log_pz.f_add(&ld)?, log_pz, ld))
    }

    /// The NLL parts of data `x` as stored (dequantizing 8-bit images with torch's generator).
    ///
    /// # Errors
    /// `x` not of shape `[b, ...]` of the model's data, missing or bad labels for a conditional
    /// model, or a libtorch error.
    pub fn nll(&self, x: &Tensor, labels: Option<&Tensor>, train: bool) -> Result<NllParts> {
        self.check_data(x)?;
        let b = x.size()[0];
        let cond = self.cond(labels, b)?;
        let ctx = Ctx {
            cond: cond.as_ref(),
            train,
            init: false,
        };
        if self.data.is_image() {
            let (y, log_q) = match &self.vdq {
                Some(v) => v.dequantize(x)?,
                None => (
                    dequant::uniform(x)?,
                    Tensor::f_zeros([b], (Kind::Float, x.device()))?,
                ),
            };
            let (lp, log_pz, logdet) = self.log_prob_continuous(&y, &ctx)?;
            let disc = units::discretization_nats(self.dims() as usize, 256);
            let nll = lp.f_neg()?.f_add(&log_q)?.f_add_scalar(disc)?;
            Ok(NllParts {
                nll,
                log_pz,
                logdet,
                log_q,
            })
        } else {
            let (lp, log_pz, logdet) =
                self.log_prob_continuous(&x.f_to_kind(Kind::Float)?, &ctx)?;
            Ok(NllParts {
                nll: lp.f_neg()?,
                log_pz,
                logdet,
                log_q: Tensor::f_zeros([b], (Kind::Float, x.device()))?,
            })
        }
    }

    /// The NLL unit of this data.
    pub fn unit(&self) -> NllUnit {
        if self.data.is_image() {
            NllUnit::BitsPerDim
        } else {
            NllUnit::Nats
        }
    }

    /// Training losses: `total` = mean NLL (bits/dim for images, nats for vectors), plus
    /// `nll_nats` (images), `logdet` (and `log_q` with variational dequantization).
    ///
    /// # Errors
    /// As [`FlowCore::nll`] on the batch.
    pub fn losses(&self, batch: &Batch) -> Result<Losses> {
        let p = self.nll(&batch.x, batch.y.as_ref(), true)?;
        let nll = p.nll.f_mean(Kind::Float)?;
        let total = match self.unit() {
            NllUnit::Nats => nll.shallow_clone(),
            u => nll.f_mul_scalar(u.from_nats(1.0, self.dims() as usize))?,
        };
        // The reported parts carry no graph; `log p_z` follows from them (nll = -log p_z -
        // logdet [+ log q + D log 256]). For vectors `total` is already the NLL in nats.
        let mut l = Losses::new(total);
        if self.data.is_image() {
            l = l.with("nll_nats", nll.f_detach()?);
        }
        l = l.with("logdet", p.logdet.f_detach()?.f_mean(Kind::Float)?);
        if self.vdq.is_some() {
            l = l.with("log_q", p.log_q.f_detach()?.f_mean(Kind::Float)?);
        }
        Ok(l)
    }

    /// Data-dependent initialization (ActNorm) on a batch, without gradients; done once per model
    /// (a no-op for models without data-dependent layers).
    ///
    /// # Errors
    /// As [`FlowCore::nll`] on the batch.
    pub fn init(&self, batch: &Batch) -> Result<()> {
        let Some(flag) = &self.init_flag else {
            return Ok(());
        };
        if flag.f_double_value(&[0])? > 0.5 {
            return Ok(());
        }
        self.check_data(&batch.x)?;
        let b = batch.x.size()[0];
        let cond = self.cond(batch.y.as_ref(), b)?;
        let ctx = Ctx {
            cond: cond.as_ref(),
            train: false,
            init: true,
        };
        let y = if self.data.is_image() {
            match &self.vdq {
                Some(v) => tch::no_grad(|| v.dequantize(&batch.x))?.0,
                None => dequant::uniform(&batch.x)?,
            }
        } else {
            batch.x.f_to_kind(Kind::Float)?
        };
        let _ = tch::no_grad(|| self.log_prob_continuous(&y, &ctx))?;
        let _ = tch::no_grad(|| flag.shallow_clone().f_fill_(1.0))?;
        Ok(())
    }

    /// `n` samples at temperature `t` for class labels `labels` (`[n]`, conditional models; `None`
    /// cycles through the classes), seeded.
    ///
    /// # Errors
    /// `n < 1`, a temperature that is negative or not finite, labels not of shape `[n]` or
    /// outside the classes, or a libtorch error (e.g. a singular 1x1-convolution weight).
    pub fn sample(&self, n: i64, t: f64, seed: u64, labels: Option<&Tensor>) -> Result<Tensor> {
        if n < 1 {
            return Err(CoreError::Invalid(format!(
                "{}: cannot draw {n} samples",
                self.model
            )));
        }
        genzoo_core::seed::seed_torch_stream(seed, "flow-sample", 0);
        let cycled;
        let labels = match (labels, self.num_classes) {
            (Some(l), _) => Some(l),
            (None, Some(k)) => {
                cycled = Tensor::f_arange(n, (Kind::Int64, self.device))?.f_remainder(k)?;
                Some(&cycled)
            }
            (None, None) => None,
        };
        let cond = self.cond(labels, n)?;
        let ctx = Ctx {
            cond: cond.as_ref(),
            train: false,
            init: false,
        };
        tch::no_grad(|| {
            let z = self.prior.sample(n, t, self.device)?;
            let h = self.from_latent(&z, &ctx)?.0;
            Ok(if self.data.is_image() {
                h.f_clamp(0.0, 1.0)?
            } else {
                h
            })
        })
    }

    /// Round trip `data -> latent -> data` of stored data (pixel centres `(x + 1/2)/256` for
    /// images); returns `(reconstruction, max abs error)`.
    ///
    /// # Errors
    /// As [`FlowCore::nll`] for `x` and `labels`, or a libtorch error on the way back.
    pub fn round_trip(&self, x: &Tensor, labels: Option<&Tensor>) -> Result<(Tensor, f64)> {
        self.check_data(x)?;
        let b = x.size()[0];
        let cond = self.cond(labels, b)?;
        let ctx = Ctx {
            cond: cond.as_ref(),
            train: false,
            init: false,
        };
        tch::no_grad(|| {
            let y = if self.data.is_image() {
                x.f_to_kind(Kind::Float)?
                    .f_add_scalar(0.5)?
                    .f_div_scalar(256.0)?
            } else {
                x.f_to_kind(Kind::Float)?
            };
            let (z, _) = self.to_latent(&y, &ctx)?;
            let (back, _) = self.from_latent(&z, &ctx)?;
            let err = back.f_sub(&y)?.f_abs()?.f_max()?.f_double_value(&[])?;
            Ok((back, err))
        })
    }

    /// Runs the model over the first `opts.max_examples` examples of `data` in batches of
    /// `opts.batch_size`, dequantization noise seeded by `opts.seed`, handing each batch's NLL
    /// parts to `each`; returns the example count and the round-trip error of the first batch.
    fn eval_batches(
        &self,
        data: &Dataset,
        opts: &EvalOptions,
        mut each: impl FnMut(&NllParts) -> Result<()>,
    ) -> Result<(i64, f64)> {
        let n = opts.max_examples.map_or(data.len(), |m| m.min(data.len()));
        if n < 1 {
            return Err(CoreError::Invalid(format!(
                "{}: no examples to evaluate in {}",
                self.model, data.name
            )));
        }
        let bs = opts.batch_size.max(1);
        genzoo_core::seed::seed_torch_stream(opts.seed, "flow-eval", 0);
        let mut recon: f64 = 0.0;
        let mut start = 0;
        while start < n {
            let len = bs.min(n - start);
            let x = data.x.f_narrow(0, start, len)?.f_to_device(self.device)?;
            let y = data
                .y
                .as_ref()
                .map(|y| y.f_narrow(0, start, len)?.f_to_device(self.device))
                .transpose()?;
            let p = tch::no_grad(|| self.nll(&x, y.as_ref(), false))?;
            each(&p)?;
            if start == 0 {
                recon = self.round_trip(&x, y.as_ref())?.1;
            }
            start += len;
        }
        Ok((n, recon))
    }

    /// Test NLL over `data` (at most `opts.max_examples`, batches of `opts.batch_size`,
    /// dequantization noise seeded by `opts.seed`) with the round-trip error.
    ///
    /// # Errors
    /// No examples to evaluate, data not of the model's shape (or without labels for a
    /// conditional model), a non-finite test NLL, or a libtorch error.
    pub fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let (mut sum, mut log_q) = (0.0, 0.0);
        let (n, recon) = self.eval_batches(data, opts, |p| {
            sum += p.nll.f_sum(Kind::Double)?.f_double_value(&[])?;
            log_q += p.log_q.f_sum(Kind::Double)?.f_double_value(&[])?;
            Ok(())
        })?;
        let nll_nats = sum / n as f64;
        if !nll_nats.is_finite() {
            return Err(CoreError::model(
                &self.model,
                format!("non-finite test NLL on {}", data.name),
            ));
        }
        let dims = self.dims() as usize;
        let unit = self.unit();
        let mut metrics = BTreeMap::new();
        metrics.insert("nll_nats".to_string(), nll_nats);
        metrics.insert("recon_error".to_string(), recon);
        if let (Some(t), None) = (Toy::of_dataset(data), self.num_classes) {
            let kl = self.kl_to_truth(t)?;
            metrics.insert("kl_to_truth".to_string(), kl.nats);
        }
        let (kind, what) = match (&self.vdq, self.data.is_image()) {
            (Some(_), _) => {
                metrics.insert("log_q".to_string(), log_q / n as f64);
                (LikelihoodKind::Bound, "8-bit, variational dequantization bound (Flow++)".to_string())
            }
            // Exact as a density of the dequantized data y = (x + u) / 256; as a number about the
            // 8-bit data its expectation over u bounds -log P(x) from above (Theis et al. 2016),
            // so it is labelled a bound, as core's baselines label theirs.
            (None, true) => (
                LikelihoodKind::Bound,
                format!("8-bit, exact density of uniformly dequantized data (one draw, noise seed {}) + D log 256: an upper bound on the discrete NLL in expectation", opts.seed),
            ),
            (None, false) => (LikelihoodKind::Exact, "continuous".to_string()),
        };
        // A flow whose inverse does not give its input back has no change-of-variables density.
        let (kind, what) = if recon > ROUND_TRIP_TOLERANCE {
            (LikelihoodKind::Invalid, format!("{what}; INVALID: the round trip f^-1(f(x)) misses x by {recon:.3e} (> {ROUND_TRIP_TOLERANCE:e}), so the change of variables does not hold"))
        } else {
            (kind, what)
        };
        Ok(EvalReport {
            nll: Some(Nll::from_nats(nll_nats, dims, unit, kind)),
            data: format!("{} ({n}), {what}", data.name),
            metrics,
        })
    }
}

/// The largest round-trip error `max |f^-1(f(x)) - x|` (in the flow's input units: \[0, 1\]
/// for dequantized images) at which a flow's NLL is still a change-of-variables density;
/// float32 flows that work stay below 1e-4.
pub const ROUND_TRIP_TOLERANCE: f64 = 1e-2;

impl genzoo_core::model::PerExampleNll for FlowCore {
    /// Per-example NLL in the unit of [`FlowCore::evaluate`] (bits/dim on 8-bit images with the
    /// dequantization noise seeded as there, nats on vectors); same kind as its report.
    fn nll_per_example(
        &self,
        data: &Dataset,
        opts: &EvalOptions,
    ) -> Result<genzoo_core::model::ExampleNll> {
        let mut parts = Vec::new();
        let (n, _) = self.eval_batches(data, opts, |p| {
            parts.push(p.nll.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?);
            Ok(())
        })?;
        let nats = Tensor::f_cat(&parts, 0)?;
        let all_finite = nats.f_isfinite()?.f_all()?.f_int64_value(&[])? == 1;
        if !all_finite {
            return Err(CoreError::model(
                &self.model,
                format!("non-finite per-example NLL on {}", data.name),
            ));
        }
        let unit = self.unit();
        let nll = unit.from_nats_tensor(&nats, self.dims() as usize)?;
        let report_kind = if self.data.is_image() {
            LikelihoodKind::Bound
        } else {
            LikelihoodKind::Exact
        };
        Ok(genzoo_core::model::ExampleNll {
            nll,
            unit,
            kind: report_kind,
            data: format!(
                "{} ({n}), dequantization noise seed {}",
                data.name, opts.seed
            ),
        })
    }
}

impl FlowCore {
    /// `log p(x)` `[m]` of continuous vectors (evaluation mode, no gradient).
    ///
    /// # Errors
    /// A model of images or a conditional model, `x` not of shape `[m, D]`, or a libtorch error.
    pub fn log_prob_vectors(&self, x: &Tensor) -> Result<Tensor> {
        if self.data.is_image() || self.num_classes.is_some() {
            return Err(CoreError::model(
                &self.model,
                "log_prob_vectors needs an unconditional model of vectors",
            ));
        }
        let x = x.f_to_device(self.device)?.f_to_kind(Kind::Float)?;
        tch::no_grad(|| self.log_prob_continuous(&x, &Ctx::eval())).map(|r| r.0)
    }

    /// KL(true || model) in nats by quadrature on a 400x400 (1-D: 400) grid over the toy's bounds.
    ///
    /// # Errors
    /// As [`FlowCore::log_prob_vectors`] (a toy of another dimension than the model's included).
    pub fn kl_to_truth(&self, t: Toy) -> Result<toy::KlEstimate> {
        toy::kl_grid(&t, &mut |x: &Tensor| self.log_prob_vectors(x), 400)
    }
}

/// The whole flow as a bijector from continuous data to the flat latent.
impl Bijector for FlowCore {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.to_latent(x, ctx)
    }
    fn inverse(&self, z: &Tensor, ctx: &Ctx) -> Result<(Tensor, Tensor)> {
        self.from_latent(z, ctx)
    }
    fn name(&self) -> &str {
        &self.model
    }
}
