//! The server and the sink: a Foxglove WebSocket server (`foxglove.websocket.v1`) with one
//! channel per output, and the graph [`Sink`] that publishes every sweep on them.
//!
//! Each channel keeps its last message and sends it to a client when it subscribes, so a view
//! opened mid-run, or after the run with `hold`, shows the latest sweep at once. Publishing
//! never waits for a client: the foxglove crate queues up to 1024 messages per client and drops
//! the oldest when a client falls behind.

use crate::convert;
use foxglove::websocket::{ChannelView, Client, ServerListener};
use foxglove::{Channel, Context, Encode, SinkId, WebSocketServerHandle};
use fusionrt_runtime::{Output, Results, Sink, SinkError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The sweep (`foxglove.PointCloud`, lidar frame).
pub const POINTS_TOPIC: &str = "/fusionrt/lidar/points";
/// The published tracks (`foxglove.SceneUpdate`).
pub const TRACKS_TOPIC: &str = "/fusionrt/tracks";
/// The fused objects the tracker was given (`foxglove.SceneUpdate`).
pub const OBJECTS_TOPIC: &str = "/fusionrt/objects";
/// The lidar's pose in the world (`foxglove.FrameTransforms`), with odometry only.
pub const TF_TOPIC: &str = "/tf";

/// Camera `i`'s images (`foxglove.RawImage`).
pub fn image_topic(camera: usize) -> String {
    format!("/fusionrt/camera{camera}/image")
}

/// Camera `i`'s 2D detections (`foxglove.ImageAnnotations`).
pub fn detections_topic(camera: usize) -> String {
    format!("/fusionrt/camera{camera}/detections")
}

/// How often waits look at the stop flag (Ctrl-C).
const STOP_POLL: Duration = Duration::from_millis(100);

/// Why the view could not start.
#[derive(Debug, Error)]
pub enum LiveError {
    /// The address is not `HOST:PORT`.
    #[error("bad Foxglove address `{0}`: expected HOST:PORT, e.g. 127.0.0.1:8765")]
    BadAddress(String),
    /// The server could not listen there.
    #[error("cannot serve Foxglove on {addr}: {source}")]
    Bind {
        /// `HOST:PORT`.
        addr: String,
        /// What the server said.
        source: foxglove::FoxgloveError,
    },
}

/// A `HOST:PORT` address, checked: a host name or IP (IPv6 in brackets) and a port number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (0: any free port).
    pub port: u16,
}

impl std::str::FromStr for LiveAddr {
    type Err = LiveError;

    fn from_str(s: &str) -> Result<Self, LiveError> {
        let bad = || LiveError::BadAddress(s.to_string());
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
            Some(_) => return Err(bad()),
            None => host,
        };
        let host_ok = !host.is_empty()
            && (host.parse::<std::net::IpAddr>().is_ok()
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        if !host_ok {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for LiveAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Which camera channels the view has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveLayout {
    /// Cameras of the source (one detections channel each).
    pub cameras: usize,
    /// The run passes camera images (the camera model runs on them): one image channel each.
    pub images: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Log time of a message: its sensor stamp (stamps before 1970 as 0).
fn log_time(stamp_ns: i64) -> u64 {
    stamp_ns.max(0).unsigned_abs()
}

/// A channel that remembers its last message for clients that subscribe later.
struct Latched<T: Encode> {
    channel: Channel<T>,
    last: Mutex<Option<(T, u64)>>,
}

impl<T: Encode> Latched<T> {
    fn new(ctx: &Arc<Context>, topic: &str) -> Arc<Self> {
        Arc::new(Self {
            channel: ctx.channel_builder(topic).build(),
            last: Mutex::new(None),
        })
    }

    /// Sends `msg` to every subscriber and keeps it. The lock is held while sending, so a
    /// client subscribing meanwhile gets the previous message first, never after this one.
    fn log(&self, msg: T, stamp_ns: i64) {
        let mut last = lock(&self.last);
        let time = log_time(stamp_ns);
        self.channel.log_with_time(&msg, time);
        *last = Some((msg, time));
    }
}

/// Sends a channel's last message to one client.
trait Replay: Send + Sync {
    fn replay_to(&self, sink: SinkId);
}

impl<T: Encode + Send + Sync> Replay for Latched<T> {
    fn replay_to(&self, sink: SinkId) {
        if let Some((msg, time)) = lock(&self.last).as_ref() {
            self.channel.log_with_meta_to_sink(
                msg,
                foxglove::PartialMetadata::with_log_time(*time),
                Some(sink),
            );
        }
    }
}

/// One camera's channels.
struct CameraChannels {
    image: Option<Arc<Latched<foxglove::messages::RawImage>>>,
    detections: Arc<Latched<foxglove::messages::ImageAnnotations>>,
}

/// Every channel of the view.
struct Channels {
    points: Arc<Latched<foxglove::messages::PointCloud>>,
    tracks: Arc<Latched<foxglove::messages::SceneUpdate>>,
    objects: Arc<Latched<foxglove::messages::SceneUpdate>>,
    tf: Arc<Latched<foxglove::messages::FrameTransforms>>,
    cameras: Vec<CameraChannels>,
}

/// Answers subscriptions: the channel's last message, and the news that a client is watching.
struct Listener {
    replay: BTreeMap<u64, Arc<dyn Replay>>,
    subscribed: Mutex<bool>,
    wake: Condvar,
}

impl ServerListener for Listener {
    fn on_subscribe(&self, client: Client, channel: ChannelView) {
        let replay = self.replay.get(&u64::from(channel.id()));
        if let (Some(replay), Some(sink)) = (replay, client.sink_id()) {
            replay.replay_to(sink);
        }
        *lock(&self.subscribed) = true;
        self.wake.notify_all();
    }
}

/// The running server. Dropping it stops the server.
pub struct LiveView {
    /// Binds channels to the server; they are disconnected when it goes.
    _context: Arc<Context>,
    addr: LiveAddr,
    channels: Arc<Channels>,
    listener: Arc<Listener>,
    handle: Option<WebSocketServerHandle>,
}

impl LiveView {
    /// Starts serving on `addr` (port 0: any free port) with the channels of `layout`.
    pub fn start(addr: &LiveAddr, layout: LiveLayout) -> Result<Self, LiveError> {
        let ctx = Context::new();
        let cameras = (0..layout.cameras)
            .map(|i| CameraChannels {
                image: layout.images.then(|| Latched::new(&ctx, &image_topic(i))),
                detections: Latched::new(&ctx, &detections_topic(i)),
            })
            .collect();
        let channels = Arc::new(Channels {
            points: Latched::new(&ctx, POINTS_TOPIC),
            tracks: Latched::new(&ctx, TRACKS_TOPIC),
            objects: Latched::new(&ctx, OBJECTS_TOPIC),
            tf: Latched::new(&ctx, TF_TOPIC),
            cameras,
        });
        let mut replay: BTreeMap<u64, Arc<dyn Replay>> = BTreeMap::new();
        fn add<T: Encode + Send + Sync + 'static>(
            map: &mut BTreeMap<u64, Arc<dyn Replay>>,
            latched: &Arc<Latched<T>>,
        ) {
            map.insert(u64::from(latched.channel.id()), latched.clone());
        }
        add(&mut replay, &channels.points);
        add(&mut replay, &channels.tracks);
        add(&mut replay, &channels.objects);
        add(&mut replay, &channels.tf);
        for c in &channels.cameras {
            if let Some(image) = &c.image {
                add(&mut replay, image);
            }
            add(&mut replay, &c.detections);
        }
        let listener = Arc::new(Listener {
            replay,
            subscribed: Mutex::new(false),
            wake: Condvar::new(),
        });
        let handle = ctx
            .websocket_server()
            .name("fusionrt")
            .bind(addr.host.clone(), addr.port)
            .listener(listener.clone())
            .start_blocking()
            .map_err(|source| LiveError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = LiveAddr {
            host: addr.host.clone(),
            port: handle.port(),
        };
        Ok(Self {
            _context: ctx,
            addr,
            channels,
            listener,
            handle: Some(handle),
        })
    }

    /// Where clients connect: `ws://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The sink that publishes each sweep on the view. With `pace_rate`, it publishes sweeps
    /// at that factor of their sensor rate, holding a run that is faster back (the
    /// deterministic executor), so a person can watch it; results do not change.
    pub fn sink(&self, pace_rate: Option<f64>) -> LiveSink {
        LiveSink {
            channels: self.channels.clone(),
            last_image_ns: vec![None; self.channels.cameras.len()],
            last_frame_ns: vec![None; self.channels.cameras.len()],
            pace: pace_rate.map(|rate| Pace { rate, start: None }),
        }
    }

    /// Waits until a client subscribes to a channel, or `stop` is set.
    pub fn wait_for_subscriber(&self, stop: &AtomicBool) {
        let mut subscribed = lock(&self.listener.subscribed);
        while !*subscribed {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            subscribed = self
                .listener
                .wake
                .wait_timeout(subscribed, STOP_POLL)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
    }

    /// Keeps serving until `stop` is set (Ctrl-C).
    pub fn hold(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(STOP_POLL);
        }
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop().wait_blocking();
        }
    }
}

/// Publishes every sweep on the view; see the crate doc for what goes where. Adds nothing to
/// the report: the run's results are the same with and without the view.
pub struct LiveSink {
    channels: Arc<Channels>,
    last_image_ns: Vec<Option<i64>>,
    last_frame_ns: Vec<Option<i64>>,
    pace: Option<Pace>,
}

/// Publishing at a factor of sensor rate.
struct Pace {
    rate: f64,
    /// Wall time and stamp of the first sweep.
    start: Option<(Instant, i64)>,
}

impl Pace {
    /// Sleeps until the wall clock reaches `stamp_ns` on the paced time line.
    fn wait_for(&mut self, stamp_ns: i64) {
        let (wall0, stamp0) = *self.start.get_or_insert((Instant::now(), stamp_ns));
        let data_s = (stamp_ns - stamp0).max(0) as f64 * 1e-9;
        let due = wall0 + Duration::from_secs_f64(data_s / self.rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

impl Sink for LiveSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let stamp = output.stamp_ns;
        if let Some(pace) = &mut self.pace {
            pace.wait_for(stamp);
        }
        let c = &self.channels;
        let cloud = &output.cloud;
        if let Some(world_from_lidar) = &output.world_from_lidar {
            c.tf.log(
                convert::frame_transforms(
                    stamp,
                    &output.frame_id,
                    &cloud.frame_id,
                    world_from_lidar,
                ),
                stamp,
            );
        }
        c.points.log(
            convert::point_cloud(cloud.stamp_ns, &cloud.frame_id, &cloud.data),
            cloud.stamp_ns,
        );
        c.objects.log(
            convert::objects_scene(stamp, &output.frame_id, &output.fused),
            stamp,
        );
        c.tracks.log(
            convert::tracks_scene(stamp, &output.frame_id, &output.tracks),
            stamp,
        );
        for (i, camera) in c.cameras.iter().enumerate() {
            if let (Some(channel), Some(Some(image))) = (&camera.image, output.images.get(i))
                && self.last_image_ns[i] != Some(image.stamp_ns)
            {
                self.last_image_ns[i] = Some(image.stamp_ns);
                channel.log(
                    convert::raw_image(image.stamp_ns, &image.frame_id, &image.data),
                    image.stamp_ns,
                );
            }
            if let Some(frame) = convert::newest_frame(&output.camera_frames, i)
                && self.last_frame_ns[i].is_none_or(|last| frame.stamp_ns > last)
            {
                self.last_frame_ns[i] = Some(frame.stamp_ns);
                camera
                    .detections
                    .log(convert::image_annotations(frame), frame.stamp_ns);
            }
        }
        Ok(())
    }

    fn finish(&mut self, _results: &mut Results) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_colon_port() {
        let a: LiveAddr = "127.0.0.1:8765".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 8765));
        let a: LiveAddr = "localhost:0".parse().unwrap();
        assert_eq!(a.to_string(), "localhost:0");
        let a: LiveAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(
            (a.host.as_str(), a.to_string()),
            ("::1", "[::1]:9000".into())
        );
        for bad in [
            "8765",
            "127.0.0.1",
            ":8765",
            "host:port",
            "h:70000",
            "a b:1",
            "[x]:1",
        ] {
            assert!(bad.parse::<LiveAddr>().is_err(), "{bad}");
        }
    }
}
