//! The pipeline config: one YAML tree with a section per stage (`lidar`, `camera`, `fusion`,
//! `tracker`) and the `runtime` section (budgets, policies, queues, per-frame limits). The same
//! tree is the CLI's `--config` file and the ROS 2 parameter file (`launch/fusionrt.yaml`).

use fusionrt_camera::CameraConfig;
use fusionrt_core::config::{ConfigError, load_yaml_file};
use fusionrt_fusion::FusionConfig;
use fusionrt_lidar::LidarConfig;
use fusionrt_tracker::TrackerConfig;
use serde::Deserialize;
use std::path::Path;

/// The pipeline config: one section per stage. Missing sections and keys take their defaults;
/// unknown keys are errors.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Lidar obstacle detection.
    pub lidar: LidarConfig,
    /// The camera stages (one per camera, all with these parameters).
    pub camera: CameraConfig,
    /// Lidar-camera fusion.
    pub fusion: FusionConfig,
    /// Multi-object tracking.
    pub tracker: TrackerConfig,
    /// Budgets, policies, queues and per-frame limits of the runtime.
    pub runtime: RuntimeConfig,
}

impl PipelineConfig {
    /// Loads a config file; errors name the file, key, line and column.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_yaml_file(path)
    }
}

/// Latency budgets, ms. A stage whose processing time exceeds its budget counts a miss; the
/// end-to-end budget runs from the sweep's sensor stamp to the tracks being published.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Lidar stage processing time.
    pub lidar_ms: f64,
    /// One camera stage's processing time (pre-processing, inference, decoding).
    pub camera_ms: f64,
    /// Fusion processing time.
    pub fusion_ms: f64,
    /// Tracker processing time.
    pub tracker_ms: f64,
    /// Sensor stamp of the sweep -> tracks published.
    pub end_to_end_ms: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            lidar_ms: 20.0,
            camera_ms: 80.0,
            fusion_ms: 5.0,
            tracker_ms: 5.0,
            end_to_end_ms: 100.0,
        }
    }
}

/// How the camera trades accuracy for time: while its inference runs over budget it uses
/// fewer tiles (one model pass each), down to `min_tiles`; when it fits again it steps back up.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DegradeConfig {
    /// Off: the camera always runs with `camera.tiles`, and overruns are only counted.
    pub enabled: bool,
    /// Fewest tiles the camera degrades to (1 = one letterboxed pass).
    pub min_tiles: u32,
    /// Consecutive frames over `budgets.camera_ms` before one tile is dropped.
    pub overruns_to_degrade: u32,
    /// Consecutive frames that would fit the budget with one more tile before it is added back.
    pub fits_to_recover: u32,
}

impl Default for DegradeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_tiles: 1,
            overruns_to_degrade: 2,
            fits_to_recover: 10,
        }
    }
}

/// The `runtime:` section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Latency budgets per stage and end to end.
    pub budgets: BudgetConfig,
    /// A camera result whose image is older than this at the sweep's stamp is not fused (the
    /// sweep is fused without that camera, and that is counted).
    pub camera_max_age_ms: f64,
    /// The camera degrade policy.
    pub camera_degrade: DegradeConfig,
    /// Capacity of each bounded channel between threads of the real-time executor.
    pub queue_depth: usize,
    /// Largest sweep accepted, points; a larger one is dropped and counted.
    pub max_points_per_sweep: usize,
    /// Largest image accepted, pixels; a larger one is dropped and counted.
    pub max_image_pixels: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            budgets: BudgetConfig::default(),
            camera_max_age_ms: 150.0,
            camera_degrade: DegradeConfig::default(),
            queue_depth: 4,
            max_points_per_sweep: 1 << 21,
            max_image_pixels: 1 << 25,
        }
    }
}
