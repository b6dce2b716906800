//! The graph: sources -> stages -> sinks.
//!
//! A [`Source`] yields [`Event`]s: sensor data (lidar sweeps, camera images), detections of a
//! simulated camera, and state (camera calibrations, odometry). The stages are fixed: lidar ->
//! fusion (with each camera's detections) -> tracker; one camera stage per camera runs the
//! model on images when the graph's [`CameraMode`] is `Model`. [`Sink`]s receive one [`Output`]
//! per sweep (the tracks the tracker published, with the fused objects) and add their results
//! to the run's report at the end. Commands (`sim`, `kitti run`, `bench pipeline`, replay, the
//! ROS 2 node) are configurations of this graph: a source, a camera mode, sinks and an executor.

use crate::stage::Stamped;
use fusionrt_core::image::Image;
use fusionrt_core::{
    Box3, CameraCalib, CameraDetections, Detection2D, FusedObject, ObjectClass, PointCloud, Track,
};
use fusionrt_fusion::FusionReport;
use nalgebra::Isometry3;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use thiserror::Error;

/// A ground-truth object that came with a sweep (simulator, labelled data), for scoring sinks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TruthObject {
    /// Stable id.
    pub id: u64,
    /// Class.
    pub class: ObjectClass,
    /// Box in the world frame (the lidar frame when the source has no odometry).
    pub bbox: Box3,
    /// Lidar returns on the object in this sweep.
    pub lidar_points: u32,
}

/// One thing a source yields.
#[derive(Clone, Debug)]
pub enum Event {
    /// A lidar sweep, with the ground truth at its stamp when the source knows it.
    Lidar {
        /// The sweep, lidar frame.
        cloud: Arc<Stamped<PointCloud>>,
        /// Ground truth at the sweep's stamp.
        truth: Option<Arc<Vec<TruthObject>>>,
    },
    /// A camera image (runs the camera model in [`CameraMode::Model`]).
    Image {
        /// Camera index.
        camera: usize,
        /// The image.
        image: Arc<Stamped<Image>>,
    },
    /// Detections of a simulated camera, stamped at its exposure (used in [`CameraMode::Sim`]).
    Detections {
        /// Camera index.
        camera: usize,
        /// The detections.
        detections: Arc<Stamped<Vec<Detection2D>>>,
    },
    /// A camera's calibration (intrinsics and `camera_from_lidar`), state.
    CameraCalib {
        /// Camera index.
        camera: usize,
        /// The calibration.
        calib: CameraCalib,
    },
    /// The lidar's pose in the world at a stamp (odometry times the lidar mount), state.
    Odometry(Stamped<Isometry3<f64>>),
    /// An input the source could not use (a corrupt file, a bad message): dropped and counted
    /// with its reason; the run goes on.
    Skipped {
        /// Counter name (`lidar_bad_input`, `image_bad_input`).
        reason: &'static str,
        /// What was wrong and where (file, topic, field).
        detail: String,
    },
}

impl Event {
    /// The event's stamp (None for calibrations and skipped inputs).
    pub fn stamp_ns(&self) -> Option<i64> {
        match self {
            Event::Lidar { cloud, .. } => Some(cloud.stamp_ns),
            Event::Image { image, .. } => Some(image.stamp_ns),
            Event::Detections { detections, .. } => Some(detections.stamp_ns),
            Event::Odometry(o) => Some(o.stamp_ns),
            Event::CameraCalib { .. } | Event::Skipped { .. } => None,
        }
    }

    /// Shifts every stamp by `offset_ns` (looping a short source).
    pub fn shift(&mut self, offset_ns: i64) {
        fn shift_arc<T: Clone>(a: &mut Arc<Stamped<T>>, offset_ns: i64) {
            let s = Arc::make_mut(a);
            s.stamp_ns += offset_ns;
        }
        match self {
            Event::Lidar { cloud, .. } => {
                shift_arc(cloud, offset_ns);
                Arc::make_mut(cloud).data.stamp_ns += offset_ns;
            }
            Event::Image { image, .. } => {
                shift_arc(image, offset_ns);
                Arc::make_mut(image).data.stamp_ns += offset_ns;
            }
            Event::Detections { detections, .. } => shift_arc(detections, offset_ns),
            Event::Odometry(o) => o.stamp_ns += offset_ns,
            Event::CameraCalib { .. } | Event::Skipped { .. } => {}
        }
    }

    /// True for sensor data that a real-time source paces by its stamp.
    pub fn is_sensor_data(&self) -> bool {
        matches!(self, Event::Lidar { .. } | Event::Image { .. })
    }
}

/// Why a source cannot go on.
#[derive(Debug, Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    /// The source (a path, a scenario name).
    pub source_name: String,
    /// What went wrong.
    pub message: String,
}

/// What a source knows about itself before it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// A name for reports (`urban`, a folder).
    pub name: String,
    /// Number of cameras it may send images, detections or calibrations for.
    pub cameras: usize,
    /// Sweeps it will yield, when known.
    pub sweeps: Option<u64>,
    /// Nominal lidar period, ns.
    pub period_ns: i64,
}

/// A stream of events; lidar sweeps come in stamp order, and each sweep comes after the
/// camera data and state it should be fused with.
pub trait Source: Send {
    /// What the source is.
    fn info(&self) -> SourceInfo;
    /// The next event; `Ok(None)` at the end.
    fn next_event(&mut self) -> Result<Option<Event>, SourceError>;
    /// Starts again from the first event (for looping); false when it cannot.
    fn rewind(&mut self) -> Result<bool, SourceError> {
        Ok(false)
    }
}

/// Plays a source again and again, each pass shifted in time after the previous one, until
/// the executor has the sweeps it wants (`bench pipeline --frames` beyond a short recording).
pub struct Looping<S> {
    inner: S,
    offset_ns: i64,
    first_stamp_ns: Option<i64>,
    last_stamp_ns: i64,
    passes: u64,
}

impl<S: Source> Looping<S> {
    /// Loops `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            offset_ns: 0,
            first_stamp_ns: None,
            last_stamp_ns: 0,
            passes: 0,
        }
    }
}

impl<S: Source> Source for Looping<S> {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            sweeps: None,
            ..self.inner.info()
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
        loop {
            if let Some(mut event) = self.inner.next_event()? {
                if let Some(stamp) = event.stamp_ns() {
                    if self.passes == 0 {
                        self.first_stamp_ns.get_or_insert(stamp);
                    }
                    event.shift(self.offset_ns);
                    self.last_stamp_ns = self.last_stamp_ns.max(stamp + self.offset_ns);
                }
                return Ok(Some(event));
            }
            let Some(first) = self.first_stamp_ns else {
                return Ok(None); // an empty source stays empty
            };
            if !self.inner.rewind()? {
                return Ok(None);
            }
            self.passes += 1;
            self.offset_ns = self.last_stamp_ns + self.inner.info().period_ns - first;
        }
    }
}

/// Which camera path the graph runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraMode {
    /// No camera: lidar-only objects.
    None,
    /// Detections from the source (the simulator's camera model).
    Sim,
    /// The ONNX model on the source's images, one camera stage per camera.
    Model,
}

/// What the graph publishes for one sweep.
#[derive(Clone, Debug)]
pub struct Output {
    /// Index of the sweep in this run, from 0.
    pub sweep: u64,
    /// The sweep's sensor stamp, ns.
    pub stamp_ns: i64,
    /// The sweep's sequence number at its source.
    pub seq: u64,
    /// Frame of the tracks: `world` with odometry, else the sweep's frame.
    pub frame_id: Arc<str>,
    /// The tracks the tracker published.
    pub tracks: Vec<Track>,
    /// The fused objects the tracker was given.
    pub fused: Vec<FusedObject>,
    /// The camera detection frames fusion was given (each camera's recent frames).
    pub camera_frames: Vec<CameraDetections>,
    /// What fusion did with each camera.
    pub fusion_report: FusionReport,
    /// Lidar pose used (None: outputs are in the lidar frame).
    pub world_from_lidar: Option<Isometry3<f64>>,
    /// Ground truth that came with the sweep.
    pub truth: Option<Arc<Vec<TruthObject>>>,
    /// The sweep itself (lidar frame), for sinks that show or record it.
    pub cloud: Arc<Stamped<PointCloud>>,
    /// Each camera's newest image at the sweep (camera model mode only), indexed by camera
    /// (None before the camera's first image).
    pub images: Vec<Option<Arc<Stamped<Image>>>>,
    /// What each stage took on this sweep (live figures for /diagnostics; never written to
    /// deterministic outputs).
    pub processing: SweepTimings,
}

/// Processing time of each stage on one sweep (zero where a stage failed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepTimings {
    /// The lidar stage.
    pub lidar: std::time::Duration,
    /// Fusion.
    pub fusion: std::time::Duration,
    /// The tracker.
    pub tracker: std::time::Duration,
}

/// Why a sink failed (its output is incomplete: the run stops and says so).
#[derive(Debug, Error)]
#[error("{sink}: {message}")]
pub struct SinkError {
    /// The sink (usually its file).
    pub sink: String,
    /// What went wrong.
    pub message: String,
}

/// Results a sink adds to the report (deterministic: no timings), by section name.
pub type Results = BTreeMap<String, serde_json::Value>;

/// Where outputs go.
pub trait Sink: Send {
    /// One sweep's output, in sweep order.
    fn publish(&mut self, output: &Output) -> Result<(), SinkError>;
    /// The run is over (or was stopped): flush, and add results to the report.
    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError>;
}

/// How a run is driven.
#[derive(Clone)]
pub struct RunOptions {
    /// Stop after this many sweeps.
    pub max_sweeps: Option<u64>,
    /// Play at sensor rate times this factor (real-time executor); None: as fast as possible
    /// with back-pressure (nothing dropped for staleness).
    pub rate_factor: Option<f64>,
    /// Set by Ctrl-C: the run ends cleanly after the sweep in progress.
    pub stop: Arc<AtomicBool>,
    /// Called with the number of sweeps published so far (progress bars).
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            max_sweeps: None,
            rate_factor: None,
            stop: Arc::new(AtomicBool::new(false)),
            progress: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sweeps 100 ms apart, then the end.
    struct Two {
        next: usize,
    }

    impl Source for Two {
        fn info(&self) -> SourceInfo {
            SourceInfo {
                name: "two".into(),
                cameras: 0,
                sweeps: Some(2),
                period_ns: 100,
            }
        }
        fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
            if self.next == 2 {
                return Ok(None);
            }
            let stamp = 1000 + 100 * self.next as i64;
            self.next += 1;
            let cloud = PointCloud {
                stamp_ns: stamp,
                ..PointCloud::default()
            };
            Ok(Some(Event::Lidar {
                cloud: Arc::new(Stamped::new(stamp, "velodyne".into(), 0, cloud)),
                truth: None,
            }))
        }
        fn rewind(&mut self) -> Result<bool, SourceError> {
            self.next = 0;
            Ok(true)
        }
    }

    #[test]
    fn looping_continues_the_stamps_one_period_apart() {
        let mut s = Looping::new(Two { next: 0 });
        let stamps: Vec<i64> = (0..6)
            .map(|_| s.next_event().unwrap().unwrap().stamp_ns().unwrap())
            .collect();
        assert_eq!(stamps, [1000, 1100, 1200, 1300, 1400, 1500]);
        if let Some(Event::Lidar { cloud, .. }) = s.next_event().unwrap() {
            assert_eq!(cloud.data.stamp_ns, 1600, "the cloud's own stamp moves too");
        }
    }
}
