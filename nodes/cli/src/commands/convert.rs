//! `fusionrt convert kitti`: a KITTI raw drive or tracking sequence as a rosbag2 bag (MCAP or
//! sqlite3), so users can replay the datasets they have like a recording.
//!
//! Topics: `/sensing/lidar/pointcloud` (PointCloud2, frame `velodyne`, x y z intensity),
//! `/sensing/camera/camera0/image_raw` (Image rgb8) or `.../image_raw/compressed`
//! (CompressedImage: the PNG files' bytes as they are, format `png`),
//! `/sensing/camera/camera0/camera_info` (the rectified left colour camera P2: K, R = I,
//! P = [K | 0]) and `/tf_static` (`base_link -> velodyne`: the HDL-64E 1.73 m above the ground,
//! axes as base_link; `velodyne -> camera0`: KITTI's `R0_rect * Tr_velo_to_cam` with P2's
//! baseline, so `camera0` is the rectified optical frame of camera 2). Stamps: 10 Hz from frame
//! numbers, plus `--start-ns`.

use crate::exit::bad_input;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use fusionrt_bag::msgs::sensor::CompressedImage;
use fusionrt_bag::msgs::state::{TfMessage, TransformStamped};
use fusionrt_bag::{BagWriter, Storage};
use fusionrt_core::calib::RigidTransform;
use fusionrt_core::image::CameraInfo;
use fusionrt_core::tf::StaticTransform;
use fusionrt_kitti::sequence::SensorSequence;
use fusionrt_kitti::{KittiCalib, read_velodyne_into};
use nalgebra::Isometry3;
use std::path::PathBuf;

/// Height of KITTI's velodyne above the ground, m (the KITTI setup drawing).
const VELODYNE_HEIGHT_M: f64 = 1.73;

/// Arguments of `fusionrt convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(subcommand)]
    command: ConvertCommand,
}

/// The conversions.
#[derive(Debug, Subcommand)]
enum ConvertCommand {
    /// KITTI (raw drive or tracking sequence) to rosbag2.
    ///
    /// Example: `fusionrt convert kitti --kitti-raw
    /// ../shared/data/kitti_raw/2011_09_26_drive_0052_sync --out out/drive0052`
    Kitti(ConvertKittiArgs),
}

/// Storage of the bag written.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StorageArg {
    /// One .mcap file (zstd chunks).
    Mcap,
    /// One .db3 file.
    Sqlite3,
}

/// Arguments of `fusionrt convert kitti`.
#[derive(Debug, Args)]
struct ConvertKittiArgs {
    /// A KITTI raw drive folder (velodyne_points/data, image_02/data, calib.txt).
    #[arg(
        long,
        required_unless_present = "kitti_tracking",
        conflicts_with = "kitti_tracking"
    )]
    kitti_raw: Option<PathBuf>,
    /// A KITTI tracking root (velodyne/NNNN, image_02/NNNN, calib/NNNN.txt); needs --seq.
    #[arg(long, requires = "seq")]
    kitti_tracking: Option<PathBuf>,
    /// The tracking sequence, e.g. 0000.
    #[arg(long, requires = "kitti_tracking")]
    seq: Option<String>,
    /// The bag folder to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Storage plugin.
    #[arg(long, value_enum, default_value = "mcap")]
    storage: StorageArg,
    /// Write CompressedImage (the PNG bytes) instead of raw rgb8 Image.
    #[arg(long)]
    compressed_images: bool,
    /// Stamp of frame 0, ns since the epoch (frames follow at 10 Hz).
    #[arg(long, default_value_t = 0)]
    start_ns: i64,
    /// Only the frames numbered A to B-1 (`A..B`, file numbers as in the dataset, so stamps
    /// and KITTI frame numbers stay those of the whole sequence), e.g. `--frames 40..80`.
    #[arg(long, value_parser = parse_frames)]
    frames: Option<(u32, u32)>,
}

/// `A..B` with A < B, as frame numbers.
fn parse_frames(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected A..B with frame numbers A < B, got {text:?}");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let a: u32 = a.trim().parse().map_err(|_| bad())?;
    let b: u32 = b.trim().parse().map_err(|_| bad())?;
    if a < b { Ok((a, b)) } else { Err(bad()) }
}

impl ConvertArgs {
    /// Runs the chosen conversion.
    pub fn execute(self) -> anyhow::Result<()> {
        match self.command {
            ConvertCommand::Kitti(args) => args.execute(),
        }
    }
}

fn rigid(iso: &Isometry3<f64>) -> RigidTransform {
    let t = iso.translation.vector;
    let q = iso.rotation.quaternion();
    RigidTransform {
        translation_m: [t.x, t.y, t.z],
        rotation_xyzw: [q.i, q.j, q.k, q.w],
    }
}

fn tf(
    stamp_ns: i64,
    parent: &str,
    child: &str,
    parent_from_child: RigidTransform,
) -> TransformStamped {
    TransformStamped {
        stamp_ns,
        transform: StaticTransform {
            parent_frame: parent.into(),
            child_frame: child.into(),
            parent_from_child,
        },
    }
}

const CLOUD_TOPIC: &str = "/sensing/lidar/pointcloud";
const IMAGE_TOPIC: &str = "/sensing/camera/camera0/image_raw";
const INFO_TOPIC: &str = "/sensing/camera/camera0/camera_info";
const CAMERA_FRAME: &str = "camera0";

impl ConvertKittiArgs {
    fn execute(self) -> anyhow::Result<()> {
        let seq = match (&self.kitti_raw, &self.kitti_tracking, &self.seq) {
            (Some(dir), _, _) => SensorSequence::kitti_raw(dir),
            (None, Some(root), Some(seq)) => SensorSequence::kitti_tracking(root, seq),
            _ => {
                return Err(bad_input(anyhow::anyhow!(
                    "give --kitti-raw DIR or --kitti-tracking ROOT --seq NNNN"
                )));
            }
        }
        .map_err(bad_input)?;
        let mut seq = seq;
        if let Some((first, end)) = self.frames {
            seq.frames.retain(|f| (first..end).contains(&f.number));
        }
        if seq.frames.is_empty() {
            return Err(bad_input(anyhow::anyhow!(
                "{}: no velodyne frames{}",
                seq.name,
                self.frames
                    .map(|(a, b)| format!(" numbered in {a}..{b}"))
                    .unwrap_or_default()
            )));
        }
        let calib = KittiCalib::read(&seq.calib).map_err(bad_input)?;
        let storage = match self.storage {
            StorageArg::Mcap => Storage::Mcap,
            StorageArg::Sqlite3 => Storage::Sqlite3,
        };
        let mut bag = BagWriter::create(&self.out, storage).map_err(bad_input)?;
        let t_cloud = bag.add_topic(CLOUD_TOPIC, "sensor_msgs/msg/PointCloud2")?;
        let t_tf = bag.add_topic("/tf_static", "tf2_msgs/msg/TFMessage")?;
        let has_images = seq.frames.iter().any(|f| f.image.is_some());
        let image_topic = if self.compressed_images {
            bag.add_topic(
                &format!("{IMAGE_TOPIC}/compressed"),
                "sensor_msgs/msg/CompressedImage",
            )?
        } else {
            bag.add_topic(IMAGE_TOPIC, "sensor_msgs/msg/Image")?
        };
        let t_info = bag.add_topic(INFO_TOPIC, "sensor_msgs/msg/CameraInfo")?;
        let stamp = |number_stamp_ns: i64| self.start_ns + number_stamp_ns;
        let first_ns = stamp(seq.frames[0].stamp_ns());
        let mut camera_info: Option<CameraInfo> = None;
        let mut tf_written = false;
        let (mut cloud, mut bytes) = (fusionrt_core::PointCloud::default(), Vec::new());
        let mut images = 0usize;
        for frame in &seq.frames {
            let stamp_ns = stamp(frame.stamp_ns());
            read_velodyne_into(&frame.velodyne, &mut cloud, &mut bytes).map_err(bad_input)?;
            cloud.stamp_ns = stamp_ns;
            cloud.frame_id = "velodyne".into();
            let (size, image_msg) = match &frame.image {
                None => (None, None),
                Some(path) if self.compressed_images => {
                    let data = std::fs::read(path)
                        .with_context(|| format!("reading {}", path.display()))
                        .map_err(bad_input)?;
                    let size = image::image_dimensions(path)
                        .with_context(|| format!("reading {}", path.display()))
                        .map_err(bad_input)?;
                    let msg = CompressedImage {
                        stamp_ns,
                        frame_id: CAMERA_FRAME.into(),
                        format: "png".into(),
                        data,
                    };
                    (Some(size), Some(msg.into()))
                }
                Some(path) => {
                    let mut img = fusionrt_camera::load_image_file(path).map_err(bad_input)?;
                    img.stamp_ns = stamp_ns;
                    img.frame_id = CAMERA_FRAME.into();
                    (Some((img.width, img.height)), Some(img.into()))
                }
            };
            if !tf_written {
                // The camera transform needs the image size only for the intrinsics' bounds.
                let (w, h) = size.unwrap_or((1242, 375));
                let cam = calib.camera_calib_sized("P2", w, h).map_err(bad_input)?;
                let velodyne_from_camera = cam.camera_from_lidar.inverse();
                let msg = TfMessage {
                    transforms: vec![
                        tf(
                            first_ns,
                            "base_link",
                            "velodyne",
                            RigidTransform {
                                translation_m: [0.0, 0.0, VELODYNE_HEIGHT_M],
                                rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                            },
                        ),
                        tf(
                            first_ns,
                            "velodyne",
                            CAMERA_FRAME,
                            rigid(&velodyne_from_camera),
                        ),
                    ],
                };
                bag.write_msg(t_tf, first_ns, &msg)?;
                tf_written = true;
            }
            bag.write_msg(t_cloud, stamp_ns, &cloud.to_pointcloud2())?;
            if let (Some((w, h)), Some(msg)) = (size, image_msg) {
                let info = match &mut camera_info {
                    Some(info) if info.width == w && info.height == h => info,
                    slot => {
                        let cam = calib.camera_calib_sized("P2", w, h).map_err(bad_input)?;
                        let k = cam.model.k;
                        *slot = Some(CameraInfo {
                            stamp_ns,
                            frame_id: CAMERA_FRAME.into(),
                            width: w,
                            height: h,
                            distortion_model: "plumb_bob".into(),
                            d: vec![0.0; 5],
                            k: [
                                k[(0, 0)],
                                k[(0, 1)],
                                k[(0, 2)],
                                k[(1, 0)],
                                k[(1, 1)],
                                k[(1, 2)],
                                k[(2, 0)],
                                k[(2, 1)],
                                k[(2, 2)],
                            ],
                            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                            p: [
                                k[(0, 0)],
                                k[(0, 1)],
                                k[(0, 2)],
                                0.0,
                                k[(1, 0)],
                                k[(1, 1)],
                                k[(1, 2)],
                                0.0,
                                0.0,
                                0.0,
                                1.0,
                                0.0,
                            ],
                        });
                        slot.as_mut()
                            .ok_or_else(|| anyhow::anyhow!("camera info"))?
                    }
                };
                info.stamp_ns = stamp_ns;
                match msg {
                    ImageMsg::Raw(img) => bag.write_msg(image_topic, stamp_ns, &img)?,
                    ImageMsg::Compressed(c) => bag.write_msg(image_topic, stamp_ns, &c)?,
                }
                bag.write_msg(t_info, stamp_ns, &*info)?;
                images += 1;
            }
        }
        let dir = bag.finish()?;
        eprintln!(
            "wrote {}: {} scans, {} {}images, /tf_static, {} storage",
            dir.display(),
            seq.frames.len(),
            images,
            if self.compressed_images {
                "compressed "
            } else {
                ""
            },
            storage.identifier()
        );
        if !has_images {
            eprintln!("note: the sequence has no image_02 images; the bag holds lidar and TF only");
        }
        Ok(())
    }
}

/// A frame's image, raw or compressed.
enum ImageMsg {
    Raw(fusionrt_core::image::Image),
    Compressed(CompressedImage),
}

impl From<fusionrt_core::image::Image> for ImageMsg {
    fn from(img: fusionrt_core::image::Image) -> Self {
        Self::Raw(img)
    }
}

impl From<CompressedImage> for ImageMsg {
    fn from(c: CompressedImage) -> Self {
        Self::Compressed(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ranges_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_frames("40..80"), Ok((40, 80)));
        for bad in ["80..40", "5..5", "a..b", "3", "-1..4", "1...4"] {
            assert!(parse_frames(bad).is_err(), "{bad}");
        }
    }
}
