//! The catalogue of every model (baselines and each family), gathered for the CLI.
use anyhow::Result;
use genzoo_core::model::ModelSpec;

/// The catalogue: the classical baselines, then every family's models.
pub fn all_specs() -> Vec<ModelSpec> {
    let mut v = genzoo_baselines::registry();
    v.extend(genzoo_autoregressive::registry());
    v.extend(genzoo_vae::registry());
    v.extend(genzoo_flow::registry());
    v.extend(genzoo_gan::registry());
    v
}

pub fn print_models() -> Result<()> {
    println!("{:<16} {:<9} {:<28} about", "model", "family", "presets");
    for s in all_specs() {
        println!(
            "{:<16} {:<9} {:<28} {}",
            s.name,
            s.family,
            s.presets.join(","),
            s.about
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::all_specs;

    /// One catalogue: unique names, baselines and every family, and a default preset (the first)
    /// that a user would start with, never the test-sized `tiny`.
    #[test]
    fn the_catalogue_holds_every_model_once_with_a_real_default() {
        let specs = all_specs();
        let mut names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate catalogue names");
        for family in ["baseline", "autoregressive", "vae", "flow"] {
            assert!(specs.iter().any(|s| s.family == family), "{family} missing");
        }
        for s in &specs {
            assert_ne!(
                s.presets.first(),
                Some(&"tiny"),
                "{}: default preset is tiny",
                s.name
            );
            assert!(
                s.presets.contains(&"tiny"),
                "{}: no tiny preset for tests",
                s.name
            );
        }
    }

    /// Every listed model works with `train` (issue 13, case 14): a classical baseline goes
    /// through the same catalogue and `Trainer::fit` as the deep models, fitted instead of stepped.
    #[test]
    fn a_listed_baseline_trains_through_the_trainer() {
        let split = genzoo_data::toy::Toy::EightGaussians.split(400, 200, 0);
        let mut m = genzoo_core::model::build_for(
            &all_specs(),
            "gaussian",
            None,
            &split.train,
            tch::Device::Cpu,
        )
        .unwrap();
        let cfg = genzoo_train::TrainConfig {
            progress: false,
            final_eval: true,
            ..genzoo_train::TrainConfig::quick(10, 64, 1e-3)
        };
        let s = genzoo_train::Trainer::new(cfg, None)
            .unwrap()
            .fit(m.as_mut(), &split)
            .unwrap();
        assert_eq!(s.steps, 0);
        assert_eq!(s.fit.unwrap()["params"], 5.0); // 2 means + 3 covariance entries
        let nll = s.final_eval.unwrap().nll.unwrap();
        assert_eq!(nll.kind, genzoo_core::model::LikelihoodKind::Exact);
        assert!(nll.value > 3.0 && nll.value < 6.0, "{nll}");
    }
}
