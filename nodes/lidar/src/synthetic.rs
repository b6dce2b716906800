//! Synthetic sweeps for tests and benchmarks: a spinning multi-beam lidar ray-cast against a
//! road (flat, then a 6% climb beyond 25 m, with a 15 cm curb), cars, pedestrians, a truck, a
//! roadside wall and a ring of building fronts. Deterministic for a given seed; any size (the
//! azimuth resolution is chosen to give about the requested number of points).

use fusionrt_core::{Box3, PointCloud};
use nalgebra::Vector3;

/// A generated sweep and the obstacles in it.
#[derive(Clone, Debug)]
pub struct SyntheticScene {
    /// The sweep, lidar frame, with intensity.
    pub cloud: PointCloud,
    /// Boxes of the cars, pedestrians and the truck (not the walls), lidar frame.
    pub objects: Vec<Box3>,
}

/// Scene parameters.
#[derive(Clone, Copy, Debug)]
pub struct SceneSpec {
    /// About this many points.
    pub points: usize,
    /// Sensor height above the road near the vehicle, m.
    pub sensor_height_m: f64,
    /// Seed of the object layout and range noise.
    pub seed: u64,
}

impl Default for SceneSpec {
    fn default() -> Self {
        Self {
            points: 120_000,
            sensor_height_m: 1.73,
            seed: 7,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// Road height at `(x, y)`: flat, then climbing 6% beyond x = 25 m; a 15 cm curb at |y| > 7 m.
fn road_z(x: f64, y: f64, h: f64) -> f64 {
    let climb = if x > 25.0 { 0.06 * (x - 25.0) } else { 0.0 };
    let curb = if y.abs() > 7.0 { 0.15 } else { 0.0 };
    -h + climb + curb
}

/// Builds a sweep.
pub fn generate(spec: &SceneSpec) -> SyntheticScene {
    let mut rng = Rng(spec.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let h = spec.sensor_height_m;
    let mut objects = Vec::new();
    let on_road = |x: f64, y: f64, size: Vector3<f64>, yaw: f64| {
        Box3::new(
            Vector3::new(x, y, road_z(x, y, h) + 0.5 * size.z),
            size,
            yaw,
        )
    };
    // Cars in three lanes and parked at the curb, both directions.
    for i in 0..14 {
        let x = -45.0 + 7.0 * i as f64 + rng.range(-1.0, 1.0);
        let lane: f64 = [-3.5, 3.5, -8.5, 8.5][i % 4];
        if x.abs() < 5.0 && lane.abs() < 5.0 {
            continue;
        }
        let yaw = rng.range(-0.15, 0.15)
            + if i % 3 == 0 {
                std::f64::consts::PI
            } else {
                0.0
            };
        let size = Vector3::new(
            rng.range(3.8, 4.8),
            rng.range(1.6, 1.9),
            rng.range(1.4, 1.7),
        );
        objects.push(on_road(x, lane, size, yaw));
    }
    for i in 0..6 {
        let x = -20.0 + 9.0 * i as f64 + rng.range(-1.0, 1.0);
        let y = if i % 2 == 0 { 6.0 } else { -6.0 } + rng.range(-0.3, 0.3);
        objects.push(on_road(x, y, Vector3::new(0.6, 0.6, 1.75), 0.0));
    }
    objects.push(on_road(26.0, -3.5, Vector3::new(12.0, 2.5, 3.6), 0.02));
    // Walls: a roadside wall and a ring of building fronts (not obstacles).
    let wall = Box3::new(
        Vector3::new(5.0, 13.0, road_z(5.0, 13.0, h) + 1.25),
        Vector3::new(50.0, 0.3, 2.5),
        0.0,
    );
    let building_radius = 70.0;

    let beams = 64usize;
    let elevations: Vec<f64> = (0..beams)
        .map(|b| (2.0 - 26.8 * b as f64 / (beams - 1) as f64).to_radians())
        .collect();
    let azimuths = spec.points.div_ceil(beams).max(1);
    let mut cloud = PointCloud::with_capacity(
        azimuths * beams,
        fusionrt_core::cloud::Channels {
            intensity: true,
            ..Default::default()
        },
    );
    cloud.frame_id = "lidar".to_string();
    for a in 0..azimuths {
        let az = std::f64::consts::TAU * a as f64 / azimuths as f64 - std::f64::consts::PI;
        let (sa, ca) = az.sin_cos();
        for &el in &elevations {
            let (se, ce) = el.sin_cos();
            let d = Vector3::new(ce * ca, ce * sa, se);
            let mut best = f64::INFINITY;
            for b in objects.iter().chain(std::iter::once(&wall)) {
                if let Some(t) = ray_box(&d, b) {
                    best = best.min(t);
                }
            }
            best = best.min(ray_ground(&d, h));
            let horizontal = (d.x * d.x + d.y * d.y).sqrt();
            if horizontal > 1e-6 {
                best = best.min(building_radius / horizontal);
            }
            if !best.is_finite() || best > 120.0 {
                continue;
            }
            let t = best + rng.range(-0.02, 0.02);
            let p = d * t;
            cloud.push_xyzi(
                p.x as f32,
                p.y as f32,
                p.z as f32,
                rng.range(0.0, 1.0) as f32,
            );
            if cloud.len() >= spec.points {
                return SyntheticScene { cloud, objects };
            }
        }
    }
    SyntheticScene { cloud, objects }
}

/// Distance along the unit ray `d` from the origin to the road surface.
fn ray_ground(d: &Vector3<f64>, h: f64) -> f64 {
    if d.z >= 0.0 {
        return f64::INFINITY;
    }
    // March coarsely, then bisect: the road is piecewise planar with a curb step.
    let mut prev = 0.0;
    let mut t = 0.5;
    while t < 150.0 {
        let p = d * t;
        if p.z <= road_z(p.x, p.y, h) {
            let (mut lo, mut hi) = (prev, t);
            for _ in 0..30 {
                let mid = 0.5 * (lo + hi);
                let q = d * mid;
                if q.z <= road_z(q.x, q.y, h) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return hi;
        }
        prev = t;
        t += 0.25 + 0.02 * t;
    }
    f64::INFINITY
}

/// Distance along the unit ray `d` from the origin to an oriented box (slab test).
fn ray_box(d: &Vector3<f64>, b: &Box3) -> Option<f64> {
    let (s, c) = b.yaw_rad.sin_cos();
    let o = -b.center;
    let to_local = |v: &Vector3<f64>| Vector3::new(c * v.x + s * v.y, -s * v.x + c * v.y, v.z);
    let (lo, ld) = (to_local(&o), to_local(d));
    let half = 0.5 * b.size;
    let (mut t0, mut t1) = (0.0f64, f64::INFINITY);
    for k in 0..3 {
        if ld[k].abs() < 1e-12 {
            if lo[k].abs() > half[k] {
                return None;
            }
        } else {
            let a = (-half[k] - lo[k]) / ld[k];
            let bb = (half[k] - lo[k]) / ld[k];
            t0 = t0.max(a.min(bb));
            t1 = t1.min(a.max(bb));
        }
    }
    (t0 <= t1 && t0 > 0.0).then_some(t0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_determinism() {
        for points in [30_000, 120_000] {
            let a = generate(&SceneSpec {
                points,
                ..SceneSpec::default()
            });
            assert!(a.cloud.len() <= points && a.cloud.len() > points * 9 / 10);
            assert!(a.cloud.check_consistent().is_ok());
            let b = generate(&SceneSpec {
                points,
                ..SceneSpec::default()
            });
            assert_eq!(a.cloud, b.cloud);
        }
    }

    #[test]
    fn ray_hits_a_box_in_front() {
        let b = Box3::new(
            Vector3::new(10.0, 0.0, 0.0),
            Vector3::new(2.0, 2.0, 2.0),
            0.3,
        );
        let t = ray_box(&Vector3::new(1.0, 0.0, 0.0), &b).unwrap();
        assert!((8.8..9.1).contains(&t), "{t}");
        assert!(ray_box(&Vector3::new(-1.0, 0.0, 0.0), &b).is_none());
    }
}
