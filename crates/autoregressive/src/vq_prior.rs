//! VQ-VAE with a Gated PixelCNN prior over its code grid: the paper's two-stage model (van den
//! Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning", sec. 3.2 and 4.1:
//! "we fit an autoregressive distribution over z, p(z), so that we can generate x via ancestral
//! sampling"; the prior is a PixelCNN over the discrete latents).
//!
//! * [`GatedCodePrior`]: a Gated PixelCNN over `K` codes on an `h x w` grid (one-hot input, a
//!   K-way softmax per position), usable as any VQ model's `CodePrior`.
//! * [`VqVaePixelCnn`]: one model trained in two stages in one run. Steps `0..vq_steps` train the
//!   VQ-VAE (group `vq`); after that the VQ-VAE is frozen and the prior learns its codes (group
//!   `prior`). The stage follows the trainer's global step, so a resumed run continues the right
//!   stage. Evaluation reports the VQ-VAE's bound `-log p(x|z_q) - log p(z_q)` with this prior in
//!   place of the per-position one, and samples decode codes drawn from the prior.
use genzoo_core::model::Family;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::gated_pixel_cnn::{self as gated, GatedPixelCnn};
use crate::model::Autoregressive;
use crate::sampling;
use genzoo_core::data::{Batch, DataKind, Dataset};
use genzoo_core::model::{
    CodePrior, EvalOptions, EvalReport, Losses, Network, Optimize, ParamGroup, Reconstruct,
};
use genzoo_core::obs::{Likelihood, Mode};
use genzoo_core::{CoreError, Result};
use genzoo_vae::vq_vae::{self, VqVae};

/// A Gated PixelCNN over code grids `i64 [n, h, w]` with values in `0..K`.
#[derive(Debug)]
pub struct GatedCodePrior {
    net: GatedPixelCnn,
    k: i64,
    grid: (i64, i64),
}

impl GatedCodePrior {
    /// The prior's stacks as configured in `cfg` (its `data` is replaced by the code grid).
    ///
    /// # Errors
    /// As [`GatedPixelCnn::new`]; [`CoreError::Config`] (`prior`) for fewer than 2 codes or an
    /// empty grid.
    pub fn new(p: &nn::Path, cfg: &gated::Config, k: i64, grid: (i64, i64)) -> Result<Self> {
        Self::conditioned(p, cfg, k, grid, 0)
    }

    /// A code prior whose every layer also sees a conditioning map `[n, cond_channels, h, w]`
    /// (VQ-VAE-2's bottom prior, given the top codes).
    ///
    /// # Errors
    /// As [`GatedCodePrior::new`].
    pub fn conditioned(
        p: &nn::Path,
        cfg: &gated::Config,
        k: i64,
        grid: (i64, i64),
        cond_channels: i64,
    ) -> Result<Self> {
        if k < 2 || grid.0 < 1 || grid.1 < 1 {
            return Err(CoreError::config(
                "prior",
                format!("a code prior needs >= 2 codes and a non-empty grid, got {k} on {grid:?}"),
            ));
        }
        let mut cfg = cfg.clone();
        cfg.data = DataKind::Categorical {
            levels: k,
            height: grid.0,
            width: grid.1,
        };
        cfg.conditional = false;
        cfg.num_classes = 0;
        cfg.cond_channels = cond_channels;
        Ok(GatedCodePrior {
            net: GatedPixelCnn::new(p, &cfg)?,
            k,
            grid,
        })
    }

    fn check(&self, codes: &Tensor) -> Result<()> {
        let s = codes.size();
        if s.len() != 3 || (s[1], s[2]) != self.grid || codes.kind() != Kind::Int64 {
            return Err(CoreError::shape(
                "codes",
                format!(
                    "expected i64 [n, {}, {}], got {:?} {s:?}",
                    self.grid.0,
                    self.grid.1,
                    codes.kind()
                ),
            ));
        }
        Ok(())
    }

    /// Logits `[n, K, h, w]` of every position's conditional.
    fn logits(&self, codes: &Tensor, map: Option<&Tensor>) -> Result<Tensor> {
        Ok(self
            .net
            .forward(&one_hot_map(codes, self.k)?, None, map)?
            .f_select(2, 0)?)
    }

    /// `log p(codes | map)` in nats per grid, `[n]`.
    ///
    /// # Errors
    /// Codes of another grid, a missing or unexpected map, or a libtorch error.
    pub fn log_prob_given(&self, codes: &Tensor, map: Option<&Tensor>) -> Result<Tensor> {
        self.check(codes)?;
        let lp = self.logits(codes, map)?.f_log_softmax(1, Kind::Float)?;
        Ok(lp
            .f_gather(1, &codes.f_unsqueeze(1)?, false)?
            .f_sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)?)
    }

    /// `n` seeded code grids given `map` (naive sampling: the grids are small).
    ///
    /// # Errors
    /// A missing or unexpected map, or a libtorch error.
    pub fn sample_given(&self, n: i64, seed: u64, map: Option<&Tensor>) -> Result<Tensor> {
        let (h, w) = self.grid;
        let device = self.net.device();
        let u = sampling::uniforms(n, h * w, seed, device)?;
        let codes = Tensor::f_zeros([n, h, w], (Kind::Int64, device))?;
        tch::no_grad(|| {
            for f in 0..h * w {
                let logits = self.logits(&codes, map)?.f_flatten(2, -1)?.f_select(2, f)?;
                let v = sampling::draw(Likelihood::Categorical, &logits, &u.f_select(1, f)?, 1.0)?;
                codes
                    .f_view([n, -1])?
                    .f_select(1, f)?
                    .f_copy_(&v.f_to_kind(Kind::Int64)?)?;
            }
            Ok(codes)
        })
    }
}

/// Codes `i64 [n, h, w]` in `0..k` as one-hot maps `f32 [n, k, h, w]`.
///
/// # Errors
/// A libtorch error for codes outside `0..k`.
pub fn one_hot_map(codes: &Tensor, k: i64) -> Result<Tensor> {
    Ok(codes
        .f_one_hot(k)?
        .f_permute([0, 3, 1, 2])?
        .f_to_kind(Kind::Float)?)
}

impl CodePrior for GatedCodePrior {
    fn num_codes(&self) -> i64 {
        self.k
    }
    fn grid(&self) -> (i64, i64) {
        self.grid
    }
    fn log_prob(&self, codes: &Tensor) -> Result<Tensor> {
        self.log_prob_given(codes, None)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.sample_given(n, seed, None)
    }
}

/// A shared handle, so that the VQ-VAE scores and samples with the prior this model trains.
#[derive(Debug)]
struct SharedPrior(Rc<GatedCodePrior>);

impl CodePrior for SharedPrior {
    fn num_codes(&self) -> i64 {
        self.0.num_codes()
    }
    fn grid(&self) -> (i64, i64) {
        self.0.grid()
    }
    fn log_prob(&self, codes: &Tensor) -> Result<Tensor> {
        self.0.log_prob(codes)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.0.sample(n, seed)
    }
}

/// The two-stage model's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The VQ-VAE (its `data` set from the dataset).
    pub vq: vq_vae::Config,
    /// The Gated PixelCNN prior's stacks (its `data` becomes the code grid).
    pub prior: gated::Config,
    /// Steps of stage 1 (the VQ-VAE); later steps train the prior.
    pub vq_steps: u64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (vq, prior, vq_steps) = match name {
            "mnist" => ("mnist", "mnist", 1500),
            "tiny" => ("tiny", "tiny", 10),
            _ => return None,
        };
        Some(Config {
            vq: vq_vae::Config::preset(vq)?,
            prior: gated::Config::preset(prior)?,
            vq_steps,
        })
    }
}

/// VQ-VAE plus Gated PixelCNN prior, trained in two stages.
#[derive(Debug)]
pub struct VqVaePixelCnn {
    pub cfg: Config,
    vq: VqVae,
    prior: Rc<GatedCodePrior>,
}

/// Variables of the prior live under this path; everything else is the VQ-VAE's.
pub(crate) const PRIOR_PATH: &str = "code_prior";

impl VqVaePixelCnn {
    /// # Errors
    /// As [`VqVae::new`] and [`GatedCodePrior::new`].
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let mut vq = VqVae::new(p, &cfg.vq)?;
        let prior = Rc::new(GatedCodePrior::new(
            &(p / PRIOR_PATH),
            &cfg.prior,
            cfg.vq.codebook_size,
            vq.code_prior_grid(),
        )?);
        vq.set_prior(Box::new(SharedPrior(Rc::clone(&prior))))?;
        Ok(VqVaePixelCnn {
            cfg: cfg.clone(),
            vq,
            prior,
        })
    }

    /// The prior over the VQ-VAE's codes.
    pub fn prior(&self) -> &GatedCodePrior {
        &self.prior
    }
}

/// Routes the VQ-VAE's own `minimize("model", ..)` to this model's `vq` group.
pub(crate) struct StageOne<'a>(pub(crate) &'a mut dyn Optimize);

impl Optimize for StageOne<'_> {
    fn minimize(&mut self, _group: &str, loss: &Tensor) -> Result<()> {
        self.0.minimize("vq", loss)
    }
    fn apply_grads(&mut self, _group: &str, grads: &[(Tensor, Tensor)]) -> Result<()> {
        self.0.apply_grads("vq", grads)
    }
    fn step(&self) -> u64 {
        self.0.step()
    }
    fn group_steps(&self, _group: &str) -> Result<u64> {
        self.0.group_steps("vq")
    }
}

impl Network for VqVaePixelCnn {
    fn name(&self) -> &str {
        "vq-vae-pixelcnn"
    }
    fn family(&self) -> Family {
        Family::Autoregressive
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn param_groups(&self, vs: &nn::VarStore) -> Option<Vec<ParamGroup>> {
        Some(two_stage_groups(vs))
    }
    fn train_step(&mut self, batch: &Batch, opt: &mut dyn Optimize) -> Result<Losses> {
        if opt.step() < self.cfg.vq_steps {
            return self.vq.train_step(batch, &mut StageOne(opt));
        }
        let codes = self.vq.batch_codes(&batch.x, Mode::Train)?;
        prior_step(&self.prior.log_prob(&codes)?, opt)
    }
    fn evaluate(&self, data: &Dataset, opts: &EvalOptions) -> Result<EvalReport> {
        self.vq.evaluate(data, opts)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        self.vq.sample(n, seed)
    }
    fn reconstructor(&self) -> Option<&dyn Reconstruct> {
        self.vq.reconstructor()
    }
    fn code_prior(&self) -> Option<&dyn CodePrior> {
        Some(self.prior.as_ref())
    }
}

/// The two groups of a two-stage VQ model: `vq` (everything outside [`PRIOR_PATH`]) and
/// `prior`.
pub(crate) fn two_stage_groups(vs: &nn::VarStore) -> Vec<ParamGroup> {
    let (prior, vq): (Vec<_>, Vec<_>) = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .partition(|(name, _)| name.starts_with(&format!("{PRIOR_PATH}.")));
    vec![
        ParamGroup {
            name: "vq".into(),
            vars: vq,
        },
        ParamGroup {
            name: "prior".into(),
            vars: prior,
        },
    ]
}

/// Stage two's step: minimizes the prior's mean NLL of a batch's codes (`log_prob [n]`) in group
/// `prior`.
pub(crate) fn prior_step(log_prob: &Tensor, opt: &mut dyn Optimize) -> Result<Losses> {
    let nll = log_prob.f_mean(Kind::Float)?.f_neg()?;
    opt.minimize("prior", &nll)?;
    Ok(Losses::new(nll.detach()).with("prior_nll", nll.detach()))
}
