//! Golden values against PyTorch: a tiny PixelCNN (grey 1x5x5 with the Bernoulli likelihood, and
//! RGB 3x3x3 with the 256-way softmax, whose channel masks split R, G, B) and a tiny WaveNet
//! (unconditional and class-conditional, 64 mu-law samples), loaded with the fixed weights of
//! `tests/fixtures/golden.json`, give the per-example log-likelihoods that an independent PyTorch
//! implementation of the same networks computed in float64 (`tests/fixtures/golden.py`, which
//! says how to regenerate the fixture).
//!
//! Every variable of the Rust `VarStore` must have a fixture entry of the same shape and every
//! fixture entry a variable, so a renamed or reshaped layer fails loudly. Agreement is required
//! within 1e-4 relative to the expected log-likelihood: the Rust networks run in float32 and a
//! log-likelihood is a sum of per-position terms whose rounding errors grow with the number of
//! terms, hence with its size in nats (here 20 to 420 nats, so 2e-3 to 4e-2 nats); a changed
//! mask, gate or wiring moves them by nats.
use std::collections::BTreeMap;

use serde::Deserialize;
use tch::{nn, Device, Kind, Tensor};

use crate::model::Autoregressive;
use crate::{pixel_cnn, wavenet};
use genzoo_core::data::{DataKind, SequenceEncoding};
use genzoo_core::obs::{Likelihood, Prepared};

const RELATIVE_TOLERANCE: f64 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    pixelcnn: Vec<PixelCase>,
    wavenet: Vec<WaveCase>,
}

#[derive(Deserialize)]
struct Array<T> {
    shape: Vec<i64>,
    values: Vec<T>,
}

#[derive(Deserialize)]
struct PixelConfig {
    channels: i64,
    height: i64,
    width: i64,
    likelihood: String,
    hidden: i64,
    blocks: i64,
    first_kernel: i64,
    kernel: i64,
    head: i64,
}

#[derive(Deserialize)]
struct PixelCase {
    name: String,
    config: PixelConfig,
    weights: BTreeMap<String, Array<f64>>,
    images: Array<i64>,
    log_prob: Vec<f64>,
}

#[derive(Deserialize)]
struct WaveConfig {
    length: i64,
    residual: i64,
    skip: i64,
    cycles: i64,
    layers_per_cycle: i64,
    conditional: bool,
    num_classes: i64,
}

#[derive(Deserialize)]
struct WaveCase {
    name: String,
    config: WaveConfig,
    weights: BTreeMap<String, Array<f64>>,
    levels: Array<i64>,
    labels: Option<Vec<i64>>,
    log_prob: Vec<f64>,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Copies every fixture weight into the store by name.
///
/// # Errors
/// A message naming the variables without a fixture entry and the entries without a variable,
/// or a variable whose shape differs from its entry's.
fn load(vs: &nn::VarStore, weights: &BTreeMap<String, Array<f64>>) -> Result<(), String> {
    let vars = vs.variables();
    let missing: Vec<_> = vars.keys().filter(|k| !weights.contains_key(*k)).collect();
    let unused: Vec<_> = weights.keys().filter(|k| !vars.contains_key(*k)).collect();
    if !missing.is_empty() || !unused.is_empty() {
        return Err(format!(
            "Rust variables without a fixture entry {missing:?}, fixture entries without a Rust \
             variable {unused:?}"
        ));
    }
    for (name, var) in &vars {
        let w = &weights[name];
        if var.size() != w.shape || w.values.len() as i64 != w.shape.iter().product::<i64>() {
            return Err(format!(
                "{name}: Rust shape {:?}, fixture shape {:?} with {} values",
                var.size(),
                w.shape,
                w.values.len()
            ));
        }
        let values: Vec<f32> = w.values.iter().map(|&v| v as f32).collect();
        tch::no_grad(|| {
            var.shallow_clone()
                .copy_(&Tensor::from_slice(&values).reshape(w.shape.as_slice()))
        });
    }
    Ok(())
}

fn tensor(a: &Array<i64>) -> Tensor {
    let numel: i64 = a.shape.iter().product();
    assert_eq!(
        numel as usize,
        a.values.len(),
        "array of shape {:?}",
        a.shape
    );
    Tensor::from_slice(&a.values).reshape(a.shape.as_slice())
}

/// Compares per-example log-likelihoods; returns the largest absolute and relative differences
/// and the failures.
fn compare(case: &str, got: &Tensor, want: &[f64], failures: &mut Vec<String>) -> (f64, f64) {
    let got = Vec::<f64>::try_from(&got.to_kind(Kind::Double)).unwrap();
    assert_eq!(got.len(), want.len(), "{case}: number of examples");
    let (mut max_abs, mut max_rel) = (0f64, 0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let diff = (g - w).abs();
        let rel = diff / w.abs();
        max_abs = max_abs.max(diff);
        max_rel = max_rel.max(rel);
        if rel.is_nan() || rel > RELATIVE_TOLERANCE {
            failures.push(format!(
                "{case}[{i}]: Rust {g} vs PyTorch {w} nats (relative difference {rel:.2e})"
            ));
        }
    }
    eprintln!("{case}: max |diff| {max_abs:.3e} nats, max relative {max_rel:.3e}");
    (max_abs, max_rel)
}

fn pixelcnn_log_prob(case: &PixelCase) -> Tensor {
    let c = &case.config;
    let likelihood = match c.likelihood.as_str() {
        "bernoulli" => Likelihood::Bernoulli,
        "categorical" => Likelihood::Categorical,
        other => panic!("{}: unknown likelihood {other}", case.name),
    };
    let cfg = pixel_cnn::Config {
        data: DataKind::Image {
            channels: c.channels,
            height: c.height,
            width: c.width,
        },
        likelihood,
        hidden: c.hidden,
        blocks: c.blocks,
        first_kernel: c.first_kernel,
        kernel: c.kernel,
        head: c.head,
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let net = pixel_cnn::PixelCnn::new(&vs.root(), &cfg).unwrap();
    load(&vs, &case.weights).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let images = tensor(&case.images);
    let prep = match likelihood {
        // Binary images: the input is the target.
        Likelihood::Bernoulli => {
            let x = images.to_kind(Kind::Float);
            Prepared {
                input: x.shallow_clone(),
                target: x,
            }
        }
        // 8-bit levels: input level/255, target the level.
        _ => Prepared {
            input: images.to_kind(Kind::Float) / 255.0,
            target: images,
        },
    };
    tch::no_grad(|| net.log_prob(&prep, None, false)).unwrap()
}

fn wavenet_config(c: &WaveConfig) -> wavenet::Config {
    wavenet::Config {
        data: DataKind::Sequence {
            channels: 1,
            length: c.length,
            encoding: SequenceEncoding::MuLaw8,
        },
        residual: c.residual,
        skip: c.skip,
        cycles: c.cycles,
        layers_per_cycle: c.layers_per_cycle,
        conditional: c.conditional,
        num_classes: c.num_classes,
    }
}

fn wavenet_log_prob(case: &WaveCase) -> Tensor {
    let cfg = wavenet_config(&case.config);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = wavenet::WaveNet::new(&vs.root(), &cfg).unwrap();
    load(&vs, &case.weights).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let levels = tensor(&case.levels);
    let labels = case.labels.as_ref().map(|y| Tensor::from_slice(y));
    tch::no_grad(|| net.log_prob(&levels, labels.as_ref())).unwrap()
}

#[test]
fn pixelcnn_and_wavenet_match_the_pytorch_golden_log_likelihoods() {
    let fx = fixture();
    assert_eq!((fx.pixelcnn.len(), fx.wavenet.len()), (2, 2));
    let mut failures = Vec::new();
    for case in &fx.pixelcnn {
        let lp = pixelcnn_log_prob(case);
        compare(
            &format!("pixelcnn/{}", case.name),
            &lp,
            &case.log_prob,
            &mut failures,
        );
    }
    for case in &fx.wavenet {
        let lp = wavenet_log_prob(case);
        compare(
            &format!("wavenet/{}", case.name),
            &lp,
            &case.log_prob,
            &mut failures,
        );
    }
    assert!(
        failures.is_empty(),
        "log-likelihoods differ from PyTorch's (tolerance {RELATIVE_TOLERANCE:e} relative):\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_renamed_or_reshaped_layer_does_not_load() {
    let fx = fixture();
    let case = &fx.wavenet[0];
    let build = || {
        let vs = nn::VarStore::new(Device::Cpu);
        let _net = wavenet::WaveNet::new(&vs.root(), &wavenet_config(&case.config)).unwrap();
        vs
    };
    let copy = |rename: &str, to: &str, extra: i64| -> BTreeMap<String, Array<f64>> {
        case.weights
            .iter()
            .map(|(k, v)| {
                let mut shape = v.shape.clone();
                if k == rename {
                    shape[0] += extra;
                }
                let a = Array {
                    shape,
                    values: v.values.clone(),
                };
                (k.replace(rename, to), a)
            })
            .collect()
    };
    let vs = build();
    load(&vs, &copy("", "", 0)).unwrap();
    let err = load(&vs, &copy("layer0.res.", "layer0.residual.", 0)).unwrap_err();
    assert!(
        err.contains("layer0.res.weight") && err.contains("layer0.residual.weight"),
        "{err}"
    );
    let err = load(&vs, &copy("out1.bias", "out1.bias", 1)).unwrap_err();
    assert!(err.contains("out1.bias"), "{err}");
}
