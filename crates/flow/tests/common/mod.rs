//! Test helpers: perturbing parameters away from their (often identity) initialization, and the
//! bijector checks every layer and model goes through: round trip, cancelling log-dets, and the
//! log-det against log|det| of the Jacobian computed by autograd row by row.
#![allow(dead_code)]
use genzoo_flow::{Bijector, Ctx};
use tch::{nn, Kind, Tensor};

/// Adds `scale * N(0,1)` to every trainable variable (seeded), so that zero-initialized nets are
/// not the identity.
pub fn perturb(vs: &nn::VarStore, scale: f64, seed: i64) {
    tch::manual_seed(seed);
    tch::no_grad(|| {
        for mut v in vs.trainable_variables() {
            let noise = v.randn_like() * scale;
            let _ = v.g_add_(&noise);
        }
    });
}

/// Per-example log|det J| of `f` at `x` (`[b, ...]` -> `[b, ...]` with the same per-example
/// numel D), by D backward passes.
pub fn autograd_logdet(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor) -> Tensor {
    let b = x.size()[0];
    let x = x.detach().set_requires_grad(true);
    let z = f(&x).reshape([b, -1]);
    let d = z.size()[1];
    let dx = x.numel() as i64 / b;
    assert_eq!(d, dx, "the map must keep the dimension");
    let mut rows = Vec::new();
    for i in 0..d {
        let g = Tensor::run_backward(&[z.select(1, i).sum(z.kind())], &[&x], true, false);
        rows.push(g[0].reshape([b, d]));
    }
    let jac = Tensor::stack(&rows, 1); // [b, D_out, D_in]
    let (_, logabs) = Tensor::linalg_slogdet(&jac);
    logabs
}

pub fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().to_kind(Kind::Double).double_value(&[])
}

/// Round trip and log-det cancellation within `tol`.
pub fn check_round_trip(name: &str, f: &dyn Bijector, x: &Tensor, ctx: &Ctx, tol: f64) {
    let (z, ld) = f.forward(x, ctx).unwrap();
    let (back, ld_inv) = f.inverse(&z, ctx).unwrap();
    assert_eq!(back.size(), x.size(), "{name}: shape after round trip");
    let err = max_abs(&(&back - x));
    assert!(err < tol, "{name}: round-trip error {err}");
    let c = max_abs(&(&ld + &ld_inv));
    assert!(
        c < tol * 10.0 * (1.0 + max_abs(&ld)),
        "{name}: log-dets do not cancel ({c})"
    );
    assert_eq!(ld.size(), vec![x.size()[0]], "{name}: log-det shape");
    assert!(
        bool::try_from(z.isfinite().all()).unwrap(),
        "{name}: non-finite output"
    );
}

/// The forward log-det equals autograd's log|det J| (f64 inputs) within `tol`; also checks the
/// inverse direction.
pub fn check_jacobian(name: &str, f: &dyn Bijector, x: &Tensor, ctx: &Ctx, tol: f64) {
    let (z, ld) = f.forward(x, ctx).unwrap();
    let auto = autograd_logdet(&|v: &Tensor| f.forward(v, ctx).unwrap().0, x);
    let err = max_abs(&(&ld.to_kind(Kind::Double) - &auto));
    assert!(
        err < tol,
        "{name}: forward log-det {:?} vs autograd {:?}",
        Vec::<f64>::try_from(&ld.to_kind(Kind::Double)).unwrap(),
        Vec::<f64>::try_from(&auto).unwrap()
    );
    let (_, ld_inv) = f.inverse(&z.detach(), ctx).unwrap();
    let auto_inv = autograd_logdet(&|v: &Tensor| f.inverse(v, ctx).unwrap().0, &z.detach());
    let err = max_abs(&(&ld_inv.to_kind(Kind::Double) - &auto_inv));
    assert!(err < tol, "{name}: inverse log-det off by {err}");
    // A layer that is the identity would pass trivially: require a non-trivial map.
    assert!(
        z.size() != x.size() || max_abs(&(&z - x)) > 1e-3 || max_abs(&ld) > 1e-3,
        "{name}: map is the identity"
    );
}

/// Both checks.
pub fn check_all(name: &str, f: &dyn Bijector, x: &Tensor, ctx: &Ctx) {
    check_round_trip(name, f, x, ctx, 1e-9);
    check_jacobian(name, f, x, ctx, 1e-7);
}
