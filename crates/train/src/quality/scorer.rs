//! Scoring sample sets the same way for every family: [`ImageScorer`] (a domain classifier's
//! features and softmax: `fid-domain`, `kid-domain`, precision, recall, classes covered,
//! Inception-style score, memorization) and [`ModeScorer`] (mixtures with known modes: modes
//! covered and the high-quality share). The math is `genzoo_core::metrics`.
//!
//! Binary samples (every value exactly 0 or 1: the Bernoulli models) are compared with the
//! statically binarized test and training sets (seed 0), grey ones with the grey sets, so that a
//! binarized model is not charged for the binarization itself; the row says which.
use std::collections::BTreeMap;
use std::path::Path;

use genzoo_core::data::{transforms, Dataset};
use genzoo_core::metrics::{classes, fid, kid, knn, modes};
use genzoo_core::model::GenerativeModel;
use genzoo_core::{CoreError, Result};
use tch::{Kind, Tensor};

use super::classifier::Trained;

/// The fewest samples whose image-quality figures are reported without a warning (the
/// `too_few_samples` metric, shown in tables). Below it the figures drift with `n` alone: the
/// Fréchet distance of `n` samples overestimates the population's by roughly `tr(S) / n` (its
/// sample-covariance bias, Chong & Forsyth 2020), so it falls as `n` grows (figures in
/// `docs/sample-quality.md`); k-NN precision and recall with k = 3 judge each point by its 3
/// nearest of `n`, so a handful of samples covers much of the test set; KID is unbiased but its
/// spread grows as `1 / sqrt(n)`. clean-fid and torch-fidelity likewise warn
/// below their feature dimension; the domain classifier's features are smaller, and 1,000 (the
/// size of `mnist10k`'s test split, `compare --quick`'s default) is where the figures settle.
pub const MIN_QUALITY_SAMPLES: i64 = 1000;

/// Anything that turns a sample set into named sample-quality metrics.
pub trait Scorer: std::fmt::Debug {
    /// Metrics of `samples` (the model's sample layout: images `f32 [n, c, h, w]` in \[0, 1\],
    /// vectors `f32 [n, d]`).
    ///
    /// # Errors
    /// Samples of another shape than the scorer's data, or fewer than it needs.
    fn score(&self, samples: &Tensor) -> Result<Scored>;
    /// Metrics of a class-conditional model's (or InfoGAN's code-fixed) samples, `per_class` of
    /// each class drawn with `seed` through its [`genzoo_core::model::ConditionalSample`]; empty
    /// for a model without one or a scorer that cannot classify. Default: empty.
    ///
    /// # Errors
    /// A sampling error of the model, or samples the scorer cannot take.
    fn score_classes(
        &self,
        model: &dyn GenerativeModel,
        per_class: i64,
        seed: u64,
    ) -> Result<BTreeMap<String, f64>> {
        let _ = (model, per_class, seed);
        Ok(BTreeMap::new())
    }
    /// Metrics of a reconstructing model's ([`genzoo_core::model::Reconstruct`])
    /// reconstructions of the first `n` examples of `test`; empty for a model without
    /// reconstructions, unlabelled data or a scorer that cannot classify. Default: empty.
    ///
    /// # Errors
    /// A reconstruction error of the model, or reconstructions the scorer cannot take.
    fn score_reconstructions(
        &self,
        model: &dyn GenerativeModel,
        test: &Dataset,
        n: i64,
    ) -> Result<BTreeMap<String, f64>> {
        let _ = (model, test, n);
        Ok(BTreeMap::new())
    }
    /// One line saying what the figures are computed on and with (shown under tables).
    fn describe(&self) -> String;
}

/// A scorer's result: named metrics, and the closest sample/training pairs when memorization
/// was measured (sample index, training index, distance).
#[derive(Clone, Debug, Default)]
pub struct Scored {
    pub metrics: BTreeMap<String, f64>,
    pub closest: Vec<(i64, i64, f64)>,
    /// True when the samples were binary and compared with binarized data.
    pub binary: bool,
}

/// Options of [`ImageScorer`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityOptions {
    pub kid: kid::KidOptions,
    /// k of improved precision and recall (Kynkäänniemi et al. use 3).
    pub k: i64,
    /// The training set's nearest-neighbour percentile below which a sample counts as memorized.
    pub memorization_percentile: f64,
    /// Closest sample/training pairs kept (and drawn).
    pub pairs: usize,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            // subsets of 500, so that subsets of a 1,000-example test split differ
            kid: kid::KidOptions {
                subset_size: 500,
                ..Default::default()
            },
            k: 3,
            memorization_percentile: 1.0,
            pairs: 8,
        }
    }
}

/// A reference set in one representation (grey or binarized): its pixels `[n, c*h*w]` (the
/// training set, for memorization) or its features (the test set).
#[derive(Debug)]
struct Reference {
    test_features: Tensor,
    test_stats: fid::FeatureStats,
    train_pixels: Tensor,
}

/// Image sample quality against a labelled image split, through a trained domain classifier.
#[derive(Debug)]
pub struct ImageScorer {
    classifier: Trained,
    grey: Reference,
    binary: Reference,
    shape: Vec<i64>,
    pub opts: QualityOptions,
}

fn reference(c: &Trained, test: Tensor, train: Tensor) -> Result<Reference> {
    let (test_features, _) = c.embed(&test)?;
    Ok(Reference {
        test_stats: fid::FeatureStats::of(&test_features)?,
        test_features,
        train_pixels: train.f_flatten(1, -1)?,
    })
}

impl ImageScorer {
    /// A scorer comparing samples with `test` (features) and `train` (pixels, memorization).
    ///
    /// # Errors
    /// [`CoreError::Shape`] naming a split that is not images of the classifier's channels or
    /// has fewer than 2 examples; a libtorch error.
    pub fn new(
        classifier: Trained,
        train: &Dataset,
        test: &Dataset,
        opts: QualityOptions,
    ) -> Result<ImageScorer> {
        let grey = reference(
            &classifier,
            transforms::scale_unit(&test.x),
            transforms::scale_unit(&train.x),
        )?;
        let binary = reference(
            &classifier,
            transforms::binarize_dataset_static(test, 0)?,
            transforms::binarize_dataset_static(train, 0)?,
        )?;
        let shape = test.x.size()[1..].to_vec();
        Ok(ImageScorer {
            classifier,
            grey,
            binary,
            shape,
            opts,
        })
    }

    /// The classifier's provenance and accuracy.
    pub fn classifier(&self) -> &super::classifier::Info {
        &self.classifier.info
    }
}

/// True when every value of `x` is exactly 0 or 1.
fn is_binary(x: &Tensor) -> Result<bool> {
    Ok(x.f_eq(0.0)?
        .f_logical_or(&x.f_eq(1.0)?)?
        .f_all()?
        .f_int64_value(&[])?
        != 0)
}

impl Scorer for ImageScorer {
    fn score(&self, samples: &Tensor) -> Result<Scored> {
        if samples.dim() != 4 || samples.size()[1..] != self.shape[..] || samples.size()[0] < 2 {
            return Err(CoreError::shape(
                "samples",
                format!(
                    "expected [n >= 2, {:?}] images, got {:?}",
                    self.shape,
                    samples.size()
                ),
            ));
        }
        let x = samples
            .f_to_kind(Kind::Float)?
            .f_to_device(tch::Device::Cpu)?;
        if x.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
            return Err(CoreError::shape("samples", "hold NaN or infinite values"));
        }
        let binary = is_binary(&x)?;
        let r = if binary { &self.binary } else { &self.grey };
        let (feats, probs) = self.classifier.embed(&x)?;
        let feats = feats.f_to_device(tch::Device::Cpu)?;
        let mut m = BTreeMap::new();
        m.insert(
            "fid-domain".into(),
            fid::frechet_distance(&fid::FeatureStats::of(&feats)?, &r.test_stats)?,
        );
        let k = kid::kid(
            &feats,
            &r.test_features.f_to_device(tch::Device::Cpu)?,
            &self.opts.kid,
        )?;
        m.insert("kid-domain".into(), k.mean);
        m.insert("kid-domain_std".into(), k.std);
        let pr = knn::precision_recall(
            &r.test_features.f_to_device(tch::Device::Cpu)?,
            &feats,
            self.opts.k,
        )?;
        m.insert("precision".into(), pr.precision);
        m.insert("recall".into(), pr.recall);
        let c = classes::class_coverage(&probs)?;
        m.insert("classes_covered".into(), c.classes_covered as f64);
        let k = probs.size()[1] as f64;
        m.insert(
            "mode_collapse".into(),
            collapsed(c.classes_covered as f64, k),
        );
        m.insert("class_kl_uniform".into(), c.kl_to_uniform);
        m.insert("is-domain".into(), c.inception_score);
        let mem = knn::memorization(
            &x.f_flatten(1, -1)?,
            &r.train_pixels,
            self.opts.memorization_percentile,
            self.opts.pairs,
        )?;
        m.insert("memorized_share".into(), mem.share_below);
        let n = x.size()[0];
        m.insert("quality_samples".into(), n as f64);
        if n < MIN_QUALITY_SAMPLES {
            m.insert("too_few_samples".into(), 1.0);
        }
        m.insert(
            "classifier_accuracy".into(),
            if binary {
                self.classifier.info.binarized_test_accuracy
            } else {
                self.classifier.info.test_accuracy
            },
        );
        Ok(Scored {
            metrics: m,
            closest: mem.closest,
            binary,
        })
    }

    /// Per class `k` (InfoGAN: per value of its first categorical code), the domain
    /// classifier's predictions of the `per_class` samples drawn with `k`:
    /// * `class_consistency`: the share of the most frequent predicted class, averaged over
    ///   the classes (1: each code value makes one class; InfoGAN's codes are found without
    ///   labels, so their order is arbitrary and only this is meaningful for them);
    /// * `classes_by_code`: how many distinct classes are the most frequent one of some code;
    /// * `class_agreement`: the share predicted as the very class drawn, when the classes are
    ///   the data's labels (cGAN, cVAE; not InfoGAN's codes).
    fn score_classes(
        &self,
        model: &dyn GenerativeModel,
        per_class: i64,
        seed: u64,
    ) -> Result<BTreeMap<String, f64>> {
        let mut m = BTreeMap::new();
        let Some(cs) = model.class_sampler() else {
            return Ok(m);
        };
        let k = cs.num_classes();
        if k < 2 || per_class < 1 {
            return Ok(m);
        }
        let dev = model.var_store().device();
        let labels = Tensor::f_arange(k, (Kind::Int64, dev))?
            .f_repeat_interleave_self_int(per_class, None, None)?;
        let x = cs.sample_classes(&labels, seed)?;
        let x = x.f_to_kind(Kind::Float)?.f_to_device(tch::Device::Cpu)?;
        let (_, probs) = self.classifier.embed(&x)?;
        let pred = probs.f_argmax(1, false)?.f_to_device(tch::Device::Cpu)?;
        let classes = probs.size()[1];
        let (mut share, mut majorities) = (0.0, std::collections::BTreeSet::new());
        for c in 0..k {
            let counts = pred
                .f_narrow(0, c * per_class, per_class)?
                .f_bincount(None::<Tensor>, classes)?;
            let (top, arg) = (
                counts.f_max()?.f_int64_value(&[])?,
                counts.f_argmax(0, false)?,
            );
            share += top as f64 / per_class as f64;
            majorities.insert(arg.f_int64_value(&[])?);
        }
        m.insert("class_consistency".into(), share / k as f64);
        m.insert("classes_by_code".into(), majorities.len() as f64);
        if cs.classes_are_labels() {
            let agree = pred
                .f_eq_tensor(&labels.f_to_device(tch::Device::Cpu)?)?
                .f_to_kind(Kind::Float)?
                .f_mean(Kind::Float)?
                .f_double_value(&[])?;
            m.insert("class_agreement".into(), agree);
        }
        Ok(m)
    }

    /// `recon_class_agreement`: the share of the reconstructions of labelled test images
    /// that the domain classifier assigns their original's label (a reconstruction that keeps
    /// the digit scores 1 even when its pixels differ; BiGAN's `G(E(x))`, which is trained on
    /// no pixel loss, is judged so). The classifier's own accuracy on the originals bounds what
    /// a perfect reconstruction reaches.
    fn score_reconstructions(
        &self,
        model: &dyn GenerativeModel,
        test: &Dataset,
        n: i64,
    ) -> Result<BTreeMap<String, f64>> {
        let mut m = BTreeMap::new();
        let (Some(r), Some(y)) = (model.reconstructor(), test.y.as_ref()) else {
            return Ok(m);
        };
        let n = n.min(test.len());
        if n < 1 {
            return Ok(m);
        }
        let x = test.x.f_narrow(0, 0, n)?;
        let rec = r
            .reconstruct(&x.f_to_device(model.var_store().device())?)?
            .f_to_kind(Kind::Float)?
            .f_to_device(tch::Device::Cpu)?;
        let (_, probs) = self.classifier.embed(&rec)?;
        let agree = probs
            .f_argmax(1, false)?
            .f_to_device(tch::Device::Cpu)?
            .f_eq_tensor(&y.f_narrow(0, 0, n)?.f_to_device(tch::Device::Cpu)?)?
            .f_to_kind(Kind::Float)?
            .f_mean(Kind::Float)?
            .f_double_value(&[])?;
        m.insert("recon_class_agreement".into(), agree);
        Ok(m)
    }

    fn describe(&self) -> String {
        let i = &self.classifier.info;
        format!(
            "fid-domain, kid-domain, precision/recall (k = {}), classes covered: features of genzoo's domain classifier (preset `{}`, trained on {}'s training split in {:.0} s; test accuracy {:.2}% on its 8-bit test images, {:.2}% binarized), against the {} test examples (binary samples against their static binarization, seed 0); not comparable with Inception FIDs. Memorization: pixel distance to the nearest of {} training examples below the {} percentile of their own nearest-neighbour distances.",
            self.opts.k, i.preset, i.dataset, i.train_seconds, 100.0 * i.test_accuracy, 100.0 * i.binarized_test_accuracy,
            self.grey.test_features.size()[0], self.grey.train_pixels.size()[0], self.opts.memorization_percentile
        )
    }
}

/// Mode coverage on a mixture of isotropic Gaussians with known centres.
#[derive(Debug)]
pub struct ModeScorer {
    centres: Tensor,
    std: f64,
    pub opts: modes::ModeOptions,
}

impl ModeScorer {
    /// Modes at `centres` (rows), each with standard deviation `std`.
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`centres`) for no centres or centres of different dimensions.
    pub fn new(centres: &[Vec<f64>], std: f64) -> Result<ModeScorer> {
        let d = centres.first().map_or(0, Vec::len);
        if d == 0 || centres.iter().any(|c| c.len() != d) {
            return Err(CoreError::shape(
                "centres",
                "need one or more centres of one dimension",
            ));
        }
        let flat: Vec<f64> = centres.iter().flatten().copied().collect();
        Ok(ModeScorer {
            centres: Tensor::from_slice(&flat).view([centres.len() as i64, d as i64]),
            std,
            opts: Default::default(),
        })
    }
}

/// Below this share of the modes (or classes) covered, a model's samples are named a mode
/// collapse (the `mode_collapse` metric is 1): 9 of 10 digit classes, 23 of 25 grid modes.
pub const COLLAPSE_SHARE: f64 = 0.9;

/// 1 when `covered` of `total` modes is below [`COLLAPSE_SHARE`], else 0.
pub fn collapsed(covered: f64, total: f64) -> f64 {
    if covered < COLLAPSE_SHARE * total {
        1.0
    } else {
        0.0
    }
}

impl Scorer for ModeScorer {
    fn score(&self, samples: &Tensor) -> Result<Scored> {
        let c = modes::mode_coverage(
            &samples.f_to_device(tch::Device::Cpu)?,
            &self.centres,
            self.std,
            &self.opts,
        )?;
        let mut m = BTreeMap::new();
        m.insert("modes_covered".into(), c.modes_covered as f64);
        m.insert("modes".into(), c.modes as f64);
        m.insert("high_quality_share".into(), c.high_quality_share);
        m.insert(
            "mode_collapse".into(),
            collapsed(c.modes_covered as f64, c.modes as f64),
        );
        m.insert("quality_samples".into(), samples.size()[0] as f64);
        Ok(Scored {
            metrics: m,
            closest: vec![],
            binary: false,
        })
    }

    fn describe(&self) -> String {
        format!(
            "modes covered: modes holding at least {:.1}% of the samples within {} standard deviations (high quality); high_quality_share: samples within {} standard deviations of their nearest mode (VEEGAN, PacGAN)",
            100.0 * self.opts.min_share, self.opts.radius_stds, self.opts.radius_stds
        )
    }
}

/// Writes the closest sample/training pairs as a PNG: samples on the top row, their nearest
/// training examples below.
///
/// # Errors
/// An I/O error naming `path`; a libtorch error.
pub fn save_pairs(path: &Path, scored: &Scored, samples: &Tensor, train: &Dataset) -> Result<()> {
    if scored.closest.is_empty() {
        return Ok(());
    }
    let s: Vec<i64> = scored.closest.iter().map(|p| p.0).collect();
    let t: Vec<i64> = scored.closest.iter().map(|p| p.1).collect();
    let top = samples
        .f_index_select(0, &Tensor::from_slice(&s).f_to_device(samples.device())?)?
        .f_to_kind(Kind::Float)?
        .f_to_device(tch::Device::Cpu)?;
    let train_x = if scored.binary {
        transforms::binarize_dataset_static(train, 0)?
    } else {
        transforms::scale_unit(&train.x)
    };
    let bottom = train_x.f_index_select(0, &Tensor::from_slice(&t))?;
    crate::image::save_grid(path, &Tensor::f_cat(&[top, bottom], 0)?, s.len() as i64)
}
