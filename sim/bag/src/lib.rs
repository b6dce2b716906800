//! fusionrt-bag: rosbag2 reading and writing (MCAP and sqlite3 storage) and the CDR codecs of
//! the messages fusionrt reads and writes.
//!
//! - [`cdr`]: a bounds-checked CDR reader and writer (both byte orders, alignment).
//! - [`msgs`]: decoding sensor_msgs PointCloud2 / Image / CompressedImage / CameraInfo,
//!   tf2_msgs TFMessage and nav_msgs Odometry into fusionrt-core types; encoding those and the
//!   outputs (autoware_perception_msgs DetectedObjects / TrackedObjects, visualization_msgs
//!   MarkerArray, diagnostic_msgs DiagnosticArray).
//! - [`schema`]: the `ros2msg` definitions embedded in every bag fusionrt writes.
//! - [`fuzzing`]: the fuzz entry points (cargo-fuzz targets in `fuzz/`, proptest in `tests/`).
//!
//! In: a rosbag2 folder (metadata.yaml, versions 4-9; `.mcap` or `.db3` files, split, zstd
//! compressed per chunk or per file) or a single `.mcap` / `.db3` file. Out: raw messages in
//! receive-stamp order across files (topic, type, stamp, CDR bytes), streamed with bounded
//! memory, decoded on demand. Messages fusionrt cannot use (unknown types, empty
//! serialization format, raw packets) are skipped and counted, never a panic.
//!
//! Depends on fusionrt-core only among fusionrt crates, plus `mcap` (Foxglove's), `rusqlite`
//! (bundled SQLite), `zstd`, serde and thiserror. YAML goes through fusionrt-core's config
//! loader, in one module.

pub mod cdr;
mod direct;
pub mod fuzzing;
pub mod metadata;
pub mod msgs;
pub mod read;
pub mod schema;
pub mod write;

pub use msgs::{Decoded, MsgError, RosMessage, decode};
pub use read::{BagReader, RawMessage, ReadStats, Topic};
pub use write::{BagWriter, Storage};

use std::path::PathBuf;
use thiserror::Error;

/// Why a bag could not be read or written.
#[derive(Debug, Error)]
pub enum BagError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// metadata.yaml is missing a key, has a wrong value or an unsupported version.
    #[error("{path}: {reason}")]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The path is not a rosbag2 folder, an .mcap or a .db3 file.
    #[error("{path}: not a bag: {reason}")]
    NotABag {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An MCAP file is malformed or could not be written.
    #[error("{path}: MCAP: {source}")]
    Mcap {
        /// The file.
        path: PathBuf,
        /// The MCAP error.
        source: Box<mcap::McapError>,
    },
    /// A sqlite3 file is malformed or could not be written.
    #[error("{path}: sqlite3: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A message could not be decoded.
    #[error("{bag}: topic {topic} ({type_name}), message {index}: {source}")]
    Decode {
        /// The bag.
        bag: PathBuf,
        /// Topic of the message.
        topic: String,
        /// Its type.
        type_name: String,
        /// Index of the message on its topic, from 0.
        index: u64,
        /// What is wrong.
        source: Box<MsgError>,
    },
    /// A writer call out of order (e.g. an unknown topic id) or a type without a schema.
    #[error("{0}")]
    Usage(String),
}
