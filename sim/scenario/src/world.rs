//! The simulated world: the ego and actors moving on roads, and static clutter.
//!
//! Vehicles and cyclists follow their lane with the intelligent driver model (Treiber et al.),
//! keeping a gap to whatever is ahead in their lane, crossing pedestrians included. Pedestrians
//! walk sidewalks or cross the road, wait at the curb and cross back. Every actor lives in road
//! coordinates (station `s`, lateral offset), so curved roads need no special case.

use crate::ScenarioError;
use crate::road::{Ground, Road};
use crate::spec::{ActorGroupSpec, Behaviour, Direction, ScenarioSpec, Side, StaticKind};
use fusionrt_core::ObjectClass;
use rand::Rng;
use rand_pcg::Pcg64;
use std::f64::consts::{FRAC_PI_2, PI};

/// An oriented box in the world, as the ray caster and the detector see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldBox {
    /// Geometric centre, world frame, m.
    pub center: [f64; 3],
    /// `[length, width, height]`, m.
    pub size: [f64; 3],
    /// Yaw about +z, rad.
    pub yaw_rad: f64,
    /// Lidar reflectivity in `[0, 1]`.
    pub reflectivity: f32,
    /// Index of the ground-truth object it belongs to, `u32::MAX` for clutter.
    pub owner: u32,
}

/// One moving (or parked) participant; index 0 of [`World::agents`] is the ego.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Ground-truth id (0 for the ego).
    pub id: u64,
    /// Class.
    pub class: ObjectClass,
    /// Behaviour.
    pub behaviour: Behaviour,
    /// Index of its road.
    pub road: usize,
    /// Station along the road, m.
    pub s_m: f64,
    /// Lateral offset from the centre line, m.
    pub offset_m: f64,
    /// +1 along the road, -1 against it.
    pub dir: f64,
    /// Current speed along the path (lateral speed while crossing), m/s.
    pub speed_mps: f64,
    /// Desired speed, m/s.
    pub desired_speed_mps: f64,
    /// `[length, width, height]`, m.
    pub size: [f64; 3],
    /// Crossing: the curb offsets it walks between.
    cross: [f64; 2],
    /// Crossing: index into `cross` of the curb it walks to.
    cross_target: usize,
    /// Crossing: seconds left to wait at the curb.
    wait_left_s: f64,
    /// Crossing: wait range, s.
    wait_range_s: [f64; 2],
    /// Yaw relative to the road heading, rad.
    rel_yaw_rad: f64,
}

/// Kinematic state of an agent in the world frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentState {
    /// Box centre, m.
    pub center: [f64; 3],
    /// Yaw, rad.
    pub yaw_rad: f64,
    /// Velocity, m/s.
    pub velocity: [f64; 3],
    /// Yaw rate, rad/s.
    pub yaw_rate_rps: f64,
}

/// Roads, ground, agents and static clutter.
#[derive(Clone, Debug)]
pub struct World {
    /// Sampled roads, in spec order.
    pub roads: Vec<Road>,
    /// Ground height.
    pub ground: Ground,
    /// Ego first, then every actor in group order.
    pub agents: Vec<Agent>,
    /// Static clutter boxes.
    pub statics: Vec<WorldBox>,
    /// Intersections of each road with the others.
    crossings: Vec<Vec<Crossing>>,
    /// The id the next actor that respawns gets.
    next_id: u64,
}

/// Where a road crosses another: the conflict zone vehicles negotiate. Roads earlier in the
/// spec have priority: a vehicle on a later road waits while a vehicle on the earlier road is
/// in the zone or due there within [`YIELD_HORIZON_S`]; a vehicle with priority waits only
/// while the zone is occupied. A vehicle already in the zone never waits for it, so the rule
/// cannot deadlock.
#[derive(Clone, Copy, Debug)]
struct Crossing {
    /// Station on this road, m.
    s_m: f64,
    /// Index of the other road.
    other: usize,
    /// Station on the other road, m.
    other_s_m: f64,
    /// Half length of the conflict zone along this road (the other road's half width plus
    /// a margin), m.
    half_zone_m: f64,
    /// Half length of the zone along the other road, m.
    other_half_zone_m: f64,
}

/// A vehicle without priority waits for one with priority due in the zone within this time, s.
const YIELD_HORIZON_S: f64 = 4.0;

/// True for actors that negotiate intersections (vehicles and cyclists).
fn negotiates(a: &Agent) -> bool {
    a.behaviour == Behaviour::FollowLane
        && (a.class.is_vehicle() || a.class == ObjectClass::Bicycle)
}

/// A static object before it becomes boxes: kind, road index, station, offset, yaw relative
/// to the road, optional size.
type StaticPlacement = (StaticKind, usize, f64, f64, f64, Option<[f64; 3]>);

/// Typical size `[l, w, h]` of a class, m (KITTI and nuScenes averages).
pub fn class_size(class: ObjectClass) -> [f64; 3] {
    match class {
        ObjectClass::Car | ObjectClass::Unknown => [4.5, 1.85, 1.55],
        ObjectClass::Truck => [8.5, 2.5, 3.4],
        ObjectClass::Bus => [12.0, 2.55, 3.2],
        ObjectClass::Pedestrian => [0.8, 0.65, 1.75],
        ObjectClass::Bicycle => [1.75, 0.6, 1.7],
        ObjectClass::Motorcycle => [2.1, 0.8, 1.5],
    }
}

/// Lidar reflectivity of a class.
pub fn class_reflectivity(class: ObjectClass) -> f32 {
    match class {
        ObjectClass::Car | ObjectClass::Unknown => 0.6,
        ObjectClass::Truck | ObjectClass::Bus => 0.5,
        ObjectClass::Pedestrian => 0.35,
        ObjectClass::Bicycle | ObjectClass::Motorcycle => 0.45,
    }
}

/// Intelligent driver model parameters: max acceleration, comfortable braking, jam gap,
/// time headway.
fn idm_params(class: ObjectClass) -> (f64, f64, f64, f64) {
    match class {
        ObjectClass::Truck | ObjectClass::Bus => (1.0, 2.0, 3.0, 1.6),
        ObjectClass::Bicycle => (1.0, 1.5, 1.5, 1.0),
        ObjectClass::Pedestrian => (1.0, 1.5, 0.5, 0.5),
        _ => (1.5, 2.5, 2.0, 1.2),
    }
}

fn uniform(rng: &mut Pcg64, range: [f64; 2]) -> f64 {
    if range[1] > range[0] {
        rng.random_range(range[0]..range[1])
    } else {
        range[0]
    }
}

impl World {
    /// Builds roads and clutter and places the ego and every actor group (validated spec).
    pub fn new(spec: &ScenarioSpec, rng: &mut Pcg64) -> Result<Self, ScenarioError> {
        let roads: Vec<Road> = spec.roads.iter().map(Road::new).collect();
        let ground = Ground::new(&spec.ground);
        let road_index = |roads: &[Road], name: &str| roads.iter().position(|r| r.name == name);
        let ego_road = road_index(&roads, &spec.ego.road).ok_or_else(|| {
            ScenarioError::invalid("ego.road", format!("no road named `{}`", spec.ego.road))
        })?;
        let mut crossings = vec![Vec::new(); roads.len()];
        for a in 0..roads.len() {
            for b in (a + 1)..roads.len() {
                for (s_a, s_b) in roads[a].crossings(&roads[b]) {
                    let (ha, hb) = (roads[a].half_width_m() + 1.0, roads[b].half_width_m() + 1.0);
                    crossings[a].push(Crossing {
                        s_m: s_a,
                        other: b,
                        other_s_m: s_b,
                        half_zone_m: hb,
                        other_half_zone_m: ha,
                    });
                    crossings[b].push(Crossing {
                        s_m: s_b,
                        other: a,
                        other_s_m: s_a,
                        half_zone_m: ha,
                        other_half_zone_m: hb,
                    });
                }
            }
        }
        let mut world = Self {
            crossings,
            next_id: 1,
            agents: vec![Agent {
                id: 0,
                class: ObjectClass::Car,
                behaviour: Behaviour::FollowLane,
                road: ego_road,
                s_m: spec.ego.start_s_m,
                offset_m: roads[ego_road].forward_lane_offset(spec.ego.lane),
                dir: 1.0,
                speed_mps: spec.ego.speed_mps,
                desired_speed_mps: spec.ego.speed_mps,
                size: spec.ego.size_m,
                cross: [0.0; 2],
                cross_target: 0,
                wait_left_s: 0.0,
                wait_range_s: [0.0; 2],
                rel_yaw_rad: 0.0,
            }],
            statics: Vec::new(),
            roads,
            ground,
        };
        for (gi, group) in spec.actor_groups.iter().enumerate() {
            let road = road_index(&world.roads, &group.road).ok_or_else(|| {
                ScenarioError::invalid(
                    format!("actor_groups[{gi}].road"),
                    format!("no road named `{}`", group.road),
                )
            })?;
            for _ in 0..group.count {
                let agent = world.place(gi, group, road, rng)?;
                world.agents.push(agent);
            }
        }
        world.next_id = world.agents.len() as u64;
        world.build_statics(spec)?;
        Ok(world)
    }

    fn place(
        &self,
        gi: usize,
        group: &ActorGroupSpec,
        road_idx: usize,
        rng: &mut Pcg64,
    ) -> Result<Agent, ScenarioError> {
        let road = &self.roads[road_idx];
        let base = group.size_m.unwrap_or_else(|| class_size(group.class));
        for _attempt in 0..200 {
            let j = group.size_jitter;
            let scale = [0, 1, 2].map(|_| 1.0 + uniform(rng, [-j, j]));
            let size = [0, 1, 2].map(|k| base[k] * scale[k]);
            let dir = match group.direction {
                Direction::Forward => 1.0,
                Direction::Backward => -1.0,
                Direction::Both => {
                    if rng.random_bool(0.5) {
                        1.0
                    } else {
                        -1.0
                    }
                }
            };
            let s_m = uniform(rng, group.s_range_m);
            let desired = uniform(rng, group.speed_range_mps);
            let side_lanes = if dir > 0.0 {
                road.lanes_forward
            } else {
                road.lanes_backward
            };
            let lane_offset = |lane: u32| {
                if dir > 0.0 {
                    road.forward_lane_offset(lane)
                } else {
                    road.backward_lane_offset(lane)
                }
            };
            let curb = |right: bool, inset: f64| {
                if right {
                    road.right_edge() - inset
                } else {
                    road.left_edge() + inset
                }
            };
            let mut cross = [0.0; 2];
            let mut cross_target = 0;
            let mut wait_left_s = 0.0;
            let mut speed = desired;
            let mut rel_yaw = if dir > 0.0 { 0.0 } else { PI };
            let offset_m = match group.behaviour {
                Behaviour::FollowLane => match group.offset_range_m {
                    Some(r) => uniform(rng, r),
                    None => {
                        let lane = if group.lanes.is_empty() {
                            rng.random_range(0..side_lanes.max(1))
                        } else {
                            group.lanes[rng.random_range(0..group.lanes.len())]
                        };
                        lane_offset(lane)
                    }
                },
                Behaviour::WalkSidewalk => match group.offset_range_m {
                    Some(r) => uniform(rng, r),
                    None => {
                        let inset = road.sidewalk_width_m * uniform(rng, [0.2, 0.8]);
                        curb(rng.random_bool(0.5), inset)
                    }
                },
                Behaviour::Parked => {
                    speed = 0.0;
                    match group.offset_range_m {
                        Some(r) => uniform(rng, r),
                        None => curb(dir > 0.0, 0.5 * size[1] + 0.1),
                    }
                }
                Behaviour::CrossRoad => {
                    cross = match group.offset_range_m {
                        Some(r) => r,
                        None => [curb(true, 0.6), curb(false, 0.6)],
                    };
                    if rng.random_bool(0.5) {
                        cross.swap(0, 1);
                    }
                    cross_target = 1;
                    let f: f64 = rng.random();
                    let off = cross[0] + f * (cross[1] - cross[0]);
                    if rng.random_bool(0.3) {
                        wait_left_s = uniform(rng, group.wait_range_s);
                    }
                    rel_yaw = (cross[1] - cross[0]).signum() * FRAC_PI_2;
                    speed = desired;
                    off
                }
            };
            let candidate = Agent {
                id: self.agents.len() as u64,
                class: group.class,
                behaviour: group.behaviour,
                road: road_idx,
                s_m,
                offset_m,
                dir,
                speed_mps: speed,
                desired_speed_mps: desired,
                size,
                cross,
                cross_target,
                wait_left_s,
                wait_range_s: group.wait_range_s,
                rel_yaw_rad: rel_yaw,
            };
            if self.is_free(&candidate) {
                return Ok(candidate);
            }
        }
        Err(ScenarioError::invalid(
            format!("actor_groups[{gi}].count"),
            format!(
                "cannot place {} {} actors without overlap in s_range_m {:?}",
                group.count, group.class, group.s_range_m
            ),
        ))
    }

    /// True when `a` overlaps no placed agent (checked in the road frame of `a`, with margin).
    fn is_free(&self, a: &Agent) -> bool {
        let sa = self.state(a);
        let ra = 0.5 * (a.size[0].hypot(a.size[1])) + 0.5;
        self.agents.iter().all(|b| {
            let sb = self.state(b);
            let rb = 0.5 * (b.size[0].hypot(b.size[1]));
            let d = (sa.center[0] - sb.center[0]).hypot(sa.center[1] - sb.center[1]);
            d > ra + rb
        })
    }

    fn build_statics(&mut self, spec: &ScenarioSpec) -> Result<(), ScenarioError> {
        let road_index = |name: &str| self.roads.iter().position(|r| r.name == name);
        let mut items: Vec<StaticPlacement> = Vec::new();
        for (i, row) in spec.static_rows.iter().enumerate() {
            let r = road_index(&row.road).ok_or_else(|| {
                ScenarioError::invalid(
                    format!("static_rows[{i}].road"),
                    format!("no road named `{}`", row.road),
                )
            })?;
            let road = &self.roads[r];
            let size = row.size_m.or(match row.kind {
                StaticKind::Wall => Some([row.spacing_m, 0.3, 2.5]),
                StaticKind::Curb => Some([row.spacing_m, 0.3, 0.15]),
                _ => None,
            });
            let sides: &[bool] = match row.side {
                Side::Right => &[true],
                Side::Left => &[false],
                Side::Both => &[true, false],
            };
            for &right in sides {
                let across = size.map_or(0.5, |s| s[1]);
                let off = if right {
                    road.right_edge() - row.edge_offset_m - 0.5 * across
                } else {
                    road.left_edge() + row.edge_offset_m + 0.5 * across
                };
                let mut s = row.s_range_m[0] + 0.5 * size.map_or(0.0, |s| s[0]);
                while s <= row.s_range_m[1] {
                    items.push((row.kind, r, s, off, 0.0, size));
                    s += row.spacing_m;
                }
            }
        }
        for (i, obj) in spec.static_objects.iter().enumerate() {
            let r = road_index(&obj.road).ok_or_else(|| {
                ScenarioError::invalid(
                    format!("static_objects[{i}].road"),
                    format!("no road named `{}`", obj.road),
                )
            })?;
            items.push((
                obj.kind,
                r,
                obj.s_m,
                obj.offset_m,
                obj.yaw_deg.to_radians(),
                obj.size_m,
            ));
        }
        for (kind, r, s, off, rel_yaw, size) in items {
            let ([x, y], c) = self.roads[r].point(s, off);
            let z0 = self.ground.height(x, y);
            let yaw = fusionrt_core::geometry::wrap_angle(c.heading_rad + rel_yaw);
            let mut push = |size: [f64; 3], z_bottom: f64, refl: f32| {
                self.statics.push(WorldBox {
                    center: [x, y, z0 + z_bottom + 0.5 * size[2]],
                    size,
                    yaw_rad: yaw,
                    reflectivity: refl,
                    owner: u32::MAX,
                });
            };
            match kind {
                StaticKind::Pole => push(size.unwrap_or([0.3, 0.3, 6.0]), 0.0, 0.7),
                StaticKind::Wall => push(size.unwrap_or([10.0, 0.3, 2.5]), 0.0, 0.4),
                StaticKind::Building => push(size.unwrap_or([20.0, 12.0, 12.0]), 0.0, 0.3),
                StaticKind::Curb => push(size.unwrap_or([10.0, 0.3, 0.15]), 0.0, 0.3),
                StaticKind::Tree => {
                    let [l, w, h] = size.unwrap_or([4.0, 4.0, 7.0]);
                    let trunk_h = 0.45 * h;
                    push([0.4, 0.4, trunk_h], 0.0, 0.25);
                    push([l, w, h - trunk_h], trunk_h, 0.15);
                }
            }
        }
        Ok(())
    }

    /// World-frame state of an agent.
    pub fn state(&self, a: &Agent) -> AgentState {
        let road = &self.roads[a.road];
        let ([x, y], c) = road.point(a.s_m, a.offset_m);
        let z = self.ground.height(x, y) + 0.5 * a.size[2];
        let (sn, cs) = c.heading_rad.sin_cos();
        let (v_along, v_lat) = match a.behaviour {
            Behaviour::CrossRoad => {
                if a.wait_left_s > 0.0 {
                    (0.0, 0.0)
                } else {
                    let dir = (a.cross[a.cross_target] - a.offset_m).signum();
                    (0.0, dir * a.speed_mps)
                }
            }
            _ => (
                a.dir * a.speed_mps * (1.0 - c.curvature_1pm * a.offset_m),
                0.0,
            ),
        };
        AgentState {
            center: [x, y, z],
            yaw_rad: fusionrt_core::geometry::wrap_angle(c.heading_rad + a.rel_yaw_rad),
            velocity: [v_along * cs - v_lat * sn, v_along * sn + v_lat * cs, 0.0],
            yaw_rate_rps: if a.behaviour == Behaviour::CrossRoad {
                0.0
            } else {
                a.dir * a.speed_mps * c.curvature_1pm
            },
        }
    }

    /// Advances every agent by `dt_s`.
    pub fn advance(&mut self, dt_s: f64, rng: &mut Pcg64) {
        // Accelerations first (from the state at the start of the step), then integrate.
        let n = self.agents.len();
        for i in 0..n {
            let a = &self.agents[i];
            if a.behaviour != Behaviour::FollowLane {
                continue;
            }
            let (amax, bcomf, s0, headway) = idm_params(a.class);
            let v = a.speed_mps;
            let desired = a.desired_speed_mps;
            let mut accel = amax * (1.0 - (v / desired.max(0.1)).powi(4));
            if let Some((gap, v_lead)) = self.leader(i) {
                let dv = v - v_lead;
                let s_star = s0 + (v * headway + v * dv / (2.0 * (amax * bcomf).sqrt())).max(0.0);
                accel -= amax * (s_star / gap.max(0.1)).powi(2);
            }
            let accel = accel.max(-8.0);
            self.agents[i].speed_mps = (v + accel * dt_s).max(0.0);
            if desired <= 0.0 {
                self.agents[i].speed_mps = 0.0;
            }
        }
        for a in &mut self.agents {
            let len = self.roads[a.road].length_m;
            match a.behaviour {
                Behaviour::FollowLane | Behaviour::WalkSidewalk => {
                    let s = a.s_m + a.dir * a.speed_mps * dt_s;
                    a.s_m = s.rem_euclid(len.max(1e-6));
                    // Off the end of the road: it reappears at the other end as a new object
                    // (the ego keeps its id 0).
                    if a.s_m != s && a.id != 0 {
                        a.id = self.next_id;
                        self.next_id += 1;
                    }
                }
                Behaviour::Parked => {}
                Behaviour::CrossRoad => {
                    if a.wait_left_s > 0.0 {
                        a.wait_left_s -= dt_s;
                        continue;
                    }
                    let target = a.cross[a.cross_target];
                    let step = a.speed_mps * dt_s;
                    let to_go = target - a.offset_m;
                    if to_go.abs() <= step {
                        a.offset_m = target;
                        a.cross_target = 1 - a.cross_target;
                        a.wait_left_s = uniform(rng, a.wait_range_s);
                        let next = a.cross[a.cross_target] - a.offset_m;
                        a.rel_yaw_rad = next.signum() * FRAC_PI_2;
                    } else {
                        a.offset_m += to_go.signum() * step;
                    }
                }
            }
        }
    }

    /// Gap to and speed of the nearest agent ahead of agent `i` in its lane corridor.
    fn leader(&self, i: usize) -> Option<(f64, f64)> {
        let a = &self.agents[i];
        let mut best: Option<(f64, f64)> = None;
        for (j, b) in self.agents.iter().enumerate() {
            if j == i || b.road != a.road {
                continue;
            }
            let ds = (b.s_m - a.s_m) * a.dir;
            if ds <= 0.0 || ds > 100.0 {
                continue;
            }
            let (b_len, b_wid) = if b.behaviour == Behaviour::CrossRoad {
                (b.size[1], b.size[0])
            } else {
                (b.size[0], b.size[1])
            };
            if (b.offset_m - a.offset_m).abs() > 0.5 * (a.size[1] + b_wid) + 0.3 {
                continue;
            }
            let gap = ds - 0.5 * (a.size[0] + b_len);
            let v_lead = match b.behaviour {
                Behaviour::FollowLane | Behaviour::WalkSidewalk => b.speed_mps * b.dir * a.dir,
                _ => 0.0,
            };
            if best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, v_lead));
            }
        }
        if negotiates(a) {
            for cr in &self.crossings[a.road] {
                // Distance from the front bumper to the zone entry.
                let entry = (cr.s_m - a.s_m) * a.dir - cr.half_zone_m - 0.5 * a.size[0];
                if entry <= 0.0 || entry > 60.0 || best.is_some_and(|(g, _)| g <= entry) {
                    continue;
                }
                let has_priority = a.road < cr.other;
                let must_wait = self.agents.iter().any(|b| {
                    if b.road != cr.other || !negotiates(b) {
                        return false;
                    }
                    let to_centre = (cr.other_s_m - b.s_m) * b.dir;
                    let reach = cr.other_half_zone_m + 0.5 * b.size[0];
                    let inside = to_centre.abs() < reach;
                    let due = to_centre > 0.0
                        && (to_centre - reach) < YIELD_HORIZON_S * b.speed_mps.max(0.5);
                    inside || (!has_priority && due)
                });
                if must_wait {
                    best = Some((entry, 0.0));
                }
            }
        }
        best
    }
}
