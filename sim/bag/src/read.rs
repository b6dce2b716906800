//! Reading rosbag2: a folder with metadata.yaml and its storage files, or one `.mcap` / `.db3`
//! file, streamed in receive-stamp order across split files.
//!
//! Each storage file is a stream of the selected topics' messages. MCAP: through the file's
//! summary with `mcap`'s sans-io indexed reader, which reads and decompresses only the chunks
//! whose message indexes hold a selected channel (a lidar-only replay never inflates the image
//! chunks); files without a summary (truncated, unfinished, file-compressed) go through the
//! linear reader fed from the file (or from a zstd decoder). sqlite3: by pages of
//! `(id, topic, stamp)` of the selected topic ids in stamp order, each payload fetched when its
//! message is taken. [`BagReader`] merges the streams by stamp, so memory holds one pending
//! message (and one chunk) per file, never a whole bag.
//!
//! What fusionrt cannot use is skipped and counted per topic in [`ReadStats`]: non-CDR or empty
//! serialization formats here, unknown types and unsupported encodings in
//! [`BagReader::next_decoded`]. A file that breaks off (truncated, corrupt) ends its stream;
//! what came before is kept and the error is listed in [`ReadStats::file_errors`].

use crate::BagError;
use crate::direct::RangeReader;
use crate::metadata::{BagMetadata, Compression};
use crate::msgs::{self, Decoded, MsgError};
use mcap::sans_io::indexed_reader::{
    IndexedReadEvent, IndexedReader, IndexedReaderOptions, ReadOrder,
};
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader};
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader, SummaryReaderOptions};
use rusqlite::{Connection, OpenFlags};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A topic as the bag declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Type, `pkg/msg/Type`.
    pub type_name: String,
    /// `cdr`, or what the bag says.
    pub serialization_format: String,
}

/// One message as stored: topic, receive stamp and CDR payload.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The topic (shared between its messages).
    pub topic: Arc<Topic>,
    /// Receive stamp (rosbag2's timestamp, MCAP log time), ns since the epoch.
    pub stamp_ns: i64,
    /// Index of the message on its topic, from 0.
    pub index_on_topic: u64,
    /// The CDR payload (decompressed when the bag compresses per message).
    pub data: Vec<u8>,
}

/// Messages skipped on one topic, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// Serialization format not `cdr` (or empty).
    pub not_cdr: u64,
    /// A type fusionrt does not read (raw packets, custom messages).
    pub unknown_type: u64,
    /// A type it reads with content it does not use (e.g. a Bayer image).
    pub unsupported: u64,
    /// Malformed payloads (returned as errors).
    pub malformed: u64,
}

/// What a read produced and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadStats {
    /// Messages returned.
    pub messages: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// Skips per topic (sorted by topic name).
    pub skipped: BTreeMap<String, SkipCounts>,
    /// Messages whose stamp is older than the one before (kept, in file order).
    pub out_of_order: u64,
    /// Files that broke off, with the reason.
    pub file_errors: Vec<String>,
}

/// The storage plugin of a bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// `.mcap` files.
    Mcap,
    /// `.db3` files.
    Sqlite3,
}

impl StorageKind {
    /// The rosbag2 storage identifier.
    pub fn identifier(self) -> &'static str {
        match self {
            Self::Mcap => "mcap",
            Self::Sqlite3 => "sqlite3",
        }
    }
}

/// A stream's next message: topic, stamp (ns), payload.
type Head = (Arc<Topic>, i64, Vec<u8>);

/// The topics a read selects (`None`: all), shared by the streams of a bag.
type TopicFilter = Option<Arc<BTreeSet<String>>>;

fn wanted(filter: &TopicFilter, topic: &str) -> bool {
    filter.as_ref().is_none_or(|set| set.contains(topic))
}

trait FileStream: Send {
    /// The next message of a selected topic in the file, `None` at its end. Messages of other
    /// topics are passed over without reading (indexed MCAP, sqlite3) or copying their payload.
    fn next(&mut self) -> Result<Option<Head>, BagError>;

    /// Whether a valid record has been read: an error after one is a file that breaks off
    /// (what came before is kept), an error before it a file that is not a bag at all.
    fn started(&self) -> bool;
}

/// A temporary decompressed copy of a file-compressed sqlite3 file, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BagError + '_ {
    move |source| BagError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_file(path: &Path) -> Result<std::fs::File, BagError> {
    std::fs::File::open(path).map_err(io_err(path))
}

fn mcap_err(path: &Path, source: mcap::McapError) -> BagError {
    BagError::Mcap {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

/// Records larger than this are an error rather than an allocation (a corrupt length field).
const MAX_RECORD_BYTES: usize = 1 << 30;

/// Opens an MCAP file: through its summary (chunk and message indexes) when it has one, so that
/// only the chunks holding selected channels are read and decompressed; else (no summary, a
/// truncated or file-compressed file, an unreadable summary) with the linear reader, which
/// reads every record and keeps what came before a break.
fn open_mcap(
    path: &Path,
    file_compressed: bool,
    filter: TopicFilter,
) -> Result<Box<dyn FileStream>, BagError> {
    if !file_compressed && let Some(indexed) = IndexedMcapStream::open(path, &filter)? {
        return Ok(Box::new(indexed));
    }
    Ok(Box::new(LinearMcapStream::open(
        path,
        file_compressed,
        filter,
    )?))
}

/// The summary of an MCAP file; `None` when it has none or it cannot be read (no footer in a
/// truncated file, a corrupt summary: the linear reader then says what is wrong).
fn read_mcap_summary(
    path: &Path,
    file: &mut std::fs::File,
    file_len: u64,
) -> Result<Option<mcap::Summary>, BagError> {
    let options = SummaryReaderOptions::default()
        .with_file_size(file_len)
        .with_record_length_limit(MAX_RECORD_BYTES);
    let mut summary_reader = SummaryReader::new_with_options(options);
    while let Some(event) = summary_reader.next_event() {
        match event {
            Ok(SummaryReadEvent::ReadRequest(n)) => {
                let read = file.read(summary_reader.insert(n)).map_err(io_err(path))?;
                summary_reader.notify_read(read);
            }
            Ok(SummaryReadEvent::SeekRequest(to)) => {
                let pos = file.seek(to).map_err(io_err(path))?;
                summary_reader.notify_seeked(pos);
            }
            Err(_) => return Ok(None),
        }
    }
    Ok(summary_reader.finish())
}

/// The topics of a lone MCAP file with their message counts, from its summary (channels and
/// statistics), without reading a message; `None` when the file has no summary with statistics.
/// Topics of every serialization format are listed.
pub fn mcap_topic_counts(path: &Path) -> Result<Option<Vec<(Topic, u64)>>, BagError> {
    let mut file = open_file(path)?;
    let file_len = file.metadata().map_err(io_err(path))?.len();
    let Some(summary) = read_mcap_summary(path, &mut file, file_len)? else {
        return Ok(None);
    };
    let Some(stats) = &summary.stats else {
        return Ok(None);
    };
    let mut topics: BTreeMap<String, (Topic, u64)> = BTreeMap::new();
    for (id, ch) in &summary.channels {
        let count = stats.channel_message_counts.get(id).copied().unwrap_or(0);
        let topic = Topic {
            name: ch.topic.clone(),
            type_name: ch
                .schema
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            serialization_format: ch.message_encoding.clone(),
        };
        // Two channels of one topic (split recordings) count together.
        topics.entry(ch.topic.clone()).or_insert((topic, 0)).1 += count;
    }
    Ok(Some(topics.into_values().collect()))
}

/// An MCAP file read through its summary with `mcap`'s sans-io indexed reader, in file order.
struct IndexedMcapStream {
    path: PathBuf,
    /// Reads the chunks the reader asks for (around the page cache where it can).
    chunks: RangeReader,
    file_len: u64,
    reader: IndexedReader,
    channels: HashMap<u16, Arc<Topic>>,
}

impl IndexedMcapStream {
    /// `Ok(None)` when the file has no usable summary with chunk indexes: read it linearly.
    fn open(path: &Path, filter: &TopicFilter) -> Result<Option<Self>, BagError> {
        let mut file = open_file(path)?;
        let file_len = file.metadata().map_err(io_err(path))?.len();
        let Some(summary) = read_mcap_summary(path, &mut file, file_len)? else {
            return Ok(None);
        };
        // Messages outside chunks are found only by the linear reader.
        let unchunked = summary.stats.as_ref().is_some_and(|s| s.message_count > 0)
            && summary.chunk_indexes.is_empty();
        if unchunked {
            return Ok(None);
        }
        let mut options = IndexedReaderOptions::new().with_order(ReadOrder::File);
        options.record_length_limit = Some(MAX_RECORD_BYTES);
        if let Some(set) = filter {
            options = options.include_topics(set.iter().cloned());
        }
        let Ok(reader) = IndexedReader::new_with_options(&summary, options) else {
            return Ok(None);
        };
        let channels = summary
            .channels
            .iter()
            .map(|(&id, ch)| {
                let topic = Topic {
                    name: ch.topic.clone(),
                    type_name: ch
                        .schema
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    serialization_format: ch.message_encoding.clone(),
                };
                (id, Arc::new(topic))
            })
            .collect();
        Ok(Some(Self {
            path: path.to_path_buf(),
            chunks: RangeReader::new(path, file),
            file_len,
            reader,
            channels,
        }))
    }
}

impl FileStream for IndexedMcapStream {
    fn next(&mut self) -> Result<Option<Head>, BagError> {
        loop {
            let Some(event) = self.reader.next_event() else {
                return Ok(None);
            };
            match event.map_err(|e| mcap_err(&self.path, e))? {
                IndexedReadEvent::ReadChunkRequest { offset, length } => {
                    // A chunk index pointing past the end is corrupt: no allocation for it.
                    if offset.saturating_add(length as u64) > self.file_len {
                        return Err(mcap_err(&self.path, mcap::McapError::UnexpectedEof));
                    }
                    let chunk = self
                        .chunks
                        .read(offset, length)
                        .map_err(io_err(&self.path))?;
                    self.reader
                        .insert_chunk_record_data(offset, chunk)
                        .map_err(|e| mcap_err(&self.path, e))?;
                }
                IndexedReadEvent::Message { header, data } => {
                    let Some(topic) = self.channels.get(&header.channel_id) else {
                        continue; // a message of an undeclared channel
                    };
                    let stamp_ns = i64::try_from(header.log_time).unwrap_or(i64::MAX);
                    return Ok(Some((Arc::clone(topic), stamp_ns, data.to_vec())));
                }
            }
        }
    }

    fn started(&self) -> bool {
        true // its summary was read
    }
}

/// An MCAP file streamed through the sans-io linear reader.
struct LinearMcapStream {
    path: PathBuf,
    src: Box<dyn Read + Send>,
    reader: LinearReader,
    filter: TopicFilter,
    started: bool,
    schemas: HashMap<u16, String>,
    channels: HashMap<u16, Arc<Topic>>,
}

impl LinearMcapStream {
    fn open(path: &Path, file_compressed: bool, filter: TopicFilter) -> Result<Self, BagError> {
        let file = std::io::BufReader::new(open_file(path)?);
        let src: Box<dyn Read + Send> = if file_compressed {
            Box::new(zstd::stream::read::Decoder::with_buffer(file).map_err(io_err(path))?)
        } else {
            Box::new(file)
        };
        let options = mcap::sans_io::linear_reader::LinearReaderOptions::default()
            .with_record_length_limit(MAX_RECORD_BYTES);
        Ok(Self {
            path: path.to_path_buf(),
            src,
            reader: LinearReader::new_with_options(options),
            filter,
            started: false,
            schemas: HashMap::new(),
            channels: HashMap::new(),
        })
    }
}

impl FileStream for LinearMcapStream {
    fn next(&mut self) -> Result<Option<Head>, BagError> {
        loop {
            let Some(event) = self.reader.next_event() else {
                return Ok(None);
            };
            let record = match event.map_err(|e| mcap_err(&self.path, e))? {
                LinearReadEvent::ReadRequest(n) => {
                    let buf = self.reader.insert(n);
                    let read = self.src.read(buf).map_err(io_err(&self.path))?;
                    self.reader.notify_read(read);
                    continue;
                }
                LinearReadEvent::Record { opcode, data } => mcap::parse_record(opcode, data),
            };
            let record = record.map_err(|e| mcap_err(&self.path, e))?;
            self.started = true;
            match record {
                mcap::records::Record::Schema { header, .. } => {
                    self.schemas.insert(header.id, header.name);
                }
                mcap::records::Record::Channel(ch) => {
                    let type_name = self.schemas.get(&ch.schema_id).cloned().unwrap_or_default();
                    let topic = Topic {
                        name: ch.topic,
                        type_name,
                        serialization_format: ch.message_encoding,
                    };
                    self.channels.insert(ch.id, Arc::new(topic));
                }
                mcap::records::Record::Message { header, data } => {
                    let Some(topic) = self.channels.get(&header.channel_id) else {
                        continue; // a message before its channel: not valid MCAP, pass over it
                    };
                    if !wanted(&self.filter, &topic.name) {
                        continue;
                    }
                    let stamp_ns = i64::try_from(header.log_time).unwrap_or(i64::MAX);
                    return Ok(Some((Arc::clone(topic), stamp_ns, data.into_owned())));
                }
                _ => {}
            }
        }
    }

    fn started(&self) -> bool {
        self.started
    }
}

/// A sqlite3 file read by pages of `(id, topic, stamp)` of the selected topics in stamp order.
struct SqliteStream {
    path: PathBuf,
    conn: Connection,
    topics: HashMap<i64, Arc<Topic>>,
    /// The page query, restricted to the selected topics' ids.
    page_sql: String,
    page: VecDeque<(i64, i64, i64)>,
    /// `(stamp, id)` of the last row paged in.
    last: Option<(i64, i64)>,
    done: bool,
    _temp: Option<TempFile>,
}

const SQLITE_PAGE_ROWS: usize = 1024;

impl SqliteStream {
    fn open(path: &Path, file_compressed: bool, filter: &TopicFilter) -> Result<Self, BagError> {
        let (db_path, temp) = if file_compressed {
            let temp = decompress_to_temp(path)?;
            (temp.0.clone(), Some(temp))
        } else {
            (path.to_path_buf(), None)
        };
        let sql_err = |source| BagError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        // `immutable=1`: a finished bag on a read-only disk needs no lock or journal.
        let uri = format!("file:{}?immutable=1", uri_escape(&db_path));
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err)?;
        let mut topics = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT id, name, type, serialization_format FROM topics")
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        Topic {
                            name: row.get(1)?,
                            type_name: row.get(2)?,
                            serialization_format: row.get(3)?,
                        },
                    ))
                })
                .map_err(sql_err)?;
            for row in rows {
                let (id, topic) = row.map_err(sql_err)?;
                if wanted(filter, &topic.name) {
                    topics.insert(id, Arc::new(topic));
                }
            }
        }
        let mut ids: Vec<String> = topics.keys().map(i64::to_string).collect();
        ids.sort();
        // Ids are integers read from the file, so the list is safe to inline.
        let page_sql = format!(
            "SELECT id, topic_id, timestamp FROM messages \
             WHERE topic_id IN ({}) AND timestamp >= ?1 AND (timestamp > ?1 OR id > ?2) \
             ORDER BY timestamp, id LIMIT ?3",
            ids.join(",")
        );
        Ok(Self {
            path: path.to_path_buf(),
            conn,
            topics,
            page_sql,
            page: VecDeque::new(),
            last: None,
            done: false,
            _temp: temp,
        })
    }

    fn sql_err(&self, source: rusqlite::Error) -> BagError {
        BagError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn fill_page(&mut self) -> Result<(), BagError> {
        let (stamp, id) = self.last.unwrap_or((i64::MIN, i64::MIN));
        let mut stmt = self
            .conn
            .prepare_cached(&self.page_sql)
            .map_err(|e| BagError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
        let rows = stmt
            .query_map(
                rusqlite::params![stamp, id, SQLITE_PAGE_ROWS as i64],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                },
            )
            .map_err(|e| BagError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
        for row in rows {
            let row = row.map_err(|e| BagError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            self.page.push_back(row);
        }
        if self.page.len() < SQLITE_PAGE_ROWS {
            self.done = true;
        }
        if let Some(&(id, _, stamp)) = self.page.back() {
            self.last = Some((stamp, id));
        }
        Ok(())
    }
}

impl FileStream for SqliteStream {
    fn next(&mut self) -> Result<Option<Head>, BagError> {
        loop {
            if self.page.is_empty() {
                if self.done {
                    return Ok(None);
                }
                self.fill_page()?;
                continue;
            }
            let Some((id, topic_id, stamp_ns)) = self.page.pop_front() else {
                continue;
            };
            let Some(topic) = self.topics.get(&topic_id).cloned() else {
                continue; // not selected by the page query: cannot happen
            };
            // Payloads one by one: a page of them could be gigabytes.
            let mut stmt = self
                .conn
                .prepare_cached("SELECT data FROM messages WHERE id = ?1")
                .map_err(|e| self.sql_err(e))?;
            let data = stmt
                .query_row([id], |row| row.get::<_, Vec<u8>>(0))
                .map_err(|e| BagError::Sqlite {
                    path: self.path.clone(),
                    source: e,
                })?;
            return Ok(Some((topic, stamp_ns, data)));
        }
    }

    fn started(&self) -> bool {
        true // its topics table was read
    }
}

fn uri_escape(path: &Path) -> String {
    let mut out = String::new();
    for c in path.display().to_string().chars() {
        match c {
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

fn decompress_to_temp(path: &Path) -> Result<TempFile, BagError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp =
        TempFile(std::env::temp_dir().join(format!("fusionrt-bag-{}-{n}.db3", std::process::id())));
    let src = std::io::BufReader::new(open_file(path)?);
    let mut decoder = zstd::stream::read::Decoder::with_buffer(src).map_err(io_err(path))?;
    let mut out = std::fs::File::create(&temp.0).map_err(io_err(&temp.0))?;
    std::io::copy(&mut decoder, &mut out).map_err(io_err(path))?;
    Ok(temp)
}

/// A bag's description, from metadata.yaml (or from a scan of a lone file).
#[derive(Debug, Clone, PartialEq)]
pub struct BagInfo {
    /// The path given.
    pub path: PathBuf,
    /// Storage plugin.
    pub storage: StorageKind,
    /// The storage files, in order.
    pub files: Vec<PathBuf>,
    /// File-level or message-level compression.
    pub compression: Compression,
    /// The metadata, when the bag has a metadata.yaml.
    pub metadata: Option<BagMetadata>,
}

fn storage_of_file(path: &Path) -> Option<(StorageKind, bool)> {
    let name = path.file_name()?.to_str()?;
    let (base, compressed) = match name.strip_suffix(".zstd") {
        Some(base) => (base, true),
        None => (name, false),
    };
    if base.ends_with(".mcap") {
        Some((StorageKind::Mcap, compressed))
    } else if base.ends_with(".db3") {
        Some((StorageKind::Sqlite3, compressed))
    } else {
        None
    }
}

impl BagInfo {
    /// Describes the bag at `path` (a folder with metadata.yaml, or one storage file).
    pub fn open(path: &Path) -> Result<Self, BagError> {
        if path.is_dir() {
            let meta = BagMetadata::read(path)?;
            let storage = match meta.storage_identifier.as_str() {
                "mcap" => StorageKind::Mcap,
                "sqlite3" => StorageKind::Sqlite3,
                other => {
                    return Err(BagError::Metadata {
                        path: path.join("metadata.yaml"),
                        reason: format!("storage `{other}` is not supported (mcap, sqlite3)"),
                    });
                }
            };
            let compression = meta.compression().map_err(|reason| BagError::Metadata {
                path: path.join("metadata.yaml"),
                reason,
            })?;
            let mut files = Vec::new();
            for rel in &meta.relative_file_paths {
                let direct = path.join(rel);
                // Older bags store paths with the bag folder in front; rosbags takes the name.
                let by_name = Path::new(rel).file_name().map(|n| path.join(n));
                let file = if direct.is_file() {
                    direct
                } else if let Some(f) = by_name.filter(|f| f.is_file()) {
                    f
                } else {
                    return Err(BagError::Metadata {
                        path: path.join("metadata.yaml"),
                        reason: format!("storage file `{rel}` is missing"),
                    });
                };
                files.push(file);
            }
            if files.is_empty() {
                return Err(BagError::Metadata {
                    path: path.join("metadata.yaml"),
                    reason: "relative_file_paths is empty".into(),
                });
            }
            Ok(Self {
                path: path.to_path_buf(),
                storage,
                files,
                compression,
                metadata: Some(meta),
            })
        } else if path.is_file() {
            let (storage, compressed) = storage_of_file(path).ok_or_else(|| BagError::NotABag {
                path: path.to_path_buf(),
                reason: "expected a rosbag2 folder or a .mcap / .db3 file".into(),
            })?;
            Ok(Self {
                path: path.to_path_buf(),
                storage,
                files: vec![path.to_path_buf()],
                compression: if compressed {
                    Compression::File
                } else {
                    Compression::None
                },
                metadata: None,
            })
        } else {
            Err(BagError::NotABag {
                path: path.to_path_buf(),
                reason: "no such file or folder".into(),
            })
        }
    }
}

/// Streams a bag's messages in stamp order across its files.
pub struct BagReader {
    info: BagInfo,
    streams: Vec<Box<dyn FileStream>>,
    heads: Vec<Option<Head>>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    per_topic: HashMap<String, u64>,
    last_stamp_ns: i64,
    stats: ReadStats,
}

impl std::fmt::Debug for BagReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BagReader")
            .field("info", &self.info)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Largest decompressed message accepted from a message-compressed bag.
const MAX_MESSAGE_BYTES: u64 = 1 << 30;

impl BagReader {
    /// Opens the bag at `path` and every storage file in it, to read every topic.
    pub fn open(path: &Path) -> Result<Self, BagError> {
        Self::open_topics(path, None)
    }

    /// Opens the bag at `path` to read only `topics` (`None`: all). Other topics are passed
    /// over without reading their payloads: in MCAP files with a summary, chunks that hold
    /// none of them are not even read; in sqlite3, only their rows are queried.
    pub fn open_topics(path: &Path, topics: Option<BTreeSet<String>>) -> Result<Self, BagError> {
        let info = BagInfo::open(path)?;
        let filter: TopicFilter = topics.map(Arc::new);
        let file_compressed = info.compression == Compression::File
            || info
                .files
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == "zstd"));
        let mut streams: Vec<Box<dyn FileStream>> = Vec::new();
        for file in &info.files {
            let compressed = file_compressed && file.extension().is_some_and(|e| e == "zstd");
            streams.push(match info.storage {
                StorageKind::Mcap => open_mcap(file, compressed, filter.clone())?,
                StorageKind::Sqlite3 => Box::new(SqliteStream::open(file, compressed, &filter)?),
            });
        }
        let n = streams.len();
        let mut reader = Self {
            info,
            streams,
            heads: vec![None; n],
            heap: BinaryHeap::new(),
            per_topic: HashMap::new(),
            last_stamp_ns: i64::MIN,
            stats: ReadStats::default(),
        };
        for i in 0..n {
            reader.advance(i)?;
        }
        Ok(reader)
    }

    /// The bag's description.
    pub fn info(&self) -> &BagInfo {
        &self.info
    }

    /// What has been read and skipped so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Pulls the next message of stream `i` into its head slot. A stream error ends the stream
    /// and is listed in the stats, except before the file's first valid record: a file that
    /// is not a bag at all is an error.
    fn advance(&mut self, i: usize) -> Result<(), BagError> {
        match self.streams[i].next() {
            Ok(Some(head)) => {
                self.heap.push(Reverse((head.1, i)));
                self.heads[i] = Some(head);
            }
            Ok(None) => self.heads[i] = None,
            Err(e) if !self.streams[i].started() => return Err(e),
            Err(e) => {
                self.heads[i] = None;
                self.stats.file_errors.push(e.to_string());
            }
        }
        Ok(())
    }

    /// The next message in stamp order, `None` at the end of the bag. Messages of topics not
    /// selected and of non-CDR topics are passed over (the latter counted).
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, BagError> {
        while let Some(Reverse((_, i))) = self.heap.pop() {
            let Some((topic, stamp_ns, data)) = self.heads[i].take() else {
                continue;
            };
            self.advance(i)?;
            if topic.serialization_format != "cdr" {
                self.stats
                    .skipped
                    .entry(topic.name.clone())
                    .or_default()
                    .not_cdr += 1;
                continue;
            }
            let data = if self.info.compression == Compression::Message {
                let mut out = Vec::new();
                zstd::stream::read::Decoder::new(data.as_slice())
                    .and_then(|d| d.take(MAX_MESSAGE_BYTES).read_to_end(&mut out))
                    .map_err(io_err(&self.info.path))?;
                out
            } else {
                data
            };
            if stamp_ns < self.last_stamp_ns {
                self.stats.out_of_order += 1;
            }
            self.last_stamp_ns = self.last_stamp_ns.max(stamp_ns);
            let counter = self.per_topic.entry(topic.name.clone()).or_insert(0);
            let index_on_topic = *counter;
            *counter += 1;
            self.stats.messages += 1;
            self.stats.payload_bytes += data.len() as u64;
            return Ok(Some(RawMessage {
                topic,
                stamp_ns,
                index_on_topic,
                data,
            }));
        }
        Ok(None)
    }

    /// The next message fusionrt can use, decoded. Unknown types and unsupported content are
    /// skipped and counted; a malformed payload is counted and returned as
    /// [`BagError::Decode`] (naming bag, topic and index), after which reading may go on.
    pub fn next_decoded(&mut self) -> Result<Option<(RawMessage, Decoded)>, BagError> {
        self.next_decoded_with(false)
    }

    /// [`BagReader::next_decoded`] for a caller that does not keep the raw bytes: each payload
    /// is moved into its decoded message (a PointCloud2's points are not copied) and the
    /// returned [`RawMessage::data`] is empty.
    pub fn next_decoded_taking_payload(
        &mut self,
    ) -> Result<Option<(RawMessage, Decoded)>, BagError> {
        self.next_decoded_with(true)
    }

    fn next_decoded_with(
        &mut self,
        take_payload: bool,
    ) -> Result<Option<(RawMessage, Decoded)>, BagError> {
        while let Some(mut raw) = self.next_message()? {
            let decoded = if take_payload {
                msgs::decode_owned(&raw.topic.type_name, std::mem::take(&mut raw.data))
            } else {
                msgs::decode(&raw.topic.type_name, &raw.data)
            };
            match decoded {
                Ok(Some(decoded)) => return Ok(Some((raw, decoded))),
                Ok(None) => {
                    self.stats
                        .skipped
                        .entry(raw.topic.name.clone())
                        .or_default()
                        .unknown_type += 1;
                }
                Err(MsgError::Unsupported(_)) => {
                    self.stats
                        .skipped
                        .entry(raw.topic.name.clone())
                        .or_default()
                        .unsupported += 1;
                }
                Err(source) => {
                    self.stats
                        .skipped
                        .entry(raw.topic.name.clone())
                        .or_default()
                        .malformed += 1;
                    return Err(BagError::Decode {
                        bag: self.info.path.clone(),
                        topic: raw.topic.name.clone(),
                        type_name: raw.topic.type_name.clone(),
                        index: raw.index_on_topic,
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::state::{TfMessage, TransformStamped};
    use crate::write::{BagWriter, Storage};
    use fusionrt_core::calib::RigidTransform;
    use fusionrt_core::tf::StaticTransform;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fusionrt-bag-read-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn tf_at(stamp_ns: i64) -> TfMessage {
        TfMessage {
            transforms: vec![TransformStamped {
                stamp_ns,
                transform: StaticTransform {
                    parent_frame: "odom".into(),
                    child_frame: "base_link".into(),
                    parent_from_child: RigidTransform {
                        translation_m: [stamp_ns as f64, 0.0, 0.0],
                        rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                    },
                },
            }],
        }
    }

    /// A bag of `n` /tf messages at the given stamps; returns its storage file.
    fn bag(dir: &Path, storage: Storage, stamps: &[i64]) -> PathBuf {
        let mut w = BagWriter::create(dir, storage).unwrap();
        let t = w.add_topic("/tf", "tf2_msgs/msg/TFMessage").unwrap();
        for &s in stamps {
            w.write_msg(t, s, &tf_at(s)).unwrap();
        }
        w.finish().unwrap();
        let name = dir.file_name().unwrap().to_str().unwrap();
        let ext = if storage == Storage::Mcap {
            "mcap"
        } else {
            "db3"
        };
        dir.join(format!("{name}_0.{ext}"))
    }

    fn stamps_of(path: &Path) -> Vec<i64> {
        let mut r = BagReader::open(path).unwrap();
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push(m.stamp_ns);
        }
        out
    }

    #[test]
    fn split_bags_merge_in_stamp_order() {
        for storage in [Storage::Mcap, Storage::Sqlite3] {
            let root = temp_dir(&format!("split-{}", storage.identifier()));
            let a = bag(&root.join("a"), storage, &[0, 20, 40]);
            let b = bag(&root.join("b"), storage, &[10, 30, 50, 60]);
            let split = root.join("split");
            std::fs::create_dir_all(&split).unwrap();
            let names: Vec<String> = [a, b]
                .iter()
                .map(|f| {
                    let name = f.file_name().unwrap().to_str().unwrap().to_string();
                    std::fs::copy(f, split.join(&name)).unwrap();
                    name
                })
                .collect();
            // A version-5 metadata.yaml listing both files.
            let meta = format!(
                "rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: {}\n  \
                 relative_file_paths: [{}, {}]\n  message_count: 7\n",
                storage.identifier(),
                names[0],
                names[1]
            );
            std::fs::write(split.join("metadata.yaml"), meta).unwrap();
            assert_eq!(stamps_of(&split), vec![0, 10, 20, 30, 40, 50, 60]);
            std::fs::remove_dir_all(&root).unwrap();
        }
    }

    #[test]
    fn truncated_files_keep_what_came_before_and_say_so() {
        let root = temp_dir("truncated");
        let stamps: Vec<i64> = (0..2000).map(|i| i * 1000).collect();
        let file = bag(&root.join("m"), Storage::Mcap, &stamps);
        let bytes = std::fs::read(&file).unwrap();
        for cut in [bytes.len() / 3, bytes.len() - 10] {
            let path = root.join(format!("cut{cut}.mcap"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let mut r = BagReader::open(&path).unwrap();
            let mut n = 0;
            while r.next_message().unwrap().is_some() {
                n += 1;
            }
            assert!(n <= 2000);
            assert_eq!(r.stats().file_errors.len(), 1, "cut {cut}: {:?}", r.stats());
        }
        let db = bag(&root.join("s"), Storage::Sqlite3, &stamps);
        let bytes = std::fs::read(&db).unwrap();
        let path = root.join("cut.db3");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        // A cut database either fails to open, naming the file, or reads what it can and
        // lists the break; it never claims more messages than were written.
        match BagReader::open(&path) {
            Err(e) => assert!(e.to_string().contains("cut.db3"), "{e}"),
            Ok(mut r) => {
                let mut n = 0;
                while r.next_message().unwrap().is_some() {
                    n += 1;
                }
                assert!(n < 2000, "half a database cannot hold every message");
                let errors = &r.stats().file_errors;
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert!(errors[0].contains("cut.db3"), "{errors:?}");
            }
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Messages as `(topic, stamp, payload)`, and the stats, of a read of `topics`.
    fn read_all(path: &Path, topics: Option<&[&str]>) -> (Vec<(String, i64, Vec<u8>)>, ReadStats) {
        let topics = topics.map(|t| t.iter().map(|s| s.to_string()).collect());
        let mut r = BagReader::open_topics(path, topics).unwrap();
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push((m.topic.name.clone(), m.stamp_ns, m.data));
        }
        (out, r.stats().clone())
    }

    #[test]
    fn indexed_mcap_reads_equal_linear_reads_and_skip_unselected_chunks() {
        use fusionrt_core::image::{Encoding, Image};
        let root = temp_dir("indexed");
        let dir = root.join("b");
        let mut w = BagWriter::create(&dir, Storage::Mcap).unwrap();
        let tf = w.add_topic("/tf", "tf2_msgs/msg/TFMessage").unwrap();
        let cam = w.add_topic("/cam/image", "sensor_msgs/msg/Image").unwrap();
        // Images of 1.2 MB, each over the chunk size (a chunk of its own), then TF messages.
        for i in 0..6i64 {
            let image = Image {
                stamp_ns: i,
                frame_id: "cam".into(),
                width: 800,
                height: 500,
                encoding: Encoding::Rgb8,
                step: 2400,
                data: vec![(i * 40) as u8; 2400 * 500],
            };
            w.write_msg(cam, i * 100, &image).unwrap();
        }
        for i in 0..6i64 {
            w.write_msg(tf, 1000 + i * 100, &tf_at(i)).unwrap();
        }
        w.finish().unwrap();
        let file = dir.join("b_0.mcap");
        let bytes = std::fs::read(&file).unwrap();
        // The same file without its summary and footer: only the linear reader can read it.
        let summary_start = bytes.len() - 20 - 8; // footer body + magic
        let summary_offset =
            u64::from_le_bytes(bytes[summary_start..summary_start + 8].try_into().unwrap());
        let cut = root.join("no_summary.mcap");
        std::fs::write(&cut, &bytes[..summary_offset as usize]).unwrap();
        for topics in [None, Some(&["/tf"][..]), Some(&["/cam/image", "/tf"][..])] {
            let (indexed, stats) = read_all(&file, topics);
            let (linear, linear_stats) = read_all(&cut, topics);
            assert_eq!(indexed, linear, "topics {topics:?}");
            assert!(stats.file_errors.is_empty(), "{stats:?}");
            // The cut file ends where its summary began: the linear reader says so.
            assert_eq!(linear_stats.file_errors.len(), 1, "{linear_stats:?}");
        }
        assert_eq!(read_all(&file, Some(&["/tf"])).0.len(), 6);
        // With only /tf selected, chunks without /tf are never read: corrupt them and the
        // indexed read still gives every /tf message, while a read of everything breaks off.
        let summary = mcap::Summary::read(&bytes).unwrap().unwrap();
        let tf_channel = summary
            .channels
            .values()
            .find(|c| c.topic == "/tf")
            .unwrap()
            .id;
        let mut corrupt = bytes.clone();
        let mut corrupted = 0;
        for chunk in &summary.chunk_indexes {
            if !chunk.message_index_offsets.contains_key(&tf_channel) {
                let start = chunk.compressed_data_offset().unwrap() as usize;
                for b in &mut corrupt[start..start + chunk.compressed_size as usize] {
                    *b ^= 0x5a;
                }
                corrupted += 1;
            }
        }
        assert!(corrupted >= 3, "the images should have chunks of their own");
        let corrupt_path = root.join("corrupt.mcap");
        std::fs::write(&corrupt_path, &corrupt).unwrap();
        let (tf_only, stats) = read_all(&corrupt_path, Some(&["/tf"]));
        assert_eq!(tf_only, read_all(&file, Some(&["/tf"])).0);
        assert!(stats.file_errors.is_empty(), "{stats:?}");
        let (_, stats) = read_all(&corrupt_path, None);
        assert_eq!(stats.file_errors.len(), 1, "{stats:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn garbage_and_missing_pieces_are_errors_naming_the_path() {
        let root = temp_dir("garbage");
        std::fs::create_dir_all(&root).unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for name in ["noise.mcap", "noise.db3"] {
            let path = root.join(name);
            std::fs::write(&path, &noise).unwrap();
            let err = BagReader::open(&path).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = BagReader::open(&root).unwrap_err(); // no metadata.yaml
        assert!(err.to_string().contains("metadata.yaml"), "{err}");
        std::fs::write(root.join("metadata.yaml"), "rosbag2_bagfile_information: {version: 9, storage_identifier: mcap, relative_file_paths: [gone.mcap]}\n").unwrap();
        let err = BagReader::open(&root).unwrap_err();
        assert!(err.to_string().contains("gone.mcap"), "{err}");
        assert!(BagReader::open(&root.join("nothing_here")).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
