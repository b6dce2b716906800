//! The spinning lidar: one ray per beam and azimuth column, first hit wins.
//!
//! Speed comes from three things: boxes are binned by the azimuth columns their footprint
//! spans (so a ray tests only the few boxes in its column), each box keeps the beam range its
//! elevation extent can reach, and the ray-box test is a slab test in the box frame (boxes only
//! yaw). The ground is intersected analytically ([`crate::road::GroundRays`]). Rays are cast in
//! the lidar frame (the ego only yaws), so the beam directions are a fixed table.

use crate::road::Ground;
use crate::spec::LidarSpec;
use crate::world::WorldBox;
use fusionrt_core::PointCloud;
use rand::Rng;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

/// Lidar reflectivity of asphalt.
const GROUND_REFLECTIVITY: f32 = 0.12;

/// A box prepared for ray casting in the lidar frame.
#[derive(Clone, Copy, Debug)]
struct RayBox {
    /// cos and sin of the box yaw in the lidar frame.
    cos: f64,
    sin: f64,
    /// The lidar origin in the box frame.
    origin: [f64; 3],
    /// Half sizes.
    half: [f64; 3],
    beam_lo: u16,
    beam_hi: u16,
    reflectivity: f32,
    owner: u32,
}

impl RayBox {
    /// Entry distance of the ray with lidar-frame unit direction `d`, if it hits.
    #[inline]
    fn hit(&self, d: [f64; 3]) -> Option<f64> {
        let dl = [
            self.cos * d[0] + self.sin * d[1],
            -self.sin * d[0] + self.cos * d[1],
            d[2],
        ];
        let mut t_near = f64::NEG_INFINITY;
        let mut t_far = f64::INFINITY;
        for ((&dk, &o), &h) in dl.iter().zip(&self.origin).zip(&self.half) {
            if dk.abs() < 1e-12 {
                if o.abs() > h {
                    return None;
                }
                continue;
            }
            let inv = 1.0 / dk;
            let t1 = (-h - o) * inv;
            let t2 = (h - o) * inv;
            t_near = t_near.max(t1.min(t2));
            t_far = t_far.min(t1.max(t2));
        }
        (t_near <= t_far && t_far > 0.0).then_some(t_near.max(0.0))
    }
}

/// Per-owner ray counts of the last sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RayCounts {
    /// Returns in the cloud (first hit, after dropout and range limits).
    pub returns: u32,
    /// Rays whose first hit was this object (before dropout).
    pub first_hits: u32,
    /// Rays that pass through the object's box at all before hitting the ground.
    pub through: u32,
}

/// The simulated spinning lidar; allocates its tables in [`Lidar::new`] and reuses them.
#[derive(Clone, Debug)]
pub struct Lidar {
    spec: LidarSpec,
    /// Beam elevations (ascending), sin and cos.
    beam_el: Vec<f64>,
    beam_sin: Vec<f64>,
    beam_cos: Vec<f64>,
    /// Column azimuth cos and sin.
    col_cos: Vec<f64>,
    col_sin: Vec<f64>,
    columns: Vec<Vec<u32>>,
    boxes: Vec<RayBox>,
    counts: Vec<RayCounts>,
    rng: Pcg64,
}

impl Lidar {
    /// Builds the beam and column tables (validated spec).
    pub fn new(spec: &LidarSpec, rng: Pcg64) -> Self {
        let nb = spec.beams.max(1) as usize;
        let beam_el: Vec<f64> = (0..nb)
            .map(|b| {
                let f = if nb > 1 {
                    b as f64 / (nb - 1) as f64
                } else {
                    0.5
                };
                (spec.vertical_fov_min_deg
                    + f * (spec.vertical_fov_max_deg - spec.vertical_fov_min_deg))
                    .to_radians()
            })
            .collect();
        let nc = (360.0 / spec.azimuth_step_deg).round().max(1.0) as usize;
        let step = std::f64::consts::TAU / nc as f64;
        Self {
            spec: spec.clone(),
            beam_sin: beam_el.iter().map(|e| e.sin()).collect(),
            beam_cos: beam_el.iter().map(|e| e.cos()).collect(),
            beam_el,
            col_cos: (0..nc).map(|c| (c as f64 * step).cos()).collect(),
            col_sin: (0..nc).map(|c| (c as f64 * step).sin()).collect(),
            columns: vec![Vec::new(); nc],
            boxes: Vec::new(),
            counts: Vec::new(),
            rng,
        }
    }

    /// Points per sweep when every ray returns.
    pub fn max_points(&self) -> usize {
        self.beam_el.len() * self.col_cos.len()
    }

    /// Ray counts per owner index of the last sweep.
    pub fn counts(&self) -> &[RayCounts] {
        &self.counts
    }

    /// Casts one sweep from the lidar at world `origin` with yaw `yaw_rad` into `cloud`
    /// (lidar frame; cleared first). `num_owners` sizes the per-owner counts.
    pub fn scan(
        &mut self,
        origin: [f64; 3],
        yaw_rad: f64,
        ground: &Ground,
        boxes: &[WorldBox],
        num_owners: usize,
        cloud: &mut PointCloud,
    ) {
        self.counts.clear();
        self.counts.resize(num_owners, RayCounts::default());
        self.bin_boxes(origin, yaw_rad, boxes);
        let ground_rays = ground.ray_caster(origin, yaw_rad);
        let range_max = self.spec.range_max_m;
        let range_min = self.spec.range_min_m;
        let sigma = self.spec.range_noise_sigma_m;
        let dropout = self.spec.dropout_prob;
        let far_dropout = self.spec.far_dropout_prob;
        cloud.clear();
        cloud.frame_id.clone_from(&self.spec.frame_id);
        let nb = self.beam_el.len();
        for c in 0..self.col_cos.len() {
            let column = &self.columns[c];
            let (ca, sa) = (self.col_cos[c], self.col_sin[c]);
            for b in 0..nb {
                let d = [
                    self.beam_cos[b] * ca,
                    self.beam_cos[b] * sa,
                    self.beam_sin[b],
                ];
                let t_ground = ground_rays.hit(d, range_max).unwrap_or(f64::INFINITY);
                let mut best_t = t_ground;
                let mut best: Option<usize> = None;
                for &bi in column {
                    let bx = &self.boxes[bi as usize];
                    if (b as u16) < bx.beam_lo || (b as u16) > bx.beam_hi {
                        continue;
                    }
                    if let Some(t) = bx.hit(d)
                        && t < range_max
                    {
                        if bx.owner != u32::MAX && t < t_ground {
                            self.counts[bx.owner as usize].through += 1;
                        }
                        if t < best_t {
                            best_t = t;
                            best = Some(bi as usize);
                        }
                    }
                }
                if !best_t.is_finite() {
                    continue;
                }
                let (refl, owner) = match best {
                    Some(bi) => (self.boxes[bi].reflectivity, self.boxes[bi].owner),
                    None => (GROUND_REFLECTIVITY, u32::MAX),
                };
                if owner != u32::MAX {
                    self.counts[owner as usize].first_hits += 1;
                }
                let u: f64 = self.rng.random();
                let n_range: f64 = self.rng.sample(StandardNormal);
                let n_int: f32 = self.rng.sample(StandardNormal);
                let far = best_t / range_max;
                if u < dropout + far_dropout * far * far * f64::from(1.0 - refl) {
                    continue;
                }
                let t = best_t + sigma * n_range;
                if !(range_min..range_max).contains(&t) {
                    continue;
                }
                if owner != u32::MAX {
                    self.counts[owner as usize].returns += 1;
                }
                let falloff = 1.0 - 0.4 * (t / range_max) as f32;
                let intensity = (refl * falloff + 0.03 * n_int).clamp(0.0, 1.0);
                cloud.x.push((d[0] * t) as f32);
                cloud.y.push((d[1] * t) as f32);
                cloud.z.push((d[2] * t) as f32);
                cloud.intensity.push(intensity);
                cloud.ring.push(b as u16);
            }
        }
    }

    /// Transforms boxes into the lidar frame, culls them by range and bins them by column.
    fn bin_boxes(&mut self, origin: [f64; 3], yaw_rad: f64, boxes: &[WorldBox]) {
        for col in &mut self.columns {
            col.clear();
        }
        self.boxes.clear();
        let (sy, cy) = yaw_rad.sin_cos();
        let nc = self.col_cos.len();
        let step = std::f64::consts::TAU / nc as f64;
        let range_max = self.spec.range_max_m;
        let margin = 1e-9;
        for wb in boxes {
            let dx = wb.center[0] - origin[0];
            let dy = wb.center[1] - origin[1];
            let c = [
                cy * dx + sy * dy,
                -sy * dx + cy * dy,
                wb.center[2] - origin[2],
            ];
            let yaw = wb.yaw_rad - yaw_rad;
            let (s, co) = yaw.sin_cos();
            let half = wb.size.map(|v| 0.5 * v);
            // Lidar origin in the box frame.
            let o = [-(co * c[0] + s * c[1]), -(-s * c[0] + co * c[1]), -c[2]];
            let ex = (o[0].abs() - half[0]).max(0.0);
            let ey = (o[1].abs() - half[1]).max(0.0);
            let d_min = ex.hypot(ey);
            if d_min > range_max {
                continue;
            }
            let d_max = (o[0].abs() + half[0]).hypot(o[1].abs() + half[1]);
            let (z_lo, z_hi) = (c[2] - half[2], c[2] + half[2]);
            let (el_lo, el_hi) = if d_min <= 0.0 {
                (-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2)
            } else {
                (
                    z_lo.atan2(if z_lo >= 0.0 { d_max } else { d_min }),
                    z_hi.atan2(if z_hi >= 0.0 { d_min } else { d_max }),
                )
            };
            let beam_lo = self.beam_el.partition_point(|&e| e < el_lo - margin);
            let beam_hi = self.beam_el.partition_point(|&e| e <= el_hi + margin);
            if beam_lo >= beam_hi {
                continue;
            }
            let index = self.boxes.len() as u32;
            self.boxes.push(RayBox {
                cos: co,
                sin: s,
                origin: o,
                half,
                beam_lo: beam_lo as u16,
                beam_hi: (beam_hi - 1) as u16,
                reflectivity: wb.reflectivity,
                owner: wb.owner,
            });
            if d_min <= 0.0 {
                for col in &mut self.columns {
                    col.push(index);
                }
                continue;
            }
            // Azimuth interval of the footprint: from the four corners around the first.
            let corners = [[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]].map(|[fx, fy]| {
                let lx = fx * half[0];
                let ly = fy * half[1];
                (c[1] + s * lx + co * ly).atan2(c[0] + co * lx - s * ly)
            });
            let a_ref = corners[0];
            let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
            for a in &corners[1..] {
                let dlt = fusionrt_core::geometry::wrap_angle(a - a_ref);
                lo = lo.min(dlt);
                hi = hi.max(dlt);
            }
            let c_lo = ((a_ref + lo) / step).ceil() as i64;
            let c_hi = ((a_ref + hi) / step).floor() as i64;
            for ci in c_lo..=c_hi {
                self.columns[ci.rem_euclid(nc as i64) as usize].push(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::GroundSpec;
    use rand::SeedableRng;

    fn lidar() -> Lidar {
        Lidar::new(
            &LidarSpec {
                dropout_prob: 0.0,
                far_dropout_prob: 0.0,
                range_noise_sigma_m: 0.0,
                ..LidarSpec::default()
            },
            Pcg64::seed_from_u64(1),
        )
    }

    #[test]
    fn flat_ground_returns_lie_on_the_ground() {
        let mut l = lidar();
        let ground = Ground::new(&GroundSpec::default());
        let mut cloud = PointCloud::default();
        l.scan([3.0, 4.0, 1.8], 0.7, &ground, &[], 0, &mut cloud);
        assert!(cloud.len() > 1800 * 40, "{}", cloud.len());
        assert!(cloud.z.iter().all(|z| (z + 1.8).abs() < 1e-3));
        assert!(cloud.check_consistent().is_ok());
    }

    #[test]
    fn box_behind_the_lidar_is_hit_across_the_azimuth_seam() {
        // A box straddling azimuth pi (behind): columns on both sides of the seam must see it.
        let mut l = lidar();
        let ground = Ground::new(&GroundSpec::default());
        let target = WorldBox {
            center: [-10.0, 0.0, 1.5],
            size: [2.0, 4.0, 2.0],
            yaw_rad: 0.0,
            reflectivity: 0.5,
            owner: 0,
        };
        let mut cloud = PointCloud::default();
        l.scan([0.0, 0.0, 1.8], 0.0, &ground, &[target], 1, &mut cloud);
        let counts = l.counts()[0];
        assert!(counts.returns > 50, "{counts:?}");
        let on_box = (0..cloud.len())
            .filter(|&i| (cloud.x[i] + 9.0).abs() < 1e-3 && cloud.z[i] > -1.7)
            .count();
        assert_eq!(on_box as u32, counts.returns);
        assert!((0..cloud.len()).any(|i| cloud.x[i] < -8.9 && cloud.y[i] > 0.5));
        assert!((0..cloud.len()).any(|i| cloud.x[i] < -8.9 && cloud.y[i] < -0.5));
    }
}
