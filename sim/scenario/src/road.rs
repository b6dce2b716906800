//! Roads sampled into centre-line tables, and the analytic ground height.
//!
//! A road's centre line is sampled every [`SAMPLE_STEP_M`]; a pose at station `s` and lateral
//! offset is interpolated from the table, so lookups cost O(1) whatever the segment mix.

use crate::spec::{GroundSpec, RoadSpec, SegmentSpec};

/// Spacing of the centre-line samples, m.
pub const SAMPLE_STEP_M: f64 = 0.5;

/// A pose on the ground plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose2 {
    /// x, m.
    pub x: f64,
    /// y, m.
    pub y: f64,
    /// Heading, rad.
    pub heading_rad: f64,
    /// Curvature of the centre line there, 1/m (positive: turning left).
    pub curvature_1pm: f64,
}

/// One road, sampled.
#[derive(Clone, Debug)]
pub struct Road {
    /// Name from the spec.
    pub name: String,
    /// Lanes with the road direction.
    pub lanes_forward: u32,
    /// Lanes against the road direction.
    pub lanes_backward: u32,
    /// Lane width, m.
    pub lane_width_m: f64,
    /// Sidewalk width, m.
    pub sidewalk_width_m: f64,
    /// Total centre-line length, m.
    pub length_m: f64,
    samples: Vec<Pose2>,
}

impl Road {
    /// Samples a road's centre line at a uniform step.
    pub fn new(spec: &RoadSpec) -> Self {
        // Start pose, start station, length and curvature of every segment.
        let mut pieces = Vec::with_capacity(spec.segments.len());
        let mut pose = (
            spec.start_xy_m[0],
            spec.start_xy_m[1],
            spec.start_heading_deg.to_radians(),
        );
        let mut length_m = 0.0;
        for seg in &spec.segments {
            let (len, curv) = match *seg {
                SegmentSpec::Straight { length_m } => (length_m, 0.0),
                SegmentSpec::Arc {
                    radius_m,
                    angle_deg,
                } => (
                    radius_m * angle_deg.to_radians().abs(),
                    angle_deg.signum() / radius_m,
                ),
            };
            pieces.push((pose, length_m, len, curv));
            pose = advance(pose, len, curv);
            length_m += len;
        }
        let n = (length_m / SAMPLE_STEP_M).ceil().max(1.0) as usize;
        let ds = length_m / n as f64;
        let mut samples = Vec::with_capacity(n + 1);
        let mut p = 0;
        for k in 0..=n {
            let s = k as f64 * ds;
            while p + 1 < pieces.len() && s >= pieces[p + 1].1 {
                p += 1;
            }
            let (start, s0, _, curv) = pieces[p];
            let (x, y, h) = advance(start, s - s0, curv);
            samples.push(Pose2 {
                x,
                y,
                heading_rad: h,
                curvature_1pm: curv,
            });
        }
        Self {
            name: spec.name.clone(),
            lanes_forward: spec.lanes_forward,
            lanes_backward: spec.lanes_backward,
            lane_width_m: spec.lane_width_m,
            sidewalk_width_m: spec.sidewalk_width_m,
            length_m,
            samples,
        }
    }

    /// The centre-line pose at station `s_m` (clamped to the road).
    pub fn centre(&self, s_m: f64) -> Pose2 {
        let n = self.samples.len();
        let seg_len = self.length_m / (n - 1).max(1) as f64;
        let u = (s_m.clamp(0.0, self.length_m) / seg_len.max(1e-9)).min((n - 1) as f64);
        let i = (u.floor() as usize).min(n.saturating_sub(2));
        let f = u - i as f64;
        let a = self.samples[i];
        let b = self.samples[(i + 1).min(n - 1)];
        Pose2 {
            x: a.x + f * (b.x - a.x),
            y: a.y + f * (b.y - a.y),
            heading_rad: a.heading_rad + f * (b.heading_rad - a.heading_rad),
            curvature_1pm: a.curvature_1pm,
        }
    }

    /// World position at station `s_m`, lateral `offset_m` (positive left), and the centre pose.
    pub fn point(&self, s_m: f64, offset_m: f64) -> ([f64; 2], Pose2) {
        let c = self.centre(s_m);
        let (sn, cs) = c.heading_rad.sin_cos();
        ([c.x - offset_m * sn, c.y + offset_m * cs], c)
    }

    /// Lateral offset of the centre of forward lane `lane` (negative: right of the centre line).
    pub fn forward_lane_offset(&self, lane: u32) -> f64 {
        -(lane as f64 + 0.5) * self.lane_width_m
    }

    /// Lateral offset of the centre of backward lane `lane` (positive).
    pub fn backward_lane_offset(&self, lane: u32) -> f64 {
        (lane as f64 + 0.5) * self.lane_width_m
    }

    /// Stations `(s_self, s_other)` where this centre line crosses `other`'s, in order along
    /// this road; crossings closer than 5 m along this road count once.
    pub fn crossings(&self, other: &Road) -> Vec<(f64, f64)> {
        let ds_a = self.length_m / (self.samples.len() - 1).max(1) as f64;
        let ds_b = other.length_m / (other.samples.len() - 1).max(1) as f64;
        let mut out: Vec<(f64, f64)> = Vec::new();
        for (i, a) in self.samples.windows(2).enumerate() {
            let (p, r) = ([a[0].x, a[0].y], [a[1].x - a[0].x, a[1].y - a[0].y]);
            for (j, b) in other.samples.windows(2).enumerate() {
                let (q, w) = ([b[0].x, b[0].y], [b[1].x - b[0].x, b[1].y - b[0].y]);
                let denom = r[0] * w[1] - r[1] * w[0];
                if denom.abs() < 1e-12 {
                    continue;
                }
                let qp = [q[0] - p[0], q[1] - p[1]];
                let t = (qp[0] * w[1] - qp[1] * w[0]) / denom;
                let u = (qp[0] * r[1] - qp[1] * r[0]) / denom;
                if (0.0..1.0).contains(&t) && (0.0..1.0).contains(&u) {
                    let s_a = (i as f64 + t) * ds_a;
                    if out.last().is_none_or(|(prev, _)| s_a - prev > 5.0) {
                        out.push((s_a, (j as f64 + u) * ds_b));
                    }
                }
            }
        }
        out
    }

    /// Half the width of the paved road (the wider side), m.
    pub fn half_width_m(&self) -> f64 {
        self.lanes_forward.max(self.lanes_backward) as f64 * self.lane_width_m
    }

    /// Offset of the right road edge (negative).
    pub fn right_edge(&self) -> f64 {
        -(self.lanes_forward as f64) * self.lane_width_m
    }

    /// Offset of the left road edge (positive).
    pub fn left_edge(&self) -> f64 {
        self.lanes_backward as f64 * self.lane_width_m
    }
}

/// The pose `len` metres along a constant-curvature path from `start` (exact integration).
fn advance(start: (f64, f64, f64), len: f64, curv: f64) -> (f64, f64, f64) {
    let (x, y, h) = start;
    if curv == 0.0 {
        (x + len * h.cos(), y + len * h.sin(), h)
    } else {
        let h1 = h + curv * len;
        (
            x + (h1.sin() - h.sin()) / curv,
            y - (h1.cos() - h.cos()) / curv,
            h1,
        )
    }
}

/// Ground height: a piecewise-linear profile along one world axis, solved analytically for rays.
#[derive(Clone, Debug)]
pub struct Ground {
    axis: [f64; 2],
    knots: Vec<[f64; 2]>,
}

impl Ground {
    /// Builds the ground from its spec (knots must be ascending; checked by the validator).
    pub fn new(spec: &GroundSpec) -> Self {
        let a = spec.axis_deg.to_radians();
        Self {
            axis: [a.cos(), a.sin()],
            knots: spec.profile.clone(),
        }
    }

    /// Position along the profile axis of a world point.
    fn along(&self, x: f64, y: f64) -> f64 {
        self.axis[0] * x + self.axis[1] * y
    }

    /// Height of the profile at axis position `s`.
    fn profile(&self, s: f64) -> f64 {
        let k = &self.knots;
        match k.len() {
            0 => 0.0,
            _ if s <= k[0][0] => k[0][1],
            n if s >= k[n - 1][0] => k[n - 1][1],
            n => {
                let i = k.partition_point(|p| p[0] <= s).clamp(1, n - 1);
                let (a, b) = (k[i - 1], k[i]);
                let span = b[0] - a[0];
                if span <= 0.0 {
                    b[1]
                } else {
                    a[1] + (s - a[0]) / span * (b[1] - a[1])
                }
            }
        }
    }

    /// Ground height at a world point, m.
    pub fn height(&self, x: f64, y: f64) -> f64 {
        self.profile(self.along(x, y))
    }

    /// Prepares ray casting from a world origin; `heading_rad` is the frame's yaw, so ray
    /// directions are given in a frame rotated by it (the lidar frame).
    pub fn ray_caster(&self, origin: [f64; 3], heading_rad: f64) -> GroundRays<'_> {
        let (s, c) = heading_rad.sin_cos();
        // Axis expressed in the rotated frame.
        let ax = self.axis[0] * c + self.axis[1] * s;
        let ay = -self.axis[0] * s + self.axis[1] * c;
        let s0 = self.along(origin[0], origin[1]);
        GroundRays {
            ground: self,
            s0,
            z0: origin[2],
            g0: origin[2] - self.profile(s0),
            ax,
            ay,
        }
    }
}

/// Ground intersection for rays from one origin.
#[derive(Clone, Copy, Debug)]
pub struct GroundRays<'a> {
    ground: &'a Ground,
    s0: f64,
    z0: f64,
    /// Height of the origin above the ground.
    g0: f64,
    ax: f64,
    ay: f64,
}

impl GroundRays<'_> {
    /// Distance along the unit direction `d` (rotated frame) to the ground, if it is hit
    /// before `t_max`.
    pub fn hit(&self, d: [f64; 3], t_max: f64) -> Option<f64> {
        // g(t) = z0 + t dz - h(s0 + t k): height above the ground along the ray; linear between
        // the knots, whose heights are known, so no profile lookups per ray.
        let k = self.ax * d[0] + self.ay * d[1];
        let mut ta = 0.0;
        let mut ga = self.g0;
        if ga <= 0.0 {
            return None;
        }
        if k.abs() > 1e-12 {
            let mut visit = |knot: &[f64; 2]| -> Option<Option<f64>> {
                let tb = (knot[0] - self.s0) / k;
                if tb <= ta {
                    return None;
                }
                let gb = self.z0 + tb * d[2] - knot[1];
                if gb <= 0.0 {
                    let t = ta + ga / (ga - gb) * (tb - ta);
                    return Some((t < t_max).then_some(t));
                }
                if tb >= t_max {
                    return Some(None);
                }
                ta = tb;
                ga = gb;
                None
            };
            let knots = &self.ground.knots;
            let found = if k > 0.0 {
                knots.iter().find_map(&mut visit)
            } else {
                knots.iter().rev().find_map(&mut visit)
            };
            if let Some(result) = found {
                return result;
            }
        }
        // Beyond the last knot on the ray the height is constant: g falls at dz.
        if d[2] >= 0.0 {
            return None;
        }
        let t = ta + ga / -d[2];
        (t < t_max).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_road_ends_where_geometry_says() {
        let spec = RoadSpec {
            segments: vec![
                SegmentSpec::Straight { length_m: 10.0 },
                SegmentSpec::Arc {
                    radius_m: 20.0,
                    angle_deg: 90.0,
                },
            ],
            ..RoadSpec::default()
        };
        let r = Road::new(&spec);
        let end = r.centre(r.length_m);
        assert!(
            (end.x - 30.0).abs() < 1e-6 && (end.y - 20.0).abs() < 1e-6,
            "{end:?}"
        );
        assert!((end.heading_rad - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
        let ([x, y], _) = r.point(5.0, -2.0);
        assert!((x - 5.0).abs() < 1e-9 && (y + 2.0).abs() < 1e-9);
    }

    #[test]
    fn perpendicular_roads_cross_once_where_expected() {
        let a = Road::new(&RoadSpec::default());
        let b = Road::new(&RoadSpec {
            start_xy_m: [70.0, -50.0],
            start_heading_deg: 90.0,
            segments: vec![SegmentSpec::Straight { length_m: 100.0 }],
            ..RoadSpec::default()
        });
        let x = a.crossings(&b);
        assert_eq!(x.len(), 1, "{x:?}");
        assert!(
            (x[0].0 - 70.0).abs() < 1e-6 && (x[0].1 - 50.0).abs() < 1e-6,
            "{x:?}"
        );
    }

    #[test]
    fn ground_ray_hits_flat_and_sloped_ground() {
        let flat = Ground::new(&GroundSpec::default());
        let d = [0.6_f64.sqrt(), 0.0, -(0.4_f64.sqrt())];
        let t = flat.ray_caster([0.0, 0.0, 2.0], 0.0).hit(d, 100.0).unwrap();
        assert!((t * d[2] + 2.0).abs() < 1e-9);
        // A ramp rising 1 m per 10 m from x = 1 to x = 21.
        let ramp = Ground::new(&GroundSpec {
            axis_deg: 0.0,
            profile: vec![[1.0, 0.0], [21.0, 2.0]],
        });
        let d = [1.0, 0.0, 0.0];
        let rays = ramp.ray_caster([0.0, 0.0, 1.0], 0.0);
        let t = rays.hit(d, 100.0).unwrap();
        assert!((t - 11.0).abs() < 1e-9, "{t}");
        assert!((ramp.height(11.0, 5.0) - 1.0).abs() < 1e-12);
        // Rotated frame: facing -x (heading pi) a forward ray runs down the ramp: no hit.
        let back = ramp.ray_caster([30.0, 0.0, 2.5], std::f64::consts::PI);
        assert!(back.hit([1.0, 0.0, 0.0], 100.0).is_none());
        assert!(back.hit([1.0, 0.0, -0.2], 100.0).is_some());
        // A root before t_max in a segment whose far knot lies beyond t_max is still found.
        let long = Ground::new(&GroundSpec {
            axis_deg: 0.0,
            profile: vec![[0.0, 0.0], [1000.0, 100.0]],
        });
        let t = long
            .ray_caster([0.0, 0.0, 1.0], 0.0)
            .hit([1.0, 0.0, 0.0], 50.0)
            .unwrap();
        assert!((t - 10.0).abs() < 1e-9, "{t}");
    }
}
