//! KITTI sensor sequences on disk: the frames of a KITTI raw drive or of a KITTI tracking
//! sequence, with their scans, optional left colour images and calibration.
//!
//! - KITTI raw: `DIR/velodyne_points/data/NNNNNNNNNN.bin`, `DIR/image_02/data/NNNNNNNNNN.png`
//!   (optional), `DIR/calib.txt` (KITTI tracking calibration format).
//! - KITTI tracking: `ROOT/velodyne/SSSS/NNNNNN.bin`, `ROOT/image_02/SSSS/NNNNNN.png`
//!   (optional), `ROOT/calib/SSSS.txt`.
//!
//! Frames are numbered by their file names (a sequence may hold every 4th frame); both layouts
//! are 10 Hz, so frame `n` is stamped `n * 100 ms`.

use crate::KittiError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// KITTI's frame period, ns (10 Hz).
pub const FRAME_PERIOD_NS: i64 = 100_000_000;

/// Most frames one sequence may list (KITTI's longest drives have under 5,200).
pub const MAX_FRAMES: usize = 100_000;

/// One frame's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameFiles {
    /// Frame number (from the file name).
    pub number: u32,
    /// The velodyne scan.
    pub velodyne: PathBuf,
    /// The left colour image, when the sequence has one for this frame.
    pub image: Option<PathBuf>,
}

impl FrameFiles {
    /// The frame's stamp, ns (10 Hz from frame 0).
    pub fn stamp_ns(&self) -> i64 {
        i64::from(self.number) * FRAME_PERIOD_NS
    }
}

/// The frames of one sequence, in frame order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorSequence {
    /// A name for reports: the drive folder's name or the tracking sequence number.
    pub name: String,
    /// The calibration file.
    pub calib: PathBuf,
    /// The frames, in order.
    pub frames: Vec<FrameFiles>,
}

impl SensorSequence {
    /// A KITTI raw drive folder.
    pub fn kitti_raw(dir: &Path) -> Result<Self, KittiError> {
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::from_folders(
            name,
            &dir.join("velodyne_points/data"),
            &dir.join("image_02/data"),
            dir.join("calib.txt"),
        )
    }

    /// Sequence `seq` (`0000`) of a KITTI tracking folder.
    pub fn kitti_tracking(root: &Path, seq: &str) -> Result<Self, KittiError> {
        if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KittiError::Layout {
                path: root.to_path_buf(),
                message: format!("sequence `{seq}` is not a number like 0000"),
            });
        }
        Self::from_folders(
            seq.to_string(),
            &root.join("velodyne").join(seq),
            &root.join("image_02").join(seq),
            root.join("calib").join(format!("{seq}.txt")),
        )
    }

    fn from_folders(
        name: String,
        velodyne_dir: &Path,
        image_dir: &Path,
        calib: PathBuf,
    ) -> Result<Self, KittiError> {
        let scans = numbered_files(velodyne_dir, "bin")?;
        if scans.is_empty() {
            return Err(KittiError::Layout {
                path: velodyne_dir.to_path_buf(),
                message: "no NNNNNN.bin scans".into(),
            });
        }
        let mut images = if image_dir.is_dir() {
            numbered_files(image_dir, "png")?
        } else {
            BTreeMap::new()
        };
        if !calib.is_file() {
            return Err(KittiError::Layout {
                path: calib,
                message: "calibration file missing".into(),
            });
        }
        let frames = scans
            .into_iter()
            .map(|(number, velodyne)| FrameFiles {
                number,
                velodyne,
                image: images.remove(&number),
            })
            .collect();
        Ok(Self {
            name,
            calib,
            frames,
        })
    }

    /// True when at least one frame has an image.
    pub fn has_images(&self) -> bool {
        self.frames.iter().any(|f| f.image.is_some())
    }
}

/// The files `NNN.ext` of a folder by number; other files are ignored.
fn numbered_files(dir: &Path, ext: &str) -> Result<BTreeMap<u32, PathBuf>, KittiError> {
    let io = |source| KittiError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(ext) {
            continue;
        }
        let Some(number) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if out.len() == MAX_FRAMES {
            return Err(KittiError::Layout {
                path: dir.to_path_buf(),
                message: format!("more than {MAX_FRAMES} frames"),
            });
        }
        out.insert(number, path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_layout_pairs_scans_with_images_by_number() {
        let dir = std::env::temp_dir().join(format!("fusionrt-seq-{}", std::process::id()));
        let velo = dir.join("velodyne_points/data");
        let img = dir.join("image_02/data");
        std::fs::create_dir_all(&velo).unwrap();
        std::fs::create_dir_all(&img).unwrap();
        for n in ["0000000000", "0000000001", "0000000003"] {
            std::fs::write(velo.join(format!("{n}.bin")), b"").unwrap();
        }
        std::fs::write(img.join("0000000001.png"), b"").unwrap();
        std::fs::write(velo.join("notes.txt"), b"").unwrap();
        std::fs::write(dir.join("calib.txt"), b"").unwrap();
        let seq = SensorSequence::kitti_raw(&dir).unwrap();
        let numbers: Vec<u32> = seq.frames.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [0, 1, 3]);
        assert!(seq.frames[1].image.is_some() && seq.frames[0].image.is_none());
        assert_eq!(seq.frames[2].stamp_ns(), 300_000_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_folders_and_bad_sequence_names_are_named() {
        let err = SensorSequence::kitti_raw(Path::new("/no/such/drive")).unwrap_err();
        assert!(
            err.to_string()
                .contains("/no/such/drive/velodyne_points/data"),
            "{err}"
        );
        let err = SensorSequence::kitti_tracking(Path::new("/tmp"), "../x").unwrap_err();
        assert!(err.to_string().contains("../x"), "{err}");
    }
}
