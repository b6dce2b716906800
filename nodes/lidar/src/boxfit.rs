//! Oriented box fitting in bird's-eye view: search-based L-shape fitting with the closeness
//! criterion (Zhang et al., "Efficient L-Shape Fitting for Vehicle Detection Using Laser
//! Scanners", IV 2017). Each candidate heading in `[0, 90)` degrees is scored by how close the
//! points lie to the two nearest edges of the enclosing rectangle; the best one gives the box.

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

/// Candidate headings and their cosines / sines, computed once.
#[derive(Clone, Debug)]
pub struct LShapeFitter {
    cos_sin: Vec<(f32, f32)>,
    angles: Vec<f32>,
    max_points: usize,
}

/// Points closer than this to an edge all count the same (the criterion's `d0`), m.
const D0_M: f32 = 0.01;

impl LShapeFitter {
    /// Headings every `step_deg` degrees in `[0, 90)`; at most `max_points` points (evenly
    /// subsampled) are scored per heading.
    pub fn new(step_deg: f32, max_points: usize) -> Self {
        let count = ((90.0 / step_deg).round() as usize).clamp(1, 900);
        let angles: Vec<f32> = (0..count)
            .map(|i| (i as f32) * std::f32::consts::FRAC_PI_2 / count as f32)
            .collect();
        Self {
            cos_sin: angles.iter().map(|a| (a.cos(), a.sin())).collect(),
            angles,
            max_points,
        }
    }

    /// Fits a rectangle to the points `(xs[i], ys[i])` for `i` in `idx`. The heading is searched
    /// on a subsample; the extents use every point. `idx` must not be empty.
    pub fn fit(&self, xs: &[f32], ys: &[f32], idx: &[u32]) -> Rect {
        let n = idx.len();
        let stride = n.div_ceil(self.max_points).max(1);
        // Points relative to the first one keep f32 precision far from the sensor.
        let (ox, oy) = (xs[idx[0] as usize], ys[idx[0] as usize]);
        let mut best = (f32::NEG_INFINITY, 0usize);
        if n >= 3 {
            for (k, &(c, s)) in self.cos_sin.iter().enumerate() {
                let (mut min1, mut max1, mut min2, mut max2) = (
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                );
                for &i in idx.iter().step_by(stride) {
                    let (x, y) = (xs[i as usize] - ox, ys[i as usize] - oy);
                    let c1 = x * c + y * s;
                    let c2 = -x * s + y * c;
                    min1 = min1.min(c1);
                    max1 = max1.max(c1);
                    min2 = min2.min(c2);
                    max2 = max2.max(c2);
                }
                let mut score = 0.0f32;
                for &i in idx.iter().step_by(stride) {
                    let (x, y) = (xs[i as usize] - ox, ys[i as usize] - oy);
                    let c1 = x * c + y * s;
                    let c2 = -x * s + y * c;
                    let d1 = (max1 - c1).min(c1 - min1);
                    let d2 = (max2 - c2).min(c2 - min2);
                    score += 1.0 / d1.min(d2).max(D0_M);
                }
                if score > best.0 {
                    best = (score, k);
                }
            }
        }
        let (c, s) = self.cos_sin[best.1];
        let angle = self.angles[best.1];
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
            min1 = min1.min(c1);
            max1 = max1.max(c1);
            min2 = min2.min(c2);
            max2 = max2.max(c2);
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
        let fitter = LShapeFitter::new(1.0, 96);
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
        let fitter = LShapeFitter::new(3.0, 96);
        let r = fitter.fit(&[3.0], &[4.0], &[0]);
        assert_eq!((r.cx, r.cy, r.length, r.width), (3.0, 4.0, 0.0, 0.0));
    }
}
