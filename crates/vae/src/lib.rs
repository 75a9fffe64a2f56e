//! genzoo-vae
