//! Every family's model registry, gathered for the CLI.
use anyhow::Result;
use genzoo_core::model::ModelSpec;

/// All registered deep models, family by family.
pub fn all_specs() -> Vec<ModelSpec> {
    let mut v = genzoo_vae::registry();
    v.extend(genzoo_flow::registry());
    v
}

pub fn print_models() -> Result<()> {
    println!("{:<16} {:<9} {:<28} about", "model", "family", "presets");
    for b in genzoo_baselines::SPECS {
        println!(
            "{:<16} {:<9} {:<28} {}",
            b.name,
            "baseline",
            b.presets.join(","),
            b.about
        );
    }
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
