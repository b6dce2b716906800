//! Read speed of a bag: all messages raw, then decoded (clouds converted to `PointCloud`).
//!
//! `cargo run --release -p fusionrt-bag --example bag_read_speed -- BAG [REPEATS]`

use fusionrt_bag::{BagError, BagReader, Decoded};
use fusionrt_core::PointCloud;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), BagError> {
    let args: Vec<String> = std::env::args().collect();
    let Some(bag) = args.get(1) else {
        eprintln!("usage: bag_read_speed BAG [REPEATS]");
        std::process::exit(2);
    };
    let repeats: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    for decode in [false, true] {
        let (mut messages, mut bytes) = (0u64, 0u64);
        let mut cloud = PointCloud::default();
        let start = Instant::now();
        for _ in 0..repeats {
            let mut reader = BagReader::open(Path::new(bag))?;
            if decode {
                while let Some((raw, decoded)) = reader.next_decoded()? {
                    if let Decoded::PointCloud2(msg) = &decoded {
                        let _ = cloud.fill_from_pointcloud2(msg);
                    }
                    bytes += raw.data.len() as u64;
                    messages += 1;
                }
            } else {
                while let Some(raw) = reader.next_message()? {
                    bytes += raw.data.len() as u64;
                    messages += 1;
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}: {messages} messages, {:.1} MB payload in {secs:.3} s: {:.0} MB/s, {:.0} messages/s",
            if decode { "decoded" } else { "raw" },
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs,
            messages as f64 / secs
        );
    }
    Ok(())
}
