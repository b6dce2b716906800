//! Fuzz target `cdr`: the bytes as the CDR payload of every input type
//! (`fusionrt_bag::fuzzing::cdr_messages`). Run: `cargo +nightly fuzz run cdr` in sim/bag.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fusionrt_bag::fuzzing::cdr_messages(data));
