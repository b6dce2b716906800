//! A rosbag2 bag (MCAP or sqlite3, through fusionrt-bag) as a graph source.
//!
//! Messages go into the graph in bag order (receive stamps across files), each stamped with its
//! header stamp (the receive stamp when the header's is zero). Topic roles come from the types
//! ([`BagRoles::discover`]): the PointCloud2 topic is the lidar (with several, the one with most
//! messages, then the first by name, and a warning); an Image or CompressedImage topic under
//! the same namespace as a CameraInfo topic is a camera (cameras numbered in CameraInfo topic
//! order; a raw Image is preferred to a CompressedImage); `/tf_static` gives the extrinsics;
//! the first Odometry topic gives the lidar's pose. An image topic without CameraInfo is not
//! used and is listed with its reason.
//!
//! Each camera's calibration ([`Event::CameraCalib`]) is sent once its CameraInfo, the lidar
//! frame (from the first sweep) and a `/tf_static` path from the lidar to the camera are known,
//! and again when either changes; it always comes before the sweep it is fused with.
//! Compressed images are decoded with [`fusionrt_camera::decode_compressed`]. A message that
//! cannot be used (malformed CDR, a PointCloud2 whose data length disagrees with its layout, a
//! corrupt JPEG, a sweep stamped before the previous one) becomes [`Event::Skipped`] with a
//! reason and is counted; the run goes on. A sweep is sent as soon as it is read: camera data
//! that the bag holds after a sweep is fused with the next one.
//!
//! The bag is read, decoded and its clouds converted on a named thread (`fusionrt-bag-read`)
//! one or two messages ahead of the graph, through a bounded channel: on a two-core machine
//! the lidar stage of one sweep runs while the next is decompressed and converted. The order of
//! messages, the state they set and the recorded inputs are those of a read on one thread.
//!
//! `--start-offset` and `--duration` select a window of receive stamps from the bag's first
//! message; state (TF, CameraInfo) before the window is still applied. With an [`InputTap`],
//! every message used inside the window is also handed, CDR bytes as read, to a recorder
//! (`replay --record-inputs`).

use fusionrt_bag::metadata::Compression;
use fusionrt_bag::msgs::Decoded;
use fusionrt_bag::msgs::normalize_type;
use fusionrt_bag::read::{BagInfo, StorageKind};
use fusionrt_bag::{BagError, BagReader, RawMessage, ReadStats};
use fusionrt_core::calib::ImageKind;
use fusionrt_core::image::{CameraInfo, Image};
use fusionrt_core::pointcloud2::{PointCloud2, PointCloud2Error};
use fusionrt_core::tf::TransformTree;
use fusionrt_core::{CameraCalib, PointCloud};
use fusionrt_runtime::{Event, Source, SourceError, SourceInfo, Stamped};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

const POINTCLOUD2: &str = "sensor_msgs/msg/PointCloud2";
const IMAGE: &str = "sensor_msgs/msg/Image";
const COMPRESSED_IMAGE: &str = "sensor_msgs/msg/CompressedImage";
const CAMERA_INFO: &str = "sensor_msgs/msg/CameraInfo";
const TF_MESSAGE: &str = "tf2_msgs/msg/TFMessage";
const ODOMETRY: &str = "nav_msgs/msg/Odometry";

/// Nominal lidar period when the bag does not tell, ns (10 Hz).
const DEFAULT_PERIOD_NS: i64 = 100_000_000;

/// A topic of the bag: name, type, message count (when known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BagTopic {
    /// Topic name.
    pub name: String,
    /// Type, `pkg/msg/Type`.
    pub type_name: String,
    /// Messages, from metadata.yaml or a scan.
    pub count: u64,
}

/// One camera: its image topic and its CameraInfo topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CameraTopics {
    /// Image or CompressedImage topic.
    pub image: String,
    /// True for CompressedImage.
    pub compressed: bool,
    /// CameraInfo topic.
    pub info: String,
}

/// What each topic is used for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BagRoles {
    /// The lidar's PointCloud2 topic.
    pub lidar: Option<String>,
    /// Cameras, in index order.
    pub cameras: Vec<CameraTopics>,
    /// `/tf_static` topics.
    pub tf_static: Vec<String>,
    /// The Odometry topic.
    pub odometry: Option<String>,
    /// Topics not used, with the reason (`topic: reason`).
    pub unused: BTreeMap<String, String>,
}

/// The namespace of a topic: everything before its last `/`.
fn namespace(topic: &str) -> &str {
    topic.rsplit_once('/').map_or("", |(ns, _)| ns)
}

impl BagRoles {
    /// Finds the roles from the topics' types (see the module doc). Deterministic: ties go to
    /// the first name in byte order.
    pub fn discover(topics: &[BagTopic]) -> Self {
        let mut sorted: Vec<&BagTopic> = topics.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let of_type = |t: &str| -> Vec<&BagTopic> {
            sorted
                .iter()
                .copied()
                .filter(|x| normalize_type(&x.type_name) == t)
                .collect()
        };
        let mut roles = BagRoles::default();
        let clouds = of_type(POINTCLOUD2);
        // Most messages first, then by name (the sort is stable).
        let mut by_count = clouds.clone();
        by_count.sort_by_key(|t| std::cmp::Reverse(t.count));
        if let Some(lidar) = by_count.first() {
            roles.lidar = Some(lidar.name.clone());
            for other in &by_count[1..] {
                roles.unused.insert(
                    other.name.clone(),
                    format!(
                        "another PointCloud2 topic ({}) is the lidar; choose with --topics",
                        lidar.name
                    ),
                );
            }
        }
        let images: Vec<&BagTopic> = sorted
            .iter()
            .copied()
            .filter(|x| matches!(normalize_type(&x.type_name), IMAGE | COMPRESSED_IMAGE))
            .collect();
        let mut used_images = BTreeSet::new();
        for info in of_type(CAMERA_INFO) {
            let ns = namespace(&info.name);
            let mut candidates: Vec<&BagTopic> = images
                .iter()
                .copied()
                .filter(|i| {
                    !used_images.contains(&i.name)
                        && i.name.starts_with(ns)
                        && i.name.as_bytes().get(ns.len()) == Some(&b'/')
                })
                .collect();
            // Raw before compressed, then by name.
            candidates.sort_by_key(|i| normalize_type(&i.type_name) == COMPRESSED_IMAGE);
            match candidates.first() {
                Some(image) => {
                    used_images.insert(image.name.clone());
                    roles.cameras.push(CameraTopics {
                        image: image.name.clone(),
                        compressed: normalize_type(&image.type_name) == COMPRESSED_IMAGE,
                        info: info.name.clone(),
                    });
                    for other in &candidates[1..] {
                        roles.unused.insert(
                            other.name.clone(),
                            format!("camera {ns} already uses {}", image.name),
                        );
                    }
                    used_images.extend(candidates[1..].iter().map(|c| c.name.clone()));
                }
                None => {
                    roles.unused.insert(
                        info.name.clone(),
                        "no Image or CompressedImage topic beside this CameraInfo".into(),
                    );
                }
            }
        }
        for image in images {
            if !used_images.contains(&image.name) {
                roles.unused.insert(
                    image.name.clone(),
                    "camera without CameraInfo (none in the same namespace)".into(),
                );
            }
        }
        for tf in of_type(TF_MESSAGE) {
            if tf.name.ends_with("tf_static") {
                roles.tf_static.push(tf.name.clone());
            } else {
                roles.unused.insert(
                    tf.name.clone(),
                    "dynamic /tf is not used (extrinsics come from /tf_static)".into(),
                );
            }
        }
        let odometry = of_type(ODOMETRY);
        if let Some(first) = odometry.first() {
            roles.odometry = Some(first.name.clone());
            for other in &odometry[1..] {
                roles.unused.insert(
                    other.name.clone(),
                    format!("another Odometry topic ({}) is used", first.name),
                );
            }
        }
        let used: BTreeSet<String> = roles.topics(true).into_iter().map(String::from).collect();
        for t in &sorted {
            if !used.contains(&t.name) && !roles.unused.contains_key(&t.name) {
                roles
                    .unused
                    .insert(t.name.clone(), format!("type {} is not used", t.type_name));
            }
        }
        roles
    }

    /// The topics to read (images and CameraInfo only `with_cameras`).
    pub fn topics(&self, with_cameras: bool) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        out.extend(self.lidar.as_deref());
        if with_cameras {
            for c in &self.cameras {
                out.push(&c.image);
                out.push(&c.info);
            }
        }
        out.extend(self.tf_static.iter().map(String::as_str));
        out.extend(self.odometry.as_deref());
        out
    }
}

/// A message handed to a recorder, as read from the bag.
#[derive(Clone, Debug)]
pub struct TappedMessage {
    /// Topic name (after `--remap`).
    pub topic: String,
    /// Type, `pkg/msg/Type`.
    pub type_name: String,
    /// Receive stamp, ns.
    pub stamp_ns: i64,
    /// CDR payload.
    pub data: Vec<u8>,
}

/// Messages the source used, waiting for a recorder (a sink drains it at each sweep).
pub type InputTap = Arc<Mutex<VecDeque<TappedMessage>>>;

/// Takes every message waiting in `tap`.
pub fn drain_tap(tap: &InputTap) -> Vec<TappedMessage> {
    tap.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect()
}

/// How to play a bag.
#[derive(Clone, Debug, Default)]
pub struct BagSourceOptions {
    /// Read only these topics (empty: all).
    pub topics: Vec<String>,
    /// Never read these topics.
    pub exclude_topics: Vec<String>,
    /// Topic renames `(from, to)` for recorded inputs.
    pub remap: Vec<(String, String)>,
    /// Start this long after the bag's first message, ns.
    pub start_offset_ns: i64,
    /// Play this long, ns (None: to the end).
    pub duration_ns: Option<i64>,
    /// Send camera images and calibrations.
    pub with_cameras: bool,
    /// Hand the messages used to a recorder.
    pub tap: Option<InputTap>,
}

/// Per-camera state between messages.
#[derive(Debug, Default)]
struct CameraState {
    info: Option<CameraInfo>,
    /// The calibration must be (re)computed and sent.
    dirty: bool,
    /// A failed lookup was reported (one warning per camera).
    warned: bool,
}

/// Topic to role, for dispatch.
#[derive(Clone, Copy, Debug)]
enum Role {
    Lidar,
    Image(usize),
    Info(usize),
    TfStatic,
    Odometry,
}

/// Messages read ahead of the graph (bounded: memory holds at most this many sweeps more).
const READ_AHEAD: usize = 2;

/// A message as the reading thread hands it over, with the reader's stats at that point.
struct ReadItem {
    /// The message, decoded; the data of a PointCloud2 is moved out into `cloud`.
    message: Result<Option<(RawMessage, Decoded)>, BagError>,
    /// A PointCloud2 converted on the reading thread.
    cloud: Option<Result<PointCloud, PointCloud2Error>>,
    stats: ReadStats,
}

fn to_cloud(msg: &PointCloud2) -> Result<PointCloud, PointCloud2Error> {
    let mut cloud = PointCloud::default();
    cloud.fill_from_pointcloud2(msg).map(|_| cloud)
}

/// The reading thread's side: reads until the end, an error that ends the bag, or until the
/// source hangs up. Without `keep_raw` (no input tap) each payload is moved into its decoded
/// message (a cloud's points are not copied), and a cloud's bytes are freed here once
/// converted: buffers freed on the thread that made them are reused by the next message, where
/// freeing them on the graph's thread handed the pages back to the kernel every sweep.
fn read_ahead(mut reader: BagReader, tx: SyncSender<ReadItem>, keep_raw: bool) {
    loop {
        let mut message = if keep_raw {
            reader.next_decoded()
        } else {
            reader.next_decoded_taking_payload()
        };
        let end = !matches!(message, Ok(Some(_)) | Err(BagError::Decode { .. }));
        let cloud = match &mut message {
            Ok(Some((_, Decoded::PointCloud2(msg)))) => {
                let converted = to_cloud(msg);
                msg.data = Vec::new(); // converted: free it now
                Some(converted)
            }
            _ => None,
        };
        let stats = reader.stats().clone();
        if tx
            .send(ReadItem {
                message,
                cloud,
                stats,
            })
            .is_err()
            || end
        {
            return;
        }
    }
}

/// The reading thread and the channel from it.
struct ReadAhead {
    rx: Option<Receiver<ReadItem>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReadAhead {
    fn spawn(path: &Path, reader: BagReader, keep_raw: bool) -> Result<Self, SourceError> {
        let (tx, rx) = sync_channel(READ_AHEAD);
        let thread = std::thread::Builder::new()
            .name("fusionrt-bag-read".into())
            .spawn(move || read_ahead(reader, tx, keep_raw))
            .map_err(|e| source_error(path, format!("cannot start the reading thread: {e}")))?;
        Ok(Self {
            rx: Some(rx),
            thread: Some(thread),
        })
    }

    /// The next item; `None` when the thread has ended without one (it panicked).
    fn next(&self) -> Option<ReadItem> {
        self.rx.as_ref().and_then(|rx| rx.recv().ok())
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        drop(self.rx.take()); // a thread blocked on a full channel sees the hang-up and ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A bag as a graph source; see the module doc.
pub struct BagSource {
    path: PathBuf,
    reader: ReadAhead,
    /// The reader's stats as of the last message taken.
    read_stats: ReadStats,
    options: BagSourceOptions,
    roles: BagRoles,
    role_of: BTreeMap<String, Role>,
    sweeps: Option<u64>,
    period_ns: i64,
    queue: VecDeque<Event>,
    tree: TransformTree,
    lidar_frame: Option<Arc<str>>,
    camera_frames: Vec<Arc<str>>,
    cameras: Vec<CameraState>,
    window_start_ns: Option<i64>,
    last_sweep_ns: i64,
    skipped: BTreeMap<&'static str, u64>,
    done: bool,
}

fn source_error(path: &Path, e: impl std::fmt::Display) -> SourceError {
    SourceError {
        source_name: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The topics of a bag: from metadata.yaml, else from a lone MCAP file's summary, else from a
/// scan of the file.
pub fn bag_topics(path: &Path) -> Result<Vec<BagTopic>, BagError> {
    let info = BagInfo::open(path)?;
    if let Some(meta) = &info.metadata {
        return Ok(meta
            .topics_with_message_count
            .iter()
            .map(|t| BagTopic {
                name: t.topic_metadata.name.clone(),
                type_name: t.topic_metadata.type_name.clone(),
                count: t.message_count,
            })
            .collect());
    }
    if info.storage == StorageKind::Mcap
        && info.compression == Compression::None
        && let Some(topics) = fusionrt_bag::read::mcap_topic_counts(path)?
    {
        return Ok(topics
            .into_iter()
            .map(|(t, count)| BagTopic {
                name: t.name,
                type_name: t.type_name,
                count,
            })
            .collect());
    }
    let mut reader = BagReader::open(path)?;
    let mut topics: BTreeMap<String, BagTopic> = BTreeMap::new();
    while let Some(m) = reader.next_message()? {
        topics
            .entry(m.topic.name.clone())
            .or_insert_with(|| BagTopic {
                name: m.topic.name.clone(),
                type_name: m.topic.type_name.clone(),
                count: 0,
            })
            .count += 1;
    }
    Ok(topics.into_values().collect())
}

impl BagSource {
    /// Opens the bag at `path` (a rosbag2 folder or a lone .mcap / .db3 file) and finds the
    /// topic roles among the topics `options` selects.
    pub fn open(path: &Path, options: BagSourceOptions) -> Result<Self, SourceError> {
        let all = bag_topics(path).map_err(|e| source_error(path, e))?;
        let selected: Vec<BagTopic> = all
            .iter()
            .filter(|t| options.topics.is_empty() || options.topics.contains(&t.name))
            .filter(|t| !options.exclude_topics.contains(&t.name))
            .cloned()
            .collect();
        for wanted in &options.topics {
            if !all.iter().any(|t| &t.name == wanted) {
                return Err(source_error(
                    path,
                    format!("--topics {wanted}: the bag has no such topic"),
                ));
            }
        }
        let roles = BagRoles::discover(&selected);
        for (topic, reason) in &roles.unused {
            tracing::warn!(topic = topic.as_str(), "not replayed: {reason}");
        }
        let mut role_of = BTreeMap::new();
        if let Some(l) = &roles.lidar {
            role_of.insert(l.clone(), Role::Lidar);
        }
        let cameras = if options.with_cameras {
            roles.cameras.len()
        } else {
            0
        };
        for (i, c) in roles.cameras.iter().take(cameras).enumerate() {
            role_of.insert(c.image.clone(), Role::Image(i));
            role_of.insert(c.info.clone(), Role::Info(i));
        }
        for t in &roles.tf_static {
            role_of.insert(t.clone(), Role::TfStatic);
        }
        if let Some(o) = &roles.odometry {
            role_of.insert(o.clone(), Role::Odometry);
        }
        let lidar_count = roles
            .lidar
            .as_ref()
            .and_then(|l| all.iter().find(|t| &t.name == l))
            .map(|t| t.count);
        let info = BagInfo::open(path).map_err(|e| source_error(path, e))?;
        let period_ns = match (&info.metadata, lidar_count) {
            (Some(meta), Some(n)) if n > 1 && meta.duration.nanoseconds > 0 => {
                (meta.duration.nanoseconds / (n as i64 - 1)).max(1)
            }
            _ => DEFAULT_PERIOD_NS,
        };
        let windowed = options.start_offset_ns > 0 || options.duration_ns.is_some();
        let reader = BagReader::open_topics(path, Some(role_of.keys().cloned().collect()))
            .map_err(|e| source_error(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: ReadAhead::spawn(path, reader, options.tap.is_some())?,
            read_stats: ReadStats::default(),
            roles,
            role_of,
            sweeps: if windowed { None } else { lidar_count },
            period_ns,
            queue: VecDeque::new(),
            tree: TransformTree::new(),
            lidar_frame: None,
            camera_frames: (0..cameras)
                .map(|i| Arc::from(format!("camera{i}")))
                .collect(),
            cameras: (0..cameras).map(|_| CameraState::default()).collect(),
            window_start_ns: None,
            last_sweep_ns: i64::MIN,
            skipped: BTreeMap::new(),
            done: false,
            options,
        })
    }

    /// The topic roles in use.
    pub fn roles(&self) -> &BagRoles {
        &self.roles
    }

    /// What the bag reader read and skipped (unknown types, unsupported content, bad files).
    pub fn read_stats(&self) -> &ReadStats {
        &self.read_stats
    }

    /// Messages this source turned into [`Event::Skipped`], by reason.
    pub fn skipped(&self) -> &BTreeMap<&'static str, u64> {
        &self.skipped
    }

    fn skip(&mut self, reason: &'static str, detail: String) {
        *self.skipped.entry(reason).or_insert(0) += 1;
        self.queue.push_back(Event::Skipped { reason, detail });
    }

    /// Sends every calibration that can be computed and is due.
    fn flush_calibs(&mut self) {
        let Some(lidar_frame) = self.lidar_frame.clone() else {
            return;
        };
        for i in 0..self.cameras.len() {
            let cam = &mut self.cameras[i];
            let Some(info) = cam.info.as_ref().filter(|_| cam.dirty) else {
                continue;
            };
            let topics = &self.roles.cameras[i];
            let camera_from_lidar = match self.tree.lookup(&info.frame_id, &lidar_frame) {
                Ok(t) => t,
                Err(e) => {
                    if !cam.warned {
                        tracing::warn!(
                            camera = topics.image.as_str(),
                            "camera not calibrated yet: {e}"
                        );
                        cam.warned = true;
                    }
                    continue;
                }
            };
            let kind = if topics.image.contains("rect") {
                ImageKind::Rectified
            } else {
                ImageKind::Raw
            };
            let name = format!("camera{i}");
            match CameraCalib::from_camera_info(&name, info, camera_from_lidar, kind) {
                Ok(calib) => {
                    cam.dirty = false;
                    self.queue
                        .push_back(Event::CameraCalib { camera: i, calib });
                }
                Err(e) => {
                    cam.dirty = false;
                    let detail = format!("{}: {}: {e}", self.path.display(), topics.info);
                    self.skip("camera_info_bad_input", detail);
                }
            }
        }
    }

    /// Queues camera `i`'s decoded image (its stamp already chosen) after any calibration it
    /// needs, and records the message it came from.
    fn push_image(&mut self, i: usize, seq: u64, image: Image, raw: RawMessage) {
        self.flush_calibs();
        let stamp_ns = image.stamp_ns;
        let frame = self.camera_frames[i].clone();
        self.tap(
            &raw.topic.name,
            &raw.topic.type_name,
            raw.stamp_ns,
            raw.data,
        );
        self.queue.push_back(Event::Image {
            camera: i,
            image: Arc::new(Stamped::new(stamp_ns, frame, seq, image)),
        });
    }

    fn tap(&self, topic: &str, type_name: &str, stamp_ns: i64, data: Vec<u8>) {
        if let Some(tap) = &self.options.tap {
            let topic = self
                .options
                .remap
                .iter()
                .find(|(from, _)| from == topic)
                .map_or(topic, |(_, to)| to.as_str());
            tap.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(TappedMessage {
                    topic: topic.to_string(),
                    type_name: type_name.to_string(),
                    stamp_ns,
                    data,
                });
        }
    }

    /// Reads the next message and queues what it gives; false at the end of the bag.
    fn read_one(&mut self) -> Result<bool, SourceError> {
        let Some(item) = self.reader.next() else {
            return Err(source_error(&self.path, "the reading thread failed"));
        };
        self.read_stats = item.stats;
        let (raw, decoded) = match item.message {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(false),
            Err(e @ BagError::Decode { .. }) => {
                let reason = match &e {
                    BagError::Decode { topic, .. } => match self.role_of.get(topic) {
                        Some(Role::Lidar) => "lidar_bad_input",
                        Some(Role::Image(_)) => "image_bad_input",
                        _ => "state_bad_input",
                    },
                    _ => "state_bad_input",
                };
                self.skip(reason, e.to_string());
                return Ok(true);
            }
            Err(e) => return Err(source_error(&self.path, e)),
        };
        let start = *self.window_start_ns.get_or_insert(raw.stamp_ns);
        let offset_ns = raw.stamp_ns - start;
        if self
            .options
            .duration_ns
            .is_some_and(|d| offset_ns >= self.options.start_offset_ns.saturating_add(d))
        {
            return Ok(false);
        }
        let in_window = offset_ns >= self.options.start_offset_ns;
        let Some(role) = self.role_of.get(&raw.topic.name).copied() else {
            return Ok(true);
        };
        let receive_ns = raw.stamp_ns;
        let stamp_or_receive = |header_ns: i64| {
            if header_ns == 0 {
                receive_ns
            } else {
                header_ns
            }
        };
        let seq = raw.index_on_topic;
        let place = format!(
            "{}: topic {}, message {seq}",
            self.path.display(),
            raw.topic.name
        );
        let where_ = || place.clone();
        match (role, decoded) {
            (Role::TfStatic, Decoded::Tf(tf)) => {
                let mut changed = false;
                for t in &tf.transforms {
                    match self.tree.insert(&t.transform) {
                        Ok(()) => changed = true,
                        Err(e) => {
                            let detail = format!("{}: {e}", where_());
                            self.skip("tf_bad_input", detail);
                        }
                    }
                }
                if changed {
                    for cam in &mut self.cameras {
                        cam.dirty = cam.info.is_some();
                    }
                }
            }
            (Role::Info(i), Decoded::CameraInfo(info)) => {
                let cam = &mut self.cameras[i];
                let same = cam.info.as_ref().is_some_and(|old| {
                    (
                        old.width,
                        old.height,
                        &old.d,
                        old.k,
                        old.r,
                        old.p,
                        &old.frame_id,
                    ) == (
                        info.width,
                        info.height,
                        &info.d,
                        info.k,
                        info.r,
                        info.p,
                        &info.frame_id,
                    )
                });
                if !same {
                    cam.info = Some(*info);
                    cam.dirty = true;
                    cam.warned = false;
                }
            }
            (Role::Odometry, Decoded::Odometry(odom)) if in_window => {
                let Some(lidar_frame) = self.lidar_frame.clone() else {
                    return Ok(true); // no sweep yet: nothing to place
                };
                let pose = odom
                    .frame_from_child
                    .to_isometry(&odom.child_frame)
                    .map_err(|e| e.to_string())
                    .and_then(|world_from_child| {
                        self.tree
                            .lookup(&odom.child_frame, &lidar_frame)
                            .map(|child_from_lidar| world_from_child * child_from_lidar)
                            .map_err(|e| e.to_string())
                    });
                match pose {
                    Ok(pose) => self.queue.push_back(Event::Odometry(Stamped::new(
                        stamp_or_receive(odom.stamp_ns),
                        Arc::from("world"),
                        seq,
                        pose,
                    ))),
                    Err(e) => {
                        let detail = format!("{}: {e}", where_());
                        self.skip("odometry_bad_input", detail);
                    }
                }
            }
            (Role::Lidar, Decoded::PointCloud2(msg)) if in_window => {
                let stamp_ns = stamp_or_receive(msg.stamp_ns);
                if stamp_ns < self.last_sweep_ns {
                    let detail = format!(
                        "{}: stamp {stamp_ns} ns is before the previous sweep's {} ns",
                        where_(),
                        self.last_sweep_ns
                    );
                    self.skip("lidar_out_of_order", detail);
                    return Ok(true);
                }
                let mut cloud = match item.cloud.unwrap_or_else(|| to_cloud(&msg)) {
                    Ok(cloud) => cloud,
                    Err(e) => {
                        let detail = format!("{}: {e}", where_());
                        self.skip("lidar_bad_input", detail);
                        return Ok(true);
                    }
                };
                cloud.stamp_ns = stamp_ns;
                cloud.frame_id.clone_from(&msg.frame_id);
                let frame: Arc<str> = match &self.lidar_frame {
                    Some(f) if **f == *msg.frame_id => f.clone(),
                    _ => {
                        let f: Arc<str> = Arc::from(msg.frame_id.as_str());
                        self.lidar_frame = Some(f.clone());
                        for cam in &mut self.cameras {
                            cam.dirty = cam.info.is_some();
                        }
                        f
                    }
                };
                self.last_sweep_ns = stamp_ns;
                self.flush_calibs();
                self.tap(
                    &raw.topic.name,
                    &raw.topic.type_name,
                    raw.stamp_ns,
                    raw.data,
                );
                self.queue.push_back(Event::Lidar {
                    cloud: Arc::new(Stamped::new(stamp_ns, frame, seq, cloud)),
                    truth: None,
                });
                return Ok(true);
            }
            (Role::Image(i), Decoded::Image(mut image)) if in_window => {
                image.stamp_ns = stamp_or_receive(image.stamp_ns);
                self.push_image(i, seq, image, raw);
                return Ok(true);
            }
            (Role::Image(i), Decoded::CompressedImage(c)) if in_window => {
                let stamp_ns = stamp_or_receive(c.stamp_ns);
                match fusionrt_camera::decode_compressed(&c.format, &c.data, stamp_ns, &c.frame_id)
                {
                    Ok(image) => self.push_image(i, seq, image, raw),
                    Err(e) => {
                        let detail = format!("{}: {e}", where_());
                        self.skip("image_bad_input", detail);
                    }
                }
                return Ok(true);
            }
            _ => return Ok(true),
        }
        // State is recorded even before the window: the recording needs its extrinsics.
        if in_window || matches!(role, Role::TfStatic) {
            self.tap(
                &raw.topic.name,
                &raw.topic.type_name,
                raw.stamp_ns,
                raw.data,
            );
        }
        Ok(true)
    }
}

impl Source for BagSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: self.path.display().to_string(),
            cameras: self.cameras.len(),
            sweeps: self.sweeps,
            period_ns: self.period_ns,
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
        while self.queue.is_empty() && !self.done {
            if !self.read_one()? {
                self.done = true;
            }
        }
        Ok(self.queue.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, type_name: &str, count: u64) -> BagTopic {
        BagTopic {
            name: name.into(),
            type_name: type_name.into(),
            count,
        }
    }

    #[test]
    fn roles_come_from_types_and_namespaces() {
        let topics = [
            topic("/sensing/lidar/top/pointcloud", POINTCLOUD2, 100),
            topic("/sensing/lidar/left/pointcloud", POINTCLOUD2, 50),
            topic("/cam/front/image_raw", IMAGE, 100),
            topic("/cam/front/image_raw/compressed", COMPRESSED_IMAGE, 100),
            topic("/cam/front/camera_info", CAMERA_INFO, 100),
            topic("/cam/back/image/compressed", COMPRESSED_IMAGE, 100),
            topic("/cam/back/camera_info", CAMERA_INFO, 100),
            topic("/cam/side/image_raw", IMAGE, 100),
            topic("/tf_static", TF_MESSAGE, 1),
            topic("/tf", TF_MESSAGE, 1000),
            topic("/odom", "nav_msgs/Odometry", 1000),
            topic("/velodyne_packets", "velodyne_msgs/msg/VelodyneScan", 100),
        ];
        let roles = BagRoles::discover(&topics);
        assert_eq!(
            roles.lidar.as_deref(),
            Some("/sensing/lidar/top/pointcloud")
        );
        assert_eq!(
            roles.cameras,
            [
                CameraTopics {
                    image: "/cam/back/image/compressed".into(),
                    compressed: true,
                    info: "/cam/back/camera_info".into()
                },
                CameraTopics {
                    image: "/cam/front/image_raw".into(),
                    compressed: false,
                    info: "/cam/front/camera_info".into()
                },
            ]
        );
        assert_eq!(roles.tf_static, ["/tf_static"]);
        assert_eq!(roles.odometry.as_deref(), Some("/odom"));
        let unused: Vec<&str> = roles.unused.keys().map(String::as_str).collect();
        assert_eq!(
            unused,
            [
                "/cam/front/image_raw/compressed",
                "/cam/side/image_raw",
                "/sensing/lidar/left/pointcloud",
                "/tf",
                "/velodyne_packets"
            ]
        );
        assert!(roles.unused["/cam/side/image_raw"].contains("without CameraInfo"));
    }

    #[test]
    fn missing_bags_are_source_errors() {
        let err = BagSource::open(Path::new("/nonexistent/bag"), BagSourceOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/bag"), "{err}");
    }
}
