//! Static transform trees, as published on `/tf_static` (`tf2_msgs/TFMessage`) and recorded
//! in bags: each transform links a child frame to its parent; [`TransformTree::lookup`]
//! composes them into `target_from_source` between any two connected frames, e.g. a camera's
//! optical frame from the lidar frame for [`crate::CameraCalib::camera_from_lidar`].
//!
//! As in tf2, a frame has one parent; a newer transform for the same child replaces the old one.

use crate::calib::RigidTransform;
use nalgebra::Isometry3;
use thiserror::Error;

/// One `geometry_msgs/TransformStamped`: the pose of `child_frame` in `parent_frame`.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticTransform {
    /// `header.frame_id`.
    pub parent_frame: String,
    /// `child_frame_id`.
    pub child_frame: String,
    /// Translation and rotation, `parent_from_child`.
    pub parent_from_child: RigidTransform,
}

/// Why a transform could not be inserted or looked up.
#[derive(Debug, Error, PartialEq)]
pub enum TfError {
    /// A transform with non-finite values or a non-unit quaternion.
    #[error("transform {parent} -> {child}: {reason}")]
    Invalid {
        /// Parent frame.
        parent: String,
        /// Child frame.
        child: String,
        /// What is wrong.
        reason: String,
    },
    /// A frame's own parent, directly or through others.
    #[error("transform {parent} -> {child} would close a cycle in the transform tree")]
    Cycle {
        /// Parent frame.
        parent: String,
        /// Child frame.
        child: String,
    },
    /// The frames are not connected (yet).
    #[error("no transform from `{from_frame}` to `{to_frame}` (known frames: {known})")]
    NoPath {
        /// Frame looked up from.
        from_frame: String,
        /// Frame looked up into.
        to_frame: String,
        /// The frames the tree knows.
        known: String,
    },
}

/// A tree of static transforms.
#[derive(Clone, Debug, Default)]
pub struct TransformTree {
    /// `(child, parent, parent_from_child)`, in insertion order (lookups do not depend on it).
    edges: Vec<(String, String, Isometry3<f64>)>,
}

impl TransformTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the transform of `t.child_frame`, after validating it.
    pub fn insert(&mut self, t: &StaticTransform) -> Result<(), TfError> {
        let isometry = t
            .parent_from_child
            .to_isometry(&t.child_frame)
            .map_err(|e| TfError::Invalid {
                parent: t.parent_frame.clone(),
                child: t.child_frame.clone(),
                reason: e.to_string(),
            })?;
        if t.parent_frame == t.child_frame
            || self.ancestors(&t.parent_frame).any(|f| f == t.child_frame)
        {
            return Err(TfError::Cycle {
                parent: t.parent_frame.clone(),
                child: t.child_frame.clone(),
            });
        }
        self.edges.retain(|(child, _, _)| *child != t.child_frame);
        self.edges
            .push((t.child_frame.clone(), t.parent_frame.clone(), isometry));
        Ok(())
    }

    fn parent_of(&self, frame: &str) -> Option<(&str, &Isometry3<f64>)> {
        self.edges
            .iter()
            .find(|(child, _, _)| child == frame)
            .map(|(_, parent, iso)| (parent.as_str(), iso))
    }

    /// The frames above `frame`, nearest first (bounded: the tree has no cycles).
    fn ancestors<'a>(&'a self, frame: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut current = frame;
        std::iter::from_fn(move || {
            let (parent, _) = self.parent_of(current)?;
            current = parent;
            Some(parent)
        })
        .take(self.edges.len())
    }

    /// `root_from_frame` and the root's name.
    fn to_root<'a>(&'a self, frame: &'a str) -> (&'a str, Isometry3<f64>) {
        let mut root_from_frame = Isometry3::identity();
        let mut current = frame;
        for _ in 0..=self.edges.len() {
            match self.parent_of(current) {
                Some((parent, parent_from_current)) => {
                    root_from_frame = parent_from_current * root_from_frame;
                    current = parent;
                }
                None => break,
            }
        }
        (current, root_from_frame)
    }

    /// `target_from_source`: maps points in `source` coordinates into `target` coordinates.
    pub fn lookup(&self, target: &str, source: &str) -> Result<Isometry3<f64>, TfError> {
        let (source_root, root_from_source) = self.to_root(source);
        let (target_root, root_from_target) = self.to_root(target);
        let known = |tree: &Self| {
            let mut frames: Vec<&str> = tree
                .edges
                .iter()
                .flat_map(|(c, p, _)| [c.as_str(), p.as_str()])
                .collect();
            frames.sort_unstable();
            frames.dedup();
            frames.join(", ")
        };
        if source_root != target_root {
            return Err(TfError::NoPath {
                from_frame: source.to_string(),
                to_frame: target.to_string(),
                known: known(self),
            });
        }
        Ok(root_from_target.inverse() * root_from_source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn tf(parent: &str, child: &str, t: [f64; 3], q: [f64; 4]) -> StaticTransform {
        StaticTransform {
            parent_frame: parent.into(),
            child_frame: child.into(),
            parent_from_child: RigidTransform {
                translation_m: t,
                rotation_xyzw: q,
            },
        }
    }

    /// base_link <- lidar (1.8 m up), base_link <- camera_optical (1.5 m forward, optical axes).
    fn vehicle() -> TransformTree {
        let mut tree = TransformTree::new();
        tree.insert(&tf(
            "base_link",
            "lidar",
            [0.0, 0.0, 1.8],
            [0.0, 0.0, 0.0, 1.0],
        ))
        .unwrap();
        // Optical frame: z forward, x right, y down = rotation (-90 deg about x, then -90 about z).
        tree.insert(&tf(
            "base_link",
            "camera_optical",
            [1.5, 0.0, 1.5],
            [-0.5, 0.5, -0.5, 0.5],
        ))
        .unwrap();
        tree
    }

    #[test]
    fn camera_from_lidar_through_base_link() {
        let tree = vehicle();
        let camera_from_lidar = tree.lookup("camera_optical", "lidar").unwrap();
        // A point 10 m ahead of the lidar at lidar height: 8.5 m ahead of the camera (its +z),
        // 0.3 m above it (its -y).
        let p = camera_from_lidar * Point3::new(10.0, 0.0, 0.0);
        assert!(
            (p.z - 8.5).abs() < 1e-9 && (p.y + 0.3).abs() < 1e-9 && p.x.abs() < 1e-9,
            "{p}"
        );
        let back = tree.lookup("lidar", "camera_optical").unwrap() * p;
        assert!((back - Point3::new(10.0, 0.0, 0.0)).norm() < 1e-9);
    }

    #[test]
    fn unknown_frames_cycles_and_bad_values_are_errors() {
        let mut tree = vehicle();
        let err = tree.lookup("radar", "lidar").unwrap_err();
        assert!(
            err.to_string().contains("`radar`") && err.to_string().contains("base_link"),
            "{err}"
        );
        assert!(matches!(
            tree.insert(&tf("lidar", "base_link", [0.0; 3], [0.0, 0.0, 0.0, 1.0])),
            Err(TfError::Cycle { .. })
        ));
        assert!(matches!(
            tree.insert(&tf(
                "base_link",
                "x",
                [f64::NAN, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0]
            )),
            Err(TfError::Invalid { .. })
        ));
        assert!(matches!(
            tree.insert(&tf("base_link", "x", [0.0; 3], [0.0, 0.0, 0.0, 2.0])),
            Err(TfError::Invalid { .. })
        ));
    }

    #[test]
    fn a_newer_transform_replaces_the_old_one() {
        let mut tree = vehicle();
        tree.insert(&tf(
            "base_link",
            "lidar",
            [0.0, 0.0, 2.0],
            [0.0, 0.0, 0.0, 1.0],
        ))
        .unwrap();
        let base_from_lidar = tree.lookup("base_link", "lidar").unwrap();
        assert!((base_from_lidar.translation.vector.z - 2.0).abs() < 1e-12);
    }
}
