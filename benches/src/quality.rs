//! `bench fid-domain`: the sample-quality columns' cost on 10,000 images against the 1,000
//! `mnist10k` test digits, features included (the bar: FID and KID under 10 s on 2
//! cores), plus precision/recall and memorization timed apart. The 10,000 "samples" are the
//! shipped digits themselves: the cost does not depend on what the images show.
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use genzoo_core::data::transforms;
use genzoo_core::metrics::{fid, kid, knn};
use genzoo_train::quality::classifier::load_or_train;
use genzoo_train::quality::QualityOptions;

use crate::options::BenchOptions;

/// Runs `a.rounds` rounds and prints each part's seconds.
///
/// # Errors
/// The classifier's training or the metrics' errors.
pub fn bench_quality(a: &BenchOptions, device: tch::Device) -> Result<()> {
    let split = genzoo_data::load_mnist10k()?;
    let c = load_or_train(
        Path::new("runs/classifiers"),
        &split,
        "mnist10k",
        "mnist",
        device,
    )?;
    let samples = transforms::scale_unit(&tch::Tensor::cat(&[&split.train.x, &split.test.x], 0));
    let test = transforms::scale_unit(&split.test.x);
    let opts = QualityOptions::default();
    println!(
        "bench fid-domain: {} samples against {} test digits, {} thread(s); classifier test accuracy {:.2}%",
        samples.size()[0],
        test.size()[0],
        a.threads,
        100.0 * c.info.test_accuracy
    );
    for round in 0..a.rounds {
        let t = Instant::now();
        let (fs, _) = c.embed(&samples)?;
        let (ft, _) = c.embed(&test)?;
        let t_feat = t.elapsed().as_secs_f64();
        let d = fid::fid(&fs, &ft)?;
        let k = kid::kid(&fs, &ft, &opts.kid)?;
        let t_fid_kid = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let pr = knn::precision_recall(&ft, &fs, opts.k)?;
        let t_pr = t2.elapsed().as_secs_f64();
        let t3 = Instant::now();
        let m = knn::memorization(
            &samples.flatten(1, -1),
            &transforms::scale_unit(&split.train.x).flatten(1, -1),
            1.0,
            8,
        )?;
        let t_mem = t3.elapsed().as_secs_f64();
        println!(
            "round {round}: features {t_feat:.2} s, features + fid-domain + kid-domain {t_fid_kid:.2} s (fid {d:.2}, kid {:.3} ± {:.3}); precision/recall {t_pr:.2} s ({:.3}/{:.3}); memorization {t_mem:.2} s (share {:.3})",
            k.mean, k.std, pr.precision, pr.recall, m.share_below
        );
    }
    Ok(())
}
