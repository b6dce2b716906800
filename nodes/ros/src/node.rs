//! The node (feature `ros2`): r2r subscriptions feeding the [`Inbox`], raw publishers behind
//! the [`RosSink`], a named spin thread, and the runtime graph on the real-time executor.
//!
//! One process (a composed node): lidar, cameras, fusion and tracker run on their own named
//! threads and hand `Arc`s to each other; ROS only sees the edges. Subscriptions and publishers
//! carry CDR bytes (`subscribe_raw`, `publish_raw`) decoded and encoded by fusionrt-bag's codecs.
//! r2r's own subscription queues (10 deep) are drained on every spin, so they do not overflow
//! while the spin thread runs; what the inbox replaces or drops is counted.

use crate::args::NodeArgs;
use crate::assemble::Assembler;
use crate::diagnostics::{Diagnostics, NowFn};
use crate::inbox::{Inbox, Input};
use crate::sink::{OutTopic, Publish, RosSink, SharedDiagnostics};
use crate::source::RosSource;
use anyhow::{Context as _, anyhow};
use fusionrt_runtime::config::Preset;
use fusionrt_runtime::{CameraMode, Graph, PipelineConfig, RunOptions, Sink, run_realtime};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use r2r::QosProfile;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Why the node stopped: bad input or configuration (exit 2) or a failure (exit 1).
#[derive(Debug)]
pub enum NodeError {
    /// Bad command line or parameter file.
    BadInput(anyhow::Error),
    /// Anything else.
    Failed(anyhow::Error),
}

struct Publishers {
    objects: r2r::PublisherUntyped,
    detected: r2r::PublisherUntyped,
    markers: r2r::PublisherUntyped,
}

impl Publish for Publishers {
    fn publish(&mut self, topic: OutTopic, cdr: &[u8]) -> Result<(), String> {
        let p = match topic {
            OutTopic::Objects => &self.objects,
            OutTopic::DetectedObjects => &self.detected,
            OutTopic::Markers => &self.markers,
            OutTopic::Diagnostics => return Err("diagnostics go out on the spin thread".into()),
        };
        p.publish_raw(cdr).map_err(|e| e.to_string())
    }
}

type Readers = Vec<(Input, BoxStream<'static, Vec<u8>>)>;

fn subscribe(
    node: &mut r2r::Node,
    readers: &mut Readers,
    topic: &str,
    type_name: &str,
    qos: QosProfile,
    input: Input,
) -> anyhow::Result<()> {
    let stream = node
        .subscribe_raw(topic, type_name, qos)
        .with_context(|| format!("subscribing to {topic} ({type_name})"))?;
    readers.push((input, stream.boxed()));
    Ok(())
}

/// Runs the node until Ctrl-C / SIGTERM (or the ROS context shuts down).
pub fn run(args: NodeArgs) -> Result<(), NodeError> {
    // Parameters: the same tree and validation as the CLI's --config (file, key, line on error).
    let files: Vec<&std::path::Path> = args.params_files.iter().map(|p| p.as_path()).collect();
    let config = PipelineConfig::load_layered(&files, Preset::Default)
        .map_err(|e| NodeError::BadInput(anyhow!(e)))?;
    let camera_mode = if args.cameras > 0 && args.camera_model {
        CameraMode::Model
    } else {
        CameraMode::None
    };
    let graph = Graph::new(&config, camera_mode, args.cameras, args.seed)
        .context("starting the pipeline")
        .map_err(NodeError::Failed)?;

    let ctx = r2r::Context::create()
        .context("creating the ROS context")
        .map_err(NodeError::Failed)?;
    let mut node = r2r::Node::create(ctx, "fusionrt", "")
        .context("creating the node")
        .map_err(NodeError::Failed)?;
    // use_sim_time (`-p use_sim_time:=true` or the parameter file): the ROS clock follows
    // /clock, and the latencies in /diagnostics are measured on it, so a bag played with
    // `ros2 bag play --clock` gives latencies on the bag's timeline, not years.
    let use_sim_time = node.params.lock().is_ok_and(|p| {
        matches!(
            p.get("use_sim_time").map(|p| &p.value),
            Some(r2r::ParameterValue::Bool(true))
        )
    });
    if use_sim_time {
        node.get_time_source()
            .enable_sim_time(&mut node)
            .context("subscribing to /clock (use_sim_time)")
            .map_err(NodeError::Failed)?;
    }
    let ros_clock = node.get_ros_clock();
    let ros_now: NowFn = Arc::new(move || {
        ros_clock
            .lock()
            .ok()
            .and_then(|mut c| c.get_now().ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    });
    let inbox = Arc::new(Inbox::new());
    let mut readers = Readers::new();
    let mut setup = || -> anyhow::Result<Publishers> {
        let sensor = QosProfile::sensor_data();
        let reliable = QosProfile::default().keep_last(10);
        subscribe(
            &mut node,
            &mut readers,
            "input/pointcloud",
            "sensor_msgs/msg/PointCloud2",
            sensor.clone(),
            Input::PointCloud,
        )?;
        for i in 0..args.cameras {
            subscribe(
                &mut node,
                &mut readers,
                &format!("input/camera{i}/image"),
                "sensor_msgs/msg/Image",
                sensor.clone(),
                Input::Image(i),
            )?;
            subscribe(
                &mut node,
                &mut readers,
                &format!("input/camera{i}/image/compressed"),
                "sensor_msgs/msg/CompressedImage",
                sensor.clone(),
                Input::CompressedImage(i),
            )?;
            subscribe(
                &mut node,
                &mut readers,
                &format!("input/camera{i}/camera_info"),
                "sensor_msgs/msg/CameraInfo",
                reliable.clone(),
                Input::CameraInfo(i),
            )?;
        }
        subscribe(
            &mut node,
            &mut readers,
            "/tf",
            "tf2_msgs/msg/TFMessage",
            QosProfile::default().keep_last(100),
            Input::Tf,
        )?;
        subscribe(
            &mut node,
            &mut readers,
            "/tf_static",
            "tf2_msgs/msg/TFMessage",
            QosProfile::default().keep_last(100).transient_local(),
            Input::Tf,
        )?;
        subscribe(
            &mut node,
            &mut readers,
            "input/odometry",
            "nav_msgs/msg/Odometry",
            reliable.clone(),
            Input::Odometry,
        )?;
        let out = QosProfile::default().keep_last(10);
        let publisher = |node: &mut r2r::Node, t: OutTopic| {
            node.create_publisher_untyped(t.name(), t.type_name(), out.clone())
                .with_context(|| format!("advertising {}", t.name()))
        };
        Ok(Publishers {
            objects: publisher(&mut node, OutTopic::Objects)?,
            detected: publisher(&mut node, OutTopic::DetectedObjects)?,
            markers: publisher(&mut node, OutTopic::Markers)?,
        })
    };
    let publishers = setup().map_err(NodeError::Failed)?;
    let diag_pub = node
        .create_publisher_untyped(
            OutTopic::Diagnostics.name(),
            OutTopic::Diagnostics.type_name(),
            QosProfile::default().keep_last(10),
        )
        .context("advertising /diagnostics")
        .map_err(NodeError::Failed)?;

    let mut assembler = Assembler::new(args.cameras);
    if camera_mode == CameraMode::None {
        assembler = assembler.images_unused();
    }
    let camera_status = assembler.camera_status();
    let diagnostics = Diagnostics::new(config.runtime.budgets.clone());
    let mut source = RosSource::new(inbox.clone(), assembler, args.cameras)
        .with_arrival_ages(ros_now.clone(), diagnostics.arrival_ages());
    let source_drops = source.drops();
    let diagnostics: SharedDiagnostics = Arc::new(Mutex::new(diagnostics));

    // Ctrl-C / SIGTERM (ros2 launch sends SIGINT, then SIGTERM): stop the graph cleanly.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let inbox = inbox.clone();
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            inbox.close();
        })
        .context("installing the signal handler")
        .map_err(NodeError::Failed)?;
    }

    // The spin thread: r2r callbacks into the inbox, /diagnostics once a second.
    let spin = {
        let stop = stop.clone();
        let inbox = inbox.clone();
        let diagnostics = diagnostics.clone();
        let now = ros_now.clone();
        let mut readers = readers;
        std::thread::Builder::new()
            .name("fusionrt-ros-spin".into())
            .spawn(move || {
                let mut last_report = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    node.spin_once(Duration::from_millis(2));
                    // Drain every reader (r2r's queues are 10 deep): into the inbox.
                    for (input, stream) in readers.iter_mut() {
                        while let Some(Some(cdr)) = stream.next().now_or_never() {
                            inbox.push(*input, cdr);
                        }
                    }
                    let window = last_report.elapsed();
                    if window >= Duration::from_secs(1) {
                        last_report = Instant::now();
                        let mut drops: BTreeMap<String, u64> = inbox
                            .drops()
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect();
                        for (k, v) in source_drops
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .iter()
                        {
                            *drops.entry(k.clone()).or_default() += v;
                        }
                        let cameras = camera_status
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone();
                        let array = diagnostics
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .report(now(), window, &drops, &cameras);
                        use fusionrt_bag::RosMessage;
                        if let Err(e) = diag_pub.publish_raw(&array.to_cdr()) {
                            tracing::warn!("publishing /diagnostics failed: {e}");
                        }
                    }
                }
            })
            .context("starting the spin thread")
            .map_err(NodeError::Failed)?
    };

    tracing::info!(
        cameras = args.cameras,
        camera_model = camera_mode == CameraMode::Model,
        use_sim_time,
        "fusionrt_node running"
    );
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(RosSink::new(
        Box::new(publishers),
        diagnostics,
        ros_now,
    ))];
    let options = RunOptions {
        stop: stop.clone(),
        // As fast as the pipeline goes: the inbox is latest-wins, so nothing queues up.
        rate_factor: None,
        ..RunOptions::default()
    };
    let result = run_realtime(graph, &mut source, &mut sinks, &options);
    stop.store(true, Ordering::Relaxed);
    inbox.close();
    if spin.join().is_err() {
        return Err(NodeError::Failed(anyhow!("the spin thread panicked")));
    }
    let summary = result.map_err(|e| NodeError::Failed(anyhow!(e)))?;
    tracing::info!(
        sweeps = summary.metrics.sweeps_published,
        "fusionrt_node stopped"
    );
    Ok(())
}
