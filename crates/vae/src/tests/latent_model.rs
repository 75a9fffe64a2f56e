//! The open extension points of the evaluation: a model that is not a [`GaussianLatent`], with a
//! decoder likelihood that is not one of [`crate::obs::Likelihood`], gets the IS estimate and the
//! full report through [`LatentModel`]. A linear-Gaussian model with its exact posterior as the
//! proposal makes every importance weight equal to p(x), so the estimate must be exact for any k.
use genzoo_core::data::{DataKind, Dataset};
use genzoo_core::dist::DiagGaussian;
use genzoo_core::model::{EvalOptions, LikelihoodKind};
use genzoo_core::units::NllUnit;
use genzoo_core::Result;
use tch::{Kind, Tensor};

use crate::decoder::DecoderLikelihood;
use crate::eval::{evaluate, is_log_likelihood, is_nll_per_example};
use crate::latent::LatentModel;
use crate::obs::{Mode, Prepared};

const W: [f64; 2] = [1.5, -0.5];
const B: [f64; 2] = [0.3, 0.1];
const SIGMA: f64 = 0.7;

/// x | z ~ N(params, SIGMA^2 I): decoder outputs are the mean, `[n, 1, 2]`.
#[derive(Debug)]
struct FixedNoise;

impl DecoderLikelihood for FixedNoise {
    fn params(&self) -> i64 {
        1
    }
    fn unit(&self) -> NllUnit {
        NllUnit::Nats
    }
    fn data_label(&self, _seed: u64) -> String {
        "continuous".into()
    }
    fn prepare(&self, x: &Tensor, _mode: Mode) -> Result<Prepared> {
        Ok(Prepared {
            input: x.shallow_clone(),
            target: x.shallow_clone(),
        })
    }
    fn log_prob(&self, params: &Tensor, target: &Tensor) -> Result<Tensor> {
        let loc = params.f_select(1, 0)?;
        let d = DiagGaussian::new(&loc, &loc.f_full_like(SIGMA.ln())?)?;
        Ok(d.f_log_prob(target)?
            .f_sum_dim_intlist(1, false, Kind::Float)?)
    }
    fn mean(&self, params: &Tensor) -> Result<Tensor> {
        Ok(params.f_select(1, 0)?)
    }
    fn sample(&self, params: &Tensor) -> Result<Tensor> {
        self.mean(params)
    }
}

/// z ~ N(0, 1), x = W z + B + noise; q(z|x) the exact posterior.
struct LinearGaussian;

fn w() -> Tensor {
    Tensor::from_slice(&W).to_kind(Kind::Float)
}

impl LatentModel for LinearGaussian {
    fn latent_dim(&self) -> i64 {
        1
    }
    fn data(&self) -> DataKind {
        DataKind::Vector { dim: 2 }
    }
    fn likelihood(&self) -> &dyn DecoderLikelihood {
        &FixedNoise
    }
    fn posterior(&self, x: &Tensor, _cond: Option<&Tensor>) -> Result<DiagGaussian> {
        let precision = 1.0 + (W[0] * W[0] + W[1] * W[1]) / (SIGMA * SIGMA);
        let xc = x - Tensor::from_slice(&B).to_kind(Kind::Float);
        let mean = xc.matmul(&w()).f_div_scalar(SIGMA * SIGMA * precision)?;
        let log_scale = mean.f_full_like(-0.5 * precision.ln())?;
        DiagGaussian::new(&mean.unsqueeze(1), &log_scale.unsqueeze(1))
    }
    fn log_prior(&self, z: &Tensor) -> Result<Tensor> {
        let d = DiagGaussian::new(&z.zeros_like(), &z.zeros_like())?;
        Ok(d.f_log_prob(z)?.f_sum_dim_intlist(-1, false, Kind::Float)?)
    }
    fn decode(&self, z: &Tensor, _cond: Option<&Tensor>) -> Result<Tensor> {
        let mean = z.matmul(&w().unsqueeze(0)) + Tensor::from_slice(&B).to_kind(Kind::Float);
        Ok(mean.unsqueeze(1))
    }
}

/// log N(x; B, W W^T + SIGMA^2 I) of each row, in closed form.
fn exact_log_px(x: &[[f64; 2]]) -> Vec<f64> {
    let s2 = SIGMA * SIGMA;
    let c = [
        [W[0] * W[0] + s2, W[0] * W[1]],
        [W[0] * W[1], W[1] * W[1] + s2],
    ];
    let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
    x.iter()
        .map(|r| {
            let (a, b) = (r[0] - B[0], r[1] - B[1]);
            let maha = (c[1][1] * a * a - 2.0 * c[0][1] * a * b + c[0][0] * b * b) / det;
            -0.5 * (maha + det.ln() + 2.0 * (2.0 * std::f64::consts::PI).ln())
        })
        .collect()
}

#[test]
fn is_nll_over_a_latent_model_trait_is_exact_with_the_true_posterior() {
    let rows = [[0.2, 0.4], [-1.0, 0.9], [2.5, -0.3], [0.0, 0.0]];
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    let data = Dataset {
        name: "linear-gaussian/test".into(),
        kind: DataKind::Vector { dim: 2 },
        x: Tensor::from_slice(&flat).reshape([4, 2]),
        y: None,
        num_classes: None,
    };
    let want = exact_log_px(&rows);
    for k in [1, 7] {
        let lp: Vec<f64> = Vec::try_from(
            is_log_likelihood(&LinearGaussian, &data, k, 3, 0)
                .unwrap()
                .to_kind(Kind::Double),
        )
        .unwrap();
        for (g, w) in lp.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "k={k}: {g} vs exact {w}");
        }
    }
    let opts = EvalOptions {
        importance_samples: 5,
        batch_size: 3,
        ..EvalOptions::default()
    };
    let report = evaluate("linear-gaussian", &LinearGaussian, &data, &opts).unwrap();
    let nll = report.nll.unwrap();
    assert_eq!(
        (nll.unit, nll.kind),
        (NllUnit::Nats, LikelihoodKind::IsEstimate)
    );
    let mean_exact = -want.iter().sum::<f64>() / 4.0;
    assert!(
        (nll.value - mean_exact).abs() < 1e-4,
        "{} vs {mean_exact}",
        nll.value
    );
    // With the exact posterior the ELBO equals log p(x) in expectation, never above it.
    assert!(report.metrics["neg_elbo"] >= nll.value - 0.5);
    let per = is_nll_per_example(&LinearGaussian, &data, &opts).unwrap();
    let got: Vec<f64> = Vec::try_from(&per.nll).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g + w).abs() < 1e-4);
    }
}
