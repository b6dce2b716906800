//! Raw ROS messages -> runtime [`Event`]s: decoding (fusionrt-bag's CDR codecs), the transform
//! tree, camera calibrations from CameraInfo + TF, odometry times the lidar mount.
//!
//! Nothing here panics on a bad message: it becomes an [`Event::Skipped`] with a reason
//! (`pointcloud_bad_input`, `image_bad_input`, `camera_info_bad_input`, `tf_bad_input`,
//! `odometry_bad_input`) and a detail naming topic and field, which the executor counts and logs
//! at most once a second per reason. Points with a NaN or infinite coordinate are dropped from
//! their cloud and counted (`pointcloud_non_finite_points`) by the caller through
//! [`Assembler::take_point_drops`].
//!
//! A CameraInfo with an all-zero `D` is taken as a rectified camera (`R` and `P` project, as for
//! `image_rect`); otherwise `K` and `D` project raw images.

use crate::inbox::{Input, RawInput};
use fusionrt_bag::msgs::{sensor, state};
use fusionrt_core::PointCloud;
use fusionrt_core::calib::ImageKind;
use fusionrt_core::image::CameraInfo;
use fusionrt_core::tf::TransformTree;
use fusionrt_core::{CameraCalib, tf::TfError};
use fusionrt_runtime::{Event, Stamped};
use std::sync::{Arc, Mutex, PoisonError};

/// What the node knows about a camera, for /diagnostics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraStatus {
    /// Images received.
    pub images: u64,
    /// CameraInfos received.
    pub infos: u64,
    /// True once a calibration reached the graph.
    pub calibrated: bool,
    /// Why it is not calibrated (yet), or the last problem.
    pub problem: Option<String>,
}

/// Camera status shared with the diagnostics.
pub type SharedCameraStatus = Arc<Mutex<Vec<CameraStatus>>>;

#[derive(Default)]
struct CameraState {
    info: Option<CameraInfo>,
    /// (info, tf version, lidar frame) the last calibration was made from.
    used: Option<(CameraInfo, u64, String)>,
}

/// Turns raw inputs into events.
pub struct Assembler {
    cameras: Vec<CameraState>,
    status: SharedCameraStatus,
    tf: TransformTree,
    tf_version: u64,
    lidar_frame: Option<Arc<str>>,
    seq_cloud: u64,
    seq_image: Vec<u64>,
    point_drops: u64,
    cloud: PointCloud,
    /// False when the camera model is off: images are checked and counted, never decoded.
    images_used: bool,
}

fn skipped(reason: &'static str, topic: &str, e: &dyn std::fmt::Display) -> Event {
    Event::Skipped {
        reason,
        detail: format!("{topic}: {e}"),
    }
}

impl Assembler {
    /// For `cameras` cameras.
    pub fn new(cameras: usize) -> Self {
        Self {
            cameras: (0..cameras).map(|_| CameraState::default()).collect(),
            status: Arc::new(Mutex::new(vec![CameraStatus::default(); cameras])),
            tf: TransformTree::new(),
            tf_version: 0,
            lidar_frame: None,
            seq_cloud: 0,
            seq_image: vec![0; cameras],
            point_drops: 0,
            cloud: PointCloud::default(),
            images_used: true,
        }
    }

    /// For a node without the camera model: images are still checked (their CDR, the step of a
    /// raw image) and counted, but their pixels are not decoded and they do not reach the graph,
    /// so a JPEG or PNG never delays the next sweep.
    pub fn images_unused(mut self) -> Self {
        self.images_used = false;
        self
    }

    /// The camera status the diagnostics read.
    pub fn camera_status(&self) -> SharedCameraStatus {
        self.status.clone()
    }

    /// Points dropped for a non-finite coordinate since the last call.
    pub fn take_point_drops(&mut self) -> u64 {
        std::mem::take(&mut self.point_drops)
    }

    fn set_status(&self, camera: usize, f: impl FnOnce(&mut CameraStatus)) {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = s.get_mut(camera) {
            f(c);
        }
    }

    /// Decodes one message into zero or more events, appended to `out`. The message is
    /// consumed: a cloud's points move from its CDR buffer into the decoded message.
    pub fn assemble(&mut self, raw: RawInput, out: &mut Vec<Event>) {
        match raw.input {
            Input::PointCloud => self.pointcloud(raw.cdr, out),
            Input::Image(i) => {
                self.set_status(i, |s| s.images += 1);
                match sensor::decode_image(&raw.cdr) {
                    Ok(_) if !self.images_used => {}
                    Ok(image) => self.push_image(i, image, out),
                    Err(e) => out.push(skipped("image_bad_input", &image_topic(i), &e)),
                }
            }
            Input::CompressedImage(i) => {
                self.set_status(i, |s| s.images += 1);
                let topic = format!("{}/compressed", image_topic(i));
                match sensor::decode_compressed_image(&raw.cdr) {
                    Ok(_) if !self.images_used => {}
                    Ok(c) => match fusionrt_camera::decode_compressed(
                        &c.format,
                        &c.data,
                        c.stamp_ns,
                        &c.frame_id,
                    ) {
                        Ok(image) => self.push_image(i, image, out),
                        Err(e) => out.push(skipped("image_bad_input", &topic, &e)),
                    },
                    Err(e) => out.push(skipped("image_bad_input", &topic, &e)),
                }
            }
            Input::CameraInfo(i) => {
                self.set_status(i, |s| s.infos += 1);
                let topic = format!("input/camera{i}/camera_info");
                match sensor::decode_camera_info(&raw.cdr) {
                    Ok(info) => {
                        if let Some(c) = self.cameras.get_mut(i) {
                            c.info = Some(info);
                        }
                        self.calibrate(i, out);
                    }
                    Err(e) => out.push(skipped("camera_info_bad_input", &topic, &e)),
                }
            }
            Input::Tf => match state::decode_tf(&raw.cdr) {
                Ok(msg) => {
                    let mut changed = false;
                    for t in &msg.transforms {
                        match self.tf.insert(&t.transform) {
                            Ok(()) => changed = true,
                            Err(e) => out.push(skipped("tf_bad_input", "tf", &e)),
                        }
                    }
                    if changed {
                        self.tf_version += 1;
                        for i in 0..self.cameras.len() {
                            self.calibrate(i, out);
                        }
                    }
                }
                Err(e) => out.push(skipped("tf_bad_input", "tf", &e)),
            },
            Input::Odometry => match state::decode_odometry(&raw.cdr) {
                Ok(odom) => self.odometry(&odom, out),
                Err(e) => out.push(skipped("odometry_bad_input", "input/odometry", &e)),
            },
        }
    }

    fn pointcloud(&mut self, cdr: Vec<u8>, out: &mut Vec<Event>) {
        const TOPIC: &str = "input/pointcloud";
        let msg = match sensor::decode_pointcloud2_owned(cdr) {
            Ok(m) => m,
            Err(e) => return out.push(skipped("pointcloud_bad_input", TOPIC, &e)),
        };
        let stats = match self.cloud.fill_from_pointcloud2(&msg) {
            Ok(s) => s,
            Err(e) => return out.push(skipped("pointcloud_bad_input", TOPIC, &e)),
        };
        self.point_drops += stats.skipped_non_finite as u64;
        let mut cloud = std::mem::take(&mut self.cloud);
        cloud.stamp_ns = msg.stamp_ns;
        let frame: Arc<str> = match &self.lidar_frame {
            Some(f) if **f == *msg.frame_id => f.clone(),
            _ => {
                let f: Arc<str> = Arc::from(msg.frame_id.as_str());
                self.lidar_frame = Some(f.clone());
                // Calibrations are relative to the lidar frame: redo them.
                for i in 0..self.cameras.len() {
                    self.calibrate(i, out);
                }
                f
            }
        };
        let seq = self.seq_cloud;
        self.seq_cloud += 1;
        out.push(Event::Lidar {
            cloud: Arc::new(Stamped::new(msg.stamp_ns, frame, seq, cloud)),
            truth: None,
        });
    }

    fn push_image(
        &mut self,
        camera: usize,
        image: fusionrt_core::image::Image,
        out: &mut Vec<Event>,
    ) {
        let Some(seq) = self.seq_image.get_mut(camera) else {
            return;
        };
        let s = *seq;
        *seq += 1;
        let frame: Arc<str> = Arc::from(image.frame_id.as_str());
        out.push(Event::Image {
            camera,
            image: Arc::new(Stamped::new(image.stamp_ns, frame, s, image)),
        });
    }

    /// Makes camera `i`'s calibration when its info, the transforms or the lidar frame changed
    /// since the last one.
    fn calibrate(&mut self, i: usize, out: &mut Vec<Event>) {
        let Some(lidar) = self.lidar_frame.clone() else {
            self.set_status(i, |s| s.problem = Some("no point cloud yet".into()));
            return;
        };
        let Some(cam) = self.cameras.get(i) else {
            return;
        };
        let Some(info) = cam.info.clone() else {
            self.set_status(i, |s| s.problem = Some("no camera_info yet".into()));
            return;
        };
        let key_matches = cam.used.as_ref().is_some_and(|(used, version, frame)| {
            *version == self.tf_version && **frame == *lidar && same_calibration(used, &info)
        });
        if key_matches {
            return;
        }
        let camera_from_lidar = match self.tf.lookup(&info.frame_id, &lidar) {
            Ok(t) => t,
            Err(e @ TfError::NoPath { .. }) => {
                // Waiting for /tf_static is not a bad message: say so in the status.
                let problem = format!("waiting for a transform: {e}");
                self.set_status(i, |s| s.problem = Some(problem));
                return;
            }
            Err(e) => {
                out.push(skipped("tf_bad_input", "tf", &e));
                return;
            }
        };
        let kind = if info.d.iter().all(|v| *v == 0.0) {
            ImageKind::Rectified
        } else {
            ImageKind::Raw
        };
        let name = format!("camera{i}");
        match CameraCalib::from_camera_info(&name, &info, camera_from_lidar, kind) {
            Ok(calib) => {
                if let Some(c) = self.cameras.get_mut(i) {
                    c.used = Some((info, self.tf_version, lidar.to_string()));
                }
                self.set_status(i, |s| {
                    s.calibrated = true;
                    s.problem = None;
                });
                out.push(Event::CameraCalib { camera: i, calib });
            }
            Err(e) => {
                // Remember the bad info so the same one is not retried (and counted) each frame.
                if let Some(c) = self.cameras.get_mut(i) {
                    c.used = Some((info, self.tf_version, lidar.to_string()));
                }
                let problem = e.to_string();
                self.set_status(i, |s| s.problem = Some(problem));
                out.push(skipped(
                    "camera_info_bad_input",
                    &format!("input/camera{i}/camera_info"),
                    &e,
                ));
            }
        }
    }

    fn odometry(&mut self, odom: &state::Odometry, out: &mut Vec<Event>) {
        const TOPIC: &str = "input/odometry";
        let Some(lidar) = self.lidar_frame.clone() else {
            return; // no sweep yet: nothing to place
        };
        let world_from_base = match odom.frame_from_child.to_isometry(&odom.child_frame) {
            Ok(t) => t,
            Err(e) => return out.push(skipped("odometry_bad_input", TOPIC, &e)),
        };
        let base_from_lidar = if odom.child_frame == *lidar {
            nalgebra::Isometry3::identity()
        } else {
            match self.tf.lookup(&odom.child_frame, &lidar) {
                Ok(t) => t,
                Err(e) => return out.push(skipped("odometry_no_tf", TOPIC, &e)),
            }
        };
        out.push(Event::Odometry(Stamped::new(
            odom.stamp_ns,
            Arc::from("world"),
            0,
            world_from_base * base_from_lidar,
        )));
    }
}

/// Infos equal but for the stamp.
fn same_calibration(a: &CameraInfo, b: &CameraInfo) -> bool {
    a.frame_id == b.frame_id
        && a.width == b.width
        && a.height == b.height
        && a.distortion_model == b.distortion_model
        && a.d == b.d
        && a.k == b.k
        && a.r == b.r
        && a.p == b.p
}

fn image_topic(i: usize) -> String {
    format!("input/camera{i}/image")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fusionrt_bag::RosMessage;
    use fusionrt_bag::msgs::state::{TfMessage, TransformStamped};
    use fusionrt_core::calib::RigidTransform;
    use fusionrt_core::pointcloud2::PointCloud2;
    use fusionrt_core::tf::StaticTransform;
    use std::time::Instant;

    fn raw(input: Input, cdr: Vec<u8>) -> RawInput {
        RawInput {
            input,
            cdr,
            received: Instant::now(),
        }
    }

    /// A PointCloud2 in `velodyne` stamped 1000 ns, as CDR.
    pub(crate) fn cloud_cdr(points: &[[f32; 3]]) -> Vec<u8> {
        let mut cloud = PointCloud::default();
        for p in points {
            cloud.push_xyzi(p[0], p[1], p[2], 0.5);
        }
        cloud.stamp_ns = 1_000;
        let mut msg: PointCloud2 = cloud.to_pointcloud2();
        msg.frame_id = "velodyne".into();
        msg.stamp_ns = 1_000;
        msg.to_cdr()
    }

    fn reasons(events: &[Event]) -> Vec<&'static str> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Skipped { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn bad_clouds_are_skipped_with_a_reason_and_good_ones_pass() {
        let mut a = Assembler::new(0);
        let mut out = Vec::new();
        let good = cloud_cdr(&[[1.0, 2.0, 3.0], [f32::NAN, 0.0, 0.0]]);
        // Short data: the payload cut in the middle of the points.
        a.assemble(
            raw(Input::PointCloud, good[..good.len() - 9].to_vec()),
            &mut out,
        );
        a.assemble(raw(Input::PointCloud, vec![0, 1, 0, 0, 5]), &mut out);
        a.assemble(raw(Input::PointCloud, good.clone()), &mut out);
        assert_eq!(
            reasons(&out),
            ["pointcloud_bad_input", "pointcloud_bad_input"]
        );
        let Some(Event::Lidar { cloud, .. }) = out.last() else {
            panic!("no sweep: {out:?}");
        };
        assert_eq!(cloud.data.len(), 1);
        assert_eq!(&*cloud.frame_id, "velodyne");
        assert_eq!(a.take_point_drops(), 1);
    }

    #[test]
    fn a_tf_loop_is_skipped_and_a_camera_waits_for_its_transform() {
        let mut a = Assembler::new(1);
        let mut out = Vec::new();
        let t = |parent: &str, child: &str| TransformStamped {
            stamp_ns: 0,
            transform: StaticTransform {
                parent_frame: parent.into(),
                child_frame: child.into(),
                parent_from_child: RigidTransform {
                    translation_m: [0.0, 0.0, 0.0],
                    rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                },
            },
        };
        a.assemble(
            raw(Input::PointCloud, cloud_cdr(&[[1.0, 0.0, 0.0]])),
            &mut out,
        );
        let info = CameraInfo {
            stamp_ns: 0,
            frame_id: "cam".into(),
            width: 100,
            height: 50,
            distortion_model: "plumb_bob".into(),
            d: vec![0.0; 5],
            k: [50.0, 0.0, 50.0, 0.0, 50.0, 25.0, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                50.0, 0.0, 50.0, 0.0, 0.0, 50.0, 25.0, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
        };
        a.assemble(raw(Input::CameraInfo(0), info.to_cdr()), &mut out);
        assert!(out.iter().all(|e| !matches!(e, Event::CameraCalib { .. })));
        assert!(a.camera_status().lock().unwrap()[0].problem.is_some());
        let tf = TfMessage {
            transforms: vec![t("velodyne", "cam"), t("cam", "velodyne")],
        };
        a.assemble(raw(Input::Tf, tf.to_cdr()), &mut out);
        assert_eq!(reasons(&out), ["tf_bad_input"]);
        assert!(
            out.iter()
                .any(|e| matches!(e, Event::CameraCalib { camera: 0, .. }))
        );
        // A CameraInfo of zeros: skipped, and the camera says why.
        let zeros = CameraInfo {
            frame_id: "cam".into(),
            k: [0.0; 9],
            r: [0.0; 9],
            p: [0.0; 12],
            d: Vec::new(),
            ..info
        };
        a.assemble(raw(Input::CameraInfo(0), zeros.to_cdr()), &mut out);
        assert_eq!(reasons(&out), ["tf_bad_input", "camera_info_bad_input"]);
    }

    #[test]
    fn without_the_camera_model_images_are_counted_not_decoded() {
        let mut a = Assembler::new(1).images_unused();
        let mut out = Vec::new();
        // Bytes that are not a PNG: decoding them would be an image_bad_input.
        let compressed = fusionrt_bag::msgs::sensor::CompressedImage {
            stamp_ns: 5,
            frame_id: "cam".into(),
            format: "png".into(),
            data: vec![1, 2, 3],
        };
        a.assemble(
            raw(Input::CompressedImage(0), compressed.to_cdr()),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        // A message that is not a CompressedImage is still a bad input.
        a.assemble(
            raw(Input::CompressedImage(0), vec![0, 1, 0, 0, 5]),
            &mut out,
        );
        assert_eq!(reasons(&out), ["image_bad_input"]);
        assert_eq!(a.camera_status().lock().unwrap()[0].images, 2);
    }
}
