//! Boxes: axis-aligned 2D image boxes and oriented 3D boxes (center, size, yaw about +z).

use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

/// An axis-aligned image box in pixels: `x1 <= x2`, `y1 <= y2`, origin at the top-left corner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BBox2 {
    /// Left edge, px.
    pub x1: f32,
    /// Top edge, px.
    pub y1: f32,
    /// Right edge, px.
    pub x2: f32,
    /// Bottom edge, px.
    pub y2: f32,
}

impl BBox2 {
    /// A box from its corners.
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// Width in px (0 for an inverted box).
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    /// Height in px (0 for an inverted box).
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area in px².
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Area of the intersection with `other`, px².
    pub fn intersection(&self, other: &BBox2) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        w * h
    }

    /// Intersection over union, 0 when either box is empty.
    pub fn iou(&self, other: &BBox2) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The smallest box holding both.
    pub fn union_box(&self, other: &BBox2) -> BBox2 {
        BBox2::new(
            self.x1.min(other.x1),
            self.y1.min(other.y1),
            self.x2.max(other.x2),
            self.y2.max(other.y2),
        )
    }

    /// This box clipped to an image of `width` x `height` px.
    pub fn clamped(&self, width: f32, height: f32) -> BBox2 {
        BBox2::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }

    /// True when all four coordinates are finite and the box is not inverted.
    pub fn is_valid(&self) -> bool {
        [self.x1, self.y1, self.x2, self.y2]
            .iter()
            .all(|v| v.is_finite())
            && self.x1 <= self.x2
            && self.y1 <= self.y2
    }
}

/// An oriented 3D box: geometric center, size `[length (along heading), width, height]` in
/// metres, and heading `yaw_rad` about +z. Roll and pitch are zero (boxes stand on the road).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Box3 {
    /// Geometric center, m, in the frame of the message that carries the box.
    pub center: Vector3<f64>,
    /// `[length, width, height]`, m.
    pub size: Vector3<f64>,
    /// Heading about +z, rad, in `(-pi, pi]`.
    pub yaw_rad: f64,
}

impl Default for Box3 {
    fn default() -> Self {
        Self {
            center: Vector3::zeros(),
            size: Vector3::zeros(),
            yaw_rad: 0.0,
        }
    }
}

impl Box3 {
    /// The 12 edges of a box, as index pairs into [`Box3::corners`].
    pub const EDGES: [(usize, usize); 12] = [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 0),
        (4, 5),
        (5, 6),
        (6, 7),
        (7, 4),
        (0, 4),
        (1, 5),
        (2, 6),
        (3, 7),
    ];

    /// A box from center, size `[l, w, h]` and yaw.
    pub fn new(center: Vector3<f64>, size: Vector3<f64>, yaw_rad: f64) -> Self {
        Self {
            center,
            size,
            yaw_rad,
        }
    }

    /// The four bird's-eye-view corners `(x, y)`, counter-clockwise starting front-left.
    pub fn bev_corners(&self) -> [[f64; 2]; 4] {
        let (s, c) = self.yaw_rad.sin_cos();
        let hl = 0.5 * self.size.x;
        let hw = 0.5 * self.size.y;
        let local = [[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]];
        local.map(|[lx, ly]| {
            [
                self.center.x + c * lx - s * ly,
                self.center.y + s * lx + c * ly,
            ]
        })
    }

    /// The eight corners: the four BEV corners at the bottom, then the same four at the top.
    pub fn corners(&self) -> [Point3<f64>; 8] {
        let bev = self.bev_corners();
        let z0 = self.center.z - 0.5 * self.size.z;
        let z1 = self.center.z + 0.5 * self.size.z;
        std::array::from_fn(|i| {
            let [x, y] = bev[i % 4];
            Point3::new(x, y, if i < 4 { z0 } else { z1 })
        })
    }

    /// Euclidean distance between the centers in the x-y plane, m.
    pub fn bev_distance(&self, other: &Box3) -> f64 {
        (self.center.xy() - other.center.xy()).norm()
    }

    /// Grows a box seen from the sensor at the origin to at least `min_size_m` (`[length,
    /// width]`), keeping the visible faces (those nearer the sensor) in place: the center moves
    /// away from the sensor along each grown axis. Completes a vehicle of which only one or two
    /// faces were seen.
    pub fn grow_away_from_origin(&mut self, min_size_m: [f64; 2]) {
        let (sin, cos) = self.yaw_rad.sin_cos();
        let axes = [(cos, sin), (-sin, cos)];
        for (axis_index, (ax, ay)) in axes.into_iter().enumerate() {
            let grow = min_size_m[axis_index] - self.size[axis_index];
            if grow > 0.0 {
                let away = if self.center.x * ax + self.center.y * ay >= 0.0 {
                    1.0
                } else {
                    -1.0
                };
                self.center.x += away * 0.5 * grow * ax;
                self.center.y += away * 0.5 * grow * ay;
                self.size[axis_index] = min_size_m[axis_index];
            }
        }
    }

    /// Volume, m³.
    pub fn volume(&self) -> f64 {
        self.size.x * self.size.y * self.size.z
    }

    /// True when center, size and yaw are finite and the size is not negative.
    pub fn is_valid(&self) -> bool {
        self.center.iter().all(|v| v.is_finite())
            && self.size.iter().all(|v| v.is_finite() && *v >= 0.0)
            && self.yaw_rad.is_finite()
    }
}

/// Wraps an angle to `(-pi, pi]`.
pub fn wrap_angle(angle_rad: f64) -> f64 {
    let two_pi = std::f64::consts::TAU;
    let mut a = angle_rad % two_pi;
    if a <= -std::f64::consts::PI {
        a += two_pi;
    } else if a > std::f64::consts::PI {
        a -= two_pi;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let a = BBox2::new(0.0, 0.0, 2.0, 2.0);
        let b = BBox2::new(1.0, 0.0, 3.0, 2.0);
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox2::new(5.0, 5.0, 6.0, 6.0)), 0.0);
    }

    #[test]
    fn corners_of_a_rotated_box() {
        let b = Box3::new(
            Vector3::new(1.0, 2.0, 1.0),
            Vector3::new(4.0, 2.0, 2.0),
            std::f64::consts::FRAC_PI_2,
        );
        let c = b.corners();
        // Front-left corner: length now points along +y, width along -x.
        assert!((c[0].x - 0.0).abs() < 1e-9 && (c[0].y - 4.0).abs() < 1e-9);
        assert!((c[0].z - 0.0).abs() < 1e-9 && (c[4].z - 2.0).abs() < 1e-9);
    }

    #[test]
    fn wrap_angle_stays_in_range() {
        for a in [-10.0, -3.2, 0.0, 3.2, 7.0, std::f64::consts::PI] {
            let w = wrap_angle(a);
            assert!(w > -std::f64::consts::PI - 1e-12 && w <= std::f64::consts::PI + 1e-12);
            assert!(
                ((w - a) / std::f64::consts::TAU).fract().abs() < 1e-9
                    || (w - a).abs() < 1e-9
                    || (((w - a) / std::f64::consts::TAU).round()
                        - (w - a) / std::f64::consts::TAU)
                        .abs()
                        < 1e-9
            );
        }
    }
}
