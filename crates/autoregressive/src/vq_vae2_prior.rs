//! VQ-VAE-2 with its pair of PixelCNN priors (Razavi, van den Oord & Vinyals 2019, sec. 3.2 and
//! Fig. 2b): a Gated PixelCNN over the top codes, and one over the bottom codes conditioned on the
//! top codes (their one-hot map, upsampled to the bottom grid, added to every layer), so that
//! `p(top, bottom) = p(top) p(bottom | top)`.
//!
//! [`VqVae2PixelCnn`] trains in two stages in one run, as [`crate::vq_prior::VqVaePixelCnn`]
//! does: the VQ-VAE-2 for `vq_steps` steps (group `vq`), then both priors with the VQ-VAE-2
//! frozen (group `prior`). Evaluation reports the bound `-log p(x | z) - log p(top) -
//! log p(bottom | top)`; samples draw the top codes, then the bottom codes given them, then decode.
use genzoo_core::model::Family;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::gated_pixel_cnn as gated;
use crate::vq_prior::{
    one_hot_map, prior_step, two_stage_groups, GatedCodePrior, StageOne, PRIOR_PATH,
};
use genzoo_core::data::{Batch, Dataset};
use genzoo_core::model::{
    EvalOptions, EvalReport, Losses, Network, Optimize, ParamGroup, Reconstruct,
};
use genzoo_core::obs::Mode;
use genzoo_core::Result;
use genzoo_vae::vq_vae::Config as VqConfig;
use genzoo_vae::vq_vae2::{self, Codes2, LevelPriors, VqVae2};

/// The top prior and the bottom prior given the top.
#[derive(Debug)]
pub struct PixelCnnPriors {
    pub top: GatedCodePrior,
    pub bottom: GatedCodePrior,
    k: i64,
    bottom_grid: (i64, i64),
}

impl PixelCnnPriors {
    /// Both priors under `p / "top"` and `p / "bottom"`.
    ///
    /// # Errors
    /// As [`GatedCodePrior::conditioned`].
    pub fn new(
        p: &nn::Path,
        cfg: &gated::Config,
        k: i64,
        grids: ((i64, i64), (i64, i64)),
    ) -> Result<Self> {
        Ok(PixelCnnPriors {
            top: GatedCodePrior::new(&(p / "top"), cfg, k, grids.0)?,
            bottom: GatedCodePrior::conditioned(&(p / "bottom"), cfg, k, grids.1, k)?,
            k,
            bottom_grid: grids.1,
        })
    }

    /// The top codes as the bottom prior's condition: one-hot, nearest-upsampled to the bottom
    /// grid, `[n, K, h_b, w_b]`.
    fn condition(&self, top: &Tensor) -> Result<Tensor> {
        let (h, w) = self.bottom_grid;
        Ok(one_hot_map(top, self.k)?.f_upsample_nearest2d([h, w], None, None)?)
    }
}

impl LevelPriors for PixelCnnPriors {
    fn num_codes(&self) -> i64 {
        self.k
    }
    fn grids(&self) -> ((i64, i64), (i64, i64)) {
        (
            genzoo_core::model::CodePrior::grid(&self.top),
            self.bottom_grid,
        )
    }
    fn log_prob(&self, codes: &Codes2) -> Result<Tensor> {
        let top = self.top.log_prob_given(&codes.top, None)?;
        let map = self.condition(&codes.top)?;
        Ok(top.f_add(&self.bottom.log_prob_given(&codes.bottom, Some(&map))?)?)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Codes2> {
        let top = self
            .top
            .sample_given(n, genzoo_core::seed::derive(seed, "vq2-top", 0), None)?;
        let map = self.condition(&top)?;
        let bottom = self.bottom.sample_given(
            n,
            genzoo_core::seed::derive(seed, "vq2-bottom", 0),
            Some(&map),
        )?;
        Ok(Codes2 { top, bottom })
    }
}

#[derive(Debug)]
struct SharedPriors(Rc<PixelCnnPriors>);

impl LevelPriors for SharedPriors {
    fn num_codes(&self) -> i64 {
        self.0.num_codes()
    }
    fn grids(&self) -> ((i64, i64), (i64, i64)) {
        self.0.grids()
    }
    fn log_prob(&self, codes: &Codes2) -> Result<Tensor> {
        self.0.log_prob(codes)
    }
    fn sample(&self, n: i64, seed: u64) -> Result<Codes2> {
        self.0.sample(n, seed)
    }
}

/// The two-stage model's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The VQ-VAE-2 (its `data` set from the dataset).
    pub vq: VqConfig,
    /// Both priors' stacks (their `data` become the code grids).
    pub prior: gated::Config,
    /// Steps of stage 1 (the VQ-VAE-2); later steps train the priors.
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
            vq: vq_vae2::preset(vq)?,
            prior: gated::Config::preset(prior)?,
            vq_steps,
        })
    }
}

/// VQ-VAE-2 plus its two Gated PixelCNN priors, trained in two stages.
#[derive(Debug)]
pub struct VqVae2PixelCnn {
    pub cfg: Config,
    vq: VqVae2,
    priors: Rc<PixelCnnPriors>,
}

impl VqVae2PixelCnn {
    /// # Errors
    /// As [`VqVae2::new`] and [`PixelCnnPriors::new`].
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        let mut vq = VqVae2::new(p, &cfg.vq)?;
        let priors = Rc::new(PixelCnnPriors::new(
            &(p / PRIOR_PATH),
            &cfg.prior,
            cfg.vq.codebook_size,
            vq.grids(),
        )?);
        vq.set_level_priors(Box::new(SharedPriors(Rc::clone(&priors))))?;
        Ok(VqVae2PixelCnn {
            cfg: cfg.clone(),
            vq,
            priors,
        })
    }

    /// The pair of priors.
    pub fn priors(&self) -> &PixelCnnPriors {
        &self.priors
    }
}

impl Network for VqVae2PixelCnn {
    fn name(&self) -> &str {
        "vq-vae2-pixelcnn"
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
        prior_step(&self.priors.log_prob(&codes)?, opt)
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
}
