//! Criterion micro-benchmarks of the hot layers, one forward and backward (or evaluation) pass
//! each, on the CPU with 2 intra-op threads: RealNVP's affine coupling on MNIST-sized vectors
//! (Dinh et al. 2017, eq. 7), a MADE forward pass (Germain et al. 2015), and one batch of the
//! importance-sampled NLL of Burda et al. (2016, eq. 8) with k = 100.
//!
//!     cargo bench -p genzoo-benches --bench micro
//!
//! The whole-model benchmarks against PyTorch twins are `cargo xtask bench NAME`.
use criterion::{criterion_group, criterion_main, Criterion};
use genzoo_core::data::DataKind;
use genzoo_core::layers::made::{Made, MadeConfig, Ordering};
use genzoo_flow::layers::{Coupling, CouplingKind, MaskKind, NetConfig, NetKind};
use genzoo_flow::{Bijector, Ctx};
use genzoo_vae::eval::importance_sample;
use genzoo_vae::latent::GaussianLatent;
use genzoo_vae::nets::Arch;
use genzoo_vae::obs::{Likelihood, Mode};
use tch::{nn, Device, Kind, Tensor};

const D: i64 = 784;
const BATCH: i64 = 64;

fn coupling(c: &mut Criterion) {
    tch::set_num_threads(2);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = NetConfig {
        kind: NetKind::Mlp,
        hidden: 256,
        depth: 2,
    };
    let layer = Coupling::new(
        &(vs.root() / "c"),
        &[D],
        MaskKind::Alternate,
        0,
        CouplingKind::AffineTanh,
        &net,
        0,
    )
    .expect("a valid coupling");
    let x = Tensor::randn([BATCH, D], (Kind::Float, Device::Cpu));
    let ctx = Ctx {
        cond: None,
        train: true,
        init: false,
    };
    c.bench_function("affine coupling fwd+bwd [64, 784], MLP 2x256", |b| {
        b.iter(|| {
            let (y, ld) = layer.forward(&x, &ctx).expect("forward");
            (y.square().sum(Kind::Float) - ld.sum(Kind::Float)).backward();
        })
    });
    c.bench_function("affine coupling inverse [64, 784]", |b| {
        b.iter(|| tch::no_grad(|| layer.inverse(&x, &ctx).expect("inverse")))
    });
}

fn made(c: &mut Criterion) {
    tch::set_num_threads(2);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = MadeConfig {
        input_dim: D,
        hidden: vec![1024, 1024],
        out_per_dim: 2,
        ordering: Ordering::Natural,
        random_degrees: None,
        context_dim: 0,
    };
    let m = Made::new(&(vs.root() / "made"), &cfg).expect("a valid MADE");
    let x = Tensor::rand([BATCH, D], (Kind::Float, Device::Cpu));
    c.bench_function("MADE fwd+bwd [64, 784], 2x1024 hidden", |b| {
        b.iter(|| {
            m.forward(&x, None)
                .expect("forward")
                .square()
                .sum(Kind::Float)
                .backward()
        })
    });
}

fn is_nll(c: &mut Criterion) {
    tch::set_num_threads(2);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let data = DataKind::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    let lat = GaussianLatent::new(
        &vs.root(),
        &Arch::mlp(&[400]),
        20,
        Likelihood::Bernoulli,
        data,
        0,
    )
    .expect("a valid VAE");
    let x = Tensor::randint(256, [100, 1, 28, 28], (Kind::Uint8, Device::Cpu));
    let batch = Likelihood::Bernoulli
        .prepare(&x, Mode::Eval { seed: 0 })
        .expect("8-bit images");
    c.bench_function(
        "IS-NLL batch, 100 digits x k=100, MLP VAE 784-400-20",
        |b| b.iter(|| importance_sample(&lat, &batch, None, 100).expect("IS")),
    );
}

criterion_group! {
    name = micro;
    config = Criterion::default().sample_size(20);
    targets = coupling, made, is_nll
}
criterion_main!(micro);
