//! fusionrt-runtime: wires the stages into one pipeline and measures their latency.
//!
//! In: one lidar sweep ([`PointCloud`]), the calibrated cameras and their recent 2D detections,
//! and optionally the odometry pose of the lidar (`world_from_lidar`). Out: tracks, in the world
//! frame when odometry is given (ego motion compensated), else in the lidar frame.
//!
//! Stages run in order on the calling thread: lidar -> fusion -> tracker. Each stage is a plain
//! struct from its own crate; this crate only owns the buffers between them, the per-stage
//! latency histograms and the pipeline config (the union of the stages' configs).
//!
//! Depends on fusionrt-core, -lidar, -fusion, -tracker. The threaded real-time runtime builds on
//! this same [`Pipeline`].

pub mod config;
pub mod latency;

pub use config::{BudgetConfig, DegradeConfig, PipelineConfig, RuntimeConfig};

use fusionrt_core::{CameraCalib, CameraDetections, FusedObject, Obstacle3D, PointCloud, Track};
use fusionrt_fusion::LateFusion;
use fusionrt_lidar::LidarDetector;
use fusionrt_tracker::Tracker;
use latency::{LatencySummary, StageLatency};
use nalgebra::{Isometry3, Vector3};
use serde::Serialize;
use std::time::Instant;

/// The inputs of one pipeline step.
#[derive(Clone, Copy, Debug)]
pub struct SensorFrame<'a> {
    /// The lidar sweep.
    pub cloud: &'a PointCloud,
    /// The calibrated cameras, indexed by `CameraDetections::camera_index`.
    pub cameras: &'a [CameraCalib],
    /// Recent camera detections (fusion pairs each camera's nearest frame with the sweep).
    pub camera_frames: &'a [CameraDetections],
    /// Odometry pose of the lidar at the sweep's stamp, when known.
    pub world_from_lidar: Option<Isometry3<f64>>,
}

/// Counts of what one step produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StepCounts {
    /// Obstacle candidates out of the lidar stage.
    pub obstacles: usize,
    /// Fused objects.
    pub fused: usize,
    /// Fused objects with camera support.
    pub fused_with_camera: usize,
    /// Tracks published.
    pub tracks: usize,
}

/// lidar -> fusion -> tracker, with reusable buffers and per-stage latency histograms.
#[derive(Debug)]
pub struct Pipeline {
    lidar: LidarDetector,
    fusion: LateFusion,
    tracker: Tracker,
    obstacles: Vec<Obstacle3D>,
    fused: Vec<FusedObject>,
    tracks: Vec<Track>,
    lidar_latency: StageLatency,
    fusion_latency: StageLatency,
    tracker_latency: StageLatency,
    total_latency: StageLatency,
}

impl Pipeline {
    /// Builds every stage; `id_seed` makes track ids distinct across runs.
    pub fn new(config: &PipelineConfig, id_seed: u64) -> Self {
        Self {
            lidar: LidarDetector::new(&config.lidar),
            fusion: LateFusion::new(&config.fusion),
            tracker: Tracker::new(&config.tracker, id_seed),
            obstacles: Vec::with_capacity(512),
            fused: Vec::with_capacity(512),
            tracks: Vec::with_capacity(512),
            lidar_latency: StageLatency::new("lidar"),
            fusion_latency: StageLatency::new("fusion"),
            tracker_latency: StageLatency::new("tracker"),
            total_latency: StageLatency::new("total"),
        }
    }

    /// Runs one sweep through all stages and returns the published tracks.
    pub fn process(&mut self, frame: &SensorFrame<'_>) -> &[Track] {
        let stamp_ns = frame.cloud.stamp_ns;
        let start = Instant::now();
        {
            let _span = tracing::debug_span!("lidar", stamp_ns).entered();
            self.lidar.process(frame.cloud, &mut self.obstacles);
        }
        let after_lidar = Instant::now();
        {
            let _span = tracing::debug_span!("fusion", stamp_ns).entered();
            self.fusion.process(
                stamp_ns,
                &self.obstacles,
                frame.cameras,
                frame.camera_frames,
                &mut self.fused,
            );
            if let Some(world_from_lidar) = frame.world_from_lidar {
                for object in &mut self.fused {
                    transform_object(&world_from_lidar, object);
                }
            }
        }
        let after_fusion = Instant::now();
        {
            let _span = tracing::debug_span!("tracker", stamp_ns).entered();
            self.tracker.update(stamp_ns, &self.fused, &mut self.tracks);
        }
        let end = Instant::now();
        self.lidar_latency.record(after_lidar - start);
        self.fusion_latency.record(after_fusion - after_lidar);
        self.tracker_latency.record(end - after_fusion);
        self.total_latency.record(end - start);
        &self.tracks
    }

    /// What the last step produced.
    pub fn last_counts(&self) -> StepCounts {
        StepCounts {
            obstacles: self.obstacles.len(),
            fused: self.fused.len(),
            fused_with_camera: self.fused.iter().filter(|o| o.support.has_camera()).count(),
            tracks: self.tracks.len(),
        }
    }

    /// Latency percentiles per stage (lidar, fusion, tracker) and for the whole step.
    pub fn latency(&self) -> Vec<LatencySummary> {
        [
            &self.lidar_latency,
            &self.fusion_latency,
            &self.tracker_latency,
            &self.total_latency,
        ]
        .iter()
        .map(|s| s.summary())
        .collect()
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
    fn shipped_config_parses_and_unknown_keys_are_rejected() {
        let shipped = include_str!("../../../launch/fusionrt.yaml");
        let parsed: PipelineConfig =
            fusionrt_core::config::parse_yaml(shipped, "launch/fusionrt.yaml").unwrap();
        // The shipped file documents the real defaults.
        assert_eq!(parsed, PipelineConfig::default());
        let err = fusionrt_core::config::parse_yaml::<PipelineConfig>("lidarr: {}\n", "p.yaml")
            .unwrap_err();
        assert!(err.to_string().contains("lidarr"), "{err}");
    }
}
