//! The graph's state between sweeps: each camera's calibration and recent detections, and the
//! lidar's recent poses. Sources feed it; fusion reads it for each sweep.
//!
//! Per camera it keeps the last [`HISTORY`] detection frames; fusion is given those within
//! `runtime.camera_max_age_ms` of the sweep and pairs the nearest one within its own tolerance.
//! A camera with nothing recent enough is counted: `camera<i>_too_old` when it has only older
//! frames, `camera<i>_not_ready` when it has none.

use crate::metrics::Metrics;
use crate::stage::Stamped;
use fusionrt_core::image::Image;
use fusionrt_core::{CameraCalib, CameraDetections, Detection2D};
use nalgebra::Isometry3;
use std::collections::VecDeque;
use std::sync::Arc;

/// Detection frames kept per camera.
pub const HISTORY: usize = 8;
/// Poses kept.
const POSE_HISTORY: usize = 16;

/// One camera's detections, stamped with its image.
pub type CameraResult = Arc<Stamped<Vec<Detection2D>>>;

/// Calibrations, recent detections and poses.
#[derive(Debug)]
pub struct GraphState {
    calibs: Vec<Option<CameraCalib>>,
    results: Vec<VecDeque<CameraResult>>,
    pending_stamp_ns: Vec<Option<i64>>,
    poses: VecDeque<Stamped<Isometry3<f64>>>,
    images: Vec<Option<Arc<Stamped<Image>>>>,
    not_ready: Vec<String>,
    too_old: Vec<String>,
    no_calib: Vec<String>,
}

impl GraphState {
    /// State for `cameras` cameras.
    pub fn new(cameras: usize) -> Self {
        Self {
            calibs: vec![None; cameras],
            results: (0..cameras)
                .map(|_| VecDeque::with_capacity(HISTORY))
                .collect(),
            pending_stamp_ns: vec![None; cameras],
            poses: VecDeque::with_capacity(POSE_HISTORY),
            images: vec![None; cameras],
            not_ready: (0..cameras)
                .map(|i| format!("camera{i}_not_ready"))
                .collect(),
            too_old: (0..cameras).map(|i| format!("camera{i}_too_old")).collect(),
            no_calib: (0..cameras)
                .map(|i| format!("camera{i}_no_calib"))
                .collect(),
        }
    }

    /// Number of cameras.
    pub fn cameras(&self) -> usize {
        self.calibs.len()
    }

    /// Sets camera `i`'s calibration (ignored past the known cameras).
    pub fn set_calib(&mut self, i: usize, calib: CameraCalib) {
        if let Some(slot) = self.calibs.get_mut(i) {
            *slot = Some(calib);
        }
    }

    /// Adds camera `i`'s newest detections.
    pub fn push_result(&mut self, i: usize, result: CameraResult) {
        if let Some(q) = self.results.get_mut(i) {
            if q.len() == HISTORY {
                q.pop_front();
            }
            q.push_back(result);
        }
    }

    /// Notes that camera `i` was handed an image stamped `stamp_ns` (its result is on the way).
    pub fn set_pending(&mut self, i: usize, stamp_ns: i64) {
        if let Some(slot) = self.pending_stamp_ns.get_mut(i) {
            *slot = Some(stamp_ns);
        }
    }

    /// Keeps camera `i`'s newest image (a reference, for sinks that show it).
    pub fn set_image(&mut self, i: usize, image: Arc<Stamped<Image>>) {
        if let Some(slot) = self.images.get_mut(i) {
            *slot = Some(image);
        }
    }

    /// Each camera's newest image, indexed by camera (None before its first), into a reused
    /// buffer.
    pub fn latest_images(&self, out: &mut Vec<Option<Arc<Stamped<Image>>>>) {
        out.clear();
        out.extend(self.images.iter().cloned());
    }

    /// Adds a lidar pose.
    pub fn push_pose(&mut self, pose: Stamped<Isometry3<f64>>) {
        if self.poses.len() == POSE_HISTORY {
            self.poses.pop_front();
        }
        self.poses.push_back(pose);
    }

    /// The pose nearest `stamp_ns` within `tolerance_ns`.
    pub fn pose_at(&self, stamp_ns: i64, tolerance_ns: i64) -> Option<Isometry3<f64>> {
        self.poses
            .iter()
            .filter(|p| (p.stamp_ns - stamp_ns).abs() <= tolerance_ns)
            .min_by_key(|p| (p.stamp_ns - stamp_ns).abs())
            .map(|p| p.data)
    }

    /// True when camera `i` has no result within `tolerance_ns` of the sweep but has been
    /// handed an image within it: waiting may pay.
    pub fn worth_waiting(&self, i: usize, sweep_stamp_ns: i64, tolerance_ns: i64) -> bool {
        let near = |s: i64| (s - sweep_stamp_ns).abs() <= tolerance_ns;
        let have = self.results[i].iter().any(|r| near(r.stamp_ns));
        !have && self.pending_stamp_ns[i].is_some_and(near)
    }

    /// The calibrated cameras (in index order, up to the first without calibration) and the
    /// detection frames within `max_age_ns` of the sweep, into reused buffers; counts what
    /// each camera could not give.
    pub fn gather(
        &self,
        sweep_stamp_ns: i64,
        max_age_ns: i64,
        calibs: &mut Vec<CameraCalib>,
        frames: &mut Vec<CameraDetections>,
        metrics: &mut Metrics,
    ) {
        calibs.clear();
        let mut used = 0;
        for (i, calib) in self.calibs.iter().enumerate() {
            match calib {
                Some(c) if calibs.len() == i => calibs.push(c.clone()),
                _ => metrics.count_miss(self.no_calib[i].as_str()),
            }
        }
        for (i, results) in self.results.iter().enumerate().take(calibs.len()) {
            let mut any = false;
            for r in results {
                if (r.stamp_ns - sweep_stamp_ns).abs() <= max_age_ns {
                    any = true;
                    if used == frames.len() {
                        frames.push(CameraDetections::default());
                    }
                    let f = &mut frames[used];
                    f.camera_index = i;
                    f.stamp_ns = r.stamp_ns;
                    f.detections.clone_from(&r.data);
                    used += 1;
                }
            }
            if !any {
                if results.is_empty() {
                    metrics.count_miss(self.not_ready[i].as_str());
                } else {
                    metrics.count_miss(self.too_old[i].as_str());
                }
            }
        }
        frames.truncate(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::CameraModel;

    fn calib() -> CameraCalib {
        CameraCalib {
            name: "front".into(),
            frame_id: "camera0".into(),
            model: CameraModel::pinhole(100, 100, 50.0, 50.0, 50.0, 50.0),
            camera_from_lidar: Isometry3::identity(),
        }
    }

    fn result(stamp_ns: i64) -> CameraResult {
        Arc::new(Stamped::new(stamp_ns, "camera0".into(), 0, Vec::new()))
    }

    #[test]
    fn old_and_missing_camera_frames_are_counted_not_fused() {
        let mut state = GraphState::new(2);
        state.set_calib(0, calib());
        state.set_calib(1, calib());
        state.push_result(0, result(0));
        state.push_result(0, result(100));
        let (mut calibs, mut frames, mut metrics) = (Vec::new(), Vec::new(), Metrics::default());
        state.gather(150, 60, &mut calibs, &mut frames, &mut metrics);
        assert_eq!(calibs.len(), 2);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].stamp_ns, 100);
        state.gather(1000, 60, &mut calibs, &mut frames, &mut metrics);
        assert!(frames.is_empty());
        let r = metrics.report(std::time::Duration::from_secs(1));
        assert_eq!(r.misses["camera0_too_old"], 1);
        assert_eq!(r.misses["camera1_not_ready"], 2);
    }

    #[test]
    fn waiting_pays_only_for_an_image_in_flight_near_the_sweep() {
        let mut state = GraphState::new(1);
        assert!(!state.worth_waiting(0, 100, 10));
        state.set_pending(0, 95);
        assert!(state.worth_waiting(0, 100, 10));
        state.push_result(0, result(95));
        assert!(!state.worth_waiting(0, 100, 10));
    }

    #[test]
    fn latest_images_keep_the_newest_per_camera() {
        let mut state = GraphState::new(2);
        let image = |s: i64| {
            let data = Image {
                stamp_ns: s,
                frame_id: "camera1".into(),
                width: 1,
                height: 1,
                encoding: fusionrt_core::image::Encoding::Mono8,
                step: 1,
                data: vec![0],
            };
            Arc::new(Stamped::new(s, "camera1".into(), 0, data))
        };
        state.set_image(1, image(10));
        state.set_image(1, image(20));
        state.set_image(5, image(30)); // no such camera: ignored
        let mut out = Vec::new();
        state.latest_images(&mut out);
        assert_eq!(out.len(), 2, "one slot per camera");
        assert!(out[0].is_none(), "camera 0 has no image yet");
        assert_eq!(out[1].as_ref().map(|i| i.stamp_ns), Some(20));
    }

    #[test]
    fn pose_nearest_within_tolerance() {
        let mut state = GraphState::new(0);
        for s in [0, 100, 200] {
            state.push_pose(Stamped::new(
                s,
                "world".into(),
                0,
                Isometry3::translation(s as f64, 0.0, 0.0),
            ));
        }
        assert_eq!(state.pose_at(110, 20).unwrap().translation.x, 100.0);
        assert!(state.pose_at(150, 20).is_none());
    }
}
