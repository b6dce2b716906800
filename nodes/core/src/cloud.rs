//! A stamped point cloud stored as struct-of-arrays.
//!
//! Coordinates are `f32` metres in the frame named by `frame_id`. Optional channels
//! (`intensity`, `ring`, `time_offset_ns`) are either empty (absent) or exactly as long as `x`.
//! Clearing keeps the capacity, so a cloud reused frame after frame allocates nothing.

use serde::{Deserialize, Serialize};

/// A point cloud: one sweep of a lidar, or any set of 3D points with a common stamp and frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PointCloud {
    /// Acquisition time of the sweep, ns.
    pub stamp_ns: i64,
    /// The frame the coordinates are expressed in, e.g. `lidar_top`.
    pub frame_id: String,
    /// x coordinates, m.
    pub x: Vec<f32>,
    /// y coordinates, m.
    pub y: Vec<f32>,
    /// z coordinates, m.
    pub z: Vec<f32>,
    /// Return intensity or reflectance (sensor units), empty when absent.
    pub intensity: Vec<f32>,
    /// Laser ring (beam index), empty when absent.
    pub ring: Vec<u16>,
    /// Time of each point relative to `stamp_ns`, ns, empty when absent.
    pub time_offset_ns: Vec<i32>,
}

/// Which optional channels a cloud carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    /// `intensity` is filled.
    pub intensity: bool,
    /// `ring` is filled.
    pub ring: bool,
    /// `time_offset_ns` is filled.
    pub time_offset: bool,
}

impl PointCloud {
    /// An empty cloud with room for `capacity` points in every channel.
    pub fn with_capacity(capacity: usize, channels: Channels) -> Self {
        let opt = |on: bool| if on { capacity } else { 0 };
        Self {
            stamp_ns: 0,
            frame_id: String::new(),
            x: Vec::with_capacity(capacity),
            y: Vec::with_capacity(capacity),
            z: Vec::with_capacity(capacity),
            intensity: Vec::with_capacity(opt(channels.intensity)),
            ring: Vec::with_capacity(opt(channels.ring)),
            time_offset_ns: Vec::with_capacity(opt(channels.time_offset)),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when the cloud has no points.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Removes all points, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.x.clear();
        self.y.clear();
        self.z.clear();
        self.intensity.clear();
        self.ring.clear();
        self.time_offset_ns.clear();
    }

    /// Appends a point with coordinates only (use on clouds without optional channels).
    pub fn push_xyz(&mut self, x: f32, y: f32, z: f32) {
        self.x.push(x);
        self.y.push(y);
        self.z.push(z);
    }

    /// Appends a point with an intensity.
    pub fn push_xyzi(&mut self, x: f32, y: f32, z: f32, intensity: f32) {
        self.push_xyz(x, y, z);
        self.intensity.push(intensity);
    }

    /// Which optional channels are present.
    pub fn channels(&self) -> Channels {
        Channels {
            intensity: !self.intensity.is_empty(),
            ring: !self.ring.is_empty(),
            time_offset: !self.time_offset_ns.is_empty(),
        }
    }

    /// Checks the struct-of-arrays invariant: every present channel is as long as `x`.
    pub fn check_consistent(&self) -> Result<(), String> {
        let n = self.x.len();
        let check = |name: &str, len: usize, optional: bool| {
            if len == n || (optional && len == 0) {
                Ok(())
            } else {
                Err(format!("channel `{name}` has {len} values for {n} points"))
            }
        };
        check("y", self.y.len(), false)?;
        check("z", self.z.len(), false)?;
        check("intensity", self.intensity.len(), true)?;
        check("ring", self.ring.len(), true)?;
        check("time_offset_ns", self.time_offset_ns.len(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_keeps_capacity() {
        let mut c = PointCloud::with_capacity(
            8,
            Channels {
                intensity: true,
                ..Channels::default()
            },
        );
        c.push_xyzi(1.0, 2.0, 3.0, 0.5);
        assert_eq!(c.len(), 1);
        assert!(c.check_consistent().is_ok());
        c.clear();
        assert!(c.is_empty() && c.x.capacity() >= 8 && c.intensity.capacity() >= 8);
    }

    #[test]
    fn inconsistent_channels_are_reported() {
        let mut c = PointCloud::default();
        c.push_xyz(1.0, 2.0, 3.0);
        c.intensity.extend([1.0, 2.0]);
        let err = c.check_consistent().unwrap_err();
        assert!(err.contains("intensity"), "{err}");
    }
}
