//! KITTI velodyne scans: `.bin` files of little-endian float32 `x, y, z, reflectance` per point,
//! in the velodyne frame (x forward, y left, z up: already REP-103).
//!
//! A file whose size is not a multiple of 16 bytes is an error naming the file and its size; a
//! file with more than [`MAX_SCAN_POINTS`] points is refused without reading it whole (a real
//! HDL-64E sweep has about 120 000; `/dev/zero` would otherwise be read until memory runs out).
//! Points with a non-finite coordinate are counted and skipped; a non-finite reflectance becomes 0.

use crate::KittiError;
use fusionrt_core::PointCloud;
use fusionrt_core::cloud::Channels;
use std::io::Read;
use std::path::Path;

/// Bytes per point: four float32.
pub const POINT_BYTES: usize = 16;

/// Most points accepted in one scan (64 MiB of file); a 128-beam lidar gives about 300 000.
pub const MAX_SCAN_POINTS: usize = 1 << 22;

/// The frame id given to KITTI scans.
pub const VELODYNE_FRAME: &str = "velo_link";

/// What reading a scan found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VelodyneStats {
    /// Points kept.
    pub points: usize,
    /// Points skipped because a coordinate was NaN or infinite.
    pub skipped_non_finite: usize,
}

/// Reads a scan into a new cloud (with an intensity channel).
pub fn read_velodyne(path: &Path) -> Result<PointCloud, KittiError> {
    let mut cloud = PointCloud::default();
    let mut bytes = Vec::new();
    read_velodyne_into(path, &mut cloud, &mut bytes)?;
    Ok(cloud)
}

/// Bytes read from a scan file at a time: the file is decoded as it is read, never held whole.
const READ_CHUNK_BYTES: usize = 1 << 18;

/// Reads a scan into `cloud`, reusing its capacity and the byte buffer `bytes` (a steady
/// stream of scans allocates nothing once the buffers are large enough). The file is read and
/// decoded [`READ_CHUNK_BYTES`] at a time. On an error `cloud` is left empty.
pub fn read_velodyne_into(
    path: &Path,
    cloud: &mut PointCloud,
    bytes: &mut Vec<u8>,
) -> Result<VelodyneStats, KittiError> {
    let result = read_chunks(path, cloud, bytes);
    if result.is_err() {
        cloud.clear();
    }
    result
}

fn read_chunks(
    path: &Path,
    cloud: &mut PointCloud,
    bytes: &mut Vec<u8>,
) -> Result<VelodyneStats, KittiError> {
    let io = |source| KittiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let limit = MAX_SCAN_POINTS * POINT_BYTES;
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size_hint = file.metadata().map_or(0, |m| m.len()).min(limit as u64) as usize;
    start_scan(cloud, size_hint / POINT_BYTES);
    bytes.clear();
    bytes.resize(READ_CHUNK_BYTES, 0);
    let (mut total, mut pending) = (0usize, 0usize);
    let mut stats = VelodyneStats::default();
    loop {
        let got = match file.read(&mut bytes[pending..]) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        total += got;
        if total > limit {
            return Err(KittiError::ScanTooLarge {
                path: path.to_path_buf(),
                max_points: MAX_SCAN_POINTS,
            });
        }
        let filled = pending + got;
        let whole = filled - filled % POINT_BYTES;
        push_points(&bytes[..whole], cloud, &mut stats);
        bytes.copy_within(whole..filled, 0);
        pending = filled - whole;
    }
    if pending != 0 {
        return Err(KittiError::ScanSize {
            path: path.to_path_buf(),
            size: total,
        });
    }
    stats.points = cloud.len();
    Ok(stats)
}

/// Decodes the bytes of a scan into `cloud` (cleared first); `path` names the source in errors.
pub fn parse_velodyne(
    path: &Path,
    bytes: &[u8],
    cloud: &mut PointCloud,
) -> Result<VelodyneStats, KittiError> {
    if bytes.len() > MAX_SCAN_POINTS * POINT_BYTES {
        return Err(KittiError::ScanTooLarge {
            path: path.to_path_buf(),
            max_points: MAX_SCAN_POINTS,
        });
    }
    if !bytes.len().is_multiple_of(POINT_BYTES) {
        return Err(KittiError::ScanSize {
            path: path.to_path_buf(),
            size: bytes.len(),
        });
    }
    start_scan(cloud, bytes.len() / POINT_BYTES);
    let mut stats = VelodyneStats::default();
    push_points(bytes, cloud, &mut stats);
    stats.points = cloud.len();
    Ok(stats)
}

/// Empties `cloud` for a scan of about `points` points, with an intensity channel.
fn start_scan(cloud: &mut PointCloud, points: usize) {
    cloud.clear();
    if cloud.frame_id != VELODYNE_FRAME {
        cloud.frame_id.clear();
        cloud.frame_id.push_str(VELODYNE_FRAME);
    }
    let want = Channels {
        intensity: true,
        ..Channels::default()
    };
    if cloud.x.capacity() < points {
        *cloud = PointCloud {
            frame_id: VELODYNE_FRAME.to_string(),
            ..PointCloud::with_capacity(points, want)
        };
    }
}

/// Appends the whole points of `bytes` (a multiple of [`POINT_BYTES`]) to `cloud`.
fn push_points(bytes: &[u8], cloud: &mut PointCloud, stats: &mut VelodyneStats) {
    for p in bytes.chunks_exact(POINT_BYTES) {
        let f = |i: usize| f32::from_le_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
        let (x, y, z, r) = (f(0), f(1), f(2), f(3));
        if !(x.is_finite() && y.is_finite() && z.is_finite()) {
            stats.skipped_non_finite += 1;
            continue;
        }
        cloud.push_xyzi(x, y, z, if r.is_finite() { r } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn encode(points: &[[f32; 4]]) -> Vec<u8> {
        points
            .iter()
            .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes()))
            .collect()
    }

    #[test]
    fn decodes_points_and_skips_non_finite() {
        let bytes = encode(&[
            [1.0, 2.0, 3.0, 0.5],
            [f32::NAN, 0.0, 0.0, 0.1],
            [4.0, f32::INFINITY, 0.0, 0.1],
            [-1.0, -2.0, -3.0, f32::NAN],
        ]);
        let mut cloud = PointCloud::default();
        let stats = parse_velodyne(Path::new("x.bin"), &bytes, &mut cloud).unwrap();
        assert_eq!(
            stats,
            VelodyneStats {
                points: 2,
                skipped_non_finite: 2
            }
        );
        assert_eq!(cloud.x, vec![1.0, -1.0]);
        assert_eq!(cloud.z, vec![3.0, -3.0]);
        assert_eq!(cloud.intensity, vec![0.5, 0.0]);
        assert_eq!(cloud.frame_id, VELODYNE_FRAME);
        assert!(cloud.check_consistent().is_ok());
    }

    #[test]
    fn bad_size_names_file_and_size() {
        let mut bytes = encode(&[[1.0, 2.0, 3.0, 0.5]]);
        bytes.push(0);
        let err =
            parse_velodyne(Path::new("scan.bin"), &bytes, &mut PointCloud::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("scan.bin") && msg.contains("17 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn empty_scan_is_an_empty_cloud() {
        let mut cloud = PointCloud::default();
        let stats = parse_velodyne(Path::new("e.bin"), &[], &mut cloud).unwrap();
        assert_eq!(stats.points, 0);
        assert!(cloud.is_empty());
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = read_velodyne(Path::new("/nonexistent/000000.bin")).unwrap_err();
        assert!(matches!(err, KittiError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/000000.bin"));
    }

    #[test]
    fn reads_real_scans() {
        let Some(root) = std::env::var_os("FUSIONRT_DATA") else {
            eprintln!("skipped: FUSIONRT_DATA is not set");
            return;
        };
        let dir = PathBuf::from(root).join("kitti_object/velodyne");
        let mut cloud = PointCloud::default();
        let mut bytes = Vec::new();
        for name in ["000000.bin", "000001.bin"] {
            let path = dir.join(name);
            let stats = read_velodyne_into(&path, &mut cloud, &mut bytes).unwrap();
            let size = std::fs::metadata(&path).unwrap().len() as usize;
            assert_eq!(stats.points + stats.skipped_non_finite, size / POINT_BYTES);
            assert!((100_000..140_000).contains(&stats.points), "{stats:?}");
            // An HDL-64E on a car roof: ground about 1.73 m below the sensor.
            let mut z = cloud.z.clone();
            z.sort_by(f32::total_cmp);
            let p5 = z[z.len() / 20];
            assert!((-2.6..-1.3).contains(&p5), "5th percentile z {p5}");
        }
    }

    #[test]
    fn an_endless_file_is_refused_at_the_limit() {
        let err = read_velodyne(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/dev/zero") && err.contains("4194304 points"),
            "{err}"
        );
    }

    #[test]
    fn a_file_read_in_chunks_equals_its_bytes_parsed_whole() {
        // More points than one read chunk holds, with a NaN point on each side of a boundary.
        let n = READ_CHUNK_BYTES / POINT_BYTES * 2 + 7;
        let points: Vec<[f32; 4]> = (0..n)
            .map(|i| {
                let v = i as f32;
                let x = if i % 16_383 == 0 { f32::NAN } else { v };
                [x, -v, 0.5 * v, (i % 100) as f32 / 100.0]
            })
            .collect();
        let bytes = encode(&points);
        let dir = std::env::temp_dir().join(format!("fusionrt-velodyne-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scan.bin");
        std::fs::write(&path, &bytes).unwrap();
        let (mut whole, mut chunked, mut buf) =
            (PointCloud::default(), PointCloud::default(), Vec::new());
        let expected = parse_velodyne(&path, &bytes, &mut whole).unwrap();
        assert_eq!(
            read_velodyne_into(&path, &mut chunked, &mut buf).unwrap(),
            expected
        );
        assert_eq!(
            (&chunked.x, &chunked.intensity),
            (&whole.x, &whole.intensity)
        );
        // A truncated last point: the file's size is named and the cloud left empty.
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = read_velodyne_into(&path, &mut chunked, &mut buf).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{} bytes", bytes.len() - 3)),
            "{err}"
        );
        assert!(chunked.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
