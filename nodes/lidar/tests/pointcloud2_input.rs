//! The stage runs on clouds mapped from `PointCloud2` messages of any layout (x/y/z plus
//! intensity, ring and per-point time), and a message whose layout does not match its data is a
//! clear error before the stage sees it.

use fusionrt_core::PointCloud;
use fusionrt_core::pointcloud2::PointCloud2Error;
use fusionrt_lidar::synthetic::{SceneSpec, generate};
use fusionrt_lidar::{LidarConfig, LidarDetector};

#[test]
fn pointcloud2_round_trip_gives_the_same_obstacles() {
    let mut cloud = generate(&SceneSpec {
        points: 60_000,
        ..SceneSpec::default()
    })
    .cloud;
    cloud.ring = (0..cloud.len()).map(|i| (i % 64) as u16).collect();
    cloud.time_offset_ns = (0..cloud.len()).map(|i| (i / 64) as i32 * 1000).collect();
    let msg = cloud.to_pointcloud2();
    assert!(msg.fields.iter().any(|f| f.name == "ring"));
    let mut mapped = PointCloud::default();
    let conv = mapped.fill_from_pointcloud2(&msg).unwrap();
    assert_eq!(conv.kept, cloud.len());

    let mut det = LidarDetector::new(&LidarConfig::default());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let sa = det.process(&cloud, &mut a);
    let sb = det.process(&mapped, &mut b);
    assert_eq!(sa, sb);
    assert_eq!(a, b);
    assert!(!a.is_empty());

    let mut bad = msg.clone();
    bad.data.truncate(bad.data.len() - 3);
    assert!(matches!(
        mapped.fill_from_pointcloud2(&bad),
        Err(PointCloud2Error::DataLength { .. })
    ));
    let mut bad = msg;
    bad.point_step = 4;
    let err = mapped.fill_from_pointcloud2(&bad).unwrap_err().to_string();
    assert!(err.contains("point_step"), "{err}");
    // A cloud left empty by a failed conversion is simply no obstacles.
    let stats = det.process(&mapped, &mut b);
    assert_eq!((stats.input_points, stats.obstacles), (0, 0));
}
