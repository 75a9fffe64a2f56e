//! Batched evaluation of the Gaussian-latent models (VAE, beta-VAE, IWAE, cVAE).
//!
//! Every number is computed over batches of examples and chunks of importance samples, never one
//! example at a time:
//! * the ELBO and its parts, `E_q[log p(x|z)]` (estimated with the same k draws) and the
//!   closed-form KL (Kingma & Welling 2014, eq. 10): a lower bound on log p(x);
//! * the importance-sampled log-likelihood `log p(x) ~ log (1/k) sum_i w_i` (Burda et al. 2016,
//!   eq. 8; Rezende et al. 2014, appendix E) with k = `EvalOptions::importance_samples`: a
//!   stochastic lower bound on log p(x) that tightens as k grows, reported as an NLL of kind
//!   `IsEstimate`, in nats for binarized and continuous data and in bits/dim for 8-bit data;
//! * the KL per latent dimension and the active units of Burda et al. (2016, sec. 5.2),
//!   `A_u = Cov_x(E_q[u]) > 1e-2`;
//! * an estimate of the mutual information I(x;z) under q(x,z) = p_data(x) q(z|x) (Hoffman &
//!   Johnson 2016): `E[log q(z|x)] - E[log q(z)]`, with the aggregate posterior q(z) the mixture
//!   of the test set's posteriors (at most log N);
//! * a posterior-collapse warning (`posterior_collapse` = 1 when the KL is below 0.1 nats per
//!   example, `collapsed_dims` the number of dimensions with KL below 0.01 nats).
use std::collections::BTreeMap;

use genzoo_core::data::{transforms, Dataset};
use genzoo_core::dist::Distribution;
use genzoo_core::estimators;
use genzoo_core::model::{EvalOptions, EvalReport, LikelihoodKind, Nll};

use genzoo_core::{CoreError, Result};
use tch::{Kind, Tensor};

use crate::latent::{expand_rows, GaussianLatent, LatentModel};
use crate::obs::{Mode, Prepared};

/// The active-unit threshold of Burda et al. (2016).
pub const ACTIVE_UNIT_THRESHOLD: f64 = 1e-2;
/// Decoded rows per importance-sampling chunk (bounds memory: rows x dims x params floats).
const ROWS_PER_CHUNK: i64 = 8192;

/// One-hot labels `[n, classes]` for a conditional model, or `None` for an unconditional one.
///
/// # Errors
/// For a conditional model (`cond_dim > 0`): [`CoreError::Shape`] (`NAME.y`) when `data` has no
/// labels, or (`labels`) when they are not `[n]` with values in `0..cond_dim`.
pub fn one_hot_labels(data: &Dataset, cond_dim: i64) -> Result<Option<Tensor>> {
    if cond_dim == 0 {
        return Ok(None);
    }
    let y = data.y.as_ref().ok_or_else(|| {
        CoreError::shape(
            format!("{}.y", data.name),
            "a conditional model needs labelled data",
        )
    })?;
    transforms::one_hot(y, cond_dim).map(Some)
}

/// Per-example results of [`importance_sample`]: `[b]` tensors in nats.
#[derive(Debug)]
pub struct IsBatch {
    /// The IS estimate of log p(x) with k samples.
    pub log_px: Tensor,
    /// `E_q[log p(x|z)]` averaged over the k draws.
    pub recon: Tensor,
    /// Closed-form KL(q(z|x) || p(z)) per latent dimension, `[b, d]`.
    pub kl: Tensor,
    /// Posterior means `[b, d]`.
    pub mu: Tensor,
    /// Posterior log standard deviations `[b, d]`.
    pub log_scale: Tensor,
}

/// The k-sample IS estimate of log p(x) for one batch of prepared examples, the k draws taken in
/// chunks of at most `ROWS_PER_CHUNK` decoded rows (no gradient), from torch's generator.
///
/// # Errors
/// `k < 1`, or a libtorch error.
pub fn importance_sample(
    model: &dyn LatentModel,
    batch: &Prepared,
    cond: Option<&Tensor>,
    k: i64,
) -> Result<IsBatch> {
    if k < 1 {
        return Err(CoreError::config(
            "eval.importance_samples",
            "must be at least 1",
        ));
    }
    tch::no_grad(|| {
        let b = batch.target.size()[0];
        let q = model.posterior(&batch.input, cond)?;
        let kl = model.kl(&q)?;
        let chunk = (ROWS_PER_CHUNK / b.max(1)).clamp(1, k);
        let cond_chunk = match cond {
            Some(c) => Some(expand_rows(c, chunk)?),
            None => None,
        };
        let mut log_w = Vec::new();
        let mut recon = Tensor::f_zeros([b], (Kind::Float, batch.target.device()))?;
        let mut done = 0;
        while done < k {
            let kc = chunk.min(k - done);
            let z = q.rsample(&[kc])?; // [kc, b, d]
            let log_q = q
                .f_log_prob(&z)?
                .f_sum_dim_intlist(-1, false, Kind::Float)?;
            let log_pz = model.log_prior(&z)?;
            let rows = kc * b;
            let c = cond_chunk.as_ref().map(|c| c.narrow(0, 0, rows));
            let params = model.decode(&z.f_reshape([rows, model.latent_dim()])?, c.as_ref())?;
            let log_px = model
                .likelihood()
                .log_prob_repeated(&params, &batch.target, kc)?
                .f_reshape([kc, b])?;
            recon = recon.f_add(&log_px.f_sum_dim_intlist(0, false, Kind::Float)?)?;
            log_w.push(log_px.f_add(&log_pz)?.f_sub(&log_q)?);
            done += kc;
        }
        let log_w = Tensor::f_cat(&log_w, 0)?; // [k, b]
        Ok(IsBatch {
            log_px: estimators::iwae_log_likelihood(&log_w)?,
            recon: recon.f_div_scalar(k as f64)?,
            kl,
            mu: q.loc.shallow_clone(),
            log_scale: q.log_scale.shallow_clone(),
        })
    })
}

/// The IS-estimated log p(x) in nats of every example of `data` with `k` samples (batched over
/// examples and samples): `[n]`. Conditional models read each example's label. The evaluation
/// preprocessing (static binarization) is seeded by `seed`, and so are the importance draws
/// (torch reseeded from `(seed, "is-nll", 0)`).
///
/// # Errors
/// Data the model's likelihood cannot take, missing labels for a conditional model, `k < 1`, or
/// a libtorch error.
pub fn is_log_likelihood(
    model: &dyn LatentModel,
    data: &Dataset,
    k: i64,
    batch_size: i64,
    seed: u64,
) -> Result<Tensor> {
    let prepared = model.likelihood().prepare(&data.x, Mode::Eval { seed })?;
    let cond = one_hot_labels(data, model.cond_dim())?;
    genzoo_core::seed::seed_torch_stream(seed, "is-nll", 0);
    let n = data.len();
    let mut out = Vec::new();
    let bs = batch_size.max(1);
    let mut i = 0;
    while i < n {
        let m = bs.min(n - i);
        let part = Prepared {
            input: prepared.input.narrow(0, i, m),
            target: prepared.target.narrow(0, i, m),
        };
        let c = cond.as_ref().map(|c| c.narrow(0, i, m));
        out.push(importance_sample(model, &part, c.as_ref(), k)?.log_px);
        i += m;
    }
    Ok(Tensor::f_cat(&out, 0)?)
}

/// The first `opts.max_examples` examples of `data` (all by default), with `opts` checked.
///
/// # Errors
/// [`CoreError::Config`] for invalid options; [`CoreError::Shape`] (`NAME.x`) when there are no
/// examples.
pub fn eval_subset(data: &Dataset, opts: &EvalOptions) -> Result<Dataset> {
    opts.validate()?;
    let data = data.take(opts.max_examples.unwrap_or(data.len()));
    if data.is_empty() {
        return Err(CoreError::shape(
            format!("{}.x", data.name),
            "no examples to evaluate",
        ));
    }
    Ok(data)
}

/// The IS estimate of `-log p(x)` (`-log p(x|y)` for conditional models) of each example of
/// `data` with `k = opts.importance_samples`, in the decoder's unit, every random choice seeded
/// by `opts.seed` (see [`is_log_likelihood`]): what [`evaluate`] averages. The per-example
/// capability of any [`LatentModel`].
///
/// # Errors
/// No examples, data the model cannot take, or a libtorch error.
pub fn is_nll_per_example(
    model: &dyn LatentModel,
    data: &Dataset,
    opts: &EvalOptions,
) -> Result<genzoo_core::model::ExampleNll> {
    let data = eval_subset(data, opts)?;
    let k = opts.importance_samples.max(1) as i64;
    let lp = is_log_likelihood(model, &data, k, opts.batch_size, opts.seed)?;
    let nats = lp
        .f_neg()?
        .f_to_kind(Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    let lik = model.likelihood();
    let unit = lik.unit();
    Ok(genzoo_core::model::ExampleNll {
        nll: unit.from_nats_tensor(&nats, model.data().dims() as usize)?,
        unit,
        kind: LikelihoodKind::IsEstimate,
        data: format!(
            "{} ({}), {}; IS estimate with k={k}",
            data.name,
            data.len(),
            lik.data_label(opts.seed)
        ),
    })
}

impl genzoo_core::model::PerExampleNll for GaussianLatent {
    /// [`is_nll_per_example`].
    fn nll_per_example(
        &self,
        data: &Dataset,
        opts: &EvalOptions,
    ) -> Result<genzoo_core::model::ExampleNll> {
        is_nll_per_example(self, data, opts)
    }
}

/// The mutual-information estimate `I(x;z) ~ mean_i log q(z_i|x_i) - mean_i log q(z_i)`, with
/// `z_i ~ q(z|x_i)` and `q(z) = (1/N) sum_n q(z|x_n)`, from posterior means and log standard
/// deviations `[N, d]`; batched over `z` in blocks.
///
/// # Errors
/// [`CoreError::Shape`] when `mu` and `log_scale` are not floating-point or differ in shape; a
/// libtorch error.
pub fn mutual_information(mu: &Tensor, log_scale: &Tensor) -> Result<f64> {
    tch::no_grad(|| {
        let n = mu.size()[0];
        if n < 2 {
            return Ok(0.0);
        }
        let q = genzoo_core::dist::DiagGaussian::new(mu, log_scale)?;
        let z = genzoo_core::dist::Distribution::sample(&q, &[]); // [N, d]
        let log_q_own = q
            .f_log_prob(&z)?
            .f_sum_dim_intlist(-1, false, Kind::Double)?; // [N]
        let mut log_agg = Vec::new();
        let block = 256;
        let mut i = 0;
        while i < n {
            let m = block.min(n - i);
            let zi = z.narrow(0, i, m).unsqueeze(1); // [m, 1, d]
            let lp = q
                .f_log_prob(&zi)?
                .f_sum_dim_intlist(-1, false, Kind::Double)?; // [m, N]
            log_agg.push(lp.f_logsumexp([1], false)?.f_sub_scalar((n as f64).ln())?);
            i += m;
        }
        let log_agg = Tensor::f_cat(&log_agg, 0)?;
        Ok(log_q_own
            .f_sub(&log_agg)?
            .f_mean(Kind::Double)?
            .f_double_value(&[])?)
    })
}

/// Active units (Burda et al. 2016): latent dimensions whose posterior mean varies over the
/// examples (`mu [n, d]`) by more than [`ACTIVE_UNIT_THRESHOLD`]; none for a single example.
fn active_units(mu: &Tensor) -> Result<i64> {
    let var = if mu.size()[0] > 1 {
        mu.f_var_dim(0, true, false)?
    } else {
        mu.f_zeros_like()?.f_select(0, 0)?
    };
    Ok(var
        .f_gt(ACTIVE_UNIT_THRESHOLD)?
        .f_sum(Kind::Int64)?
        .f_int64_value(&[])?)
}

/// The KL of each latent dimension (`kl_dim/000`, ...), how many carry under 0.01 nats
/// (`collapsed_dims`), and `posterior_collapse` (1 when the whole KL is under 0.1 nats).
fn insert_kl_dims(
    metrics: &mut BTreeMap<String, f64>,
    kl_dims: &Tensor,
    kl_nats: f64,
) -> Result<()> {
    let kl_vec: Vec<f64> = Vec::try_from(kl_dims)?;
    let collapsed = kl_vec.iter().filter(|&&v| v < 0.01).count();
    for (j, v) in kl_vec.iter().enumerate() {
        metrics.insert(format!("kl_dim/{j:03}"), *v);
    }
    metrics.insert("collapsed_dims".to_string(), collapsed as f64);
    metrics.insert(
        "posterior_collapse".to_string(),
        if kl_nats < 0.1 { 1.0 } else { 0.0 },
    );
    Ok(())
}

/// The full evaluation report of a latent-variable model on `data` (the test split): the IS
/// estimate (the report's NLL), the ELBO and its parts, KL per dimension, active units, mutual
/// information; every random choice seeded by `opts.seed`.
///
/// # Errors
/// No examples, data the model cannot take, or a libtorch error.
pub fn evaluate(
    model_name: &str,
    model: &dyn LatentModel,
    data: &Dataset,
    opts: &EvalOptions,
) -> Result<EvalReport> {
    let data = eval_subset(data, opts)?;
    let k = opts.importance_samples.max(1) as i64;
    let lik = model.likelihood();
    let prepared = lik.prepare(&data.x, Mode::Eval { seed: opts.seed })?;
    let cond = one_hot_labels(&data, model.cond_dim())?;
    genzoo_core::seed::seed_torch_stream(opts.seed, "is-nll", 0);
    let n = data.len();
    let bs = opts.batch_size.max(1);
    let (mut lp, mut rec, mut kl, mut mu, mut ls) = (vec![], vec![], vec![], vec![], vec![]);
    let mut i = 0;
    while i < n {
        let m = bs.min(n - i);
        let part = Prepared {
            input: prepared.input.narrow(0, i, m),
            target: prepared.target.narrow(0, i, m),
        };
        let c = cond.as_ref().map(|c| c.narrow(0, i, m));
        let r = importance_sample(model, &part, c.as_ref(), k)?;
        lp.push(r.log_px);
        rec.push(r.recon);
        kl.push(r.kl);
        mu.push(r.mu);
        ls.push(r.log_scale);
        i += m;
    }
    let mean = |v: &[Tensor]| -> Result<f64> {
        Ok(Tensor::f_cat(v, 0)?
            .f_mean(Kind::Double)?
            .f_double_value(&[])?)
    };
    let nll_nats = -mean(&lp)?;
    let recon_nats = -mean(&rec)?;
    let kl_all = Tensor::f_cat(&kl, 0)?; // [n, d]
    let kl_dims = kl_all.f_mean_dim(0, false, Kind::Double)?;
    let kl_nats = kl_dims.f_sum(Kind::Double)?.f_double_value(&[])?;
    let mu_all = Tensor::f_cat(&mu, 0)?;
    let active = active_units(&mu_all)?;
    let mi = mutual_information(&mu_all, &Tensor::f_cat(&ls, 0)?)?;

    let dims = model.data().dims() as usize;
    let unit = lik.unit();
    let neg_elbo_nats = recon_nats + kl_nats;
    let mut metrics = BTreeMap::new();
    metrics.insert("elbo_nats".to_string(), -neg_elbo_nats);
    metrics.insert("neg_elbo".to_string(), unit.from_nats(neg_elbo_nats, dims));
    metrics.insert("recon_nats".to_string(), recon_nats);
    metrics.insert("kl_nats".to_string(), kl_nats);
    metrics.insert("nll_nats".to_string(), nll_nats);
    metrics.insert("importance_samples".to_string(), k as f64);
    metrics.insert("active_units".to_string(), active as f64);
    metrics.insert("latent_dim".to_string(), model.latent_dim() as f64);
    metrics.insert("mutual_info_nats".to_string(), mi);
    // The estimator's ceiling: the mutual information estimated over n examples cannot exceed
    // log n, so a value near it says the latent separates the test examples, not how much more.
    metrics.insert("mutual_info_bound".to_string(), (n as f64).ln());
    // The test NLL's standard error over the test examples (in the NLL's unit).
    let lp_all = Tensor::f_cat(&lp, 0)?.f_to_kind(Kind::Double)?;
    if n > 1 {
        let sd = lp_all.f_std(true)?.f_double_value(&[])?;
        metrics.insert(
            "nll_se".to_string(),
            unit.from_nats(sd / (n as f64).sqrt(), dims),
        );
    }
    insert_kl_dims(&mut metrics, &kl_dims, kl_nats)?;
    let cond_note = if model.cond_dim() > 0 {
        ", conditional log p(x|y)"
    } else {
        ""
    };
    Ok(EvalReport {
        nll: Some(Nll::from_nats(nll_nats, dims, unit, LikelihoodKind::IsEstimate)),
        data: format!(
            "{} ({n}), {}; {model_name}: IS estimate with k={k}{cond_note}; neg_elbo is a bound in the same unit",
            data.name,
            lik.data_label(opts.seed)
        ),
        metrics,
    })
}
