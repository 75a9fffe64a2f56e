//! genzoo-autoregressive: autoregressive models (PixelRNN, PixelCNN, WaveNet; van den Oord et al.
//! 2016). The models land with the family's issue; until then this crate holds only its
//! documentation. MADE's masked layers already live in `genzoo_core::layers`.
