//! fusionrt-scenario: a deterministic simulated world with its sensors and ground truth.
//!
//! A [`ScenarioSpec`] (YAML, see `sim/scenarios/`) describes roads with curves and
//! intersections, an ego vehicle, groups of actors (cars, trucks, pedestrians, cyclists) with
//! kinematic behaviours, static clutter (poles, walls, trees, buildings, curbs), a spinning lidar,
//! pinhole cameras and a simulated 2D detector. A [`Simulator`] steps it one lidar period at a
//! time into a reusable [`SimFrame`]: the lidar cloud (ray cast, first hit wins, with ground,
//! range noise and dropout), one [`fusionrt_core::CameraDetections`] per camera, the ego pose,
//! and ground truth for every actor in lidar range.
//!
//! Frames: the world frame has z up (REP-103); the ego follows the ground height but only yaws
//! (no pitch or roll on slopes), so the lidar frame is the world frame translated and yawed.
//! Ground-truth boxes come in both frames; `visible_fraction` says how much of an object the
//! lidar sees (first-hit rays over rays through its box).
//!
//! Same spec and seed give bit-identical frames: every random draw comes from seeded PCG
//! streams (one for the world, one for the lidar, one for the detector) in a fixed order.
//!
//! Depends on fusionrt-core only (plus nalgebra, rand, serde).

pub mod detector;
mod lidar;
mod road;
pub mod simulator;
pub mod spec;
mod world;

pub use simulator::{GroundTruthObject, SimFrame, Simulator, validate};
pub use spec::ScenarioSpec;
pub use world::class_size;

use fusionrt_core::config::{ConfigError, load_yaml_file, parse_yaml};
use std::path::Path;
use thiserror::Error;

/// The built-in scenarios, name and YAML text.
const BUILTINS: [(&str, &str); 3] = [
    ("urban", include_str!("../../scenarios/urban.yaml")),
    ("highway", include_str!("../../scenarios/highway.yaml")),
    ("crowded", include_str!("../../scenarios/crowded.yaml")),
];

/// Names of the built-in scenarios; the first is the default.
pub fn builtin_names() -> &'static [&'static str] {
    &["urban", "highway", "crowded"]
}

/// Why a scenario cannot be loaded or run.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The name is neither a built-in nor a path.
    #[error("unknown scenario `{name}`: built-ins are {}; or give a path to a .yaml file", builtin_names().join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The YAML could not be read or parsed (unknown key, wrong type: file, key, line, column).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value is out of range or refers to something missing.
    #[error("scenario field `{field}`: {reason}")]
    Invalid {
        /// Key path of the field, e.g. `lidar.beams`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ScenarioError {
    /// An [`ScenarioError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Loads a built-in scenario by name, or a YAML file when the argument contains `/` or ends in
/// `.yaml` / `.yml`.
pub fn load_scenario(name_or_path: &str) -> Result<ScenarioSpec, ScenarioError> {
    if name_or_path.contains('/')
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
    {
        return Ok(load_yaml_file(Path::new(name_or_path))?);
    }
    let (name, text) = BUILTINS
        .iter()
        .find(|(n, _)| *n == name_or_path)
        .ok_or_else(|| ScenarioError::Unknown {
            name: name_or_path.to_string(),
        })?;
    Ok(parse_yaml(text, &format!("sim/scenarios/{name}.yaml"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_match_their_names() {
        for name in builtin_names() {
            let spec = load_scenario(name).unwrap();
            assert_eq!(spec.name, *name);
        }
    }

    #[test]
    fn unknown_name_lists_the_builtins() {
        let msg = load_scenario("suburb").unwrap_err().to_string();
        assert!(
            msg.contains("suburb") && msg.contains("urban, highway, crowded"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_key_and_wrong_type_are_named_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("fusionrt-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.yaml");
        std::fs::write(&path, "name: x\nlidar:\n  beams: 32\n  beam_count: 4\n").unwrap();
        let msg = load_scenario(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("bad.yaml") && msg.contains("beam_count") && msg.contains(":4:3:"),
            "{msg}"
        );
        std::fs::write(&path, "name: x\nlidar:\n  beams: many\n").unwrap();
        let msg = load_scenario(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("lidar.beams") && msg.contains("invalid type"),
            "{msg}"
        );
        std::fs::write(&path, "actor_groups:\n  - class: spaceship\n").unwrap();
        let msg = load_scenario(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("spaceship") && msg.contains(":2:"), "{msg}");
        let msg = load_scenario("/no/such/scenario.yaml")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/no/such/scenario.yaml"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
