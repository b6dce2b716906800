//! Fuzz target `pointcloud2`: a PointCloud2 payload, decoded and converted into a PointCloud
//! (`fusionrt_bag::fuzzing::pointcloud2`). Run: `cargo +nightly fuzz run pointcloud2` in sim/bag.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrt_bag::fuzzing::pointcloud2(data));
