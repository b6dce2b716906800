//! Bird's-eye-view recall of obstacle boxes against labelled objects: a label counts as found
//! when some obstacle's center lies within a radius of the label's center (x-y plane).

use fusionrt_core::{Box3, Obstacle3D};

/// Recall of one or more frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BevRecall {
    /// Labelled objects considered.
    pub labels: usize,
    /// Of those, found.
    pub found: usize,
    /// Obstacles whose center is within the radius of no labelled object considered.
    pub unmatched_obstacles: usize,
}

impl BevRecall {
    /// `found / labels` (1 when there are no labels).
    pub fn recall(&self) -> f64 {
        if self.labels == 0 {
            1.0
        } else {
            self.found as f64 / self.labels as f64
        }
    }

    /// Adds another frame's counts.
    pub fn add(&mut self, other: &BevRecall) {
        self.labels += other.labels;
        self.found += other.found;
        self.unmatched_obstacles += other.unmatched_obstacles;
    }
}

/// Matches `obstacles` to `labels` by BEV center distance within `radius_m`. A label is found
/// when any obstacle lies within the radius (several labels may share one obstacle).
pub fn bev_recall(labels: &[Box3], obstacles: &[Obstacle3D], radius_m: f64) -> BevRecall {
    let near = |a: &Box3, b: &Box3| a.bev_distance(b) <= radius_m;
    BevRecall {
        labels: labels.len(),
        found: labels
            .iter()
            .filter(|l| obstacles.iter().any(|o| near(l, &o.bbox)))
            .count(),
        unmatched_obstacles: obstacles
            .iter()
            .filter(|o| !labels.iter().any(|l| near(l, &o.bbox)))
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    fn b(x: f64, y: f64) -> Box3 {
        Box3::new(Vector3::new(x, y, 0.0), Vector3::new(4.0, 2.0, 1.5), 0.0)
    }

    #[test]
    fn counts_found_labels_and_unmatched_obstacles() {
        let labels = [b(10.0, 0.0), b(20.0, 5.0), b(30.0, -5.0)];
        let obs = [b(10.5, 0.3), b(21.2, 5.0), b(50.0, 0.0)].map(|bbox| Obstacle3D {
            bbox,
            num_points: 10,
            score: 1.0,
            class_probs: Default::default(),
        });
        let r = bev_recall(&labels, &obs, 1.0);
        assert_eq!(
            r,
            BevRecall {
                labels: 3,
                found: 1,
                unmatched_obstacles: 2
            }
        );
        assert!((r.recall() - 1.0 / 3.0).abs() < 1e-12);
    }
}
