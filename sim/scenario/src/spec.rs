//! The scenario description: what a `sim/scenarios/*.yaml` file holds.
//!
//! Every struct derives `Deserialize` with `#[serde(default, deny_unknown_fields)]`, so a file
//! only states what differs from the defaults and an unknown key is an error naming the key,
//! line and column. Units are in the field names (`_m`, `_mps`, `_deg`, `_hz`, `_px`).
//! Positions along a road are its arc length `s_m` from the road's start; lateral offsets are
//! `offset_m`, positive to the left of the road's direction (REP-103, right-hand traffic: the
//! forward lanes lie right of the centre line).

use fusionrt_core::ObjectClass;
use serde::{Deserialize, Serialize};

/// A whole scenario: world, ego, actors, sensors and the simulated detector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name, e.g. `urban`.
    pub name: String,
    /// One or two sentences on what the scenario exercises.
    pub description: String,
    /// Number of frames `fusionrt sim` runs when none is given.
    pub default_frames: u64,
    /// Stamp of frame 0, ns.
    pub start_stamp_ns: i64,
    /// Ground height profile (flat when empty).
    pub ground: GroundSpec,
    /// The road network: every road is a chain of straight and arc segments; roads that cross
    /// form intersections.
    pub roads: Vec<RoadSpec>,
    /// The ego vehicle: where it starts and how fast it drives.
    pub ego: EgoSpec,
    /// Groups of moving (or parked) actors; each becomes ground truth.
    pub actor_groups: Vec<ActorGroupSpec>,
    /// Rows of static clutter placed along a road (poles, walls, trees, curbs, buildings).
    pub static_rows: Vec<StaticRowSpec>,
    /// Single static objects.
    pub static_objects: Vec<StaticObjectSpec>,
    /// The spinning lidar on the ego roof.
    pub lidar: LidarSpec,
    /// Pinhole cameras on the ego.
    pub cameras: Vec<CameraSpec>,
    /// The simulated 2D detector that stands in for an image model.
    pub detector: DetectorSpec,
}

impl Default for ScenarioSpec {
    fn default() -> Self {
        Self {
            name: "default".into(),
            description: "One straight road, the ego and nothing else.".into(),
            default_frames: 200,
            start_stamp_ns: 1_700_000_000_000_000_000,
            ground: GroundSpec::default(),
            roads: vec![RoadSpec::default()],
            ego: EgoSpec::default(),
            actor_groups: Vec::new(),
            static_rows: Vec::new(),
            static_objects: Vec::new(),
            lidar: LidarSpec::default(),
            cameras: vec![CameraSpec::default()],
            detector: DetectorSpec::default(),
        }
    }
}

/// Ground height as a piecewise-linear profile along one world direction (a hill, a ramp).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroundSpec {
    /// Direction of the profile axis in the world x-y plane, deg from +x.
    pub axis_deg: f64,
    /// `[position along the axis m, height m]` knots, ascending positions; the height is
    /// constant beyond the first and last knot. Empty: flat ground at z = 0.
    pub profile: Vec<[f64; 2]>,
}

/// One road: a centre line built from segments, with lanes on both sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoadSpec {
    /// Unique name, referenced by the ego, actor groups and static rows.
    pub name: String,
    /// World position of the start of the centre line, m.
    pub start_xy_m: [f64; 2],
    /// Heading at the start, deg from +x (counter-clockwise).
    pub start_heading_deg: f64,
    /// Lanes in the road's direction (right of the centre line).
    pub lanes_forward: u32,
    /// Lanes against the road's direction (left of the centre line).
    pub lanes_backward: u32,
    /// Lane width, m.
    pub lane_width_m: f64,
    /// Sidewalk width on each side, beyond the outer lanes, m.
    pub sidewalk_width_m: f64,
    /// The centre line, segment after segment.
    pub segments: Vec<SegmentSpec>,
}

impl Default for RoadSpec {
    fn default() -> Self {
        Self {
            name: "main".into(),
            start_xy_m: [0.0, 0.0],
            start_heading_deg: 0.0,
            lanes_forward: 1,
            lanes_backward: 1,
            lane_width_m: 3.5,
            sidewalk_width_m: 3.0,
            segments: vec![SegmentSpec::Straight { length_m: 500.0 }],
        }
    }
}

/// A piece of a road's centre line: `{ kind: straight, length_m: 100 }` or
/// `{ kind: arc, radius_m: 150, angle_deg: 30 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum SegmentSpec {
    /// A straight piece.
    Straight {
        /// Length, m.
        length_m: f64,
    },
    /// A circular arc.
    Arc {
        /// Radius, m.
        radius_m: f64,
        /// Turn angle, deg; positive turns left.
        angle_deg: f64,
    },
}

/// Which way along a road an actor travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// With the road (forward lanes).
    #[default]
    Forward,
    /// Against the road (backward lanes).
    Backward,
    /// Each actor picks one at random.
    Both,
}

/// The ego vehicle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgoSpec {
    /// Road it drives on.
    pub road: String,
    /// Forward lane index, 0 = next to the centre line.
    pub lane: u32,
    /// Start position along the road, m.
    pub start_s_m: f64,
    /// Desired speed, m/s (it slows for whatever is ahead in its lane).
    pub speed_mps: f64,
    /// Body size `[length, width, height]`, m.
    pub size_m: [f64; 3],
}

impl Default for EgoSpec {
    fn default() -> Self {
        Self {
            road: "main".into(),
            lane: 0,
            start_s_m: 20.0,
            speed_mps: 10.0,
            size_m: [4.7, 1.9, 1.6],
        }
    }
}

/// How an actor moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Drive in a lane, keeping a gap to whatever is ahead (intelligent driver model).
    #[default]
    FollowLane,
    /// Walk along a sidewalk.
    WalkSidewalk,
    /// Cross the road at a fixed station, wait at the curb, cross back, and so on.
    CrossRoad,
    /// Stand still at the curb (parked vehicles, standing people).
    Parked,
}

/// A group of actors of one class and behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorGroupSpec {
    /// Class of every actor in the group (ground truth and detector class).
    pub class: ObjectClass,
    /// Number of actors.
    pub count: u32,
    /// How they move.
    pub behaviour: Behaviour,
    /// Road they are placed on.
    pub road: String,
    /// Direction of travel (lane side, sidewalk walking direction).
    pub direction: Direction,
    /// Placement range along the road, m; actors are spread in it at random.
    pub s_range_m: [f64; 2],
    /// Desired speed range, m/s, drawn uniformly per actor.
    pub speed_range_mps: [f64; 2],
    /// Lanes to use (indices on the chosen side); empty: all lanes on that side.
    pub lanes: Vec<u32>,
    /// Lateral offset range from the centre line, m; overrides the lane or curb placement.
    pub offset_range_m: Option<[f64; 2]>,
    /// Body size `[length, width, height]`, m; default: typical for the class.
    pub size_m: Option<[f64; 3]>,
    /// Relative size jitter (uniform, +-).
    pub size_jitter: f64,
    /// Wait at the curb between crossings (cross_road), s.
    pub wait_range_s: [f64; 2],
}

impl Default for ActorGroupSpec {
    fn default() -> Self {
        Self {
            class: ObjectClass::Car,
            count: 0,
            behaviour: Behaviour::FollowLane,
            road: "main".into(),
            direction: Direction::Forward,
            s_range_m: [0.0, 300.0],
            speed_range_mps: [8.0, 12.0],
            lanes: Vec::new(),
            offset_range_m: None,
            size_m: None,
            size_jitter: 0.08,
            wait_range_s: [2.0, 10.0],
        }
    }
}

/// Kinds of static clutter. Each has a typical size; trees are a trunk and a canopy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaticKind {
    /// A lamp or sign pole.
    #[default]
    Pole,
    /// A wall or fence segment.
    Wall,
    /// A building block.
    Building,
    /// A tree: trunk and canopy.
    Tree,
    /// A curb segment (a low step at the road edge).
    Curb,
}

/// Which side of a road.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Right of the road direction (forward lanes' curb).
    #[default]
    Right,
    /// Left of the road direction.
    Left,
    /// Both sides.
    Both,
}

/// A row of static objects along a road, one every `spacing_m`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticRowSpec {
    /// What the row is made of.
    pub kind: StaticKind,
    /// Road it follows.
    pub road: String,
    /// Side(s) of the road.
    pub side: Side,
    /// Distance beyond the outer lane edge, m (negative: onto the road).
    pub edge_offset_m: f64,
    /// Station range along the road, m.
    pub s_range_m: [f64; 2],
    /// Spacing along the road, m.
    pub spacing_m: f64,
    /// Size `[along road, across, height]`, m; default: typical for the kind (walls and curbs
    /// default to the spacing in length, so a row is continuous).
    pub size_m: Option<[f64; 3]>,
}

impl Default for StaticRowSpec {
    fn default() -> Self {
        Self {
            kind: StaticKind::Pole,
            road: "main".into(),
            side: Side::Right,
            edge_offset_m: 1.0,
            s_range_m: [0.0, 200.0],
            spacing_m: 25.0,
            size_m: None,
        }
    }
}

/// One static object placed relative to a road.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticObjectSpec {
    /// What it is.
    pub kind: StaticKind,
    /// Road it is placed on.
    pub road: String,
    /// Station along the road, m.
    pub s_m: f64,
    /// Lateral offset from the centre line, m (positive left).
    pub offset_m: f64,
    /// Yaw relative to the road direction, deg.
    pub yaw_deg: f64,
    /// Size `[length, width, height]`, m; default: typical for the kind.
    pub size_m: Option<[f64; 3]>,
}

impl Default for StaticObjectSpec {
    fn default() -> Self {
        Self {
            kind: StaticKind::Wall,
            road: "main".into(),
            s_m: 50.0,
            offset_m: 0.0,
            yaw_deg: 0.0,
            size_m: None,
        }
    }
}

/// The spinning lidar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LidarSpec {
    /// Frame id of the clouds.
    pub frame_id: String,
    /// Spin rate = frame rate, Hz.
    pub rate_hz: f64,
    /// Number of beams (rings), spread evenly over the vertical field of view.
    pub beams: u32,
    /// Lowest beam elevation, deg.
    pub vertical_fov_min_deg: f64,
    /// Highest beam elevation, deg.
    pub vertical_fov_max_deg: f64,
    /// Azimuth step between firings, deg (360 / step columns per sweep).
    pub azimuth_step_deg: f64,
    /// Minimum range, m (closer returns are discarded).
    pub range_min_m: f64,
    /// Maximum range, m.
    pub range_max_m: f64,
    /// Gaussian range noise, m (1 sigma).
    pub range_noise_sigma_m: f64,
    /// Probability that a return is lost.
    pub dropout_prob: f64,
    /// Extra loss probability for a black target at maximum range; it scales with
    /// `(range / range_max)^2 * (1 - reflectivity)` (dark, far surfaces return less).
    pub far_dropout_prob: f64,
    /// Mount position on the ego (base_link at the ground under the vehicle centre), m.
    pub mount_xyz_m: [f64; 3],
}

impl Default for LidarSpec {
    fn default() -> Self {
        Self {
            frame_id: "lidar_top".into(),
            rate_hz: 10.0,
            beams: 64,
            vertical_fov_min_deg: -24.9,
            vertical_fov_max_deg: 2.0,
            azimuth_step_deg: 0.2,
            range_min_m: 1.0,
            range_max_m: 120.0,
            range_noise_sigma_m: 0.02,
            dropout_prob: 0.02,
            far_dropout_prob: 0.3,
            mount_xyz_m: [0.0, 0.0, 1.8],
        }
    }
}

/// One pinhole camera on the ego.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraSpec {
    /// Name, e.g. `front`.
    pub name: String,
    /// Image width, px.
    pub width: u32,
    /// Image height, px.
    pub height: u32,
    /// Focal length x, px.
    pub fx: f64,
    /// Focal length y, px.
    pub fy: f64,
    /// Principal point x, px (default: image centre).
    pub cx: Option<f64>,
    /// Principal point y, px (default: image centre).
    pub cy: Option<f64>,
    /// Mount position on the ego (base_link), m.
    pub mount_xyz_m: [f64; 3],
    /// Mount yaw, deg (0 looks forward, 90 left).
    pub yaw_deg: f64,
    /// Mount pitch, deg (positive looks down).
    pub pitch_deg: f64,
    /// Exposure stamp relative to the lidar stamp, ms.
    pub stamp_offset_ms: f64,
}

impl Default for CameraSpec {
    fn default() -> Self {
        Self {
            name: "front".into(),
            width: 1600,
            height: 900,
            fx: 1200.0,
            fy: 1200.0,
            cx: None,
            cy: None,
            mount_xyz_m: [1.5, 0.0, 1.5],
            yaw_deg: 0.0,
            pitch_deg: 0.0,
            stamp_offset_ms: 5.0,
        }
    }
}

/// The simulated 2D detector: projected ground truth with noise, misses and false positives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorSpec {
    /// Pixel noise on each box edge, px (1 sigma).
    pub position_noise_px: f64,
    /// Extra edge noise relative to the box size (1 sigma).
    pub position_noise_rel: f64,
    /// Base probability of missing a visible object.
    pub miss_prob: f64,
    /// Extra miss probability for a fully occluded object, scaled by the occluded fraction.
    pub miss_prob_occluded: f64,
    /// Extra miss probability for boxes at the minimum height, fading out at twice it.
    pub miss_prob_small: f64,
    /// Objects with less than this visible fraction (lidar ray visibility) are not detected.
    pub min_visible_fraction: f64,
    /// Boxes shorter than this are not detected, px.
    pub min_box_height_px: f64,
    /// Mean number of false positives per image (Poisson).
    pub false_positives_per_image: f64,
    /// Probability of swapping car and truck (bus -> truck, cyclist -> pedestrian).
    pub class_confusion_prob: f64,
    /// Score of true positives: `[mean, sigma]`, lowered by occlusion.
    pub tp_score: [f64; 2],
    /// Score of false positives: `[mean, sigma]`.
    pub fp_score: [f64; 2],
    /// Near clipping plane for projection, m.
    pub near_plane_m: f64,
}

impl Default for DetectorSpec {
    fn default() -> Self {
        Self {
            position_noise_px: 2.0,
            position_noise_rel: 0.03,
            miss_prob: 0.05,
            miss_prob_occluded: 0.4,
            miss_prob_small: 0.3,
            min_visible_fraction: 0.15,
            min_box_height_px: 12.0,
            false_positives_per_image: 0.3,
            class_confusion_prob: 0.03,
            tp_score: [0.8, 0.1],
            fp_score: [0.4, 0.12],
            near_plane_m: 0.3,
        }
    }
}
