//! The ROS source of the runtime graph: raw messages from the [`Inbox`] (filled by the r2r
//! callbacks), decoded on the executor's source thread into [`Event`]s by the [`Assembler`].
//!
//! Every skipped message is also counted here, live, by reason ([`DropCounts`]), so /diagnostics
//! can show it while the node runs (the executor counts and logs it too, at most once a second
//! per reason). The source ends when the inbox is closed (shutdown).

use crate::assemble::Assembler;
use crate::diagnostics::{ArrivalAges, NowFn};
use crate::inbox::{Inbox, Input};
use fusionrt_runtime::{Event, Source, SourceError, SourceInfo};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Drops counted by the source, by reason (shared with the diagnostics).
pub type DropCounts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Live ROS topics as a [`Source`].
pub struct RosSource {
    inbox: Arc<Inbox>,
    assembler: Assembler,
    cameras: usize,
    pending: VecDeque<Event>,
    scratch: Vec<Event>,
    drops: DropCounts,
    arrival: Option<(NowFn, ArrivalAges)>,
}

impl RosSource {
    /// Reads `inbox` for a graph with `cameras` cameras.
    pub fn new(inbox: Arc<Inbox>, assembler: Assembler, cameras: usize) -> Self {
        Self {
            inbox,
            assembler,
            cameras,
            pending: VecDeque::new(),
            scratch: Vec::new(),
            drops: DropCounts::default(),
            arrival: None,
        }
    }

    /// Also records each sweep's age on arrival (`now` when its callback ran, minus its stamp).
    pub fn with_arrival_ages(mut self, now: NowFn, ages: ArrivalAges) -> Self {
        self.arrival = Some((now, ages));
        self
    }

    /// The live drop counters (decode failures and dropped points).
    pub fn drops(&self) -> DropCounts {
        self.drops.clone()
    }

    fn count(&self, reason: &str, n: u64) {
        if n > 0 {
            let mut d = self.drops.lock().unwrap_or_else(PoisonError::into_inner);
            *d.entry(reason.to_string()).or_default() += n;
        }
    }
}

impl Source for RosSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: "ros".into(),
            cameras: self.cameras,
            sweeps: None,
            period_ns: 100_000_000,
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                if let Event::Skipped { reason, .. } = &e {
                    self.count(reason, 1);
                }
                return Ok(Some(e));
            }
            if self.inbox.is_closed() {
                return Ok(None);
            }
            let Some(raw) = self.inbox.pop(Duration::from_millis(100)) else {
                continue;
            };
            let (input, received) = (raw.input, raw.received);
            self.assembler.assemble(raw, &mut self.scratch);
            if let (Input::PointCloud, Some((now, ages))) = (input, &self.arrival) {
                let waited = i64::try_from(received.elapsed().as_nanos()).unwrap_or(i64::MAX);
                let arrived_ns = now().saturating_sub(waited);
                for event in &self.scratch {
                    if let Event::Lidar { cloud, .. } = event {
                        ages.record(arrived_ns - cloud.stamp_ns);
                    }
                }
            }
            let points = self.assembler.take_point_drops();
            self.count("pointcloud_non_finite_points", points);
            self.pending.extend(self.scratch.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::tests::cloud_cdr;
    use crate::diagnostics::Diagnostics;
    use fusionrt_runtime::BudgetConfig;

    #[test]
    fn sweep_ages_on_arrival_reach_the_diagnostics_once() {
        let inbox = Arc::new(Inbox::new());
        let mut diagnostics = Diagnostics::new(BudgetConfig::default());
        // The node's clock reads 5 ms after the sweep's stamp (1000 ns).
        let now: NowFn = Arc::new(|| 5_001_000);
        let mut source = RosSource::new(inbox.clone(), Assembler::new(0), 0)
            .with_arrival_ages(now, diagnostics.arrival_ages());
        inbox.push(Input::PointCloud, cloud_cdr(&[[5.0, 0.0, 0.0]]));
        assert!(matches!(
            source.next_event().unwrap(),
            Some(Event::Lidar { .. })
        ));
        let age_p50 = |d: &mut Diagnostics| {
            let array = d.report(0, Duration::from_secs(1), &BTreeMap::new(), &[]);
            array.status[0]
                .values
                .iter()
                .find(|(k, _)| k == "input_age_ms_p50")
                .map(|(_, v)| v.parse::<f64>().unwrap())
        };
        // 5 ms minus the moment the message waited in the inbox.
        let p50 = age_p50(&mut diagnostics).unwrap();
        assert!((4.0..=5.0).contains(&p50), "{p50}");
        assert_eq!(age_p50(&mut diagnostics), None, "a new window starts empty");
    }

    #[test]
    fn bad_messages_are_counted_and_the_source_goes_on() {
        let inbox = Arc::new(Inbox::new());
        let mut source = RosSource::new(inbox.clone(), Assembler::new(1), 1);
        inbox.push(Input::PointCloud, vec![0, 1, 0, 0, 1, 2]);
        inbox.push(Input::Image(0), vec![0, 1, 0, 0]);
        let a = source.next_event().unwrap();
        let b = source.next_event().unwrap();
        assert!(matches!(
            a,
            Some(Event::Skipped {
                reason: "pointcloud_bad_input",
                ..
            })
        ));
        assert!(matches!(
            b,
            Some(Event::Skipped {
                reason: "image_bad_input",
                ..
            })
        ));
        let drops = source.drops();
        assert_eq!(drops.lock().unwrap().get("image_bad_input"), Some(&1));
        inbox.close();
        assert!(source.next_event().unwrap().is_none());
    }
}
