//! The error type of genzoo-core and the `Result` alias every genzoo library crate builds on.
//!
//! Family crates wrap their own failures in [`CoreError::Model`] (or their own `thiserror` enum
//! converting into it) so that the engine and the CLI speak one error type.
use std::path::PathBuf;

/// Everything that can go wrong in genzoo-core. Each variant names the file, key or tensor at fault.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// An I/O error on `path`. The OS message is part of this error's text, not a separate
    /// `source()`, so that a printed error chain says it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A data file whose bytes do not match what it declares.
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    /// A configuration key with a bad value (or an unknown key).
    #[error("config key `{key}`: {msg}")]
    Config { key: String, msg: String },
    /// A tensor with the wrong shape, dtype or values for an operation.
    #[error("tensor `{name}`: {msg}")]
    Shape { name: String, msg: String },
    /// A checkpoint that cannot be used for this model.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    /// A non-finite loss: the run stops and keeps its last good checkpoint.
    #[error("non-finite loss at step {step}: {parts}")]
    NonFinite { step: u64, parts: String },
    /// A dataset that cannot be loaded or does not fit its use (the reader's error names the
    /// file).
    #[error("dataset `{name}`: {msg}")]
    Dataset { name: String, msg: String },
    #[error("download of {name}: {msg}")]
    Download { name: String, msg: String },
    #[error("unknown {what} `{name}`; known: {known}")]
    Unknown {
        what: &'static str,
        name: String,
        known: String,
    },
    /// A model-level failure reported by a family crate.
    #[error("{model}: {msg}")]
    Model { model: String, msg: String },
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// `Result` with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl CoreError {
    /// An I/O error attached to the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            error: source,
        }
    }
    /// A format error attached to the path of the offending file.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        CoreError::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }
    /// A configuration error naming the key.
    pub fn config(key: impl Into<String>, msg: impl Into<String>) -> Self {
        CoreError::Config {
            key: key.into(),
            msg: msg.into(),
        }
    }
    /// A tensor error naming the tensor.
    pub fn shape(name: impl Into<String>, msg: impl Into<String>) -> Self {
        CoreError::Shape {
            name: name.into(),
            msg: msg.into(),
        }
    }
    /// A model-level error naming the model.
    pub fn model(model: impl Into<String>, msg: impl Into<String>) -> Self {
        CoreError::Model {
            model: model.into(),
            msg: msg.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An I/O error prints the OS message once, also through an error chain.
    #[test]
    fn io_errors_say_the_os_message_once() {
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let msg = os.to_string();
        let e = CoreError::io("/no/such/file", os);
        assert!(std::error::Error::source(&e).is_none());
        let text = e.to_string();
        assert_eq!(text.matches(&msg).count(), 1, "{text}");
        assert!(text.starts_with("/no/such/file: "), "{text}");
    }
}
