//! Fuzz entry points: the decoders of untrusted input, each taking arbitrary bytes. They must
//! return, whatever the bytes; a panic (or a broken invariant, asserted here) is a bug.
//!
//! One copy serves two drivers: the cargo-fuzz targets in `sim/bag/fuzz/` (libFuzzer, nightly:
//! `cargo +nightly fuzz run cdr`) and the seeded proptest runs on stable in
//! `sim/bag/tests/fuzz.rs` (part of `cargo test`: arbitrary bytes and mutated valid messages).
//!
//! - [`cdr_messages`]: the bytes as the CDR payload of every input type fusionrt decodes.
//! - [`pointcloud2`]: a PointCloud2 payload decoded and converted into a [`PointCloud`].
//! - [`bag_files`]: the bytes as a lone `.mcap` file (read whole and with a topic filter, which
//!   takes the indexed path when the file has a summary) and as a `metadata.yaml`.
//! - [`sqlite_file`]: the bytes as a lone `.db3` file.

use crate::BagError;
use crate::metadata::BagMetadata;
use crate::msgs::{self, sensor};
use crate::read::BagReader;
use fusionrt_core::PointCloud;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every input type [`msgs::decode`] reads.
pub const INPUT_TYPES: [&str; 6] = [
    "sensor_msgs/msg/PointCloud2",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CompressedImage",
    "sensor_msgs/msg/CameraInfo",
    "tf2_msgs/msg/TFMessage",
    "nav_msgs/msg/Odometry",
];

/// Decodes `data` as each input type. Errors are fine; panics are bugs.
pub fn cdr_messages(data: &[u8]) {
    for type_name in INPUT_TYPES {
        let _ = msgs::decode(type_name, data);
    }
}

/// Decodes `data` as a PointCloud2 and converts it; a cloud that converts must be consistent
/// (every channel as long as `x`, no more points than the message holds). Decoding the payload
/// in place ([`sensor::decode_pointcloud2_owned`]) must give the same message or error.
pub fn pointcloud2(data: &[u8]) {
    let decoded = sensor::decode_pointcloud2(data);
    let owned = sensor::decode_pointcloud2_owned(data.to_vec());
    assert_eq!(
        decoded.as_ref().map_err(ToString::to_string),
        owned.as_ref().map_err(ToString::to_string)
    );
    let Ok(msg) = decoded else {
        return;
    };
    let mut cloud = PointCloud::default();
    if let Ok(stats) = cloud.fill_from_pointcloud2(&msg) {
        assert_eq!(cloud.check_consistent(), Ok(()));
        assert_eq!(stats.kept, cloud.len());
        assert!(stats.kept + stats.skipped_non_finite <= msg.width as usize * msg.height as usize);
    }
}

/// A file of its own under the temp folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, data: &[u8]) -> Option<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fusionrt-fuzz-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let scratch = Self(dir);
        std::fs::write(scratch.0.join(name), data).ok()?;
        Some(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a bag to its end: every message decoded, malformed payloads passed over.
fn read_to_end(path: &Path, topics: Option<BTreeSet<String>>) {
    let Ok(mut reader) = BagReader::open_topics(path, topics) else {
        return;
    };
    // Malformed payloads are passed over; the end or a read error stops.
    while let Ok(Some(_)) | Err(BagError::Decode { .. }) = reader.next_decoded() {}
    let stats = reader.stats();
    assert!(stats.file_errors.len() <= 1, "one file, one break at most");
}

/// `data` as a lone `.mcap` file, read whole and for its first topic only, and as the text of
/// a metadata.yaml.
pub fn bag_files(data: &[u8]) {
    let _ = BagMetadata::parse(&String::from_utf8_lossy(data), Path::new("metadata.yaml"));
    let Some(scratch) = Scratch::new("fuzz.mcap", data) else {
        return;
    };
    let path = scratch.0.join("fuzz.mcap");
    read_to_end(&path, None);
    // A topic filter: the indexed reader when the file has a summary.
    let first_topic = BagReader::open(&path)
        .ok()
        .and_then(|mut r| r.next_message().ok().flatten())
        .map(|m| m.topic.name.clone());
    let topics = BTreeSet::from([first_topic.unwrap_or_else(|| "/points".into())]);
    read_to_end(&path, Some(topics));
}

/// `data` as a lone `.db3` file, read whole.
pub fn sqlite_file(data: &[u8]) {
    if let Some(scratch) = Scratch::new("fuzz.db3", data) {
        read_to_end(&scratch.0.join("fuzz.db3"), None);
    }
}
