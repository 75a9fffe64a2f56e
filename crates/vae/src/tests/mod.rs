//! Tests of the autoencoder family: tiny configurations, seconds each, asserting closed forms
//! and invariants.
//!
//! * [`obs`]: decoder likelihoods (normalization, fused BCE = core's Bernoulli).
//! * [`bounds`]: L_1 = ELBO, L_k monotone in k, the linear-Gaussian (PPCA) VAE's IS estimate
//!   against the closed form, the KL term against core's closed form, reparameterized gradients
//!   against autograd of the analytic expectation, estimator variances.
//! * [`latent_model`]: the IS-NLL and report over the open `LatentModel` and
//!   `DecoderLikelihood` traits, exact for a linear-Gaussian model with its true posterior.
//! * [`vq`]: straight-through gradients, EMA codebook updates, dead-code restarts, priors.
//! * [`models`]: one training step through the engine's `Trainer` and one `sample` for every
//!   model and preset; evaluation reports; grids.
mod bounds;
mod latent_model;
mod models;
mod obs;
mod vq;

use genzoo_core::data::{DataKind, Dataset, Split};
use tch::{nn, Device, Kind, Tensor};

use crate::nets::Arch;
use crate::obs::Likelihood;
use crate::vae::{Config, Objective, Vae, MNIST};

/// Seeded random 8-bit "images" with labels.
pub(crate) fn images(n: i64, seed: i64) -> Dataset {
    tch::manual_seed(seed);
    let x = Tensor::randint(256, [n, 1, 28, 28], (Kind::Uint8, Device::Cpu));
    let y = Tensor::randint(10, [n], (Kind::Int64, Device::Cpu));
    Dataset {
        name: format!("random-images-{seed}"),
        kind: MNIST,
        x,
        y: Some(y),
        num_classes: Some(10),
    }
}

/// A split of random images.
pub(crate) fn image_split(n: i64) -> Split {
    Split {
        train: images(n, 1),
        test: images(n / 2 + 1, 2),
    }
}

/// A seeded 2-D continuous split.
pub(crate) fn vector_split(n: i64) -> Split {
    tch::manual_seed(3);
    let mk = |n, name: &str| Dataset {
        name: name.into(),
        kind: DataKind::Vector { dim: 2 },
        x: Tensor::randn([n, 2], (Kind::Float, Device::Cpu)),
        y: None,
        num_classes: None,
    };
    Split {
        train: mk(n, "toy/train"),
        test: mk(n / 2 + 1, "toy/test"),
    }
}

/// A tiny MLP VAE on images with a Bernoulli decoder, in its own variable store.
pub(crate) fn tiny_vae(seed: i64) -> (nn::VarStore, Vae) {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = Config {
        arch: Arch::mlp(&[32]),
        latent_dim: 4,
        likelihood: Likelihood::Bernoulli,
        data: MNIST,
        objective: Objective::default(),
    };
    let vae = Vae::new(&vs.root(), &cfg).unwrap();
    (vs, vae)
}

/// Copies `value` into the variable `name` of `vs`.
pub(crate) fn set_var(vs: &nn::VarStore, name: &str, value: &Tensor) {
    let vars = vs.variables();
    let mut t = vars
        .get(name)
        .unwrap_or_else(|| panic!("no variable {name}; have {:?}", vars.keys()))
        .shallow_clone();
    tch::no_grad(|| t.copy_(&value.to_kind(t.kind())));
}

/// Mean of a tensor as f64.
pub(crate) fn mean(t: &Tensor) -> f64 {
    t.mean(Kind::Double).double_value(&[])
}
