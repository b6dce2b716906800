//! The stage contract: every stage is a struct whose `new` validates its config and allocates,
//! and whose [`Stage::process`] turns one input into one output, reusing the output's buffers.
//!
//! A stage never sleeps, spawns, does IO or reads the time itself: the executor hands it a
//! [`Ctx`] with the [`Clock`] and the stage's budget, and measures it. Messages travel between
//! stages as `Arc<Stamped<T>>`: the sensor stamp, frame id and sequence number go with the data
//! from the source to the sinks.
//!
//! The four stages wrap the algorithm crates without changing them: [`LidarStage`]
//! (fusionrt-lidar), [`CameraStage`] (fusionrt-camera, one per camera), [`FusionStage`]
//! (fusionrt-fusion) and [`TrackerStage`] (fusionrt-tracker).

use crate::config::PipelineConfig;
use crate::degrade::TileGovernor;
use fusionrt_camera::{CameraDetector, CameraError};
use fusionrt_core::config::ConfigError;
use fusionrt_core::image::Image;
use fusionrt_core::{
    CameraCalib, CameraDetections, Detection2D, FusedObject, Obstacle3D, PointCloud, Track,
};
use fusionrt_fusion::{FusionReport, LateFusion};
use fusionrt_lidar::LidarDetector;
use fusionrt_tracker::Tracker;
use nalgebra::{Isometry3, Vector3};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// A message with where and when it came from.
#[derive(Clone, Debug)]
pub struct Stamped<T> {
    /// Sensor stamp (capture time), ns, on the data's time base.
    pub stamp_ns: i64,
    /// Frame the data is expressed in (`velodyne`, `camera0`, ...).
    pub frame_id: Arc<str>,
    /// Sequence number per source stream, from 0.
    pub seq: u64,
    /// The data.
    pub data: T,
}

impl<T> Stamped<T> {
    /// Wraps `data`.
    pub fn new(stamp_ns: i64, frame_id: Arc<str>, seq: u64, data: T) -> Self {
        Self {
            stamp_ns,
            frame_id,
            seq,
            data,
        }
    }
}

/// Where "now" comes from. Stage costs are measured with a monotonic clock in any case; a
/// `Clock` gives the time on the data's time base, so that `now - stamp` is the age of a
/// message (pipeline latency).
pub trait Clock: Send + Sync {
    /// Now, ns, on the same time base as the sensor stamps.
    fn now_ns(&self) -> i64;
}

/// Wall time (UNIX epoch), for live sensors whose stamps are wall time.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ns(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// Data time that runs with the wall clock from a start stamp, `rate` times as fast: replay at
/// sensor rate (`rate` 1) or faster. A message released when this clock reaches its stamp has
/// age `now - stamp` (data time) from then on.
#[derive(Clone, Copy, Debug)]
pub struct ReplayClock {
    start: Instant,
    start_stamp_ns: i64,
    rate: f64,
}

impl ReplayClock {
    /// A clock reading `start_stamp_ns` now and running `rate` times as fast as the wall clock
    /// (`rate` is clamped to at least 1e-3).
    pub fn starting_at(start_stamp_ns: i64, rate: f64) -> Self {
        Self {
            start: Instant::now(),
            start_stamp_ns,
            rate: if rate.is_finite() {
                rate.max(1e-3)
            } else {
                1.0
            },
        }
    }

    /// The monotonic instant at which this clock reads `stamp_ns` (its start when earlier).
    pub fn instant_of(&self, stamp_ns: i64) -> Instant {
        let ahead = stamp_ns.saturating_sub(self.start_stamp_ns).max(0) as f64 / self.rate;
        self.start + Duration::from_secs_f64(ahead.min(1e18) * 1e-9)
    }

    /// Wall-clock nanoseconds since this clock read `stamp_ns` (negative before).
    pub fn wall_age_ns(&self, stamp_ns: i64) -> i64 {
        (self.now_ns().saturating_sub(stamp_ns) as f64 / self.rate) as i64
    }
}

impl Clock for ReplayClock {
    fn now_ns(&self) -> i64 {
        let elapsed = self.start.elapsed().as_nanos() as f64 * self.rate;
        self.start_stamp_ns.saturating_add(elapsed as i64)
    }
}

/// Data time for the deterministic executor: while an event is processed, now is its stamp
/// plus the monotonic time spent on it so far, so `now - stamp` is the time the graph took,
/// as if every message arrived at its stamp. Outputs never depend on it, only metrics.
#[derive(Debug)]
pub struct EventClock {
    current: Mutex<(i64, Instant)>,
}

impl Default for EventClock {
    fn default() -> Self {
        Self {
            current: Mutex::new((0, Instant::now())),
        }
    }
}

impl EventClock {
    /// Starts the clock for an event stamped `stamp_ns`.
    pub fn start_event(&self, stamp_ns: i64) {
        self.start_event_at(stamp_ns, Instant::now());
    }

    /// Starts the clock for an event stamped `stamp_ns` that arrived at `arrived`.
    pub fn start_event_at(&self, stamp_ns: i64, arrived: Instant) {
        if let Ok(mut c) = self.current.lock() {
            *c = (stamp_ns, arrived);
        }
    }
}

impl Clock for EventClock {
    fn now_ns(&self) -> i64 {
        match self.current.lock() {
            Ok(c) => {
                let elapsed = i64::try_from(c.1.elapsed().as_nanos()).unwrap_or(i64::MAX);
                c.0.saturating_add(elapsed)
            }
            Err(_) => 0,
        }
    }
}

/// What a stage gets with each input.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The graph's clock.
    pub clock: &'a dyn Clock,
    /// The stage's processing budget.
    pub budget: Duration,
    /// Sensor stamp of the input, ns.
    pub stamp_ns: i64,
}

/// What one `process` call did, beyond its output.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageStats {
    /// Items in the output (obstacles, detections, fused objects, published tracks).
    pub items_out: usize,
    /// Items in the input that were invalid and skipped.
    pub skipped: usize,
    /// Model passes run (camera tiles); 0 for other stages.
    pub passes: u32,
}

/// Why a stage could not process an input. The input is dropped and counted; the stage keeps
/// running.
#[derive(Debug, Error)]
pub enum StageError {
    /// The input is unusable (too large, inconsistent).
    #[error("{stage}: {reason}")]
    BadInput {
        /// The stage.
        stage: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The camera model failed on this input.
    #[error("camera: {0}")]
    Camera(#[from] CameraError),
}

impl StageError {
    /// A short reason for counters (`bad_input`, `camera_error`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadInput { .. } => "bad_input",
            Self::Camera(_) => "camera_error",
        }
    }
}

/// Why a stage could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// The lidar config is invalid.
    #[error("lidar config: {0}")]
    Lidar(#[from] ConfigError),
    /// The camera could not start (model, ONNX Runtime, providers).
    #[error("camera: {0}")]
    Camera(#[from] CameraError),
}

/// One stage: `process` reads `input` and writes `output`, reusing its buffers.
pub trait Stage<I: ?Sized, O> {
    /// The stage's name in metrics and logs.
    fn name(&self) -> &str;
    /// Processes one input.
    fn process(
        &mut self,
        ctx: &Ctx<'_>,
        input: &I,
        output: &mut O,
    ) -> Result<StageStats, StageError>;
}

/// Lidar sweep -> obstacle candidates.
#[derive(Debug)]
pub struct LidarStage {
    detector: LidarDetector,
    max_points: usize,
}

impl LidarStage {
    /// Validates the lidar config and allocates.
    pub fn new(config: &PipelineConfig) -> Result<Self, BuildError> {
        Ok(Self {
            detector: LidarDetector::try_new(&config.lidar)?,
            max_points: config.runtime.max_points_per_sweep,
        })
    }
}

impl LidarStage {
    /// Runs the detector once on a synthetic sweep (see [`LidarDetector::warm_up`]).
    pub fn warm_up(&mut self) {
        self.detector.warm_up();
    }
}

impl Stage<PointCloud, Vec<Obstacle3D>> for LidarStage {
    fn name(&self) -> &str {
        "lidar"
    }

    fn process(
        &mut self,
        ctx: &Ctx<'_>,
        cloud: &PointCloud,
        out: &mut Vec<Obstacle3D>,
    ) -> Result<StageStats, StageError> {
        let _span = tracing::debug_span!("lidar", stamp_ns = ctx.stamp_ns).entered();
        if cloud.len() > self.max_points {
            out.clear();
            return Err(StageError::BadInput {
                stage: "lidar",
                reason: format!(
                    "sweep of {} points is over runtime.max_points_per_sweep ({})",
                    cloud.len(),
                    self.max_points
                ),
            });
        }
        let stats = self.detector.process(cloud, out);
        Ok(StageStats {
            items_out: stats.obstacles,
            ..StageStats::default()
        })
    }
}

/// Camera image -> 2D detections, with the model through ONNX Runtime. Allocations per frame:
/// the ONNX Runtime run itself (its output tensors and value handles, a few per tile) and the
/// decoder's view list, bounded by the tile count; the stage's own buffers are reused.
#[derive(Debug)]
pub struct CameraStage {
    name: String,
    detector: CameraDetector,
    max_pixels: usize,
    governor: TileGovernor,
}

impl CameraStage {
    /// Loads the model (checked against its card) and warms it up. `index` names the stage
    /// `camera<index>`.
    pub fn new(config: &PipelineConfig, index: usize) -> Result<Self, BuildError> {
        let detector = CameraDetector::new(&config.camera)?;
        Ok(Self {
            name: format!("camera{index}"),
            detector,
            max_pixels: config.runtime.max_image_pixels,
            governor: TileGovernor::new(config.camera.tiles, &config.runtime),
        })
    }

    /// The tile count the next frame runs with.
    pub fn tiles(&self) -> u32 {
        self.governor.tiles()
    }

    /// The degrade policy's state.
    pub fn governor(&self) -> &TileGovernor {
        &self.governor
    }

    /// Turns the degrade policy off (deterministic runs) or back on as configured.
    pub fn set_adaptive(&mut self, adaptive: bool) {
        self.governor.set_enabled(adaptive);
    }

    /// Feeds the policy with the last frame's inference time (real-time executor only: the
    /// deterministic executor keeps the configured tiles so results do not depend on timing).
    /// Returns the tile change it made, if any.
    pub fn adapt(&mut self, inference: Duration, budget: Duration) -> Option<(u32, u32)> {
        let change = self.governor.observe(inference, budget);
        if let Some((_, to)) = change {
            self.detector.set_tiles(to);
        }
        change
    }
}

impl Stage<Image, Vec<Detection2D>> for CameraStage {
    fn name(&self) -> &str {
        &self.name
    }

    fn process(
        &mut self,
        ctx: &Ctx<'_>,
        image: &Image,
        out: &mut Vec<Detection2D>,
    ) -> Result<StageStats, StageError> {
        let _span = tracing::debug_span!("camera", stamp_ns = ctx.stamp_ns).entered();
        let pixels = image.width as usize * image.height as usize;
        if pixels > self.max_pixels {
            out.clear();
            return Err(StageError::BadInput {
                stage: "camera",
                reason: format!(
                    "image of {} x {} px is over runtime.max_image_pixels ({})",
                    image.width, image.height, self.max_pixels
                ),
            });
        }
        let timings = self.detector.detect(image, out)?;
        Ok(StageStats {
            items_out: out.len(),
            skipped: 0,
            passes: timings.passes,
        })
    }
}

/// The inputs of fusion for one sweep.
#[derive(Clone, Copy, Debug)]
pub struct FusionInput<'a> {
    /// The sweep's obstacle candidates, lidar frame.
    pub obstacles: &'a [Obstacle3D],
    /// Calibrated cameras by index.
    pub cameras: &'a [CameraCalib],
    /// Camera detections that may pair with the sweep (fusion takes each camera's nearest).
    pub camera_frames: &'a [CameraDetections],
    /// Odometry pose of the lidar at the sweep, when known: outputs move into the world frame.
    pub world_from_lidar: Option<Isometry3<f64>>,
}

/// Obstacles + camera detections -> classified objects (lidar frame, or world with odometry).
#[derive(Debug)]
pub struct FusionStage {
    fusion: LateFusion,
    last_report: FusionReport,
}

impl FusionStage {
    /// Allocates the fusion buffers.
    pub fn new(config: &PipelineConfig) -> Self {
        Self {
            fusion: LateFusion::new(&config.fusion),
            last_report: FusionReport::default(),
        }
    }

    /// What the last sweep's fusion did per camera.
    pub fn last_report(&self) -> &FusionReport {
        &self.last_report
    }
}

impl<'a> Stage<FusionInput<'a>, Vec<FusedObject>> for FusionStage {
    fn name(&self) -> &str {
        "fusion"
    }

    fn process(
        &mut self,
        ctx: &Ctx<'_>,
        input: &FusionInput<'a>,
        out: &mut Vec<FusedObject>,
    ) -> Result<StageStats, StageError> {
        self.last_report = self.fusion.process(
            ctx.stamp_ns,
            input.obstacles,
            input.cameras,
            input.camera_frames,
            out,
        );
        if let Some(world_from_lidar) = input.world_from_lidar {
            for object in out.iter_mut() {
                transform_object(&world_from_lidar, object);
            }
        }
        Ok(StageStats {
            items_out: out.len(),
            skipped: self.last_report.obstacles_invalid as usize,
            passes: 0,
        })
    }
}

/// Fused objects -> published tracks. The tracker alone decides what is published.
#[derive(Debug)]
pub struct TrackerStage {
    tracker: Tracker,
}

impl TrackerStage {
    /// Allocates the tracker; `id_seed` makes track ids distinct across runs.
    pub fn new(config: &PipelineConfig, id_seed: u64) -> Self {
        Self {
            tracker: Tracker::new(&config.tracker, id_seed),
        }
    }
}

impl Stage<[FusedObject], Vec<Track>> for TrackerStage {
    fn name(&self) -> &str {
        "tracker"
    }

    fn process(
        &mut self,
        ctx: &Ctx<'_>,
        objects: &[FusedObject],
        out: &mut Vec<Track>,
    ) -> Result<StageStats, StageError> {
        let skipped_before = self.tracker.skipped_invalid();
        self.tracker.update(ctx.stamp_ns, objects, out);
        Ok(StageStats {
            items_out: out.len(),
            skipped: (self.tracker.skipped_invalid() - skipped_before) as usize,
            passes: 0,
        })
    }
}

/// Moves a fused object from the lidar frame into the world frame (position and heading).
fn transform_object(world_from_lidar: &Isometry3<f64>, object: &mut FusedObject) {
    let b = &mut object.bbox;
    b.center = world_from_lidar.transform_point(&b.center.into()).coords;
    let heading =
        world_from_lidar.transform_vector(&Vector3::new(b.yaw_rad.cos(), b.yaw_rad.sin(), 0.0));
    b.yaw_rad = heading.y.atan2(heading.x);
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::{Box3, ClassProbs, ObjectClass, SensorSupport};
    use nalgebra::{Translation3, UnitQuaternion};

    #[test]
    fn objects_move_into_the_world_frame_with_their_heading() {
        let world_from_lidar = Isometry3::from_parts(
            Translation3::new(10.0, 5.0, 0.0),
            UnitQuaternion::from_euler_angles(0.0, 0.0, std::f64::consts::FRAC_PI_2),
        );
        let mut object = FusedObject {
            bbox: Box3::new(
                Vector3::new(2.0, 0.0, 1.0),
                Vector3::new(4.0, 2.0, 1.5),
                0.0,
            ),
            class: ObjectClass::Car,
            class_probs: ClassProbs::one_hot(ObjectClass::Car),
            score: 0.9,
            support: SensorSupport::default(),
            camera_box: None,
        };
        transform_object(&world_from_lidar, &mut object);
        let c = object.bbox.center;
        assert!((c.x - 10.0).abs() < 1e-9 && (c.y - 7.0).abs() < 1e-9 && (c.z - 1.0).abs() < 1e-9);
        assert!((object.bbox.yaw_rad - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
    }

    #[test]
    fn replay_clock_runs_from_its_start_stamp() {
        let clock = ReplayClock::starting_at(5_000_000_000, 1.0);
        let now = clock.now_ns();
        assert!((5_000_000_000..5_000_000_000 + 1_000_000_000).contains(&now));
        assert!(clock.instant_of(4_000_000_000) <= Instant::now());
    }

    #[test]
    fn event_clock_reads_the_event_stamp_plus_time_spent() {
        let clock = EventClock::default();
        clock.start_event(42_000);
        let now = clock.now_ns();
        assert!((42_000..42_000 + 1_000_000_000).contains(&now), "{now}");
    }

    #[test]
    fn lidar_stage_refuses_a_sweep_over_the_point_limit() {
        let mut config = PipelineConfig::default();
        config.runtime.max_points_per_sweep = 3;
        let mut stage = LidarStage::new(&config).unwrap();
        let mut cloud = PointCloud::default();
        for i in 0..4 {
            cloud.push_xyz(i as f32, 0.0, 0.0);
        }
        let clock = EventClock::default();
        let ctx = Ctx {
            clock: &clock,
            budget: Duration::from_millis(10),
            stamp_ns: 0,
        };
        let err = stage.process(&ctx, &cloud, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("max_points_per_sweep"), "{err}");
        assert_eq!(err.reason(), "bad_input");
    }
}
