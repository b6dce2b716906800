//! A synthetic tracking scene for benchmarks: `n` objects (3 cars, 1 pedestrian, 1 cyclist in
//! every 5) on lanes 4 m apart, 12 m apart along each lane, moving at class-typical speeds and
//! detected every 0.1 s with deterministic position and heading noise.

use fusionrt_core::{Box3, ClassProbs, FusedObject, ObjectClass, SensorSupport};
use nalgebra::Vector3;

/// Generates the frames of the scene; the same seed gives the same frames.
#[derive(Clone, Debug)]
pub struct SyntheticScene {
    state: u64,
}

impl SyntheticScene {
    /// A scene whose noise starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Deterministic noise in `[-0.5, 0.5)` (a 64-bit LCG).
    fn noise(&mut self) -> f64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.state >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    }

    /// Writes the `n` detections of frame `k` (at `k * 0.1` s) into `out`.
    pub fn frame(&mut self, n: usize, k: u64, out: &mut Vec<FusedObject>) {
        out.clear();
        let t = k as f64 * 0.1;
        for i in 0..n {
            let (class, size, speed) = match i % 5 {
                0..=2 => (ObjectClass::Car, Vector3::new(4.2, 1.8, 1.5), 10.0),
                3 => (ObjectClass::Pedestrian, Vector3::new(0.8, 0.6, 1.7), 1.4),
                _ => (ObjectClass::Bicycle, Vector3::new(1.8, 0.6, 1.7), 5.0),
            };
            let center = Vector3::new(
                (i % 25) as f64 * 12.0 + speed * t + 0.2 * self.noise(),
                (i / 25) as f64 * 4.0 + 0.2 * self.noise(),
                0.8,
            );
            out.push(FusedObject {
                bbox: Box3::new(center, size, 0.05 * self.noise()),
                class,
                class_probs: ClassProbs::one_hot(class),
                score: 0.8,
                support: SensorSupport::default(),
                camera_box: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_frames_and_objects_move() {
        let (mut a, mut b) = (SyntheticScene::new(7), SyntheticScene::new(7));
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        a.frame(10, 3, &mut fa);
        b.frame(10, 3, &mut fb);
        assert_eq!(fa, fb);
        assert_eq!(fa.len(), 10);
        a.frame(10, 13, &mut fb);
        // One second later the first car has moved about 10 m.
        assert!((fb[0].bbox.center.x - fa[0].bbox.center.x - 10.0).abs() < 0.5);
    }
}
