//! Branch-free scalar helpers shared by the lidar stage's hot loops. Written as comparisons
//! and selects that SIMD units have, so that loops calling them vectorize, and so that a
//! running minimum or maximum costs one instruction instead of the NaN handling of
//! `f32::min` / `f32::max`.

/// `a.min(b)` for values known not to be NaN (with a NaN, `b`).
#[inline(always)]
pub(crate) fn lo(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// `a.max(b)` for values known not to be NaN (with a NaN, `b`).
#[inline(always)]
pub(crate) fn hi(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// `v` clamped to `[0, last]` and truncated to an index; NaN gives `last`.
#[inline(always)]
pub(crate) fn clamp_index(v: f32, last: f32) -> u32 {
    hi(lo(v, last), 0.0) as i32 as u32
}

/// `atan2` to within about 0.02 degrees, several times faster than the libm one.
#[inline(always)]
pub(crate) fn fast_atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let (mx, mn) = if ax > ay { (ax, ay) } else { (ay, ax) };
    let a = mn / mx.max(f32::MIN_POSITIVE);
    let s = a * a;
    let mut r = ((-0.046_496_475 * s + 0.159_314_22) * s - 0.327_622_76) * s * a + a;
    // Selects rather than branches, so that loops calling this vectorize.
    r = if ay > ax {
        std::f32::consts::FRAC_PI_2 - r
    } else {
        r
    };
    r = if x < 0.0 { std::f32::consts::PI - r } else { r };
    if y < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_atan2_is_close() {
        for i in 0..3600 {
            let a = (i as f32 - 1800.0).to_radians() * 0.1;
            for r in [0.5f32, 10.0, 80.0] {
                let (y, x) = (r * a.sin(), r * a.cos());
                let d = (fast_atan2(y, x) - y.atan2(x)).abs();
                assert!(
                    d < 3e-4 || (d - std::f32::consts::TAU).abs() < 3e-4,
                    "{a} {d}"
                );
            }
        }
        assert_eq!(fast_atan2(0.0, 0.0), 0.0);
    }

    #[test]
    fn lo_hi_and_clamp_index() {
        assert_eq!((lo(1.0, 2.0), hi(1.0, 2.0)), (1.0, 2.0));
        assert_eq!((lo(f32::NAN, 2.0), hi(f32::NAN, 2.0)), (2.0, 2.0));
        assert_eq!(clamp_index(-3.0, 9.0), 0);
        assert_eq!(clamp_index(4.7, 9.0), 4);
        assert_eq!(clamp_index(12.0, 9.0), 9);
        assert_eq!(clamp_index(f32::NAN, 9.0), 9);
    }
}
