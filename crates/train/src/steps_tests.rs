//! Tests of [`super`] (the step loop's engine side): `apply_grads` matches gradients to
//! parameters by identity, clips, and names foreign, misshapen and unknown-group input.
use super::*;
use crate::optim::{OptimConfig, OptimKind};
use tch::Device;

/// `apply_grads` matches pairs to parameters by identity in any order, leaves a parameter
/// without a pair alone, clips, and names a foreign tensor, a misshapen gradient and an
/// unknown group.
#[test]
fn applied_gradients_step_the_right_parameters() {
    let a = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
    let b = Tensor::ones([4], (Kind::Float, Device::Cpu));
    let sgd = OptimConfig {
        kind: OptimKind::Sgd,
        lr: 0.1,
        ..OptimConfig::default()
    };
    let opt = Optimizer::new(
        sgd,
        vec![
            ("a".into(), a.shallow_clone()),
            ("b".into(), b.shallow_clone()),
        ],
    );
    let mut opts = BTreeMap::from([("model".to_string(), opt)]);
    let mut handle = StepOptim {
        opts: &mut opts,
        clip: None,
        step: 0,
    };
    let ga = Tensor::full([2, 3], 2.0, (Kind::Float, Device::Cpu));
    let gb = Tensor::full([4], -1.0, (Kind::Float, Device::Cpu));
    handle
        .apply_grads(
            "model",
            &[
                (b.shallow_clone(), gb),
                (a.shallow_clone(), ga.shallow_clone()),
            ],
        )
        .unwrap();
    assert!(a.allclose(
        &Tensor::full([2, 3], 0.8, (Kind::Float, Device::Cpu)),
        1e-6,
        1e-6,
        false
    ));
    assert!(b.allclose(
        &Tensor::full([4], 1.1, (Kind::Float, Device::Cpu)),
        1e-6,
        1e-6,
        false
    ));
    // Only `a`: `b` stays.
    handle
        .apply_grads("model", &[(a.shallow_clone(), ga)])
        .unwrap();
    assert!((a.double_value(&[0, 0]) - 0.6).abs() < 1e-6);
    assert!((b.double_value(&[0]) - 1.1).abs() < 1e-6);
    // Clipped to norm 1: a gradient of norm 10 moves `b` by lr * 0.1 per entry of 5.
    handle.clip = Some(1.0);
    let g10 = Tensor::full([4], 5.0, (Kind::Float, Device::Cpu));
    handle
        .apply_grads("model", &[(b.shallow_clone(), g10)])
        .unwrap();
    assert!((b.double_value(&[0]) - (1.1 - 0.1 * 0.5)).abs() < 1e-5);

    let foreign = Tensor::ones([4], (Kind::Float, Device::Cpu));
    let e = handle
        .apply_grads(
            "model",
            &[(foreign.shallow_clone(), foreign.shallow_clone())],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("not a parameter of group `model`"),
        "{e}"
    );
    let e = handle
        .apply_grads(
            "model",
            &[(
                b.shallow_clone(),
                Tensor::ones([5], (Kind::Float, Device::Cpu)),
            )],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("gradient") && e.to_string().contains("`b`"),
        "{e}"
    );
    let e = handle
        .apply_grads("model", &[(b.shallow_clone(), Tensor::new())])
        .unwrap_err();
    assert!(e.to_string().contains("undefined"), "{e}");
    let g64 = Tensor::ones([4], (Kind::Double, Device::Cpu));
    let e = handle
        .apply_grads("model", &[(b.shallow_clone(), g64)])
        .unwrap_err();
    assert!(e.to_string().contains("Double"), "{e}");
    let g1 = Tensor::ones([4], (Kind::Float, Device::Cpu));
    let e = handle
        .apply_grads(
            "model",
            &[
                (b.shallow_clone(), g1.shallow_clone()),
                (b.shallow_clone(), g1),
            ],
        )
        .unwrap_err();
    assert!(e.to_string().contains("two gradients"), "{e}");
    let e = handle
        .apply_grads("model", &[(Tensor::new(), Tensor::new())])
        .unwrap_err();
    assert!(e.to_string().contains("not a parameter"), "{e}");
    let e = handle.apply_grads("critic", &[]).unwrap_err();
    assert!(
        e.to_string().contains("critic") && e.to_string().contains("model"),
        "{e}"
    );
}
