//! Metrics: detection recall, CLEAR MOT, IDF1, HOTA, sAMOTA
//!
//! (Being built: see the open issue for this crate.)
