//! MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation").
//!
//! Every unit k of hidden layer l gets a degree `m^l(k)`; input d gets degree `m^0(d)` = its
//! position in the chosen ordering (1..=D). Masks (eqs. 12-13):
//! * hidden: `M^l[k, j] = 1{ m^l(k) >= m^{l-1}(j) }`,
//! * output: `M^V[d, k] = 1{ m^0(d) > m^L(k) }`,
//!
//! so output d depends only on inputs that come strictly before d in the ordering: the product of
//! the masks is strictly triangular in that ordering. Options:
//! * order-agnostic training: [`Ordering::Random`] (a seeded random permutation of the inputs);
//! * connectivity-agnostic training: random hidden degrees (`random_degrees`), redrawn with
//!   [`Made::resample`].
//!
//! Outputs come as `out_per_dim` blocks of D (`[b, out_per_dim * D]`, block j holds parameter j of
//! every dimension), e.g. MAF's (mu, alpha). An optional context vector (class one-hot) feeds
//! every hidden unit of the first layer unmasked, which keeps the autoregressive property.
use rand::seq::SliceRandom;
use rand::Rng;
use tch::{nn, Kind, Tensor};

use crate::{CoreError, Result};

/// The order in which MADE factorizes its inputs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// x_1, x_2, ..., x_D.
    Natural,
    /// x_D, ..., x_1.
    Reversed,
    /// A random permutation drawn from a seed (order-agnostic training).
    Random(u64),
    /// An explicit ordering: `order[i]` is the position (0-based) of input i.
    Given(Vec<usize>),
}

impl Ordering {
    /// Position (0-based) of every input in the ordering.
    ///
    /// # Errors
    /// [`CoreError::Config`] (`made.ordering`) when a [`Ordering::Given`] order is not a
    /// permutation of `0..d`.
    pub fn positions(&self, d: usize) -> Result<Vec<usize>> {
        let pos: Vec<usize> = match self {
            Ordering::Natural => (0..d).collect(),
            Ordering::Reversed => (0..d).rev().collect(),
            Ordering::Random(seed) => {
                let mut p: Vec<usize> = (0..d).collect();
                p.shuffle(&mut crate::seed::rng(*seed, "made-order", 0));
                p
            }
            Ordering::Given(p) => p.clone(),
        };
        let mut seen = vec![false; d];
        if pos.len() != d
            || pos
                .iter()
                .any(|&i| i >= d || std::mem::replace(&mut seen[i], true))
        {
            return Err(CoreError::config(
                "made.ordering",
                format!("{pos:?} is not a permutation of 0..{d}"),
            ));
        }
        Ok(pos)
    }
}

/// MADE's configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MadeConfig {
    /// Input dimension D.
    pub input_dim: i64,
    /// Hidden layer widths.
    pub hidden: Vec<i64>,
    /// Outputs per input dimension (2 for MAF's mu and log-scale).
    pub out_per_dim: i64,
    pub ordering: Ordering,
    /// Draw hidden degrees at random from this seed (connectivity-agnostic); `None`: spread them
    /// evenly over 1..D-1.
    pub random_degrees: Option<u64>,
    /// Width of an unmasked context input (class one-hot), 0 for none.
    pub context_dim: i64,
}

/// Degrees and masks: `masks[l]` is `[out_l, in_l]` (0/1) for layer l, the last one the output
/// layer (`[out_per_dim * D, last hidden]`). `input_degrees[i]` is 1-based.
///
/// # Errors
/// [`CoreError::Config`] (`made.input_dim`) when there are fewer than 2 inputs, or (`made.hidden`)
/// when a hidden width is < 1.
pub fn made_masks(
    input_degrees: &[usize],
    hidden: &[i64],
    out_per_dim: i64,
    random_degrees: Option<u64>,
    draw: u64,
) -> Result<Vec<Vec<Vec<bool>>>> {
    let d = input_degrees.len();
    if d < 2 {
        return Err(CoreError::config(
            "made.input_dim",
            format!("MADE needs at least 2 inputs, got {d}"),
        ));
    }
    if let Some(&h) = hidden.iter().find(|&&h| h < 1) {
        return Err(CoreError::config(
            "made.hidden",
            format!("hidden width {h} < 1"),
        ));
    }
    let mut rng = crate::seed::rng(random_degrees.unwrap_or(0), "made-degrees", draw);
    let mut prev: Vec<usize> = input_degrees.to_vec();
    let mut masks = Vec::new();
    for &h in hidden {
        let lo = *prev.iter().min().unwrap_or(&1);
        let lo = lo.min(d - 1);
        let deg: Vec<usize> = (0..h as usize)
            .map(|k| match random_degrees {
                Some(_) => rng.gen_range(lo..=d - 1),
                None => spread_degree(k, h as usize, lo, d),
            })
            .collect();
        masks.push(
            deg.iter()
                .map(|&mk| prev.iter().map(|&mj| mk >= mj).collect())
                .collect(),
        );
        prev = deg;
    }
    let mut out = Vec::new();
    for _ in 0..out_per_dim {
        for &md in input_degrees {
            out.push(prev.iter().map(|&mk| md > mk).collect());
        }
    }
    masks.push(out);
    Ok(masks)
}

/// Degree of hidden unit `k` of `h` when degrees are spread evenly over `lo..=d-1` (Germain et
/// al. 2015, sec. 4, without the random draw): a layer at least as wide as the range cycles
/// through it (`lo + k mod (d - lo)`, as nflows' MADE), a narrower one strides from `lo` to `d-1`
/// (`lo + floor(k (d - 1 - lo) / (h - 1))`; a single unit takes `d-1`), so that every input but
/// the last in the ordering reaches an output. (Cycling in a narrow layer would give only the
/// degrees `lo..lo+h-1`: with 500 units over 784 pixels the last 283 inputs would reach no output
/// at all.)
fn spread_degree(k: usize, h: usize, lo: usize, d: usize) -> usize {
    let span = d - lo;
    if h >= span {
        lo + k % span
    } else if h == 1 {
        d - 1
    } else {
        lo + k * (span - 1) / (h - 1)
    }
}

/// A 0/1 mask `f32 [rows, cols]` from [`made_masks`]' rows of booleans.
pub fn mask_tensor(m: &[Vec<bool>]) -> Tensor {
    let rows = m.len() as i64;
    let cols = m.first().map_or(0, |r| r.len()) as i64;
    let flat: Vec<f32> = m
        .iter()
        .flat_map(|r| r.iter().map(|&b| if b { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_slice(&flat).reshape([rows, cols])
}

/// A linear layer whose weight is multiplied by a fixed 0/1 mask: `y = x (W * M)^T + b`.
/// The mask is a non-trainable variable (`mask`), so it is checkpointed with the weights.
#[derive(Debug)]
pub struct MaskedLinear {
    pub weight: Tensor, // [out, in]
    pub bias: Tensor,   // [out]
    pub mask: Tensor,   // [out, in]
}

impl MaskedLinear {
    /// A masked layer of `in_dim -> out_dim` with an all-ones mask (set it with [`Self::set_mask`]).
    pub fn new(p: &nn::Path, in_dim: i64, out_dim: i64) -> Self {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let weight = p.var(
            "weight",
            &[out_dim, in_dim],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        let bias = p.var(
            "bias",
            &[out_dim],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        let mask = p.add(
            "mask",
            Tensor::ones([out_dim, in_dim], (Kind::Float, p.device())),
            false,
        );
        MaskedLinear { weight, bias, mask }
    }
    /// Replaces the mask (shape `[out, in]`, 0/1).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`made mask`) when `m` differs in shape from the current mask.
    pub fn set_mask(&self, m: &Tensor) -> Result<()> {
        if m.size() != self.mask.size() {
            return Err(CoreError::shape(
                "made mask",
                format!("{:?} != {:?}", m.size(), self.mask.size()),
            ));
        }
        let mut dst = self.mask.shallow_clone();
        tch::no_grad(|| dst.copy_(m));
        Ok(())
    }
    /// `x [b, in] -> [b, out]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&(&self.weight * &self.mask), Some(&self.bias))
    }
}

/// The MADE network: masked layers with ReLU between them.
#[derive(Debug)]
pub struct Made {
    pub cfg: MadeConfig,
    pub layers: Vec<MaskedLinear>,
    /// Unmasked context weights into the first hidden layer, `[hidden[0], context_dim]`.
    pub context: Option<nn::Linear>,
    /// 0-based positions of the inputs in the ordering.
    pub positions: Vec<usize>,
}

impl Made {
    /// Builds MADE under `p` (`p / "l0"`, `p / "l1"`, ..., `p / "ctx"`).
    ///
    /// # Errors
    /// [`CoreError::Config`] (`made.hidden`) when `cfg.hidden` is empty or holds a width < 1,
    /// (`made.input_dim`) when `cfg.input_dim < 2`, or (`made.ordering`) when a given ordering is
    /// not a permutation of the inputs.
    pub fn new(p: &nn::Path, cfg: &MadeConfig) -> Result<Self> {
        if cfg.hidden.is_empty() {
            return Err(CoreError::config(
                "made.hidden",
                "needs at least one hidden layer",
            ));
        }
        let d = cfg.input_dim;
        let mut dims = vec![d];
        dims.extend(&cfg.hidden);
        dims.push(d * cfg.out_per_dim);
        let layers: Vec<MaskedLinear> = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| MaskedLinear::new(&(p / format!("l{i}")), w[0], w[1]))
            .collect();
        let context = (cfg.context_dim > 0).then(|| {
            nn::linear(
                p / "ctx",
                cfg.context_dim,
                cfg.hidden[0],
                nn::LinearConfig {
                    bias: false,
                    ..Default::default()
                },
            )
        });
        let positions = cfg.ordering.positions(d as usize)?;
        let made = Made {
            cfg: cfg.clone(),
            layers,
            context,
            positions,
        };
        made.resample(0)?;
        Ok(made)
    }

    /// The 1-based input degrees.
    pub fn input_degrees(&self) -> Vec<usize> {
        self.positions.iter().map(|&p| p + 1).collect()
    }

    /// Sets the masks for draw `draw` of the hidden degrees (connectivity-agnostic training redraws
    /// them; with `random_degrees = None` every draw gives the same masks).
    ///
    /// # Errors
    /// [`CoreError::Config`] when the configuration has fewer than 2 inputs or a hidden width < 1
    /// (see [`made_masks`]).
    pub fn resample(&self, draw: u64) -> Result<()> {
        let masks = made_masks(
            &self.input_degrees(),
            &self.cfg.hidden,
            self.cfg.out_per_dim,
            self.cfg.random_degrees,
            draw,
        )?;
        for (layer, m) in self.layers.iter().zip(&masks) {
            let kind = layer.mask.kind();
            layer.set_mask(&mask_tensor(m).to_kind(kind).to_device(layer.mask.device()))?;
        }
        Ok(())
    }

    /// `x [b, D]` (and `context [b, context_dim]`) -> `[b, out_per_dim * D]`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`made input`) when `x` is not `[b, input_dim]`, or (`made context`)
    /// when a context is missing for a MADE built with `context_dim > 0` or given to one without.
    pub fn forward(&self, x: &Tensor, context: Option<&Tensor>) -> Result<Tensor> {
        let d = self.cfg.input_dim;
        if x.dim() != 2 || x.size()[1] != d {
            return Err(CoreError::shape(
                "made input",
                format!("expected [b, {d}], got {:?}", x.size()),
            ));
        }
        let mut h = self.layers[0].forward(x);
        match (&self.context, context) {
            (Some(lin), Some(c)) => h += c.to_kind(h.kind()).apply(lin),
            (Some(_), None) => {
                return Err(CoreError::shape(
                    "made context",
                    "this MADE needs a context",
                ))
            }
            (None, Some(_)) => {
                return Err(CoreError::shape(
                    "made context",
                    "this MADE takes no context",
                ))
            }
            (None, None) => {}
        }
        for layer in &self.layers[1..] {
            h = layer.forward(&h.relu());
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn made(ordering: Ordering, random_degrees: Option<u64>) -> (nn::VarStore, Made) {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let cfg = MadeConfig {
            input_dim: 6,
            hidden: vec![16, 16],
            out_per_dim: 2,
            ordering,
            random_degrees,
            context_dim: 0,
        };
        let m = Made::new(&vs.root(), &cfg).unwrap();
        vs.double();
        (vs, m)
    }

    /// Product of the masks (as 0/1 matrices) is strictly triangular in the ordering: entry
    /// [out d, in j] is non-zero only when pos(j) < pos(d), and MADE keeps some connection.
    #[test]
    fn mask_product_is_strictly_triangular() {
        for (ord, rd) in [
            (Ordering::Natural, None),
            (Ordering::Reversed, None),
            (Ordering::Random(3), None),
            (Ordering::Random(5), Some(9)),
        ] {
            let (_vs, m) = made(ord, rd);
            let mut prod = m.layers[0].mask.shallow_clone();
            for l in &m.layers[1..] {
                prod = l.mask.matmul(&prod);
            }
            // [2D, D]
            let d = 6usize;
            let mut nonzero = 0;
            for block in 0..2 {
                for i in 0..d {
                    for j in 0..d {
                        let v = prod.double_value(&[(block * d + i) as i64, j as i64]);
                        if m.positions[j] >= m.positions[i] {
                            assert_eq!(v, 0.0, "output {i} sees input {j}");
                        } else if v > 0.0 {
                            nonzero += 1;
                        }
                    }
                }
            }
            assert!(nonzero > 0);
        }
    }

    /// The gradient of output i wrt input j is exactly zero whenever j is not before i.
    #[test]
    fn gradient_respects_the_ordering() {
        let (_vs, m) = made(Ordering::Random(11), Some(2));
        m.resample(4).unwrap();
        let x = Tensor::randn([3, 6], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let y = m.forward(&x, None).unwrap();
        for o in 0..12i64 {
            let g = Tensor::run_backward(&[y.select(1, o).sum(Kind::Double)], &[&x], true, false);
            let i = (o % 6) as usize;
            for j in 0..6usize {
                let gj = g[0]
                    .select(1, j as i64)
                    .abs()
                    .sum(Kind::Double)
                    .double_value(&[]);
                if m.positions[j] >= m.positions[i] {
                    assert_eq!(gj, 0.0, "d out{o}/d in{j}");
                }
            }
        }
    }

    /// With a hidden layer narrower than the ordering (7 units over 20 inputs, as 500 over 784
    /// pixels), every input but the last in the ordering still reaches some output, also through
    /// stacked narrow layers and a single unit.
    #[test]
    fn a_narrow_layer_still_connects_every_input() {
        for (ord, hidden) in [
            (Ordering::Natural, vec![7]),
            (Ordering::Reversed, vec![5, 9]),
            (Ordering::Random(4), vec![3]),
            (Ordering::Natural, vec![1]),
            (Ordering::Reversed, vec![5, 1]),
        ] {
            let d = 20usize;
            let pos = ord.positions(d).unwrap();
            let degrees: Vec<usize> = pos.iter().map(|&p| p + 1).collect();
            let masks = made_masks(&degrees, &hidden, 1, None, 0).unwrap();
            let mut prod = mask_tensor(&masks[0]);
            for m in &masks[1..] {
                prod = mask_tensor(m).matmul(&prod);
            }
            let reach = prod.sum_dim_intlist(0, false, Kind::Float);
            for (j, &p) in pos.iter().enumerate() {
                let r = reach.double_value(&[j as i64]);
                if p + 1 < d {
                    assert!(
                        r > 0.0,
                        "{ord:?} {hidden:?}: input {j} (position {p}) reaches no output"
                    );
                } else {
                    assert_eq!(r, 0.0, "the last input in the ordering reaches an output");
                }
            }
        }
        // A layer as wide as the range cycles through it, as before.
        assert_eq!(
            (0..8)
                .map(|k| spread_degree(k, 8, 1, 6))
                .collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 1, 2, 3]
        );
        assert_eq!(
            (0..3)
                .map(|k| spread_degree(k, 3, 1, 20))
                .collect::<Vec<_>>(),
            [1, 10, 19]
        );
    }

    #[test]
    fn bad_ordering_is_an_error() {
        let e = Ordering::Given(vec![0, 0, 1]).positions(3).unwrap_err();
        assert!(e.to_string().contains("permutation"));
    }
}
