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
