//! How an autoregressive image model meets the model contract.
//!
//! Each model file implements [`Autoregressive`]: the parameters of every conditional
//! p(x_i | x_<i) in one causal pass (`[n, P, c, h, w]`, P = the observation model's parameter
//! count), from which the exact log-likelihood follows by the chain rule,
//! log p(x) = sum_i log p(x_i | x_<i) (van den Oord et al. 2016, eq. 1). [`Ar`] pairs such a
//! network with its sampling settings as a `genzoo_core::model::Network`, so that every model of
//! the family trains, evaluates (exact NLL in nats on statically binarized digits, bits/dim on
//! 8-bit images, per example as well), samples, completes partial images and, when built with
//! classes, samples given a label, the same way.
//!
//! Sampling goes one position at a time in the model's order ([`Autoregressive::order`]). The
//! naive sampler ([`sample_naive`]) runs the whole network for every position: 784 passes for a
//! 28x28 digit. Models with caches ([`CachedSample`]) compute only what the next position needs,
//! and draw the same samples from the same seed (see [`crate::sampling`]).
use genzoo_core::model::Family;
use genzoo_core::model::MODEL_GROUP;
use tch::{Kind, Tensor};

use crate::sampling::{self, check_temperature};
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{
    ConditionalSample, EvalOptions, EvalReport, ExampleNll, LikelihoodKind, Losses, Network, Nll,
    Optimize, PartialSample, PerExampleNll,
};
use genzoo_core::obs::{Likelihood, Mode, Prepared};
use genzoo_core::{CoreError, Result};

/// A training step's numbers computed by the model itself ([`Autoregressive::nll_and_grads`]).
#[derive(Debug)]
pub struct StepGrads {
    /// The batch's mean NLL, nats per example (0-dim).
    pub nll: Tensor,
    /// `(parameter, gradient)` for every trainable parameter.
    pub grads: Vec<(Tensor, Tensor)>,
}

/// An autoregressive model of images `[c, h, w]` with an exact likelihood.
pub trait Autoregressive {
    /// The model's name in the catalogue (`pixelcnn`).
    fn name(&self) -> &str;
    /// Its configuration, written to the run directory.
    fn config_json(&self) -> serde_json::Value;
    /// The image shape it was built for (`DataKind::Image`).
    fn data(&self) -> DataKind;
    /// The device its weights live on.
    fn device(&self) -> tch::Device;
    /// The per-position observation model (Bernoulli, 256-way categorical, logistic).
    fn likelihood(&self) -> Likelihood;
    /// Number of classes it is conditioned on (0: unconditional).
    fn num_classes(&self) -> i64 {
        0
    }
    /// The parameters of every conditional, `[n, P, c, h, w]`, from the prepared input
    /// `[n, c, h, w]` (0/1 or level/255) and, for conditional models, labels `i64 [n]`. The
    /// parameters at a position depend only on the input at earlier positions (the causality
    /// tests check this by gradients).
    ///
    /// # Errors
    /// Input of another shape than [`Autoregressive::data`], missing labels for a conditional
    /// model, or a libtorch error.
    fn params(&self, input: &Tensor, labels: Option<&Tensor>, train: bool) -> Result<Tensor>;
    /// `log p(x)` in nats, `[n]`: the sum over positions of the conditionals' log-probabilities.
    ///
    /// # Errors
    /// As [`Autoregressive::params`].
    fn log_prob(&self, prep: &Prepared, labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.likelihood()
            .log_prob(&self.params(&prep.input, labels, train)?, &prep.target)
    }
    /// A training step's mean NLL (nats per example, a 0-dim tensor) with its gradient for the
    /// trainable parameters as `(parameter, gradient)` pairs, computed by the model itself
    /// without an autograd graph (MADE's analytic gradients); `None`, the default, lets the
    /// engine back-propagate the mean of `-`[`Autoregressive::log_prob`]. Both give the same
    /// numbers (each model that has this tests it against autograd).
    ///
    /// # Errors
    /// As [`Autoregressive::params`].
    fn nll_and_grads(
        &self,
        _prep: &Prepared,
        _labels: Option<&Tensor>,
    ) -> Result<Option<StepGrads>> {
        Ok(None)
    }
    /// Flat indices into `[c, h, w]` in the order positions are generated: raster order, the
    /// channels of a pixel innermost (R, then G, then B), unless the model has its own order.
    fn order(&self) -> Vec<i64> {
        raster_order(&self.data())
    }
    /// Called before each training step with a draw from the trainer's seeded generator (MADE's
    /// order-agnostic training resamples its masks here).
    ///
    /// # Errors
    /// A model-specific failure to prepare the step.
    fn start_step(&mut self, _draw: u64) -> Result<()> {
        Ok(())
    }
    /// Called before each sampling run with its seed (MADE's ensemble picks its mixture
    /// component here).
    ///
    /// # Errors
    /// A model-specific failure to prepare sampling.
    fn begin_sampling(&self, _seed: u64) -> Result<()> {
        Ok(())
    }
    /// The cached sampler, if the model has one.
    fn cached(&self) -> Option<&dyn CachedSample> {
        None
    }
    /// False when [`sample_naive`] cannot draw from [`Autoregressive::params`] (PixelCNN++'s
    /// mixture couples a pixel's channels): sampling then always goes through the model's own
    /// sampler ([`Autoregressive::cached`]), whatever [`SampleOptions::cached`] says.
    fn naive_sampling(&self) -> bool {
        true
    }
}

/// Raster order with channels innermost, as flat indices into `[c, h, w]`.
pub fn raster_order(kind: &DataKind) -> Vec<i64> {
    let s = kind.example_shape();
    let (c, hw) = match s.as_slice() {
        [c, h, w] => (*c, h * w),
        _ => (1, kind.dims()),
    };
    (0..hw)
        .flat_map(|p| (0..c).map(move |ch| ch * hw + p))
        .collect()
}

/// One sampling job: `n` examples, their labels, one uniform per position (`u [n, D]`, see
/// [`sampling::uniforms`]), the temperature, and optionally known values to keep (`known`:
/// values in input space `[n, c, h, w]` and a `bool` mask of the same shape).
pub struct SampleJob<'a> {
    pub n: i64,
    pub labels: Option<&'a Tensor>,
    pub u: &'a Tensor,
    pub temperature: f64,
    pub known: Option<(&'a Tensor, &'a Tensor)>,
    /// A conditioning map `[n, m, h, w]` for models that take one (a VLAE decoder's features).
    pub cond_map: Option<&'a Tensor>,
}

/// A sampler that caches what earlier positions computed (Ramachandran et al. 2017).
pub trait CachedSample {
    /// The samples of `job` in input space, `f32 [n, c, h, w]`; equal to [`sample_naive`]'s for
    /// the same job.
    ///
    /// # Errors
    /// As [`Autoregressive::params`].
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor>;
}

/// Writes the value drawn at flat position `f` into the canvas `[n, c, h, w]` (keeping known
/// values): the one place both samplers commit a draw.
///
/// # Errors
/// A libtorch error for a position outside the canvas.
pub fn commit(
    canvas: &Tensor,
    f: i64,
    lik: Likelihood,
    value: &Tensor,
    job: &SampleJob,
) -> Result<()> {
    let n = job.n;
    let mut v = sampling::to_input(lik, value)?;
    if let Some((x, mask)) = job.known {
        let kx = x.f_reshape([n, -1])?.f_select(1, f)?;
        let km = mask.f_reshape([n, -1])?.f_select(1, f)?;
        v = kx.f_where_self(&km, &v)?;
    }
    canvas.f_view([n, -1])?.f_select(1, f)?.f_copy_(&v)?;
    Ok(())
}

/// Naive sampling: the whole network for every position, in the model's order.
///
/// # Errors
/// As [`Autoregressive::params`].
pub fn sample_naive(net: &dyn Autoregressive, job: &SampleJob) -> Result<Tensor> {
    let shape = net.data().example_shape();
    let mut full = vec![job.n];
    full.extend(&shape);
    let canvas = Tensor::f_zeros(full.as_slice(), (Kind::Float, job.u.device()))?;
    let lik = net.likelihood();
    tch::no_grad(|| {
        for f in net.order() {
            let params = net.params(&canvas, job.labels, false)?;
            let p = params.f_flatten(2, -1)?.f_select(2, f)?; // [n, P]
            let u = job.u.f_select(1, f)?;
            let value = sampling::draw(lik, &p, &u, job.temperature)?;
            commit(&canvas, f, lik, &value, job)?;
        }
        Ok(canvas)
    })
}

/// How an [`Ar`] samples.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleOptions {
    /// Temperature of every conditional (1: the model itself).
    pub temperature: f64,
    /// Use the model's cache when it has one (same samples, faster).
    pub cached: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            temperature: 1.0,
            cached: true,
        }
    }
}

/// An autoregressive network as a `Network` (held in an `Owned` with its weights).
pub struct Ar<N> {
    pub net: N,
    pub sampling: SampleOptions,
}

impl<N: Autoregressive> Ar<N> {
    pub fn new(net: N) -> Self {
        Ar {
            net,
            sampling: SampleOptions::default(),
        }
    }

    fn labels<'a>(&self, y: Option<&'a Tensor>) -> Result<Option<&'a Tensor>> {
        if self.net.num_classes() == 0 {
            return Ok(None);
        }
        y.map(Some).ok_or_else(|| {
            CoreError::Invalid(format!(
                "{} is class-conditional ({} classes) but the data have no labels",
                self.net.name(),
                self.net.num_classes()
            ))
        })
    }

    /// Samples in data space (`f32 [n, c, h, w]` in \[0,1\]) for `job` with this model's settings.
    ///
    /// # Errors
    /// A bad temperature, or as [`Autoregressive::params`].
    pub fn run_job(&self, job: &SampleJob) -> Result<Tensor> {
        check_temperature(job.temperature)?;
        let own = self.sampling.cached || !self.net.naive_sampling();
        match (own, self.net.cached()) {
            (true, Some(c)) => tch::no_grad(|| c.sample_cached(job)),
            (_, None) if !self.net.naive_sampling() => Err(genzoo_core::CoreError::model(
                self.net.name(),
                "has neither a sampler of its own nor per-channel conditionals",
            )),
            _ => sample_naive(&self.net, job),
        }
    }

    fn sample_with(&self, n: i64, labels: Option<&Tensor>, seed: u64) -> Result<Tensor> {
        self.net.begin_sampling(seed)?;
        let device = self.device();
        let u = sampling::uniforms(n, self.net.data().dims(), seed, device)?;
        self.run_job(&SampleJob {
            n,
            labels,
            u: &u,
            temperature: self.sampling.temperature,
            known: None,
            cond_map: None,
        })
    }

    fn device(&self) -> tch::Device {
        self.net.device()
    }

    /// Exact per-example NLLs in nats of `data` (first `opts.max_examples`), in batches.
    fn nats_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<(Tensor, String)> {
        opts.validate()?;
        check_data(&self.net.data(), data)?;
        let data = data.take(opts.max_examples.unwrap_or(data.len()));
        let lik = self.net.likelihood();
        let prep = lik.prepare(&data.x, Mode::Eval { seed: opts.seed })?;
        let labels = self.labels(data.y.as_ref())?;
        let n = data.len();
        let mut out = Vec::new();
        let mut i = 0;
        tch::no_grad(|| -> Result<()> {
            while i < n {
                let m = opts.batch_size.min(n - i);
                let part = Prepared {
                    input: prep.input.f_narrow(0, i, m)?,
                    target: prep.target.f_narrow(0, i, m)?,
                };
                let y = labels.map(|y| y.narrow(0, i, m));
                out.push(self.net.log_prob(&part, y.as_ref(), false)?.f_neg()?);
                i += m;
            }
            Ok(())
        })?;
        let label = format!("{} ({})", data.name, lik.data_label(opts.seed));
        Ok((Tensor::f_cat(&out, 0)?, label))
    }
}

/// Refuses data of another shape than the model's.
///
/// # Errors
/// [`CoreError::Shape`] naming the dataset.
pub fn check_data(kind: &DataKind, data: &Dataset) -> Result<()> {
    if &data.kind != kind {
        return Err(CoreError::shape(
            &data.name,
            format!(
                "the model was built for {kind:?}, the data are {:?}",
                data.kind
            ),
        ));
    }
    Ok(())
}

impl<N: Autoregressive> Network for Ar<N> {
    fn name(&self) -> &str {
        self.net.name()
    }
    fn set_temperature(&mut self, t: f64) -> Result<()> {
        check_temperature(t)?;
        self.sampling.temperature = t;
        Ok(())
    }
    fn family(&self) -> Family {
        Family::Autoregressive
    }
    fn config_json(&self) -> serde_json::Value {
        self.net.config_json()
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        // A draw from the trainer's generator, which it reseeds from (seed, step): resume-exact.
        let draw = Tensor::f_randint(i64::from(i32::MAX), [1], (Kind::Int64, tch::Device::Cpu))?
            .f_int64_value(&[0])? as u64;
        self.net.start_step(draw)?;
        let prep = self.net.likelihood().prepare(&batch.x, Mode::Train)?;
        let labels = self.labels(batch.y.as_ref())?;
        if let Some(StepGrads { nll, grads }) = self.net.nll_and_grads(&prep, labels)? {
            opt.apply_grads(MODEL_GROUP, &grads)?;
            return Ok(Losses::new(nll.shallow_clone()).with("nll", nll));
        }
        let nll = self
            .net
            .log_prob(&prep, labels, true)?
            .f_mean(Kind::Float)?
            .f_neg()?;
        opt.minimize(MODEL_GROUP, &nll)?;
        Ok(Losses::new(nll.detach()).with("nll", nll.detach()))
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        let (nats, label) = self.nats_per_example(data, opts)?;
        let mean = nats.f_mean(Kind::Double)?.f_double_value(&[])?;
        let dims = self.net.data().dims() as usize;
        let unit = self.net.likelihood().unit();
        let nll = Nll::from_nats(mean, dims, unit, LikelihoodKind::Exact);
        let metrics = [
            ("nll_nats".to_string(), mean),
            (
                "bits_per_dim".to_string(),
                genzoo_core::units::nats_to_bits_per_dim(mean, dims),
            ),
        ]
        .into();
        Ok(EvalReport {
            nll: Some(nll),
            data: label,
            metrics,
        })
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        let k = self.net.num_classes();
        if k > 0 {
            let labels = Tensor::f_arange(n, (Kind::Int64, self.device()))?.f_remainder(k)?;
            return self.sample_with(n, Some(&labels), seed);
        }
        self.sample_with(n, None, seed)
    }
    fn per_example_nll(&self) -> Option<&dyn PerExampleNll> {
        Some(self)
    }
    fn partial_sampler(&self) -> Option<&dyn PartialSample> {
        Some(self)
    }
    fn class_sampler(&self) -> Option<&dyn ConditionalSample> {
        (self.net.num_classes() > 0).then_some(self as &dyn ConditionalSample)
    }
}

impl<N: Autoregressive> PerExampleNll for Ar<N> {
    fn nll_per_example(&self, data: &Dataset, opts: &EvalOptions) -> Result<ExampleNll> {
        let (nats, label) = self.nats_per_example(data, opts)?;
        let unit = self.net.likelihood().unit();
        Ok(ExampleNll {
            nll: unit.from_nats_tensor(&nats, self.net.data().dims() as usize)?,
            unit,
            kind: LikelihoodKind::Exact,
            data: label,
        })
    }
}

impl<N: Autoregressive> ConditionalSample for Ar<N> {
    fn num_classes(&self) -> i64 {
        self.net.num_classes()
    }
    fn sample_classes(&self, labels: &Tensor, seed: u64) -> Result<Tensor> {
        check_labels(labels, self.net.num_classes())?;
        let labels = labels.f_to_device(self.device())?;
        self.sample_with(labels.size()[0], Some(&labels), seed)
    }
}

impl<N: Autoregressive> PartialSample for Ar<N> {
    fn complete(&self, x: &Tensor, known: &Tensor, seed: u64) -> Result<Tensor> {
        let kind = self.net.data();
        let shape = kind.example_shape();
        if x.dim() != 4 || x.size()[1..] != shape[..] || x.kind() != Kind::Uint8 {
            return Err(CoreError::shape(
                "x",
                format!(
                    "expected u8 [n, {shape:?}], got {:?} {:?}",
                    x.kind(),
                    x.size()
                ),
            ));
        }
        if known.size() != x.size() || known.kind() != Kind::Bool {
            return Err(CoreError::shape(
                "known",
                format!("expected a bool mask of x's shape {:?}", x.size()),
            ));
        }
        self.net.begin_sampling(seed)?;
        let device = self.device();
        let lik = self.net.likelihood();
        let prep = lik.prepare(&x.f_to_device(device)?, Mode::Eval { seed })?;
        let known = known.f_to_device(device)?;
        let n = x.size()[0];
        let u = sampling::uniforms(n, kind.dims(), seed, device)?;
        // The class of a partial image is not given: conditional models complete as class 0.
        let labels =
            (self.net.num_classes() > 0).then(|| Tensor::zeros([n], (Kind::Int64, device)));
        self.run_job(&SampleJob {
            n,
            labels: labels.as_ref(),
            u: &u,
            temperature: self.sampling.temperature,
            known: Some((&prep.input, &known)),
            cond_map: None,
        })
    }
}

/// Refuses network input of another shape than `[n, ...kind's example shape]`.
///
/// # Errors
/// [`CoreError::Shape`] (`input`).
pub fn check_input(kind: &DataKind, input: &Tensor) -> Result<()> {
    let shape = kind.example_shape();
    if input.dim() != shape.len() + 1 || input.size()[1..] != shape[..] {
        return Err(CoreError::shape(
            "input",
            format!("expected [n, {shape:?}], got {:?}", input.size()),
        ));
    }
    Ok(())
}

/// Refuses labels that are not `i64 [n]` in `0..k`.
///
/// # Errors
/// [`CoreError::Shape`] (`labels`) naming what is wrong.
pub fn check_labels(labels: &Tensor, k: i64) -> Result<()> {
    if labels.dim() != 1 || labels.kind() != Kind::Int64 {
        return Err(CoreError::shape(
            "labels",
            format!(
                "expected i64 [n], got {:?} {:?}",
                labels.kind(),
                labels.size()
            ),
        ));
    }
    let bad = labels.f_lt(0)?.f_logical_or(&labels.f_ge(k)?)?;
    if bad.f_any()?.f_int64_value(&[])? != 0 {
        return Err(CoreError::shape(
            "labels",
            format!("labels must lie in 0..{k}"),
        ));
    }
    Ok(())
}
