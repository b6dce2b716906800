//! Fuzz target `sqlite`: the bytes as a lone .db3 file
//! (`fusionrt_bag::fuzzing::sqlite_file`). Run: `cargo +nightly fuzz run sqlite` in sim/bag.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrt_bag::fuzzing::sqlite_file(data));
