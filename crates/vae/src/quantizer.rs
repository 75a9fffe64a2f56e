//! The vector quantizer of VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017) and VQ-VAE-2
//! (Razavi et al. 2019), and the per-position categorical prior over its codes.
//!
//! * Nearest-neighbour assignment `k(x) = argmin_j ||z_e(x) - e_j||` (eq. 1-2).
//! * Straight-through gradient: `z_q = z_e + sg(e_k - z_e)`, so the decoder's gradient is copied
//!   to the encoder (sec. 3.2).
//! * Loss terms (eq. 3): the codebook term `||sg(z_e) - e||^2` (when the codebook is learned by
//!   gradient) and the commitment term `||z_e - sg(e)||^2`, weighted by beta by the model.
//! * EMA codebook updates (appendix A.1, eq. 6-8): `N_i <- g N_i + (1-g) n_i`,
//!   `m_i <- g m_i + (1-g) sum_j z_{i,j}`, `e_i = m_i / N_i` with Laplace-smoothed `N_i`; the
//!   state starts at `N_i = 1`, `m_i = e_i`, so every update is a convex combination of the
//!   old code and the mean of its assigned vectors.
//! * Dead-code restarts (Dhariwal et al. 2020, Jukebox, sec. 2.4 / B.1): a code whose moving
//!   average usage (assignments per step) falls below `dead_threshold` is reset to a random
//!   encoder output of the current batch. Usage starts at 0, so the first training step
//!   initializes every code from the data.
//! * Usage and perplexity `exp(H(mean one-hot))` of the assignments.
//!
//! Shapes: `z_e [b, D, h, w]`, codes `[b, h, w]` (`i64`), codebook `[K, D]`.
use genzoo_core::model::CodePrior;
use genzoo_core::{CoreError, Result};
use tch::{nn, Kind, Tensor};

/// What the quantizer returns for a batch.
#[derive(Debug)]
pub struct Quantized {
    /// Straight-through quantized vectors `[b, D, h, w]`.
    pub z_q: Tensor,
    /// Code indices `[b, h, w]`.
    pub codes: Tensor,
    /// `||z_e - sg(e)||^2`, mean over elements.
    pub commitment: Tensor,
    /// `||sg(z_e) - e||^2` (zero when the codebook is updated by EMA).
    pub codebook: Tensor,
    /// `exp(entropy)` of the batch's code frequencies.
    pub perplexity: Tensor,
}

/// A codebook of `K` vectors of dimension `D`.
#[derive(Debug)]
pub struct Quantizer {
    /// Codebook `[K, D]` (trainable unless EMA is on).
    pub embed: Tensor,
    /// EMA state `(cluster_size [K], embed_sum [K, D])` when updated by EMA.
    ema: Option<(Tensor, Tensor)>,
    /// Moving-average assignments per step `[K]`.
    pub usage: Tensor,
    pub k: i64,
    pub d: i64,
    decay: f64,
    eps: f64,
    dead_threshold: f64,
}

impl Quantizer {
    /// `ema`: update the codebook by moving averages with `decay` instead of by gradient.
    /// `dead_threshold`: usage (assignments per step) below which a code is restarted (0 = never).
    ///
    /// # Errors
    /// [`CoreError::Config`] when `k` or `d` is < 1 (`codebook_size/code_dim`) or `decay` is
    /// outside [0, 1) (`decay`); a libtorch error creating the variables.
    pub fn new(
        p: &nn::Path,
        k: i64,
        d: i64,
        ema: bool,
        decay: f64,
        dead_threshold: f64,
    ) -> Result<Self> {
        if k < 1 || d < 1 {
            return Err(CoreError::config(
                "codebook_size/code_dim",
                format!("must be >= 1, got K={k}, D={d}"),
            ));
        }
        if !(0.0..1.0).contains(&decay) {
            return Err(CoreError::config(
                "decay",
                format!("must lie in [0, 1), got {decay}"),
            ));
        }
        let bound = 1.0 / k as f64;
        let (embed, ema) = if ema {
            let e = p.f_zeros_no_train("embed", &[k, d])?;
            let _ = tch::no_grad(|| e.shallow_clone().f_uniform_(-bound, bound))?;
            let cs = p.ones_no_train("cluster_size", &[k]); // as if each code had one vector: e stays put
            let sum = p.f_zeros_no_train("embed_sum", &[k, d])?;
            tch::no_grad(|| sum.shallow_clone().copy_(&e));
            (e, Some((cs, sum)))
        } else {
            (
                p.f_var(
                    "embed",
                    &[k, d],
                    nn::Init::Uniform {
                        lo: -bound,
                        up: bound,
                    },
                )?,
                None,
            )
        };
        let usage = p.zeros_no_train("usage", &[k]);
        Ok(Quantizer {
            embed,
            ema,
            usage,
            k,
            d,
            decay,
            eps: 1e-5,
            dead_threshold,
        })
    }

    /// Nearest codes of `z_e [b, D, h, w]`: `[b, h, w]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`z_e`) when `z_e` is not `[b, D, h, w]` with this codebook's `D`; a
    /// libtorch error.
    pub fn codes(&self, z_e: &Tensor) -> Result<Tensor> {
        let (flat, shape) = self.flatten(z_e)?;
        let idx = self.nearest(&flat)?;
        Ok(idx.f_reshape([shape[0], shape[2], shape[3]])?)
    }

    /// The code vectors of `codes [b, h, w]`: `[b, D, h, w]`.
    ///
    /// # Errors
    /// A libtorch error when `codes` holds an index outside `0..K`.
    pub fn lookup(&self, codes: &Tensor) -> Result<Tensor> {
        let e = self.embed.f_index_select(0, &codes.f_flatten(0, -1)?)?; // [n, D]
        let s = codes.size();
        Ok(e.f_reshape([s[0], s[1], s[2], self.d])?
            .f_permute([0, 3, 1, 2])?)
    }

    fn flatten(&self, z_e: &Tensor) -> Result<(Tensor, Vec<i64>)> {
        let s = z_e.size();
        if s.len() != 4 || s[1] != self.d {
            return Err(CoreError::shape(
                "z_e",
                format!("expected [b, {}, h, w], got {s:?}", self.d),
            ));
        }
        Ok((z_e.f_permute([0, 2, 3, 1])?.f_reshape([-1, self.d])?, s))
    }

    fn nearest(&self, flat: &Tensor) -> Result<Tensor> {
        // ||z||^2 - 2 z.e + ||e||^2; ||z||^2 does not change the argmin.
        let e2 = self
            .embed
            .f_square()?
            .f_sum_dim_intlist(1, false, Kind::Float)?; // [K]
        let e = self.embed.detach();
        let dist = e2
            .detach()
            .f_unsqueeze(0)?
            .f_addmm(flat, &e.f_mul_scalar(-2.0)?.f_tr()?)?; // [n, K]
        Ok(dist.f_argmin(1, false)?)
    }

    /// Quantizes `z_e [b, D, h, w]`. With `train`, updates the EMA codebook, the usage and
    /// restarts dead codes (no gradient flows through these updates).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`z_e`) when `z_e` is not `[b, D, h, w]` with this codebook's `D`; a
    /// libtorch error.
    pub fn forward(&self, z_e: &Tensor, train: bool) -> Result<Quantized> {
        let (flat, s) = self.flatten(z_e)?;
        let idx = self.nearest(&flat)?; // [n]
        let onehot = idx.f_one_hot(self.k)?.f_to_kind(Kind::Float)?; // [n, K]
        let counts = onehot.f_sum_dim_intlist(0, false, Kind::Float)?; // [K]
        let n = flat.size()[0] as f64;
        let probs = counts.f_div_scalar(n)?;
        let perplexity = probs
            .f_mul(&probs.f_add_scalar(1e-10)?.f_log()?)?
            .f_sum(Kind::Float)?
            .f_neg()?
            .f_exp()?;
        if train {
            tch::no_grad(|| self.update(&flat.detach(), &onehot, &counts))?;
        }
        let e = self.embed.f_index_select(0, &idx)?; // [n, D]
        let commitment = flat.f_mse_loss(&e.detach(), tch::Reduction::Mean)?;
        let codebook = if self.ema.is_some() {
            Tensor::f_zeros([], (Kind::Float, flat.device()))?
        } else {
            e.f_mse_loss(&flat.detach(), tch::Reduction::Mean)?
        };
        let z_q = flat.f_add(&e.f_sub(&flat)?.detach())?;
        let z_q = z_q
            .f_reshape([s[0], s[2], s[3], s[1]])?
            .f_permute([0, 3, 1, 2])?;
        Ok(Quantized {
            z_q,
            codes: idx.f_reshape([s[0], s[2], s[3]])?,
            commitment,
            codebook,
            perplexity,
        })
    }

    fn update(&self, flat: &Tensor, onehot: &Tensor, counts: &Tensor) -> Result<()> {
        let g = self.decay;
        let mut usage = self.usage.shallow_clone();
        usage.f_copy_(
            &usage
                .f_mul_scalar(g)?
                .f_add(&counts.f_mul_scalar(1.0 - g)?)?,
        )?;
        if let Some((cs, sum)) = &self.ema {
            let (mut cs, mut sum) = (cs.shallow_clone(), sum.shallow_clone());
            cs.f_copy_(&cs.f_mul_scalar(g)?.f_add(&counts.f_mul_scalar(1.0 - g)?)?)?;
            let batch_sum = onehot.f_tr()?.f_matmul(flat)?; // [K, D]
            sum.f_copy_(
                &sum.f_mul_scalar(g)?
                    .f_add(&batch_sum.f_mul_scalar(1.0 - g)?)?,
            )?;
            // Laplace smoothing keeps unused codes' N_i away from 0 (eq. 6-8 of appendix A.1).
            let total = cs.f_sum(Kind::Float)?;
            let smoothed = cs
                .f_add_scalar(self.eps)?
                .f_div(&total.f_add_scalar(self.k as f64 * self.eps)?)?
                .f_mul(&total)?;
            let mut e = self.embed.shallow_clone();
            e.f_copy_(&sum.f_div(&smoothed.f_unsqueeze(1)?)?)?;
        }
        if self.dead_threshold > 0.0 {
            let dead = usage.f_lt(self.dead_threshold)?; // [K]
            let pick = Tensor::f_randint(flat.size()[0], [self.k], (Kind::Int64, flat.device()))?;
            let fresh = flat.f_index_select(0, &pick)?; // [K, D]
            let dead_col = dead.f_unsqueeze(1)?;
            let mut e = self.embed.shallow_clone();
            e.f_copy_(&fresh.f_where_self(&dead_col, &self.embed)?)?;
            usage.f_copy_(&usage.f_ones_like()?.f_where_self(&dead, &usage)?)?;
            if let Some((cs, sum)) = &self.ema {
                let (mut cs, mut sum) = (cs.shallow_clone(), sum.shallow_clone());
                cs.f_copy_(&cs.f_ones_like()?.f_where_self(&dead, &cs)?)?;
                sum.f_copy_(&fresh.f_where_self(&dead_col, &sum)?)?;
            }
        }
        Ok(())
    }
}

/// A categorical distribution over codes for every position of a code map, fitted to training
/// codes by a moving average of their one-hot frequencies (a stand-in for the learned
/// autoregressive prior of the papers; sampling draws positions independently).
#[derive(Debug)]
pub struct PositionPrior {
    /// Frequencies `[positions, K]` (rows sum to 1).
    pub freq: Tensor,
    k: i64,
    grid: (i64, i64),
    decay: f64,
}

/// Weight of the uniform distribution mixed into the prior so that unseen codes keep mass.
pub const PRIOR_UNIFORM_MIX: f64 = 1e-3;

impl PositionPrior {
    /// A uniform prior over `K = k` codes on a `grid` `(h, w)`, its frequencies a non-trainable
    /// variable `prior_freq [h*w, K]` under `p`, moved towards training codes with `decay`.
    ///
    /// # Errors
    /// A non-positive grid or codebook size (naming it), or a libtorch error.
    pub fn new(p: &nn::Path, grid: (i64, i64), k: i64, decay: f64) -> Result<Self> {
        if grid.0 < 1 || grid.1 < 1 || k < 1 {
            return Err(CoreError::config(
                "prior",
                format!("grid {grid:?} and codebook size {k} must be positive"),
            ));
        }
        let freq = p.f_ones_no_train("prior_freq", &[grid.0 * grid.1, k])?;
        let _ = tch::no_grad(|| freq.shallow_clone().f_div_scalar_(k as f64))?;
        Ok(PositionPrior {
            freq,
            k,
            grid,
            decay,
        })
    }

    /// Moves the frequencies towards those of `codes [b, h, w]` (training codes).
    ///
    /// # Errors
    /// Codes of another grid, or a libtorch error (codes outside `0..K`).
    pub fn update(&self, codes: &Tensor) -> Result<()> {
        self.check(codes, false)?;
        tch::no_grad(|| {
            let batch = codes
                .f_flatten(1, -1)?
                .f_one_hot(self.k)?
                .f_to_kind(Kind::Float)?
                .f_mean_dim(0, false, Kind::Float)?;
            let mut f = self.freq.shallow_clone();
            f.f_copy_(
                &f.f_mul_scalar(self.decay)?
                    .f_add(&batch.f_mul_scalar(1.0 - self.decay)?)?,
            )?;
            Ok(())
        })
    }

    /// Sets the frequencies to the exact ones of `codes [n, h, w]` (e.g. a whole training set).
    ///
    /// # Errors
    /// Codes of another grid or outside `0..K`, or a libtorch error.
    pub fn fit(&self, codes: &Tensor) -> Result<()> {
        self.check(codes, true)?;
        tch::no_grad(|| {
            let f = codes
                .f_flatten(1, -1)?
                .f_one_hot(self.k)?
                .f_to_kind(Kind::Float)?
                .f_mean_dim(0, false, Kind::Float)?;
            self.freq.shallow_clone().f_copy_(&f)?;
            Ok(())
        })
    }

    fn probs(&self) -> Result<Tensor> {
        Ok(self
            .freq
            .f_mul_scalar(1.0 - PRIOR_UNIFORM_MIX)?
            .f_add_scalar(PRIOR_UNIFORM_MIX / self.k as f64)?)
    }

    /// Checks the shape of `codes`, and their values when `values` (one host sync; the
    /// training updates skip it, their codes come from the quantizer).
    fn check(&self, codes: &Tensor, values: bool) -> Result<()> {
        let s = codes.size();
        if s.len() != 3 || (s[1], s[2]) != self.grid || codes.kind() != Kind::Int64 {
            return Err(CoreError::shape(
                "codes",
                format!(
                    "expected i64 [n, {}, {}], got {:?} {:?}",
                    self.grid.0,
                    self.grid.1,
                    codes.kind(),
                    s
                ),
            ));
        }
        if values && codes.numel() > 0 {
            let (lo, hi) = (
                codes.f_min()?.int64_value(&[]),
                codes.f_max()?.int64_value(&[]),
            );
            if lo < 0 || hi >= self.k {
                return Err(CoreError::shape(
                    "codes",
                    format!("values {lo}..={hi} outside 0..{}", self.k),
                ));
            }
        }
        Ok(())
    }
}

/// The default code prior of the VQ models: independent categoricals per position.
impl CodePrior for PositionPrior {
    fn num_codes(&self) -> i64 {
        self.k
    }
    fn grid(&self) -> (i64, i64) {
        self.grid
    }
    /// `log pi(codes)` summed over positions: `codes [b, h, w]` -> `[b]` nats.
    fn log_prob(&self, codes: &Tensor) -> Result<Tensor> {
        self.check(codes, true)?;
        let lp = self.probs()?.f_log()?; // [P, K]
        let b = codes.size()[0];
        let c = codes.f_reshape([b, -1, 1])?; // [b, P, 1]
        let lp = lp.f_unsqueeze(0)?.f_expand([b, -1, -1], false)?;
        Ok(lp
            .f_gather(2, &c, false)?
            .f_squeeze_dim(2)?
            .f_sum_dim_intlist(1, false, Kind::Float)?)
    }
    /// `n` code maps `[n, h, w]` drawn position by position, torch seeded from
    /// `(seed, "code-prior", 0)`.
    fn sample(&self, n: i64, seed: u64) -> Result<Tensor> {
        if n < 1 {
            return Err(CoreError::Invalid(format!("cannot draw {n} code maps")));
        }
        genzoo_core::seed::seed_torch_stream(seed, "code-prior", 0);
        let draws = self.probs()?.f_multinomial(n, true)?; // [P, n]
        Ok(draws.f_tr()?.f_reshape([n, self.grid.0, self.grid.1])?)
    }
    fn observe(&self, codes: &Tensor) -> Result<()> {
        self.update(codes)
    }
}
