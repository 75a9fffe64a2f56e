//! Tests of the autoregressive family: causality by gradients, exact normalization, cached
//! sampling equal to naive sampling, NADE and MADE against explicit loops, and the model
//! contract (training, evaluation, sampling, bad input).
mod causality;
mod contract;
mod golden;
mod normalization;
mod pixel_cnn_pp;
mod sampling;
mod vlae;
mod vq_prior;
mod wavenet;

use tch::{nn, Device, Kind, Tensor};

use crate::model::Autoregressive;
use crate::{gated_pixel_cnn, made, nade, pixel_cnn, pixel_rnn};
use genzoo_core::data::DataKind;
use genzoo_core::obs::Likelihood;

pub(crate) fn image(c: i64, h: i64, w: i64) -> DataKind {
    DataKind::Image {
        channels: c,
        height: h,
        width: w,
    }
}

/// A tiny network of each image model, with fresh seeded weights in its own store.
pub(crate) struct Built {
    pub _vs: nn::VarStore,
    pub net: Box<dyn Autoregressive>,
}

pub(crate) fn pixelcnn(data: DataKind, lik: Likelihood, blocks: i64) -> Built {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = pixel_cnn::Config::preset("tiny").unwrap();
    cfg.data = data;
    cfg.likelihood = lik;
    cfg.blocks = blocks;
    if let DataKind::Image { channels: 3, .. } = data {
        cfg.hidden = 12;
        cfg.head = 24;
    }
    let net = pixel_cnn::PixelCnn::new(&vs.root(), &cfg).unwrap();
    Built {
        _vs: vs,
        net: Box::new(net),
    }
}

pub(crate) fn gated(data: DataKind, lik: Likelihood, layers: i64, classes: i64) -> Built {
    tch::manual_seed(2);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = gated_pixel_cnn::Config::preset("tiny").unwrap();
    cfg.data = data;
    cfg.likelihood = lik;
    cfg.layers = layers;
    cfg.conditional = classes > 0;
    cfg.num_classes = classes;
    if let DataKind::Image { channels: 3, .. } = data {
        cfg.hidden = 12;
        cfg.head = 24;
    }
    let net = gated_pixel_cnn::GatedPixelCnn::new(&vs.root(), &cfg).unwrap();
    // Non-zero class biases, so that conditioning matters in the tests.
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if name.ends_with("class_bias") {
                let _ = t.uniform_(-1.0, 1.0);
            }
        }
    });
    Built {
        _vs: vs,
        net: Box::new(net),
    }
}

pub(crate) fn nade_net(data: DataKind) -> Built {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = nade::Config::preset("tiny").unwrap();
    cfg.data = data;
    let net = nade::Nade::new(&vs.root(), &cfg).unwrap();
    tch::no_grad(|| {
        let _ = net.b.shallow_clone().uniform_(-1.0, 1.0);
        let _ = net.c.shallow_clone().uniform_(-1.0, 1.0);
    });
    Built {
        _vs: vs,
        net: Box::new(net),
    }
}

pub(crate) fn made_net(data: DataKind, ensemble: u64) -> Built {
    tch::manual_seed(4);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = made::Config::preset("tiny").unwrap();
    cfg.data = data;
    cfg.ensemble = ensemble;
    let net = made::Made::new(&vs.root(), &cfg).unwrap();
    Built {
        _vs: vs,
        net: Box::new(net),
    }
}

/// Every binary image of `kind` (`2^D` of them), `f32 [2^D, c, h, w]`.
pub(crate) fn all_binary(kind: &DataKind) -> Tensor {
    let d = kind.dims();
    let n = 1i64 << d;
    let bits = Tensor::arange(n, (Kind::Int64, Device::Cpu))
        .unsqueeze(1)
        .bitwise_right_shift(&Tensor::arange(d, (Kind::Int64, Device::Cpu)).unsqueeze(0))
        .bitwise_and(1)
        .to_kind(Kind::Float);
    let mut shape = vec![n];
    shape.extend(kind.example_shape());
    bits.reshape(shape.as_slice())
}

pub(crate) fn wavenet_net(length: i64, classes: i64) -> (nn::VarStore, crate::wavenet::WaveNet) {
    tch::manual_seed(6);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = crate::wavenet::Config::preset("tiny").unwrap();
    cfg.data = DataKind::Sequence {
        channels: 1,
        length,
        encoding: genzoo_core::data::SequenceEncoding::MuLaw8,
    };
    cfg.conditional = classes > 0;
    cfg.num_classes = classes;
    let net = crate::wavenet::WaveNet::new(&vs.root(), &cfg).unwrap();
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            if name.ends_with("class_bias") {
                let _ = t.uniform_(-1.0, 1.0);
            }
        }
    });
    (vs, net)
}

pub(crate) fn pixelrnn(data: DataKind, kind: pixel_rnn::RnnKind, lik: Likelihood) -> Built {
    tch::manual_seed(7);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut cfg = pixel_rnn::Config::preset(kind, "tiny").unwrap();
    cfg.data = data;
    cfg.likelihood = lik;
    if let DataKind::Image { channels: 3, .. } = data {
        cfg.hidden = 12;
        cfg.head = 24;
    }
    let net = pixel_rnn::PixelRnn::new(&vs.root(), &cfg).unwrap();
    Built {
        _vs: vs,
        net: Box::new(net),
    }
}

/// Trains `model` for `steps` steps of batch 32 at learning rate 1e-2 (no files, no grids):
/// the short run the catalogue tests compare NLLs before and after.
pub(crate) fn train_briefly(
    model: &mut dyn genzoo_core::model::GenerativeModel,
    split: &genzoo_core::data::Split,
    steps: u64,
) {
    let cfg = genzoo_train::TrainConfig {
        sample_count: 0,
        progress: false,
        ..genzoo_train::TrainConfig::quick(steps, 32, 1e-2)
    };
    genzoo_train::Trainer::new(cfg, None)
        .unwrap()
        .fit(model, split)
        .unwrap();
}
