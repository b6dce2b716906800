//! `fusionrt bag info BAG`: what a rosbag2 bag holds (files, storage, duration, topics with
//! types and counts), like `ros2 bag info`, without ROS.
//!
//! A folder is described from its metadata.yaml; a lone `.mcap` / `.db3` file is scanned.

use crate::exit::bad_input;
use clap::{Args, Subcommand};
use fusionrt_bag::read::{BagInfo, BagReader};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `fusionrt bag`.
#[derive(Debug, Args)]
pub struct BagArgs {
    #[command(subcommand)]
    command: BagCommand,
}

/// The bag subcommands.
#[derive(Debug, Subcommand)]
enum BagCommand {
    /// Print a bag's files, storage, duration and topics (type, count, format).
    ///
    /// Example: `fusionrt bag info ../shared/data/rosbag2/embag_luminar_mcap`
    Info(BagInfoArgs),
}

/// Arguments of `fusionrt bag info`.
#[derive(Debug, Args)]
struct BagInfoArgs {
    /// A rosbag2 folder (with metadata.yaml) or one .mcap / .db3 file.
    bag: PathBuf,
}

impl BagArgs {
    /// Runs the chosen bag subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self.command {
            BagCommand::Info(args) => args.execute(),
        }
    }
}

struct TopicLine {
    type_name: String,
    count: u64,
    format: String,
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn stamp_text(stamp_ns: i64) -> String {
    format!(
        "{}.{:09}",
        stamp_ns.div_euclid(1_000_000_000),
        stamp_ns.rem_euclid(1_000_000_000)
    )
}

impl BagInfoArgs {
    fn execute(self) -> anyhow::Result<()> {
        let info = BagInfo::open(&self.bag).map_err(bad_input)?;
        let (start_ns, duration_ns, count, topics, distro) = match &info.metadata {
            Some(meta) => {
                let topics: BTreeMap<String, TopicLine> = meta
                    .topics_with_message_count
                    .iter()
                    .map(|t| {
                        (
                            t.topic_metadata.name.clone(),
                            TopicLine {
                                type_name: t.topic_metadata.type_name.clone(),
                                count: t.message_count,
                                format: t.topic_metadata.serialization_format.clone(),
                            },
                        )
                    })
                    .collect();
                (
                    meta.starting_time.nanoseconds_since_epoch,
                    meta.duration.nanoseconds,
                    meta.message_count,
                    topics,
                    meta.ros_distro.clone().unwrap_or_default(),
                )
            }
            None => scan(&self.bag)?,
        };
        let mut out = String::new();
        let files: Vec<String> = info
            .files
            .iter()
            .map(|f| {
                let name = f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                format!("{name} ({})", human_bytes(file_size(f)))
            })
            .collect();
        let total: u64 = info.files.iter().map(|f| file_size(f)).sum();
        let _ = writeln!(
            out,
            "Files:             {}",
            files.join("\n                   ")
        );
        let _ = writeln!(out, "Bag size:          {}", human_bytes(total));
        let _ = writeln!(out, "Storage id:        {}", info.storage.identifier());
        if !distro.is_empty() {
            let _ = writeln!(out, "ROS Distro:        {distro}");
        }
        let _ = writeln!(out, "Compression:       {:?}", info.compression);
        let _ = writeln!(
            out,
            "Duration:          {:.3}s",
            fusionrt_core::nanos_to_secs(duration_ns)
        );
        let _ = writeln!(out, "Start:             {} s", stamp_text(start_ns));
        let _ = writeln!(
            out,
            "End:               {} s",
            stamp_text(start_ns + duration_ns)
        );
        let _ = writeln!(out, "Messages:          {count}");
        let width = topics.keys().map(String::len).max().unwrap_or(0);
        let mut first = true;
        for (name, t) in &topics {
            let label = if first {
                "Topic information: "
            } else {
                "                   "
            };
            first = false;
            let _ = writeln!(
                out,
                "{label}Topic: {name:width$} | Type: {} | Count: {} | Serialization Format: {}",
                t.type_name,
                t.count,
                if t.format.is_empty() {
                    "(empty)"
                } else {
                    &t.format
                }
            );
        }
        super::print_stdout(&out);
        Ok(())
    }
}

type Scanned = (i64, i64, u64, BTreeMap<String, TopicLine>, String);

/// Counts a lone storage file's messages by reading it through.
fn scan(path: &Path) -> anyhow::Result<Scanned> {
    let mut reader = BagReader::open(path).map_err(bad_input)?;
    let mut topics: BTreeMap<String, TopicLine> = BTreeMap::new();
    let (mut first_ns, mut last_ns) = (i64::MAX, i64::MIN);
    while let Some(msg) = reader.next_message().map_err(bad_input)? {
        first_ns = first_ns.min(msg.stamp_ns);
        last_ns = last_ns.max(msg.stamp_ns);
        topics
            .entry(msg.topic.name.clone())
            .or_insert_with(|| TopicLine {
                type_name: msg.topic.type_name.clone(),
                count: 0,
                format: msg.topic.serialization_format.clone(),
            })
            .count += 1;
    }
    for (name, skips) in &reader.stats().skipped {
        topics
            .entry(name.clone())
            .or_insert_with(|| TopicLine {
                type_name: "?".into(),
                count: 0,
                format: "not cdr".into(),
            })
            .count += skips.not_cdr;
    }
    for e in &reader.stats().file_errors {
        eprintln!("warning: {e}");
    }
    let count = topics.values().map(|t| t.count).sum();
    if first_ns > last_ns {
        (first_ns, last_ns) = (0, 0);
    }
    Ok((first_ns, last_ns - first_ns, count, topics, String::new()))
}
