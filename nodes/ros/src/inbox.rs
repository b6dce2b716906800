//! The hand-off from the ROS callbacks to the graph's source thread: raw CDR messages in
//! bounded, latest-wins slots, every drop counted.
//!
//! The spin thread only copies bytes in ([`Inbox::push`]); decoding happens on the source
//! thread. Sensor inputs (the point cloud, each camera's image) have one slot each: a message
//! not yet taken when the next one arrives is replaced and counted as stale. State (camera
//! infos, transforms, odometry) queues in order up to [`STATE_DEPTH`] messages; past that the
//! oldest is dropped and counted. [`Inbox::pop`] returns messages in arrival order, so a
//! CameraInfo or transform that came before a sweep is applied before it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// State messages kept before the oldest is dropped.
pub const STATE_DEPTH: usize = 64;

/// What a subscription carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// `input/pointcloud`, sensor_msgs/PointCloud2.
    PointCloud,
    /// `input/camera<i>/image`, sensor_msgs/Image.
    Image(usize),
    /// `input/camera<i>/image/compressed`, sensor_msgs/CompressedImage.
    CompressedImage(usize),
    /// `input/camera<i>/camera_info`, sensor_msgs/CameraInfo.
    CameraInfo(usize),
    /// `/tf` or `/tf_static`, tf2_msgs/TFMessage.
    Tf,
    /// `input/odometry`, nav_msgs/Odometry.
    Odometry,
}

impl Input {
    /// The slot a sensor input replaces (latest-wins), None for state.
    fn sensor_slot(self) -> Option<usize> {
        match self {
            Input::PointCloud => Some(0),
            Input::Image(i) | Input::CompressedImage(i) => Some(1 + i),
            Input::CameraInfo(_) | Input::Tf | Input::Odometry => None,
        }
    }

    /// The counter a replaced (stale) message of this input goes to.
    pub fn stale_reason(self) -> &'static str {
        match self {
            Input::PointCloud => "pointcloud_stale",
            Input::Image(_) | Input::CompressedImage(_) => "image_stale",
            Input::CameraInfo(_) | Input::Tf | Input::Odometry => "state_queue_full",
        }
    }
}

/// A message as it came from the middleware.
#[derive(Debug)]
pub struct RawInput {
    /// Which subscription.
    pub input: Input,
    /// CDR bytes with the encapsulation header.
    pub cdr: Vec<u8>,
    /// When the callback handed it over.
    pub received: Instant,
}

#[derive(Default)]
struct Slots {
    next_seq: u64,
    sensors: Vec<Option<(u64, RawInput)>>,
    state: VecDeque<(u64, RawInput)>,
    drops: BTreeMap<&'static str, u64>,
}

/// Bounded latest-wins slots between the ROS callbacks and the source thread.
#[derive(Default)]
pub struct Inbox {
    slots: Mutex<Slots>,
    ready: Condvar,
    closed: AtomicBool,
}

impl Inbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a message over (never blocks for long, never grows past its bounds).
    pub fn push(&self, input: Input, cdr: Vec<u8>) {
        let raw = RawInput {
            input,
            cdr,
            received: Instant::now(),
        };
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        match input.sensor_slot() {
            Some(slot) => {
                if s.sensors.len() <= slot {
                    s.sensors.resize_with(slot + 1, || None);
                }
                if s.sensors[slot].replace((seq, raw)).is_some() {
                    *s.drops.entry(input.stale_reason()).or_default() += 1;
                }
            }
            None => {
                if s.state.len() >= STATE_DEPTH {
                    s.state.pop_front();
                    *s.drops.entry(input.stale_reason()).or_default() += 1;
                }
                s.state.push_back((seq, raw));
            }
        }
        drop(s);
        self.ready.notify_one();
    }

    /// The oldest message waiting, waiting up to `timeout` for one; None on timeout or once
    /// closed.
    pub fn pop(&self, timeout: Duration) -> Option<RawInput> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return None;
            }
            let sensor = s
                .sensors
                .iter()
                .enumerate()
                .filter_map(|(i, slot)| slot.as_ref().map(|(seq, _)| (*seq, i)))
                .min();
            let state = s.state.front().map(|(seq, _)| *seq);
            match (sensor, state) {
                (Some((a, slot)), b) if b.is_none_or(|b| a < b) => {
                    return s.sensors[slot].take().map(|(_, raw)| raw);
                }
                (_, Some(_)) => return s.state.pop_front().map(|(_, raw)| raw),
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = self
                .ready
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes the reader and makes every later [`Inbox::pop`] return None.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.ready.notify_all();
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Messages dropped so far, by reason.
    pub fn drops(&self) -> BTreeMap<&'static str, u64> {
        self.lock().drops.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_inputs_are_latest_wins_and_counted() {
        let inbox = Inbox::new();
        inbox.push(Input::Tf, vec![1]);
        inbox.push(Input::PointCloud, vec![2]);
        inbox.push(Input::PointCloud, vec![3]);
        inbox.push(Input::CameraInfo(0), vec![4]);
        let order: Vec<u8> = std::iter::from_fn(|| inbox.pop(Duration::ZERO))
            .map(|r| r.cdr[0])
            .collect();
        // The stale cloud is gone; the newer one keeps its place in arrival order.
        assert_eq!(order, [1, 3, 4]);
        assert_eq!(inbox.drops().get("pointcloud_stale"), Some(&1));
    }

    #[test]
    fn state_is_bounded() {
        let inbox = Inbox::new();
        for i in 0..(STATE_DEPTH + 3) {
            inbox.push(Input::Tf, vec![i as u8]);
        }
        assert_eq!(inbox.drops().get("state_queue_full"), Some(&3));
        assert_eq!(inbox.pop(Duration::ZERO).map(|r| r.cdr[0]), Some(3));
    }

    #[test]
    fn close_wakes_the_reader() {
        let inbox = std::sync::Arc::new(Inbox::new());
        let reader = {
            let inbox = inbox.clone();
            std::thread::Builder::new()
                .name("reader".into())
                .spawn(move || inbox.pop(Duration::from_secs(10)).is_none())
                .unwrap()
        };
        std::thread::sleep(Duration::from_millis(20));
        inbox.close();
        assert!(reader.join().unwrap());
    }
}
