//! The simulator: steps the world one lidar period at a time and renders the sensors.

use crate::ScenarioError;
use crate::detector::{Detector, DetectorInput};
use crate::lidar::Lidar;
use crate::spec::{Behaviour, ScenarioSpec};
use crate::world::{World, WorldBox, class_reflectivity};
use fusionrt_core::geometry::wrap_angle;
use fusionrt_core::image::CameraInfo;
use fusionrt_core::{Box3, CameraCalib, CameraDetections, CameraModel, ObjectClass, PointCloud};
use nalgebra::{Isometry3, Matrix3, Translation3, UnitQuaternion, Vector3};
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// Ground truth of one actor in one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroundTruthObject {
    /// Stable id (1, 2, ... in scenario order; the ego is not listed).
    pub id: u64,
    /// Class.
    pub class: ObjectClass,
    /// Box in the world frame.
    pub bbox_world: Box3,
    /// Box in the lidar frame of this sweep.
    pub bbox_lidar: Box3,
    /// Velocity in the world frame, m/s.
    pub velocity_world_mps: Vector3<f64>,
    /// Lidar returns on the object in this sweep (0: fully occluded or out of view).
    pub lidar_points: u32,
    /// Fraction of the rays through the object's box whose first hit was the object (1 when
    /// no ray passes through it).
    pub visible_fraction: f64,
}

/// One simulated frame; reuse it across [`Simulator::step`] calls so buffers are kept.
#[derive(Clone, Debug, Default)]
pub struct SimFrame {
    /// Frame number, from 0.
    pub index: u64,
    /// Lidar sweep stamp, ns.
    pub stamp_ns: i64,
    /// Ego odometry times the lidar mount.
    pub world_from_lidar: Isometry3<f64>,
    /// Ego velocity in the world frame, m/s.
    pub ego_velocity_world_mps: Vector3<f64>,
    /// The sweep in the lidar frame, with intensity and ring.
    pub cloud: PointCloud,
    /// One entry per camera, stamped at its exposure time.
    pub detections: Vec<CameraDetections>,
    /// Every actor within lidar range.
    pub ground_truth: Vec<GroundTruthObject>,
}

/// The scenario simulator: deterministic for a spec and seed.
#[derive(Clone, Debug)]
pub struct Simulator {
    world: World,
    lidar: Lidar,
    detector: Detector,
    world_rng: Pcg64,
    cameras: Vec<CameraCalib>,
    camera_infos: Vec<CameraInfo>,
    camera_offsets_ns: Vec<i64>,
    lidar_mount: [f64; 3],
    range_max_m: f64,
    period_ns: i64,
    start_stamp_ns: i64,
    index: u64,
    boxes: Vec<WorldBox>,
    owners: Vec<usize>,
    inputs: Vec<DetectorInput>,
}

/// Rotation from a camera's optical frame (z forward, x right, y down) to its body frame
/// (x forward, y left, z up).
fn body_from_optical() -> UnitQuaternion<f64> {
    UnitQuaternion::from_matrix(&Matrix3::new(0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
}

impl Simulator {
    /// Validates the spec, builds the world and places every actor (seeded).
    pub fn new(spec: &ScenarioSpec, seed: u64) -> Result<Self, ScenarioError> {
        validate(spec)?;
        // Independent streams, so e.g. detector changes do not move the lidar noise.
        let stream = |k: u64| Pcg64::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k);
        let mut world_rng = stream(0x5eed_0001);
        let world = World::new(spec, &mut world_rng)?;
        let base_from_lidar = Translation3::from(Vector3::from(spec.lidar.mount_xyz_m));
        let mut cameras = Vec::new();
        let mut camera_infos = Vec::new();
        for c in &spec.cameras {
            let cx = c.cx.unwrap_or(0.5 * f64::from(c.width));
            let cy = c.cy.unwrap_or(0.5 * f64::from(c.height));
            let base_from_body = Isometry3::from_parts(
                Translation3::from(Vector3::from(c.mount_xyz_m)),
                UnitQuaternion::from_euler_angles(
                    0.0,
                    c.pitch_deg.to_radians(),
                    c.yaw_deg.to_radians(),
                ),
            );
            let base_from_optical = base_from_body
                * Isometry3::from_parts(Translation3::identity(), body_from_optical());
            let camera_from_lidar = base_from_optical.inverse()
                * Isometry3::from_parts(base_from_lidar, UnitQuaternion::identity());
            let frame_id = format!("camera_{}_optical", c.name);
            cameras.push(CameraCalib {
                name: c.name.clone(),
                frame_id: frame_id.clone(),
                model: CameraModel::pinhole(c.width, c.height, c.fx, c.fy, cx, cy),
                camera_from_lidar,
            });
            camera_infos.push(CameraInfo {
                stamp_ns: 0,
                frame_id,
                width: c.width,
                height: c.height,
                distortion_model: "plumb_bob".into(),
                d: vec![0.0; 5],
                k: [c.fx, 0.0, cx, 0.0, c.fy, cy, 0.0, 0.0, 1.0],
                r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                p: [c.fx, 0.0, cx, 0.0, 0.0, c.fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
            });
        }
        let num_boxes = world.statics.len() + 2 * world.agents.len();
        Ok(Self {
            lidar: Lidar::new(&spec.lidar, stream(0x5eed_0002)),
            detector: Detector::new(&spec.detector, stream(0x5eed_0003)),
            world_rng,
            camera_offsets_ns: spec
                .cameras
                .iter()
                .map(|c| fusionrt_core::secs_to_nanos(c.stamp_offset_ms * 1e-3))
                .collect(),
            cameras,
            camera_infos,
            lidar_mount: spec.lidar.mount_xyz_m,
            range_max_m: spec.lidar.range_max_m,
            period_ns: fusionrt_core::secs_to_nanos(1.0 / spec.lidar.rate_hz),
            start_stamp_ns: spec.start_stamp_ns,
            index: 0,
            boxes: Vec::with_capacity(num_boxes),
            owners: Vec::with_capacity(world.agents.len()),
            inputs: Vec::with_capacity(world.agents.len()),
            world,
        })
    }

    /// The cameras, with `camera_from_lidar` extrinsics, in spec order.
    pub fn cameras(&self) -> &[CameraCalib] {
        &self.cameras
    }

    /// `CameraInfo` of every camera, in spec order (stamp 0: set it per frame).
    pub fn camera_infos(&self) -> &[CameraInfo] {
        &self.camera_infos
    }

    /// Lidar period, ns.
    pub fn period_ns(&self) -> i64 {
        self.period_ns
    }

    /// Points per sweep when every ray returns (a capacity hint for clouds).
    pub fn max_points(&self) -> usize {
        self.lidar.max_points()
    }

    /// A frame with every buffer allocated for this scenario, so steps allocate (almost) nothing.
    pub fn new_frame(&self) -> SimFrame {
        let channels = fusionrt_core::cloud::Channels {
            intensity: true,
            ring: true,
            time_offset: false,
        };
        SimFrame {
            cloud: PointCloud::with_capacity(self.max_points(), channels),
            detections: (0..self.cameras.len())
                .map(|i| CameraDetections {
                    camera_index: i,
                    stamp_ns: 0,
                    detections: Vec::with_capacity(self.world.agents.len() + 16),
                })
                .collect(),
            ground_truth: Vec::with_capacity(self.world.agents.len()),
            ..SimFrame::default()
        }
    }

    /// Renders the current state into `frame`, then advances the world by one lidar period.
    pub fn step(&mut self, frame: &mut SimFrame) {
        let ego = self.world.state(&self.world.agents[0]);
        let (sy, cy) = ego.yaw_rad.sin_cos();
        let [mx, my, mz] = self.lidar_mount;
        let ground_z = ego.center[2] - 0.5 * self.world.agents[0].size[2];
        let origin = [
            ego.center[0] + cy * mx - sy * my,
            ego.center[1] + sy * mx + cy * my,
            ground_z + mz,
        ];
        let world_from_lidar = Isometry3::from_parts(
            Translation3::new(origin[0], origin[1], origin[2]),
            UnitQuaternion::from_euler_angles(0.0, 0.0, ego.yaw_rad),
        );
        frame.index = self.index;
        frame.stamp_ns = self.start_stamp_ns + self.index as i64 * self.period_ns;
        frame.world_from_lidar = world_from_lidar;
        frame.ego_velocity_world_mps = Vector3::from(ego.velocity);
        frame.cloud.stamp_ns = frame.stamp_ns;

        // Boxes: clutter, then every actor in range (the ego carries no box).
        self.boxes.clear();
        self.boxes.extend_from_slice(&self.world.statics);
        self.owners.clear();
        frame.ground_truth.clear();
        let lidar_from_world = world_from_lidar.inverse();
        for (ai, agent) in self.world.agents.iter().enumerate().skip(1) {
            let st = self.world.state(agent);
            let dist = (st.center[0] - origin[0]).hypot(st.center[1] - origin[1]);
            if dist > self.range_max_m + 0.5 * agent.size[0] {
                continue;
            }
            let owner = frame.ground_truth.len() as u32;
            self.boxes.push(WorldBox {
                center: st.center,
                size: agent.size,
                yaw_rad: st.yaw_rad,
                reflectivity: class_reflectivity(agent.class),
                owner,
            });
            let bbox_world = Box3::new(
                Vector3::from(st.center),
                Vector3::from(agent.size),
                st.yaw_rad,
            );
            frame.ground_truth.push(GroundTruthObject {
                id: agent.id,
                class: agent.class,
                bbox_world,
                bbox_lidar: transform_box(&lidar_from_world, &bbox_world, -ego.yaw_rad),
                velocity_world_mps: Vector3::from(st.velocity),
                lidar_points: 0,
                visible_fraction: 1.0,
            });
            self.owners.push(ai);
        }

        self.lidar.scan(
            origin,
            ego.yaw_rad,
            &self.world.ground,
            &self.boxes,
            frame.ground_truth.len(),
            &mut frame.cloud,
        );
        for (gt, counts) in frame.ground_truth.iter_mut().zip(self.lidar.counts()) {
            gt.lidar_points = counts.returns;
            if counts.through > 0 {
                gt.visible_fraction = f64::from(counts.first_hits) / f64::from(counts.through);
            }
        }

        // Cameras: objects extrapolated to each exposure time, seen from the ego there.
        frame
            .detections
            .resize_with(self.cameras.len(), CameraDetections::default);
        for (ci, cam) in self.cameras.iter().enumerate() {
            let dt_ns = self.camera_offsets_ns[ci];
            let dt = fusionrt_core::nanos_to_secs(dt_ns);
            let ego_yaw = ego.yaw_rad + ego.yaw_rate_rps * dt;
            let shifted = Isometry3::from_parts(
                Translation3::new(
                    origin[0] + ego.velocity[0] * dt,
                    origin[1] + ego.velocity[1] * dt,
                    origin[2],
                ),
                UnitQuaternion::from_euler_angles(0.0, 0.0, ego_yaw),
            );
            let lidar_from_world_c = shifted.inverse();
            self.inputs.clear();
            for gt in &frame.ground_truth {
                let v = gt.velocity_world_mps;
                let mut b = gt.bbox_world;
                b.center += v * dt;
                self.inputs.push(DetectorInput {
                    class: gt.class,
                    bbox_lidar: transform_box(&lidar_from_world_c, &b, -ego_yaw),
                    visible_fraction: gt.visible_fraction,
                });
            }
            let out = &mut frame.detections[ci];
            out.camera_index = ci;
            out.stamp_ns = frame.stamp_ns + dt_ns;
            self.detector.detect(cam, &self.inputs, &mut out.detections);
        }

        self.world.advance(
            fusionrt_core::nanos_to_secs(self.period_ns),
            &mut self.world_rng,
        );
        self.index += 1;
    }
}

/// A world box in another frame that differs by a yaw of `yaw_delta_rad`.
fn transform_box(target_from_world: &Isometry3<f64>, b: &Box3, yaw_delta_rad: f64) -> Box3 {
    let c = target_from_world * nalgebra::Point3::from(b.center);
    Box3::new(c.coords, b.size, wrap_angle(b.yaw_rad + yaw_delta_rad))
}

fn check(ok: bool, field: &str, reason: impl FnOnce() -> String) -> Result<(), ScenarioError> {
    if ok {
        Ok(())
    } else {
        Err(ScenarioError::invalid(field, reason()))
    }
}

fn prob(v: f64, field: &str) -> Result<(), ScenarioError> {
    check((0.0..=1.0).contains(&v), field, || {
        format!("{v} is not a probability in [0, 1]")
    })
}

fn range_ok(r: [f64; 2], field: &str) -> Result<(), ScenarioError> {
    check(
        r[0].is_finite() && r[1].is_finite() && r[0] <= r[1],
        field,
        || format!("{r:?} is not an ascending [min, max] range"),
    )
}

/// Most actors per group, static objects per row, and road length the simulator accepts.
const MAX_ACTORS_PER_GROUP: u32 = 10_000;
const MAX_STATICS_PER_ROW: f64 = 100_000.0;
const MAX_ROAD_LENGTH_M: f64 = 100_000.0;

/// Checks every value the simulator relies on; the error names the field.
pub fn validate(spec: &ScenarioSpec) -> Result<(), ScenarioError> {
    if let Some(path) = fusionrt_core::config::first_non_finite(spec) {
        return Err(ScenarioError::invalid(path, "must be a finite number"));
    }
    let l = &spec.lidar;
    check(
        l.rate_hz > 0.0 && l.rate_hz <= 100.0,
        "lidar.rate_hz",
        || format!("{} is not in (0, 100]", l.rate_hz),
    )?;
    check((1..=256).contains(&l.beams), "lidar.beams", || {
        format!("{} is not in 1..=256", l.beams)
    })?;
    check(
        l.azimuth_step_deg >= 0.05 && l.azimuth_step_deg <= 10.0,
        "lidar.azimuth_step_deg",
        || format!("{} is not in [0.05, 10]", l.azimuth_step_deg),
    )?;
    check(
        l.vertical_fov_min_deg < l.vertical_fov_max_deg
            && l.vertical_fov_min_deg >= -89.0
            && l.vertical_fov_max_deg <= 89.0,
        "lidar.vertical_fov_min_deg",
        || "vertical FOV must be ascending within [-89, 89] deg".into(),
    )?;
    check(
        l.range_min_m >= 0.0 && l.range_max_m > l.range_min_m,
        "lidar.range_max_m",
        || format!("range [{}, {}] m is empty", l.range_min_m, l.range_max_m),
    )?;
    check(
        l.range_noise_sigma_m >= 0.0,
        "lidar.range_noise_sigma_m",
        || "must be >= 0".into(),
    )?;
    check(l.mount_xyz_m[2] > 0.0, "lidar.mount_xyz_m", || {
        "the lidar must sit above the ground".into()
    })?;
    prob(l.dropout_prob, "lidar.dropout_prob")?;
    prob(l.far_dropout_prob, "lidar.far_dropout_prob")?;
    check(!spec.roads.is_empty(), "roads", || {
        "at least one road is needed".into()
    })?;
    for (i, r) in spec.roads.iter().enumerate() {
        let f = |k: &str| format!("roads[{i}].{k}");
        check(!r.segments.is_empty(), &f("segments"), || {
            "a road needs segments".into()
        })?;
        check(r.lane_width_m > 0.5, &f("lane_width_m"), || {
            "must exceed 0.5 m".into()
        })?;
        check(r.sidewalk_width_m >= 0.0, &f("sidewalk_width_m"), || {
            "must be >= 0".into()
        })?;
        check(
            spec.roads.iter().filter(|o| o.name == r.name).count() == 1,
            &f("name"),
            || format!("road name `{}` is used twice", r.name),
        )?;
        let length: f64 = r
            .segments
            .iter()
            .map(|s| match *s {
                crate::spec::SegmentSpec::Straight { length_m } => length_m.abs(),
                crate::spec::SegmentSpec::Arc {
                    radius_m,
                    angle_deg,
                } => radius_m.abs() * angle_deg.to_radians().abs(),
            })
            .sum();
        check(length <= MAX_ROAD_LENGTH_M, &f("segments"), || {
            format!("the road is {length:.0} m long; at most {MAX_ROAD_LENGTH_M} m")
        })?;
        for (j, s) in r.segments.iter().enumerate() {
            let ok = match *s {
                crate::spec::SegmentSpec::Straight { length_m } => length_m > 0.0,
                crate::spec::SegmentSpec::Arc {
                    radius_m,
                    angle_deg,
                } => radius_m > 1.0 && angle_deg != 0.0 && angle_deg.abs() <= 360.0,
            };
            check(ok, &format!("roads[{i}].segments[{j}]"), || {
                "needs length_m > 0, or radius_m > 1 and 0 < |angle_deg| <= 360".into()
            })?;
        }
    }
    let g = &spec.ground;
    check(
        g.profile.windows(2).all(|w| w[0][0] < w[1][0])
            && g.profile.iter().flatten().all(|v| v.is_finite()),
        "ground.profile",
        || "knot positions must be finite and strictly ascending".into(),
    )?;
    let ego_road = spec.roads.iter().find(|r| r.name == spec.ego.road);
    check(ego_road.is_some(), "ego.road", || {
        format!("no road named `{}`", spec.ego.road)
    })?;
    if let Some(r) = ego_road {
        check(spec.ego.lane < r.lanes_forward, "ego.lane", || {
            format!("road `{}` has {} forward lanes", r.name, r.lanes_forward)
        })?;
    }
    check(spec.ego.speed_mps >= 0.0, "ego.speed_mps", || {
        "must be >= 0".into()
    })?;
    check(
        spec.ego.size_m.iter().all(|v| *v > 0.0),
        "ego.size_m",
        || "must be positive".into(),
    )?;
    for (i, g) in spec.actor_groups.iter().enumerate() {
        let f = |k: &str| format!("actor_groups[{i}].{k}");
        range_ok(g.s_range_m, &f("s_range_m"))?;
        check(g.count <= MAX_ACTORS_PER_GROUP, &f("count"), || {
            format!("at most {MAX_ACTORS_PER_GROUP} actors per group")
        })?;
        range_ok(g.speed_range_mps, &f("speed_range_mps"))?;
        range_ok(g.wait_range_s, &f("wait_range_s"))?;
        check(g.speed_range_mps[0] >= 0.0, &f("speed_range_mps"), || {
            "speeds must be >= 0".into()
        })?;
        check(
            g.behaviour != Behaviour::CrossRoad || g.speed_range_mps[0] > 0.0,
            &f("speed_range_mps"),
            || "crossing actors need a positive speed".into(),
        )?;
        check(
            (0.0..0.5).contains(&g.size_jitter),
            &f("size_jitter"),
            || "must be in [0, 0.5)".into(),
        )?;
        if let Some(s) = g.size_m {
            check(s.iter().all(|v| *v > 0.0), &f("size_m"), || {
                "must be positive".into()
            })?;
        }
        if let Some(road) = spec.roads.iter().find(|r| r.name == g.road) {
            let lanes = match g.direction {
                crate::spec::Direction::Backward => road.lanes_backward,
                crate::spec::Direction::Forward => road.lanes_forward,
                crate::spec::Direction::Both => road.lanes_forward.min(road.lanes_backward),
            };
            check(
                g.behaviour != Behaviour::FollowLane || g.offset_range_m.is_some() || lanes > 0,
                &f("direction"),
                || format!("road `{}` has no lanes in that direction", road.name),
            )?;
            check(
                g.lanes.iter().all(|l| *l < lanes.max(1)),
                &f("lanes"),
                || format!("road `{}` has {lanes} lanes in that direction", road.name),
            )?;
        }
    }
    for (i, r) in spec.static_rows.iter().enumerate() {
        check(
            r.spacing_m >= 0.1,
            &format!("static_rows[{i}].spacing_m"),
            || "must be >= 0.1 m".into(),
        )?;
        range_ok(r.s_range_m, &format!("static_rows[{i}].s_range_m"))?;
        check(
            (r.s_range_m[1] - r.s_range_m[0]) / r.spacing_m <= MAX_STATICS_PER_ROW,
            &format!("static_rows[{i}].spacing_m"),
            || format!("at most {MAX_STATICS_PER_ROW} objects per row"),
        )?;
    }
    for (i, c) in spec.cameras.iter().enumerate() {
        let f = |k: &str| format!("cameras[{i}].{k}");
        check(c.width > 0 && c.height > 0, &f("width"), || {
            "image size must be positive".into()
        })?;
        check(c.fx > 0.0 && c.fy > 0.0, &f("fx"), || {
            "focal lengths must be positive".into()
        })?;
        check(
            c.stamp_offset_ms.abs() <= 100.0,
            &f("stamp_offset_ms"),
            || "must be within +-100 ms".into(),
        )?;
    }
    let d = &spec.detector;
    prob(d.miss_prob, "detector.miss_prob")?;
    prob(d.miss_prob_occluded, "detector.miss_prob_occluded")?;
    prob(d.miss_prob_small, "detector.miss_prob_small")?;
    prob(d.min_visible_fraction, "detector.min_visible_fraction")?;
    prob(d.class_confusion_prob, "detector.class_confusion_prob")?;
    check(
        d.min_box_height_px > 0.0,
        "detector.min_box_height_px",
        || "must be positive".into(),
    )?;
    check(
        d.false_positives_per_image >= 0.0 && d.false_positives_per_image < 100.0,
        "detector.false_positives_per_image",
        || "must be in [0, 100)".into(),
    )?;
    check(
        d.position_noise_px >= 0.0
            && d.position_noise_rel >= 0.0
            && d.tp_score[1] >= 0.0
            && d.fp_score[1] >= 0.0,
        "detector.position_noise_px",
        || "noise levels must be >= 0".into(),
    )?;
    check(d.near_plane_m > 0.0, "detector.near_plane_m", || {
        "must be positive".into()
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ActorGroupSpec, DetectorSpec, StaticKind, StaticObjectSpec};
    use crate::{builtin_names, load_scenario};
    use std::hash::{DefaultHasher, Hash, Hasher};

    fn hash_frame(f: &SimFrame, h: &mut DefaultHasher) {
        f.index.hash(h);
        f.stamp_ns.hash(h);
        for v in f.world_from_lidar.to_homogeneous().iter() {
            v.to_bits().hash(h);
        }
        for ch in [&f.cloud.x, &f.cloud.y, &f.cloud.z, &f.cloud.intensity] {
            for v in ch.iter() {
                v.to_bits().hash(h);
            }
        }
        f.cloud.ring.hash(h);
        for cam in &f.detections {
            cam.stamp_ns.hash(h);
            for d in &cam.detections {
                for v in [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2, d.score] {
                    v.to_bits().hash(h);
                }
                d.class.hash(h);
            }
        }
        for g in &f.ground_truth {
            g.id.hash(h);
            g.lidar_points.hash(h);
            for v in g
                .bbox_world
                .center
                .iter()
                .chain(g.velocity_world_mps.iter())
            {
                v.to_bits().hash(h);
            }
        }
    }

    fn run_hash(spec: &ScenarioSpec, seed: u64, frames: usize) -> u64 {
        let mut sim = Simulator::new(spec, seed).unwrap();
        let mut frame = SimFrame::default();
        let mut h = DefaultHasher::new();
        for _ in 0..frames {
            sim.step(&mut frame);
            hash_frame(&frame, &mut h);
        }
        h.finish()
    }

    #[test]
    fn builtins_step_with_ground_truth_points_and_detections() {
        for name in builtin_names() {
            let spec = load_scenario(name).unwrap();
            let mut sim = Simulator::new(&spec, 7).unwrap();
            assert_eq!(sim.cameras().len(), spec.cameras.len());
            assert_eq!(sim.camera_infos().len(), spec.cameras.len());
            let mut frame = SimFrame::default();
            let mut seen_detections = 0;
            for i in 0..3 {
                sim.step(&mut frame);
                assert_eq!(frame.index, i);
                assert!(frame.cloud.check_consistent().is_ok());
                assert_eq!(frame.cloud.ring.len(), frame.cloud.len());
                assert!(
                    frame.cloud.len() > 50_000,
                    "{name}: {} points",
                    frame.cloud.len()
                );
                assert_eq!(frame.detections.len(), spec.cameras.len());
                seen_detections += frame
                    .detections
                    .iter()
                    .map(|d| d.detections.len())
                    .sum::<usize>();
                let visible = frame
                    .ground_truth
                    .iter()
                    .filter(|g| g.lidar_points > 0)
                    .count();
                assert!(visible >= 5, "{name}: {visible} objects with lidar points");
            }
            assert!(seen_detections > 10, "{name}: {seen_detections} detections");
        }
        // The scenarios have what the issue asks for.
        let count = |name: &str, class: ObjectClass| {
            load_scenario(name)
                .unwrap()
                .actor_groups
                .iter()
                .filter(|g| g.class == class)
                .map(|g| g.count)
                .sum::<u32>()
        };
        assert!(count("crowded", ObjectClass::Pedestrian) >= 100);
        let urban = load_scenario("urban").unwrap();
        assert!(urban.actor_groups.iter().map(|g| g.count).sum::<u32>() >= 20);
        let highway = load_scenario("highway").unwrap();
        assert!(highway.lidar.range_max_m >= 150.0);
    }

    #[test]
    fn highway_traffic_is_fast_and_seen_far_out() {
        let spec = load_scenario("highway").unwrap();
        let mut sim = Simulator::new(&spec, 5).unwrap();
        let mut frame = sim.new_frame();
        let (mut far_seen, mut fast) = (0, 0);
        for _ in 0..10 {
            sim.step(&mut frame);
            for g in &frame.ground_truth {
                let range = g.bbox_lidar.center.xy().norm();
                far_seen += usize::from(range > 130.0 && g.lidar_points >= 3);
                fast += usize::from(g.velocity_world_mps.norm() > 24.0);
            }
        }
        assert!(far_seen > 0 && fast > 50, "far {far_seen} fast {fast}");
    }

    #[test]
    fn same_seed_is_bit_identical_and_seeds_differ() {
        let spec = load_scenario("urban").unwrap();
        let a = run_hash(&spec, 42, 10);
        assert_eq!(a, run_hash(&spec, 42, 10));
        assert_ne!(a, run_hash(&spec, 43, 10));
    }

    /// A straight road, the ego standing still in lane 0, one car ahead in the same lane.
    fn one_car_ahead(car_s_m: f64) -> ScenarioSpec {
        ScenarioSpec {
            ego: crate::spec::EgoSpec {
                speed_mps: 0.0,
                ..Default::default()
            },
            actor_groups: vec![ActorGroupSpec {
                class: ObjectClass::Car,
                count: 1,
                s_range_m: [car_s_m, car_s_m],
                speed_range_mps: [0.0, 0.0],
                lanes: vec![0],
                size_jitter: 0.0,
                ..Default::default()
            }],
            detector: DetectorSpec {
                miss_prob: 0.0,
                false_positives_per_image: 0.0,
                class_confusion_prob: 0.0,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn car_ahead_gets_lidar_points_and_a_front_detection() {
        let spec = one_car_ahead(40.0);
        let mut sim = Simulator::new(&spec, 1).unwrap();
        let mut frame = SimFrame::default();
        sim.step(&mut frame);
        assert_eq!(frame.ground_truth.len(), 1);
        let gt = frame.ground_truth[0];
        assert!(gt.lidar_points > 100, "{gt:?}");
        assert!(gt.visible_fraction > 0.9, "{gt:?}");
        // 20 m ahead in the lidar frame, in the same lane.
        assert!(
            (gt.bbox_lidar.center.x - 20.0).abs() < 1e-6 && gt.bbox_lidar.center.y.abs() < 1e-6
        );
        let front = &frame.detections[0];
        assert_eq!(front.stamp_ns, frame.stamp_ns + 5_000_000);
        let expected =
            crate::detector::project_box(&sim.cameras()[0], &gt.bbox_lidar, 0.3).unwrap();
        assert_eq!(front.detections.len(), 1, "{front:?}");
        let det = front.detections[0];
        assert_eq!(det.class, ObjectClass::Car);
        assert!(det.bbox.iou(&expected) > 0.7, "{det:?} vs {expected:?}");
        // The box is centred in the image: the car is straight ahead.
        let cx = 0.5 * (det.bbox.x1 + det.bbox.x2);
        assert!((cx - 800.0).abs() < 20.0, "{det:?}");
        // The camera sits 1.5 m up: the car's bottom edge is below the horizon row.
        assert!(det.bbox.y2 > 480.0 && det.bbox.y1 < 460.0, "{det:?}");
        // Points on the car lie on its rear face.
        let rear_x = (gt.bbox_lidar.center.x - 0.5 * gt.bbox_lidar.size.x) as f32;
        let on_rear = (0..frame.cloud.len())
            .filter(|&i| (frame.cloud.x[i] - rear_x).abs() < 0.1 && frame.cloud.y[i].abs() < 1.0)
            .count();
        assert!(
            on_rear as u32 >= gt.lidar_points * 9 / 10,
            "{on_rear} of {}",
            gt.lidar_points
        );
    }

    #[test]
    fn car_behind_a_wall_gets_no_points_and_no_detection() {
        let mut spec = one_car_ahead(50.0);
        spec.static_objects.push(StaticObjectSpec {
            kind: StaticKind::Wall,
            road: "main".into(),
            s_m: 35.0,
            offset_m: -1.75,
            yaw_deg: 90.0,
            size_m: Some([8.0, 0.3, 4.0]),
        });
        let mut sim = Simulator::new(&spec, 1).unwrap();
        let mut frame = SimFrame::default();
        sim.step(&mut frame);
        let gt = frame.ground_truth[0];
        assert_eq!(gt.lidar_points, 0, "{gt:?}");
        assert!(gt.visible_fraction < 0.01, "{gt:?}");
        assert!(
            frame.detections[0].detections.is_empty(),
            "{:?}",
            frame.detections[0]
        );
        // The wall itself is there: points at 14.85 m.
        assert!(
            frame
                .cloud
                .x
                .iter()
                .filter(|x| (**x - 14.85).abs() < 0.1)
                .count()
                > 200
        );
    }

    #[test]
    fn cross_traffic_yields_to_the_main_road() {
        let mut spec = one_car_ahead(40.0);
        spec.actor_groups[0].speed_range_mps = [10.0, 10.0];
        spec.roads.push(crate::spec::RoadSpec {
            name: "cross".into(),
            start_xy_m: [70.0, -50.0],
            start_heading_deg: 90.0,
            segments: vec![crate::spec::SegmentSpec::Straight { length_m: 100.0 }],
            ..Default::default()
        });
        spec.actor_groups.push(ActorGroupSpec {
            road: "cross".into(),
            s_range_m: [22.0, 22.0],
            speed_range_mps: [10.0, 10.0],
            ..spec.actor_groups[0].clone()
        });
        let mut sim = Simulator::new(&spec, 3).unwrap();
        let mut frame = SimFrame::default();
        let mut min_dist = f64::INFINITY;
        let mut cross_passed = false;
        let mut cross_min_speed = f64::INFINITY;
        for _ in 0..100 {
            sim.step(&mut frame);
            let pos = |id: u64| {
                frame
                    .ground_truth
                    .iter()
                    .find(|g| g.id == id)
                    .map(|g| g.bbox_world)
            };
            if let (Some(main), Some(cross)) = (pos(1), pos(2)) {
                min_dist = min_dist.min(main.bev_distance(&cross));
                cross_passed |= cross.center.y > 10.0;
            }
            if let Some(g) = frame.ground_truth.iter().find(|g| g.id == 2) {
                cross_min_speed = cross_min_speed.min(g.velocity_world_mps.norm());
            }
        }
        // Without the rule it would reach the zone together with the main-road car at 10 m/s.
        assert!(
            cross_min_speed < 4.0 && cross_passed,
            "min speed {cross_min_speed} passed {cross_passed}"
        );
        assert!(min_dist > 5.0, "{min_dist}");
    }

    #[test]
    fn an_actor_leaving_the_road_comes_back_as_a_new_object() {
        let mut spec = one_car_ahead(95.0);
        spec.roads[0].segments = vec![crate::spec::SegmentSpec::Straight { length_m: 100.0 }];
        spec.actor_groups[0].speed_range_mps = [10.0, 10.0];
        let mut sim = Simulator::new(&spec, 1).unwrap();
        let mut frame = sim.new_frame();
        sim.step(&mut frame);
        assert_eq!(frame.ground_truth[0].id, 1);
        assert!(frame.ground_truth[0].bbox_world.center.x > 90.0);
        for _ in 0..10 {
            sim.step(&mut frame);
        }
        let gt = frame.ground_truth[0];
        assert_eq!(gt.id, 2, "{gt:?}");
        assert!(gt.bbox_world.center.x < 20.0, "{gt:?}");
        assert!((frame.ego_velocity_world_mps.norm()).abs() < 1e-12);
    }

    #[test]
    fn invalid_values_are_named() {
        let mut spec = ScenarioSpec::default();
        spec.lidar.dropout_prob = 1.5;
        let msg = Simulator::new(&spec, 0).unwrap_err().to_string();
        assert!(msg.contains("lidar.dropout_prob"), "{msg}");
        let mut spec = ScenarioSpec::default();
        spec.actor_groups.push(ActorGroupSpec {
            road: "nowhere".into(),
            count: 1,
            ..Default::default()
        });
        let msg = Simulator::new(&spec, 0).unwrap_err().to_string();
        assert!(
            msg.contains("actor_groups[0].road") && msg.contains("nowhere"),
            "{msg}"
        );
        let mut spec = ScenarioSpec::default();
        spec.actor_groups.push(ActorGroupSpec {
            count: 50,
            s_range_m: [30.0, 31.0],
            ..Default::default()
        });
        let msg = Simulator::new(&spec, 0).unwrap_err().to_string();
        assert!(msg.contains("cannot place"), "{msg}");
        let mut spec = ScenarioSpec::default();
        spec.cameras[0].mount_xyz_m[2] = f64::NAN;
        let msg = Simulator::new(&spec, 0).unwrap_err().to_string();
        assert!(
            msg.contains("cameras[0].mount_xyz_m[2]") && msg.contains("finite"),
            "{msg}"
        );
        let mut spec = ScenarioSpec::default();
        spec.roads[0].segments = vec![crate::spec::SegmentSpec::Straight { length_m: 1e12 }];
        let msg = Simulator::new(&spec, 0).unwrap_err().to_string();
        assert!(msg.contains("roads[0].segments"), "{msg}");
    }
}
