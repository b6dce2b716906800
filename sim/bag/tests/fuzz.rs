//! The fuzz targets of `sim/bag/fuzz/` as bounded, seeded proptest runs on stable (part of
//! `cargo test`): the same entry points ([`fusionrt_bag::fuzzing`]) on arbitrary bytes and on
//! valid messages and bags with bytes flipped, fields overwritten and tails cut. 2000 cases per
//! property (500 for the sqlite3 file, each case opens a database); a fixed seed, so a run is
//! reproducible, and no regression files written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fusionrt_bag::fuzzing;
use fusionrt_bag::msgs::state::{Odometry, TfMessage, TransformStamped};
use fusionrt_bag::{BagWriter, RosMessage, Storage};
use fusionrt_core::PointCloud;
use fusionrt_core::calib::RigidTransform;
use fusionrt_core::image::{CameraInfo, Encoding, Image};
use fusionrt_core::tf::StaticTransform;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::sync::OnceLock;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0f05_1075_2026_0017),
        failure_persistence: None,
        ..Config::default()
    }
}

fn cloud() -> PointCloud {
    let mut c = PointCloud {
        stamp_ns: 1_317_000_000_123_456_789,
        frame_id: "velodyne".into(),
        ..PointCloud::default()
    };
    for i in 0..12 {
        c.push_xyzi(i as f32, -(i as f32) * 0.5, 0.25 * i as f32, 0.1 * i as f32);
        c.ring.push(i as u16 % 4);
        c.time_offset_ns.push(i * 1000);
    }
    c
}

fn tf() -> TfMessage {
    TfMessage {
        transforms: vec![TransformStamped {
            stamp_ns: 5,
            transform: StaticTransform {
                parent_frame: "base_link".into(),
                child_frame: "velodyne".into(),
                parent_from_child: RigidTransform {
                    translation_m: [0.8, 0.0, 1.7],
                    rotation_xyzw: [0.0, 0.0, 0.0, 1.0],
                },
            },
        }],
    }
}

/// Valid CDR payloads, one per input type fusionrt decodes.
fn valid_messages() -> &'static [Vec<u8>] {
    static MESSAGES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let image = Image {
            stamp_ns: 7,
            frame_id: "camera0".into(),
            width: 4,
            height: 3,
            encoding: Encoding::Rgb8,
            step: 12,
            data: (0..36).collect(),
        };
        let info = CameraInfo {
            stamp_ns: 7,
            frame_id: "camera0".into(),
            width: 1242,
            height: 375,
            distortion_model: "plumb_bob".into(),
            d: vec![0.1, -0.2, 0.0, 0.0, 0.0],
            k: [721.5, 0.0, 609.6, 0.0, 721.5, 172.9, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                721.5, 0.0, 609.6, 44.9, 0.0, 721.5, 172.9, 0.2, 0.0, 0.0, 1.0, 0.0,
            ],
        };
        let odom = Odometry {
            stamp_ns: 9,
            frame_id: "odom".into(),
            child_frame: "base_link".into(),
            frame_from_child: RigidTransform {
                translation_m: [1.0, 2.0, 0.0],
                rotation_xyzw: [0.0, 0.0, 0.38268343, 0.9238795],
            },
            pose_covariance: [0.0; 36],
            linear_mps: [3.0, 0.0, 0.0],
            angular_radps: [0.0, 0.0, 0.1],
            twist_covariance: [0.0; 36],
        };
        vec![
            cloud().to_pointcloud2().to_cdr(),
            image.to_cdr(),
            info.to_cdr(),
            tf().to_cdr(),
            odom.to_cdr(),
        ]
    })
}

/// A small valid bag file of `storage`: /tf_static, clouds and images.
fn valid_bag(storage: Storage) -> Vec<u8> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "fusionrt-fuzz-bag-{}-{}-{n}",
        std::process::id(),
        storage.identifier()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut w = BagWriter::create(&dir, storage).unwrap();
    let t = w.add_topic("/tf_static", "tf2_msgs/msg/TFMessage").unwrap();
    let p = w
        .add_topic("/points", "sensor_msgs/msg/PointCloud2")
        .unwrap();
    w.write_msg(t, 0, &tf()).unwrap();
    for i in 0..3 {
        let mut c = cloud();
        c.stamp_ns = i * 100;
        w.write_msg(p, i * 100, &c.to_pointcloud2()).unwrap();
    }
    let folder = w.finish().unwrap();
    let name = folder.file_name().unwrap().to_str().unwrap();
    let ext = if storage == Storage::Mcap {
        "mcap"
    } else {
        "db3"
    };
    let bytes = std::fs::read(folder.join(format!("{name}_0.{ext}"))).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

/// Applies mutations to a copy of `valid`: bytes XOR-ed, little-endian u32 fields overwritten
/// (lengths and counts are u32 in CDR and MCAP), the tail cut.
fn mutate(
    valid: &[u8],
    flips: &[(usize, u8)],
    words: &[(usize, u32)],
    cut: Option<usize>,
) -> Vec<u8> {
    let mut data = valid.to_vec();
    if data.is_empty() {
        return data;
    }
    for &(at, x) in flips {
        let i = at % data.len();
        data[i] ^= x.max(1);
    }
    for &(at, v) in words {
        let i = at % data.len();
        let end = (i + 4).min(data.len());
        data[i..end].copy_from_slice(&v.to_le_bytes()[..end - i]);
    }
    if let Some(cut) = cut {
        data.truncate(cut % (data.len() + 1));
    }
    data
}

/// Byte flips `(at, xor)`, u32 overwrites `(at, value)`, and a cut, as [`mutate`] takes them.
type Mutations = (Vec<(usize, u8)>, Vec<(usize, u32)>, Option<usize>);

fn mutations() -> impl Strategy<Value = Mutations> {
    let word = prop_oneof![
        Just(0u32),
        Just(u32::MAX),
        Just(0x8000_0000),
        0u32..64,
        any::<u32>()
    ];
    (
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        prop::collection::vec((any::<usize>(), word), 0..3),
        prop::option::of(any::<usize>()),
    )
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn cdr_decoders_take_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::cdr_messages(&data);
        fuzzing::pointcloud2(&data);
    }

    #[test]
    fn cdr_decoders_take_mutated_messages(
        which in 0usize..5,
        (flips, words, cut) in mutations(),
    ) {
        let data = mutate(&valid_messages()[which], &flips, &words, cut);
        fuzzing::cdr_messages(&data);
        fuzzing::pointcloud2(&data);
    }

    #[test]
    fn bag_readers_take_arbitrary_bytes(
        header in prop::sample::select(vec![&b""[..], b"\x89MCAP0\r\n", b"SQLite format 3\0"]),
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut data = header.to_vec();
        data.extend_from_slice(&rest);
        fuzzing::bag_files(&data);
    }

    #[test]
    fn mcap_readers_take_mutated_bags((flips, words, cut) in mutations()) {
        static BAG: OnceLock<Vec<u8>> = OnceLock::new();
        let valid = BAG.get_or_init(|| valid_bag(Storage::Mcap));
        fuzzing::bag_files(&mutate(valid, &flips, &words, cut));
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn sqlite_reader_takes_mutated_bags((flips, words, cut) in mutations()) {
        static BAG: OnceLock<Vec<u8>> = OnceLock::new();
        let valid = BAG.get_or_init(|| valid_bag(Storage::Sqlite3));
        fuzzing::sqlite_file(&mutate(valid, &flips, &words, cut));
    }
}

#[test]
fn the_valid_inputs_decode() {
    // The mutated runs start from inputs that are valid: check it, or they test little.
    for (data, type_name) in valid_messages().iter().zip([
        "sensor_msgs/msg/PointCloud2",
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/CameraInfo",
        "tf2_msgs/msg/TFMessage",
        "nav_msgs/msg/Odometry",
    ]) {
        assert!(
            matches!(fusionrt_bag::decode(type_name, data), Ok(Some(_))),
            "{type_name}"
        );
    }
    for storage in [Storage::Mcap, Storage::Sqlite3] {
        let bytes = valid_bag(storage);
        let dir = std::env::temp_dir().join(format!("fusionrt-fuzz-valid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!(
            "b.{}",
            if storage == Storage::Mcap {
                "mcap"
            } else {
                "db3"
            }
        ));
        std::fs::write(&path, bytes).unwrap();
        let mut r = fusionrt_bag::BagReader::open(&path).unwrap();
        let mut n = 0;
        while r.next_decoded().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
