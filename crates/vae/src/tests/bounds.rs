//! Bounds, estimators and gradients of the Gaussian-latent models.
use genzoo_baselines::{pca::Ppca, pca::PpcaConfig, Baseline};
use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::dist::{DiagGaussian, Distribution};
use genzoo_core::divergence::kl::kl_diag_gaussians;
use tch::{nn, Device, Kind, Tensor};

use super::{images, mean, set_var, tiny_vae};
use crate::eval::is_log_likelihood;
use crate::grad::encoder_gradient_stats;
use crate::nets::{Activation, Arch};
use crate::obs::{Likelihood, Mode, Prepared};
use crate::vae::{Config, Estimator, Objective, Vae};

fn prepared(vae: &Vae, n: i64) -> Prepared {
    vae.lat
        .lik
        .prepare(&images(n, 5).x, Mode::Eval { seed: 0 })
        .unwrap()
}

/// A linear-Gaussian VAE on `d`-dimensional vectors with `q` latents: encoder and decoder are
/// single linear layers (`enc.out`, `dec.out`).
fn linear_gaussian(d: i64, q: i64) -> (nn::VarStore, Vae) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = Config {
        arch: Arch::Mlp {
            hidden: vec![],
            activation: Activation::Relu,
        },
        latent_dim: q,
        likelihood: Likelihood::Gaussian,
        data: DataKind::Vector { dim: d },
        objective: Objective::default(),
    };
    let vae = Vae::new(&vs.root(), &cfg).unwrap();
    (vs, vae)
}

#[test]
fn l1_equals_the_elbo() {
    let (_vs, vae) = tiny_vae(0);
    let prep = prepared(&vae, 8);
    tch::manual_seed(1);
    let (k, lat) = (4000, &vae.lat);
    let diff = tch::no_grad(|| {
        let q = lat.encode(&prep.input, None).unwrap();
        let z = q.rsample(&[k]).unwrap(); // [k, b, d]
        let log_q = q
            .f_log_prob(&z)
            .unwrap()
            .sum_dim_intlist(-1, false, Kind::Float);
        let params = lat.decode(&z.reshape([k * 8, 4]), None);
        let log_px = lat
            .log_px(
                &params,
                &crate::latent::expand_rows(&prep.target, k).unwrap(),
            )
            .unwrap()
            .reshape([k, 8]);
        let log_w = &log_px + lat.log_prior(&z).unwrap() - log_q; // the L_1 integrand
        let elbo = &log_px
            - lat
                .kl(&q)
                .unwrap()
                .sum_dim_intlist(1, false, Kind::Float)
                .unsqueeze(0); // same draws, analytic KL
        (log_w - elbo).to_kind(Kind::Double)
    });
    let m = mean(&diff);
    let se = diff.std(true).double_value(&[]) / ((k * 8) as f64).sqrt();
    assert!(
        m.abs() < 4.0 * se + 1e-3,
        "E[L_1] - ELBO = {m} (stderr {se})"
    );
    assert!(se > 0.0);
}

#[test]
fn lk_increases_with_k() {
    let (_vs, vae) = tiny_vae(2);
    let prep = prepared(&vae, 8);
    tch::manual_seed(3);
    let (reps, kmax) = (32i64, 32i64);
    let log_w = tch::no_grad(|| {
        vae.lat
            .log_weights(&prep.input, &prep.target, None, reps * kmax)
            .unwrap()
    })
    .reshape([reps, kmax, 8]);
    let lk: Vec<f64> = [1i64, 4, 32]
        .iter()
        .map(|&k| {
            let w = log_w.narrow(1, 0, k);
            mean(&(w.logsumexp([1], false) - (k as f64).ln()))
        })
        .collect();
    assert!(lk[0] < lk[1] && lk[1] < lk[2], "L_1, L_4, L_32 = {lk:?}");
    assert!(
        lk[2] - lk[0] > 0.5,
        "a random-init posterior leaves a clear gap: {lk:?}"
    );
}

/// Sets the linear-Gaussian VAE to PPCA's maximum-likelihood solution, with the exact posterior
/// `q(z|x) = N(M^-1 W^T (x - mu), sigma^2 M^-1)`, `M = W^T W + sigma^2 I` (Tipping & Bishop
/// 1999, eq. 6), diagonal because PPCA's W has orthogonal columns. `var_scale` and `shift`
/// perturb the posterior (1.0 and 0.0: exact).
fn set_ppca(vs: &nn::VarStore, ppca: &Ppca, q: i64, d: i64, var_scale: f64, shift: f64) {
    let w = ppca.weight().unwrap().to_kind(Kind::Double); // [d, q]
    let s2 = ppca.sigma2().unwrap();
    let mu = ppca.pca().unwrap().mean().to_kind(Kind::Double); // [d]
    let m = w.tr().mm(&w) + Tensor::eye(q, (Kind::Double, Device::Cpu)) * s2;
    let m_diag = m.diagonal(0, 0, 1);
    let off = (&m - m_diag.diag(0)).abs().max().double_value(&[]);
    assert!(
        off < 1e-8 * m_diag.max().double_value(&[]),
        "PPCA's M is not diagonal: {m:?}"
    );
    let a = w.tr() / m_diag.unsqueeze(1); // [q, d]
    let enc_w = Tensor::cat(
        &[
            a.shallow_clone(),
            Tensor::zeros([q, d], (Kind::Double, Device::Cpu)),
        ],
        0,
    );
    let enc_b = Tensor::cat(&[-a.mv(&mu) + shift, (s2 * var_scale / &m_diag).log()], 0);
    let dec_w = Tensor::cat(
        &[
            w.shallow_clone(),
            Tensor::zeros([d, q], (Kind::Double, Device::Cpu)),
        ],
        0,
    );
    let dec_b = Tensor::cat(
        &[
            mu.shallow_clone(),
            Tensor::full([d], 0.5 * s2.ln(), (Kind::Double, Device::Cpu)),
        ],
        0,
    );
    set_var(vs, "enc.out.weight", &enc_w);
    set_var(vs, "enc.out.bias", &enc_b);
    set_var(vs, "dec.out.weight", &dec_w);
    set_var(vs, "dec.out.bias", &dec_b);
}

#[test]
fn ppca_vae_is_estimate_matches_closed_form() {
    let (d, q, n) = (5i64, 2i64, 3000i64);
    tch::manual_seed(4);
    let w0 = Tensor::randn([d, q], (Kind::Double, Device::Cpu)) * 2.0;
    let z = Tensor::randn([n, q], (Kind::Double, Device::Cpu));
    let x = z.mm(&w0.tr()) + 1.0 + Tensor::randn([n, d], (Kind::Double, Device::Cpu)) * 0.7;
    let mut ppca = Ppca::new(PpcaConfig {
        latent_dim: q as usize,
        ridge: 1e-8,
    })
    .unwrap();
    ppca.fit(&x, 0).unwrap();
    let test = x.narrow(0, 0, 200);
    let exact = ppca.log_prob(&test).unwrap(); // [200] nats
    let data = Dataset {
        name: "ppca-toy".into(),
        kind: DataKind::Vector { dim: d },
        x: test.to_kind(Kind::Float),
        y: None,
        num_classes: None,
    };
    let (vs, vae) = linear_gaussian(d, q);

    // Exact posterior: every importance weight equals p(x), even with k = 1.
    set_ppca(&vs, &ppca, q, d, 1.0, 0.0);
    tch::manual_seed(5);
    let k1 = is_log_likelihood(&vae.lat, &data, 1, 100, 0)
        .unwrap()
        .to_kind(Kind::Double);
    let err = (&k1 - &exact).abs().max().double_value(&[]);
    assert!(
        err < 1e-3,
        "exact posterior: max |log w - log p(x)| = {err}"
    );

    // A perturbed posterior: the ELBO (k = 1) falls visibly short, k = 5000 closes the gap.
    set_ppca(&vs, &ppca, q, d, 4.0, 0.4);
    tch::manual_seed(6);
    let gap1 = mean(&exact) - mean(&is_log_likelihood(&vae.lat, &data, 1, 100, 0).unwrap());
    let lp = is_log_likelihood(&vae.lat, &data, 5000, 100, 0)
        .unwrap()
        .to_kind(Kind::Double);
    let gap = mean(&exact) - mean(&lp);
    assert!(
        gap1 > 0.2,
        "the perturbed posterior's single-sample bound should be loose: {gap1}"
    );
    assert!(
        gap.abs() < 0.1,
        "IS estimate with k = 5000 is {gap} nats from the closed form"
    );
    let mae = mean(&(&lp - &exact).abs());
    eprintln!(
        "perturbed posterior: ELBO gap {gap1:.4}, IS k=5000 gap {gap:.4}, mean |error| {mae:.4}"
    );
    assert!(mae < 0.1, "mean absolute error per example {mae}");
}

#[test]
fn kl_term_equals_core_closed_form() {
    let (_vs, vae) = tiny_vae(7);
    let prep = prepared(&vae, 6);
    let obj = Objective::default();
    let base = Tensor::zeros([], (Kind::Float, Device::Cpu));
    let losses = obj.loss(&vae.lat, &prep, None, 0, &base).unwrap();
    let kl_part = losses.to_map()["kl"];
    let q = vae.lat.encode(&prep.input, None).unwrap();
    let prior = DiagGaussian::new(&q.loc.zeros_like(), &q.loc.zeros_like()).unwrap();
    let want = mean(
        &kl_diag_gaussians(&q, &prior)
            .unwrap()
            .sum_dim_intlist(1, false, Kind::Float),
    );
    assert!(
        (kl_part - want).abs() < 1e-4 * want.abs().max(1.0),
        "{kl_part} vs {want}"
    );
    assert!(want > 0.0);
    // Warm-up and free bits change only the weighted term, never the reported KL.
    let warm = Objective {
        beta: 2.0,
        warmup_steps: 10,
        ..Objective::default()
    };
    assert_eq!(
        (warm.kl_weight(0), warm.kl_weight(5), warm.kl_weight(50)),
        (0.0, 1.0, 2.0)
    );
    let fb = Objective {
        free_bits: 100.0,
        ..Objective::default()
    };
    let m = fb.loss(&vae.lat, &prep, None, 0, &base).unwrap().to_map();
    assert!(
        (m["total"] - (m["recon"] + 4.0 * 100.0)).abs() < 1e-3,
        "free bits floor each of 4 dims: {m:?}"
    );
}

#[test]
fn reparameterized_gradients_match_analytic_expectation() {
    let (d, q, b, reps) = (3i64, 2i64, 4i64, 20000i64);
    let (vs, vae) = linear_gaussian(d, q);
    tch::manual_seed(8);
    set_var(
        &vs,
        "dec.out.weight",
        &Tensor::cat(
            &[
                Tensor::randn([d, q], (Kind::Float, Device::Cpu)),
                Tensor::zeros([d, q], (Kind::Float, Device::Cpu)),
            ],
            0,
        ),
    );
    set_var(
        &vs,
        "dec.out.bias",
        &Tensor::cat(
            &[
                Tensor::randn([d], (Kind::Float, Device::Cpu)),
                Tensor::from_slice(&[0.1f32, -0.2, 0.3]),
            ],
            0,
        ),
    );
    let x = Tensor::randn([b, d], (Kind::Float, Device::Cpu));
    let vars = vs.variables();
    let (ew, eb) = (&vars["enc.out.weight"], &vars["enc.out.bias"]);
    let grads = |loss: &Tensor| -> Vec<Tensor> {
        for t in vars.values() {
            let mut t = t.shallow_clone();
            t.zero_grad();
        }
        loss.backward();
        vec![ew.grad().copy(), eb.grad().copy()]
    };
    // Pathwise: the model's own loss on `reps` copies of the batch (one draw each).
    let xr = x.repeat([reps, 1]);
    let prep = Prepared {
        input: xr.shallow_clone(),
        target: xr,
    };
    let base = Tensor::zeros([], (Kind::Float, Device::Cpu));
    let mc = grads(
        Objective::default()
            .loss(&vae.lat, &prep, None, 0, &base)
            .unwrap()
            .total()
            .unwrap(),
    );
    // Analytic: E_q[log N(x; W z + mu, sigma^2)] = sum_j -((x - W m - mu)_j^2 + sum_k W_jk^2 s_k^2) / (2 sigma_j^2) + c.
    let (dw, db) = (&vars["dec.out.weight"], &vars["dec.out.bias"]);
    let w = dw.narrow(0, 0, d).detach();
    let mu = db.narrow(0, 0, d).detach();
    let log_sigma = db.narrow(0, d, d).detach();
    let h = x.linear(ew, Some(eb));
    let (m, logvar) = (h.narrow(1, 0, q), h.narrow(1, q, q));
    let resid = &x - m.mm(&w.tr()) - &mu;
    let spread = logvar.exp().mm(&w.square().tr()); // [b, d]
    let inv2 = (&log_sigma * -2.0).exp() * 0.5;
    let e_log = -((resid.square() + spread) * &inv2).sum_dim_intlist(1, false, Kind::Float)
        - log_sigma.sum(Kind::Float)
        - d as f64 * 0.918_938_533_204_672_7;
    let kl = genzoo_core::divergence::kl::kl_std_normal(&m, &logvar)
        .unwrap()
        .sum_dim_intlist(1, false, Kind::Float);
    let exact = grads(&(kl - e_log).mean(Kind::Float));
    for (g_mc, g_ex) in mc.iter().zip(&exact) {
        let rel = (g_mc - g_ex).norm().double_value(&[]) / g_ex.norm().double_value(&[]);
        assert!(
            rel < 0.05,
            "pathwise gradient off by {rel:.4} relative: {g_mc:?} vs {g_ex:?}"
        );
    }
}

#[test]
fn score_function_gradients_have_higher_variance() {
    let (vs, vae) = tiny_vae(9);
    let prep = prepared(&vae, 8);
    let base = Tensor::zeros([], (Kind::Float, Device::Cpu));
    let recon = Objective::default()
        .loss(&vae.lat, &prep, None, 0, &base)
        .unwrap()
        .to_map()["recon"];
    let pw = encoder_gradient_stats(&vae, &vs, &prep, Estimator::Pathwise, 16, -recon, 1).unwrap();
    let sf =
        encoder_gradient_stats(&vae, &vs, &prep, Estimator::ScoreFunction, 16, -recon, 1).unwrap();
    assert!(pw.total_variance > 0.0 && sf.total_variance.is_finite());
    assert!(
        sf.total_variance > 10.0 * pw.total_variance,
        "score-function variance {} vs pathwise {}",
        sf.total_variance,
        pw.total_variance
    );
}
