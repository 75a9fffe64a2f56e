//! `cargo xtask models`: the catalogue (`genzoo::catalogue`), one line a model.
use anyhow::Result;

pub fn print_models() -> Result<()> {
    println!("{:<16} {:<9} {:<28} about", "model", "family", "presets");
    for s in genzoo::catalogue() {
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
