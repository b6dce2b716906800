//! The node's command line: its own options before `--ros-args`, and the ROS arguments after
//! it, of which the node reads `--params-file` itself (rcl handles remapping and the rest).
//!
//! ```text
//! fusionrt_node [--cameras N] [--camera model|none] [--seed N] [--rt-priority N] --ros-args --params-file launch/fusionrt.yaml -r __ns:=/perception
//! ```

use std::path::PathBuf;
use thiserror::Error;

/// What the node was asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeArgs {
    /// Camera inputs to subscribe (`input/camera<i>/...`).
    pub cameras: usize,
    /// Run the camera model on images (`model`), or lidar-only (`none`).
    pub camera_model: bool,
    /// Seed of the track ids.
    pub seed: u64,
    /// SCHED_FIFO priority of the node's threads (1-99); 0: normal scheduling.
    pub rt_priority: u8,
    /// Every `--params-file` after `--ros-args`, in order (later files override earlier ones).
    pub params_files: Vec<PathBuf>,
}

/// A bad command line (the node exits 2).
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "fusionrt_node: {0}\nusage: fusionrt_node [--cameras N] [--camera model|none] [--seed N] [--rt-priority 0-99] [--ros-args --params-file FILE ...]"
)]
pub struct ArgsError(pub String);

impl NodeArgs {
    /// Parses `args` (without the program name).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Self, ArgsError> {
        let mut out = NodeArgs {
            cameras: 1,
            camera_model: true,
            seed: 0,
            rt_priority: 0,
            params_files: Vec::new(),
        };
        let mut it = args.into_iter();
        let mut ros = false;
        while let Some(a) = it.next() {
            if a == "--ros-args" {
                ros = true;
                continue;
            }
            if a == "--" {
                ros = false;
                continue;
            }
            let mut value = |name: &str| {
                it.next()
                    .ok_or_else(|| ArgsError(format!("{name} needs a value")))
            };
            if ros {
                if a == "--params-file" {
                    out.params_files
                        .push(PathBuf::from(value("--params-file")?));
                }
                continue; // rcl reads the rest (remapping, -p, --log-level ...)
            }
            match a.as_str() {
                "--cameras" => {
                    let v = value("--cameras")?;
                    out.cameras = v
                        .parse()
                        .ok()
                        .filter(|n| *n <= 8)
                        .ok_or_else(|| ArgsError(format!("--cameras {v}: expected 0 to 8")))?;
                }
                "--camera" => match value("--camera")?.as_str() {
                    "model" => out.camera_model = true,
                    "none" => out.camera_model = false,
                    other => {
                        return Err(ArgsError(format!(
                            "--camera {other}: expected model or none"
                        )));
                    }
                },
                "--seed" => {
                    let v = value("--seed")?;
                    out.seed = v
                        .parse()
                        .map_err(|_| ArgsError(format!("--seed {v}: expected an integer")))?;
                }
                "--rt-priority" => {
                    let v = value("--rt-priority")?;
                    out.rt_priority = v.parse().ok().filter(|p| *p <= 99).ok_or_else(|| {
                        ArgsError(format!("--rt-priority {v}: expected 0 (off) to 99"))
                    })?;
                }
                other => return Err(ArgsError(format!("unknown argument {other}"))),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NodeArgs, ArgsError> {
        NodeArgs::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn reads_its_options_and_the_params_file() {
        let a =
            parse("--cameras 2 --camera none --ros-args -r __ns:=/x --params-file a.yaml -p b:=1")
                .unwrap();
        assert_eq!(a.cameras, 2);
        assert!(!a.camera_model);
        assert_eq!(a.params_files, [PathBuf::from("a.yaml")]);
        assert_eq!(a.rt_priority, 0);
        assert_eq!(parse("--rt-priority 10").unwrap().rt_priority, 10);
        for bad in ["-1", "100", "NaN", "1e3", ""] {
            assert!(parse(&format!("--rt-priority {bad}")).is_err(), "{bad}");
        }
        assert!(parse("--cameras 99").is_err());
        assert!(parse("--bogus").is_err());
        assert!(parse("--ros-args --params-file").is_err());
    }
}
