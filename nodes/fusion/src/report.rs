//! What one fusion step did: per camera, whether it was used and why not, and counts.

use serde::Serialize;

/// The most cameras one fusion step handles (the width of [`fusionrt_core::SensorSupport`]'s
/// camera mask).
pub const MAX_CAMERAS: usize = 8;

/// Whether a camera took part in a fusion step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum CameraStatus {
    /// No frame of this camera was offered.
    #[default]
    Missing,
    /// The nearest frame was used; `offset_ns` = camera stamp - lidar stamp.
    Used {
        /// Camera stamp minus lidar stamp, ns.
        offset_ns: i64,
    },
    /// The nearest frame was further from the sweep than the tolerance.
    TooFarApart {
        /// Camera stamp minus lidar stamp, ns.
        offset_ns: i64,
    },
    /// The calibration failed validation ([`crate::LateFusion::calib_error`] says why).
    InvalidCalib,
}

/// One camera's part in a fusion step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CameraReport {
    /// Used, missing, too far apart, or unusable calibration.
    pub status: CameraStatus,
    /// Detections in the chosen frame.
    pub detections: u32,
    /// Detections with a non-finite or inverted box.
    pub rejected_invalid: u32,
    /// Detections entirely outside the image.
    pub rejected_outside: u32,
    /// Detections below the score threshold.
    pub below_score: u32,
    /// Person boxes merged into a bicycle or motorcycle box (riders).
    pub riders: u32,
    /// Lidar boxes whose projection falls in this image.
    pub visible_obstacles: u32,
    /// Detections matched to at least one lidar box.
    pub matched: u32,
    /// Gated pairs refused as a primary match: the box's size at the cluster's depth does not
    /// fit the class or the cluster ([`crate::EvidenceConfig`], rule 1).
    pub rejected_depth: u32,
    /// Gated pairs refused: a nearer cluster covers the box and explains it (rule 2).
    pub rejected_occluded: u32,
    /// Gated pairs refused: the cluster is background in the box, too small or too sparse
    /// (rule 3).
    pub rejected_background: u32,
}

/// What one fusion step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FusionReport {
    /// Stamp of the lidar sweep, ns.
    pub lidar_stamp_ns: i64,
    /// Number of cameras reported in `cameras` (the calibrated cameras, at most [`MAX_CAMERAS`]).
    pub num_cameras: usize,
    /// Per camera, in camera index order; entries past `num_cameras` are unused.
    pub cameras: [CameraReport; MAX_CAMERAS],
    /// Calibrated cameras past [`MAX_CAMERAS`], not used.
    pub cameras_ignored: u32,
    /// Camera frames whose camera has no calibration (yet): their `camera_index` is past the
    /// calibrated cameras.
    pub frames_without_calib: u32,
    /// Lidar obstacles in.
    pub obstacles: u32,
    /// Lidar obstacles with a non-finite or negative box, dropped.
    pub obstacles_invalid: u32,
    /// Objects out with camera support.
    pub fused: u32,
    /// Objects out with lidar support only (class `unknown`).
    pub lidar_only: u32,
}

impl FusionReport {
    /// The reports of the calibrated cameras.
    pub fn cameras(&self) -> &[CameraReport] {
        &self.cameras[..self.num_cameras]
    }

    /// True when no camera could be used: every object is lidar-only.
    pub fn is_lidar_only(&self) -> bool {
        !self
            .cameras()
            .iter()
            .any(|c| matches!(c.status, CameraStatus::Used { .. }))
    }
}

impl std::fmt::Display for FusionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} obstacles -> {} fused, {} lidar-only",
            self.obstacles, self.fused, self.lidar_only
        )?;
        if self.obstacles_invalid > 0 {
            write!(f, ", {} invalid obstacles dropped", self.obstacles_invalid)?;
        }
        for (i, c) in self.cameras().iter().enumerate() {
            match c.status {
                CameraStatus::Used { offset_ns } => write!(
                    f,
                    "; camera {i}: used ({:+.1} ms), {} detections, {} matched",
                    offset_ns as f64 * 1e-6,
                    c.detections,
                    c.matched
                )?,
                CameraStatus::Missing => write!(f, "; camera {i}: no frame (lidar-only)")?,
                CameraStatus::TooFarApart { offset_ns } => write!(
                    f,
                    "; camera {i}: nearest frame {:+.1} ms from the sweep, over tolerance (lidar-only)",
                    offset_ns as f64 * 1e-6
                )?,
                CameraStatus::InvalidCalib => {
                    write!(f, "; camera {i}: invalid calibration (lidar-only)")?
                }
            }
            let refused = c.rejected_depth + c.rejected_occluded + c.rejected_background;
            if refused > 0 {
                write!(
                    f,
                    " (pairs without evidence: {} depth, {} occluded, {} background)",
                    c.rejected_depth, c.rejected_occluded, c.rejected_background
                )?;
            }
            let rejected = c.rejected_invalid + c.rejected_outside;
            if rejected > 0 {
                write!(
                    f,
                    " ({} invalid, {} outside the image rejected)",
                    c.rejected_invalid, c.rejected_outside
                )?;
            }
        }
        if self.frames_without_calib > 0 {
            write!(
                f,
                "; {} camera frames without calibration ignored",
                self.frames_without_calib
            )?;
        }
        Ok(())
    }
}
