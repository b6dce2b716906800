//! Runtime: wires the stages into a pipeline, measures per-stage latency
//!
//! (Being built: see the open issue for this crate.)
