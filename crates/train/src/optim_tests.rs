//! Tests of [`super`] (the optimizers): each update against its closed form, the flat buffers
//! against the per-tensor path, the fused kernel against the own update, state round trips.
use super::*;
use tch::{nn, nn::OptimizerConfig, Device, Kind};

/// A double-precision parameter vector p0 and the quadratic loss sum(a * (p - c)^2).
fn quad_loss(p: &Tensor) -> Tensor {
    let a = Tensor::from_slice(&[1.0f64, 3.0, 0.5, 2.0]);
    let c = Tensor::from_slice(&[0.5f64, -1.0, 2.0, 0.0]);
    (a * (p - c).square()).sum(Kind::Double)
}
fn p0() -> Vec<f64> {
    vec![1.0, 2.0, -3.0, 0.25]
}
fn grad_at(p: &[f64]) -> Vec<f64> {
    let a = [1.0, 3.0, 0.5, 2.0];
    let c = [0.5, -1.0, 2.0, 0.0];
    (0..4).map(|i| 2.0 * a[i] * (p[i] - c[i])).collect()
}

fn run_ours(cfg: OptimConfig, steps: usize) -> Vec<f64> {
    let p = Tensor::from_slice(&p0()).set_requires_grad(true);
    let mut opt = Optimizer::new(cfg, vec![("p".into(), p.shallow_clone())]);
    for _ in 0..steps {
        opt.zero_grad();
        quad_loss(&p).backward();
        opt.step();
    }
    Vec::try_from(&p.detach()).unwrap()
}

fn run_tch(cfg: &OptimConfig, steps: usize) -> Vec<f64> {
    let mut vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root().var_copy("p", &Tensor::from_slice(&p0()));
    vs.double();
    let mut opt = match cfg.kind {
        OptimKind::Adam => nn::Adam {
            beta1: cfg.betas[0],
            beta2: cfg.betas[1],
            wd: cfg.weight_decay,
            eps: cfg.eps,
            amsgrad: false,
        }
        .build(&vs, cfg.lr),
        OptimKind::AdamW => nn::AdamW {
            beta1: cfg.betas[0],
            beta2: cfg.betas[1],
            wd: cfg.weight_decay,
            eps: cfg.eps,
            amsgrad: false,
        }
        .build(&vs, cfg.lr),
        OptimKind::RmsProp => nn::RmsProp {
            alpha: cfg.alpha,
            eps: cfg.eps,
            wd: cfg.weight_decay,
            momentum: cfg.momentum,
            centered: false,
        }
        .build(&vs, cfg.lr),
        OptimKind::Sgd => nn::Sgd {
            momentum: cfg.momentum,
            dampening: 0.0,
            wd: cfg.weight_decay,
            nesterov: cfg.nesterov,
        }
        .build(&vs, cfg.lr),
    }
    .unwrap();
    for _ in 0..steps {
        opt.backward_step(&quad_loss(&p));
    }
    Vec::try_from(&p.detach()).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn adam_first_step_is_lr_times_sign() {
    let cfg = OptimConfig {
        lr: 0.01,
        eps: 0.0,
        ..Default::default()
    };
    let p1 = run_ours(cfg, 1);
    let g = grad_at(&p0());
    let want: Vec<f64> = p0()
        .iter()
        .zip(&g)
        .map(|(p, g)| p - 0.01 * g.signum())
        .collect();
    close(&p1, &want, 1e-14);
}

#[test]
fn adam_second_step_closed_form() {
    let (lr, b1, b2, eps) = (0.05, 0.9, 0.99, 1e-8);
    let cfg = OptimConfig {
        lr,
        betas: [b1, b2],
        eps,
        ..Default::default()
    };
    let g1 = grad_at(&p0());
    let p1: Vec<f64> = p0()
        .iter()
        .zip(&g1)
        .map(|(p, g)| p - lr * g / (g.abs() + eps))
        .collect();
    let g2 = grad_at(&p1);
    let want: Vec<f64> = (0..4)
        .map(|i| {
            let m = (1.0 - b1) * (b1 * g1[i] + g2[i]);
            let v = (1.0 - b2) * (b2 * g1[i] * g1[i] + g2[i] * g2[i]);
            let mh = m / (1.0 - b1 * b1);
            let vh = v / (1.0 - b2 * b2);
            p1[i] - lr * mh / (vh.sqrt() + eps)
        })
        .collect();
    close(&run_ours(cfg, 2), &want, 1e-12);
}

#[test]
fn sgd_and_momentum_closed_form() {
    let lr = 0.1;
    let g0 = grad_at(&p0());
    let p1: Vec<f64> = p0().iter().zip(&g0).map(|(p, g)| p - lr * g).collect();
    close(
        &run_ours(
            OptimConfig {
                kind: OptimKind::Sgd,
                lr,
                ..Default::default()
            },
            1,
        ),
        &p1,
        1e-15,
    );
    // momentum 0.5: b1 = g0, b2 = 0.5 g0 + g1
    let g1 = grad_at(&p1);
    let want: Vec<f64> = (0..4).map(|i| p1[i] - lr * (0.5 * g0[i] + g1[i])).collect();
    let cfg = OptimConfig {
        kind: OptimKind::Sgd,
        lr,
        momentum: 0.5,
        ..Default::default()
    };
    close(&run_ours(cfg, 2), &want, 1e-14);
}

#[test]
fn rmsprop_and_adamw_first_step_closed_form() {
    let (lr, alpha, eps) = (0.01, 0.9, 1e-6);
    let g = grad_at(&p0());
    let cfg = OptimConfig {
        kind: OptimKind::RmsProp,
        lr,
        alpha,
        eps,
        ..Default::default()
    };
    let want: Vec<f64> = p0()
        .iter()
        .zip(&g)
        .map(|(p, g)| p - lr * g / (((1.0 - alpha) * g * g).sqrt() + eps))
        .collect();
    close(&run_ours(cfg, 1), &want, 1e-14);
    let cfg = OptimConfig {
        kind: OptimKind::AdamW,
        lr,
        eps: 0.0,
        weight_decay: 0.1,
        ..Default::default()
    };
    let want: Vec<f64> = p0()
        .iter()
        .zip(&g)
        .map(|(p, g)| p * (1.0 - lr * 0.1) - lr * g.signum())
        .collect();
    close(&run_ours(cfg, 1), &want, 1e-14);
}

#[test]
fn matches_torch_optimizers_over_many_steps() {
    let cases = [
        OptimConfig {
            lr: 0.03,
            weight_decay: 0.01,
            ..Default::default()
        },
        OptimConfig {
            kind: OptimKind::AdamW,
            lr: 0.03,
            weight_decay: 0.05,
            betas: [0.5, 0.9],
            ..Default::default()
        },
        OptimConfig {
            kind: OptimKind::RmsProp,
            lr: 0.01,
            momentum: 0.3,
            ..Default::default()
        },
        OptimConfig {
            kind: OptimKind::RmsProp,
            lr: 0.01,
            weight_decay: 0.02,
            ..Default::default()
        },
        OptimConfig {
            kind: OptimKind::Sgd,
            lr: 0.02,
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        },
        OptimConfig {
            kind: OptimKind::Sgd,
            lr: 0.02,
            momentum: 0.5,
            weight_decay: 0.1,
            ..Default::default()
        },
    ];
    for cfg in cases {
        cfg.validate("train.optimizer").unwrap();
        close(&run_ours(cfg.clone(), 20), &run_tch(&cfg, 20), 1e-10);
    }
}

#[test]
fn clipping_bounds_the_norm_and_state_round_trips() {
    let p = Tensor::from_slice(&[3.0f64, 4.0]).set_requires_grad(true);
    let mut opt = Optimizer::new(
        OptimConfig::default(),
        vec![("w".into(), p.shallow_clone())],
    );
    (&p * &p).sum(Kind::Double).backward(); // grad (6, 8), norm 10
    opt.clip_grad_norm(1.0);
    let g: Vec<f64> = Vec::try_from(&p.grad()).unwrap();
    close(&g, &[0.6, 0.8], 1e-6);
    opt.step();
    let st: BTreeMap<String, Tensor> = opt.state_tensors("model/").into_iter().collect();
    assert_eq!(
        st.keys().cloned().collect::<Vec<_>>(),
        vec!["model/w/exp_avg", "model/w/exp_avg_sq"]
    );
    let q = Tensor::from_slice(&[0.0f64, 0.0]).set_requires_grad(true);
    let mut opt2 = Optimizer::new(OptimConfig::default(), vec![("w".into(), q)]);
    opt2.load_state("model/", &st, 1).unwrap();
    assert!(opt2.state_tensors("model/")[1]
        .1
        .equal(&st["model/w/exp_avg_sq"]));
    let bad: BTreeMap<String, Tensor> = [(
        "model/w/exp_avg".to_string(),
        Tensor::zeros([3], (Kind::Double, Device::Cpu)),
    )]
    .into();
    let e = opt2.load_state("model/", &bad, 1).unwrap_err().to_string();
    assert!(
        e.contains("model/w/exp_avg") && e.contains("[3]") && e.contains("[2]"),
        "{e}"
    );
}

/// The flat path (one update over all parameters) is bit-identical to the per-parameter one
/// for every rule, updates the tensors the model holds, and checkpoints the same state.
#[test]
fn flat_buffers_match_the_per_parameter_path_bit_for_bit() {
    let shapes: [&[i64]; 3] = [&[3, 4], &[4], &[2, 2]];
    let make = || -> Vec<(String, Tensor)> {
        tch::manual_seed(7);
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("p{i}"),
                    Tensor::randn(*s, (Kind::Float, Device::Cpu)).set_requires_grad(true),
                )
            })
            .collect()
    };
    let cases = [
        OptimConfig::default(),
        OptimConfig {
            kind: OptimKind::AdamW,
            weight_decay: 0.1,
            ..OptimConfig::default()
        },
        OptimConfig {
            weight_decay: 0.01,
            ..OptimConfig::default()
        },
        OptimConfig {
            kind: OptimKind::RmsProp,
            momentum: 0.9,
            ..OptimConfig::default()
        },
        OptimConfig {
            kind: OptimKind::Sgd,
            momentum: 0.9,
            nesterov: true,
            ..OptimConfig::default()
        },
    ];
    for cfg in cases {
        let (a, b) = (make(), make());
        let held: Vec<Tensor> = a.iter().map(|(_, p)| p.shallow_clone()).collect();
        let mut flat = Optimizer::new(cfg.clone(), a);
        assert!(flat.flat.is_some());
        flat.fused = false; // the own update's flat path (the fused kernel: the test below)
        let mut reference = Optimizer::per_parameter(cfg.clone(), b);
        for step in 0..5 {
            tch::manual_seed(100 + step);
            let grads: Vec<Tensor> = shapes
                .iter()
                .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
                .collect();
            let copy: Vec<Tensor> = grads.iter().map(Tensor::copy).collect();
            flat.step_with(grads);
            reference.step_with(copy);
        }
        for ((h, (_, p)), (_, q)) in held.iter().zip(flat.params()).zip(reference.params()) {
            assert!(h.equal(q) && p.equal(q), "{cfg:?}: parameters differ");
        }
        for ((n, x), (_, y)) in flat
            .state_tensors("g/")
            .iter()
            .zip(reference.state_tensors("g/"))
        {
            assert!(x.equal(&y), "{cfg:?}: state {n} differs");
        }
    }
}

/// PyTorch's fused Adam kernel, compiled in by build.rs, gives the own update's parameters
/// and moments within float rounding (1e-6) over 5 steps, for Adam, Adam with L2 weight decay
/// and AdamW; and it is the path `new` takes for them.
#[test]
fn fused_adam_matches_the_own_update() {
    assert!(
        genzoo_core::kernels::compiled(),
        "kernels.cpp was not compiled (see the build warnings)"
    );
    let shapes: [&[i64]; 3] = [&[30, 40], &[40], &[7, 3]];
    let make = || -> Vec<(String, Tensor)> {
        tch::manual_seed(11);
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let p = Tensor::randn(*s, (Kind::Float, Device::Cpu));
                (format!("p{i}"), p.set_requires_grad(true))
            })
            .collect()
    };
    let cases = [
        OptimConfig {
            betas: [0.5, 0.999],
            ..OptimConfig::default()
        },
        OptimConfig {
            weight_decay: 0.01,
            ..OptimConfig::default()
        },
        OptimConfig {
            kind: OptimKind::AdamW,
            weight_decay: 0.1,
            lr: 3e-3,
            ..OptimConfig::default()
        },
    ];
    for cfg in cases {
        let mut fused = Optimizer::new(cfg.clone(), make());
        let mut own = Optimizer::new(cfg.clone(), make());
        assert!(fused.fused, "{cfg:?}: Adam should take the fused kernel");
        own.fused = false;
        for step in 0..5 {
            tch::manual_seed(200 + step);
            let grads: Vec<Tensor> = shapes
                .iter()
                .map(|s| Tensor::randn(*s, (Kind::Float, Device::Cpu)))
                .collect();
            let copy: Vec<Tensor> = grads.iter().map(Tensor::copy).collect();
            fused.step_with(grads);
            own.step_with(copy);
            assert!(fused.fused, "{cfg:?}: the fused kernel refused step {step}");
        }
        let before = make();
        for (((_, p), (_, q)), (_, p0)) in fused.params().iter().zip(own.params()).zip(&before) {
            let moved = (p - p0).abs().max().double_value(&[]);
            assert!(
                moved > 1e-3,
                "{cfg:?}: the parameters did not move ({moved})"
            );
            let diff = (p - q).abs().max().double_value(&[]);
            assert!(
                diff < 1e-6,
                "{cfg:?}: fused and own updates differ by {diff}"
            );
        }
        for ((n, x), (_, y)) in fused
            .state_tensors("g/")
            .iter()
            .zip(own.state_tensors("g/"))
        {
            let diff = (x - &y).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "{cfg:?}: state {n} differs by {diff}");
        }
    }
}
