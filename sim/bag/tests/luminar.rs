//! Reads the real Luminar recording (`$FUSIONRT_DATA/rosbag2`, converted by `rosbags-convert`)
//! in both storages: 5 PointCloud2 messages of ~36k points, same stamps and points in both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusionrt_bag::{BagReader, Decoded};
use fusionrt_core::PointCloud;
use std::path::PathBuf;

fn data_root() -> Option<PathBuf> {
    let root = std::env::var_os("FUSIONRT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    root.join("rosbag2").is_dir().then_some(root)
}

fn read_clouds(bag: &std::path::Path) -> Vec<(i64, PointCloud)> {
    let mut reader = BagReader::open(bag).unwrap();
    let mut out = Vec::new();
    while let Some((raw, decoded)) = reader.next_decoded().unwrap() {
        assert_eq!(raw.topic.name, "/luminar_pointcloud");
        let Decoded::PointCloud2(msg) = decoded else {
            panic!("unexpected message type {}", raw.topic.type_name)
        };
        let mut cloud = PointCloud::default();
        cloud.fill_from_pointcloud2(&msg).unwrap();
        out.push((raw.stamp_ns, cloud));
    }
    assert!(
        reader.stats().file_errors.is_empty(),
        "{:?}",
        reader.stats()
    );
    out
}

#[test]
fn luminar_bag_reads_the_same_in_both_storages() {
    let Some(root) = data_root() else {
        eprintln!("skipped: no rosbag2 folder under FUSIONRT_DATA (or ../shared/data)");
        return;
    };
    let mcap = read_clouds(&root.join("rosbag2/embag_luminar_mcap"));
    let db3 = read_clouds(&root.join("rosbag2/embag_luminar_db3"));
    assert_eq!(mcap.len(), 5);
    assert_eq!(mcap[0].0, 1_604_515_190_231_374_463);
    for ((s1, c1), (s2, c2)) in mcap.iter().zip(&db3) {
        assert_eq!(s1, s2);
        assert!(c1.len() > 30_000, "{} points", c1.len());
        assert_eq!(c1.x, c2.x);
        assert_eq!(c1.intensity, c2.intensity);
        // A forward-facing lidar out to 250 m.
        let max_x = c1.x.iter().cloned().fold(f32::MIN, f32::max);
        assert!(max_x > 50.0 && max_x < 300.0, "max x {max_x}");
    }
}
