//! Tracker stage: motion models, filters, data association and track life cycle
//!
//! (Being built: see the open issue for this crate.)
