//! End-to-end tests of the live Foxglove view (`--foxglove` on `fusionrt sim`): a WebSocket
//! client speaking the Foxglove protocol (subprotocol `foxglove.sdk.v1`, the `foxglove`
//! crate's name for the `foxglove.websocket.v1` messages) connects, checks the
//! advertised channels and schemas, subscribes and decodes the messages against the run's own
//! `tracks.jsonl`; the view changes no other output; `--foxglove-hold` serves the last sweep
//! until Ctrl-C; bad addresses are bad input.

// Test helpers outside `#[test]` functions: a failed setup step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{assert_bad_input, fusionrt, scratch};
use foxglove::Decode;
use foxglove::messages::{FrameTransforms, ImageAnnotations, PointCloud, RawImage, SceneUpdate};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// Every message the test waits for comes within this.
const PATIENCE: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `fusionrt` with `args`; its stderr lines arrive on the returned channel.
fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fusionrt"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // The command writes a few lines: far fewer than the channel holds.
    let (tx, rx) = mpsc::sync_channel(1024);
    std::thread::Builder::new()
        .name("fusionrt-stderr".into())
        .spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        })
        .unwrap();
    (child, rx)
}

/// Starts `fusionrt ARGS --foxglove` on a free port, waits for its stderr line containing
/// `ready`, and connects a client; the rest of its stderr arrives on the returned channel.
fn spawn_with_view(args: &[&str], ready: &str) -> (Child, mpsc::Receiver<String>, Client) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut all = args.to_vec();
    all.extend(["--foxglove", "--foxglove-addr", &addr]);
    let (child, lines) = spawn(&all);
    wait_for_line(&lines, ready);
    (child, lines, Client::connect(port))
}

/// Waits for a stderr line containing `needle`; returns the lines seen.
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no stderr line with `{needle}`; saw: {seen:?}");
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("fusionrt did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An advertised channel.
#[derive(Debug)]
struct ChannelAd {
    topic: String,
    schema_name: String,
}

/// A Foxglove WebSocket client.
struct Client {
    ws: WebSocket<TcpStream>,
    channels: BTreeMap<u64, ChannelAd>,
    server_name: Option<String>,
}

impl Client {
    /// Connects (retrying while the server starts) with the Foxglove subprotocol, as the
    /// Foxglove app does.
    fn connect(port: u16) -> Self {
        let deadline = Instant::now() + PATIENCE;
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("cannot connect: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut request = format!("ws://127.0.0.1:{port}")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "foxglove.sdk.v1".parse().unwrap());
        let (ws, response) = tungstenite::client(request, stream).unwrap();
        assert_eq!(
            response.headers()["Sec-WebSocket-Protocol"],
            "foxglove.sdk.v1"
        );
        Self {
            ws,
            channels: BTreeMap::new(),
            server_name: None,
        }
    }

    /// The next message; None when the server closed the connection or nothing came in time.
    fn next(&mut self, deadline: Instant) -> Option<Message> {
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    self.on_text(&text);
                    return Some(Message::Text(text));
                }
                Ok(Message::Close(_)) => return None,
                Ok(m) => return Some(m),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
        None
    }

    fn on_text(&mut self, text: &str) {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        match json["op"].as_str() {
            Some("serverInfo") => self.server_name = json["name"].as_str().map(String::from),
            Some("advertise") => {
                for c in json["channels"].as_array().unwrap() {
                    assert_eq!(c["encoding"], "protobuf", "{c}");
                    assert_eq!(c["schemaEncoding"], "protobuf", "{c}");
                    assert!(!c["schema"].as_str().unwrap().is_empty(), "{c}");
                    self.channels.insert(
                        c["id"].as_u64().unwrap(),
                        ChannelAd {
                            topic: c["topic"].as_str().unwrap().to_string(),
                            schema_name: c["schemaName"].as_str().unwrap().to_string(),
                        },
                    );
                }
            }
            _ => {}
        }
    }

    /// Reads until `topics` are all advertised; returns them as topic -> schema name.
    fn wait_for_channels(&mut self, topics: &[&str]) -> BTreeMap<String, String> {
        let deadline = Instant::now() + PATIENCE;
        let advertised = |c: &Self| {
            topics
                .iter()
                .all(|t| c.channels.values().any(|ad| ad.topic == *t))
        };
        while !advertised(self) {
            assert!(
                self.next(deadline).is_some(),
                "not advertised: {topics:?}; got {:?}",
                self.channels
            );
        }
        assert!(self.server_name.is_some(), "no serverInfo");
        self.channels
            .values()
            .map(|ad| (ad.topic.clone(), ad.schema_name.clone()))
            .collect()
    }

    /// Subscribes to the channels of `topics`, subscription id = channel id.
    fn subscribe(&mut self, topics: &[&str]) {
        let subscriptions: Vec<serde_json::Value> = self
            .channels
            .iter()
            .filter(|(_, ad)| topics.contains(&ad.topic.as_str()))
            .map(|(id, _)| serde_json::json!({"id": id, "channelId": id}))
            .collect();
        assert_eq!(subscriptions.len(), topics.len());
        let op = serde_json::json!({"op": "subscribe", "subscriptions": subscriptions});
        self.ws.send(Message::text(op.to_string())).unwrap();
    }

    /// The next message data: (topic, log time ns, payload); None at the end.
    fn next_data(&mut self, deadline: Instant) -> Option<(String, u64, Vec<u8>)> {
        loop {
            if let Message::Binary(b) = self.next(deadline)? {
                assert_eq!(b[0], 1, "opcode: message data");
                let subscription = u32::from_le_bytes(b[1..5].try_into().unwrap());
                let log_time = u64::from_le_bytes(b[5..13].try_into().unwrap());
                let topic = self.channels[&u64::from(subscription)].topic.clone();
                return Some((topic, log_time, b[13..].to_vec()));
            }
        }
    }
}

/// Sweep stamp -> number of tracks, from tracks.jsonl.
fn tracks_per_stamp(dir: &Path) -> BTreeMap<u64, usize> {
    std::fs::read_to_string(dir.join("tracks.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["stamp_ns"].as_u64().unwrap(),
                v["tracks"].as_array().unwrap().len(),
            )
        })
        .collect()
}

fn stamp_ns(t: Option<foxglove::messages::Timestamp>) -> u64 {
    t.unwrap().total_nanos()
}

const SIM_TOPICS: [&str; 5] = [
    "/fusionrt/lidar/points",
    "/fusionrt/tracks",
    "/fusionrt/objects",
    "/tf",
    "/fusionrt/camera0/detections",
];

#[test]
fn sim_streams_points_boxes_tracks_and_2d_boxes_to_a_subscribed_client() {
    let dir = scratch("foxglove-live");
    let (mut child, _lines, mut client) = spawn_with_view(
        &[
            "sim",
            "--frames",
            "30",
            "--out",
            dir.to_str().unwrap(),
            "--foxglove-wait-client",
            "--foxglove-rate",
            "3",
        ],
        "waiting for a client",
    );
    let subscribed = Instant::now();
    let schemas = client.wait_for_channels(&SIM_TOPICS);
    for (topic, schema) in [
        ("/fusionrt/lidar/points", "foxglove.PointCloud"),
        ("/fusionrt/tracks", "foxglove.SceneUpdate"),
        ("/fusionrt/objects", "foxglove.SceneUpdate"),
        ("/tf", "foxglove.FrameTransforms"),
        ("/fusionrt/camera0/detections", "foxglove.ImageAnnotations"),
    ] {
        assert_eq!(schemas[topic], schema, "{topic}");
    }
    assert!(
        !schemas.keys().any(|t| t.ends_with("/image")),
        "the simulator has no pixels: {schemas:?}"
    );
    client.subscribe(&SIM_TOPICS);

    let deadline = Instant::now() + PATIENCE;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut track_sets = Vec::new();
    let mut lidar_frame = None;
    let mut tf_children = Vec::new();
    while let Some((topic, log_time, payload)) = client.next_data(deadline) {
        *counts.entry(topic.clone()).or_default() += 1;
        match topic.as_str() {
            "/fusionrt/lidar/points" => {
                let cloud = PointCloud::decode(payload.as_slice()).unwrap();
                assert_eq!(stamp_ns(cloud.timestamp), log_time);
                let stride = cloud.point_stride as usize;
                assert!(stride == 12 || stride == 16, "stride {stride}");
                assert_eq!(cloud.data.len() % stride, 0);
                let points = cloud.data.len() / stride;
                assert!(points > 1000, "{points} points");
                for p in cloud.data.chunks_exact(stride) {
                    let xyz: Vec<f32> = (0..3)
                        .map(|k| f32::from_le_bytes(p[4 * k..4 * k + 4].try_into().unwrap()))
                        .collect();
                    let range = xyz.iter().map(|c| c * c).sum::<f32>().sqrt();
                    assert!(range.is_finite() && range < 250.0, "{xyz:?}");
                }
                lidar_frame = Some(cloud.frame_id);
            }
            "/fusionrt/tracks" | "/fusionrt/objects" => {
                let scene = SceneUpdate::decode(payload.as_slice()).unwrap();
                assert_eq!(scene.deletions.len(), 1, "old entities go first");
                for e in &scene.entities {
                    assert_eq!(stamp_ns(e.timestamp), log_time);
                    assert_eq!((e.cubes.len(), e.texts.len()), (1, 1), "{e:?}");
                    assert_eq!(e.frame_id, "world");
                }
                if topic == "/fusionrt/tracks" {
                    track_sets.push((log_time, scene.entities.len()));
                }
            }
            "/tf" => {
                let tf = FrameTransforms::decode(payload.as_slice()).unwrap();
                assert_eq!(tf.transforms.len(), 1);
                assert_eq!(tf.transforms[0].parent_frame_id, "world");
                tf_children.push(tf.transforms[0].child_frame_id.clone());
            }
            _ => {
                let a = ImageAnnotations::decode(payload.as_slice()).unwrap();
                assert_eq!(stamp_ns(a.timestamp), log_time);
                assert_eq!(a.points.len(), a.texts.len());
                assert!(a.points.iter().all(|p| p.points.len() == 4));
            }
        }
    }
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
    // 30 sweeps 0.1 s apart at 3x sensor rate: 29 periods take at least 0.97 s.
    let paced = subscribed.elapsed();
    assert!(paced > Duration::from_millis(960), "{paced:?}");
    for topic in SIM_TOPICS {
        assert!(
            counts.get(topic).is_some_and(|&n| n > 0),
            "{topic}: {counts:?}"
        );
    }

    let lidar_frame = lidar_frame.unwrap();
    assert!(
        tf_children.iter().all(|c| *c == lidar_frame),
        "{tf_children:?}"
    );

    // Every track set seen equals the one tracks.jsonl has for that sweep.
    let expected = tracks_per_stamp(&dir);
    assert!(track_sets.len() >= 10, "{} track sets", track_sets.len());
    assert!(track_sets.iter().any(|&(_, n)| n > 0), "no tracks at all");
    for (stamp, n) in &track_sets {
        assert_eq!(expected.get(stamp), Some(n), "tracks at {stamp}");
    }

    // The view changes no other output.
    let plain = scratch("foxglove-plain");
    let out = fusionrt(&["sim", "--frames", "30", "--out", plain.to_str().unwrap()]);
    assert!(out.status.success());
    let read = |d: &Path| std::fs::read(d.join("tracks.jsonl")).unwrap();
    assert_eq!(
        read(&dir),
        read(&plain),
        "tracks.jsonl differs with --foxglove"
    );
    let results = |d: &Path| {
        let text = std::fs::read_to_string(d.join("report.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["results"].clone()
    };
    assert_eq!(results(&dir), results(&plain));
}

#[test]
fn hold_serves_the_last_sweep_until_ctrl_c() {
    let dir = scratch("foxglove-hold");
    let (mut child, lines, mut client) = spawn_with_view(
        &[
            "sim",
            "--frames",
            "8",
            "--out",
            dir.to_str().unwrap(),
            "--foxglove-hold",
        ],
        "run finished; serving its last sweep",
    );
    client.wait_for_channels(&["/fusionrt/tracks"]);
    client.subscribe(&["/fusionrt/tracks"]);
    let (_, log_time, payload) = client
        .next_data(Instant::now() + PATIENCE)
        .expect("the last track set, sent on subscribing");
    let scene = SceneUpdate::decode(payload.as_slice()).unwrap();
    let expected = tracks_per_stamp(&dir);
    let (&last_stamp, &last_count) = expected.last_key_value().unwrap();
    assert_eq!((log_time, scene.entities.len()), (last_stamp, last_count));

    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The run is over: Ctrl-C only stops the view, and says so.
    wait_for_line(&lines, "stopping the live view (the run had finished)");
    wait_for_line(&lines, "live view stopped");
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
}

#[test]
fn bad_or_busy_address_is_bad_input() {
    for bad in ["nonsense", "127.0.0.1", "127.0.0.1:99999", ":8765"] {
        let out = fusionrt(&["sim", "--frames", "1", "--foxglove", "--foxglove-addr", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("expected HOST:PORT"), "{bad}: {stderr}");
    }
    let out = fusionrt(&["sim", "--frames", "1", "--foxglove-addr", "127.0.0.1:9"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--foxglove-addr needs --foxglove"
    );
    let dir = scratch("foxglove-bad");
    for rate in ["0", "-1", "NaN"] {
        let out = fusionrt(&[
            "sim",
            "--frames",
            "1",
            "--out",
            dir.to_str().unwrap(),
            "--foxglove",
            "--foxglove-rate",
            rate,
        ]);
        assert_bad_input(&out, "--foxglove-rate must be");
    }

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = fusionrt(&[
        "sim",
        "--frames",
        "1",
        "--out",
        dir.to_str().unwrap(),
        "--foxglove",
        "--foxglove-addr",
        &addr,
    ]);
    assert_bad_input(&out, &format!("cannot serve Foxglove on {addr}"));
}

#[test]
fn replay_with_the_camera_model_shows_images_with_their_2d_boxes() {
    let Some(data) = std::env::var_os("FUSIONRT_DATA") else {
        println!("skipped: FUSIONRT_DATA is not set");
        return;
    };
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("skipped: ORT_DYLIB_PATH is not set (scripts/test sets it)");
        return;
    }
    let drive = Path::new(&data).join("kitti_raw/2011_09_26_drive_0052_sync");
    let dir = scratch("foxglove-replay");
    let bag = dir.join("bag");
    let out = fusionrt(&[
        "convert",
        "kitti",
        "--kitti-raw",
        drive.to_str().unwrap(),
        "--out",
        bag.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dir.join("out");
    let (mut child, _lines, mut client) = spawn_with_view(
        &[
            "replay",
            bag.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--camera",
            "model",
            "--duration",
            "0.25",
            "--foxglove-wait-client",
        ],
        "waiting for a client",
    );
    let topics = ["/fusionrt/camera0/image", "/fusionrt/camera0/detections"];
    let schemas = client.wait_for_channels(&topics);
    assert_eq!(schemas[topics[0]], "foxglove.RawImage");
    client.subscribe(&topics);
    let deadline = Instant::now() + PATIENCE;
    let (mut image_stamps, mut annotation_stamps) = (Vec::new(), Vec::new());
    while let Some((topic, log_time, payload)) = client.next_data(deadline) {
        if topic == topics[0] {
            let image = RawImage::decode(payload.as_slice()).unwrap();
            assert_eq!((image.width, image.height), (1242, 375), "KITTI camera 2");
            assert_eq!(image.encoding, "rgb8");
            assert_eq!(image.data.len(), (image.step * image.height) as usize);
            assert_eq!(stamp_ns(image.timestamp), log_time);
            image_stamps.push(log_time);
        } else {
            let a = ImageAnnotations::decode(payload.as_slice()).unwrap();
            assert!(
                a.points
                    .iter()
                    .flat_map(|p| &p.points)
                    .all(|p| { (0.0..=1242.0).contains(&p.x) && (0.0..=375.0).contains(&p.y) })
            );
            annotation_stamps.push(log_time);
        }
    }
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}");
    assert!(!image_stamps.is_empty() && !annotation_stamps.is_empty());
    assert!(
        annotation_stamps.iter().all(|s| image_stamps.contains(s)),
        "2D boxes stamped with their image: {annotation_stamps:?} vs {image_stamps:?}"
    );
}
