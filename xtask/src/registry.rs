//! The catalogue of every model (baselines and each family), gathered for the CLI.
use anyhow::Result;
use genzoo_core::model::ModelSpec;

/// The catalogue: the classical baselines, then every family's models.
pub fn all_specs() -> Vec<ModelSpec> {
    let mut v = genzoo_baselines::registry();
    v.extend(genzoo_vae::registry());
    v.extend(genzoo_flow::registry());
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
        for family in ["baseline", "vae", "flow"] {
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
}
