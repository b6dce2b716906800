//! The pipeline config: one YAML tree with a section per stage (`lidar`, `camera`, `fusion`,
//! `tracker`) and the `runtime` section (budgets, policies, queues, per-frame limits). The same
//! tree is the CLI's `--config` file and the ROS 2 parameter file (`launch/fusionrt.yaml`):
//! plain, or wrapped as `/**: {ros__parameters: {...}}` (or a node name instead of `/**`).
//!
//! A file starts from a [`Preset`] and overrides only the keys it names: the preset is the
//! file's top-level `preset:` key (inside `ros__parameters` in the ROS form), else the
//! command's default (`kitti track` and `kitti run`: [`Preset::Kitti`]; `sim`:
//! [`Preset::Default`]). Every value is then checked; an unknown key, a wrong type or a bad value
//! is an error naming file, key path, line and column. Load with [`PipelineConfig::load`].

use fusionrt_camera::{CameraConfig, MAX_TILES};
use fusionrt_core::config::{Check, ConfigError, Validate, YamlDoc};
use fusionrt_fusion::FusionConfig;
use fusionrt_lidar::LidarConfig;
use fusionrt_tracker::TrackerConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::str::FromStr;

/// A named starting point for a config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The built-in defaults of every section (launch/fusionrt.yaml lists them).
    Default,
    /// The defaults with the tracker tuned for KITTI tracking with PointRCNN detections
    /// ([`TrackerConfig::kitti_pointrcnn`], launch/kitti_tracking.yaml).
    Kitti,
}

impl Preset {
    /// Every preset, by name.
    pub const ALL: [Preset; 2] = [Preset::Default, Preset::Kitti];

    /// The name used in files (`preset: kitti`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Kitti => "kitti",
        }
    }
}

impl FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown preset `{s}`, expected `default` or `kitti`"))
    }
}

/// The pipeline config: one section per stage. Missing sections and keys take their defaults;
/// unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

impl Default for PipelineConfig {
    /// Every stage's defaults, except:
    /// - the camera's: it keeps detections down to fusion's own threshold (in the pipeline
    ///   fusion decides, and only lends a class that a lidar cluster confirms), and runs ONNX
    ///   Runtime on one thread, so that on a small computer the lidar path keeps a core while
    ///   the camera infers (`fusionrt detect`, the camera alone, keeps the camera's defaults);
    /// - the lidar's cluster pass runs on two threads: a sweep's latency drops by 13-15% on
    ///   drive 0052 when a core is idle, and a replay, which keeps both cores busy, is no slower
    ///   (`fusionrt bench lidar`, the stage alone, keeps one thread).
    fn default() -> Self {
        let fusion = FusionConfig::default();
        Self {
            lidar: LidarConfig {
                threads: 2,
                ..LidarConfig::default()
            },
            camera: CameraConfig {
                score_threshold: fusion.min_detection_score,
                intra_threads: 1,
                ..CameraConfig::default()
            },
            fusion,
            tracker: TrackerConfig::default(),
            runtime: RuntimeConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// The config a preset stands for.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Default => Self::default(),
            Preset::Kitti => Self {
                tracker: TrackerConfig::kitti_pointrcnn(),
                ..Self::default()
            },
        }
    }

    /// The config of a command: `default_preset` without a file; with one, the file's keys on
    /// top of its `preset:` (or `default_preset`). Every value is checked; errors name the
    /// file, key path, line and column.
    pub fn load(path: Option<&Path>, default_preset: Preset) -> Result<Self, ConfigError> {
        match path {
            None => Ok(Self::preset(default_preset)),
            Some(path) => Self::from_doc(YamlDoc::read(path)?, default_preset),
        }
    }

    /// Several files in order, as ROS 2 applies `--params-file` arguments: each one's keys on
    /// top of the config so far (or on its own `preset:` when it names one).
    pub fn load_layered(paths: &[&Path], default_preset: Preset) -> Result<Self, ConfigError> {
        let mut config = Self::preset(default_preset);
        for path in paths {
            let doc = YamlDoc::read(path)?;
            config = Self::from_doc_over(doc, move || config)?;
        }
        Ok(config)
    }

    /// [`PipelineConfig::load`] for YAML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, default_preset: Preset) -> Result<Self, ConfigError> {
        Self::from_doc(YamlDoc::parse(text, origin)?, default_preset)
    }

    fn from_doc(doc: YamlDoc, default_preset: Preset) -> Result<Self, ConfigError> {
        Self::from_doc_over(doc, || Self::preset(default_preset))
    }

    /// The document laid over its own `preset:` when it names one, else over `base()`.
    fn from_doc_over(mut doc: YamlDoc, base: impl FnOnce() -> Self) -> Result<Self, ConfigError> {
        doc.unwrap_ros_parameters()?;
        let base = match doc.take_top_level("preset")? {
            None => base(),
            Some((name, mark)) => {
                Self::preset(name.parse().map_err(|message| ConfigError::Invalid {
                    origin: doc.origin().to_string(),
                    key: "preset".into(),
                    mark,
                    message,
                })?)
            }
        };
        // ROS's own node parameter (the node's clock follows /clock), read by the ROS client
        // library: accepted beside the pipeline's keys, and checked.
        if let Some((value, mark)) = doc.take_top_level("use_sim_time")?
            && !matches!(value.as_str(), "true" | "false" | "True" | "False")
        {
            return Err(ConfigError::Invalid {
                origin: doc.origin().to_string(),
                key: "use_sim_time".into(),
                mark,
                message: format!("{value}: expected true or false"),
            });
        }
        let config: Self = doc.deserialize_over(&base)?;
        doc.check(&config)?;
        Ok(config)
    }
}

impl Validate for PipelineConfig {
    fn validate(&self, c: &mut Check) {
        c.section("lidar", &self.lidar);
        c.section("camera", &self.camera);
        c.section("fusion", &self.fusion);
        c.section("tracker", &self.tracker);
        c.section("runtime", &self.runtime);
        c.rule(
            self.lidar.expected_points <= self.runtime.max_points_per_sweep,
            "lidar.expected_points",
            || {
                format!(
                    "{} is more than runtime.max_points_per_sweep ({})",
                    self.lidar.expected_points, self.runtime.max_points_per_sweep
                )
            },
        );
    }
}

/// Longest budget or age accepted, ms.
const MAX_MS: f64 = 60_000.0;
/// Largest `max_points_per_sweep` accepted (a 128-beam lidar gives about 300 000 a sweep).
pub const MAX_POINTS_PER_SWEEP: usize = 1 << 24;
/// Largest `max_image_pixels` accepted (a 16k x 8k image).
pub const MAX_IMAGE_PIXELS: usize = 1 << 27;

impl Validate for BudgetConfig {
    fn validate(&self, c: &mut Check) {
        c.positive("lidar_ms", self.lidar_ms, MAX_MS);
        c.positive("camera_ms", self.camera_ms, MAX_MS);
        c.positive("fusion_ms", self.fusion_ms, MAX_MS);
        c.positive("tracker_ms", self.tracker_ms, MAX_MS);
        c.positive("end_to_end_ms", self.end_to_end_ms, MAX_MS);
    }
}

impl Validate for DegradeConfig {
    fn validate(&self, c: &mut Check) {
        c.count("min_tiles", self.min_tiles, 0, MAX_TILES.into());
        c.count("overruns_to_degrade", self.overruns_to_degrade, 1, 10_000);
        c.count("fits_to_recover", self.fits_to_recover, 1, 10_000);
    }
}

impl Validate for RuntimeConfig {
    fn validate(&self, c: &mut Check) {
        c.section("budgets", &self.budgets);
        c.positive("camera_max_age_ms", self.camera_max_age_ms, MAX_MS);
        c.section("camera_degrade", &self.camera_degrade);
        c.count("queue_depth", self.queue_depth, 1, 1024);
        c.count(
            "max_points_per_sweep",
            self.max_points_per_sweep,
            1,
            MAX_POINTS_PER_SWEEP as i128,
        );
        c.count(
            "max_image_pixels",
            self.max_image_pixels,
            1,
            MAX_IMAGE_PIXELS as i128,
        );
    }
}

/// Latency budgets, ms. A stage whose processing time exceeds its budget counts a miss; the
/// end-to-end budget runs from the sweep's sensor stamp to the tracks being published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::config::validate;

    #[test]
    fn presets_validate() {
        for preset in Preset::ALL {
            let config = PipelineConfig::preset(preset);
            assert!(validate(&config, preset.name()).is_ok(), "{preset:?}");
            assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
        }
    }

    #[test]
    fn shipped_files_parse_to_exactly_their_presets() {
        let shipped = include_str!("../../../launch/fusionrt.yaml");
        for preset in Preset::ALL {
            // No `preset:` key: the command's preset stays under the listed defaults.
            let parsed = PipelineConfig::parse(shipped, "launch/fusionrt.yaml", preset).unwrap();
            assert_eq!(parsed, PipelineConfig::default());
        }
        let kitti = include_str!("../../../launch/kitti_tracking.yaml");
        let parsed =
            PipelineConfig::parse(kitti, "launch/kitti_tracking.yaml", Preset::Default).unwrap();
        assert_eq!(parsed, PipelineConfig::preset(Preset::Kitti));
    }

    #[test]
    fn a_partial_file_keeps_the_other_preset_values() {
        let partial = "tracker:\n  car:\n    max_coast_s: 0.5\n";
        let c = PipelineConfig::parse(partial, "p.yaml", Preset::Kitti).unwrap();
        let mut want = TrackerConfig::kitti_pointrcnn();
        want.car.max_coast_s = 0.5;
        assert_eq!(c.tracker, want);
        let c = PipelineConfig::parse(partial, "p.yaml", Preset::Default).unwrap();
        assert_eq!(c.tracker.car.min_hits, 3);
        // The file's own preset wins over the command's, in both forms.
        for text in [
            format!("preset: kitti\n{partial}"),
            format!(
                "/**:\n  ros__parameters:\n    preset: kitti\n{}",
                partial
                    .lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            ),
            format!(
                "fusionrt:\n  ros__parameters:\n    preset: kitti\n{}",
                partial
                    .lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            ),
        ] {
            let c = PipelineConfig::parse(&text, "p.yaml", Preset::Default).unwrap();
            assert_eq!(c.tracker, want, "{text}");
        }
        // A partial fusion gate keeps the preset's other gate keys.
        let c = PipelineConfig::parse(
            "fusion:\n  gates:\n    vehicle:\n      min_iou: 0.2\n",
            "p.yaml",
            Preset::Default,
        )
        .unwrap();
        assert_eq!(c.fusion.gates.vehicle.min_iou, 0.2);
        assert_eq!(c.fusion.gates.vehicle.merge_radius_m, 4.0);
        assert_eq!(
            PipelineConfig::load(None, Preset::Kitti).unwrap(),
            PipelineConfig::preset(Preset::Kitti)
        );
    }

    #[test]
    fn every_error_names_file_key_line_and_column() {
        let cases = [
            ("lidarr: {}\n", "p.yaml:1:1: key `lidarr`"),
            (
                "tracker:\n  car:\n    gait: 1\n",
                "p.yaml:3:5: key `tracker.car.gait`",
            ),
            (
                "preset: fast\n",
                "p.yaml:1:9: key `preset`: unknown preset `fast`",
            ),
            (
                "lidar:\n  cluster_cell_m: 0\n",
                "p.yaml:2:3: key `lidar.cluster_cell_m`",
            ),
            (
                "lidar:\n  cluster_cell_m: 1e20\n",
                "p.yaml:2:3: key `lidar.cluster_cell_m`",
            ),
            (
                "lidar:\n  cluster_cell_m: .nan\n",
                "p.yaml:2:3: key `lidar.cluster_cell_m`",
            ),
            (
                "lidar:\n  ground_sectors: 0\n",
                "p.yaml:2:3: key `lidar.ground_sectors`",
            ),
            (
                "lidar:\n  ground_bin_growth: 0\n",
                "p.yaml:2:3: key `lidar.ground_bin_growth`",
            ),
            (
                "lidar:\n  max_range_m: 1e30\n",
                "p.yaml:2:3: key `lidar.max_range_m`",
            ),
            (
                "lidar:\n  expected_points: 1e15\n",
                "p.yaml:2:20: key `lidar.expected_points`",
            ),
            (
                "lidar:\n  max_obstacles: 1000000000000\n",
                "p.yaml:2:3: key `lidar.max_obstacles`",
            ),
            (
                "tracker:\n  car:\n    gate: .nan\n",
                "p.yaml:3:5: key `tracker.car.gate`",
            ),
            (
                "tracker:\n  pedestrian:\n    sigma_position_m: -1\n",
                "p.yaml:3:5: key `tracker.pedestrian.sigma_position_m`",
            ),
            (
                "tracker:\n  car:\n    detection_probability: 2\n",
                "p.yaml:3:5: key `tracker.car.detection_probability`",
            ),
            (
                "tracker:\n  car:\n    max_coast_s: -1\n",
                "p.yaml:3:5: key `tracker.car.max_coast_s`",
            ),
            (
                "tracker:\n  car:\n    min_hits: 4000000000\n",
                "p.yaml:3:5: key `tracker.car.min_hits`",
            ),
            (
                "fusion:\n  min_detection_score: .nan\n",
                "p.yaml:2:3: key `fusion.min_detection_score`",
            ),
            (
                "fusion:\n  tolerance_ns: -1\n",
                "p.yaml:2:3: key `fusion.tolerance_ns`",
            ),
            (
                "camera:\n  warmup_runs: 4000000000\n",
                "p.yaml:2:3: key `camera.warmup_runs`",
            ),
            (
                "camera:\n  tiles: 100000\n",
                "p.yaml:2:3: key `camera.tiles`",
            ),
            (
                "camera:\n  intra_threads: 100000\n",
                "p.yaml:2:3: key `camera.intra_threads`",
            ),
            (
                "runtime:\n  budgets:\n    lidar_ms: .inf\n",
                "p.yaml:3:5: key `runtime.budgets.lidar_ms`",
            ),
            (
                "runtime:\n  camera_max_age_ms: -1\n",
                "p.yaml:2:3: key `runtime.camera_max_age_ms`",
            ),
            (
                "runtime:\n  queue_depth: 0\n",
                "p.yaml:2:3: key `runtime.queue_depth`",
            ),
            (
                "runtime:\n  max_points_per_sweep: 100000000000\n",
                "p.yaml:2:3: key `runtime.max_points_per_sweep`",
            ),
            (
                "runtime:\n  max_image_pixels: 0\n",
                "p.yaml:2:3: key `runtime.max_image_pixels`",
            ),
            (
                "/**:\n  ros__parameters:\n    lidar:\n      ground_sectors: 0\n",
                "p.yaml:4:7: key `lidar.ground_sectors`",
            ),
            (
                "/**:\n  ros__parameters:\n    use_sim_time: 3\n",
                "p.yaml:3:19: key `use_sim_time`",
            ),
        ];
        // Parameter files in order: each on top of the ones before (as ROS 2 applies them).
        let dir = std::env::temp_dir().join(format!("fusionrt-layered-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        std::fs::write(&a, "preset: kitti\nruntime:\n  queue_depth: 7\n").unwrap();
        std::fs::write(&b, "/**:\n  ros__parameters:\n    use_sim_time: true\n").unwrap();
        let c = PipelineConfig::load_layered(&[&a, &b], Preset::Default).unwrap();
        assert_eq!(c.runtime.queue_depth, 7);
        assert_eq!(c.tracker, TrackerConfig::kitti_pointrcnn());
        std::fs::remove_dir_all(&dir).unwrap();
        // ROS's use_sim_time sits beside the pipeline's keys.
        let c = PipelineConfig::parse(
            "/**:\n  ros__parameters:\n    use_sim_time: true\n",
            "p.yaml",
            Preset::Default,
        )
        .unwrap();
        assert_eq!(c, PipelineConfig::preset(Preset::Default));
        for (text, want) in cases {
            let err = PipelineConfig::parse(text, "p.yaml", Preset::Default)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(want),
                "{text:?}\n  got:  {err}\n  want: {want}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
