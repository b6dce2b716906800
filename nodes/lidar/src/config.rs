//! Configuration of the lidar stage (the `lidar:` section of the YAML config).

use fusionrt_core::config::{Check, ConfigError, Validate};
use serde::{Deserialize, Serialize};

/// Lidar stage parameters. Distances in metres, in the lidar frame (x forward, y left, z up).
/// Defaults suit a roof-mounted 64-beam lidar about 1.7-1.9 m above the road (KITTI's HDL-64E,
/// the simulator's) and hold for 32- and 128-beam sensors too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LidarConfig {
    /// Points closer than this (horizontal range) are dropped: the ego vehicle's own body.
    pub min_range_m: f32,
    /// Points farther than this (horizontal range) are dropped.
    pub max_range_m: f32,
    /// Region of interest, lower corner `[x, y, z]`: points outside are dropped.
    pub roi_min_m: [f32; 3],
    /// Region of interest, upper corner `[x, y, z]`.
    pub roi_max_m: [f32; 3],
    /// Height of the sensor above the road, the ground prior next to the vehicle.
    pub sensor_height_m: f32,
    /// Angular sectors of the polar ground grid (360 = 1 degree each).
    pub ground_sectors: usize,
    /// Radial length of the nearest ground bins.
    pub ground_bin_min_m: f32,
    /// Growth of the radial bin length with range (bin length = min + growth * range).
    pub ground_bin_growth: f32,
    /// Largest radial bin length.
    pub ground_bin_max_m: f32,
    /// Steepest road slope followed along a ray (rise over run; 0.2 = 11 degrees).
    pub ground_max_slope: f32,
    /// Step tolerated between neighbouring ground bins on top of the slope: curbs, bumps.
    pub ground_max_step_m: f32,
    /// The slope allowance stops growing after this run without ground (a shadow behind an
    /// object), so a tall object far behind it is not taken for a climbing road.
    pub ground_max_run_m: f32,
    /// A point within this height above the local ground is ground.
    pub ground_threshold_m: f32,
    /// Points higher than this above the local ground are dropped (overhangs, tree crowns).
    pub max_height_above_ground_m: f32,
    /// Cell size of the bird's-eye-view clustering grid. Cells within
    /// `round(tolerance / cell)` cells of each other (Chebyshev) are joined.
    pub cluster_cell_m: f32,
    /// Cluster tolerance near the sensor: points of one object at most this far apart (BEV).
    pub cluster_tolerance_m: f32,
    /// Growth of the tolerance with range, m per m: far objects have sparser returns.
    pub cluster_tolerance_per_m: f32,
    /// Clusters with fewer points are dropped.
    pub min_cluster_points: u32,
    /// Clusters longer than this (either horizontal side) are dropped: walls, hedges, fences.
    pub max_length_m: f32,
    /// Clusters whose shorter side is wider than this are dropped (buildings, vegetation
    /// areas; a truck or bus is at most 2.6 m wide, plus margin for an L-shape fit).
    pub max_width_m: f32,
    /// Long, thin clusters: longer than this and thinner than `band_max_width_m` are dropped
    /// (a curb-side wall or vegetation band; a truck seen side-on is shorter).
    pub band_min_length_m: f32,
    /// See `band_min_length_m`.
    pub band_max_width_m: f32,
    /// Clusters lower than this (top above the ground) are dropped: curbs, debris, ground noise.
    pub min_height_m: f32,
    /// Clusters taller than this are dropped (trees, poles, building fronts).
    pub max_height_m: f32,
    /// A cluster wider than this (two vans side by side), or longer than
    /// `split_min_length_m` (vehicles parked end to end, a cyclist passing a fence), or one the
    /// size filters would drop (a wall with a pedestrian beside it), is split once on a grid of `split_cell_m` cells (neighbouring
    /// cells joined) and its parts are filtered and fitted on their own. A solid body has no
    /// gap of a cell and stays one part.
    pub split_min_width_m: f32,
    /// See `split_min_width_m`.
    pub split_min_length_m: f32,
    /// See `split_min_width_m`.
    pub split_cell_m: f32,
    /// Clusters the lidar classifier calls a vehicle (probability at least
    /// `vehicle_min_probability`) are grown to at least this `[length, width]` away from the
    /// sensor, keeping the visible faces in place, so the box centre is the vehicle's and not
    /// its visible side's (KITTI's mean car is 3.9 x 1.6 m); `[0, 0]` turns this off.
    pub vehicle_min_size_m: [f32; 2],
    /// See `vehicle_min_size_m`.
    pub vehicle_min_probability: f32,
    /// Vehicle clusters at least `tall_vehicle_min_height_m` tall (vans, trucks) are grown to
    /// at least this `[length, width]` instead (KITTI's mean van is 5.1 x 1.9 m), where their
    /// vertical profile is read (60 points or more within 30 m): farther, a few rings do not
    /// tell a van's roof from a car's and the box grows to `vehicle_min_size_m`.
    pub tall_vehicle_min_size_m: [f32; 2],
    /// See `tall_vehicle_min_size_m`.
    pub tall_vehicle_min_height_m: f32,
    /// A vehicle cluster whose longer side is at most this long shows its front or rear (the
    /// side seen is the vehicle's width), not its flank.
    pub vehicle_face_max_length_m: f32,
    /// Returns with a reflectance below this are dark (glass, tyres, black trim), in the
    /// sensor's reflectance units (KITTI's HDL-64E: `[0, 1]`). The classifier counts a
    /// vehicle's dark returns against bright foliage, walls and fences of a vehicle's size; a
    /// sweep in which almost nothing above the ground is dark (another scale, no reflectance
    /// channel, the simulator) goes without that cue.
    pub dark_reflectance: f32,
    /// Angle step of the L-shape fit search, degrees.
    pub lshape_step_deg: f32,
    /// At most this many points of a cluster enter the L-shape search (evenly subsampled).
    pub lshape_max_points: usize,
    /// Capacity preallocated for points, so the first frames do not grow buffers.
    pub expected_points: usize,
    /// At most this many obstacles per frame (the highest-scoring are kept).
    pub max_obstacles: usize,
    /// Threads of the cluster pass (box fit, split, classes), 1 to [`MAX_THREADS`]: the
    /// obstacles are the same with any number. More than one shortens a sweep's latency when
    /// a core is idle (the ROS node); a replay already keeps every core busy.
    pub threads: usize,
}

impl Default for LidarConfig {
    fn default() -> Self {
        Self {
            min_range_m: 2.0,
            max_range_m: 80.0,
            roi_min_m: [-80.0, -80.0, -4.0],
            roi_max_m: [80.0, 80.0, 3.5],
            sensor_height_m: 1.73,
            ground_sectors: 360,
            ground_bin_min_m: 0.5,
            ground_bin_growth: 0.03,
            ground_bin_max_m: 2.5,
            ground_max_slope: 0.2,
            ground_max_step_m: 0.2,
            ground_max_run_m: 4.0,
            ground_threshold_m: 0.2,
            max_height_above_ground_m: 4.5,
            cluster_cell_m: 0.4,
            cluster_tolerance_m: 0.5,
            cluster_tolerance_per_m: 0.015,
            min_cluster_points: 5,
            max_length_m: 22.0,
            max_width_m: 5.0,
            band_min_length_m: 14.0,
            band_max_width_m: 0.8,
            min_height_m: 0.3,
            max_height_m: 4.5,
            split_min_width_m: 2.8,
            split_min_length_m: 6.5,
            split_cell_m: 0.2,
            vehicle_min_size_m: [3.9, 1.6],
            vehicle_min_probability: 0.4,
            tall_vehicle_min_size_m: [4.8, 1.9],
            tall_vehicle_min_height_m: 1.8,
            vehicle_face_max_length_m: 2.3,
            dark_reflectance: 0.12,
            lshape_step_deg: 3.0,
            lshape_max_points: 96,
            expected_points: 150_000,
            max_obstacles: 1024,
            threads: 1,
        }
    }
}

/// Largest sweep the lidar stage preallocates for, points (`expected_points`).
pub const MAX_EXPECTED_POINTS: usize = 1 << 24;
/// Most threads of the cluster pass (`threads`).
pub const MAX_THREADS: usize = 8;
/// Most obstacles per frame that may be asked for (`max_obstacles`).
pub const MAX_OBSTACLES: usize = 100_000;

impl Validate for LidarConfig {
    fn validate(&self, c: &mut Check) {
        c.non_negative("min_range_m", self.min_range_m, 1000.0);
        c.positive("max_range_m", self.max_range_m, 1000.0);
        c.rule(
            self.min_range_m < self.max_range_m || self.max_range_m.is_nan(),
            "min_range_m",
            || {
                format!(
                    "{} is not below max_range_m ({})",
                    self.min_range_m, self.max_range_m
                )
            },
        );
        for (name, corner) in [("roi_min_m", self.roi_min_m), ("roi_max_m", self.roi_max_m)] {
            for (i, v) in corner.iter().enumerate() {
                c.range(&format!("{name}[{i}]"), *v, -1000.0, 1000.0);
            }
        }
        for i in 0..3 {
            let (lo, hi) = (self.roi_min_m[i], self.roi_max_m[i]);
            c.rule(
                lo < hi || lo.is_nan() || hi.is_nan(),
                &format!("roi_max_m[{i}]"),
                || format!("{hi} is not above roi_min_m[{i}] ({lo})"),
            );
        }
        c.non_negative("sensor_height_m", self.sensor_height_m, 20.0);
        c.count("ground_sectors", self.ground_sectors, 8, 4096);
        c.positive("ground_bin_min_m", self.ground_bin_min_m, 100.0);
        c.positive("ground_bin_growth", self.ground_bin_growth, 1.0);
        c.positive("ground_bin_max_m", self.ground_bin_max_m, 100.0);
        c.rule(
            self.ground_bin_max_m >= self.ground_bin_min_m || self.ground_bin_max_m.is_nan(),
            "ground_bin_max_m",
            || {
                format!(
                    "{} is below ground_bin_min_m ({})",
                    self.ground_bin_max_m, self.ground_bin_min_m
                )
            },
        );
        c.non_negative("ground_max_slope", self.ground_max_slope, 10.0);
        c.non_negative("ground_max_step_m", self.ground_max_step_m, 10.0);
        c.non_negative("ground_max_run_m", self.ground_max_run_m, 1000.0);
        c.positive("ground_threshold_m", self.ground_threshold_m, 10.0);
        c.positive(
            "max_height_above_ground_m",
            self.max_height_above_ground_m,
            100.0,
        );
        c.positive("cluster_cell_m", self.cluster_cell_m, 10.0);
        c.rule(
            self.max_range_m / self.cluster_cell_m <= 8000.0 || !self.cluster_cell_m.is_normal(),
            "cluster_cell_m",
            || {
                format!(
                    "{} is too small for max_range_m {} (at most 8000 cells per half axis)",
                    self.cluster_cell_m, self.max_range_m
                )
            },
        );
        c.positive("cluster_tolerance_m", self.cluster_tolerance_m, 100.0);
        c.non_negative("cluster_tolerance_per_m", self.cluster_tolerance_per_m, 1.0);
        c.count("min_cluster_points", self.min_cluster_points, 1, 1_000_000);
        c.positive("max_length_m", self.max_length_m, 1000.0);
        c.positive("max_width_m", self.max_width_m, 1000.0);
        c.non_negative("band_min_length_m", self.band_min_length_m, 1000.0);
        c.non_negative("band_max_width_m", self.band_max_width_m, 1000.0);
        c.non_negative("min_height_m", self.min_height_m, 100.0);
        c.positive("max_height_m", self.max_height_m, 100.0);
        c.positive("split_min_width_m", self.split_min_width_m, 1000.0);
        c.positive("split_min_length_m", self.split_min_length_m, 1000.0);
        c.range("split_cell_m", self.split_cell_m, 0.05, 10.0);
        for (i, v) in self.vehicle_min_size_m.iter().enumerate() {
            c.non_negative(&format!("vehicle_min_size_m[{i}]"), *v, 100.0);
        }
        for (i, v) in self.tall_vehicle_min_size_m.iter().enumerate() {
            c.non_negative(&format!("tall_vehicle_min_size_m[{i}]"), *v, 100.0);
        }
        c.non_negative(
            "tall_vehicle_min_height_m",
            self.tall_vehicle_min_height_m,
            100.0,
        );
        c.range(
            "vehicle_min_probability",
            self.vehicle_min_probability,
            0.0,
            1.0,
        );
        c.non_negative(
            "vehicle_face_max_length_m",
            self.vehicle_face_max_length_m,
            100.0,
        );
        c.positive("dark_reflectance", self.dark_reflectance, 1e6);
        c.positive("lshape_step_deg", self.lshape_step_deg, 90.0);
        c.count("lshape_max_points", self.lshape_max_points, 8, 100_000);
        c.count("threads", self.threads, 1, MAX_THREADS as i128);
        c.count(
            "expected_points",
            self.expected_points,
            0,
            MAX_EXPECTED_POINTS as i128,
        );
        c.count(
            "max_obstacles",
            self.max_obstacles,
            1,
            MAX_OBSTACLES as i128,
        );
    }
}

impl LidarConfig {
    /// Checks that every value is finite and in a usable range; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fusionrt_core::config::validate(self, "lidar config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_yaml_overrides() {
        assert!(LidarConfig::default().validate().is_ok());
        let cfg: LidarConfig =
            fusionrt_core::config::parse_yaml("max_range_m: 60\nmin_cluster_points: 3\n", "t")
                .unwrap();
        assert_eq!(cfg.max_range_m, 60.0);
        assert_eq!(cfg.min_cluster_points, 3);
        assert_eq!(cfg.ground_sectors, 360);
        let err = fusionrt_core::config::parse_yaml::<LidarConfig>("max_rnge_m: 60\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_rnge_m"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let cfg = LidarConfig {
            cluster_cell_m: 0.0,
            ..LidarConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("key `cluster_cell_m`"), "{err}");
        let cfg = LidarConfig {
            roi_min_m: [0.0, f32::NAN, 0.0],
            ..LidarConfig::default()
        };
        assert!(cfg.validate().is_err());
        for (text, key) in [
            ("cluster_cell_m: 0", "cluster_cell_m"),
            ("cluster_cell_m: 1e20", "cluster_cell_m"),
            ("cluster_cell_m: .nan", "cluster_cell_m"),
            ("ground_sectors: 0", "ground_sectors"),
            ("ground_bin_growth: 0", "ground_bin_growth"),
            ("dark_reflectance: 0", "dark_reflectance"),
            ("split_min_length_m: 0", "split_min_length_m"),
            ("split_min_length_m: .inf", "split_min_length_m"),
            ("dark_reflectance: -0.1", "dark_reflectance"),
            ("dark_reflectance: .nan", "dark_reflectance"),
            ("dark_reflectance: 1e9", "dark_reflectance"),
            ("max_range_m: 1e30", "max_range_m"),
            ("expected_points: 1000000000000000", "expected_points"),
            ("max_obstacles: 1000000000000", "max_obstacles"),
        ] {
            let doc = fusionrt_core::config::YamlDoc::parse(text, "l.yaml").unwrap();
            let cfg: LidarConfig = doc.deserialize().unwrap();
            let err = doc.check(&cfg).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("l.yaml:1:1: key `{key}`")),
                "{err}"
            );
        }
    }
}
