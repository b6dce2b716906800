//! Fuzz target `bag`: the bytes as a lone .mcap file (whole and topic-filtered) and as a metadata.yaml
//! (`fusionrt_bag::fuzzing::bag_files`). Run: `cargo +nightly fuzz run bag` in sim/bag.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrt_bag::fuzzing::bag_files(data));
