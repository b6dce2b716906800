//! rosbag2 `metadata.yaml`: reading versions 4-9, writing version 9.
//!
//! Reading keeps the keys fusionrt uses and ignores the rest (QoS profiles changed shape in
//! version 9; `custom_data`, `type_description_hash` and `ros_distro` came in 6-8). The YAML
//! itself is parsed by [`fusionrt_core::config::parse_yaml`], the workspace's one YAML entry
//! point; writing is a fixed template, so no YAML crate is needed for it.

use crate::BagError;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

/// Oldest and newest metadata versions this module reads.
pub const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u32> = 4..=9;

#[derive(Debug, Deserialize)]
struct Root {
    rosbag2_bagfile_information: BagMetadata,
}

/// `rosbag2_bagfile_information`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BagMetadata {
    /// Format version (4-9).
    pub version: u32,
    /// `mcap` or `sqlite3`.
    pub storage_identifier: String,
    /// Storage files, relative to the bag folder, in recording order.
    pub relative_file_paths: Vec<String>,
    /// From the first to the last message.
    #[serde(default)]
    pub duration: Nanoseconds,
    /// Stamp of the first message.
    #[serde(default)]
    pub starting_time: NanosecondsSinceEpoch,
    /// Messages in the whole bag.
    #[serde(default)]
    pub message_count: u64,
    /// Topics and their counts.
    #[serde(default)]
    pub topics_with_message_count: Vec<TopicWithCount>,
    /// `zstd` or empty.
    #[serde(default)]
    pub compression_format: String,
    /// `FILE`, `MESSAGE` or empty.
    #[serde(default)]
    pub compression_mode: String,
    /// The distribution that recorded the bag (version 8+).
    #[serde(default)]
    pub ros_distro: Option<String>,
}

/// `{nanoseconds: N}`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct Nanoseconds {
    /// Nanoseconds.
    pub nanoseconds: i64,
}

/// `{nanoseconds_since_epoch: N}`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
pub struct NanosecondsSinceEpoch {
    /// Nanoseconds since the Unix epoch.
    pub nanoseconds_since_epoch: i64,
}

/// One entry of `topics_with_message_count`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TopicWithCount {
    /// The topic.
    pub topic_metadata: TopicMetadata,
    /// Messages recorded on it.
    #[serde(default)]
    pub message_count: u64,
}

/// A topic's name, type and serialization format.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Type, `pkg/msg/Type`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `cdr`, or empty in some odd bags.
    #[serde(default)]
    pub serialization_format: String,
}

/// How the storage files are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (zstd chunks inside an MCAP file are handled by the MCAP reader).
    None,
    /// Each storage file is one zstd stream (`*.mcap.zstd`, `*.db3.zstd`).
    File,
    /// Each message payload is one zstd frame.
    Message,
}

impl BagMetadata {
    /// Parses the text of a metadata.yaml; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, BagError> {
        let root: Root = fusionrt_core::config::parse_yaml(text, &origin.display().to_string())
            .map_err(|e| BagError::Metadata {
                path: origin.to_path_buf(),
                reason: e.to_string(),
            })?;
        let meta = root.rosbag2_bagfile_information;
        if !SUPPORTED_VERSIONS.contains(&meta.version) {
            return Err(BagError::Metadata {
                path: origin.to_path_buf(),
                reason: format!(
                    "version {} is not supported (supported: {}-{})",
                    meta.version,
                    SUPPORTED_VERSIONS.start(),
                    SUPPORTED_VERSIONS.end()
                ),
            });
        }
        meta.compression().map_err(|reason| BagError::Metadata {
            path: origin.to_path_buf(),
            reason,
        })?;
        Ok(meta)
    }

    /// Reads `folder/metadata.yaml`.
    pub fn read(folder: &Path) -> Result<Self, BagError> {
        let path = folder.join("metadata.yaml");
        let text = std::fs::read_to_string(&path).map_err(|source| BagError::Io {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// The compression the metadata declares.
    pub fn compression(&self) -> Result<Compression, String> {
        let mode = self.compression_mode.to_ascii_uppercase();
        let mode = match mode.as_str() {
            "" | "NONE" => return Ok(Compression::None),
            "FILE" => Compression::File,
            "MESSAGE" => Compression::Message,
            other => return Err(format!("unknown compression_mode `{other}`")),
        };
        if self.compression_format != "zstd" {
            return Err(format!(
                "compression_format `{}` is not supported (only zstd)",
                self.compression_format
            ));
        }
        Ok(mode)
    }
}

/// What [`write_metadata`] records about one storage file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    /// File name inside the bag folder.
    pub path: String,
    /// First message stamp, ns (0 when empty).
    pub starting_time_ns: i64,
    /// Last minus first stamp, ns.
    pub duration_ns: i64,
    /// Messages in the file.
    pub message_count: u64,
}

/// What [`write_metadata`] records about one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSummary {
    /// Topic name.
    pub name: String,
    /// Type, `pkg/msg/Type`.
    pub type_name: String,
    /// Messages written.
    pub message_count: u64,
}

fn quoted(s: &str) -> String {
    // Single-quoted YAML scalar: only the quote itself needs escaping.
    format!("'{}'", s.replace('\'', "''"))
}

/// The text of a version-9 metadata.yaml for an uncompressed bag.
pub fn write_metadata(
    storage_identifier: &str,
    files: &[FileSummary],
    topics: &[TopicSummary],
) -> String {
    let start = files
        .iter()
        .filter(|f| f.message_count > 0)
        .map(|f| f.starting_time_ns)
        .min()
        .unwrap_or(0);
    let end = files
        .iter()
        .filter(|f| f.message_count > 0)
        .map(|f| f.starting_time_ns + f.duration_ns)
        .max()
        .unwrap_or(0);
    let count: u64 = files.iter().map(|f| f.message_count).sum();
    let mut y = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(y, "rosbag2_bagfile_information:");
    let _ = writeln!(y, "  version: 9");
    let _ = writeln!(y, "  storage_identifier: {storage_identifier}");
    let _ = writeln!(y, "  duration:\n    nanoseconds: {}", end - start);
    let _ = writeln!(y, "  starting_time:\n    nanoseconds_since_epoch: {start}");
    let _ = writeln!(y, "  message_count: {count}");
    let _ = writeln!(y, "  topics_with_message_count:");
    for t in topics {
        let _ = writeln!(y, "    - topic_metadata:");
        let _ = writeln!(y, "        name: {}", quoted(&t.name));
        let _ = writeln!(y, "        type: {}", quoted(&t.type_name));
        let _ = writeln!(y, "        serialization_format: cdr");
        let _ = writeln!(y, "        offered_qos_profiles: []");
        let _ = writeln!(y, "        type_description_hash: ''");
        let _ = writeln!(y, "      message_count: {}", t.message_count);
    }
    let _ = writeln!(y, "  compression_format: ''");
    let _ = writeln!(y, "  compression_mode: ''");
    let _ = writeln!(y, "  relative_file_paths:");
    for f in files {
        let _ = writeln!(y, "    - {}", quoted(&f.path));
    }
    let _ = writeln!(y, "  files:");
    for f in files {
        let _ = writeln!(y, "    - path: {}", quoted(&f.path));
        let _ = writeln!(
            y,
            "      starting_time:\n        nanoseconds_since_epoch: {}",
            f.starting_time_ns
        );
        let _ = writeln!(y, "      duration:\n        nanoseconds: {}", f.duration_ns);
        let _ = writeln!(y, "      message_count: {}", f.message_count);
    }
    let _ = writeln!(y, "  custom_data: ~");
    let _ = writeln!(y, "  ros_distro: fusionrt");
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-4 file as Foxy wrote it: QoS as a string, no per-file section.
    const V4: &str = "rosbag2_bagfile_information:
  version: 4
  storage_identifier: sqlite3
  relative_file_paths:
    - rosbag2_0.db3
    - rosbag2_1.db3
  duration:
    nanoseconds: 2000
  starting_time:
    nanoseconds_since_epoch: 1000
  message_count: 3
  topics_with_message_count:
    - topic_metadata:
        name: /points
        type: sensor_msgs/msg/PointCloud2
        serialization_format: cdr
        offered_qos_profiles: \"- history: 3\\n  depth: 0\\n\"
      message_count: 3
  compression_format: zstd
  compression_mode: FILE
";

    #[test]
    fn version_4_reads_with_file_compression() {
        let m = BagMetadata::parse(V4, Path::new("m.yaml")).unwrap();
        assert_eq!(m.relative_file_paths.len(), 2);
        assert_eq!(m.compression(), Ok(Compression::File));
        assert_eq!(
            m.topics_with_message_count[0].topic_metadata.name,
            "/points"
        );
    }

    #[test]
    fn written_metadata_reads_back() {
        let text = write_metadata(
            "mcap",
            &[FileSummary {
                path: "b_0.mcap".into(),
                starting_time_ns: 100,
                duration_ns: 50,
                message_count: 2,
            }],
            &[TopicSummary {
                name: "/tf_static".into(),
                type_name: "tf2_msgs/msg/TFMessage".into(),
                message_count: 2,
            }],
        );
        let m = BagMetadata::parse(&text, Path::new("m.yaml")).unwrap();
        assert_eq!(m.version, 9);
        assert_eq!(m.duration.nanoseconds, 50);
        assert_eq!(m.starting_time.nanoseconds_since_epoch, 100);
        assert_eq!(m.topics_with_message_count[0].message_count, 2);
        assert_eq!(m.compression(), Ok(Compression::None));
    }

    #[test]
    fn bad_versions_and_garbage_are_errors_naming_the_file() {
        let err = BagMetadata::parse(
            &V4.replace("version: 4", "version: 3"),
            Path::new("x/metadata.yaml"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("x/metadata.yaml") && err.to_string().contains("version 3")
        );
        assert!(BagMetadata::parse("\u{1}\u{2}garbage: [", Path::new("m")).is_err());
        assert!(BagMetadata::parse("other: 1\n", Path::new("m")).is_err());
    }
}
