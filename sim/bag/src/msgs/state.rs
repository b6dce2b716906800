//! `tf2_msgs/TFMessage` (`/tf`, `/tf_static`) and `nav_msgs/Odometry` as CDR.
//!
//! Transforms come out as [`fusionrt_core::tf::StaticTransform`]s with their stamps, ready for
//! [`fusionrt_core::tf::TransformTree::insert`] (which validates them).

use super::{MsgError, RosMessage, read_header, read_time, write_header, write_time};
use crate::cdr::{CdrError, CdrReader, CdrWriter};
use fusionrt_core::calib::RigidTransform;
use fusionrt_core::tf::StaticTransform;

/// One `geometry_msgs/TransformStamped`.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformStamped {
    /// `header.stamp`, ns.
    pub stamp_ns: i64,
    /// Parent, child and `parent_from_child`.
    pub transform: StaticTransform,
}

/// `tf2_msgs/TFMessage`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TfMessage {
    /// The transforms, in message order.
    pub transforms: Vec<TransformStamped>,
}

fn read_xyz(r: &mut CdrReader<'_>, field: &'static str) -> Result<[f64; 3], CdrError> {
    r.f64_array::<3>(field)
}

fn read_xyzw(r: &mut CdrReader<'_>, field: &'static str) -> Result<[f64; 4], CdrError> {
    r.f64_array::<4>(field)
}

/// Decodes a `tf2_msgs/msg/TFMessage` payload.
pub fn decode_tf(payload: &[u8]) -> Result<TfMessage, MsgError> {
    let mut r = CdrReader::new(payload)?;
    // A TransformStamped is at least 8 + 4 + 4 + 56 bytes.
    let n = r.seq_len("transforms", 72)?;
    let mut transforms = Vec::with_capacity(n);
    for _ in 0..n {
        let stamp_ns = read_time(&mut r, "transforms.header.stamp")?;
        let parent_frame = r.string("transforms.header.frame_id")?;
        let child_frame = r.string("transforms.child_frame_id")?;
        let translation_m = read_xyz(&mut r, "transforms.transform.translation")?;
        let rotation_xyzw = read_xyzw(&mut r, "transforms.transform.rotation")?;
        transforms.push(TransformStamped {
            stamp_ns,
            transform: StaticTransform {
                parent_frame,
                child_frame,
                parent_from_child: RigidTransform {
                    translation_m,
                    rotation_xyzw,
                },
            },
        });
    }
    Ok(TfMessage { transforms })
}

impl RosMessage for TfMessage {
    const TYPE_NAME: &'static str = "tf2_msgs/msg/TFMessage";
    fn encode_fields(&self, w: &mut CdrWriter) {
        w.seq_len(self.transforms.len());
        for t in &self.transforms {
            write_time(w, t.stamp_ns);
            w.string(&t.transform.parent_frame);
            w.string(&t.transform.child_frame);
            w.f64_array(&t.transform.parent_from_child.translation_m);
            w.f64_array(&t.transform.parent_from_child.rotation_xyzw);
        }
    }
}

/// `nav_msgs/Odometry`: the pose of `child_frame` in `frame_id` and its twist in `child_frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct Odometry {
    /// Stamp, ns.
    pub stamp_ns: i64,
    /// Frame of the pose (e.g. `odom`).
    pub frame_id: String,
    /// Frame of the twist (e.g. `base_link`).
    pub child_frame: String,
    /// Pose, `frame_from_child`.
    pub frame_from_child: RigidTransform,
    /// Pose covariance (6x6 row-major: x, y, z, rot x, rot y, rot z).
    pub pose_covariance: [f64; 36],
    /// Linear velocity in `child_frame`, m/s.
    pub linear_mps: [f64; 3],
    /// Angular velocity in `child_frame`, rad/s.
    pub angular_radps: [f64; 3],
    /// Twist covariance (6x6 row-major).
    pub twist_covariance: [f64; 36],
}

/// Decodes a `nav_msgs/msg/Odometry` payload.
pub fn decode_odometry(payload: &[u8]) -> Result<Odometry, MsgError> {
    let mut r = CdrReader::new(payload)?;
    let (stamp_ns, frame_id) = read_header(&mut r)?;
    let child_frame = r.string("child_frame_id")?;
    let translation_m = read_xyz(&mut r, "pose.pose.position")?;
    let rotation_xyzw = read_xyzw(&mut r, "pose.pose.orientation")?;
    let pose_covariance = r.f64_array::<36>("pose.covariance")?;
    let linear_mps = read_xyz(&mut r, "twist.twist.linear")?;
    let angular_radps = read_xyz(&mut r, "twist.twist.angular")?;
    let twist_covariance = r.f64_array::<36>("twist.covariance")?;
    Ok(Odometry {
        stamp_ns,
        frame_id,
        child_frame,
        frame_from_child: RigidTransform {
            translation_m,
            rotation_xyzw,
        },
        pose_covariance,
        linear_mps,
        angular_radps,
        twist_covariance,
    })
}

impl RosMessage for Odometry {
    const TYPE_NAME: &'static str = "nav_msgs/msg/Odometry";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.string(&self.child_frame);
        w.f64_array(&self.frame_from_child.translation_m);
        w.f64_array(&self.frame_from_child.rotation_xyzw);
        w.f64_array(&self.pose_covariance);
        w.f64_array(&self.linear_mps);
        w.f64_array(&self.angular_radps);
        w.f64_array(&self.twist_covariance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(parent: &str, child: &str) -> TransformStamped {
        TransformStamped {
            stamp_ns: 3_000_000_001,
            transform: StaticTransform {
                parent_frame: parent.into(),
                child_frame: child.into(),
                parent_from_child: RigidTransform {
                    translation_m: [1.0, -0.5, 1.73],
                    rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                },
            },
        }
    }

    #[test]
    fn tf_messages_round_trip_into_a_tree() {
        let msg = TfMessage {
            transforms: vec![tf("base_link", "velodyne"), tf("velodyne", "camera0")],
        };
        let back = decode_tf(&msg.to_cdr()).unwrap();
        assert_eq!(back, msg);
        let mut tree = fusionrt_core::tf::TransformTree::new();
        for t in &back.transforms {
            tree.insert(&t.transform).unwrap();
        }
        assert!(tree.lookup("base_link", "camera0").is_ok());
        // A count claiming more transforms than the payload holds.
        let mut w = CdrWriter::new();
        w.u32(1_000_000);
        assert!(decode_tf(&w.finish()).is_err());
    }

    #[test]
    fn odometry_round_trips() {
        let odom = Odometry {
            stamp_ns: 12,
            frame_id: "odom".into(),
            child_frame: "base_link".into(),
            frame_from_child: RigidTransform {
                translation_m: [10.0, 2.0, 0.0],
                rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
            },
            pose_covariance: [0.1; 36],
            linear_mps: [5.0, 0.0, 0.0],
            angular_radps: [0.0, 0.0, 0.2],
            twist_covariance: [0.2; 36],
        };
        let data = odom.to_cdr();
        assert_eq!(decode_odometry(&data).unwrap(), odom);
        assert!(decode_odometry(&data[..data.len() - 8]).is_err());
    }
}
