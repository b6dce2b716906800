//! Oriented box fitting in bird's-eye view: search-based L-shape fitting with the closeness
//! criterion (Zhang et al., "Efficient L-Shape Fitting for Vehicle Detection Using Laser
//! Scanners", IV 2017). Each candidate heading in `[0, 90)` degrees is scored by how close the
//! points lie to the two nearest edges of the enclosing rectangle; the best one gives the box.

use crate::fastmath::{hi, lo};

/// A fitted rectangle in the x-y plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Center x, m.
    pub cx: f32,
    /// Center y, m.
    pub cy: f32,
    /// Side along `yaw_rad`, m (the longer side).
    pub length: f32,
    /// Side across `yaw_rad`, m.
    pub width: f32,
    /// Heading of the long side, rad, in `(-pi/2, pi/2]`.
    pub yaw_rad: f32,
}

/// Candidate headings and their cosines / sines, computed once, and the buffers of the
/// heading search.
#[derive(Clone, Debug)]
pub struct LShapeFitter {
    cos_sin: Vec<(f32, f32)>,
    angles: Vec<f32>,
    max_points: usize,
    /// The subsample scored per heading, relative to the cluster's first point, padded to a
    /// whole number of [`LANES`] by repeating its first point (weight 0).
    sub_x: Vec<f32>,
    sub_y: Vec<f32>,
    sub_w: Vec<f32>,
}

/// Points closer than this to an edge all count the same (the criterion's `d0`), m.
const D0_M: f32 = 0.01;
/// Independent accumulators per heading: the search runs over fixed-size chunks of the
/// subsample so that the compiler keeps one SIMD register per running minimum, maximum and sum.
const LANES: usize = 8;

impl LShapeFitter {
    /// Headings every `step_deg` degrees in `[0, 90)`; at most `max_points` points (evenly
    /// subsampled) are scored per heading.
    pub fn new(step_deg: f32, max_points: usize) -> Self {
        let count = ((90.0 / step_deg).round() as usize).clamp(1, 900);
        let angles: Vec<f32> = (0..count)
            .map(|i| (i as f32) * std::f32::consts::FRAC_PI_2 / count as f32)
            .collect();
        let padded = max_points.next_multiple_of(LANES);
        Self {
            cos_sin: angles.iter().map(|a| (a.cos(), a.sin())).collect(),
            angles,
            max_points,
            sub_x: Vec::with_capacity(padded),
            sub_y: Vec::with_capacity(padded),
            sub_w: Vec::with_capacity(padded),
        }
    }

    /// Fits a rectangle to the points `(xs[i], ys[i])` for `i` in `idx`. The heading is searched
    /// on a subsample; the extents use every point. `idx` must not be empty and its points
    /// must be finite.
    pub fn fit(&mut self, xs: &[f32], ys: &[f32], idx: &[u32]) -> Rect {
        let n = idx.len();
        // Points relative to the first one keep f32 precision far from the sensor.
        let (ox, oy) = (xs[idx[0] as usize], ys[idx[0] as usize]);
        let best = if n >= 3 {
            self.gather_subsample(xs, ys, idx, (ox, oy));
            self.best_heading()
        } else {
            0
        };
        let (c, s) = self.cos_sin[best];
        let angle = self.angles[best];
        let (mut min1, mut max1, mut min2, mut max2) = (
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
        );
        for &i in idx {
            let (x, y) = (xs[i as usize] - ox, ys[i as usize] - oy);
            let c1 = x * c + y * s;
            let c2 = -x * s + y * c;
            min1 = lo(min1, c1);
            max1 = hi(max1, c1);
            min2 = lo(min2, c2);
            max2 = hi(max2, c2);
        }
        let (m1, m2) = (0.5 * (min1 + max1), 0.5 * (min2 + max2));
        let cx = ox + m1 * c - m2 * s;
        let cy = oy + m1 * s + m2 * c;
        let (e1, e2) = (max1 - min1, max2 - min2);
        let (length, width, yaw_rad) = if e1 >= e2 {
            (e1, e2, angle)
        } else {
            (e2, e1, angle + std::f32::consts::FRAC_PI_2)
        };
        let yaw_rad = if yaw_rad > std::f32::consts::FRAC_PI_2 {
            yaw_rad - std::f32::consts::PI
        } else {
            yaw_rad
        };
        Rect {
            cx,
            cy,
            length,
            width,
            yaw_rad,
        }
    }

    /// Copies every `stride`-th point (at most `max_points`) into the contiguous subsample.
    fn gather_subsample(&mut self, xs: &[f32], ys: &[f32], idx: &[u32], origin: (f32, f32)) {
        let stride = idx.len().div_ceil(self.max_points).max(1);
        let (sub_x, sub_y, sub_w) = (&mut self.sub_x, &mut self.sub_y, &mut self.sub_w);
        sub_x.clear();
        sub_y.clear();
        sub_w.clear();
        for &i in idx.iter().step_by(stride) {
            sub_x.push(xs[i as usize] - origin.0);
            sub_y.push(ys[i as usize] - origin.1);
            sub_w.push(1.0);
        }
        let padded = sub_x.len().next_multiple_of(LANES);
        sub_x.resize(padded, sub_x[0]);
        sub_y.resize(padded, sub_y[0]);
        sub_w.resize(padded, 0.0);
    }

    /// The heading whose rectangle the subsample hugs most closely.
    fn best_heading(&self) -> usize {
        let chunks = || {
            self.sub_x
                .chunks_exact(LANES)
                .zip(self.sub_y.chunks_exact(LANES))
        };
        let mut best = (f32::NEG_INFINITY, 0usize);
        for (k, &(c, s)) in self.cos_sin.iter().enumerate() {
            let (mut min1, mut max1) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
            let (mut min2, mut max2) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
            for (px, py) in chunks() {
                for l in 0..LANES {
                    let c1 = px[l] * c + py[l] * s;
                    let c2 = py[l] * c - px[l] * s;
                    min1[l] = lo(min1[l], c1);
                    max1[l] = hi(max1[l], c1);
                    min2[l] = lo(min2[l], c2);
                    max2[l] = hi(max2[l], c2);
                }
            }
            let min1 = min1.into_iter().fold(f32::INFINITY, lo);
            let max1 = max1.into_iter().fold(f32::NEG_INFINITY, hi);
            let min2 = min2.into_iter().fold(f32::INFINITY, lo);
            let max2 = max2.into_iter().fold(f32::NEG_INFINITY, hi);
            let mut sum = [0.0f32; LANES];
            for ((px, py), pw) in chunks().zip(self.sub_w.chunks_exact(LANES)) {
                for l in 0..LANES {
                    let c1 = px[l] * c + py[l] * s;
                    let c2 = py[l] * c - px[l] * s;
                    let d1 = lo(max1 - c1, c1 - min1);
                    let d2 = lo(max2 - c2, c2 - min2);
                    sum[l] += pw[l] / hi(lo(d1, d2), D0_M);
                }
            }
            let score: f32 = sum.iter().sum();
            if score > best.0 {
                best = (score, k);
            }
        }
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on two sides of a 4.5 x 1.8 m car rotated by `yaw`, as a lidar sees them.
    fn l_shape(yaw: f32, cx: f32, cy: f32) -> (Vec<f32>, Vec<f32>) {
        let (s, c) = yaw.sin_cos();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut push = |lx: f32, ly: f32| {
            xs.push(cx + c * lx - s * ly);
            ys.push(cy + s * lx + c * ly);
        };
        for i in 0..=45 {
            push(-2.25 + 0.1 * i as f32, -0.9);
        }
        for i in 1..=18 {
            push(-2.25, -0.9 + 0.1 * i as f32);
        }
        (xs, ys)
    }

    #[test]
    fn recovers_heading_and_size_of_an_l_shape() {
        let mut fitter = LShapeFitter::new(1.0, 96);
        for yaw_deg in [0.0f32, 17.0, 42.0, 71.0, -30.0] {
            let yaw = yaw_deg.to_radians();
            let (xs, ys) = l_shape(yaw, 20.0, -5.0);
            let idx: Vec<u32> = (0..xs.len() as u32).collect();
            let r = fitter.fit(&xs, &ys, &idx);
            let mut dyaw = (r.yaw_rad - yaw).abs() % std::f32::consts::PI;
            dyaw = dyaw.min(std::f32::consts::PI - dyaw);
            assert!(
                dyaw < 1.1f32.to_radians(),
                "yaw {yaw_deg}: got {}",
                r.yaw_rad
            );
            assert!(
                (r.length - 4.5).abs() < 0.15 && (r.width - 1.8).abs() < 0.15,
                "{r:?}"
            );
            assert!(
                (r.cx - 20.0).abs() < 0.1 && (r.cy + 5.0).abs() < 0.1,
                "{r:?}"
            );
        }
    }

    #[test]
    fn single_point_gives_a_point_box() {
        let mut fitter = LShapeFitter::new(3.0, 96);
        let r = fitter.fit(&[3.0], &[4.0], &[0]);
        assert_eq!((r.cx, r.cy, r.length, r.width), (3.0, 4.0, 0.0, 0.0));
    }
}
