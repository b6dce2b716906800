//! The camera's degrade policy: fewer tiles (model passes) while inference runs over its
//! budget, more again once it would fit.
//!
//! The governor only sees measured inference times, so it acts in the real-time executor; the
//! deterministic executor never calls it and keeps the configured tiles, so that replay results
//! do not depend on the machine's speed.

use crate::config::RuntimeConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Chooses the camera's tile count from its recent inference times.
#[derive(Clone, Debug)]
pub struct TileGovernor {
    enabled: bool,
    /// Whether the config allows acting at all.
    configurable: bool,
    configured: u32,
    min_tiles: u32,
    tiles: u32,
    overruns_to_degrade: u32,
    fits_to_recover: u32,
    overruns: u32,
    fits: u32,
    stats: TileStats,
}

/// What the governor did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TileStats {
    /// Frames run at each tile count.
    pub frames_by_tiles: BTreeMap<u32, u64>,
    /// Steps down (one tile fewer) for inference over budget.
    pub degrades: u64,
    /// Steps back up after inference fit again.
    pub recoveries: u64,
    /// Frames whose inference ran over the camera budget.
    pub over_budget: u64,
}

impl TileGovernor {
    /// Starts at `configured` tiles. Tile counts 0 (squash) and 1 (letterbox) are one pass
    /// each and are never degraded.
    pub fn new(configured: u32, runtime: &RuntimeConfig) -> Self {
        let policy = &runtime.camera_degrade;
        let configurable = policy.enabled && configured > 1;
        Self {
            enabled: configurable,
            configurable,
            configured,
            min_tiles: policy.min_tiles.clamp(1, configured.max(1)),
            tiles: configured,
            overruns_to_degrade: policy.overruns_to_degrade.max(1),
            fits_to_recover: policy.fits_to_recover.max(1),
            overruns: 0,
            fits: 0,
            stats: TileStats::default(),
        }
    }

    /// Turns acting off (it still counts) or back on when the config allows it.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled && self.configurable;
    }

    /// The tile count to run the next frame with.
    pub fn tiles(&self) -> u32 {
        self.tiles
    }

    /// What it did so far.
    pub fn stats(&self) -> &TileStats {
        &self.stats
    }

    /// Records a frame run at the current tile count that took `inference`; returns
    /// `Some((from, to))` when the tile count changes for the next frame.
    pub fn observe(&mut self, inference: Duration, budget: Duration) -> Option<(u32, u32)> {
        *self.stats.frames_by_tiles.entry(self.tiles).or_default() += 1;
        let over = inference > budget;
        if over {
            self.stats.over_budget += 1;
        }
        if !self.enabled {
            return None;
        }
        let from = self.tiles;
        if over {
            self.fits = 0;
            self.overruns += 1;
            if self.overruns >= self.overruns_to_degrade && self.tiles > self.min_tiles {
                self.tiles -= 1;
                self.overruns = 0;
                self.stats.degrades += 1;
            }
        } else {
            self.overruns = 0;
            // Would one more tile still fit? Inference grows about linearly with the passes.
            let per_tile = inference.as_secs_f64() / f64::from(self.tiles.max(1));
            let with_one_more = per_tile * f64::from(self.tiles + 1);
            if self.tiles < self.configured && with_one_more <= budget.as_secs_f64() {
                self.fits += 1;
                if self.fits >= self.fits_to_recover {
                    self.tiles += 1;
                    self.fits = 0;
                    self.stats.recoveries += 1;
                }
            } else {
                self.fits = 0;
            }
        }
        (self.tiles != from).then_some((from, self.tiles))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governor(tiles: u32) -> TileGovernor {
        let mut runtime = RuntimeConfig::default();
        runtime.camera_degrade.overruns_to_degrade = 2;
        runtime.camera_degrade.fits_to_recover = 3;
        runtime.camera_degrade.min_tiles = 1;
        TileGovernor::new(tiles, &runtime)
    }

    #[allow(non_snake_case)]
    fn MS(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn degrades_after_consecutive_overruns_down_to_the_minimum() {
        let mut g = governor(4);
        let budget = MS(80);
        assert_eq!(g.observe(MS(120), budget), None);
        assert_eq!(g.observe(MS(120), budget), Some((4, 3)));
        assert_eq!(g.observe(MS(90), budget), None);
        assert_eq!(g.observe(MS(90), budget), Some((3, 2)));
        g.observe(MS(85), budget);
        assert_eq!(g.observe(MS(85), budget), Some((2, 1)));
        g.observe(MS(85), budget);
        assert_eq!(g.observe(MS(85), budget), None, "never below min_tiles");
        assert_eq!(g.tiles(), 1);
        assert_eq!(g.stats().degrades, 3);
    }

    #[test]
    fn recovers_when_one_more_tile_would_fit_and_not_before() {
        let mut g = governor(4);
        let budget = MS(80);
        g.observe(MS(120), budget);
        g.observe(MS(120), budget);
        assert_eq!(g.tiles(), 3);
        // 3 tiles at 70 ms: 4 would take ~93 ms, over budget: stay.
        for _ in 0..5 {
            assert_eq!(g.observe(MS(70), budget), None);
        }
        // 3 tiles at 45 ms: 4 would take 60 ms: back up after 3 such frames.
        assert_eq!(g.observe(MS(45), budget), None);
        assert_eq!(g.observe(MS(45), budget), None);
        assert_eq!(g.observe(MS(45), budget), Some((3, 4)));
        assert_eq!(g.stats().recoveries, 1);
        assert_eq!(g.stats().frames_by_tiles.values().sum::<u64>(), 10);
    }

    #[test]
    fn disabled_or_single_pass_only_counts() {
        let mut runtime = RuntimeConfig::default();
        runtime.camera_degrade.enabled = false;
        let mut g = TileGovernor::new(4, &runtime);
        for _ in 0..10 {
            assert_eq!(g.observe(MS(500), MS(80)), None);
        }
        assert_eq!(g.stats().over_budget, 10);
        let mut g = governor(1);
        for _ in 0..10 {
            assert_eq!(g.observe(MS(500), MS(80)), None);
        }
        assert_eq!(g.tiles(), 1);
    }
}
