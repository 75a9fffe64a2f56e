//! Every flow layer: inverse(forward(x)) == x, forward and inverse log-dets cancel, and the
//! log-det equals log|det| of the autograd Jacobian (f64, small inputs); plus f32 round trips
//! (atol 1e-4), ActNorm's data-dependent init, batch norm in eval mode, and Flow++'s q(u|x).
mod common;

use common::*;
use genzoo_core::layers::{MadeConfig, Ordering};
use genzoo_flow::dequant::VariationalDequantizer;
use genzoo_flow::layers::*;
use genzoo_flow::{Bijector, Ctx, Sequential};
use tch::{nn, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn net(kind: NetKind) -> NetConfig {
    NetConfig {
        kind,
        hidden: 8,
        depth: 2,
    }
}

fn img(seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([2, 2, 4, 4], (Kind::Double, CPU))
}

fn vec8(seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([3, 8], (Kind::Double, CPU))
}

/// Builds a layer, perturbs its parameters, casts to f64 and runs all checks on `x`.
fn check_layer(
    name: &str,
    x: &Tensor,
    ctx: &Ctx,
    build: impl FnOnce(&nn::Path) -> Box<dyn Bijector>,
) {
    let mut vs = nn::VarStore::new(CPU);
    let f = build(&vs.root());
    perturb(&vs, 0.3, 7);
    vs.double();
    check_all(name, f.as_ref(), x, ctx);
    // f32 round trip at the asked tolerance.
    vs.float();
    check_round_trip(name, f.as_ref(), &x.to_kind(Kind::Float), ctx, 1e-4);
}

#[test]
fn affine_couplings_checkerboard_channel_and_vector() {
    let x = img(1);
    for (mask, kind, nk) in [
        (
            MaskKind::Checkerboard,
            CouplingKind::AffineTanh,
            NetKind::Resnet,
        ),
        (
            MaskKind::Checkerboard,
            CouplingKind::AffineSigmoid,
            NetKind::Glow,
        ),
        (MaskKind::Channel, CouplingKind::AffineTanh, NetKind::Resnet),
        (
            MaskKind::Channel,
            CouplingKind::AffineSigmoid,
            NetKind::Glow,
        ),
    ] {
        for parity in [0, 1] {
            check_layer(
                &format!("{mask:?}/{kind:?}/{parity}"),
                &x,
                &Ctx::eval(),
                |p| {
                    Box::new(Coupling::new(p, &[2, 4, 4], mask, parity, kind, &net(nk), 0).unwrap())
                },
            );
        }
    }
    for kind in [CouplingKind::AffineTanh, CouplingKind::AffineSigmoid] {
        check_layer(
            &format!("alternate/{kind:?}"),
            &vec8(2),
            &Ctx::eval(),
            |p| {
                Box::new(
                    Coupling::new(p, &[8], MaskKind::Alternate, 1, kind, &net(NetKind::Mlp), 0)
                        .unwrap(),
                )
            },
        );
    }
}

/// Glow's coupling with its log-scale soft-clamped to `alpha tanh(s / alpha)`: still a bijection
/// whose log-det is autograd's, and on inputs far from anything seen (where the unclamped
/// `log sigmoid(h + 2)` runs to -1e4 and its inverse overflows f32) each transformed element's
/// log-scale stays above -alpha, so the inverse stays finite.
#[test]
fn a_soft_clamped_glow_coupling_inverts_and_bounds_its_log_scale() {
    let alpha = 3.0;
    let build = |p: &nn::Path, clamp: Option<f64>| {
        Coupling::new(
            p,
            &[2, 4, 4],
            MaskKind::Channel,
            0,
            CouplingKind::AffineSigmoid,
            &net(NetKind::Glow),
            0,
        )
        .unwrap()
        .with_scale_clamp(clamp)
        .unwrap()
    };
    check_layer("channel/sigmoid/clamped", &img(6), &Ctx::eval(), |p| {
        Box::new(build(p, Some(alpha)))
    });
    let vs = nn::VarStore::new(CPU);
    let (clamped, free) = (
        build(&(vs.root() / "c"), Some(alpha)),
        build(&(vs.root() / "f"), None),
    );
    perturb(&vs, 0.3, 8);
    // Far from the data: inputs of size 1e4 drive the coupling nets' outputs to +-1e3 or more.
    let far = img(7).to_kind(Kind::Float) * 1e4;
    let (_, ld) = clamped.forward(&far, &Ctx::eval()).unwrap();
    let transformed = 16.0; // one of the two channels, 4x4
    assert!(ld.min().double_value(&[]) > -alpha * transformed, "{ld:?}");
    let (_, ld_free) = free.forward(&far, &Ctx::eval()).unwrap();
    assert!(ld_free.min().double_value(&[]) < -alpha * transformed * 10.0);
    let back = clamped.inverse(&far, &Ctx::eval()).unwrap().0;
    assert!(back.isfinite().all().int64_value(&[]) == 1);
    assert!(build(&(vs.root() / "bad"), None)
        .with_scale_clamp(Some(0.0))
        .is_err());
}

#[test]
fn additive_coupling_is_volume_preserving_and_diag_scale() {
    let x = vec8(3);
    let mut vs = nn::VarStore::new(CPU);
    let c = Coupling::new(
        &vs.root(),
        &[8],
        MaskKind::Alternate,
        0,
        CouplingKind::Additive,
        &net(NetKind::Mlp),
        0,
    )
    .unwrap();
    perturb(&vs, 0.3, 1);
    vs.double();
    check_round_trip("additive", &c, &x, &Ctx::eval(), 1e-9);
    let (z, ld) = c.forward(&x, &Ctx::eval()).unwrap();
    assert_eq!(max_abs(&ld), 0.0);
    assert!(max_abs(&(&z - &x)) > 1e-3);
    assert!(
        max_abs(&autograd_logdet(
            &|v| c.forward(v, &Ctx::eval()).unwrap().0,
            &x
        )) < 1e-10
    );
    check_layer("diag-scale", &x, &Ctx::eval(), |p| {
        Box::new(DiagScale::new(p, &[8]))
    });
    check_layer("diag-scale-img", &img(4), &Ctx::eval(), |p| {
        Box::new(DiagScale::new(p, &[2, 4, 4]))
    });
}

#[test]
fn conditional_coupling_depends_on_the_class() {
    let x = img(5);
    let mut vs = nn::VarStore::new(CPU);
    let c = Coupling::new(
        &vs.root(),
        &[2, 4, 4],
        MaskKind::Checkerboard,
        0,
        CouplingKind::AffineTanh,
        &net(NetKind::Resnet),
        3,
    )
    .unwrap();
    perturb(&vs, 0.3, 2);
    vs.double();
    let y0 = Tensor::from_slice(&[1.0f64, 0.0, 0.0, 0.0, 1.0, 0.0]).view([2, 3]);
    let y1 = Tensor::from_slice(&[0.0f64, 0.0, 1.0, 1.0, 0.0, 0.0]).view([2, 3]);
    let ctx0 = Ctx::eval().with_cond(Some(&y0));
    check_all("cond coupling", &c, &x, &ctx0);
    let (a, _) = c.forward(&x, &ctx0).unwrap();
    let (b, _) = c.forward(&x, &Ctx::eval().with_cond(Some(&y1))).unwrap();
    assert!(max_abs(&(a - b)) > 1e-4);
    // A missing condition is an error, not a panic.
    assert!(c
        .forward(
            &x.view([2, 2, 4, 4]),
            &Ctx::eval().with_cond(Some(&Tensor::ones([2, 3, 2, 2], (Kind::Double, CPU))))
        )
        .is_err());
}

#[test]
fn squeeze_and_permutations() {
    let x = img(6);
    let s = Squeeze;
    check_round_trip("squeeze", &s, &x, &Ctx::eval(), 0.0 + 1e-12);
    let (z, _) = s.forward(&x, &Ctx::eval()).unwrap();
    assert_eq!(z.size(), vec![2, 8, 2, 2]);
    // A 2x2 block becomes the 4 channels of one position.
    assert_eq!(z.double_value(&[0, 1, 0, 0]), x.double_value(&[0, 0, 0, 1]));
    assert_eq!(
        max_abs(&autograd_logdet(
            &|v| s.forward(v, &Ctx::eval()).unwrap().0,
            &x
        )),
        0.0
    );
    assert!(s
        .forward(
            &Tensor::zeros([1, 1, 3, 4], (Kind::Double, CPU)),
            &Ctx::eval()
        )
        .is_err());
    let vs = nn::VarStore::new(CPU);
    for (name, p) in [
        ("reverse", Permute::reverse(&(vs.root() / "a"), 8)),
        ("random", Permute::random(&(vs.root() / "b"), 8, 3)),
    ] {
        let x = vec8(7);
        check_round_trip(name, &p, &x, &Ctx::eval(), 1e-12);
        let (z, _) = p.forward(&x, &Ctx::eval()).unwrap();
        assert!(max_abs(&(&z - &x)) > 1e-3);
        // |det| of a permutation is 1.
        assert!(
            max_abs(&autograd_logdet(
                &|v| p.forward(v, &Ctx::eval()).unwrap().0,
                &x
            )) < 1e-12
        );
    }
}

#[test]
fn actnorm_round_trip_and_data_init() {
    check_layer("actnorm-img", &img(8), &Ctx::eval(), |p| {
        Box::new(ActNorm::new(p, 2))
    });
    check_layer("actnorm-vec", &vec8(9), &Ctx::eval(), |p| {
        Box::new(ActNorm::new(p, 8))
    });
    // Data-dependent init: zero mean, unit variance per channel on the init batch.
    let vs = nn::VarStore::new(CPU);
    let a = ActNorm::new(&vs.root(), 3);
    tch::manual_seed(0);
    let shift = Tensor::from_slice(&[5.0f32, -2.0, 0.3]).view([1, 3, 1, 1]);
    let scale = Tensor::from_slice(&[3.0f32, 0.1, 1.7]).view([1, 3, 1, 1]);
    let x = Tensor::randn([16, 3, 4, 4], (Kind::Float, CPU)) * scale + shift;
    let init = Ctx {
        init: true,
        ..Ctx::eval()
    };
    let (y, _) = tch::no_grad(|| a.forward(&x, &init)).unwrap();
    let mean = y.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Float);
    let var = y.var_dim([0i64, 2, 3].as_slice(), false, false);
    assert!(max_abs(&mean) < 1e-4, "{mean:?}");
    assert!(max_abs(&(var - 1.0)) < 1e-3);
    // Afterwards (not init), the same parameters are used.
    let (y2, _) = a.forward(&x, &Ctx::eval()).unwrap();
    assert!(max_abs(&(y2 - y)) < 1e-6);
}

#[test]
fn batch_norm_flow_eval_mode_and_training_statistics() {
    let mut vs = nn::VarStore::new(CPU);
    let bn = BatchNormFlow::new(&vs.root(), 2);
    tch::no_grad(|| {
        bn.running_mean
            .shallow_clone()
            .copy_(&Tensor::from_slice(&[0.5f32, -1.0]));
        bn.running_var
            .shallow_clone()
            .copy_(&Tensor::from_slice(&[2.0f32, 0.3]));
    });
    perturb(&vs, 0.3, 3);
    vs.double();
    check_all("batchnorm-eval", &bn, &img(10), &Ctx::eval());
    // Training mode normalizes with the batch statistics (and the log-det uses them).
    let x = img(11) * 3.0 + 1.0;
    let vs2 = nn::VarStore::new(CPU);
    let bn2 = BatchNormFlow::new(&vs2.root(), 2);
    let (y, ld) = bn2.forward(&x.to_kind(Kind::Float), &Ctx::train()).unwrap();
    let mean = y.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Float);
    assert!(max_abs(&mean) < 1e-4);
    let var = x.var_dim([0i64, 2, 3].as_slice(), false, false) + 1e-4;
    let expect = -(var.log().sum(Kind::Double) * 0.5 * 16.0);
    assert!((ld.double_value(&[0]) - expect.double_value(&[])).abs() < 1e-3);
    // The running averages moved towards the batch statistics.
    assert!(bn2.running_mean.double_value(&[0]) > 0.0);
}

#[test]
fn invertible_1x1_conv_plain_and_lu() {
    for lu in [false, true] {
        check_layer(&format!("conv1x1 lu={lu}"), &img(12), &Ctx::eval(), |p| {
            Box::new(Conv1x1::new(p, 2, lu))
        });
        check_layer(&format!("linear lu={lu}"), &vec8(13), &Ctx::eval(), |p| {
            Box::new(Conv1x1::new(p, 8, lu))
        });
    }
    // The LU parameterization is W's: log|det W| = sum log|s|.
    let vs = nn::VarStore::new(CPU);
    let c = Conv1x1::new(&vs.root(), 4, true);
    perturb(&vs, 0.3, 4);
    let (w, ld) = c.weight();
    let (_, logabs) = Tensor::linalg_slogdet(&w.to_kind(Kind::Double));
    assert!((ld.double_value(&[]) - logabs.double_value(&[])).abs() < 1e-5);
}

#[test]
fn logit_and_shift_preprocessing_at_the_data_edges() {
    // y in [0,1] including both edges (pixels 0 and 255 dequantized to 0 and ~1).
    let y = Tensor::from_slice(&[0.0f64, 1.0, 0.5, 255.999 / 256.0, 1e-9, 0.25]).view([2, 3]);
    let l = Logit { alpha: 0.05 };
    check_round_trip("logit", &l, &y, &Ctx::eval(), 1e-9);
    let auto = autograd_logdet(&|v| l.forward(v, &Ctx::eval()).unwrap().0, &y);
    let (z, ld) = l.forward(&y, &Ctx::eval()).unwrap();
    assert!(bool::try_from(z.isfinite().all()).unwrap());
    // units::logit_transform reports its log-det in f32.
    assert!(max_abs(&(ld.to_kind(Kind::Double) - auto)) < 1e-4);
    let s = Shift {
        scale: 2.0,
        shift: -1.0,
    };
    check_all("shift", &s, &y, &Ctx::eval());
    assert!(s.forward(&y, &Ctx::eval()).unwrap().1.double_value(&[0]) - 3.0 * 2f64.ln() < 1e-12);
}

#[test]
fn maf_and_iaf_layers() {
    for iaf in [false, true] {
        for (ordering, rd, ctx_dim) in [
            (Ordering::Natural, None, 0),
            (Ordering::Random(4), Some(5), 0),
            (Ordering::Reversed, None, 3),
        ] {
            let cfg = MadeConfig {
                input_dim: 8,
                hidden: vec![24, 24],
                out_per_dim: 2,
                ordering,
                random_degrees: rd,
                context_dim: ctx_dim,
            };
            let mut vs = nn::VarStore::new(CPU);
            let l = AutoregressiveAffine::new(&vs.root(), &cfg, iaf).unwrap();
            perturb(&vs, 0.2, 5);
            vs.double();
            let x = vec8(14);
            let c = Tensor::eye(3, (Kind::Double, CPU));
            let ctx = if ctx_dim > 0 {
                Ctx::eval().with_cond(Some(&c))
            } else {
                Ctx::eval()
            };
            check_all(
                &format!("autoregressive iaf={iaf} ctx={ctx_dim}"),
                &l,
                &x,
                &ctx,
            );
            // The one-pass direction's Jacobian is triangular in the ordering: output i does
            // not depend on later inputs.
            let xg = x.detach().set_requires_grad(true);
            let y = if iaf {
                l.inverse(&xg, &ctx).unwrap().0
            } else {
                l.forward(&xg, &ctx).unwrap().0
            };
            let pos = &l.made.positions;
            for i in 0..8usize {
                let g = Tensor::run_backward(
                    &[y.select(1, i as i64).sum(Kind::Double)],
                    &[&xg],
                    true,
                    false,
                );
                for j in 0..8usize {
                    if pos[j] > pos[i] {
                        assert_eq!(max_abs(&g[0].select(1, j as i64)), 0.0);
                    }
                }
            }
        }
    }
}

#[test]
fn sequential_composes_log_dets() {
    let mut vs = nn::VarStore::new(CPU);
    let p = vs.root();
    let mut s = Sequential::new();
    s.push(ActNorm::new(&(&p / "a"), 2));
    s.push(Conv1x1::new(&(&p / "w"), 2, true));
    s.push(
        Coupling::new(
            &(&p / "c"),
            &[2, 4, 4],
            MaskKind::Checkerboard,
            0,
            CouplingKind::AffineTanh,
            &net(NetKind::Resnet),
            0,
        )
        .unwrap(),
    );
    s.push(Squeeze);
    s.push(
        Coupling::new(
            &(&p / "d"),
            &[8, 2, 2],
            MaskKind::Channel,
            1,
            CouplingKind::AffineSigmoid,
            &net(NetKind::Glow),
            0,
        )
        .unwrap(),
    );
    perturb(&vs, 0.3, 6);
    vs.double();
    check_all("sequential", &s, &img(15), &Ctx::eval());
}

#[test]
fn variational_dequantizer_is_a_normalized_density_on_the_unit_interval() {
    // One-pixel images: u is 1-D, so q(u|x) can be integrated on a grid.
    let mut vs = nn::VarStore::new(CPU);
    let q = VariationalDequantizer::new(&vs.root(), &[1, 1, 1], 3, 8).unwrap();
    perturb(&vs, 0.5, 8);
    vs.double();
    for pix in [0u8, 77, 255] {
        let n = 20000i64;
        let u = (Tensor::arange(n, (Kind::Double, CPU)) + 0.5) / n as f64;
        let x = Tensor::full([n, 1, 1, 1], i64::from(pix), (Kind::Uint8, CPU));
        let lq = q.log_q(&x, &u.view([n, 1, 1, 1])).unwrap();
        let integral = lq.exp().sum(Kind::Double).double_value(&[]) / n as f64;
        assert!(
            (integral - 1.0).abs() < 1e-3,
            "pixel {pix}: integral {integral}"
        );
    }
    // Drawn noise lies in (0,1) and its reported log q matches the density at that point.
    vs.double();
    let x = Tensor::from_slice(&[0u8, 255, 3, 128]).view([4, 1, 1, 1]);
    let (y, lq, u) = q.dequantize_with_noise(&x).unwrap();
    let again = q.log_q(&x, &u).unwrap();
    assert!(max_abs(&(lq - again)) < 1e-8);
    assert!(bool::try_from(u.gt(0.0).logical_and(&u.lt(1.0)).all()).unwrap());
    assert!(bool::try_from(y.ge(0.0).logical_and(&y.le(1.0)).all()).unwrap());
}
