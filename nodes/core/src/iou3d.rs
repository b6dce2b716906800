//! Overlap of oriented 3D boxes: IoU and generalized IoU (GIoU).
//!
//! A [`Box3`] stands on the road (yaw about +z only), so its volume is a bird's-eye-view (BEV)
//! convex quadrilateral extruded along z. The intersection volume is the area of the BEV polygon
//! intersection (Sutherland-Hodgman clipping of one quad by the other) times the overlap of the
//! z ranges. GIoU (Rezatofighi et al. 2019, in 3D as in AB3DMOT) subtracts the share of the
//! enclosing volume (BEV convex hull of both boxes times the joint z span) that neither box fills.

use crate::geometry::Box3;

/// A small convex polygon in the x-y plane, counter-clockwise.
type Polygon = ([[f64; 2]; 16], usize);

/// The four BEV corners of a box, counter-clockwise.
type Corners = [[f64; 2]; 4];

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

fn polygon_area(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    if n < 3 {
        return 0.0;
    }
    let mut twice = 0.0;
    for i in 0..n {
        let [x0, y0] = points[i];
        let [x1, y1] = points[(i + 1) % n];
        twice += x0 * y1 - x1 * y0;
    }
    0.5 * twice.abs()
}

/// Clips the convex polygon `subject` by the convex counter-clockwise quad `clip`.
fn clip_polygon(subject: &[[f64; 2]; 4], clip: &[[f64; 2]; 4]) -> Polygon {
    let mut input: Polygon = ([[0.0; 2]; 16], 0);
    for (i, p) in subject.iter().enumerate() {
        input.0[i] = *p;
    }
    input.1 = 4;
    for e in 0..4 {
        let a = clip[e];
        let b = clip[(e + 1) % 4];
        let mut output: Polygon = ([[0.0; 2]; 16], 0);
        let n = input.1;
        if n == 0 {
            break;
        }
        for i in 0..n {
            let cur = input.0[i];
            let prev = input.0[(i + n - 1) % n];
            let cur_in = cross(a, b, cur) >= 0.0;
            let prev_in = cross(a, b, prev) >= 0.0;
            if cur_in != prev_in {
                // Intersection of segment prev-cur with the line a-b.
                let d_prev = cross(a, b, prev);
                let d_cur = cross(a, b, cur);
                let t = d_prev / (d_prev - d_cur);
                if output.1 < 16 {
                    output.0[output.1] = [
                        prev[0] + t * (cur[0] - prev[0]),
                        prev[1] + t * (cur[1] - prev[1]),
                    ];
                    output.1 += 1;
                }
            }
            if cur_in && output.1 < 16 {
                output.0[output.1] = cur;
                output.1 += 1;
            }
        }
        input = output;
    }
    input
}

/// True when an edge direction of either rectangle separates the two (separating axis theorem):
/// their footprints are disjoint, which is cheaper to prove than to clip.
fn separated(a: &Corners, b: &Corners) -> bool {
    let project = |c: &Corners, axis: [f64; 2]| {
        c.iter()
            .map(|p| p[0] * axis[0] + p[1] * axis[1])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    [a, b].iter().any(|r| {
        (0..2).any(|k| {
            let axis = [r[k + 1][0] - r[k][0], r[k + 1][1] - r[k][1]];
            let (a_lo, a_hi) = project(a, axis);
            let (b_lo, b_hi) = project(b, axis);
            a_hi < b_lo || b_hi < a_lo
        })
    })
}

/// A box prepared for repeated overlap tests: its BEV corners, z range, volume and
/// circumscribed radius are computed once (one `sin_cos` and one `hypot`) instead of per pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OverlapBox {
    corners: Corners,
    center: [f64; 2],
    z: (f64, f64),
    volume: f64,
    radius: f64,
    /// Positive length and width (otherwise the corners are not counter-clockwise and the
    /// footprint has no area).
    has_area: bool,
}

impl OverlapBox {
    /// Prepares `b`.
    pub fn new(b: &Box3) -> Self {
        Self {
            corners: b.bev_corners(),
            center: [b.center.x, b.center.y],
            z: (b.center.z - 0.5 * b.size.z, b.center.z + 0.5 * b.size.z),
            volume: b.volume(),
            radius: 0.5 * b.size.x.hypot(b.size.y),
            has_area: b.size.x > 0.0 && b.size.y > 0.0,
        }
    }

    /// Area of the intersection of the two BEV footprints, m².
    fn bev_intersection(&self, other: &Self) -> f64 {
        if !self.has_area || !other.has_area {
            return 0.0;
        }
        if separated(&self.corners, &other.corners) {
            return 0.0;
        }
        let (poly, n) = clip_polygon(&self.corners, &other.corners);
        polygon_area(&poly[..n])
    }

    /// Intersection volume, m³.
    pub fn intersection_volume(&self, other: &Self) -> f64 {
        let dz = (self.z.1.min(other.z.1) - self.z.0.max(other.z.0)).max(0.0);
        if dz <= 0.0 {
            return 0.0;
        }
        // Quick reject: circumscribed circles apart.
        let (dx, dy) = (
            self.center[0] - other.center[0],
            self.center[1] - other.center[1],
        );
        let reach = self.radius + other.radius;
        if dx * dx + dy * dy >= reach * reach {
            return 0.0;
        }
        self.bev_intersection(other) * dz
    }

    /// 3D IoU, in `[0, 1]` (0 for empty boxes).
    pub fn iou(&self, other: &Self) -> f64 {
        let inter = self.intersection_volume(other);
        if inter <= 0.0 {
            return 0.0;
        }
        let union = self.volume + other.volume - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// 3D GIoU, in `(-1, 1]`: see [`giou_3d`].
    pub fn giou(&self, other: &Self) -> f64 {
        let inter = self.intersection_volume(other);
        let union = self.volume + other.volume - inter;
        if union <= 0.0 {
            return -1.0;
        }
        let span = self.z.1.max(other.z.1) - self.z.0.min(other.z.0);
        let enclosing = hull_area(&self.corners, &other.corners) * span;
        let iou = inter / union;
        if enclosing <= 0.0 {
            return iou;
        }
        iou - (enclosing - union).max(0.0) / enclosing
    }
}

/// Area of the intersection of the two boxes' BEV footprints, m².
pub fn bev_intersection_area(a: &Box3, b: &Box3) -> f64 {
    OverlapBox::new(a).bev_intersection(&OverlapBox::new(b))
}

/// Intersection volume of two oriented boxes, m³.
pub fn intersection_volume(a: &Box3, b: &Box3) -> f64 {
    OverlapBox::new(a).intersection_volume(&OverlapBox::new(b))
}

/// 3D intersection over union of two oriented boxes, in `[0, 1]` (0 for empty boxes).
pub fn iou_3d(a: &Box3, b: &Box3) -> f64 {
    OverlapBox::new(a).iou(&OverlapBox::new(b))
}

/// Bird's-eye-view IoU of two oriented boxes, in `[0, 1]`.
pub fn iou_bev(a: &Box3, b: &Box3) -> f64 {
    let inter = bev_intersection_area(a, b);
    let union = a.size.x * a.size.y + b.size.x * b.size.y - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Area of the convex hull of the eight BEV corners of two boxes (Andrew's monotone chain), m².
fn hull_area(ca: &[[f64; 2]; 4], cb: &[[f64; 2]; 4]) -> f64 {
    let mut pts = [[0.0; 2]; 8];
    pts[..4].copy_from_slice(ca);
    pts[4..].copy_from_slice(cb);
    // Insertion sort by (x, y): for eight points cheaper than the generic sort.
    for i in 1..pts.len() {
        let p = pts[i];
        let mut j = i;
        while j > 0 && (p[0] < pts[j - 1][0] || (p[0] == pts[j - 1][0] && p[1] < pts[j - 1][1])) {
            pts[j] = pts[j - 1];
            j -= 1;
        }
        pts[j] = p;
    }
    let mut hull = [[0.0; 2]; 16];
    let mut k = 0usize;
    for p in pts.iter() {
        while k >= 2 && cross(hull[k - 2], hull[k - 1], *p) <= 0.0 {
            k -= 1;
        }
        hull[k] = *p;
        k += 1;
    }
    let lower = k + 1;
    for p in pts.iter().rev().skip(1) {
        while k >= lower && cross(hull[k - 2], hull[k - 1], *p) <= 0.0 {
            k -= 1;
        }
        hull[k] = *p;
        k += 1;
    }
    polygon_area(&hull[..k.saturating_sub(1)])
}

/// 3D generalized IoU of two oriented boxes, in `(-1, 1]`: IoU minus the share of the enclosing
/// volume (BEV convex hull times the joint z span) that the union leaves empty.
pub fn giou_3d(a: &Box3, b: &Box3) -> f64 {
    OverlapBox::new(a).giou(&OverlapBox::new(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

    fn bx(x: f64, y: f64, z: f64, l: f64, w: f64, h: f64, yaw: f64) -> Box3 {
        Box3::new(Vector3::new(x, y, z), Vector3::new(l, w, h), yaw)
    }

    /// Deterministic random boxes (a 64-bit LCG) with centres in `[0, span)` m.
    fn random_boxes(span: f64) -> impl FnMut() -> Box3 {
        let mut s = 12345u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / ((1u64 << 53) as f64)
        };
        move || {
            bx(
                next() * span,
                next() * span,
                next(),
                1.0 + next() * 4.0,
                1.0 + next(),
                1.0 + next(),
                next() * 6.0,
            )
        }
    }

    #[test]
    fn separating_axis_agrees_with_clipping() {
        // Random pairs: the axis test says disjoint exactly when clipping finds no area.
        let mut random_box = random_boxes(8.0);
        let mut disjoint = 0;
        for _ in 0..5000 {
            let (a, b) = (random_box(), random_box());
            let (ca, cb) = (a.bev_corners(), b.bev_corners());
            let clipped = {
                let (poly, n) = clip_polygon(&ca, &cb);
                polygon_area(&poly[..n])
            };
            if separated(&ca, &cb) {
                disjoint += 1;
                assert!(clipped < 1e-9, "{a:?} {b:?}: {clipped}");
            } else {
                // Rectangles that no edge axis separates overlap (random pairs never just touch).
                assert!(clipped > 0.0, "{a:?} {b:?}");
            }
        }
        assert!(disjoint > 1000, "{disjoint}");
    }

    #[test]
    fn identical_boxes_have_iou_one() {
        let a = bx(1.0, 2.0, 0.5, 4.0, 2.0, 1.5, 0.7);
        assert!((iou_3d(&a, &a) - 1.0).abs() < 1e-9);
        assert!((giou_3d(&a, &a) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn half_shifted_axis_aligned_boxes() {
        let a = bx(0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0);
        let b = bx(1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0);
        assert!((iou_3d(&a, &b) - 1.0 / 3.0).abs() < 1e-9);
        // Enclosing box 3x2x2 = 12, union 12: GIoU = IoU.
        assert!((giou_3d(&a, &b) - 1.0 / 3.0).abs() < 1e-9);
        // Half height overlap as well.
        let c = bx(1.0, 0.0, 1.0, 2.0, 2.0, 2.0, 0.0);
        assert!((iou_3d(&a, &c) - 2.0 / 14.0).abs() < 1e-9);
    }

    #[test]
    fn rotated_square_inside_square() {
        // A unit square rotated 45 degrees about the center of a 2x2 square: fully inside.
        let a = bx(0.0, 0.0, 0.0, 2.0, 2.0, 1.0, 0.0);
        let b = bx(0.0, 0.0, 0.0, 1.0, 1.0, 1.0, FRAC_PI_4);
        assert!((iou_3d(&a, &b) - 0.25).abs() < 1e-9);
        // Two 2x2 squares, one turned 45 degrees: intersection is a regular octagon.
        let c = bx(0.0, 0.0, 0.0, 2.0, 2.0, 1.0, FRAC_PI_4);
        let octagon = 8.0 * (std::f64::consts::SQRT_2 - 1.0);
        assert!((bev_intersection_area(&a, &c) - octagon).abs() < 1e-9);
        // Turning by 90 degrees changes nothing for a square.
        let d = bx(0.0, 0.0, 0.0, 2.0, 2.0, 1.0, FRAC_PI_2);
        assert!((iou_3d(&a, &d) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn disjoint_boxes_have_negative_giou() {
        let a = bx(0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0);
        let b = bx(4.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0);
        assert_eq!(iou_3d(&a, &b), 0.0);
        // Enclosing 6x2x2 = 24, union 16: GIoU = -8/24.
        assert!((giou_3d(&a, &b) + 1.0 / 3.0).abs() < 1e-9);
        let far = bx(40.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.3);
        assert!(giou_3d(&a, &far) < giou_3d(&a, &b));
    }

    #[test]
    fn iou_is_symmetric_on_random_pairs() {
        let mut random_box = random_boxes(3.0);
        for _ in 0..500 {
            let a = random_box();
            let b = random_box();
            let ab = iou_3d(&a, &b);
            let ba = iou_3d(&b, &a);
            assert!((ab - ba).abs() < 1e-9, "{ab} vs {ba}");
            assert!((0.0..=1.0 + 1e-12).contains(&ab));
            let g = giou_3d(&a, &b);
            assert!(g <= ab + 1e-12 && g > -1.0);
        }
    }
}
