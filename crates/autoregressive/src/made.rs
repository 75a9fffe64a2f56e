//! MADE as a density model of binarized images (Germain, Gregor, Murray & Larochelle 2015,
//! "MADE: Masked Autoencoder for Distribution Estimation"), on core's masked layers
//! (`genzoo_core::layers::made`).
//!
//! * Order-agnostic training (sec. 4): each training step draws one of `masks` orderings of the
//!   pixels and trains the conditionals of that ordering.
//! * Connectivity-agnostic training (sec. 4): the hidden units' degrees are redrawn with the same
//!   draw, so each of the `masks` draws is a different masked network sharing the weights.
//! * The test-time ensemble (sec. 4, "we can also average over orderings"): the likelihood of
//!   the uniform mixture of the first `ensemble` draws, `log (1/K) sum_k p_k(x)`. It is still an
//!   exact likelihood (of the mixture model), and sampling draws a mixture component first.
//!
//! The draw used by training comes from the trainer's seeded generator (see
//! [`crate::model::Autoregressive::start_step`]), so resumed runs are exact.
//!
//! Training computes MADE's gradients itself ([`Autoregressive::nll_and_grads`]: the Bernoulli
//! NLL's gradient `(sigmoid(l) - x) / b` back-propagated by
//! `genzoo_core::layers::made_backprop` in buffers kept from step to step), the same numbers as
//! autograd's up to rounding, without its graph or a fresh tensor of the network's size per
//! step. With one fixed mask the masked products skip the zero blocks of its staircases
//! (`Products::Blocked`).
//!
//! Cached sampling: the first hidden layer's pre-activation is kept and updated by one column of
//! its (masked) weight after each draw, `a += W[:, d] x_d`, and only the output of the next
//! dimension is computed, so a step costs `O(H)` for one hidden layer instead of a whole pass.
use std::cell::{Cell, RefCell};

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::model::{check_input, commit, Autoregressive, CachedSample, SampleJob, StepGrads};
use crate::sampling;
use genzoo_core::data::DataKind;
use genzoo_core::layers::made::{made_masks, mask_tensor};
use genzoo_core::layers::{Made as MadeNet, MadeConfig, MadeWorkspace, Ordering, Products};
use genzoo_core::obs::{Likelihood, Prepared};
use genzoo_core::{CoreError, Result};

/// MADE's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The images modelled (set from the dataset); binarized, Bernoulli conditionals.
    pub data: DataKind,
    /// Hidden layer widths.
    pub hidden: Vec<i64>,
    /// Train over `masks` random orderings (1 with `order_agnostic = false`: the natural order).
    pub order_agnostic: bool,
    /// Redraw hidden degrees with each mask draw.
    pub connectivity_agnostic: bool,
    /// Number of distinct mask draws cycled through in training.
    pub masks: u64,
    /// Orderings averaged at test time (at most `masks`).
    pub ensemble: u64,
}

/// Preset names.
pub const PRESETS: &[&str] = &["mnist", "paper", "tiny"];

impl Config {
    /// A named preset (data kind filled in by the catalogue).
    pub fn preset(name: &str) -> Option<Config> {
        let (hidden, order_agnostic, masks, ensemble) = match name {
            // Table 6: one hidden layer of 8000 units, 32 masks, connectivity-agnostic.
            "paper" => (vec![8000], true, 32, 32),
            "mnist" => (vec![500], false, 1, 1),
            "tiny" => (vec![12, 12], true, 4, 4),
            _ => return None,
        };
        Some(Config {
            data: DataKind::Image {
                channels: 1,
                height: 28,
                width: 28,
            },
            hidden,
            order_agnostic,
            connectivity_agnostic: order_agnostic,
            masks,
            ensemble,
        })
    }
}

/// MADE over flattened binarized images.
#[derive(Debug)]
pub struct Made {
    pub cfg: Config,
    net: MadeNet,
    /// The mask draw the layers hold now.
    draw: Cell<u64>,
    device: tch::Device,
    /// The analytic training step's buffers, for the last batch size seen.
    step_buffers: RefCell<Option<StepBuffers>>,
}

/// Groups of rows (and of columns) per mask in the blocked products of a one-mask MADE: 4 does
/// 62.5% of the dense work on the `mnist` preset's staircases (784-500-784).
const PRODUCT_GROUPS: i64 = 4;

/// The buffers of [`Made`]'s analytic training step for one batch size.
#[derive(Debug)]
struct StepBuffers {
    ws: MadeWorkspace,
    /// `dNLL/dlogits`, `[b, D]`.
    grad_logits: Tensor,
}

impl Made {
    /// # Errors
    /// [`CoreError::Config`] for non-image data, no hidden layer, `masks` or `ensemble` of 0, or
    /// an ensemble larger than the set of masks.
    pub fn new(p: &nn::Path, cfg: &Config) -> Result<Self> {
        if !cfg.data.is_image() {
            return Err(CoreError::config(
                "data",
                "MADE here models binarized images",
            ));
        }
        if cfg.masks == 0 || cfg.ensemble == 0 || cfg.ensemble > cfg.masks {
            return Err(CoreError::config(
                "made.ensemble",
                format!(
                    "need 1 <= ensemble ({}) <= masks ({})",
                    cfg.ensemble, cfg.masks
                ),
            ));
        }
        let net = MadeNet::new(
            &(p / "made"),
            &MadeConfig {
                input_dim: cfg.data.dims(),
                hidden: cfg.hidden.clone(),
                out_per_dim: 1,
                ordering: Ordering::Natural,
                random_degrees: cfg.connectivity_agnostic.then_some(0),
                context_dim: 0,
            },
        )?;
        let made = Made {
            cfg: cfg.clone(),
            net,
            draw: Cell::new(u64::MAX),
            device: p.device(),
            step_buffers: RefCell::new(None),
        };
        made.use_draw(0)?;
        Ok(made)
    }

    /// The ordering of draw `k`: position of every pixel (natural for draw 0 of a fixed-order
    /// model).
    pub fn positions(&self, k: u64) -> Vec<usize> {
        let d = self.cfg.data.dims() as usize;
        let mut p: Vec<usize> = (0..d).collect();
        if self.cfg.order_agnostic {
            p.shuffle(&mut genzoo_core::seed::rng(0, "made-order", k));
        }
        p
    }

    /// Puts the masks of draw `k % masks` into the layers.
    ///
    /// # Errors
    /// A libtorch error when the masks cannot be written.
    pub fn use_draw(&self, k: u64) -> Result<()> {
        let k = k % self.cfg.masks;
        if self.draw.get() == k {
            return Ok(());
        }
        let degrees: Vec<usize> = self.positions(k).iter().map(|&p| p + 1).collect();
        let masks = made_masks(
            &degrees,
            &self.cfg.hidden,
            1,
            self.net.cfg.random_degrees,
            k,
        )?;
        for (layer, m) in self.net.layers.iter().zip(&masks) {
            layer.set_mask(&mask_tensor(m).f_to_device(self.device)?)?;
        }
        self.draw.set(k);
        Ok(())
    }

    fn log_prob_current(&self, prep: &Prepared) -> Result<Tensor> {
        let params = self.params(&prep.input, None, false)?;
        Likelihood::Bernoulli.log_prob(&params, &prep.target)
    }
}

impl Autoregressive for Made {
    fn name(&self) -> &str {
        "made"
    }
    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).unwrap_or_default()
    }
    fn data(&self) -> DataKind {
        self.cfg.data
    }
    fn device(&self) -> tch::Device {
        self.device
    }
    fn likelihood(&self) -> Likelihood {
        Likelihood::Bernoulli
    }
    fn params(&self, input: &Tensor, _labels: Option<&Tensor>, _train: bool) -> Result<Tensor> {
        check_input(&self.cfg.data, input)?;
        let mut shape = input.size();
        let n = shape[0];
        let logits = self.net.forward(&input.f_reshape([n, -1])?, None)?;
        shape.insert(1, 1);
        Ok(logits.f_reshape(shape.as_slice())?)
    }
    fn log_prob(&self, prep: &Prepared, _labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let k = self.cfg.ensemble;
        if train || k == 1 {
            return self.log_prob_current(prep);
        }
        let mut parts = Vec::with_capacity(k as usize);
        for d in 0..k {
            self.use_draw(d)?;
            parts.push(self.log_prob_current(prep)?);
        }
        self.use_draw(0)?;
        Ok(Tensor::f_stack(&parts, 0)?
            .f_logsumexp([0], false)?
            .f_sub_scalar((k as f64).ln())?
            .f_to_kind(Kind::Float)?)
    }
    fn nll_and_grads(
        &self,
        prep: &Prepared,
        _labels: Option<&Tensor>,
    ) -> Result<Option<StepGrads>> {
        check_input(&self.cfg.data, &prep.input)?;
        let n = prep.input.size()[0];
        let x = prep.input.f_reshape([n, -1])?;
        let target = prep.target.f_reshape([n, -1])?;
        let mut slot = self.step_buffers.borrow_mut();
        if !slot.as_ref().is_some_and(|b| b.ws.fits(&self.net, n)) {
            // One fixed mask: compute only its staircase's blocks. Masks redrawn at every step:
            // dense products (reading each new mask's blocks would cost a pass over it).
            let products = if self.cfg.masks == 1 {
                Products::Blocked {
                    groups: PRODUCT_GROUPS,
                }
            } else {
                Products::Dense
            };
            *slot = Some(StepBuffers {
                ws: MadeWorkspace::new(&self.net, n, products)?,
                grad_logits: x.f_empty_like()?,
            });
        }
        let Some(buf) = slot.as_mut() else {
            return Ok(None);
        };
        let _guard = tch::no_grad_guard();
        let logits = self.net.forward_train(&x, &mut buf.ws)?;
        // -log p(x) = sum_d BCE(l_d, x_d), averaged over the batch; d/dl = (sigmoid(l) - x) / n.
        let nll = logits
            .f_binary_cross_entropy_with_logits(
                &target,
                None::<Tensor>,
                None::<Tensor>,
                tch::Reduction::Sum,
            )?
            .f_div_scalar(n as f64)?;
        let _ = logits.f_sigmoid_out(&buf.grad_logits)?;
        let _ = buf.grad_logits.f_sub_(&target)?.f_div_scalar_(n as f64)?;
        let grads = self.net.backprop(&mut buf.ws, &buf.grad_logits)?;
        Ok(Some(StepGrads { nll, grads }))
    }
    fn order(&self) -> Vec<i64> {
        // Generate pixels in the order of the draw the masks hold.
        let pos = self.positions(self.draw.get());
        let mut order = vec![0i64; pos.len()];
        for (pixel, &p) in pos.iter().enumerate() {
            order[p] = pixel as i64;
        }
        order
    }
    fn start_step(&mut self, draw: u64) -> Result<()> {
        self.use_draw(if self.cfg.masks > 1 { draw } else { 0 })
    }
    fn cached(&self) -> Option<&dyn CachedSample> {
        Some(self)
    }
    fn begin_sampling(&self, seed: u64) -> Result<()> {
        // A sample of the ensemble: one mixture component per call, drawn from the seed.
        self.use_draw(genzoo_core::seed::derive(seed, "made-component", 0) % self.cfg.ensemble)
    }
}

impl CachedSample for Made {
    fn sample_cached(&self, job: &SampleJob) -> Result<Tensor> {
        let layers = &self.net.layers;
        let weights: Vec<Tensor> = layers.iter().map(|l| &l.weight * &l.mask).collect();
        let (first, last) = match (weights.first(), weights.last()) {
            (Some(f), Some(l)) if weights.len() >= 2 => (f, l),
            _ => return Err(CoreError::Invalid("MADE needs a hidden layer".into())),
        };
        let mut full = vec![job.n];
        full.extend(self.cfg.data.example_shape());
        let canvas = Tensor::f_zeros(full.as_slice(), (Kind::Float, job.u.device()))?;
        let flat = canvas.f_view([job.n, -1])?;
        let mut a = layers[0]
            .bias
            .f_unsqueeze(0)?
            .f_expand([job.n, layers[0].bias.size()[0]], false)?
            .f_contiguous()?;
        let bias_out = &layers[layers.len() - 1].bias;
        for f in self.order() {
            let mut h = a.f_relu()?;
            for (l, w) in layers[1..layers.len() - 1].iter().zip(&weights[1..]) {
                h = h.f_linear(w, Some(&l.bias))?.f_relu()?;
            }
            let logit = h
                .f_matmul(&last.f_select(0, f)?)?
                .f_add(&bias_out.f_select(0, f)?)?
                .f_unsqueeze(1)?;
            let u = job.u.f_select(1, f)?;
            let value = sampling::draw(Likelihood::Bernoulli, &logit, &u, job.temperature)?;
            commit(&canvas, f, Likelihood::Bernoulli, &value, job)?;
            let x_f = flat.f_select(1, f)?.f_unsqueeze(1)?;
            a = a.f_add(&x_f.f_mul(&first.f_select(1, f)?.f_unsqueeze(0)?)?)?;
        }
        Ok(canvas)
    }
}
