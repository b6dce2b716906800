//! The two executors of one [`Graph`].
//!
//! - [`run_deterministic`]: events in source order (sweeps in stamp order), every input
//!   processed; the same input and config give byte-identical outputs. The lidar stage runs on
//!   its own thread one sweep ahead; everything else on the caller's thread, in order. The
//!   camera keeps its configured tiles (the degrade policy needs timings, which would make
//!   results depend on the machine); budget overruns are still measured and counted.
//! - [`run_realtime`]: one named thread per stage (`fusionrt-lidar`, `fusionrt-camera<i>`,
//!   `fusionrt-fusion`, `fusionrt-tracker`, `fusionrt-sink`), bounded crossbeam channels. At
//!   sensor rate, sensor inputs are latest-wins (a stale sweep or image is dropped and counted,
//!   queues never grow); as fast as possible (`rate_factor: None`), the source waits for the
//!   pipeline instead (back-pressure, nothing dropped). Camera inference runs on its own
//!   thread; fusion waits for a camera result in flight only until the end-to-end budget
//!   (minus fusion and tracker budgets) runs out, then fuses without it and counts that.
//!
//! Both executors use the same stages, the same [`GraphState`] and the same sweep steps, so
//! when nothing is late they publish the same tracks.

use crate::config::PipelineConfig;
use crate::graph::{
    CameraMode, Event, Output, Results, RunOptions, Sink, SinkError, Source, SourceError,
    SweepTimings, TruthObject,
};
use crate::metrics::{Metrics, MetricsReport};
use crate::stage::{
    BuildError, CameraStage, Clock, Ctx, EventClock, FusionInput, FusionStage, LidarStage,
    ReplayClock, Stage, StageError, Stamped, TrackerStage,
};
use crate::state::{CameraResult, GraphState};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use fusionrt_core::image::Image;
use fusionrt_core::{CameraCalib, CameraDetections, FusedObject, Obstacle3D, PointCloud, Track};
use fusionrt_fusion::FusionReport;
use nalgebra::Isometry3;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why a run stopped early.
#[derive(Debug, Error)]
pub enum RunError {
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A sink failed: its output is incomplete.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A thread could not start or panicked.
    #[error("executor thread {0}")]
    Thread(String),
}

/// What a run produced besides the sinks' files.
#[derive(Debug)]
pub struct RunSummary {
    /// Results the sinks added (deterministic).
    pub results: Results,
    /// Timings, drops, misses (differ from run to run).
    pub metrics: MetricsReport,
    /// True when Ctrl-C (the stop flag) ended the run early.
    pub interrupted: bool,
}

/// Budgets and policies as the executors use them.
#[derive(Clone, Copy, Debug)]
struct Limits {
    lidar: Duration,
    camera: Duration,
    fusion: Duration,
    tracker: Duration,
    end_to_end: Duration,
    /// How long fusion may wait for a camera result in flight, from the sweep's release.
    camera_wait: Duration,
    camera_max_age_ns: i64,
    /// Fusion's own pairing tolerance.
    pairing_ns: i64,
    /// Capacity of the channels between stages.
    queue_depth: usize,
}

fn ms(v: f64) -> Duration {
    Duration::try_from_secs_f64(v * 1e-3).unwrap_or(Duration::MAX)
}

impl Limits {
    fn new(config: &PipelineConfig) -> Self {
        let b = &config.runtime.budgets;
        let end_to_end = ms(b.end_to_end_ms);
        Self {
            lidar: ms(b.lidar_ms),
            camera: ms(b.camera_ms),
            fusion: ms(b.fusion_ms),
            tracker: ms(b.tracker_ms),
            end_to_end,
            camera_wait: end_to_end.saturating_sub(ms(b.fusion_ms) + ms(b.tracker_ms)),
            camera_max_age_ns: (config.runtime.camera_max_age_ms * 1e6) as i64,
            pairing_ns: config.fusion.tolerance_ns,
            queue_depth: config.runtime.queue_depth.max(1),
        }
    }
}

/// The stages of one pipeline, built and validated, ready for an executor.
#[derive(Debug)]
pub struct Graph {
    camera_mode: CameraMode,
    cameras: usize,
    limits: Limits,
    lidar: LidarStage,
    camera_stages: Vec<CameraStage>,
    fusion: FusionStage,
    tracker: TrackerStage,
}

impl Graph {
    /// Builds every stage: `cameras` camera stages when `camera_mode` is `Model` (each loads
    /// and warms up the model). `id_seed` makes track ids distinct across runs.
    pub fn new(
        config: &PipelineConfig,
        camera_mode: CameraMode,
        cameras: usize,
        id_seed: u64,
    ) -> Result<Self, BuildError> {
        let camera_stages = match camera_mode {
            CameraMode::Model => (0..cameras)
                .map(|i| CameraStage::new(config, i))
                .collect::<Result<_, _>>()?,
            CameraMode::None | CameraMode::Sim => Vec::new(),
        };
        Ok(Self {
            camera_mode,
            // Without a camera path the state tracks no cameras: nothing to miss.
            cameras: if camera_mode == CameraMode::None {
                0
            } else {
                cameras
            },
            limits: Limits::new(config),
            lidar: LidarStage::new(config)?,
            camera_stages,
            fusion: FusionStage::new(config),
            tracker: TrackerStage::new(config, id_seed),
        })
    }
}

/// Runs a stage under `ctx`, records its processing time and output age, and returns its
/// processing time.
fn run_stage<I: ?Sized, O, S: Stage<I, O>>(
    stage: &mut S,
    ctx: &Ctx<'_>,
    input: &I,
    output: &mut O,
    metrics: &mut Metrics,
    age_ns: impl Fn() -> i64,
) -> Result<Duration, StageError> {
    let t = Instant::now();
    let result = stage.process(ctx, input, output);
    let processing = t.elapsed();
    if result.is_ok() {
        metrics.record_stage(stage.name(), processing, age_ns(), ctx.budget);
    }
    result.map(|_| processing)
}

/// Logs a dropped input at most once a second per reason and counts it.
struct DropLog {
    last: std::collections::BTreeMap<&'static str, Instant>,
}

impl DropLog {
    fn new() -> Self {
        Self {
            last: std::collections::BTreeMap::new(),
        }
    }

    fn record(
        &mut self,
        metrics: &mut Metrics,
        reason: &'static str,
        detail: &dyn std::fmt::Display,
    ) {
        metrics.count_drop(reason);
        let now = Instant::now();
        let due = self
            .last
            .get(reason)
            .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(1));
        if due {
            tracing::warn!(reason, "input dropped: {detail}");
            self.last.insert(reason, now);
        }
    }
}

/// Buffers of the fusion and tracker steps, reused from sweep to sweep.
#[derive(Default)]
struct SweepBuffers {
    calibs: Vec<CameraCalib>,
    frames: Vec<CameraDetections>,
    fused: Vec<FusedObject>,
    tracks: Vec<Track>,
    images: Vec<Option<Arc<Stamped<Image>>>>,
}

/// The output of one sweep, for the sinks.
fn output_of(
    sweep: u64,
    cloud: &Arc<Stamped<PointCloud>>,
    pose: Option<Isometry3<f64>>,
    truth: Option<Arc<Vec<TruthObject>>>,
    bufs: &SweepBuffers,
    fusion_report: FusionReport,
    processing: SweepTimings,
) -> Output {
    Output {
        sweep,
        stamp_ns: cloud.stamp_ns,
        seq: cloud.seq,
        frame_id: if pose.is_some() {
            Arc::from("world")
        } else {
            cloud.frame_id.clone()
        },
        tracks: bufs.tracks.clone(),
        fused: bufs.fused.clone(),
        camera_frames: bufs.frames.clone(),
        fusion_report,
        world_from_lidar: pose,
        truth,
        cloud: cloud.clone(),
        images: bufs.images.clone(),
        processing,
    }
}

fn finish_sinks(sinks: &mut [Box<dyn Sink>]) -> Result<Results, SinkError> {
    let mut results = Results::new();
    let mut first_error = None;
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.finish(&mut results) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(results), Err)
}

/// Runs the graph in source order; see the module doc.
///
/// The lidar stage of a sweep runs on a second thread (`fusionrt-lidar`) while this thread
/// fuses, tracks and publishes the sweep before it. Events read after a sweep are held until
/// that sweep is published, so every step sees the graph state it would see on one thread and
/// the outputs are the same.
pub fn run_deterministic(
    graph: Graph,
    source: &mut dyn Source,
    sinks: &mut [Box<dyn Sink>],
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let Graph {
        camera_mode,
        cameras,
        limits,
        lidar,
        mut camera_stages,
        fusion,
        tracker,
    } = graph;
    for stage in &mut camera_stages {
        stage.set_adaptive(false);
    }
    // At most two sweeps are in flight (one being published, the next in the lidar stage), so
    // neither thread ever blocks on a full channel.
    let (jobs_tx, jobs_rx) = bounded::<(SweepIn, Vec<Obstacle3D>)>(2);
    let (done_tx, done_rx) = bounded::<Option<SweepObstacles>>(2);
    let start = Instant::now();
    std::thread::scope(|scope| -> Result<RunSummary, RunError> {
        let lidar_handle = spawn(scope, "fusionrt-lidar".into(), move || {
            lidar_worker(lidar, limits, jobs_rx, done_tx)
        })?;
        let mut run = InOrder {
            camera_mode,
            limits,
            camera_stages,
            fusion,
            tracker,
            state: GraphState::new(cameras),
            clock: EventClock::default(),
            metrics: Metrics::default(),
            drops: DropLog::new(),
            detections: Vec::with_capacity(256),
            bufs: SweepBuffers::default(),
            jobs: jobs_tx,
            done: done_rx,
            in_flight: 0,
            held: Vec::new(),
            spare: Vec::new(),
            published: 0,
            sink_error: None,
        };
        let outcome = run.run(source, sinks, options);
        let InOrder {
            camera_stages,
            mut metrics,
            sink_error,
            jobs,
            done,
            ..
        } = run;
        drop((jobs, done));
        metrics.merge(join(lidar_handle)?);
        let interrupted = outcome?;
        for stage in &camera_stages {
            metrics.camera(stage.name()).tiles = stage.governor().stats().clone();
        }
        let finished = finish_sinks(sinks);
        if let Some(e) = sink_error {
            return Err(e.into());
        }
        Ok(RunSummary {
            results: finished?,
            metrics: metrics.report(start.elapsed()),
            interrupted,
        })
    })
}

/// The lidar thread of [`run_deterministic`]: one reply per sweep, in order (None when the
/// sweep was dropped as bad input, counted in the metrics it returns). Each job brings the
/// obstacle buffer of an earlier sweep to fill again.
fn lidar_worker(
    mut lidar: LidarStage,
    limits: Limits,
    jobs: Receiver<(SweepIn, Vec<Obstacle3D>)>,
    done: Sender<Option<SweepObstacles>>,
) -> Metrics {
    let clock = EventClock::default();
    let mut metrics = Metrics::default();
    let mut drops = DropLog::new();
    for (sweep, obstacles) in jobs {
        let stamp = sweep.cloud.stamp_ns;
        clock.start_event_at(stamp, sweep.released);
        let result = lidar_step(
            &mut lidar,
            &clock,
            &limits,
            (sweep, obstacles),
            &mut metrics,
            &mut drops,
            || clock.now_ns() - stamp,
        );
        if done.send(result).is_err() {
            break;
        }
    }
    metrics
}

/// Runs the lidar stage on one sweep, its obstacles written into the buffer that comes with
/// it; None when the sweep was dropped (counted).
fn lidar_step(
    lidar: &mut LidarStage,
    clock: &dyn Clock,
    limits: &Limits,
    (sweep, mut obstacles): (SweepIn, Vec<Obstacle3D>),
    metrics: &mut Metrics,
    drops: &mut DropLog,
    age: impl Fn() -> i64,
) -> Option<SweepObstacles> {
    let ctx = Ctx {
        clock,
        budget: limits.lidar,
        stamp_ns: sweep.cloud.stamp_ns,
    };
    match run_stage(lidar, &ctx, &sweep.cloud.data, &mut obstacles, metrics, age) {
        Ok(lidar_time) => Some(SweepObstacles {
            sweep,
            obstacles,
            lidar_time,
        }),
        Err(e) => {
            drops.record(metrics, "lidar_bad_input", &e);
            None
        }
    }
}

/// The publishing side of [`run_deterministic`], on the caller's thread.
struct InOrder {
    camera_mode: CameraMode,
    limits: Limits,
    camera_stages: Vec<CameraStage>,
    fusion: FusionStage,
    tracker: TrackerStage,
    state: GraphState,
    clock: EventClock,
    metrics: Metrics,
    drops: DropLog,
    detections: Vec<fusionrt_core::Detection2D>,
    bufs: SweepBuffers,
    jobs: Sender<(SweepIn, Vec<Obstacle3D>)>,
    done: Receiver<Option<SweepObstacles>>,
    /// Sweeps sent to the lidar thread and not yet published or dropped.
    in_flight: u64,
    /// Events read after the oldest sweep in flight, applied once it is published.
    held: Vec<Event>,
    /// Obstacle buffers of published sweeps, sent back with the next sweeps.
    spare: Vec<Vec<Obstacle3D>>,
    published: u64,
    sink_error: Option<SinkError>,
}

impl InOrder {
    /// Reads the source to its end (or the stop flag, `max_sweeps`, a sink error); returns
    /// whether the stop flag ended it.
    fn run(
        &mut self,
        source: &mut dyn Source,
        sinks: &mut [Box<dyn Sink>],
        options: &RunOptions,
    ) -> Result<bool, RunError> {
        let mut interrupted = false;
        while self.sink_error.is_none() {
            if options.stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            if let Some(max) = options.max_sweeps
                && self.published + self.in_flight >= max
            {
                // A sweep in flight may still be dropped: publish it, then look again.
                if self.in_flight == 0 {
                    break;
                }
                self.publish_oldest(sinks, options)?;
                continue;
            }
            let Some(event) = source.next_event()? else {
                break;
            };
            match event {
                Event::Lidar { cloud, truth } => {
                    self.metrics.count_sweep();
                    let sweep = SweepIn {
                        cloud,
                        truth,
                        released: Instant::now(),
                    };
                    let buffer = self.spare.pop().unwrap_or_default();
                    self.jobs
                        .send((sweep, buffer))
                        .map_err(|_| RunError::Thread("fusionrt-lidar stopped".into()))?;
                    self.in_flight += 1;
                    if self.in_flight > 1 {
                        self.publish_oldest(sinks, options)?;
                    }
                }
                event if self.in_flight > 0 => self.held.push(event),
                event => self.apply(event),
            }
        }
        while self.in_flight > 0 && self.sink_error.is_none() {
            self.publish_oldest(sinks, options)?;
        }
        Ok(interrupted)
    }

    /// Waits for the oldest sweep in flight, fuses, tracks and publishes it, then applies the
    /// events held behind it.
    fn publish_oldest(
        &mut self,
        sinks: &mut [Box<dyn Sink>],
        options: &RunOptions,
    ) -> Result<(), RunError> {
        let reply = self
            .done
            .recv()
            .map_err(|_| RunError::Thread("fusionrt-lidar stopped".into()))?;
        self.in_flight -= 1;
        if let Some(SweepObstacles {
            sweep,
            obstacles,
            lidar_time,
        }) = reply
        {
            self.publish(sweep, &obstacles, lidar_time, sinks, options);
            self.spare.push(obstacles);
        }
        // Drained through a local so that the buffer keeps its capacity.
        let mut held = std::mem::take(&mut self.held);
        for event in held.drain(..) {
            self.apply(event);
        }
        self.held = held;
        Ok(())
    }

    fn publish(
        &mut self,
        sweep: SweepIn,
        obstacles: &[Obstacle3D],
        lidar_time: Duration,
        sinks: &mut [Box<dyn Sink>],
        options: &RunOptions,
    ) {
        let SweepIn {
            cloud,
            truth,
            released,
        } = sweep;
        let stamp = cloud.stamp_ns;
        let limits = self.limits;
        // Ages count from the moment the sweep was read.
        self.clock.start_event_at(stamp, released);
        let clock = &self.clock;
        let age = || clock.now_ns() - stamp;
        self.state.gather(
            stamp,
            limits.camera_max_age_ns,
            &mut self.bufs.calibs,
            &mut self.bufs.frames,
            &mut self.metrics,
        );
        self.state.latest_images(&mut self.bufs.images);
        let pose = self.state.pose_at(stamp, limits.pairing_ns);
        let (fusion_time, tracker_time) = fuse_and_track(
            &mut self.fusion,
            &mut self.tracker,
            clock,
            &limits,
            stamp,
            obstacles,
            pose,
            &mut self.bufs,
            &mut self.metrics,
            age,
        );
        self.metrics.record_published(age(), limits.end_to_end);
        let output = output_of(
            self.published,
            &cloud,
            pose,
            truth,
            &self.bufs,
            *self.fusion.last_report(),
            SweepTimings {
                lidar: lidar_time,
                fusion: fusion_time,
                tracker: tracker_time,
            },
        );
        for sink in sinks.iter_mut() {
            if let Err(e) = sink.publish(&output) {
                self.sink_error.get_or_insert(e);
            }
        }
        if self.sink_error.is_none() {
            self.published += 1;
            if let Some(progress) = &options.progress {
                progress(self.published);
            }
        }
    }

    /// Applies an event other than a sweep to the graph state.
    fn apply(&mut self, event: Event) {
        match event {
            // `run` sends every sweep to the lidar thread; none is held or applied.
            Event::Lidar { .. } => {}
            Event::Image { camera, image } => {
                if self.camera_mode != CameraMode::Model {
                    return;
                }
                let Some(stage) = self.camera_stages.get_mut(camera) else {
                    self.drops.record(
                        &mut self.metrics,
                        "image_unknown_camera",
                        &format!("image for camera {camera}"),
                    );
                    return;
                };
                let stamp = image.stamp_ns;
                self.clock.start_event(stamp);
                self.metrics.camera(stage.name()).images_in += 1;
                self.state.set_image(camera, image.clone());
                let clock = &self.clock;
                if let Some(result) = run_camera(
                    stage,
                    clock,
                    &self.limits,
                    &image,
                    &mut self.detections,
                    &mut self.metrics,
                    &mut self.drops,
                    || clock.now_ns() - stamp,
                ) {
                    self.state.push_result(camera, result);
                }
            }
            Event::Detections { camera, detections } => {
                if self.camera_mode == CameraMode::Sim {
                    self.state.push_result(camera, detections);
                }
            }
            Event::CameraCalib { camera, calib } => self.state.set_calib(camera, calib),
            Event::Odometry(pose) => self.state.push_pose(pose),
            Event::Skipped { reason, detail } => {
                self.drops.record(&mut self.metrics, reason, &detail)
            }
        }
    }
}

/// Runs a camera stage on one image; returns its result for the graph state, or None when the
/// image was dropped (counted).
#[allow(clippy::too_many_arguments)]
fn run_camera(
    stage: &mut CameraStage,
    clock: &dyn Clock,
    limits: &Limits,
    image: &Stamped<Image>,
    detections: &mut Vec<fusionrt_core::Detection2D>,
    metrics: &mut Metrics,
    drops: &mut DropLog,
    age: impl Fn() -> i64,
) -> Option<CameraResult> {
    let ctx = Ctx {
        clock,
        budget: limits.camera,
        stamp_ns: image.stamp_ns,
    };
    let t = Instant::now();
    let result = run_stage(stage, &ctx, &image.data, detections, metrics, age);
    let processing = t.elapsed();
    match result {
        Ok(_) => {
            metrics.camera(stage.name()).processed += 1;
            if let Some((from, to)) = stage.adapt(processing, limits.camera) {
                tracing::info!(
                    camera = stage.name(),
                    from,
                    to,
                    processing_ms = processing.as_secs_f64() * 1e3,
                    "camera tiles changed"
                );
            }
            Some(Arc::new(Stamped::new(
                image.stamp_ns,
                image.frame_id.clone(),
                image.seq,
                detections.clone(),
            )))
        }
        Err(e) => {
            let reason = match e {
                StageError::BadInput { .. } => "image_bad_input",
                StageError::Camera(_) => "camera_error",
            };
            drops.record(metrics, reason, &e);
            None
        }
    }
}

/// Fusion then tracker for one sweep, into `bufs.fused` and `bufs.tracks`; returns their
/// processing times.
#[allow(clippy::too_many_arguments)]
fn fuse_and_track(
    fusion: &mut FusionStage,
    tracker: &mut TrackerStage,
    clock: &dyn Clock,
    limits: &Limits,
    stamp_ns: i64,
    obstacles: &[Obstacle3D],
    pose: Option<Isometry3<f64>>,
    bufs: &mut SweepBuffers,
    metrics: &mut Metrics,
    age: impl Fn() -> i64 + Copy,
) -> (Duration, Duration) {
    let input = FusionInput {
        obstacles,
        cameras: &bufs.calibs,
        camera_frames: &bufs.frames,
        world_from_lidar: pose,
    };
    let ctx = Ctx {
        clock,
        budget: limits.fusion,
        stamp_ns,
    };
    // Fusion and the tracker skip and count invalid items themselves; they never fail.
    let fusion_time =
        run_stage(fusion, &ctx, &input, &mut bufs.fused, metrics, age).unwrap_or_default();
    let ctx = Ctx {
        budget: limits.tracker,
        ..ctx
    };
    let tracker_time = run_stage(
        tracker,
        &ctx,
        bufs.fused.as_slice(),
        &mut bufs.tracks,
        metrics,
        age,
    )
    .unwrap_or_default();
    (fusion_time, tracker_time)
}

/// Sends `item`, replacing a queued one that has not been taken yet (latest-wins); returns true
/// when one was dropped.
fn send_latest<T>(tx: &Sender<T>, rx: &Receiver<T>, item: T) -> bool {
    match tx.try_send(item) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(item)) => {
            let dropped = rx.try_recv().is_ok();
            // This is the only sender, and a slot was just freed (or taken by the consumer).
            let _ = tx.try_send(item);
            dropped
        }
    }
}

/// How message ages are measured in the real-time executor.
#[derive(Clone, Copy)]
enum Timebase {
    /// Played at sensor rate: age is the replay clock minus the sensor stamp.
    Paced(ReplayClock),
    /// As fast as possible: age runs from the moment the source released the message.
    Max(ReplayClock),
}

impl Timebase {
    fn clock(&self) -> &ReplayClock {
        match self {
            Timebase::Paced(c) | Timebase::Max(c) => c,
        }
    }

    /// The instant `wait` after the message's reference time (its stamp at sensor rate, its
    /// release as fast as possible): the end-to-end budget counts from there.
    fn deadline(&self, stamp_ns: i64, released: Instant, wait: Duration) -> Instant {
        match self {
            Timebase::Paced(c) => c.instant_of(stamp_ns) + wait,
            Timebase::Max(_) => released + wait,
        }
    }

    fn age_ns(&self, stamp_ns: i64, released: Instant) -> i64 {
        match self {
            Timebase::Paced(c) => c.wall_age_ns(stamp_ns),
            Timebase::Max(_) => i64::try_from(released.elapsed().as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

struct SweepIn {
    cloud: Arc<Stamped<PointCloud>>,
    truth: Option<Arc<Vec<TruthObject>>>,
    released: Instant,
}

struct SweepObstacles {
    sweep: SweepIn,
    obstacles: Vec<Obstacle3D>,
    lidar_time: Duration,
}

struct SweepFused {
    sweep: SweepIn,
    pose: Option<Isometry3<f64>>,
    fused: Vec<FusedObject>,
    frames: Vec<CameraDetections>,
    report: FusionReport,
    images: Vec<Option<Arc<Stamped<Image>>>>,
    processing: SweepTimings,
}

struct ImageIn {
    image: Arc<Stamped<Image>>,
    released: Instant,
}

/// The graph state shared by the source, camera and fusion threads.
struct SharedState {
    state: Mutex<GraphState>,
    changed: Condvar,
    /// Per camera: the image being inferred (its stamp) and when its result is expected.
    in_flight: Mutex<Vec<Option<(i64, Instant)>>>,
}

impl SharedState {
    fn lock(&self) -> std::sync::MutexGuard<'_, GraphState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_in_flight(&self, camera: usize, value: Option<(i64, Instant)>) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = in_flight.get_mut(camera) {
            *slot = value;
        }
    }

    /// True when camera `i` is inferring an image within `tolerance_ns` of the sweep whose
    /// result is expected by `deadline`: only then is waiting worth it. An image still queued,
    /// or one that will not be through in time, is not waited for.
    fn expected_in_time(
        &self,
        i: usize,
        stamp_ns: i64,
        tolerance_ns: i64,
        deadline: Instant,
    ) -> bool {
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        in_flight
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|(image_stamp, expected)| {
                (image_stamp - stamp_ns).abs() <= tolerance_ns && expected <= deadline
            })
    }
}

/// A running estimate of a camera's processing time (exponential moving average).
struct ProcessingEstimate(Option<Duration>);

impl ProcessingEstimate {
    fn update(&mut self, sample: Duration) {
        self.0 = Some(match self.0 {
            Some(previous) => previous.mul_f64(0.7) + sample.mul_f64(0.3),
            None => sample,
        });
    }
}

fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, T>, RunError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn_scoped(scope, f)
        .map_err(|e| RunError::Thread(format!("{name}: {e}")))
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> Result<T, RunError> {
    let name = handle.thread().name().unwrap_or("?").to_string();
    handle
        .join()
        .map_err(|_| RunError::Thread(format!("{name} panicked")))
}

/// Runs the graph with one thread per stage; see the module doc.
pub fn run_realtime(
    graph: Graph,
    source: &mut dyn Source,
    sinks: &mut [Box<dyn Sink>],
    options: &RunOptions,
) -> Result<RunSummary, RunError> {
    let Graph {
        camera_mode,
        cameras,
        limits,
        mut lidar,
        camera_stages,
        mut fusion,
        mut tracker,
    } = graph;
    let shared = SharedState {
        state: Mutex::new(GraphState::new(cameras)),
        changed: Condvar::new(),
        in_flight: Mutex::new(vec![None; cameras]),
    };
    // Before the first sweep can arrive: its buffers allocated and touched now, the first
    // sweep is not late for the page faults.
    lidar.warm_up();
    let start = Instant::now();
    let paced = options.rate_factor.is_some();
    // The clock starts at the first stamped event: read up to it.
    let mut pending = std::collections::VecDeque::new();
    let mut first_stamp = None;
    while first_stamp.is_none() {
        let Some(event) = source.next_event()? else {
            break;
        };
        first_stamp = event.stamp_ns();
        pending.push_back(event);
    }
    let first_stamp = first_stamp.unwrap_or(0);
    let clock = ReplayClock::starting_at(first_stamp, options.rate_factor.unwrap_or(1.0));
    let timebase = if paced {
        Timebase::Paced(clock)
    } else {
        Timebase::Max(clock)
    };
    let depth = 1; // sensor inputs: latest-wins slot (paced) or one in flight (back-pressure)
    let (lidar_tx, lidar_rx) = bounded::<SweepIn>(depth);
    let lidar_rx_source = lidar_rx.clone();
    let camera_channels: Vec<(Sender<ImageIn>, Receiver<ImageIn>)> =
        (0..camera_stages.len()).map(|_| bounded(depth)).collect();
    let (obstacles_tx, obstacles_rx) = bounded::<SweepObstacles>(limits.queue_depth);
    let (fused_tx, fused_rx) = bounded::<SweepFused>(limits.queue_depth);
    let (output_tx, output_rx) = bounded::<Output>(limits.queue_depth);

    std::thread::scope(|scope| -> Result<RunSummary, RunError> {
        let shared = &shared;
        // Lidar.
        let lidar_handle = spawn(scope, "fusionrt-lidar".into(), move || {
            let mut metrics = Metrics::default();
            let mut drops = DropLog::new();
            for sweep in lidar_rx {
                let (stamp, released) = (sweep.cloud.stamp_ns, sweep.released);
                // The obstacles travel on to fusion and the sinks: a buffer per sweep.
                let reply = lidar_step(
                    &mut lidar,
                    timebase.clock(),
                    &limits,
                    (sweep, Vec::new()),
                    &mut metrics,
                    &mut drops,
                    || timebase.age_ns(stamp, released),
                );
                if let Some(reply) = reply
                    && obstacles_tx.send(reply).is_err()
                {
                    break;
                }
            }
            metrics
        })?;
        // Cameras.
        let mut camera_handles = Vec::new();
        for (i, mut stage) in camera_stages.into_iter().enumerate() {
            let rx = camera_channels[i].1.clone();
            camera_handles.push(spawn(scope, format!("fusionrt-camera{i}"), move || {
                let mut metrics = Metrics::default();
                let mut drops = DropLog::new();
                let mut detections = Vec::with_capacity(256);
                let mut estimate = ProcessingEstimate(None);
                for input in rx {
                    let stamp = input.image.stamp_ns;
                    let released = input.released;
                    let started = Instant::now();
                    // Unknown before the first frame: expected at once, so fusion waits.
                    shared
                        .set_in_flight(i, Some((stamp, started + estimate.0.unwrap_or_default())));
                    let result = run_camera(
                        &mut stage,
                        timebase.clock(),
                        &limits,
                        &input.image,
                        &mut detections,
                        &mut metrics,
                        &mut drops,
                        || timebase.age_ns(stamp, released),
                    );
                    estimate.update(started.elapsed());
                    shared.set_in_flight(i, None);
                    if let Some(result) = result {
                        shared.lock().push_result(i, result);
                    }
                    shared.changed.notify_all();
                }
                metrics.camera(stage.name()).tiles = stage.governor().stats().clone();
                metrics
            })?);
        }
        // Fusion.
        let late: Vec<String> = (0..cameras).map(|i| format!("camera{i}_late")).collect();
        let waited_out: Vec<String> = (0..cameras)
            .map(|i| format!("camera{i}_waited_out"))
            .collect();
        let fusion_handle = spawn(scope, "fusionrt-fusion".into(), move || {
            let mut metrics = Metrics::default();
            let mut calibs = Vec::new();
            let mut frames = Vec::new();
            let mut images = Vec::new();
            for SweepObstacles {
                sweep,
                obstacles,
                lidar_time,
            } in obstacles_rx
            {
                let stamp = sweep.cloud.stamp_ns;
                let pose = {
                    let mut state = shared.lock();
                    if camera_mode == CameraMode::Model {
                        let deadline = timebase.deadline(stamp, sweep.released, limits.camera_wait);
                        for (i, reason) in waited_out.iter().enumerate() {
                            while state.worth_waiting(i, stamp, limits.pairing_ns) {
                                if !shared.expected_in_time(i, stamp, limits.pairing_ns, deadline) {
                                    metrics.count_miss(late[i].as_str());
                                    break;
                                }
                                let now = Instant::now();
                                if now >= deadline {
                                    metrics.count_miss(reason.as_str());
                                    break;
                                }
                                state = shared
                                    .changed
                                    .wait_timeout(state, deadline - now)
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .0;
                            }
                        }
                    }
                    state.gather(
                        stamp,
                        limits.camera_max_age_ns,
                        &mut calibs,
                        &mut frames,
                        &mut metrics,
                    );
                    state.latest_images(&mut images);
                    state.pose_at(stamp, limits.pairing_ns)
                };
                let released = sweep.released;
                let age = || timebase.age_ns(stamp, released);
                let mut fused = Vec::with_capacity(obstacles.len());
                let input = FusionInput {
                    obstacles: &obstacles,
                    cameras: &calibs,
                    camera_frames: &frames,
                    world_from_lidar: pose,
                };
                let ctx = Ctx {
                    clock: timebase.clock(),
                    budget: limits.fusion,
                    stamp_ns: stamp,
                };
                let fusion_time =
                    run_stage(&mut fusion, &ctx, &input, &mut fused, &mut metrics, age)
                        .unwrap_or_default();
                let fused = SweepFused {
                    sweep,
                    pose,
                    fused,
                    frames: frames.clone(),
                    report: *fusion.last_report(),
                    images: images.clone(),
                    processing: SweepTimings {
                        lidar: lidar_time,
                        fusion: fusion_time,
                        tracker: Duration::ZERO,
                    },
                };
                if fused_tx.send(fused).is_err() {
                    break;
                }
            }
            metrics
        })?;
        // Tracker.
        let tracker_handle = spawn(scope, "fusionrt-tracker".into(), move || {
            let mut metrics = Metrics::default();
            let mut tracks = Vec::with_capacity(256);
            for (index, input) in fused_rx.into_iter().enumerate() {
                let SweepFused {
                    sweep,
                    pose,
                    fused,
                    frames,
                    report,
                    images,
                    mut processing,
                } = input;
                let stamp = sweep.cloud.stamp_ns;
                let released = sweep.released;
                let age = || timebase.age_ns(stamp, released);
                let ctx = Ctx {
                    clock: timebase.clock(),
                    budget: limits.tracker,
                    stamp_ns: stamp,
                };
                processing.tracker = run_stage(
                    &mut tracker,
                    &ctx,
                    fused.as_slice(),
                    &mut tracks,
                    &mut metrics,
                    age,
                )
                .unwrap_or_default();
                metrics.record_published(age(), limits.end_to_end);
                let bufs = SweepBuffers {
                    fused,
                    frames,
                    images,
                    tracks: std::mem::take(&mut tracks),
                    ..SweepBuffers::default()
                };
                let output = output_of(
                    index as u64,
                    &sweep.cloud,
                    pose,
                    sweep.truth,
                    &bufs,
                    report,
                    processing,
                );
                tracks = bufs.tracks;
                if output_tx.send(output).is_err() {
                    break;
                }
            }
            metrics
        })?;
        // Sinks.
        let progress = options.progress.clone();
        let sink_handle = spawn(scope, "fusionrt-sink".into(), move || {
            let mut error = None;
            let mut published = 0u64;
            for output in output_rx {
                for sink in sinks.iter_mut() {
                    if let Err(e) = sink.publish(&output) {
                        error.get_or_insert(e);
                    }
                }
                published += 1;
                if let Some(p) = &progress {
                    p(published);
                }
            }
            let finished = finish_sinks(sinks);
            match error {
                Some(e) => Err(e),
                None => finished,
            }
        })?;

        // The source, on this thread.
        let mut metrics = Metrics::default();
        let mut drops = DropLog::new();
        let stale: Vec<String> = (0..cameras).map(|i| format!("camera{i}_stale")).collect();
        let mut sweeps = 0u64;
        let mut interrupted = false;
        let mut source_error = None;
        loop {
            if options.stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let event = match pending.pop_front() {
                Some(e) => e,
                None => match source.next_event() {
                    Ok(Some(e)) => e,
                    Ok(None) => break,
                    Err(e) => {
                        source_error = Some(e);
                        break;
                    }
                },
            };
            if let (true, true, Some(stamp)) = (paced, event.is_sensor_data(), event.stamp_ns()) {
                let due = clock.instant_of(stamp);
                // Sleep in short steps so Ctrl-C is seen.
                while Instant::now() < due && !options.stop.load(Ordering::Relaxed) {
                    std::thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
                }
            }
            match event {
                Event::Lidar { cloud, truth } => {
                    if options.max_sweeps.is_some_and(|m| sweeps >= m) {
                        break;
                    }
                    sweeps += 1;
                    metrics.count_sweep();
                    let sweep = SweepIn {
                        cloud,
                        truth,
                        released: Instant::now(),
                    };
                    if paced {
                        if send_latest(&lidar_tx, &lidar_rx_source, sweep) {
                            metrics.count_drop("lidar_stale");
                        }
                    } else if lidar_tx.send(sweep).is_err() {
                        break;
                    }
                }
                Event::Image { camera, image } => {
                    if camera_mode != CameraMode::Model {
                        continue;
                    }
                    let Some((tx, rx)) = camera_channels.get(camera) else {
                        drops.record(
                            &mut metrics,
                            "image_unknown_camera",
                            &format!("image for camera {camera}"),
                        );
                        continue;
                    };
                    metrics.camera(&format!("camera{camera}")).images_in += 1;
                    {
                        let mut state = shared.lock();
                        state.set_pending(camera, image.stamp_ns);
                        state.set_image(camera, image.clone());
                    }
                    let input = ImageIn {
                        image,
                        released: Instant::now(),
                    };
                    if paced {
                        if send_latest(tx, rx, input) {
                            metrics.count_drop(stale[camera].as_str());
                        }
                    } else if tx.send(input).is_err() {
                        break;
                    }
                }
                Event::Detections { camera, detections } => {
                    if camera_mode == CameraMode::Sim {
                        shared.lock().push_result(camera, detections);
                        shared.changed.notify_all();
                    }
                }
                Event::CameraCalib { camera, calib } => shared.lock().set_calib(camera, calib),
                Event::Odometry(pose) => shared.lock().push_pose(pose),
                Event::Skipped { reason, detail } => drops.record(&mut metrics, reason, &detail),
            }
        }
        drop(lidar_tx);
        drop(camera_channels);
        for handle in camera_handles {
            metrics.merge(join(handle)?);
        }
        metrics.merge(join(lidar_handle)?);
        metrics.merge(join(fusion_handle)?);
        metrics.merge(join(tracker_handle)?);
        let results = join(sink_handle)?;
        if let Some(e) = source_error {
            return Err(e.into());
        }
        Ok(RunSummary {
            results: results?,
            metrics: metrics.report(start.elapsed()),
            interrupted,
        })
    })
}
