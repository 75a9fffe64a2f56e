//! Tests of [`super`] (toy data): densities integrate to 1, the checkerboard density is right,
//! samplers are seeded, and the KL estimators agree with closed forms and with each other.
use super::*;

fn integral(t: &dyn TrueDensity, res: i64) -> f64 {
    let (lo, hi) = t.bounds();
    let (x, dv) = grid(lo, hi, res, t.dim());
    (t.log_prob(&x).unwrap().exp().sum(Kind::Double) * dv).double_value(&[])
}

#[test]
fn closed_form_densities_integrate_to_one() {
    for toy in [Toy::EightGaussians, Toy::GridGaussians, Toy::Checkerboard] {
        let z = integral(&toy, 800);
        assert!((z - 1.0).abs() < 1e-4, "{}: integral {z}", toy.name());
    }
    let z = integral(&Toy::Gmm1d, 20_000);
    assert!((z - 1.0).abs() < 1e-6, "gmm1d: {z}");
    assert!(
        !Toy::TwoMoons.has_density()
            && Toy::TwoMoons
                .log_prob(&Tensor::zeros([1, 2], (Kind::Float, Device::Cpu)))
                .is_err()
    );
}

#[test]
fn checkerboard_density_is_one_32nd_on_black_cells() {
    let pts = Tensor::from_slice(&[
        -3.0f32, -3.0, -1.0, -3.0, 0.5, 0.5, 1.5, 0.5, 3.9, 3.9, 4.5, 4.5, -3.0, -1.5,
    ])
    .reshape([7, 2]);
    let lp = Vec::<f64>::try_from(Toy::Checkerboard.log_prob(&pts).unwrap()).unwrap();
    let inside = -(32f64.ln());
    // cells (0,0) black, (1,0) white, (2,2) black, (2,2)... (x=1.5 -> i=2, y=0.5 -> j=2) black,
    // (3,3) black, outside the board, (0,1) white.
    let want = [
        inside,
        f64::NEG_INFINITY,
        inside,
        inside,
        inside,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    assert_eq!(lp, want);
    let x = Toy::Checkerboard.sample(5000, 3);
    let lp = Toy::Checkerboard.log_prob(&x).unwrap();
    assert!(
        bool::try_from(lp.eq(inside).all()).unwrap(),
        "a sample fell on a white cell"
    );
    // Every one of the 8 black cells is used about equally (625 expected each).
    let cell = ((x.to_kind(Kind::Double) + 4.0) / 2.0)
        .floor()
        .to_kind(Kind::Int64);
    let id = cell.select(1, 0) * 4 + cell.select(1, 1);
    let counts = Vec::<i64>::try_from(id.bincount::<Tensor>(None, 16)).unwrap();
    assert_eq!(counts.iter().filter(|&&c| c > 0).count(), 8);
    assert!(
        counts.iter().all(|&c| c == 0 || (525..725).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn samplers_are_seeded_and_match_their_mixtures() {
    for toy in Toy::ALL {
        let a = toy.sample(3000, 1);
        assert_eq!(a.size(), vec![3000, toy.dim() as i64]);
        assert!(a.equal(&toy.sample(3000, 1)), "{}", toy.name());
        assert!(!a.equal(&toy.sample(3000, 2)), "{}", toy.name());
        let (lo, hi) = toy.bounds();
        let inside = a
            .ge(lo)
            .logical_and(&a.le(hi))
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        assert!(inside > 0.995, "{}: {inside} inside the bounds", toy.name());
        assert_eq!(Toy::from_name(toy.name()), Some(toy));
    }
    // gmm1d: sample mean and variance match the mixture's.
    let x = Toy::Gmm1d.sample(200_000, 0).to_kind(Kind::Double);
    let m = Toy::Gmm1d.mixture().unwrap();
    let mean: f64 = m
        .weights
        .iter()
        .zip(&m.means)
        .map(|(w, mu)| w * mu[0])
        .sum();
    let second: f64 = (0..3)
        .map(|k| m.weights[k] * (m.stds[k].powi(2) + m.means[k][0].powi(2)))
        .sum();
    assert!((x.mean(Kind::Double).double_value(&[]) - mean).abs() < 0.02);
    assert!((x.var(true).double_value(&[]) - (second - mean * mean)).abs() < 0.05);
    // Split: vector data of the right size, train and test differ.
    let s = Toy::Rings.split(100, 50, 0);
    assert_eq!(
        (s.train.kind, s.test.len()),
        (DataKind::Vector { dim: 2 }, 50)
    );
    assert!(!s.train.x.narrow(0, 0, 50).equal(&s.test.x));
    assert_eq!(Toy::from_name("8gaussians"), Some(Toy::EightGaussians));
}

#[test]
fn kl_estimators_match_closed_forms() {
    // KL(p || p) = 0 exactly by Monte Carlo, ~0 on the grid.
    for toy in [Toy::EightGaussians, Toy::Checkerboard, Toy::Gmm1d] {
        let mut q = |x: &Tensor| toy.log_prob(x);
        let mc = kl_monte_carlo(&toy, &mut q, 2000, 0).unwrap();
        assert_eq!(mc.nats, 0.0);
        let g = kl_grid(&toy, &mut q, 400).unwrap();
        assert!(
            g.nats.abs() < 1e-9 && (g.coverage.unwrap() - 1.0).abs() < 1e-3,
            "{}: {g:?}",
            toy.name()
        );
    }
    // Two 2-D Gaussians: KL(N(0, I) || N(m, s^2 I)) = 2 ln s + (2 + |m|^2) / (2 s^2) - 1.
    let p = Mixture {
        weights: vec![1.0],
        means: vec![vec![0.0, 0.0]],
        stds: vec![1.0],
    };
    let q = Mixture {
        weights: vec![1.0],
        means: vec![vec![1.0, -0.5]],
        stds: vec![1.5],
    };
    let exact = 2.0 * 1.5f64.ln() + (2.0 + 1.25) / (2.0 * 2.25) - 1.0;
    let mut lq = |x: &Tensor| Ok(q.log_prob(x));
    let g = kl_grid(&p, &mut lq, 600).unwrap();
    assert!((g.nats - exact).abs() < 1e-4, "grid {} vs {exact}", g.nats);
    let mc = kl_monte_carlo(&p, &mut lq, 50_000, 1).unwrap();
    assert!(
        (mc.nats - exact).abs() < 4.0 * mc.std_err.unwrap(),
        "mc {mc:?} vs {exact}"
    );
    // The truth against a wrong model: both estimators agree and are clearly positive.
    let wide = Mixture {
        weights: vec![1.0],
        means: vec![vec![0.0, 0.0]],
        stds: vec![2.5],
    };
    let mut lw = |x: &Tensor| Ok(wide.log_prob(x));
    let g = kl_grid(&Toy::EightGaussians, &mut lw, 600).unwrap();
    let mc = kl_monte_carlo(&Toy::EightGaussians, &mut lw, 50_000, 2).unwrap();
    assert!(
        g.nats > 0.5 && (g.nats - mc.nats).abs() < 4.0 * mc.std_err.unwrap() + 1e-3,
        "{g:?} {mc:?}"
    );
    // A model that misses part of the checkerboard's support has infinite KL.
    let mut lg = |x: &Tensor| Ok(Toy::GridGaussians.log_prob(x)?.clamp_max(-1e308));
    assert!(
        kl_monte_carlo(&Toy::Checkerboard, &mut lg, 100, 0)
            .unwrap()
            .nats
            > 1e300
    );
}
