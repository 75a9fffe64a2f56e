//! Tests of the f-GAN divergences (Nowozin et al. 2016, Tables 1 and 2): f(1) = 0, the Fenchel
//! identity on a grid, the fused conjugate, the named closed forms and the tight variational bound.
use super::*;
use crate::divergence::js::js_discrete;
use crate::divergence::kl::kl_discrete;
use tch::{Device, Kind};

use FDivergence::*;

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

fn scalar(x: f64) -> Tensor {
    Tensor::from_slice(&[x])
}

#[test]
fn generators_vanish_at_one_with_the_tabled_derivative() {
    // f'(1): 0 for all but KL (1) and reverse KL (-1) (Table 2's last column)
    for (d, fp1) in [
        (TotalVariation, 0.0),
        (KullbackLeibler, 1.0),
        (ReverseKl, -1.0),
        (PearsonChi2, 0.0),
        (SquaredHellinger, 0.0),
        (JensenShannon, 0.0),
    ] {
        assert!(
            d.f(&scalar(1.0)).unwrap().double_value(&[0]).abs() < 1e-15,
            "{d:?}"
        );
        assert!(
            (d.f_prime(&scalar(1.0)).unwrap().double_value(&[0]) - fp1).abs() < 1e-15,
            "{d:?}"
        );
    }
}

#[test]
fn conjugates_satisfy_the_fenchel_identity_on_a_grid() {
    // f*(t) = sup_{u > 0} (u t - f(u)), maximized over u in (0, 30]
    let u = Tensor::linspace(1e-6, 30.0, 600_001, F64);
    let cases: [(FDivergence, &[f64]); 6] = [
        (TotalVariation, &[-0.4, 0.0, 0.3]),
        (KullbackLeibler, &[-1.0, 0.0, 1.0, 2.0]),
        (ReverseKl, &[-3.0, -1.0, -0.5]),
        (PearsonChi2, &[-1.0, 0.0, 0.5, 2.0]),
        (SquaredHellinger, &[-1.0, 0.0, 0.5]),
        (JensenShannon, &[-1.0, 0.0, 0.5]),
    ];
    let mut checked = 0;
    for (d, ts) in cases {
        let fu = d.f(&u).unwrap();
        let (lo, hi, _) = d.conjugate_domain();
        for &t in ts {
            assert!(t >= lo && t < hi, "{d:?}: test point {t} outside dom f*");
            let sup = (&u * t - &fu).max().double_value(&[]);
            let fstar = d.conjugate(&scalar(t)).unwrap().double_value(&[0]);
            assert!(
                (sup - fstar).abs() < 1e-6,
                "{d:?} t = {t}: sup {sup} vs f* {fstar}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

#[test]
fn activations_land_in_the_domain_and_the_fused_conjugate_matches() {
    let v = Tensor::linspace(-20.0, 20.0, 401, F64);
    let vm = Tensor::linspace(-5.0, 5.0, 101, F64);
    for d in FDivergence::ALL {
        let g = d.activation(&v).unwrap();
        let (lo, hi, closed) = d.conjugate_domain();
        assert!(g.min().double_value(&[]) >= lo, "{d:?}");
        let top = g.max().double_value(&[]);
        assert!(
            if closed { top <= hi } else { top < hi },
            "{d:?}: {top} vs {hi}"
        );
        let fused = d.conjugate_of_activation(&vm).unwrap();
        let composed = d.conjugate(&d.activation(&vm).unwrap()).unwrap();
        let err = (fused - composed).abs().max().double_value(&[]);
        assert!(err < 1e-9, "{d:?}: {err}");
    }
    // where the composition loses everything, the fused form stays exact
    let big = scalar(60.0);
    assert_eq!(
        ReverseKl
            .conjugate_of_activation(&big)
            .unwrap()
            .double_value(&[0]),
        59.0
    );
    assert!(
        (JensenShannon
            .conjugate_of_activation(&big)
            .unwrap()
            .double_value(&[0])
            - (60.0 - LN_2))
            .abs()
            < 1e-12
    );
}

#[test]
fn discrete_divergences_match_their_named_closed_forms() {
    let p = Tensor::from_slice(&[0.1f64, 0.6, 0.3]);
    let q = Tensor::from_slice(&[0.3f64, 0.3, 0.4]);
    let get = |d: FDivergence| d.divergence_discrete(&p, &q, 0).unwrap().double_value(&[]);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(
        get(KullbackLeibler),
        kl_discrete(&p.log(), &q.log(), 0)
            .unwrap()
            .double_value(&[])
    ));
    assert!(close(
        get(ReverseKl),
        kl_discrete(&q.log(), &p.log(), 0)
            .unwrap()
            .double_value(&[])
    ));
    assert!(close(
        get(JensenShannon),
        2.0 * js_discrete(&p.log(), &q.log(), 0)
            .unwrap()
            .double_value(&[])
    ));
    assert!(close(get(TotalVariation), 0.5 * (0.2 + 0.3 + 0.1)));
    assert!(close(
        get(PearsonChi2),
        0.04 / 0.3 + 0.09 / 0.3 + 0.01 / 0.4
    ));
    let hel: f64 = [(0.1f64, 0.3f64), (0.6, 0.3), (0.3, 0.4)]
        .iter()
        .map(|(a, b)| (a.sqrt() - b.sqrt()).powi(2))
        .sum();
    assert!(close(get(SquaredHellinger), hel));
    for d in FDivergence::ALL {
        assert!(
            d.divergence_discrete(&p, &p, 0)
                .unwrap()
                .double_value(&[])
                .abs()
                < 1e-15,
            "{d:?}"
        );
    }
    assert!(
        matches!(KullbackLeibler.divergence_discrete(&p, &Tensor::zeros([2], F64), 0), Err(CoreError::Shape { ref name, .. }) if name == "q")
    );
}

#[test]
fn variational_bound_is_tight_at_the_optimal_critic_and_below_elsewhere() {
    let p = Tensor::from_slice(&[0.1f64, 0.6, 0.3]);
    let q = Tensor::from_slice(&[0.3f64, 0.3, 0.4]);
    tch::manual_seed(0);
    for d in FDivergence::ALL {
        let df = d.divergence_discrete(&p, &q, 0).unwrap().double_value(&[]);
        let bound = |t: &Tensor| {
            ((&p * t).sum(Kind::Double) - (&q * d.conjugate(t).unwrap()).sum(Kind::Double))
                .double_value(&[])
        };
        let t_star = d.f_prime(&(&p / &q)).unwrap();
        assert!(
            (bound(&t_star) - df).abs() < 1e-12,
            "{d:?}: {} vs {df}",
            bound(&t_star)
        );
        for _ in 0..20 {
            let t = d.activation(&Tensor::randn([3], F64)).unwrap();
            assert!(bound(&t) <= df + 1e-12, "{d:?}");
        }
    }
}

#[test]
fn fgan_objective_estimates_the_divergence_between_gaussians() {
    // P = N(0.5, 1), Q = N(0, 1); log p/q = 0.5 x - 1/8. The optimal raw output v* solves
    // g_f(v*) = f'(p/q); D_f from a Riemann sum of q f(p/q).
    let n = 400_000;
    tch::manual_seed(1);
    let xp = Tensor::randn([n], F64) + 0.5;
    let xq = Tensor::randn([n], F64);
    let log_ratio = |x: &Tensor| x * 0.5 - 0.125;
    let v_star = |d: FDivergence, x: &Tensor| -> Tensor {
        let lr = log_ratio(x);
        match d {
            KullbackLeibler => lr + 1.0,           // g = id, f' = 1 + log u
            ReverseKl | JensenShannon => lr, // -exp(-v) = -q/p; log2 - softplus(-v) = log(2p/(p+q))
            SquaredHellinger => lr * 0.5,    // 1 - exp(-v) = 1 - sqrt(q/p)
            PearsonChi2 => (lr.exp() - 1.0) * 2.0, // g = id, f' = 2(u - 1)
            TotalVariation => (lr.sign()) * 40.0, // tanh(+-40)/2 = +-1/2
        }
    };
    let grid = Tensor::linspace(-15.0, 15.0, 30_001, F64);
    let log_q = grid.square() * -0.5 - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let u = log_ratio(&grid).exp();
    for d in FDivergence::ALL {
        let exact = (log_q.exp() * d.f(&u).unwrap())
            .sum(Kind::Double)
            .double_value(&[])
            * 1e-3;
        let est = d
            .fgan_objective(&v_star(d, &xp), &v_star(d, &xq))
            .unwrap()
            .double_value(&[]);
        assert!(
            (est - exact).abs() < 0.01 + 0.03 * exact,
            "{d:?}: objective {est} vs D_f {exact}"
        );
        // a mis-specified critic scores strictly lower
        let k = if d == TotalVariation { 0.005 } else { 0.3 };
        let worse = d
            .fgan_objective(&(v_star(d, &xp) * k), &(v_star(d, &xq) * k))
            .unwrap()
            .double_value(&[]);
        assert!(worse < est, "{d:?}");
    }
    // KL(N(0.5,1) || N(0,1)) = 1/8
    let kl = KullbackLeibler
        .fgan_objective(&v_star(KullbackLeibler, &xp), &v_star(KullbackLeibler, &xq))
        .unwrap();
    assert!((kl.double_value(&[]) - 0.125).abs() < 0.01);
}
