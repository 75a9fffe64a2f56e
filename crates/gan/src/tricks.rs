//! The GAN training tricks, each a switch in a model's configuration ([`Tricks`], flattened
//! into the [`crate::Game`] keys), and the small pure functions they are made of:
//!
//! | key | trick | source |
//! |---|---|---|
//! | `feature_matching` | the generator matches the mean of the discriminator's last hidden features on real data instead of fooling it | Salimans et al. 2016, sec. 3.1 |
//! | `minibatch_discrimination` | `B` kernels of `C` dimensions: each example's L1 closeness to the rest of its batch, appended to the discriminator's features | Salimans et al. 2016, sec. 3.2 |
//! | `minibatch_stddev` | the batch's mean feature standard deviation, appended as one feature | Karras et al. 2018, sec. 3 |
//! | `historical_averaging` | each player pays `lambda \|theta - mean of its past theta\|^2` | Salimans et al. 2016, sec. 3.3 |
//! | `label_smoothing` | one-sided: the discriminator's target for real data is `1 - eps` | Salimans et al. 2016, sec. 3.4 |
//! | `instance_noise` | Gaussian noise of std `sigma` on every discriminator input, annealed linearly to 0 over `instance_noise_steps` | Sønderby et al. 2017; Arjovsky & Bottou 2017 |
//! | `spectral_norm` | every discriminator weight divided by its largest singular value (one power iteration per training step) | Miyato et al. 2018, eq. 8 and Algorithm 1 |
//! | `virtual_batch_norm` | the generator's batch norm takes its statistics from a fixed reference batch of `N` noise vectors plus the example itself, so that no example depends on the others of its batch | Salimans et al. 2016, sec. 3.4 |
//!
//! An EMA of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019) is the trainer's
//! `[train.ema]` with `groups = ["gen"]`: samples and evaluation then use the averaged weights.
//! Virtual batch normalization acts in the generators with batch norm (DCGAN's, InfoGAN's;
//! [`virtual_batch_norm`]); the MLP generators have none and refuse the key.
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use genzoo_core::{CoreError, Result};

/// The tricks' switches; every one off by default (the key absent from older configurations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tricks {
    /// Generator loss: `|E f(x) - E f(G(z))|^2` over the discriminator's last hidden features
    /// (Salimans et al. 2016, eq. in sec. 3.1) instead of the objective's.
    pub feature_matching: bool,
    /// Minibatch discrimination's kernels `[B, C]` (Salimans et al. 2016 use B = 100, C = 5);
    /// `null`: off.
    pub minibatch_discrimination: Option<[i64; 2]>,
    /// Append the batch's mean feature standard deviation (Karras et al. 2018).
    pub minibatch_stddev: bool,
    /// The weight lambda of historical averaging (0: off).
    pub historical_averaging: f64,
    /// One-sided label smoothing eps: real targets `1 - eps` (0: off; 0.1 is usual). For the
    /// objectives with a logistic discriminator (`minimax`, `non-saturating`).
    pub label_smoothing: f64,
    /// Instance noise std at step 0 (0: off), in model space (images in `[-1, 1]`).
    pub instance_noise: f64,
    /// Steps over which the instance noise falls linearly to 0.
    pub instance_noise_steps: u64,
    /// Spectral normalization of every discriminator weight (Miyato et al. 2018).
    pub spectral_norm: bool,
    /// Virtual batch normalization's reference batch size `N` (Salimans et al. 2016 draw it
    /// once; `null`: off, ordinary batch norm).
    pub virtual_batch_norm: Option<i64>,
}

impl Default for Tricks {
    fn default() -> Self {
        Tricks {
            feature_matching: false,
            minibatch_discrimination: None,
            minibatch_stddev: false,
            historical_averaging: 0.0,
            label_smoothing: 0.0,
            instance_noise: 0.0,
            instance_noise_steps: 10_000,
            spectral_norm: false,
            virtual_batch_norm: None,
        }
    }
}

impl Tricks {
    /// Checks the values, naming the key. `logistic`: whether the objective's discriminator is
    /// a logistic classifier (what label smoothing changes).
    ///
    /// # Errors
    /// [`CoreError::Config`] for `label_smoothing` outside `[0, 0.5)` or with another objective,
    /// a negative or non-finite `historical_averaging` or `instance_noise`,
    /// `instance_noise_steps` = 0 with noise on, kernel sizes below 1.
    pub fn validate(&self, logistic: bool) -> Result<()> {
        let ls = self.label_smoothing;
        if !(0.0..0.5).contains(&ls) {
            return Err(CoreError::config(
                "label_smoothing",
                format!("{ls} must be in [0, 0.5)"),
            ));
        }
        if ls > 0.0 && !logistic {
            return Err(CoreError::config(
                "label_smoothing",
                "one-sided label smoothing changes a logistic discriminator's targets: use the minimax or non-saturating objective",
            ));
        }
        for (key, v) in [
            ("historical_averaging", self.historical_averaging),
            ("instance_noise", self.instance_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(CoreError::config(
                    key,
                    format!("{v} must be finite and >= 0"),
                ));
            }
        }
        if self.instance_noise > 0.0 && self.instance_noise_steps == 0 {
            return Err(CoreError::config("instance_noise_steps", "must be >= 1"));
        }
        if let Some(n) = self.virtual_batch_norm.filter(|&n| n < 1) {
            return Err(CoreError::config(
                "virtual_batch_norm",
                format!("the reference batch needs >= 1 example, got {n}"),
            ));
        }
        if let Some([b, c]) = self.minibatch_discrimination {
            if b < 1 || c < 1 {
                return Err(CoreError::config(
                    "minibatch_discrimination",
                    format!("kernels [B, C] = [{b}, {c}] must be >= 1"),
                ));
            }
        }
        Ok(())
    }

    /// Features the discriminator head appends: `B` for minibatch discrimination, 1 for the
    /// minibatch standard deviation.
    pub fn extra_features(&self) -> i64 {
        self.minibatch_discrimination.map_or(0, |[b, _]| b) + i64::from(self.minibatch_stddev)
    }

    /// The instance noise std at training step `step`: `sigma (1 - step / steps)`, 0 after.
    pub fn instance_noise_at(&self, step: u64) -> f64 {
        if self.instance_noise == 0.0 {
            return 0.0;
        }
        let left = 1.0 - step as f64 / self.instance_noise_steps as f64;
        self.instance_noise * left.max(0.0)
    }
}

/// Virtual batch normalization (Salimans et al. 2016, sec. 3.4) of maps `h [N + b, c, ...]`
/// whose first `N` rows come from the reference batch: the reference rows are normalized with
/// their own per-channel statistics, and each other row `i` with those of the reference batch
/// and itself, `mu_i = (N mu_ref + m_i) / (N + 1)` and likewise for the mean square (`m_i` the
/// mean over row i's positions), then scaled by `gamma` and shifted by `beta` (`[c]`).
///
/// # Errors
/// [`CoreError::Shape`] (`h`) for fewer than `N + 1` rows or fewer than 2 dimensions; a libtorch
/// error.
pub fn virtual_batch_norm(
    h: &Tensor,
    n_ref: i64,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
) -> Result<Tensor> {
    let size = h.size();
    if size.len() < 2 || size[0] <= n_ref || n_ref < 1 {
        return Err(CoreError::shape(
            "h",
            format!("virtual batch norm of {size:?} with a reference batch of {n_ref}"),
        ));
    }
    let eps = 1e-5;
    // Per-row, per-channel means of h and h^2 over positions: [N + b, c].
    let spatial: Vec<i64> = (2..size.len() as i64).collect();
    let row_mean = |t: &Tensor| -> Result<Tensor> {
        Ok(if spatial.is_empty() {
            t.shallow_clone()
        } else {
            t.f_mean_dim(spatial.as_slice(), false, Kind::Float)?
        })
    };
    let (m, sq) = (row_mean(h)?, row_mean(&h.f_square()?)?);
    let (m_ref, sq_ref) = (
        m.f_narrow(0, 0, n_ref)?.f_mean_dim(0, true, Kind::Float)?,
        sq.f_narrow(0, 0, n_ref)?.f_mean_dim(0, true, Kind::Float)?,
    );
    let w = n_ref as f64 / (n_ref + 1) as f64;
    let mix = |r: &Tensor, own: &Tensor| -> Result<Tensor> {
        Ok(r.f_mul_scalar(w)?.f_add(&own.f_mul_scalar(1.0 - w)?)?)
    };
    let b = size[0] - n_ref;
    let mu = Tensor::f_cat(
        &[
            m_ref.f_expand([n_ref, -1], false)?,
            mix(&m_ref, &m.f_narrow(0, n_ref, b)?)?,
        ],
        0,
    )?;
    let ms = Tensor::f_cat(
        &[
            sq_ref.f_expand([n_ref, -1], false)?,
            mix(&sq_ref, &sq.f_narrow(0, n_ref, b)?)?,
        ],
        0,
    )?;
    let var = ms.f_sub(&mu.f_square()?)?.f_clamp_min(0.0)?;
    let mut view = vec![size[0], size[1]];
    view.extend(std::iter::repeat_n(1, spatial.len()));
    let (mu, var) = (mu.f_view(view.as_slice())?, var.f_view(view.as_slice())?);
    let mut out = h.f_sub(&mu)?.f_div(&var.f_add_scalar(eps)?.f_sqrt()?)?;
    let mut chan = vec![1, size[1]];
    chan.extend(std::iter::repeat_n(1, spatial.len()));
    if let Some(g) = gamma {
        out = out.f_mul(&g.f_view(chan.as_slice())?)?;
    }
    if let Some(bt) = beta {
        out = out.f_add(&bt.f_view(chan.as_slice())?)?;
    }
    Ok(out)
}

/// `x + sigma eps`, `eps ~ N(0, I)` from torch's generator; `x` itself for `sigma = 0`.
///
/// # Errors
/// A libtorch error.
pub fn add_instance_noise(x: &Tensor, sigma: f64) -> Result<Tensor> {
    if sigma == 0.0 {
        return Ok(x.shallow_clone());
    }
    Ok(x.f_add(&x.f_randn_like()?.f_mul_scalar(sigma)?)?)
}

/// The logistic discriminator's loss with one-sided label smoothing (Salimans et al. 2016,
/// sec. 3.4): the cross-entropy of real logits `[b]` against the target `1 - eps` and of
/// generated logits `[m]` against 0, `-E[(1 - eps) log D(x) + eps log(1 - D(x))] - E log(1 -
/// D(G(z)))`; the minimax `d_loss` at `eps = 0`.
///
/// # Errors
/// A libtorch error.
pub fn smoothed_logistic_d(real: &Tensor, fake: &Tensor, eps: f64) -> Result<Tensor> {
    let r = real
        .f_log_sigmoid()?
        .f_mul_scalar(1.0 - eps)?
        .f_add(&real.f_neg()?.f_log_sigmoid()?.f_mul_scalar(eps)?)?;
    let f = fake.f_neg()?.f_log_sigmoid()?;
    Ok(r.f_mean(Kind::Float)?
        .f_add(&f.f_mean(Kind::Float)?)?
        .f_neg()?)
}

/// Feature matching (Salimans et al. 2016, sec. 3.1): `|mean_b f(x) - mean_b f(G(z))|_2^2` for
/// features `[b, k]` and `[m, k]`; the real side is detached (the generator's loss).
///
/// # Errors
/// [`CoreError::Shape`] (`features`) for feature widths that differ; a libtorch error.
pub fn feature_matching(real: &Tensor, fake: &Tensor) -> Result<Tensor> {
    if real.dim() != 2 || fake.dim() != 2 || real.size()[1] != fake.size()[1] {
        return Err(CoreError::shape(
            "features",
            format!(
                "real {:?} and generated {:?} must be [n, k] alike",
                real.size(),
                fake.size()
            ),
        ));
    }
    let d = real
        .detach()
        .f_mean_dim(0, false, Kind::Float)?
        .f_sub(&fake.f_mean_dim(0, false, Kind::Float)?)?;
    Ok(d.f_square()?.f_sum(Kind::Float)?)
}

/// Historical averaging (Salimans et al. 2016, sec. 3.3) for one player: the running mean of its
/// past weights, kept as untrained variables (`hist.disc.0`, ...) so that checkpoints hold it.
#[derive(Debug)]
pub struct HistoricalAverage {
    means: Vec<Tensor>,
}

impl HistoricalAverage {
    /// Zero means shaped like `params` under `p` (`p / "0"`, `p / "1"`, ...).
    pub fn new(p: &nn::Path, params: &[Tensor]) -> Self {
        let means = params
            .iter()
            .enumerate()
            .map(|(i, t)| p.zeros_no_train(&i.to_string(), &t.size()))
            .collect();
        HistoricalAverage { means }
    }

    /// `lambda sum |theta - mean|^2` over the player's `params` (in the order given at
    /// construction), a scalar that back-propagates into `params`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`historical average`) when `params` are not those it was built for.
    pub fn penalty(&self, params: &[Tensor], lambda: f64) -> Result<Tensor> {
        self.check(params)?;
        let mut total = Tensor::f_zeros([], (Kind::Float, params[0].device()))?;
        for (t, m) in params.iter().zip(&self.means) {
            total = total.f_add(&t.f_sub(m)?.f_square()?.f_sum(Kind::Float)?)?;
        }
        Ok(total.f_mul_scalar(lambda)?)
    }

    /// Adds the weights after the player's `count`-th step (1, 2, ...) to the mean:
    /// `mean <- mean + (theta - mean) / count`; the first step's weights replace the zeros.
    ///
    /// # Errors
    /// As [`HistoricalAverage::penalty`].
    pub fn update(&self, params: &[Tensor], count: u64) -> Result<()> {
        self.check(params)?;
        let w = 1.0 / count.max(1) as f64;
        tch::no_grad(|| -> Result<()> {
            for (t, m) in params.iter().zip(&self.means) {
                let step = t.f_sub(m)?.f_mul_scalar(w)?;
                let _ = m.shallow_clone().f_add_(&step)?;
            }
            Ok(())
        })
    }

    fn check(&self, params: &[Tensor]) -> Result<()> {
        let same = params.len() == self.means.len()
            && params
                .iter()
                .zip(&self.means)
                .all(|(a, b)| a.size() == b.size());
        if !same || params.is_empty() {
            return Err(CoreError::shape(
                "historical average",
                format!(
                    "built for {} tensors, given {}",
                    self.means.len(),
                    params.len()
                ),
            ));
        }
        Ok(())
    }
}

/// One cell of the tricks table: a name, the model-config overrides that switch the trick on,
/// and the trainer's EMA for the one trick that lives there.
#[derive(Clone, Debug)]
pub struct TrickCell {
    pub name: &'static str,
    pub overrides: serde_json::Value,
    pub ema: Option<genzoo_train::EmaConfig>,
}

/// The tricks table's cells for a run of `steps` steps of `model`: the plain game, then each
/// trick alone (instance noise annealed over the first half of the run; virtual batch norm with
/// a reference batch of 64 only for the models whose generator has batch norm, `dcgan` and
/// `infogan`), then the EMA with each batch-level feature.
pub fn ablation_cells(steps: u64, model: &str) -> Vec<TrickCell> {
    let mut cells = trick_cells(steps);
    if matches!(model, "dcgan" | "infogan") {
        cells.insert(
            8,
            TrickCell {
                name: "virtual batch norm 64",
                overrides: serde_json::json!({"virtual_batch_norm": 64}),
                ema: None,
            },
        );
    }
    cells
}

fn trick_cells(steps: u64) -> Vec<TrickCell> {
    use serde_json::json;
    let ema = || {
        Some(genzoo_train::EmaConfig {
            groups: vec![crate::game::GEN.to_string()],
            ..genzoo_train::EmaConfig::default()
        })
    };
    let cell = |name, overrides| TrickCell {
        name,
        overrides,
        ema: None,
    };
    vec![
        cell("plain", json!({})),
        cell("label smoothing 0.1", json!({"label_smoothing": 0.1})),
        cell(
            "instance noise 0.1",
            json!({"instance_noise": 0.1, "instance_noise_steps": (steps / 2).max(1)}),
        ),
        cell("feature matching", json!({"feature_matching": true})),
        cell(
            "minibatch discrimination [32, 5]",
            json!({"minibatch_discrimination": [32, 5]}),
        ),
        cell("minibatch stddev", json!({"minibatch_stddev": true})),
        cell(
            "historical averaging 0.01",
            json!({"historical_averaging": 0.01}),
        ),
        cell("spectral norm", json!({"spectral_norm": true})),
        TrickCell {
            name: "EMA of G 0.999",
            overrides: json!({}),
            ema: ema(),
        },
        TrickCell {
            name: "EMA + minibatch stddev",
            overrides: json!({"minibatch_stddev": true}),
            ema: ema(),
        },
        TrickCell {
            name: "EMA + minibatch discrimination",
            overrides: json!({"minibatch_discrimination": [32, 5]}),
            ema: ema(),
        },
    ]
}
