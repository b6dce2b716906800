//! Writing rosbag2: one storage file (MCAP or sqlite3) plus metadata.yaml (version 9), or a
//! lone storage file ([`BagWriter::create_file`], e.g. `replay`'s `output.mcap`; the MCAP still
//! holds the rosbag2 metadata as a metadata record, and `rosbags` reads lone files).
//!
//! Every topic carries its `ros2msg` definition from [`crate::schema`]: in MCAP as the channel's
//! schema (profile `ros2`, message encoding `cdr`, zstd chunks), in sqlite3 in the
//! `message_definitions` table with the table layout rosbag2 (Jazzy) writes. So the `mcap` CLI,
//! Foxglove and `rosbags` read the output with no ROS install. Messages are written as given;
//! stamps are receive stamps (MCAP log time and publish time, the sqlite `timestamp`).

use crate::BagError;
use crate::metadata::{FileSummary, TopicSummary, write_metadata};
use crate::msgs::RosMessage;
use crate::schema;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The storage plugin to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// One `.mcap` file (zstd-compressed chunks).
    Mcap,
    /// One `.db3` file.
    Sqlite3,
}

impl Storage {
    /// The rosbag2 storage identifier.
    pub fn identifier(self) -> &'static str {
        match self {
            Self::Mcap => "mcap",
            Self::Sqlite3 => "sqlite3",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Mcap => "mcap",
            Self::Sqlite3 => "db3",
        }
    }
}

/// A topic registered with [`BagWriter::add_topic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicId(usize);

struct TopicState {
    name: String,
    type_name: String,
    /// MCAP channel id or sqlite topic id.
    storage_id: i64,
    count: u64,
}

enum Inner {
    Mcap(Box<mcap::Writer<BufWriter<std::fs::File>>>),
    Sqlite(Connection),
}

/// Writes a rosbag2 folder.
pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    /// False for a lone storage file: no metadata.yaml beside it.
    write_yaml: bool,
    storage: Storage,
    inner: Inner,
    topics: Vec<TopicState>,
    mcap_schemas: BTreeMap<String, u16>,
    first_ns: Option<i64>,
    last_ns: i64,
    count: u64,
}

impl std::fmt::Debug for BagWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BagWriter")
            .field("dir", &self.dir)
            .field("storage", &self.storage)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
  serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL,
  type_description_hash TEXT NOT NULL);
CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT NOT NULL,
  encoding TEXT NOT NULL, encoded_message_definition TEXT NOT NULL,
  type_description_hash TEXT NOT NULL);
CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
  timestamp INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX timestamp_idx ON messages (timestamp ASC);
INSERT INTO schema(schema_version, ros_distro) VALUES (4, 'fusionrt');
";

impl BagWriter {
    /// Creates the bag folder `dir` (which must not exist yet) and its storage file
    /// `<folder name>_0.mcap` / `_0.db3`.
    pub fn create(dir: &Path, storage: Storage) -> Result<Self, BagError> {
        if dir.exists() {
            return Err(BagError::Usage(format!(
                "{}: already exists; a bag is written into a new folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|source| BagError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let stem = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bag")
            .to_string();
        let file_name = format!("{stem}_0.{}", storage.extension());
        Self::open(dir, file_name, storage, true)
    }

    /// Creates the lone storage file `path` (its folder must exist; the file must not): no
    /// metadata.yaml. The storage follows the extension (`.mcap` or `.db3`).
    pub fn create_file(path: &Path) -> Result<Self, BagError> {
        let storage = match path.extension().and_then(|e| e.to_str()) {
            Some("mcap") => Storage::Mcap,
            Some("db3") => Storage::Sqlite3,
            _ => {
                return Err(BagError::Usage(format!(
                    "{}: a lone bag file ends in .mcap or .db3",
                    path.display()
                )));
            }
        };
        if path.exists() {
            return Err(BagError::Usage(format!(
                "{}: already exists; a bag file is written anew",
                path.display()
            )));
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            return Err(BagError::Usage(format!(
                "{}: not a file path",
                path.display()
            )));
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        Self::open(dir, name.to_string(), storage, false)
    }

    fn open(
        dir: &Path,
        file_name: String,
        storage: Storage,
        write_yaml: bool,
    ) -> Result<Self, BagError> {
        let path = dir.join(&file_name);
        let inner = match storage {
            Storage::Mcap => {
                let file = std::fs::File::create(&path).map_err(|source| BagError::Io {
                    path: path.clone(),
                    source,
                })?;
                let options = mcap::WriteOptions::new()
                    .profile("ros2")
                    .library("fusionrt-bag")
                    .compression(Some(mcap::Compression::Zstd))
                    // zstd's fastest level: chunks are written on the graph's thread, and the
                    // default level (3) cost a replay 2% of its time for a few percent of size.
                    .compression_level(1)
                    // On the calling thread: zstd's worker threads (one per CPU by default)
                    // competed with the graph's own threads and doubled the buffers.
                    .compression_threads(0);
                let writer =
                    options
                        .create(BufWriter::new(file))
                        .map_err(|source| BagError::Mcap {
                            path: path.clone(),
                            source: Box::new(source),
                        })?;
                Inner::Mcap(Box::new(writer))
            }
            Storage::Sqlite3 => {
                let sql_err = |source| BagError::Sqlite {
                    path: path.clone(),
                    source,
                };
                let conn = Connection::open(&path).map_err(sql_err)?;
                // The file is complete only after `finish`; no journal is needed while writing.
                conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;")
                    .map_err(sql_err)?;
                conn.execute_batch(SQLITE_SCHEMA).map_err(sql_err)?;
                Inner::Sqlite(conn)
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            file_name,
            write_yaml,
            storage,
            inner,
            topics: Vec::new(),
            mcap_schemas: BTreeMap::new(),
            first_ns: None,
            last_ns: 0,
            count: 0,
        })
    }

    fn file_path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// Registers a topic of `type_name` (`pkg/msg/Type`, one fusionrt has a schema for).
    pub fn add_topic(&mut self, name: &str, type_name: &str) -> Result<TopicId, BagError> {
        if let Some(i) = self.topics.iter().position(|t| t.name == name) {
            if self.topics[i].type_name == type_name {
                return Ok(TopicId(i));
            }
            return Err(BagError::Usage(format!(
                "topic {name} is already registered with type {}",
                self.topics[i].type_name
            )));
        }
        let definition = schema::definition(type_name).ok_or_else(|| {
            BagError::Usage(format!("no message definition for type `{type_name}`"))
        })?;
        let path = self.file_path();
        let storage_id = match &mut self.inner {
            Inner::Mcap(w) => {
                let mcap_err = |source| BagError::Mcap {
                    path: path.clone(),
                    source: Box::new(source),
                };
                let schema_id = match self.mcap_schemas.get(type_name) {
                    Some(&id) => id,
                    None => {
                        let id = w
                            .add_schema(type_name, "ros2msg", definition.as_bytes())
                            .map_err(mcap_err)?;
                        self.mcap_schemas.insert(type_name.to_string(), id);
                        id
                    }
                };
                let metadata = BTreeMap::from([
                    ("offered_qos_profiles".to_string(), String::new()),
                    ("topic_type_hash".to_string(), String::new()),
                ]);
                i64::from(
                    w.add_channel(schema_id, name, "cdr", &metadata)
                        .map_err(mcap_err)?,
                )
            }
            Inner::Sqlite(conn) => {
                let sql_err = |source| BagError::Sqlite {
                    path: path.clone(),
                    source,
                };
                conn.execute(
                    "INSERT INTO topics (name, type, serialization_format, offered_qos_profiles, \
                     type_description_hash) VALUES (?1, ?2, 'cdr', '', '')",
                    [name, type_name],
                )
                .map_err(sql_err)?;
                let id = conn.last_insert_rowid();
                if !self.topics.iter().any(|t| t.type_name == type_name) {
                    conn.execute(
                        "INSERT INTO message_definitions (topic_type, encoding, \
                         encoded_message_definition, type_description_hash) \
                         VALUES (?1, 'ros2msg', ?2, '')",
                        [type_name, definition.as_str()],
                    )
                    .map_err(sql_err)?;
                }
                id
            }
        };
        self.topics.push(TopicState {
            name: name.to_string(),
            type_name: type_name.to_string(),
            storage_id,
            count: 0,
        });
        Ok(TopicId(self.topics.len() - 1))
    }

    /// Writes one CDR payload on `topic` with receive stamp `stamp_ns`.
    pub fn write(&mut self, topic: TopicId, stamp_ns: i64, payload: &[u8]) -> Result<(), BagError> {
        let path = self.file_path();
        let state = self
            .topics
            .get_mut(topic.0)
            .ok_or_else(|| BagError::Usage(format!("unknown topic id {}", topic.0)))?;
        match &mut self.inner {
            Inner::Mcap(w) => {
                let stamp = u64::try_from(stamp_ns).map_err(|_| {
                    BagError::Usage(format!("MCAP stamps must be >= 0, got {stamp_ns}"))
                })?;
                let header = mcap::records::MessageHeader {
                    channel_id: state.storage_id as u16,
                    sequence: state.count as u32,
                    log_time: stamp,
                    publish_time: stamp,
                };
                w.write_to_known_channel(&header, payload)
                    .map_err(|source| BagError::Mcap {
                        path,
                        source: Box::new(source),
                    })?;
            }
            Inner::Sqlite(conn) => {
                let mut stmt = conn
                    .prepare_cached(
                        "INSERT INTO messages (topic_id, timestamp, data) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(|source| BagError::Sqlite {
                        path: path.clone(),
                        source,
                    })?;
                stmt.execute(rusqlite::params![state.storage_id, stamp_ns, payload])
                    .map_err(|source| BagError::Sqlite { path, source })?;
            }
        }
        state.count += 1;
        self.count += 1;
        self.first_ns = Some(self.first_ns.map_or(stamp_ns, |f| f.min(stamp_ns)));
        self.last_ns = if self.count == 1 {
            stamp_ns
        } else {
            self.last_ns.max(stamp_ns)
        };
        Ok(())
    }

    /// Encodes `msg` and writes it on `topic`.
    pub fn write_msg<M: RosMessage>(
        &mut self,
        topic: TopicId,
        stamp_ns: i64,
        msg: &M,
    ) -> Result<(), BagError> {
        self.write(topic, stamp_ns, &msg.to_cdr())
    }

    /// Closes the storage file and writes metadata.yaml. Returns the bag folder, or the file
    /// for a lone storage file.
    pub fn finish(self) -> Result<PathBuf, BagError> {
        let path = self.file_path();
        let start = self.first_ns.unwrap_or(0);
        let files = [FileSummary {
            path: self.file_name.clone(),
            starting_time_ns: start,
            duration_ns: if self.count == 0 {
                0
            } else {
                self.last_ns - start
            },
            message_count: self.count,
        }];
        let topics: Vec<TopicSummary> = self
            .topics
            .iter()
            .map(|t| TopicSummary {
                name: t.name.clone(),
                type_name: t.type_name.clone(),
                message_count: t.count,
            })
            .collect();
        let yaml = write_metadata(self.storage.identifier(), &files, &topics);
        match self.inner {
            Inner::Mcap(mut w) => {
                let mcap_err = |source| BagError::Mcap {
                    path: path.clone(),
                    source: Box::new(source),
                };
                w.write_metadata(&mcap::records::Metadata {
                    name: "rosbag2".into(),
                    metadata: BTreeMap::from([("serialized_metadata".into(), yaml.clone())]),
                })
                .map_err(mcap_err)?;
                w.finish().map_err(mcap_err)?;
            }
            Inner::Sqlite(conn) => {
                let sql_err = |source| BagError::Sqlite {
                    path: path.clone(),
                    source,
                };
                conn.execute(
                    "INSERT INTO metadata (metadata_version, metadata) VALUES (9, ?1)",
                    [yaml.as_str()],
                )
                .map_err(sql_err)?;
                conn.execute_batch("COMMIT;").map_err(sql_err)?;
                conn.close().map_err(|(_, source)| sql_err(source))?;
            }
        }
        if !self.write_yaml {
            return Ok(path);
        }
        let meta_path = self.dir.join("metadata.yaml");
        std::fs::write(&meta_path, yaml).map_err(|source| BagError::Io {
            path: meta_path,
            source,
        })?;
        Ok(self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::Decoded;
    use crate::msgs::state::{TfMessage, TransformStamped};
    use crate::read::BagReader;
    use fusionrt_core::calib::RigidTransform;
    use fusionrt_core::image::{Encoding, Image};
    use fusionrt_core::tf::StaticTransform;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fusionrt-bag-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn image(stamp_ns: i64) -> Image {
        Image {
            stamp_ns,
            frame_id: "camera0".into(),
            width: 4,
            height: 2,
            encoding: Encoding::Mono8,
            step: 4,
            data: (0..8).collect(),
        }
    }

    fn write_bag(dir: &Path, storage: Storage) {
        let mut w = BagWriter::create(dir, storage).unwrap();
        let tf = w.add_topic("/tf_static", "tf2_msgs/msg/TFMessage").unwrap();
        let cam = w
            .add_topic("/camera/image_raw", "sensor_msgs/msg/Image")
            .unwrap();
        let tf_msg = TfMessage {
            transforms: vec![TransformStamped {
                stamp_ns: 0,
                transform: StaticTransform {
                    parent_frame: "base_link".into(),
                    child_frame: "camera0".into(),
                    parent_from_child: RigidTransform {
                        translation_m: [1.0, 0.0, 1.5],
                        rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                    },
                },
            }],
        };
        w.write_msg(tf, 0, &tf_msg).unwrap();
        for i in 0..5 {
            w.write_msg(cam, 100_000_000 * i, &image(100_000_000 * i))
                .unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn both_storages_round_trip_in_stamp_order() {
        for storage in [Storage::Mcap, Storage::Sqlite3] {
            let dir = temp_dir(storage.identifier());
            write_bag(&dir, storage);
            let mut r = BagReader::open(&dir).unwrap();
            let meta = r.info().metadata.clone().unwrap();
            assert_eq!(meta.message_count, 6);
            assert_eq!(meta.duration.nanoseconds, 400_000_000);
            let mut stamps = Vec::new();
            let mut images = 0;
            while let Some((raw, decoded)) = r.next_decoded().unwrap() {
                stamps.push(raw.stamp_ns);
                if let Decoded::Image(img) = decoded {
                    assert_eq!(img, image(raw.stamp_ns));
                    images += 1;
                }
            }
            assert_eq!(images, 5);
            assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
            assert_eq!(r.stats().messages, 6);
            // A topic filter passes over the images.
            let topics = std::collections::BTreeSet::from(["/tf_static".to_string()]);
            let mut r = BagReader::open_topics(&dir, Some(topics)).unwrap();
            let mut n = 0;
            while r.next_message().unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, 1);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_lone_mcap_file_reads_back_without_metadata_yaml() {
        let dir = temp_dir("lone");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("output.mcap");
        let mut w = BagWriter::create_file(&path).unwrap();
        let cam = w.add_topic("/image", "sensor_msgs/msg/Image").unwrap();
        w.write_msg(cam, 5, &image(5)).unwrap();
        assert_eq!(w.finish().unwrap(), path);
        assert!(!dir.join("metadata.yaml").exists());
        let mut r = BagReader::open(&path).unwrap();
        assert!(matches!(
            r.next_decoded().unwrap(),
            Some((_, Decoded::Image(_)))
        ));
        assert!(BagWriter::create_file(&path).is_err(), "never overwrites");
        assert!(BagWriter::create_file(&dir.join("x.bag")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn types_without_a_schema_and_existing_folders_are_refused() {
        let dir = temp_dir("refuse");
        let mut w = BagWriter::create(&dir, Storage::Mcap).unwrap();
        assert!(w.add_topic("/x", "foo_msgs/msg/Bar").is_err());
        assert!(BagWriter::create(&dir, Storage::Mcap).is_err());
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
