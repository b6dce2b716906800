//! fusionrt-eval: tracking metrics.
//!
//! - [`mot`]: CLEAR MOT (MOTA, MOTP, id switches, fragmentations) and IDF1 for any scene,
//!   frame by frame ([`MotAccumulator`]); used by `fusionrt sim`.
//! - [`kitti`]: the KITTI 3D MOT protocol of AB3DMOT (3D IoU, DontCare and ignore rules,
//!   sAMOTA / AMOTA over 40 recall thresholds, MOTA at the best threshold) and HOTA.
//! - [`detection`]: KITTI object-style detection scoring in BEV (recall per type, precision,
//!   class-correct recall and precision per class group, centre error).
//! - [`hota`]: HOTA, DetA, AssA, LocA (TrackEval's algorithm).
//!
//! In: boxes as [`fusionrt_core::Box3`]; no file formats here (readers live in fusionrt-kitti).
//! Depends on fusionrt-core only.

pub mod detection;
pub mod hota;
pub mod kitti;
pub mod mot;

pub use hota::{HotaAccumulator, HotaSummary};
pub use kitti::{KittiClassResult, KittiEvalParams, KittiFrame, KittiGt, KittiHyp, KittiSequence};
pub use mot::{EvalObject, MatchCriterion, MotAccumulator, MotSummary};
