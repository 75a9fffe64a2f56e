//! MADE's training pass without autograd (Germain et al. 2015, "MADE: Masked Autoencoder for
//! Distribution Estimation", the masked ReLU network of eqs. 12-13): a forward pass that keeps
//! every layer's activations, and back-propagation of an output gradient `dL/dy` by the chain
//! rule of a masked ReLU MLP (layer `l`: `a_l = h_{l-1} (W_l * M_l)^T + b_l`, `h_l = relu(a_l)`,
//! `h_{-1} = x`, `y = a_L`):
//!
//! * `dL/dW_l = (delta_l^T h_{l-1}) * M_l`, `dL/db_l = sum over the batch of delta_l`,
//! * `delta_L = dL/dy`, `delta_{l-1} = (delta_l (W_l * M_l)) * 1{a_{l-1} > 0}`.
//!
//! Every tensor of the pass lives in a [`MadeWorkspace`] and is rewritten in place by libtorch's
//! `*_out` kernels, so a training step allocates no tensor of the network's size. That is what
//! it is for: on the CPU a fresh tensor of a step costs page faults, and autograd's step
//! allocates the masked weights, their gradients and the masks' backward products anew each time
//! (`bench made`). With [`Products::Blocked`] the masked products compute only the blocks of
//! each mask that hold its nonzero entries ([`super::mask_blocks`]): a fixed ordering's staircase
//! masks need about `(G + 1) / 2G` of the dense work. The gradients equal autograd's either way
//! (`tests::backprop_matches_autograd`).
use tch::{Kind, Tensor};

use super::made::{Made, MaskedLinear};
use super::mask_blocks::{Block, MaskBlocks};
use crate::{CoreError, Result};

/// How [`MadeWorkspace`] computes the masked products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Products {
    /// Whole matrices: for masks that may change at every step (order- or
    /// connectivity-agnostic training).
    Dense,
    /// Only the blocks of each mask holding its nonzero entries, `groups` groups of rows and of
    /// columns per mask, read from the mask again whenever its version counter or storage changes
    /// (a pass over it; every in-place write through libtorch, `copy_` and checkpoint loading
    /// included, bumps the counter): for masks that seldom change.
    Blocked { groups: i64 },
}

/// A layer's blocks and the mask state they were read from (`(version, data pointer)`).
#[derive(Debug)]
struct LayerBlocks {
    key: Option<(i64, usize)>,
    blocks: MaskBlocks,
}

/// The buffers of [`Made::forward_train`] and [`Made::backprop`] for one batch size, on the
/// network's device and dtype (build a new one when either changes).
#[derive(Debug)]
pub struct MadeWorkspace {
    batch: i64,
    products: Products,
    blocks: Vec<LayerBlocks>,
    /// `W_l * M_l`, `[out_l, in_l]`.
    masked: Vec<Tensor>,
    /// `h_l` (after ReLU) for the hidden layers and `y` for the last one: `[batch, out_l]`.
    acts: Vec<Tensor>,
    /// `delta_l` of the hidden layers, `[batch, out_l]`.
    deltas: Vec<Tensor>,
    /// `(dL/dW_l, dL/db_l)`.
    grads: Vec<(Tensor, Tensor)>,
    /// The input of the last forward pass (a handle, not a copy).
    input: Option<Tensor>,
    /// Every mask's state at the last forward pass (`backprop` refuses changed masks).
    forward_masks: Vec<(i64, usize)>,
    /// `(out, in)` of every layer, the dtype and the device the buffers were made for.
    shapes: Vec<(i64, i64)>,
    kind: Kind,
    device: tch::Device,
}

/// The state of a mask: its version counter (bumped by every in-place write, `copy_` included)
/// and its storage.
fn mask_key(layer: &MaskedLinear) -> Result<(i64, usize)> {
    Ok((
        layer.mask.f_internal_version()?,
        layer.mask.data_ptr() as usize,
    ))
}

impl MadeWorkspace {
    /// Buffers for `made` on batches of `batch` examples, computing the products as `products`
    /// says.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] for a MADE with a context input (its weights are not covered here),
    /// a batch < 1 or fewer than 1 group; a libtorch error when a buffer cannot be allocated.
    pub fn new(made: &Made, batch: i64, products: Products) -> Result<Self> {
        if made.context.is_some() {
            return Err(CoreError::Invalid(
                "MADE's analytic gradients cover networks without a context input".into(),
            ));
        }
        if batch < 1 {
            return Err(CoreError::Invalid(format!(
                "MADE workspace: batch {batch} < 1"
            )));
        }
        if let Products::Blocked { groups } = products {
            if groups < 1 {
                return Err(CoreError::Invalid(format!(
                    "MADE workspace: {groups} groups < 1"
                )));
            }
        }
        let mut ws = MadeWorkspace {
            batch,
            products,
            blocks: Vec::new(),
            masked: Vec::new(),
            acts: Vec::new(),
            deltas: Vec::new(),
            grads: Vec::new(),
            input: None,
            forward_masks: Vec::new(),
            shapes: Vec::new(),
            kind: made.layers[0].weight.kind(),
            device: made.layers[0].weight.device(),
        };
        let last = made.layers.len() - 1;
        for (l, layer) in made.layers.iter().enumerate() {
            let opts = (layer.weight.kind(), layer.weight.device());
            let (out, inp) = (layer.weight.size()[0], layer.weight.size()[1]);
            ws.shapes.push((out, inp));
            ws.blocks.push(LayerBlocks {
                key: None,
                blocks: MaskBlocks::dense(out, inp),
            });
            ws.masked.push(Tensor::f_zeros(layer.weight.size(), opts)?);
            ws.acts.push(Tensor::f_empty([batch, out], opts)?);
            if l < last {
                ws.deltas.push(Tensor::f_empty([batch, out], opts)?);
            }
            ws.grads.push((
                Tensor::f_zeros(layer.weight.size(), opts)?,
                Tensor::f_empty([out], opts)?,
            ));
        }
        Ok(ws)
    }

    /// Examples per batch this workspace holds.
    pub fn batch(&self) -> i64 {
        self.batch
    }

    /// Whether this workspace was made for `made`'s layer shapes, dtype and device and for
    /// batches of `batch` (if not, make a new one).
    pub fn fits(&self, made: &Made, batch: i64) -> bool {
        let w = &made.layers[0].weight;
        batch == self.batch
            && w.kind() == self.kind
            && w.device() == self.device
            && made.layers.len() == self.shapes.len()
            && made
                .layers
                .iter()
                .zip(&self.shapes)
                .all(|(l, &(o, i))| l.weight.size() == [o, i])
    }

    /// `y [batch, out_per_dim * D]` of the last [`Made::forward_train`].
    pub fn output(&self) -> &Tensor {
        &self.acts[self.acts.len() - 1]
    }

    /// The share of the dense work each layer's products do now: `(rows, cols)` per layer
    /// (forward and weight gradient; input gradient).
    pub fn fill(&self) -> Vec<(f64, f64)> {
        self.blocks.iter().map(|b| b.blocks.fill()).collect()
    }

    /// Rereads layer `l`'s blocks when its mask changed since they were read (blocked products
    /// only); new blocks zero the buffers written block by block, so that nothing outside the
    /// blocks is left from before.
    fn refresh(&mut self, l: usize, layer: &MaskedLinear) -> Result<()> {
        let Products::Blocked { groups } = self.products else {
            return Ok(());
        };
        let key = Some(mask_key(layer)?);
        if self.blocks[l].key == key {
            return Ok(());
        }
        let (rows, cols) = (layer.mask.size()[0], layer.mask.size()[1]);
        let values: Vec<f32> = Vec::try_from(
            &layer
                .mask
                .f_to_device(tch::Device::Cpu)?
                .f_to_kind(Kind::Float)?
                .f_reshape([-1])?,
        )?;
        self.blocks[l] = LayerBlocks {
            key,
            blocks: MaskBlocks::of(&values, rows, cols, groups),
        };
        // New blocks may leave out what the old ones covered: nothing of it may stay behind.
        let _ = self.masked[l].f_zero_()?;
        let _ = self.grads[l].0.f_zero_()?;
        Ok(())
    }
}

/// `m[b.start.., b.lo..]` of a row block `b`: rows of the block, columns of its interval.
fn rows_part(m: &Tensor, b: &Block) -> Result<Tensor> {
    Ok(m.f_narrow(0, b.start, b.len)?
        .f_narrow(1, b.lo, b.hi - b.lo)?)
}

impl Made {
    /// The forward pass of [`Made::forward`] (without context) into `ws`, keeping what
    /// [`Made::backprop`] needs; returns `y [b, out_per_dim * D]` (a handle on `ws`'s buffer,
    /// rewritten by the next pass). Runs without gradient tracking.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `ws` does not [fit](MadeWorkspace::fits) this network;
    /// [`CoreError::Shape`] (`made input`) when `x` is not `[ws.batch(), input_dim]` or differs in
    /// dtype or device from the weights; a libtorch error from a kernel.
    pub fn forward_train(&self, x: &Tensor, ws: &mut MadeWorkspace) -> Result<Tensor> {
        let w = &self.layers[0].weight;
        if !ws.fits(self, ws.batch) {
            return Err(CoreError::Invalid(
                "MADE workspace made for another network, dtype or device".into(),
            ));
        }
        if x.size() != [ws.batch, self.cfg.input_dim]
            || x.kind() != w.kind()
            || x.device() != w.device()
        {
            return Err(CoreError::shape(
                "made input",
                format!(
                    "expected [{}, {}] {:?} on {:?}, got {:?} {:?} on {:?}",
                    ws.batch,
                    self.cfg.input_dim,
                    w.kind(),
                    w.device(),
                    x.size(),
                    x.kind(),
                    x.device()
                ),
            ));
        }
        let _guard = tch::no_grad_guard();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            ws.refresh(l, layer)?;
            let prev = if l == 0 { x } else { &ws.acts[l - 1] };
            let out = &ws.acts[l];
            for b in &ws.blocks[l].blocks.rows {
                let y = out.f_narrow(1, b.start, b.len)?;
                let bias = layer.bias.f_narrow(0, b.start, b.len)?;
                if b.hi == b.lo {
                    y.shallow_clone().f_copy_(&bias.f_expand_as(&y)?)?;
                    continue;
                }
                let wm = rows_part(&ws.masked[l], b)?;
                let _ = rows_part(&layer.weight, b)?.f_mul_out(&wm, &rows_part(&layer.mask, b)?)?;
                let _ = bias.f_addmm_out(
                    &y,
                    &prev.f_narrow(1, b.lo, b.hi - b.lo)?,
                    &wm.f_transpose(0, 1)?,
                )?;
            }
            if l < last {
                let _ = ws.acts[l].f_relu_()?;
            }
        }
        ws.input = Some(x.shallow_clone());
        ws.forward_masks = self.layers.iter().map(mask_key).collect::<Result<_>>()?;
        Ok(ws.output().shallow_clone())
    }

    /// Back-propagates `grad_out = dL/dy [b, out_per_dim * D]` through the last
    /// [`Made::forward_train`] in `ws`; returns `(parameter, gradient)` for every layer's weight
    /// and bias (the gradients are `ws`'s buffers, rewritten by the next call; masked weights get
    /// exactly zero gradient).
    ///
    /// # Errors
    /// [`CoreError::Invalid`] before any forward pass, when `ws` does not fit this network, or
    /// when a mask changed since the forward pass; [`CoreError::Shape`] (`made grad_out`) when
    /// `grad_out` is not shaped like the output; a libtorch error from a kernel.
    pub fn backprop(
        &self,
        ws: &mut MadeWorkspace,
        grad_out: &Tensor,
    ) -> Result<Vec<(Tensor, Tensor)>> {
        let Some(x) = ws.input.as_ref().map(Tensor::shallow_clone) else {
            return Err(CoreError::Invalid(
                "MADE backprop before a forward pass".into(),
            ));
        };
        if !ws.fits(self, ws.batch) {
            return Err(CoreError::Invalid(
                "MADE workspace made for another network, dtype or device".into(),
            ));
        }
        if self
            .layers
            .iter()
            .map(mask_key)
            .collect::<Result<Vec<_>>>()?
            != ws.forward_masks
        {
            return Err(CoreError::Invalid(
                "a MADE mask changed between forward_train and backprop".into(),
            ));
        }
        if grad_out.size() != ws.output().size() {
            return Err(CoreError::shape(
                "made grad_out",
                format!(
                    "expected {:?}, got {:?}",
                    ws.output().size(),
                    grad_out.size()
                ),
            ));
        }
        let _guard = tch::no_grad_guard();
        let mut delta = grad_out.shallow_clone();
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let prev = if l == 0 { &x } else { &ws.acts[l - 1] };
            let (dw, db) = &ws.grads[l];
            let blocks = &ws.blocks[l].blocks;
            for b in blocks.rows.iter().filter(|b| b.hi > b.lo) {
                let g = rows_part(dw, b)?;
                let _ = delta
                    .f_narrow(1, b.start, b.len)?
                    .f_transpose(0, 1)?
                    .f_mm_out(&g, &prev.f_narrow(1, b.lo, b.hi - b.lo)?)?;
                let _ = g.shallow_clone().f_mul_(&rows_part(&layer.mask, b)?)?;
            }
            let _ = delta.f_sum_intlist_out(db, [0i64].as_slice(), false, None::<Kind>)?;
            if l > 0 {
                let d = &ws.deltas[l - 1];
                for b in &blocks.cols {
                    let out = d.f_narrow(1, b.start, b.len)?;
                    if b.hi == b.lo {
                        let _ = out.shallow_clone().f_zero_()?;
                        continue;
                    }
                    let w = ws.masked[l]
                        .f_narrow(0, b.lo, b.hi - b.lo)?
                        .f_narrow(1, b.start, b.len)?;
                    let _ = delta.f_narrow(1, b.lo, b.hi - b.lo)?.f_mm_out(&out, &w)?;
                }
                let _ = ws.acts[l - 1].f_threshold_backward_grad_input(d, d, 0.0)?;
                delta = d.shallow_clone();
            }
        }
        Ok(self
            .layers
            .iter()
            .zip(&ws.grads)
            .flat_map(|(layer, (dw, db))| {
                [
                    (layer.weight.shallow_clone(), dw.shallow_clone()),
                    (layer.bias.shallow_clone(), db.shallow_clone()),
                ]
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{MadeConfig, Ordering};
    use tch::{nn, Device};

    fn made(hidden: Vec<i64>, out_per_dim: i64, ordering: Ordering) -> (nn::VarStore, Made) {
        let mut vs = nn::VarStore::new(Device::Cpu);
        let random = matches!(ordering, Ordering::Random(_)).then_some(5);
        let cfg = MadeConfig {
            input_dim: 7,
            hidden,
            out_per_dim,
            ordering,
            random_degrees: random,
            context_dim: 0,
        };
        let m = Made::new(&vs.root(), &cfg).unwrap();
        vs.double();
        (vs, m)
    }

    fn params(m: &Made) -> Vec<Tensor> {
        m.layers
            .iter()
            .flat_map(|l| [l.weight.shallow_clone(), l.bias.shallow_clone()])
            .collect()
    }

    /// One pass of [`Made::forward_train`] and [`Made::backprop`] against autograd through
    /// [`Made::forward`]: output and every gradient within 1e-12 (double), masked weights with
    /// exactly zero gradient.
    fn check_pass(m: &Made, ws: &mut MadeWorkspace, what: &str) {
        let n = ws.batch();
        let width = m.layers[m.layers.len() - 1].bias.size()[0];
        let x = Tensor::randn([n, 7], (Kind::Double, Device::Cpu));
        let upstream = Tensor::randn([n, width], (Kind::Double, Device::Cpu));
        let y = m.forward(&x, None).unwrap();
        let ps = params(m);
        let want = Tensor::run_backward(&[(&y * &upstream).sum(Kind::Double)], &ps, false, false);
        let y2 = m.forward_train(&x, ws).unwrap();
        assert!(
            y2.allclose(&y.detach(), 1e-12, 1e-12, false),
            "{what}: output"
        );
        let got = m.backprop(ws, &upstream).unwrap();
        assert_eq!(got.len(), ps.len());
        for (((p, g), w), want_p) in got.iter().zip(&want).zip(&ps) {
            assert!(p.is_set_to(want_p), "pairs follow the layers' order");
            let err = (g - w).abs().max().double_value(&[]);
            assert!(
                err < 1e-12,
                "{what}: gradient of {:?}: max error {err}",
                p.size()
            );
        }
        for (l, layer) in m.layers.iter().enumerate() {
            let zero = layer.mask.eq(0.0);
            let g = &got[2 * l].1;
            let off = g
                .masked_select(&zero)
                .abs()
                .sum(Kind::Double)
                .double_value(&[]);
            assert_eq!(off, 0.0, "{what}: masked weights of layer {l}");
        }
    }

    /// Dense and blocked products, one and two hidden layers, two outputs per input, natural
    /// and random orderings; passes repeat on new data (buffers are rewritten, not accumulated)
    /// and after the masks change (blocked products reread them).
    #[test]
    fn backprop_matches_autograd() {
        for (hidden, out_per_dim, ordering) in [
            (vec![9], 1, Ordering::Natural),
            (vec![8, 6], 2, Ordering::Natural),
            (vec![8, 6], 2, Ordering::Random(3)),
        ] {
            let (_vs, m) = made(hidden.clone(), out_per_dim, ordering.clone());
            for products in [Products::Dense, Products::Blocked { groups: 3 }] {
                let what = format!("{hidden:?} x{out_per_dim} {ordering:?} {products:?}");
                m.resample(0).unwrap();
                let mut ws = MadeWorkspace::new(&m, 5, products).unwrap();
                check_pass(&m, &mut ws, &what);
                check_pass(&m, &mut ws, &what);
                m.resample(2).unwrap();
                check_pass(&m, &mut ws, &format!("{what}, new masks"));
            }
        }
        // Hand-made staircases on one workspace, one row or column per group: wide ones first,
        // then narrower ones with empty rows and columns. The blocks shrink, and nothing the old
        // blocks wrote may survive (the buffers written block by block are zeroed on reread);
        // blocks without entries give outputs that are the bias alone and inputs without
        // gradient.
        let (_vs, m) = made(vec![5], 1, Ordering::Natural);
        let stair = |rows: i64, cols: i64, diagonal: i64| {
            Tensor::ones([rows, cols], (Kind::Double, Device::Cpu)).tril(diagonal)
        };
        let mut ws = MadeWorkspace::new(&m, 4, Products::Blocked { groups: 7 }).unwrap();
        m.layers[0].set_mask(&stair(5, 7, 1)).unwrap();
        m.layers[1].set_mask(&stair(7, 5, 1)).unwrap();
        check_pass(&m, &mut ws, "wide staircases");
        let m1 = stair(7, 5, -1);
        let _ = m1.select(1, 4).fill_(0.0);
        m.layers[0].set_mask(&stair(5, 7, -1)).unwrap();
        m.layers[1].set_mask(&m1).unwrap();
        check_pass(&m, &mut ws, "narrower staircases");
        let rows1 = &ws.blocks[1].blocks.rows;
        assert_eq!(
            (rows1[0].lo, rows1[0].hi, rows1[1].lo, rows1[1].hi),
            (0, 0, 0, 1)
        );
        assert!(ws.blocks[1].blocks.cols.iter().any(|b| b.lo == b.hi));
        assert!(ws.blocks[0].blocks.rows.iter().any(|b| b.lo == b.hi));

        // The natural ordering's staircases (a layer narrower than the ordering, whose degrees
        // grow along its units) are blocked: less than the dense work.
        let (_vs, m) = made(vec![5], 1, Ordering::Natural);
        let mut ws = MadeWorkspace::new(&m, 5, Products::Blocked { groups: 3 }).unwrap();
        let _ = m.forward_train(&Tensor::zeros([5, 7], (Kind::Double, Device::Cpu)), &mut ws);
        assert!(
            ws.fill().iter().all(|&(r, c)| r < 0.85 && c < 0.85),
            "{:?}",
            ws.fill()
        );
    }

    #[test]
    fn bad_calls_are_errors() {
        let (_vs, m) = made(vec![9], 1, Ordering::Natural);
        let mut ws = MadeWorkspace::new(&m, 4, Products::Dense).unwrap();
        let g = Tensor::zeros([4, 7], (Kind::Double, Device::Cpu));
        let e = m.backprop(&mut ws, &g).unwrap_err();
        assert!(e.to_string().contains("before a forward pass"), "{e}");
        let x = Tensor::zeros([3, 7], (Kind::Double, Device::Cpu));
        let e = m.forward_train(&x, &mut ws).unwrap_err();
        assert!(e.to_string().contains("made input"), "{e}");
        let x = Tensor::zeros([4, 7], (Kind::Float, Device::Cpu));
        assert!(m.forward_train(&x, &mut ws).is_err());
        let x = Tensor::zeros([4, 7], (Kind::Double, Device::Cpu));
        let _ = m.forward_train(&x, &mut ws).unwrap();
        let e = m.backprop(&mut ws, &g.narrow(1, 0, 6)).unwrap_err();
        assert!(e.to_string().contains("made grad_out"), "{e}");
        assert!(MadeWorkspace::new(&m, 0, Products::Dense).is_err());
        // A mask rewritten between the passes (even with the same values) is refused.
        let _ = m.forward_train(&x, &mut ws).unwrap();
        m.resample(0).unwrap();
        let e = m.backprop(&mut ws, &g).unwrap_err();
        assert!(e.to_string().contains("mask changed"), "{e}");
        // A workspace of another network is refused, not indexed out of bounds.
        let (_vs2, other) = made(vec![8, 6], 1, Ordering::Natural);
        assert!(!ws.fits(&other, 4));
        let e = other.forward_train(&x, &mut ws).unwrap_err();
        assert!(e.to_string().contains("another network"), "{e}");
        let e = other.backprop(&mut ws, &g).unwrap_err();
        assert!(e.to_string().contains("another network"), "{e}");
        assert!(MadeWorkspace::new(&m, 4, Products::Blocked { groups: 0 }).is_err());
    }
}
