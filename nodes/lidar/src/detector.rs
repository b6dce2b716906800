//! The lidar stage: crop, polar-grid ground segmentation, BEV grid clustering, box fitting.
//!
//! One pass over the cloud crops it (finite, range, region of interest) and bins each point into
//! a polar grid of angular sectors and radial bins whose length grows with range (concentric
//! zones). Each sector is a ray: walking outwards, a bin's lowest point is ground when it
//! continues the ground of the previous bins within the road's slope and a curb-sized step;
//! otherwise the bin holds an object and the ground is carried forward. A point is ground when
//! it lies within a threshold of its bin's ground. Non-ground points go into a bird's-eye-view
//! occupancy grid whose cells are joined by union-find when they lie within a tolerance that
//! grows with range, so sparse far objects stay whole. Each component gets an L-shape-fitted
//! oriented box, its height above the local ground, a point count and a confidence; size filters
//! drop walls, vegetation bands and buildings but keep trucks and buses. A cluster too large for
//! one object (a wall with a pedestrian beside it, two vans side by side, vehicles parked end to
//! end) is split once on a finer grid. The classifier ([`crate::classify`]) sees each cluster's
//! shape, its vertical profile (a waist) and its share of dark returns.
//!
//! [`LidarDetector::new`] allocates every buffer; [`LidarDetector::process`] reuses them and
//! allocates nothing once the buffers have reached the size of the largest frame seen.

use crate::boxfit::LShapeFitter;
use crate::classify::{ClusterFeatures, classify};
use crate::config::LidarConfig;
use crate::fastmath::{clamp_index, fast_atan2, hi, lo};
use fusionrt_core::config::ConfigError;
use fusionrt_core::geometry::wrap_angle;
use fusionrt_core::{Box3, ObjectClass, Obstacle3D, PointCloud};
use nalgebra::Vector3;

/// What one frame went through. Counts are points unless named otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LidarStats {
    /// Points in the input cloud.
    pub input_points: usize,
    /// Points skipped for a NaN or infinite coordinate.
    pub non_finite: usize,
    /// Finite points outside the range or the region of interest (absurd coordinates included).
    pub cropped: usize,
    /// Points classified as ground.
    pub ground: usize,
    /// Points above the ground, clustered.
    pub non_ground: usize,
    /// Points dropped for lying too high above the ground (overhangs, tree crowns).
    pub too_high: usize,
    /// Connected components found (clusters before filtering).
    pub clusters: usize,
    /// Clusters dropped for having too few points.
    pub rejected_few_points: usize,
    /// Clusters dropped by the size filters (walls, bands, buildings, flat remnants).
    pub rejected_size: usize,
    /// Clusters too large for one object that were split with a finer tolerance.
    pub split: usize,
    /// Obstacles dropped because `max_obstacles` was reached.
    pub rejected_capacity: usize,
    /// Obstacles written.
    pub obstacles: usize,
}

impl LidarStats {
    /// Adds the counts the cluster pass keeps (clusters dropped, split, over capacity) of
    /// `other`, a run of the same sweep's clusters.
    fn add_cluster_pass(&mut self, other: &LidarStats) {
        self.rejected_few_points += other.rejected_few_points;
        self.rejected_size += other.rejected_size;
        self.split += other.split;
        self.rejected_capacity += other.rejected_capacity;
    }
}

/// Marks an empty cell.
const NONE: u32 = u32::MAX;
/// Resolution of the range -> radial bin table, m.
const LUT_STEP_M: f32 = 0.05;

/// The lidar stage. Build it once with [`LidarDetector::new`], then call
/// [`LidarDetector::process`] per sweep.
#[derive(Debug)]
pub struct LidarDetector {
    cfg: LidarConfig,
    sectors: usize,
    bins: usize,
    /// Range (in `LUT_STEP_M` steps) -> radial bin.
    bin_lut: Vec<u16>,
    /// Inner edge of each radial bin, m.
    bin_start_m: Vec<f32>,
    /// Per polar cell: lowest z this frame, then the ground height.
    cell_min_z: Vec<f32>,
    cell_ground_z: Vec<f32>,
    /// Cropped points: index into the cloud and polar cell. These only grow (every point of
    /// a sweep is written); the first `crop_len` entries hold this sweep's cropped points.
    crop_idx: Vec<u32>,
    crop_cell: Vec<u32>,
    crop_len: usize,
    /// Non-ground points, copied contiguously, with their local ground height and grid slot.
    ng_x: Vec<f32>,
    ng_y: Vec<f32>,
    ng_z: Vec<f32>,
    /// Reflectance of each non-ground point (NaN when the cloud has none).
    ng_i: Vec<f32>,
    ng_ground: Vec<f32>,
    ng_slot: Vec<u32>,
    /// BEV grid: cell -> occupied slot (or NONE).
    grid: Vec<u32>,
    grid_width: usize,
    grid_half_m: f32,
    /// Occupied cells: grid index, union-find parent, cluster id.
    occ_cell: Vec<u32>,
    occ_parent: Vec<u32>,
    occ_cluster: Vec<u32>,
    /// Per cluster: point count, then start offset into `sorted`.
    cluster_count: Vec<u32>,
    cluster_start: Vec<u32>,
    sorted: Vec<u32>,
    /// Buffers of the cluster pass, one per thread (`threads`).
    scratch: Vec<ClusterScratch>,
    /// Obstacles of the cluster ranges after the first, one per extra thread, appended in
    /// order once every thread is done.
    tails: Vec<RunOutput>,
    /// Whether this sweep's reflectance tells dark returns (glass, tyres) from bright ones:
    /// at least [`DARK_MIN_SCAN_SHARE`] of the non-ground returns are darker than
    /// `dark_reflectance`. A sensor without a reflectance channel, one on another scale, or a
    /// simulator with uniformly bright objects does not, and the classifier then goes without
    /// the cue.
    dark_cue: bool,
}

impl LidarDetector {
    /// Builds the stage and allocates every buffer, for a configuration that has been
    /// validated (every config loader does: `PipelineConfig::load`, `load_validated`).
    ///
    /// # Panics
    /// On an invalid configuration, naming the key; it never runs on other values than it
    /// was given. Use [`LidarDetector::try_new`] for a configuration that was not checked.
    pub fn new(cfg: &LidarConfig) -> Self {
        match Self::try_new(cfg) {
            Ok(d) => d,
            Err(e) => panic!("LidarDetector::new with an unchecked configuration: {e}"),
        }
    }

    /// Builds the stage after validating the configuration.
    pub fn try_new(cfg: &LidarConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self::build(cfg))
    }

    fn build(cfg: &LidarConfig) -> Self {
        // Radial bins: length = min + growth * range, capped.
        let mut bin_start_m = Vec::new();
        let mut r = 0.0f32;
        while r < cfg.max_range_m {
            bin_start_m.push(r);
            r += (cfg.ground_bin_min_m + cfg.ground_bin_growth * r).min(cfg.ground_bin_max_m);
        }
        let bins = bin_start_m.len();
        let lut_len = (cfg.max_range_m / LUT_STEP_M) as usize + 2;
        let mut bin_lut = Vec::with_capacity(lut_len);
        let mut b = 0usize;
        for i in 0..lut_len {
            let r = i as f32 * LUT_STEP_M;
            while b + 1 < bins && bin_start_m[b + 1] <= r {
                b += 1;
            }
            bin_lut.push(b as u16);
        }
        let sectors = cfg.ground_sectors;
        let cells = sectors * bins;
        let grid_half_m = cfg.max_range_m;
        let grid_width = (2.0 * grid_half_m / cfg.cluster_cell_m).ceil() as usize + 1;
        let n = cfg.expected_points;
        Self {
            cfg: cfg.clone(),
            sectors,
            bins,
            bin_lut,
            bin_start_m,
            cell_min_z: vec![f32::INFINITY; cells],
            cell_ground_z: vec![0.0; cells],
            crop_idx: Vec::with_capacity(n),
            crop_cell: Vec::with_capacity(n),
            crop_len: 0,
            ng_x: Vec::with_capacity(n),
            ng_y: Vec::with_capacity(n),
            ng_z: Vec::with_capacity(n),
            ng_i: Vec::with_capacity(n),
            ng_ground: Vec::with_capacity(n),
            ng_slot: Vec::with_capacity(n),
            grid: vec![NONE; grid_width * grid_width],
            grid_width,
            grid_half_m,
            occ_cell: Vec::with_capacity(n / 4),
            occ_parent: Vec::with_capacity(n / 4),
            occ_cluster: Vec::with_capacity(n / 4),
            cluster_count: Vec::with_capacity(n / 16),
            cluster_start: Vec::with_capacity(n / 16),
            sorted: Vec::with_capacity(n),
            scratch: (0..cfg.threads).map(|_| ClusterScratch::new(cfg)).collect(),
            tails: (1..cfg.threads)
                .map(|_| RunOutput {
                    obstacles: Vec::with_capacity(cfg.max_obstacles),
                    stats: LidarStats::default(),
                    trial_parts: 0,
                })
                .collect(),
            dark_cue: false,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &LidarConfig {
        &self.cfg
    }

    /// Runs the stage once on a synthetic sweep of `expected_points` points and forgets the
    /// result, so that every buffer has been allocated and touched (and the code paged in)
    /// before the first real sweep. A real-time executor calls it at start-up: on a fresh
    /// process the first sweep otherwise pays for the page faults, tens of milliseconds on a
    /// virtual machine. The stage keeps no state from one sweep to the next.
    pub fn warm_up(&mut self) {
        let scene = crate::synthetic::generate(&crate::synthetic::SceneSpec {
            points: self.cfg.expected_points,
            ..Default::default()
        });
        let mut out = Vec::with_capacity(self.cfg.max_obstacles);
        self.process(&scene.cloud, &mut out);
    }

    /// Detects obstacles in one sweep (lidar frame), replacing the contents of `out`.
    /// Bad points (NaN, infinite, absurdly far) are counted and skipped; an empty or
    /// inconsistent cloud (channels of different lengths) yields no obstacles.
    pub fn process(&mut self, cloud: &PointCloud, out: &mut Vec<Obstacle3D>) -> LidarStats {
        let _span = tracing::debug_span!("lidar", points = cloud.len()).entered();
        out.clear();
        if out.capacity() < self.cfg.max_obstacles {
            out.reserve(self.cfg.max_obstacles);
        }
        let n = cloud.x.len().min(cloud.y.len()).min(cloud.z.len());
        let mut stats = LidarStats {
            input_points: cloud.x.len(),
            ..LidarStats::default()
        };
        if cloud.y.len() != cloud.x.len() || cloud.z.len() != cloud.x.len() {
            tracing::warn!(
                x = cloud.x.len(),
                y = cloud.y.len(),
                z = cloud.z.len(),
                "inconsistent point cloud: coordinate channels differ in length; using the common prefix"
            );
        }
        self.crop_and_bin(cloud, n, &mut stats);
        self.estimate_ground();
        self.split_ground(cloud, &mut stats);
        self.connect_cells();
        self.gather_clusters(&mut stats);
        self.fit_boxes(out, &mut stats);
        // Leave the grid empty for the next frame.
        for &c in &self.occ_cell {
            self.grid[c as usize] = NONE;
        }
        stats.obstacles = out.len();
        stats
    }

    /// Pass 1: crop, polar binning, lowest z per polar cell.
    #[inline(never)]
    fn crop_and_bin(&mut self, cloud: &PointCloud, n: usize, stats: &mut LidarStats) {
        self.cell_min_z.fill(f32::INFINITY);
        // Written by index into pre-sized buffers (no capacity checks in the loop).
        grow_to(&mut self.crop_idx, n, 0);
        grow_to(&mut self.crop_cell, n, 0);
        let cfg = &self.cfg;
        let (min_r2, max_r2) = (cfg.min_range_m.powi(2), cfg.max_range_m.powi(2));
        let [x0, y0, z0] = cfg.roi_min_m;
        let [x1, y1, z1] = cfg.roi_max_m;
        let sector_scale = self.sectors as f32 / std::f32::consts::TAU;
        let last_sector = (self.sectors - 1) as f32;
        let bins = self.bins;
        let lut = &self.bin_lut[..];
        let last_lut = (lut.len() - 1) as f32;
        let min_z = &mut self.cell_min_z[..];
        let crop_idx = &mut self.crop_idx[..n];
        let crop_cell = &mut self.crop_cell[..n];
        let (xs, ys, zs) = (&cloud.x[..n], &cloud.y[..n], &cloud.z[..n]);
        // 1a, branch-free so that it vectorizes: sector and range step per point, or NONE.
        let inv_step = 1.0 / LUT_STEP_M;
        // Branch-free, so that the compiler runs it on SIMD lanes: NaN coordinates fail every
        // comparison (not inside), and `clamp_index` maps NaN to the last cell, never read.
        let mut non_finite = 0u32;
        for i in 0..n {
            let (x, y, z) = (xs[i], ys[i], zs[i]);
            non_finite += u32::from(!(x.is_finite() & y.is_finite() & z.is_finite()));
            let r2 = x * x + y * y;
            let inside = (r2 >= min_r2)
                & (r2 <= max_r2)
                & (x >= x0)
                & (x <= x1)
                & (y >= y0)
                & (y <= y1)
                & (z >= z0)
                & (z <= z1);
            let sector = clamp_index(
                (fast_atan2(y, x) + std::f32::consts::PI) * sector_scale,
                last_sector,
            );
            let step = clamp_index(r2.sqrt() * inv_step, last_lut);
            crop_cell[i] = if inside { (sector << 16) | step } else { NONE };
        }
        let mut kept = 0usize;
        for i in 0..n {
            let packed = crop_cell[i];
            if packed == NONE {
                continue;
            }
            let cell = (packed >> 16) as usize * bins + lut[(packed & 0xffff) as usize] as usize;
            if let Some(m) = min_z.get_mut(cell) {
                *m = lo(*m, zs[i]);
            }
            crop_idx[kept] = i as u32;
            crop_cell[kept] = cell as u32;
            kept += 1;
        }
        self.crop_len = kept;
        stats.non_finite = non_finite as usize;
        stats.cropped = n - kept - non_finite as usize;
    }

    /// Pass 2: the ground height of every polar cell, ray by ray.
    #[inline(never)]
    fn estimate_ground(&mut self) {
        let cfg = &self.cfg;
        let prior = -cfg.sensor_height_m;
        for s in 0..self.sectors {
            let row = s * self.bins;
            let mut ground = prior;
            let mut ground_r = 0.0f32;
            // Near the car the prior is uncertain (mounting, pitch): a looser step.
            let mut tolerance = cfg.ground_max_step_m + 0.2;
            for b in 0..self.bins {
                let cell = row + b;
                let r = self.bin_start_m[b];
                let mz = self.cell_min_z[cell];
                if mz.is_finite() {
                    let run = (r - ground_r).clamp(0.0, cfg.ground_max_run_m);
                    let rise = mz - ground;
                    let allowed = tolerance + cfg.ground_max_slope * run;
                    if rise <= allowed && rise >= -allowed - 0.3 {
                        ground = mz;
                        ground_r = r;
                        tolerance = cfg.ground_max_step_m;
                    }
                }
                self.cell_ground_z[cell] = ground;
            }
        }
    }

    /// Pass 3: ground / non-ground per point; non-ground points enter the BEV grid.
    #[inline(never)]
    fn split_ground(&mut self, cloud: &PointCloud, stats: &mut LidarStats) {
        let m = self.crop_len;
        // Pushed rather than written into buffers sized for every cropped point: about a
        // third of the points are above the ground, and a buffer never touched costs nothing.
        for v in [
            &mut self.ng_x,
            &mut self.ng_y,
            &mut self.ng_z,
            &mut self.ng_i,
            &mut self.ng_ground,
        ] {
            v.clear();
        }
        self.ng_slot.clear();
        self.occ_cell.clear();
        let cfg = &self.cfg;
        let inv_cell = 1.0 / cfg.cluster_cell_m;
        let half = self.grid_half_m;
        let last = (self.grid_width - 1) as f32;
        let width = self.grid_width;
        let (threshold, max_above) = (cfg.ground_threshold_m, cfg.max_height_above_ground_m);
        let ground_z = &self.cell_ground_z[..];
        let grid = &mut self.grid[..];
        let occ_cell = &mut self.occ_cell;
        let (ng_x, ng_y, ng_z) = (&mut self.ng_x, &mut self.ng_y, &mut self.ng_z);
        let (ng_ground, ng_slot, ng_i) = (&mut self.ng_ground, &mut self.ng_slot, &mut self.ng_i);
        let intensity = &cloud.intensity[..];
        let (mut ground, mut too_high) = (0usize, 0usize);
        let cropped = self.crop_idx[..m].iter().zip(&self.crop_cell[..m]);
        for (&i, &cell) in cropped {
            let i = i as usize;
            let (x, y, z) = (cloud.x[i], cloud.y[i], cloud.z[i]);
            let g = ground_z[cell as usize];
            let above = z - g;
            if above <= threshold {
                ground += 1;
                continue;
            }
            if above > max_above {
                too_high += 1;
                continue;
            }
            let gx = ((x + half) * inv_cell).min(last) as usize;
            let gy = ((y + half) * inv_cell).min(last) as usize;
            let gi = gy * width + gx;
            let mut slot = grid[gi];
            if slot == NONE {
                slot = occ_cell.len() as u32;
                grid[gi] = slot;
                occ_cell.push(gi as u32);
            }
            ng_x.push(x);
            ng_y.push(y);
            ng_z.push(z);
            ng_i.push(intensity.get(i).copied().unwrap_or(f32::NAN));
            ng_ground.push(g);
            ng_slot.push(slot);
        }
        let k_out = self.ng_slot.len();
        // The share of dark returns, on every `DARK_SAMPLE_STEP`th non-ground return (apart
        // from the loop above, which stays lean).
        let dark_reflectance = self.cfg.dark_reflectance;
        let sampled = self.ng_i[..k_out].iter().step_by(DARK_SAMPLE_STEP);
        let (dark, seen) = sampled.fold((0usize, 0usize), |(d, n), &r| {
            (d + usize::from(r < dark_reflectance), n + 1)
        });
        self.dark_cue = seen > 0 && dark as f32 >= DARK_MIN_SCAN_SHARE * seen as f32;
        stats.ground = ground;
        stats.too_high = too_high;
        stats.non_ground = k_out;
    }

    /// Pass 4: union-find over occupied cells within the range-adaptive tolerance.
    #[inline(never)]
    fn connect_cells(&mut self) {
        let cfg = &self.cfg;
        self.occ_parent.clear();
        self.occ_parent.extend(0..self.occ_cell.len() as u32);
        let w = self.grid_width as isize;
        let cell_m = cfg.cluster_cell_m;
        let half = self.grid_half_m;
        for slot in 0..self.occ_cell.len() {
            let gi = self.occ_cell[slot] as isize;
            let (gx, gy) = (gi % w, gi / w);
            let (x, y) = (
                (gx as f32 + 0.5) * cell_m - half,
                (gy as f32 + 0.5) * cell_m - half,
            );
            let r = (x * x + y * y).sqrt();
            let tol = cfg.cluster_tolerance_m + cfg.cluster_tolerance_per_m * r;
            let k = ((tol / cell_m).round() as isize).max(1);
            let mut root = find(&mut self.occ_parent, slot as u32);
            // Forward half of the (2k+1)^2 neighbourhood: each pair is visited once.
            for dy in 0..=k {
                let ny = gy + dy;
                if ny >= w {
                    break;
                }
                let dx0 = if dy == 0 { 1 } else { -k };
                for dx in dx0..=k {
                    let nx = gx + dx;
                    if nx < 0 || nx >= w {
                        continue;
                    }
                    let other = self.grid[(ny * w + nx) as usize];
                    if other != NONE {
                        root = link(&mut self.occ_parent, root, other);
                    }
                }
            }
        }
    }

    /// Pass 5: cluster ids, point counts and points sorted by cluster (counting sort).
    #[inline(never)]
    fn gather_clusters(&mut self, stats: &mut LidarStats) {
        self.occ_cluster.clear();
        self.occ_cluster.resize(self.occ_cell.len(), NONE);
        self.cluster_count.clear();
        for slot in 0..self.occ_cell.len() {
            let root = find(&mut self.occ_parent, slot as u32) as usize;
            if self.occ_cluster[root] == NONE {
                self.occ_cluster[root] = self.cluster_count.len() as u32;
                self.cluster_count.push(0);
            }
            self.occ_cluster[slot] = self.occ_cluster[root];
        }
        for &slot in &self.ng_slot {
            self.cluster_count[self.occ_cluster[slot as usize] as usize] += 1;
        }
        self.cluster_start.clear();
        let mut acc = 0u32;
        for &c in &self.cluster_count {
            self.cluster_start.push(acc);
            acc += c;
        }
        self.sorted.clear();
        self.sorted.resize(self.ng_slot.len(), 0);
        // Fill using cluster_start as a cursor, then restore it.
        for (p, &slot) in self.ng_slot.iter().enumerate() {
            let c = self.occ_cluster[slot as usize] as usize;
            self.sorted[self.cluster_start[c] as usize] = p as u32;
            self.cluster_start[c] += 1;
        }
        for (start, &count) in self.cluster_start.iter_mut().zip(&self.cluster_count) {
            *start -= count;
        }
        stats.clusters = self.cluster_count.len();
    }

    /// Pass 6: filters, box fit, class and confidence per cluster. A cluster too large for one
    /// object (a wall with a pedestrian beside it, two vans side by side) is split once with a
    /// finer tolerance and its parts go through the same filters.
    ///
    /// With `threads` > 1 the clusters are cut into that many runs of about as many points;
    /// the first is written into `out` on this thread, the others into their own lists on
    /// scoped threads, appended in order. Only the room left in `out` can make a cluster's
    /// outcome depend on what came before it (a split on trial, the weakest replaced when
    /// full); when the lists together might have run out of room, the later runs are done
    /// again here, in order. Either way `out` is what one thread writes.
    #[inline(never)]
    fn fit_boxes(&mut self, out: &mut Vec<Obstacle3D>, stats: &mut LidarStats) {
        let pts = NonGround {
            cfg: &self.cfg,
            x: &self.ng_x,
            y: &self.ng_y,
            z: &self.ng_z,
            i: &self.ng_i,
            ground: &self.ng_ground,
            dark_cue: self.dark_cue,
        };
        let clusters = Clusters {
            count: &self.cluster_count,
            start: &self.cluster_start,
            sorted: &self.sorted,
        };
        let runs = self.scratch.len();
        let total = self.sorted.len();
        // Cluster index where each run ends, cut at about equal point counts.
        let mut ends = [clusters.count.len(); MAX_THREADS];
        if runs > 1 && total >= PARALLEL_MIN_POINTS {
            let (mut run, mut acc) = (0usize, 0usize);
            for (c, &count) in clusters.count.iter().enumerate() {
                acc += count as usize;
                while run + 1 < runs && acc * runs >= total * (run + 1) {
                    ends[run] = c + 1;
                    run += 1;
                }
            }
        }
        let (first, rest) = self.scratch.split_at_mut(1);
        let first = &mut first[0];
        if runs == 1 || ends[0] == clusters.count.len() {
            first.fit_range(&pts, &clusters, 0..clusters.count.len(), out, stats);
            return;
        }
        let tails = &mut self.tails;
        std::thread::scope(|scope| {
            for (k, (scratch, tail)) in rest.iter_mut().zip(tails.iter_mut()).enumerate() {
                let range = ends[k]..ends[k + 1];
                let (pts, clusters) = (&pts, &clusters);
                scope.spawn(move || {
                    tail.obstacles.clear();
                    tail.stats = LidarStats::default();
                    tail.trial_parts = scratch.fit_range(
                        pts,
                        clusters,
                        range,
                        &mut tail.obstacles,
                        &mut tail.stats,
                    );
                });
            }
            first.fit_range(&pts, &clusters, 0..ends[0], out, stats);
        });
        let written: usize =
            out.len() + self.tails.iter().map(|t| t.obstacles.len()).sum::<usize>();
        let most_trial_parts = self.tails.iter().map(|t| t.trial_parts).max().unwrap_or(0);
        if written + most_trial_parts <= self.cfg.max_obstacles {
            for tail in &self.tails {
                out.extend_from_slice(&tail.obstacles);
                stats.add_cluster_pass(&tail.stats);
            }
        } else {
            let range = ends[0]..clusters.count.len();
            first.fit_range(&pts, &clusters, range, out, stats);
        }
    }
}

/// What a run of clusters after the first wrote on its own thread.
#[derive(Debug)]
struct RunOutput {
    obstacles: Vec<Obstacle3D>,
    /// The counts of the cluster pass over this run.
    stats: LidarStats,
    /// The most parts of a split on trial in this run (0 when none was).
    trial_parts: usize,
}

/// The non-ground points, as the cluster pass reads them.
struct NonGround<'a> {
    cfg: &'a LidarConfig,
    x: &'a [f32],
    y: &'a [f32],
    z: &'a [f32],
    i: &'a [f32],
    ground: &'a [f32],
    dark_cue: bool,
}

/// The clusters as the counting sort left them: point count, start in `sorted`, and the
/// indices of the non-ground points grouped by cluster.
struct Clusters<'a> {
    count: &'a [u32],
    start: &'a [u32],
    sorted: &'a [u32],
}

/// Most threads of the cluster pass (`threads`).
const MAX_THREADS: usize = crate::config::MAX_THREADS;
/// Fewer non-ground points than this are fitted on one thread: starting another costs more.
const PARALLEL_MIN_POINTS: usize = 4096;

/// The buffers one thread of the cluster pass works in: the split of an oversized cluster and
/// the L-shape fit.
#[derive(Debug)]
struct ClusterScratch {
    grid: Vec<u32>,
    cells: Vec<u32>,
    slot: Vec<u32>,
    parent: Vec<u32>,
    part_id: Vec<u32>,
    count: Vec<u32>,
    start: Vec<u32>,
    part: Vec<u32>,
    fitter: LShapeFitter,
}

impl ClusterScratch {
    fn new(cfg: &LidarConfig) -> Self {
        let n = cfg.expected_points / 8;
        Self {
            grid: Vec::with_capacity(MAX_SPLIT_CELLS),
            cells: Vec::with_capacity(n),
            slot: Vec::with_capacity(n),
            parent: Vec::with_capacity(n),
            part_id: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            start: Vec::with_capacity(n),
            part: Vec::with_capacity(n),
            fitter: LShapeFitter::new(cfg.lshape_step_deg, cfg.lshape_max_points),
        }
    }

    /// Filters, fits and writes clusters `range` into `out`; returns the most parts of a split
    /// on trial among them (0 when none was).
    fn fit_range(
        &mut self,
        pts: &NonGround<'_>,
        clusters: &Clusters<'_>,
        range: std::ops::Range<usize>,
        out: &mut Vec<Obstacle3D>,
        stats: &mut LidarStats,
    ) -> usize {
        let mut most_trial_parts = 0;
        for c in range {
            let count = clusters.count[c] as usize;
            if count < pts.cfg.min_cluster_points as usize {
                stats.rejected_few_points += 1;
                continue;
            }
            let start = clusters.start[c] as usize;
            let idx = &clusters.sorted[start..start + count];
            match emit_cluster(pts, &mut self.fitter, idx, Role::Found, out, stats) {
                Emit::Done => {}
                Emit::Split { whole_if_one } => {
                    stats.split += 1;
                    let parts = self.split_cluster(pts, idx, whole_if_one, out, stats);
                    most_trial_parts = most_trial_parts.max(parts);
                }
            }
        }
        most_trial_parts
    }

    /// Splits one cluster on a fine local grid (`split_cell_m`, neighbouring cells joined) and
    /// emits its parts. With `whole_if_one` (a cluster split for its length alone), the split
    /// stands only when at least two parts get a class (a van and a car parked end to end, a
    /// cyclist passing a fence); otherwise the cluster is one long object (a truck, a bus, one
    /// seen in two pieces behind a car) and is written as found. Returns the number of parts
    /// when the split was on trial (its outcome depends on how full `out` is), else 0.
    fn split_cluster(
        &mut self,
        pts: &NonGround<'_>,
        idx: &[u32],
        whole_if_one: bool,
        out: &mut Vec<Obstacle3D>,
        stats: &mut LidarStats,
    ) -> usize {
        let cfg = pts.cfg;
        let cell = cfg.split_cell_m;
        let inv_cell = 1.0 / cell;
        let (mut x0, mut y0, mut x1, mut y1) = (
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        );
        for &p in idx {
            let (x, y) = (pts.x[p as usize], pts.y[p as usize]);
            x0 = lo(x0, x);
            y0 = lo(y0, y);
            x1 = hi(x1, x);
            y1 = hi(y1, y);
        }
        let nx = ((x1 - x0) / cell) as usize + 1;
        let ny = ((y1 - y0) / cell) as usize + 1;
        if nx.saturating_mul(ny) > MAX_SPLIT_CELLS {
            stats.rejected_size += 1;
            return 0;
        }
        self.grid.clear();
        self.grid.resize(nx * ny, NONE);
        self.cells.clear();
        self.slot.clear();
        for &p in idx {
            let gx = ((pts.x[p as usize] - x0) * inv_cell) as usize;
            let gy = ((pts.y[p as usize] - y0) * inv_cell) as usize;
            let gi = gy.min(ny - 1) * nx + gx.min(nx - 1);
            let mut slot = self.grid[gi];
            if slot == NONE {
                slot = self.cells.len() as u32;
                self.grid[gi] = slot;
                self.cells.push(gi as u32);
            }
            self.slot.push(slot);
        }
        self.parent.clear();
        self.parent.extend(0..self.cells.len() as u32);
        let (w, h) = (nx as isize, ny as isize);
        for slot in 0..self.cells.len() {
            let gi = self.cells[slot] as isize;
            let (gx, gy) = (gi % w, gi / w);
            let mut root = find(&mut self.parent, slot as u32);
            for (dx, dy) in [(1, 0), (-1, 1), (0, 1), (1, 1)] {
                let (ox, oy) = (gx + dx, gy + dy);
                if ox < 0 || ox >= w || oy >= h {
                    continue;
                }
                let other = self.grid[(oy * w + ox) as usize];
                if other != NONE {
                    root = link(&mut self.parent, root, other);
                }
            }
        }
        // Parts numbered in slot order; points grouped by part with a counting sort (stable).
        let cells = self.cells.len();
        self.part_id.clear();
        self.part_id.resize(cells, NONE);
        self.count.clear();
        for slot in 0..cells {
            let root = find(&mut self.parent, slot as u32) as usize;
            if self.part_id[root] == NONE {
                self.part_id[root] = self.count.len() as u32;
                self.count.push(0);
            }
            self.part_id[slot] = self.part_id[root];
        }
        for &slot in &self.slot {
            self.count[self.part_id[slot as usize] as usize] += 1;
        }
        self.start.clear();
        let mut acc = 0u32;
        for &c in &self.count {
            self.start.push(acc);
            acc += c;
        }
        let mut part = std::mem::take(&mut self.part);
        part.clear();
        part.resize(idx.len(), 0);
        for (k, &p) in idx.iter().enumerate() {
            let id = self.part_id[self.slot[k] as usize] as usize;
            part[self.start[id] as usize] = p;
            self.start[id] += 1;
        }
        // A split for length alone stands only when two parts get a class; there must be room
        // to take it back (every part written by pushing).
        let trial = whole_if_one && out.len() + self.count.len() <= cfg.max_obstacles;
        let (written_before, stats_before) = (out.len(), *stats);
        if !whole_if_one || trial {
            let mut end = 0usize;
            for id in 0..self.count.len() {
                let (start, count) = (end, self.count[id] as usize);
                end += count;
                if count < cfg.min_cluster_points as usize {
                    stats.rejected_few_points += 1;
                    continue;
                }
                emit_cluster(
                    pts,
                    &mut self.fitter,
                    &part[start..end],
                    Role::Part,
                    out,
                    stats,
                );
            }
        }
        self.part = part;
        if whole_if_one && (!trial || out.len() < written_before + 2) {
            out.truncate(written_before);
            *stats = stats_before;
            emit_cluster(pts, &mut self.fitter, idx, Role::Whole, out, stats);
        }
        if trial { self.count.len() } else { 0 }
    }
}

/// Filters, fits, classifies and writes one cluster. A cluster as found ([`Role::Found`])
/// too large for one object is not written: [`Emit::Split`] asks the caller to split it. A
/// part of a split cluster ([`Role::Part`]) is written only when the classifier gives it a
/// class: the rest of a wall stays dropped.
fn emit_cluster(
    pts: &NonGround<'_>,
    fitter: &mut LShapeFitter,
    idx: &[u32],
    role: Role,
    out: &mut Vec<Obstacle3D>,
    stats: &mut LidarStats,
) -> Emit {
    let cfg = pts.cfg;
    let part = role == Role::Part;
    let count = idx.len();
    let (mut zmin, mut zmax, mut gsum) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f32);
    let (mut zsum, mut zsq, mut isum) = (0.0f32, 0.0f32, 0.0f32);
    let mut dark = 0u32;
    for &p in idx {
        let p = p as usize;
        let z = pts.z[p];
        dark += u32::from(pts.i[p] < cfg.dark_reflectance);
        zmin = lo(zmin, z);
        zmax = hi(zmax, z);
        gsum += pts.ground[p];
        zsum += z;
        zsq += z * z;
        isum += pts.i[p];
    }
    let inv_count = 1.0 / count as f32;
    let ground = gsum * inv_count;
    let zmean = zsum * inv_count;
    let z_std_m = (zsq * inv_count - zmean * zmean).max(0.0).sqrt();
    let top_above_ground = zmax - ground;
    // A part of a split cluster is kept only with a class: none is this low.
    if top_above_ground < cfg.min_height_m || (part && top_above_ground < MIN_PART_TOP_M) {
        stats.rejected_size += 1;
        return Emit::Done;
    }
    let rect = fitter.fit(pts.x, pts.y, idx);
    let bottom = zmin.min(ground);
    let height = zmax - bottom;
    let is_wall = rect.length > cfg.max_length_m
        || rect.width > cfg.max_width_m
        || height > cfg.max_height_m
        || (rect.length > cfg.band_min_length_m && rect.width < cfg.band_max_width_m);
    let two_wide = rect.width > cfg.split_min_width_m;
    let two_long = rect.length > cfg.split_min_length_m;
    if role == Role::Found && (is_wall || two_wide || two_long) {
        return Emit::Split {
            whole_if_one: !is_wall && !two_wide,
        };
    }
    if is_wall {
        stats.rejected_size += 1;
        return Emit::Done;
    }
    let range = (rect.cx * rect.cx + rect.cy * rect.cy).sqrt();
    // The upper half of the cluster: how many points, and how far it spans along the
    // box's long side (a rider spans a fraction of the bicycle, a car's rear window
    // most of the car's width); how far its top quarter spans (a roof, or a pole); and
    // the vertical profile in `PROFILE_BANDS` bands from the ground threshold to the top.
    let half_m = ground + 0.5 * top_above_ground;
    let roof_m = ground + 0.75 * top_above_ground;
    let (ys, yc) = rect.yaw_rad.sin_cos();
    let (mut upper, mut umin, mut umax) = (0usize, f32::INFINITY, f32::NEG_INFINITY);
    let (mut rmin, mut rmax) = (f32::INFINITY, f32::NEG_INFINITY);
    let band_base = ground + cfg.ground_threshold_m;
    let inv_band = PROFILE_BANDS as f32 / (zmax - band_base).max(0.05);
    let mut profile = Profile::default();
    // The waist is read where the profile has enough returns: at 30 m and beyond a window
    // band of a vehicle may hold one ring of a few points.
    let read_waist = count >= WAIST_MIN_CLUSTER_POINTS && range < WAIST_MAX_RANGE_M;
    for &p in idx {
        let p = p as usize;
        let z = pts.z[p];
        if !read_waist && z <= half_m {
            continue;
        }
        let along = pts.x[p] * yc + pts.y[p] * ys;
        if read_waist {
            let across = pts.y[p] * yc - pts.x[p] * ys;
            profile.add(((z - band_base) * inv_band) as usize, along, across);
        }
        if z > half_m {
            upper += 1;
            umin = lo(umin, along);
            umax = hi(umax, along);
            if z > roof_m {
                rmin = lo(rmin, along);
                rmax = hi(rmax, along);
            }
        }
    }
    let span_ratio = |from: f32, to: f32| {
        if to >= from {
            ((to - from) / rect.length.max(0.05)).min(1.0)
        } else {
            0.0
        }
    };
    let upper_length_ratio = span_ratio(umin, umax);
    let class_probs = classify(&ClusterFeatures {
        length_m: rect.length,
        width_m: rect.width,
        top_above_ground_m: top_above_ground,
        points: count as u32,
        range_m: range,
        z_std_m,
        upper_fraction: upper as f32 * inv_count,
        upper_length_ratio,
        roof_length_ratio: span_ratio(rmin, rmax),
        waist_ratio: profile.waist_ratio(),
        mean_intensity: isum * inv_count,
        dark_fraction: if pts.dark_cue {
            dark as f32 * inv_count
        } else {
            f32::NAN
        },
    });
    let mut bbox = Box3::new(
        Vector3::new(
            f64::from(rect.cx),
            f64::from(rect.cy),
            f64::from(bottom + 0.5 * height),
        ),
        Vector3::new(
            f64::from(rect.length.max(0.1)),
            f64::from(rect.width.max(0.1)),
            f64::from(height.max(0.1)),
        ),
        f64::from(rect.yaw_rad),
    );
    let (class, probability) = class_probs.argmax();
    if part && class == ObjectClass::Unknown {
        stats.rejected_size += 1;
        return Emit::Done;
    }
    if class == ObjectClass::Car && probability >= cfg.vehicle_min_probability {
        // A van's length only with its height read from near enough (where the profile
        // is read): far, a cluster's top comes from a few rings, and a van-sized box of an
        // unlabelled far vehicle or a hedge projects past what it covers.
        let min_size_m = if height >= cfg.tall_vehicle_min_height_m && read_waist {
            cfg.tall_vehicle_min_size_m
        } else {
            cfg.vehicle_min_size_m
        };
        complete_vehicle(&mut bbox, min_size_m, cfg.vehicle_face_max_length_m);
    }
    let obstacle = Obstacle3D {
        bbox,
        num_points: count as u32,
        score: confidence(count, range, rect.length, height),
        class_probs,
    };
    if out.len() < cfg.max_obstacles {
        out.push(obstacle);
    } else {
        // Full: replace the weakest if this one is stronger.
        stats.rejected_capacity += 1;
        if let Some(weakest) = out
            .iter_mut()
            .min_by(|a, b| a.score.total_cmp(&b.score))
            .filter(|w| w.score < obstacle.score)
        {
            *weakest = obstacle;
        }
    }
    Emit::Done
}

/// What [`emit_cluster`] did with a cluster.
enum Emit {
    /// Written or rejected.
    Done,
    /// Too large for one object: split it. `whole_if_one`: split only for its length, so
    /// that a cluster that stays one part is written whole.
    Split { whole_if_one: bool },
}

/// What a cluster given to [`emit_cluster`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A connected component as found: split when too large for one object.
    Found,
    /// A cluster split for its length that stayed one part: written as found, not split again.
    Whole,
    /// One of the parts of a split cluster: written only with a class.
    Part,
}

/// Height bands of a cluster's vertical profile ([`Profile`]).
const PROFILE_BANDS: usize = 8;

/// A cluster's vertical profile: per height band (band 0 at the ground threshold, the last at
/// the top), the number of points and their extent along and across the box.
#[derive(Clone, Copy, Debug)]
struct Profile {
    count: [u32; PROFILE_BANDS],
    along: [(f32, f32); PROFILE_BANDS],
    across: [(f32, f32); PROFILE_BANDS],
}

impl Default for Profile {
    fn default() -> Self {
        let empty = (f32::INFINITY, f32::NEG_INFINITY);
        Self {
            count: [0; PROFILE_BANDS],
            along: [empty; PROFILE_BANDS],
            across: [empty; PROFILE_BANDS],
        }
    }
}

impl Profile {
    /// Adds a point in `band` (clamped to the profile) at `along`, `across` (m).
    fn add(&mut self, band: usize, along: f32, across: f32) {
        let b = band.min(PROFILE_BANDS - 1);
        self.count[b] += 1;
        let (a, c) = (&mut self.along[b], &mut self.across[b]);
        *a = (lo(a.0, along), hi(a.1, along));
        *c = (lo(c.0, across), hi(c.1, across));
    }

    /// Horizontal extent (diagonal of the bounding rectangle) of band `b`, m; 0 when empty.
    fn extent(&self, b: usize) -> f32 {
        if self.count[b] == 0 {
            return 0.0;
        }
        let (a, c) = (self.along[b], self.across[b]);
        (a.1 - a.0).hypot(c.1 - c.0)
    }

    /// The narrowest waist: the smallest ratio, over the bands from the third to the
    /// second-to-last that hold at least `WAIST_MIN_POINTS` points, of a band's extent to the
    /// smaller of the widest band below it and the widest above it (when that is wider than
    /// `WAIST_MIN_ABOVE_M`). 1 when no band qualifies. A vehicle narrows at most to its cabin;
    /// a trunk or a post with foliage or a sign above something lower has a waist near 0.
    fn waist_ratio(&self) -> f32 {
        let ext: [f32; PROFILE_BANDS] = std::array::from_fn(|b| self.extent(b));
        let mut ratio = 1.0f32;
        for j in 2..PROFILE_BANDS - 1 {
            if self.count[j] < WAIST_MIN_POINTS {
                continue;
            }
            let below = ext[..j].iter().fold(0.0f32, |m, &e| m.max(e));
            let above = ext[j + 1..].iter().fold(0.0f32, |m, &e| m.max(e));
            if above > WAIST_MIN_ABOVE_M {
                ratio = ratio.min(ext[j] / below.min(above).max(0.05));
            }
        }
        ratio.min(1.0)
    }
}

/// A cluster's waist is read only with at least this many points ...
const WAIST_MIN_CLUSTER_POINTS: usize = 60;
/// ... and closer than this, m.
const WAIST_MAX_RANGE_M: f32 = 30.0;
/// A band holds a waist only with at least this many points (a pole or a trunk gives some;
/// a window band of a far vehicle may give one or two).
const WAIST_MIN_POINTS: u32 = 3;
/// A waist needs something at least this wide above it, m.
const WAIST_MIN_ABOVE_M: f32 = 0.8;

/// The reflectance cue is used in a sweep when at least this share of its non-ground returns
/// is dark (KITTI's HDL-64E: 20-30% on sequence 0000; the simulator: none).
const DARK_MIN_SCAN_SHARE: f32 = 0.05;

/// The share of dark returns in a sweep is estimated on every this many non-ground returns.
const DARK_SAMPLE_STEP: usize = 8;

/// A part of a split cluster lower than this (top above ground) can have no class, m.
const MIN_PART_TOP_M: f32 = 0.9;

/// Most cells of the local grid a cluster is split on (larger clusters are dropped).
const MAX_SPLIT_CELLS: usize = 1 << 15;

/// Completes the box of a vehicle of which the lidar saw one or two faces: a short visible
/// side is the front or rear (the box turns by 90 degrees so that it is the width), and the box
/// grows away from the sensor to the configured minimum size.
fn complete_vehicle(bbox: &mut Box3, min_size_m: [f32; 2], face_max_length_m: f32) {
    let [min_length_m, min_width_m] = min_size_m.map(f64::from);
    if min_length_m <= 0.0 && min_width_m <= 0.0 {
        return;
    }
    if bbox.size.x <= f64::from(face_max_length_m) {
        bbox.size = Vector3::new(bbox.size.y, bbox.size.x, bbox.size.z);
        bbox.yaw_rad = wrap_angle(bbox.yaw_rad + std::f64::consts::FRAC_PI_2);
    }
    bbox.grow_away_from_origin([min_length_m, min_width_m]);
}

/// Confidence that a cluster is a real obstacle: enough returns for its range (the return
/// density of a surface falls with the square of the range) and a plausible shape.
fn confidence(points: usize, range_m: f32, length_m: f32, height_m: f32) -> f32 {
    let r = range_m.max(5.0);
    let density = points as f32 * r * r / 2.0e4;
    let support = 1.0 - (-density).exp();
    let shape = if (0.5..=4.2).contains(&height_m) && length_m <= 13.0 {
        1.0
    } else {
        0.6
    };
    (support * shape).clamp(0.0, 1.0)
}

fn find(parent: &mut [u32], mut a: u32) -> u32 {
    while parent[a as usize] != a {
        let grand = parent[parent[a as usize] as usize];
        parent[a as usize] = grand;
        a = grand;
    }
    a
}

/// Joins the set whose root is `root` with `b`'s and returns the joined set's root. The smaller
/// index becomes the root (every root is its set's smallest member): deterministic cluster
/// order, and a caller joining many neighbours to one cell keeps its root instead of finding it
/// again for each.
fn link(parent: &mut [u32], root: u32, b: u32) -> u32 {
    let rb = find(parent, b);
    let (lo, hi) = if root < rb { (root, rb) } else { (rb, root) };
    parent[hi as usize] = lo;
    lo
}

/// Makes `v` at least `n` long, filling new entries with `fill`; never shrinks it, so a
/// steady stream of sweeps writes each buffer once per sweep instead of clearing it too.
fn grow_to<T: Copy>(v: &mut Vec<T>, n: usize, fill: T) {
    if v.len() < n {
        v.resize(n, fill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::recall::bev_recall;
    use crate::synthetic::{SceneSpec, generate};

    #[test]
    fn finds_synthetic_obstacles_on_a_slope_and_drops_walls() {
        let scene = generate(&SceneSpec::default());
        let mut det = LidarDetector::new(&LidarConfig::default());
        let mut out = Vec::new();
        let stats = det.process(&scene.cloud, &mut out);
        // Objects within 50 m. Some are partly hidden and a car seen only from behind gives
        // just its rear face (center 2 m off), so not all are found within 1 m.
        let visible: Vec<Box3> = scene
            .objects
            .iter()
            .filter(|b| b.center.xy().norm() < 50.0)
            .copied()
            .collect();
        let r = bev_recall(&visible, &out, 1.0);
        assert!(r.recall() >= 0.7, "{r:?} {stats:?}");
        // Every pedestrian is found (they stand clear of the lanes).
        let people: Vec<Box3> = visible.iter().filter(|b| b.size.x < 1.0).copied().collect();
        assert_eq!(bev_recall(&people, &out, 0.5).found, people.len());
        // The truck (partly hidden by a car) is kept, the roadside wall and the building ring are not obstacles.
        assert!(
            out.iter()
                .any(|o| o.bbox.size.x > 8.0 && o.bbox.size.z > 2.4),
            "truck missing"
        );
        assert!(out.iter().all(|o| o.bbox.size.x < 22.0));
        assert!(stats.rejected_size >= 2, "{stats:?}");
        // The 6% climb is ground, not an obstacle: few points high above it remain unclustered.
        assert!(stats.ground > stats.non_ground, "{stats:?}");
        assert!(out.iter().all(|o| o.score > 0.0 && o.score <= 1.0));
    }

    #[test]
    fn bad_points_and_empty_clouds_are_counted_not_fatal() {
        let mut det = LidarDetector::new(&LidarConfig::default());
        let mut out = Vec::new();
        let stats = det.process(&PointCloud::default(), &mut out);
        assert_eq!(stats, LidarStats::default());
        let mut cloud = generate(&SceneSpec {
            points: 30_000,
            ..SceneSpec::default()
        })
        .cloud;
        let clean = det.process(&cloud, &mut out);
        for (i, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
            .into_iter()
            .enumerate()
        {
            cloud.x.push(v);
            cloud.y.push(1.0);
            cloud.z.push(0.0);
            cloud.x.push(1e30 * (i as f32 + 1.0));
            cloud.y.push(-3e38);
            cloud.z.push(1e20);
        }
        cloud.intensity.resize(cloud.x.len(), 0.0);
        let stats = det.process(&cloud, &mut out);
        assert_eq!(stats.non_finite, 3);
        assert_eq!(stats.cropped, clean.cropped + 3);
        assert_eq!(stats.obstacles, clean.obstacles);
        // Channels of different lengths: the common prefix is used, no panic.
        cloud.z.truncate(100);
        let stats = det.process(&cloud, &mut out);
        assert!(stats.ground + stats.non_ground <= 100);
        let bad = LidarConfig {
            max_range_m: f32::NAN,
            ..LidarConfig::default()
        };
        assert!(LidarDetector::try_new(&bad).is_err());
        assert!(std::panic::catch_unwind(|| LidarDetector::new(&bad)).is_err());
    }

    /// Points on a surface: a vertical strip from `(x0, y0)` to `(x1, y1)`, `z0..z1`.
    fn strip(cloud: &mut PointCloud, a: (f32, f32), b: (f32, f32), z: (f32, f32), step_m: f32) {
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let (n, m) = (
            (len / step_m) as usize + 1,
            ((z.1 - z.0) / step_m) as usize + 1,
        );
        for i in 0..n {
            let t = i as f32 / (n - 1).max(1) as f32;
            for j in 0..m {
                cloud.push_xyzi(
                    a.0 + t * (b.0 - a.0),
                    a.1 + t * (b.1 - a.1),
                    z.0 + j as f32 * step_m,
                    0.2,
                );
            }
        }
    }

    #[test]
    fn a_pedestrian_beside_a_wall_is_split_off_and_classified() {
        let ground_z = -1.73;
        let mut cloud = PointCloud::default();
        for i in 0..130 {
            for j in 0..80 {
                cloud.push_xyzi(3.0 + i as f32 * 0.2, -8.0 + j as f32 * 0.2, ground_z, 0.1);
            }
        }
        // A 24 m wall along x at y = 5, and a person 0.6 m in front of it.
        strip(
            &mut cloud,
            (4.0, 5.0),
            (28.0, 5.0),
            (ground_z, ground_z + 2.5),
            0.08,
        );
        for (dx, dy) in [(0.0, 0.0), (0.0, 0.3), (0.4, 0.0), (0.4, 0.3)] {
            strip(
                &mut cloud,
                (14.0 + dx, 4.1 + dy),
                (14.0 + dx, 4.1 + dy),
                (ground_z + 0.05, ground_z + 1.75),
                0.05,
            );
        }
        strip(
            &mut cloud,
            (14.0, 4.1),
            (14.4, 4.1),
            (ground_z + 0.05, ground_z + 1.75),
            0.05,
        );
        strip(
            &mut cloud,
            (14.0, 4.4),
            (14.4, 4.4),
            (ground_z + 0.05, ground_z + 1.75),
            0.05,
        );
        let mut det = LidarDetector::new(&LidarConfig::default());
        let mut out = Vec::new();
        let stats = det.process(&cloud, &mut out);
        assert!(stats.split >= 1, "{stats:?} {out:?}");
        let person = out
            .iter()
            .find(|o| (o.bbox.center.x - 14.2).abs() < 0.5 && (o.bbox.center.y - 4.25).abs() < 0.5);
        let person = person.unwrap_or_else(|| panic!("no pedestrian in {out:?}"));
        assert_eq!(
            person.class_probs.argmax().0,
            ObjectClass::Pedestrian,
            "{person:?}"
        );
        // The rest of the wall stays dropped.
        assert!(out.iter().all(|o| o.bbox.size.x < 10.0), "{out:?}");
    }

    #[test]
    fn profile_waist_tells_a_tree_over_a_bush_from_a_van() {
        // Bands from the ground up: (points, along extent, across extent), m.
        let profile = |bands: [(u32, f32, f32); PROFILE_BANDS]| {
            let mut p = Profile::default();
            for (b, (n, along, across)) in bands.into_iter().enumerate() {
                for k in 0..n {
                    let t = k as f32 / (n.max(2) - 1) as f32;
                    p.add(b, along * t, across * t);
                }
            }
            p
        };
        let tree_over_bush = profile([
            (40, 3.0, 1.5),
            (40, 3.0, 1.4),
            (30, 2.6, 1.2),
            (10, 0.3, 0.2),
            (8, 0.3, 0.2),
            (8, 0.2, 0.2),
            (12, 1.0, 1.0),
            (40, 2.3, 2.0),
        ]);
        assert!(tree_over_bush.waist_ratio() < 0.15);
        // A van narrows to its cabin, and a window band with a single return holds no waist.
        let van = profile([
            (60, 4.5, 1.8),
            (60, 4.5, 1.8),
            (60, 4.5, 1.8),
            (50, 4.4, 1.8),
            (40, 4.0, 1.7),
            (1, 0.0, 0.0),
            (30, 3.5, 1.7),
            (30, 3.5, 1.7),
        ]);
        assert!(van.waist_ratio() > 0.7, "{}", van.waist_ratio());
        assert_eq!(Profile::default().waist_ratio(), 1.0);
    }

    /// A car-sized L of points: its left flank along x from `x0` (4.2 m) at `y0`, its rear
    /// face at `x0` across to `y0 + 1.7`, 1.45 m tall.
    fn car(cloud: &mut PointCloud, x0: f32, y0: f32, ground_z: f32) {
        let z = (ground_z + 0.3, ground_z + 1.45);
        strip(cloud, (x0, y0), (x0 + 4.2, y0), z, 0.06);
        strip(cloud, (x0, y0), (x0, y0 + 1.7), z, 0.06);
    }

    #[test]
    fn vehicles_parked_end_to_end_are_split_and_one_vehicle_is_not() {
        let ground_z = -1.73;
        let mut cloud = PointCloud::default();
        for i in 0..160 {
            for j in 0..80 {
                cloud.push_xyzi(3.0 + i as f32 * 0.2, -8.0 + j as f32 * 0.2, ground_z, 0.1);
            }
        }
        // Two cars 0.5 m apart, nose to tail: one cluster 8.9 m long.
        car(&mut cloud, 10.0, 4.0, ground_z);
        car(&mut cloud, 14.7, 4.0, ground_z);
        let mut det = LidarDetector::new(&LidarConfig::default());
        let mut out = Vec::new();
        let stats = det.process(&cloud, &mut out);
        assert_eq!(stats.split, 1, "{stats:?} {out:?}");
        let cars: Vec<_> = out
            .iter()
            .filter(|o| o.class_probs.argmax().0 == ObjectClass::Car)
            .collect();
        assert_eq!(cars.len(), 2, "{out:?}");
        // With a cell the gap does not show, the split does not stand: one cluster, written
        // whole.
        let coarse = LidarConfig {
            split_cell_m: 0.6,
            ..LidarConfig::default()
        };
        let mut det = LidarDetector::new(&coarse);
        let stats = det.process(&cloud, &mut out);
        assert_eq!(stats.split, 1, "{stats:?}");
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].bbox.size.x > 8.0, "{out:?}");
    }

    #[test]
    fn a_tall_vehicle_grows_to_a_van_only_where_its_profile_is_read() {
        let ground_z = -1.73;
        let cfg = LidarConfig::default();
        // A van's rear corner: 3.0 m of flank and 1.9 m of rear face, top 2.0 m above the
        // ground, near (12 m) and beyond the range where the profile is read (36 m).
        let mut lengths = Vec::new();
        for x0 in [12.0f32, WAIST_MAX_RANGE_M + 6.0] {
            let mut cloud = PointCloud::default();
            for i in 0..250 {
                for j in 0..60 {
                    cloud.push_xyzi(3.0 + i as f32 * 0.2, -6.0 + j as f32 * 0.2, ground_z, 0.1);
                }
            }
            let z = (ground_z + 0.3, ground_z + 2.0);
            strip(&mut cloud, (x0, 2.0), (x0 + 3.0, 2.0), z, 0.06);
            strip(&mut cloud, (x0, 2.0), (x0, 3.9), z, 0.06);
            let mut out = Vec::new();
            LidarDetector::new(&cfg).process(&cloud, &mut out);
            let van = out
                .iter()
                .find(|o| o.class_probs.argmax().0 == ObjectClass::Car)
                .unwrap_or_else(|| panic!("no vehicle at {x0} m: {out:?}"));
            lengths.push(van.bbox.size.x);
        }
        let [near, far] = [lengths[0], lengths[1]];
        assert!(
            (near - f64::from(cfg.tall_vehicle_min_size_m[0])).abs() < 0.05,
            "{lengths:?}"
        );
        // Far, the top does not tell a van from a car: grown to a car's length only.
        assert!(
            (far - f64::from(cfg.vehicle_min_size_m[0])).abs() < 0.05,
            "{lengths:?}"
        );
    }

    #[test]
    fn a_warmed_up_stage_gives_what_a_fresh_one_gives() {
        let cfg = LidarConfig::default();
        let scene = crate::synthetic::generate(&crate::synthetic::SceneSpec {
            points: 30_000,
            seed: 3,
            ..Default::default()
        });
        let (mut fresh, mut warm) = (Vec::new(), Vec::new());
        let fresh_stats = LidarDetector::new(&cfg).process(&scene.cloud, &mut fresh);
        let mut det = LidarDetector::new(&cfg);
        det.warm_up();
        assert_eq!(det.process(&scene.cloud, &mut warm), fresh_stats);
        assert_eq!(format!("{warm:?}"), format!("{fresh:?}"));
    }

    #[test]
    fn any_number_of_threads_gives_the_same_obstacles_also_when_out_of_room() {
        let scene = crate::synthetic::generate(&crate::synthetic::SceneSpec::default());
        for max_obstacles in [1024, 12, 3] {
            let run = |threads| {
                let cfg = LidarConfig {
                    threads,
                    max_obstacles,
                    ..LidarConfig::default()
                };
                let mut out = Vec::new();
                let stats = LidarDetector::new(&cfg).process(&scene.cloud, &mut out);
                assert!(stats.non_ground >= PARALLEL_MIN_POINTS, "{stats:?}");
                (stats, format!("{out:?}"))
            };
            let one = run(1);
            for threads in [2, 3, MAX_THREADS] {
                assert_eq!(run(threads), one, "{threads} threads, max {max_obstacles}");
            }
        }
    }
}
