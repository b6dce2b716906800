//! The camera stage's error type: every failure names its cause and, where there is one, the
//! file it came from.

use std::path::PathBuf;
use thiserror::Error;

/// Why the camera stage could not load a model, read an image or run a detection.
#[derive(Debug, Error)]
pub enum CameraError {
    /// No ONNX Runtime shared library was found.
    #[error(
        "ONNX Runtime library not found (searched: {searched}); run scripts/setup or set ORT_DYLIB_PATH to libonnxruntime.so"
    )]
    OrtLibraryNotFound {
        /// Where it was looked for.
        searched: String,
    },
    /// The ONNX Runtime library exists but could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {source}")]
    OrtLibraryLoad {
        /// The library file.
        path: PathBuf,
        /// The loader's error.
        source: ort::LoadDynamicError,
    },
    /// ONNX Runtime reported an error.
    #[error("ONNX Runtime: {context}: {source}")]
    Ort {
        /// What was being done.
        context: String,
        /// ONNX Runtime's error.
        source: ort::Error,
    },
    /// No model card was found for a model name.
    #[error("model `{name}` not found (searched: {searched})")]
    ModelNotFound {
        /// The name or path asked for.
        name: String,
        /// Where it was looked for.
        searched: String,
    },
    /// The model card is unreadable or invalid.
    #[error("model card: {0}")]
    Card(#[from] fusionrt_core::config::ConfigError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The model file's SHA-256 is not the one in its card.
    #[error(
        "model file {path} has SHA-256 {actual}, its card says {expected} (truncated, corrupt or replaced file)"
    )]
    Checksum {
        /// The model file.
        path: PathBuf,
        /// SHA-256 from the card.
        expected: String,
        /// SHA-256 of the file.
        actual: String,
    },
    /// The model does not match its card (input shape, outputs, classes).
    #[error("model {path} does not match its card: {reason}")]
    ModelMismatch {
        /// The model file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// An invalid configuration value.
    #[error("camera config: {0}")]
    Config(String),
    /// A raw image is inconsistent (encoding, step, data length).
    #[error("image: {0}")]
    Image(#[from] fusionrt_core::image::ImageError),
    /// A compressed image or image file could not be decoded.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// The file or message decoded.
        what: String,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// An image format that is not supported (compressed input or an overlay's extension).
    #[error("unsupported image format `{0}` (supported: jpeg, png)")]
    UnsupportedFormat(String),
    /// The model's outputs do not have the layout the decoder expects.
    #[error("model output: {0}")]
    Output(String),
}

impl CameraError {
    /// Wraps an ONNX Runtime error with what was being done.
    pub(crate) fn ort(context: impl Into<String>) -> impl FnOnce(ort::Error) -> Self {
        let context = context.into();
        move |source| Self::Ort { context, source }
    }
}
