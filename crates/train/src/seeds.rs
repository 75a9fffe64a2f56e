//! One configuration over several seeds: each metric's mean and spread (sample standard
//! deviation) over the runs, what a table of training tricks shows per cell (GANs vary more
//! between seeds than between many of their tricks; one seed per cell would rank noise).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::Row;
use genzoo_core::{CoreError, Result};

/// Mean, sample standard deviation (0 for one run) and every value of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
    pub values: Vec<f64>,
}

impl Spread {
    /// The spread of `values`.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] for no values.
    pub fn of(values: &[f64]) -> Result<Spread> {
        if values.is_empty() {
            return Err(CoreError::Invalid("a spread of no values".into()));
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() < 2 {
            0.0
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        Ok(Spread {
            mean,
            sd,
            values: values.to_vec(),
        })
    }
}

/// One configuration's runs: its name, its settings, and each metric every run reported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedSummary {
    pub name: String,
    pub settings: serde_json::Value,
    pub runs: usize,
    pub train_seconds: Spread,
    pub metrics: BTreeMap<String, Spread>,
}

/// Summarizes `rows` (one per seed) of the configuration `name` with `settings`.
///
/// # Errors
/// [`CoreError::Invalid`] for no rows, or a row that holds an error.
pub fn seed_summary(name: &str, settings: &serde_json::Value, rows: &[Row]) -> Result<SeedSummary> {
    if let Some(e) = rows.iter().find_map(|r| r.error.as_ref()) {
        return Err(CoreError::Invalid(format!("{name}: a run failed: {e}")));
    }
    let secs: Vec<f64> = rows.iter().map(|r| r.train_seconds).collect();
    let mut metrics = BTreeMap::new();
    if let Some(first) = rows.first() {
        for k in first.metrics.keys() {
            let v: Vec<f64> = rows
                .iter()
                .filter_map(|r| r.metrics.get(k).copied())
                .collect();
            if v.len() == rows.len() {
                metrics.insert(k.clone(), Spread::of(&v)?);
            }
        }
    }
    Ok(SeedSummary {
        name: name.into(),
        settings: settings.clone(),
        runs: rows.len(),
        train_seconds: Spread::of(&secs)?,
        metrics,
    })
}

/// Whether every run of `s` covered every mode (`modes_covered` = `modes`) with at least
/// `share` of its samples of high quality.
pub fn all_modes_every_run(s: &SeedSummary, share: f64) -> bool {
    match (
        s.metrics.get("modes_covered"),
        s.metrics.get("modes"),
        s.metrics.get("high_quality_share"),
    ) {
        (Some(c), Some(m), Some(h)) => c
            .values
            .iter()
            .zip(&m.values)
            .zip(&h.values)
            .all(|((c, m), h)| c >= m && *h >= share),
        _ => false,
    }
}

/// The Markdown table of summaries: modes covered and high-quality share (mean ± sd, then
/// each run's), whether every run covered every mode with >= 90% high quality, train seconds.
pub fn seed_markdown(rows: &[SeedSummary]) -> String {
    if rows.first().is_some_and(|r| {
        !r.metrics.contains_key("modes_covered") && r.metrics.contains_key("fid-domain")
    }) {
        return image_seed_markdown(rows);
    }
    let mut s = String::from(
        "| configuration | runs | modes (mean ± sd) | high quality (mean ± sd) | per run (modes / high quality) | all modes, >= 90% HQ, every run | train s |\n|---|---:|---:|---:|---|---|---:|\n",
    );
    for r in rows {
        let per_run = match (
            r.metrics.get("modes_covered"),
            r.metrics.get("high_quality_share"),
        ) {
            (Some(m), Some(h)) => m
                .values
                .iter()
                .zip(&h.values)
                .map(|(m, h)| format!("{m:.0} / {h:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "-".into(),
        };
        s += &format!(
            "| {} | {} | {} | {} | {per_run} | {} | {:.1} |\n",
            r.name,
            r.runs,
            cell(r, "modes_covered", 1),
            cell(r, "high_quality_share", 3),
            if all_modes_every_run(r, 0.9) {
                "yes"
            } else {
                "no"
            },
            r.train_seconds.mean
        );
    }
    s
}

/// `mean ± sd` of metric `k` with `d` decimals, `-` when absent.
fn cell(r: &SeedSummary, k: &str, d: usize) -> String {
    match r.metrics.get(k) {
        Some(sp) => format!("{:.d$} ± {:.d$}", sp.mean, sp.sd),
        None => "-".into(),
    }
}

/// [`seed_markdown`]'s table for image runs: `fid-domain`, recall and classes covered (mean ±
/// sample standard deviation over the runs), each run's `fid-domain`, the training seconds.
fn image_seed_markdown(rows: &[SeedSummary]) -> String {
    let mut s = String::from(
        "| configuration | runs | fid-domain (mean ± sd) | recall (mean ± sd) | classes (mean ± sd) | per run fid-domain | train s |\n|---|---:|---:|---:|---:|---|---:|\n",
    );
    for r in rows {
        let per_run = r.metrics.get("fid-domain").map_or("-".into(), |f| {
            f.values
                .iter()
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        s += &format!(
            "| {} | {} | {} | {} | {} | {per_run} | {:.1} |\n",
            r.name,
            r.runs,
            cell(r, "fid-domain", 2),
            cell(r, "recall", 3),
            cell(r, "classes_covered", 1),
            r.train_seconds.mean
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(modes: f64, hq: f64) -> Row {
        let mut r = Row::empty("gan-mlp", "gan");
        r.train_seconds = 2.0;
        r.metrics = [
            ("modes_covered", modes),
            ("modes", 25.0),
            ("high_quality_share", hq),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        r
    }

    #[test]
    fn spreads_and_the_all_modes_verdict_by_hand() {
        let sp = Spread::of(&[1.0, 2.0, 3.0, 6.0]).unwrap();
        assert_eq!(sp.mean, 3.0);
        assert!((sp.sd - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of(&[4.0]).unwrap().sd, 0.0);
        assert!(Spread::of(&[]).is_err());
        let good = seed_summary(
            "sn",
            &serde_json::json!({}),
            &[row(25.0, 0.95), row(25.0, 0.91)],
        )
        .unwrap();
        assert!(all_modes_every_run(&good, 0.9));
        let one_short = seed_summary(
            "plain",
            &serde_json::json!({}),
            &[row(25.0, 0.95), row(24.0, 0.97)],
        )
        .unwrap();
        assert!(!all_modes_every_run(&one_short, 0.9));
        let low = seed_summary("x", &serde_json::json!({}), &[row(25.0, 0.89)]).unwrap();
        assert!(!all_modes_every_run(&low, 0.9));
        let t = seed_markdown(&[good, one_short]);
        assert!(
            t.contains(
                "| sn | 2 | 25.0 ± 0.0 | 0.930 ± 0.028 | 25 / 0.950, 25 / 0.910 | yes | 2.0 |"
            ),
            "{t}"
        );
        assert!(t.contains("| plain | 2 | 24.5 ± 0.7 |"), "{t}");
        // Image runs: the sample-quality columns instead.
        let image = |fid: f64, recall: f64| {
            let mut r = Row::empty("dcgan", "gan");
            r.train_seconds = 10.0;
            r.metrics = [
                ("fid-domain", fid),
                ("recall", recall),
                ("classes_covered", 10.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            r
        };
        let vbn = seed_summary(
            "vbn",
            &serde_json::json!({}),
            &[image(20.0, 0.7), image(24.0, 0.8)],
        )
        .unwrap();
        let t = seed_markdown(&[vbn]);
        assert!(
            t.contains(
                "| vbn | 2 | 22.00 ± 2.83 | 0.750 ± 0.071 | 10.0 ± 0.0 | 20.00, 24.00 | 10.0 |"
            ),
            "{t}"
        );
        let mut failed = row(25.0, 0.9);
        failed.error = Some("diverged".into());
        assert!(seed_summary("f", &serde_json::json!({}), &[failed]).is_err());
    }
}
