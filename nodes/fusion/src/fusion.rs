//! The late-fusion step: time sync, projection, optimal association, merging, classification.

use crate::config::FusionConfig;
use crate::evidence::{self, Clusters, Depth, Rejection, View};
use crate::project::Projector;
use crate::report::{CameraReport, CameraStatus, FusionReport, MAX_CAMERAS};
use fusionrt_core::assignment::Assignment;
use fusionrt_core::calib::CalibError;
use fusionrt_core::objects::NUM_CLASSES;
use fusionrt_core::{
    BBox2, Box3, CameraCalib, CameraDetections, ClassProbs, FusedObject, ObjectClass, Obstacle3D,
    SensorSupport,
};
use fusionrt_lidar::classify;
use nalgebra::Vector3;
use tracing::{debug, warn};

/// Cost of an infeasible pair in the assignment: above any sum of feasible costs (each <= 1).
const INFEASIBLE: f64 = 1e9;

/// A usable detection of the current camera.
#[derive(Clone, Copy, Debug)]
struct Det {
    /// Box clipped to the image.
    bbox: BBox2,
    /// Box scaled for the containment gate.
    gate_box: BBox2,
    class: ObjectClass,
    score: f32,
    /// Absorbed into another detection (a rider).
    absorbed: bool,
}

/// A cluster-detection pair that passed the gates.
#[derive(Clone, Copy, Debug)]
struct Pair {
    cluster: u32,
    det: u32,
    iou: f32,
    /// The class this pair gives the cluster (a person on a bicycle-sized cluster: cyclist).
    class: ObjectClass,
    /// Passes the IoU gate too: may be a detection's primary cluster. Pairs that pass only the
    /// containment gate can still join a matched detection as fragments.
    primary: bool,
}

/// Camera evidence gathered for one cluster.
#[derive(Clone, Copy, Debug, Default)]
struct Evidence {
    /// Sum of detection scores per class.
    class_score: [f32; NUM_CLASSES],
    /// Highest detection score.
    best_score: f32,
    /// IoU of the best-overlapping detection.
    best_iou: f32,
    camera_mask: u8,
    camera_box: Option<(usize, BBox2)>,
}

impl Evidence {
    fn add(&mut self, camera: usize, det: &Det, class: ObjectClass, iou: f32) {
        self.class_score[class.index()] += det.score;
        self.best_score = self.best_score.max(det.score);
        self.camera_mask |= 1 << camera;
        if self.camera_box.is_none() || iou > self.best_iou {
            self.best_iou = iou;
            self.camera_box = Some((camera, det.bbox));
        }
    }

    fn merge(&mut self, other: &Evidence) {
        for (a, b) in self.class_score.iter_mut().zip(other.class_score.iter()) {
            *a += b;
        }
        self.best_score = self.best_score.max(other.best_score);
        self.camera_mask |= other.camera_mask;
        if other.camera_box.is_some()
            && (self.camera_box.is_none() || other.best_iou > self.best_iou)
        {
            self.best_iou = other.best_iou;
            self.camera_box = other.camera_box;
        }
    }
}

/// Union-find over `0..n` with path halving; the smaller index becomes the root.
#[derive(Debug, Default)]
struct UnionFind(Vec<u32>);

impl UnionFind {
    fn reset(&mut self, n: usize) {
        self.0.clear();
        self.0.extend(0..n as u32);
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.0[i as usize] != i {
            let parent = self.0[self.0[i as usize] as usize];
            self.0[i as usize] = parent;
            i = parent;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// Late fusion of lidar obstacles with 2D detections from up to [`MAX_CAMERAS`] cameras.
///
/// Per lidar sweep: each camera's nearest frame within the tolerance is picked; every lidar box
/// is projected into every camera (corners clipped at the near plane, then to the image); a
/// cluster-detection pair is feasible when enough of the cluster's ROI lies inside the
/// detection (containment gate) with a minimum IoU and a plausible size for the class; the
/// feasible pairs are assigned one-to-one, maximizing the number of matches and then the total
/// IoU (Hungarian method per connected component); a pair may be a primary match only when the
/// detection has evidence for the cluster ([`crate::EvidenceConfig`]: a consistent depth, no
/// nearer occluder that explains it, more than background); further clusters inside a matched
/// detection and close to its cluster join it (fragments of one object are merged). Score comes
/// from the cameras, the class from the cameras combined with the lidar classifier's
/// (`fusionrt_lidar::classify::combine`, weight [`FusionConfig::lidar_class_weight`]); clusters
/// no camera supports stay `unknown` with the lidar's point support as score, or take the
/// lidar's class (`lidar_only_classes`) and score the point support times its probability.
///
/// `new` allocates; `process` reuses the buffers.
#[derive(Debug)]
pub struct LateFusion {
    cfg: FusionConfig,
    calib_errors: Vec<Option<CalibError>>,
    last_status: [CameraStatus; MAX_CAMERAS],
    valid: Vec<bool>,
    rois: Vec<Option<BBox2>>,
    /// Depths of each cluster along the current camera's optical axis.
    depths: Vec<Depth>,
    dets: Vec<Det>,
    pairs: Vec<Pair>,
    primary_of_det: Vec<Option<u32>>,
    det_of_cluster: Vec<Option<u32>>,
    merge_candidate: Vec<Option<Pair>>,
    evidence: Vec<Evidence>,
    clusters: UnionFind,
    components: UnionFind,
    /// (component root, pair index).
    component_pairs: Vec<(u32, u32)>,
    local_row: Vec<u32>,
    local_col: Vec<u32>,
    rows: Vec<u32>,
    cols: Vec<u32>,
    cost: Vec<f64>,
    row_to_col: Vec<Option<usize>>,
    solver: Assignment,
    /// (group root, cluster), sorted.
    groups: Vec<(u32, u32)>,
    group_members: Vec<u32>,
}

impl LateFusion {
    /// A fusion stage with `cfg`.
    pub fn new(cfg: &FusionConfig) -> Self {
        let cap = 256;
        Self {
            cfg: cfg.clone(),
            calib_errors: Vec::with_capacity(MAX_CAMERAS),
            last_status: [CameraStatus::Missing; MAX_CAMERAS],
            valid: Vec::with_capacity(cap),
            rois: Vec::with_capacity(cap),
            depths: Vec::with_capacity(cap),
            dets: Vec::with_capacity(cap),
            pairs: Vec::with_capacity(4 * cap),
            primary_of_det: Vec::with_capacity(cap),
            det_of_cluster: Vec::with_capacity(cap),
            merge_candidate: Vec::with_capacity(cap),
            evidence: Vec::with_capacity(cap),
            clusters: UnionFind(Vec::with_capacity(cap)),
            components: UnionFind(Vec::with_capacity(2 * cap)),
            component_pairs: Vec::with_capacity(4 * cap),
            local_row: Vec::with_capacity(cap),
            local_col: Vec::with_capacity(cap),
            rows: Vec::with_capacity(cap),
            cols: Vec::with_capacity(cap),
            cost: Vec::with_capacity(cap * cap),
            row_to_col: Vec::with_capacity(cap),
            solver: Assignment::new(),
            groups: Vec::with_capacity(cap),
            group_members: Vec::with_capacity(cap),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &FusionConfig {
        &self.cfg
    }

    /// Why camera `index` was not used in the last step, when its calibration was invalid.
    pub fn calib_error(&self, index: usize) -> Option<&CalibError> {
        self.calib_errors.get(index).and_then(Option::as_ref)
    }

    /// Fuses one lidar sweep's obstacles with the cameras' detections into `out` (cleared
    /// first), in the lidar frame.
    ///
    /// `cameras[i]` calibrates camera index `i`. `camera_frames` may hold several frames per
    /// camera in any order; per camera the frame nearest `lidar_stamp_ns` is used when within
    /// [`FusionConfig::tolerance_ns`]. A camera without a usable frame or calibration leaves its
    /// objects lidar-only, and the report says why. Never panics on bad input: invalid boxes,
    /// detections and calibrations are counted and skipped.
    pub fn process(
        &mut self,
        lidar_stamp_ns: i64,
        obstacles: &[Obstacle3D],
        cameras: &[CameraCalib],
        camera_frames: &[CameraDetections],
        out: &mut Vec<FusedObject>,
    ) -> FusionReport {
        let _span = tracing::debug_span!("fusion", lidar_stamp_ns).entered();
        out.clear();
        let n = obstacles.len();
        let num_cameras = cameras.len().min(MAX_CAMERAS);
        let mut report = FusionReport {
            lidar_stamp_ns,
            num_cameras,
            cameras_ignored: (cameras.len() - num_cameras) as u32,
            obstacles: n as u32,
            ..FusionReport::default()
        };

        self.valid.clear();
        self.valid
            .extend(obstacles.iter().map(|o| o.bbox.is_valid()));
        report.obstacles_invalid = self.valid.iter().filter(|v| !**v).count() as u32;
        self.evidence.clear();
        self.evidence.resize(n, Evidence::default());
        self.clusters.reset(n);

        // Time sync: the nearest frame per camera.
        let mut nearest: [Option<(usize, i64)>; MAX_CAMERAS] = [None; MAX_CAMERAS];
        for (k, frame) in camera_frames.iter().enumerate() {
            if frame.camera_index >= cameras.len() {
                report.frames_without_calib += 1;
                continue;
            }
            if frame.camera_index >= MAX_CAMERAS {
                continue;
            }
            let offset = frame.stamp_ns.saturating_sub(lidar_stamp_ns);
            let slot = &mut nearest[frame.camera_index];
            if slot.is_none_or(|(_, best)| offset.unsigned_abs() < best.unsigned_abs()) {
                *slot = Some((k, offset));
            }
        }

        self.calib_errors.clear();
        for (ci, calib) in cameras.iter().take(num_cameras).enumerate() {
            let error = calib.validate().err();
            let status = match (&error, nearest[ci]) {
                (Some(_), _) => CameraStatus::InvalidCalib,
                (None, None) => CameraStatus::Missing,
                (None, Some((_, offset)))
                    if offset.unsigned_abs() > self.cfg.tolerance_ns.unsigned_abs() =>
                {
                    CameraStatus::TooFarApart { offset_ns: offset }
                }
                (None, Some((_, offset))) => CameraStatus::Used { offset_ns: offset },
            };
            let changed =
                std::mem::discriminant(&status) != std::mem::discriminant(&self.last_status[ci]);
            if changed {
                match (&status, &error) {
                    (CameraStatus::InvalidCalib, Some(e)) => {
                        warn!(camera = %calib.name, "calibration rejected, camera not fused: {e}")
                    }
                    (CameraStatus::Missing, _) => {
                        warn!(camera = %calib.name, "no camera frame for the sweep: lidar-only")
                    }
                    (CameraStatus::TooFarApart { offset_ns }, _) => warn!(
                        camera = %calib.name,
                        offset_ms = *offset_ns as f64 * 1e-6,
                        tolerance_ms = self.cfg.tolerance_ns as f64 * 1e-6,
                        "camera frame too far from the sweep: lidar-only"
                    ),
                    _ => {}
                }
            }
            self.last_status[ci] = status;
            self.calib_errors.push(error);
            report.cameras[ci].status = status;
            if let (CameraStatus::Used { .. }, Some((k, _))) = (status, nearest[ci]) {
                report.cameras[ci] =
                    self.fuse_camera(ci, calib, obstacles, &camera_frames[k], status);
            }
        }

        self.emit(obstacles, out, &mut report);
        report
    }

    /// Associates one camera's detections with the obstacles; adds evidence and merges.
    fn fuse_camera(
        &mut self,
        ci: usize,
        calib: &CameraCalib,
        obstacles: &[Obstacle3D],
        frame: &CameraDetections,
        status: CameraStatus,
    ) -> CameraReport {
        let cfg = &self.cfg;
        let mut rep = CameraReport {
            status,
            detections: frame.detections.len() as u32,
            ..CameraReport::default()
        };
        let (w, h) = (calib.model.width as f32, calib.model.height as f32);

        // Usable detections, clipped to the image.
        self.dets.clear();
        for d in &frame.detections {
            if !d.bbox.is_valid() || !d.score.is_finite() {
                rep.rejected_invalid += 1;
                continue;
            }
            if d.score < cfg.min_detection_score {
                rep.below_score += 1;
                continue;
            }
            let bbox = d.bbox.clamped(w, h);
            if bbox.width() <= 0.0 || bbox.height() <= 0.0 {
                rep.rejected_outside += 1;
                continue;
            }
            self.dets.push(Det {
                bbox,
                gate_box: scaled(&bbox, cfg.detection_box_scale),
                class: d.class,
                score: d.score,
                absorbed: false,
            });
        }
        rep.riders = absorb_riders(&mut self.dets, cfg);

        // ROIs of the obstacles in this camera.
        let projector = Projector::new(calib, cfg.near_plane_m);
        self.rois.clear();
        for (o, valid) in obstacles.iter().zip(&self.valid) {
            let roi = if *valid {
                projector.box_roi(&o.bbox)
            } else {
                None
            };
            rep.visible_obstacles += u32::from(roi.is_some());
            self.rois.push(roi);
        }
        self.depths.clear();
        self.depths
            .extend(obstacles.iter().map(|o| Depth::of(calib, o)));
        let view = View::new(calib);

        // Gated pairs.
        self.pairs.clear();
        for (k, roi) in self.rois.iter().enumerate() {
            let Some(roi) = roi else { continue };
            let roi_area = roi.area();
            let footprint = obstacles[k].bbox.size.xy().norm();
            for (j, d) in self.dets.iter().enumerate() {
                if d.absorbed {
                    continue;
                }
                let mut class = d.class;
                if class == ObjectClass::Pedestrian
                    && footprint > cfg.gates.pedestrian.max_footprint_m
                    && obstacles[k].bbox.size.x >= cfg.rider_min_length_m
                {
                    // A person whose lidar footprint is a two-wheeler's: a cyclist whose
                    // bicycle the camera missed.
                    class = ObjectClass::Bicycle;
                }
                let gate = cfg.gate(class);
                if footprint > gate.max_footprint_m {
                    continue;
                }
                let inter = roi.intersection(&d.gate_box);
                // The cluster's ROI inside the detection, or (a loose lidar box around a thin
                // object) the detection inside a ROI that is not much larger.
                let contained = inter >= gate.min_containment * roi_area
                    || (inter >= cfg.min_detection_in_roi * d.gate_box.area()
                        && roi_area <= cfg.max_roi_to_detection_area * d.bbox.area());
                if !contained {
                    continue;
                }
                let iou = roi.iou(&d.bbox);
                let mut primary = iou >= gate.min_iou;
                if primary && cfg.evidence.enabled {
                    let clusters = Clusters {
                        obstacles,
                        rois: &self.rois,
                        depths: &self.depths,
                    };
                    let verdict = evidence::check(
                        &cfg.evidence,
                        &view,
                        cfg.near_plane_m,
                        &d.bbox,
                        class,
                        gate.merge_radius_m,
                        k,
                        &clusters,
                    );
                    if let Err(reason) = verdict {
                        debug!(
                            ?reason,
                            class = class.name(),
                            score = d.score,
                            box_px = ?[d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
                            center_m = ?[obstacles[k].bbox.center.x, obstacles[k].bbox.center.y],
                            depth_m = self.depths[k].center_m,
                            "pair refused: no evidence"
                        );
                    }
                    match verdict {
                        Ok(()) => {}
                        Err(Rejection::Depth) => rep.rejected_depth += 1,
                        Err(Rejection::Occluded) => rep.rejected_occluded += 1,
                        Err(Rejection::Background) => rep.rejected_background += 1,
                    }
                    primary = verdict.is_ok();
                }
                self.pairs.push(Pair {
                    cluster: k as u32,
                    det: j as u32,
                    iou,
                    class,
                    primary,
                });
            }
        }

        self.assign(obstacles.len());
        let cfg = &self.cfg;

        // Primary matches give evidence; unmatched clusters inside a matched detection and
        // near its primary cluster join it.
        self.merge_candidate.clear();
        self.merge_candidate.resize(obstacles.len(), None);
        for p in &self.pairs {
            let (k, j) = (p.cluster as usize, p.det as usize);
            if self.det_of_cluster[k] == Some(p.det) {
                self.evidence[k].add(ci, &self.dets[j], p.class, p.iou);
            } else if self.det_of_cluster[k].is_none()
                && let Some(primary) = self.primary_of_det[j]
            {
                let radius = cfg.gate(p.class).merge_radius_m;
                let near = obstacles[k]
                    .bbox
                    .bev_distance(&obstacles[primary as usize].bbox)
                    <= radius;
                if near && self.merge_candidate[k].is_none_or(|c| p.iou > c.iou) {
                    self.merge_candidate[k] = Some(*p);
                }
            }
        }
        for k in 0..obstacles.len() {
            if let Some(p) = self.merge_candidate[k]
                && let Some(primary) = self.primary_of_det[p.det as usize]
            {
                let class = if p.class == ObjectClass::Bicycle {
                    p.class
                } else {
                    self.dets[p.det as usize].class
                };
                self.evidence[k].add(ci, &self.dets[p.det as usize], class, p.iou);
                self.clusters.union(k as u32, primary);
            }
        }
        rep.matched = self.primary_of_det.iter().filter(|p| p.is_some()).count() as u32;
        rep
    }

    /// Optimal one-to-one assignment over the gated pairs, solved per connected component of
    /// the cluster-detection graph: fills `det_of_cluster` and `primary_of_det`.
    fn assign(&mut self, num_clusters: usize) {
        let num_dets = self.dets.len();
        self.det_of_cluster.clear();
        self.det_of_cluster.resize(num_clusters, None);
        self.primary_of_det.clear();
        self.primary_of_det.resize(num_dets, None);
        // Nodes: clusters 0..n, detections n..n+m.
        self.components.reset(num_clusters + num_dets);
        for p in self.pairs.iter().filter(|p| p.primary) {
            self.components
                .union(p.cluster, num_clusters as u32 + p.det);
        }
        // Pairs ordered by component, then by index (deterministic).
        self.component_pairs.clear();
        for (i, p) in self.pairs.iter().enumerate().filter(|(_, p)| p.primary) {
            let root = self.components.find(p.cluster);
            self.component_pairs.push((root, i as u32));
        }
        self.component_pairs.sort_unstable();
        self.local_row.clear();
        self.local_row.resize(num_clusters, u32::MAX);
        self.local_col.clear();
        self.local_col.resize(num_dets, u32::MAX);
        let mut start = 0;
        while start < self.component_pairs.len() {
            let root = self.component_pairs[start].0;
            let mut end = start + 1;
            while end < self.component_pairs.len() && self.component_pairs[end].0 == root {
                end += 1;
            }
            if end - start == 1 {
                let p = self.pairs[self.component_pairs[start].1 as usize];
                self.det_of_cluster[p.cluster as usize] = Some(p.det);
                self.primary_of_det[p.det as usize] = Some(p.cluster);
            } else {
                self.solve_component(start, end);
            }
            start = end;
        }
    }

    /// Hungarian method on one component (`component_pairs[start..end]`).
    fn solve_component(&mut self, start: usize, end: usize) {
        self.rows.clear();
        self.cols.clear();
        for &(_, pi) in &self.component_pairs[start..end] {
            let p = self.pairs[pi as usize];
            if self.local_row[p.cluster as usize] == u32::MAX {
                self.local_row[p.cluster as usize] = self.rows.len() as u32;
                self.rows.push(p.cluster);
            }
            if self.local_col[p.det as usize] == u32::MAX {
                self.local_col[p.det as usize] = self.cols.len() as u32;
                self.cols.push(p.det);
            }
        }
        let (nr, nc) = (self.rows.len(), self.cols.len());
        self.cost.clear();
        self.cost.resize(nr * nc, INFEASIBLE);
        for &(_, pi) in &self.component_pairs[start..end] {
            let p = self.pairs[pi as usize];
            let r = self.local_row[p.cluster as usize] as usize;
            let c = self.local_col[p.det as usize] as usize;
            self.cost[r * nc + c] = 1.0 - f64::from(p.iou);
        }
        self.solver.solve(&self.cost, nr, nc, &mut self.row_to_col);
        for (r, c) in self.row_to_col.iter().enumerate() {
            if let Some(c) = *c
                && self.cost[r * nc + c] < INFEASIBLE
            {
                let (k, j) = (self.rows[r], self.cols[c]);
                self.det_of_cluster[k as usize] = Some(j);
                self.primary_of_det[j as usize] = Some(k);
            }
        }
        for &k in &self.rows {
            self.local_row[k as usize] = u32::MAX;
        }
        for &j in &self.cols {
            self.local_col[j as usize] = u32::MAX;
        }
    }

    /// One fused object per group of merged clusters, in order of their first cluster.
    fn emit(
        &mut self,
        obstacles: &[Obstacle3D],
        out: &mut Vec<FusedObject>,
        report: &mut FusionReport,
    ) {
        self.groups.clear();
        for k in 0..obstacles.len() as u32 {
            if self.valid[k as usize] {
                let root = self.clusters.find(k);
                self.groups.push((root, k));
            }
        }
        self.groups.sort_unstable();
        let mut start = 0;
        while start < self.groups.len() {
            let root = self.groups[start].0;
            self.group_members.clear();
            let mut ev = Evidence::default();
            while start < self.groups.len() && self.groups[start].0 == root {
                let k = self.groups[start].1;
                self.group_members.push(k);
                ev.merge(&self.evidence[k as usize]);
                start += 1;
            }
            let bbox = merged_box(obstacles, &self.group_members);
            let lidar_score = self
                .group_members
                .iter()
                .map(|&k| obstacles[k as usize].score)
                .fold(0.0f32, f32::max);
            let support = SensorSupport {
                lidar: true,
                camera_mask: ev.camera_mask,
            };
            // The lidar classifier's view of the group: its largest cluster's.
            let lidar_probs = self
                .group_members
                .iter()
                .map(|&k| &obstacles[k as usize])
                .max_by_key(|o| o.num_points)
                .map(|o| o.class_probs)
                .filter(|p| p.0.iter().sum::<f32>() > 0.0);
            let total: f32 = ev.class_score.iter().sum();
            let object = if ev.camera_mask != 0 && total > 0.0 {
                let mut probs = [0.0f32; NUM_CLASSES];
                for class in ObjectClass::ALL.iter().skip(1) {
                    probs[class.index()] = ev.best_score * ev.class_score[class.index()] / total;
                }
                probs[0] = 1.0 - ev.best_score;
                let camera_probs = ClassProbs(probs);
                let class_probs = match lidar_probs {
                    Some(lidar) if self.cfg.lidar_class_weight > 0.0 => {
                        classify::combine(&lidar, &camera_probs, self.cfg.lidar_class_weight)
                    }
                    _ => camera_probs,
                };
                // The most probable class the cameras gave (never `unknown` for a fused object).
                let mut best = (ObjectClass::Unknown, 0.0f32);
                for class in ObjectClass::ALL.iter().skip(1) {
                    let p = class_probs.get(*class);
                    if ev.class_score[class.index()] > 0.0 && p > best.1 {
                        best = (*class, p);
                    }
                }
                report.fused += 1;
                let mut bbox = bbox;
                if let Some(min_size_m) = self.cfg.vehicle_min_size_m(best.0) {
                    bbox.grow_away_from_origin(min_size_m);
                }
                FusedObject {
                    bbox,
                    class: best.0,
                    class_probs,
                    score: ev.best_score,
                    support,
                    camera_box: ev.camera_box,
                }
            } else {
                report.lidar_only += 1;
                // No camera: the lidar's own class, from the group's largest cluster, when the
                // config lends it (`lidar_only_classes`).
                let lidar_probs = lidar_probs
                    .filter(|_| self.cfg.lidar_only_classes)
                    .unwrap_or_else(|| ClassProbs::one_hot(ObjectClass::Unknown));
                let (class, class_p) = lidar_probs.argmax();
                // A classified object's score is the confidence in its class, as a detector's:
                // the point support times the class probability (a van-sized hedge the
                // classifier calls a vehicle at 0.4 scores lower than a car at 0.9). An
                // `unknown` obstacle keeps its point support.
                let score = if class == ObjectClass::Unknown {
                    lidar_score
                } else {
                    lidar_score * class_p
                };
                FusedObject {
                    bbox,
                    class,
                    class_probs: lidar_probs,
                    score,
                    support,
                    camera_box: None,
                }
            };
            out.push(object);
        }
    }
}

/// `b` scaled about its center by `s`.
fn scaled(b: &BBox2, s: f32) -> BBox2 {
    let (cx, cy) = (0.5 * (b.x1 + b.x2), 0.5 * (b.y1 + b.y2));
    let (hw, hh) = (0.5 * s * b.width(), 0.5 * s * b.height());
    BBox2::new(cx - hw, cy - hh, cx + hw, cy + hh)
}

/// Riders: a person box overlapping a bicycle (motorcycle) box becomes part of it, and the
/// union box is a cyclist (motorcyclist). Each two-wheeler takes its best-overlapping free
/// person; a bicycle without a rider is down-weighted. Returns the number of riders.
fn absorb_riders(dets: &mut [Det], cfg: &FusionConfig) -> u32 {
    let mut riders = 0;
    for j in 0..dets.len() {
        if !matches!(
            dets[j].class,
            ObjectClass::Bicycle | ObjectClass::Motorcycle
        ) {
            continue;
        }
        let mut best: Option<(usize, f32)> = None;
        for (i, d) in dets.iter().enumerate() {
            if d.absorbed || d.class != ObjectClass::Pedestrian {
                continue;
            }
            let smaller = d.bbox.area().min(dets[j].bbox.area());
            if smaller <= 0.0 {
                continue;
            }
            let overlap = d.bbox.intersection(&dets[j].bbox) / smaller;
            if overlap >= cfg.rider_min_overlap && best.is_none_or(|(_, o)| overlap > o) {
                best = Some((i, overlap));
            }
        }
        match best {
            Some((i, _)) => {
                let person = dets[i];
                dets[i].absorbed = true;
                let bike = &mut dets[j];
                bike.bbox = bike.bbox.union_box(&person.bbox);
                bike.gate_box = scaled(&bike.bbox, cfg.detection_box_scale);
                bike.score = bike.score.max(person.score);
                riders += 1;
            }
            None if dets[j].class == ObjectClass::Bicycle => {
                dets[j].score *= cfg.riderless_bicycle_score_scale;
            }
            None => {}
        }
    }
    riders
}

/// The box of a group of clusters: the box of the cluster with the most points, grown to hold
/// every member's corners (in its heading).
fn merged_box(obstacles: &[Obstacle3D], members: &[u32]) -> Box3 {
    let Some(&first) = members.first() else {
        return Box3::default();
    };
    if members.len() == 1 {
        return obstacles[first as usize].bbox;
    }
    let main =
        members
            .iter()
            .map(|&k| &obstacles[k as usize])
            .fold(&obstacles[first as usize], |a, b| {
                if b.num_points > a.num_points { b } else { a }
            });
    let yaw = main.bbox.yaw_rad;
    let (s, c) = yaw.sin_cos();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for &k in members {
        for p in obstacles[k as usize].bbox.corners() {
            // Into the main box's heading frame.
            let local = [c * p.x + s * p.y, -s * p.x + c * p.y, p.z];
            for a in 0..3 {
                lo[a] = lo[a].min(local[a]);
                hi[a] = hi[a].max(local[a]);
            }
        }
    }
    let (lx, ly) = (0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]));
    Box3::new(
        Vector3::new(c * lx - s * ly, s * lx + c * ly, 0.5 * (lo[2] + hi[2])),
        Vector3::new(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]),
        yaw,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::tests::front_camera;
    use fusionrt_core::Detection2D;
    use std::f64::consts::FRAC_PI_2;

    fn obstacle(x: f64, y: f64, l: f64, w: f64, h: f64) -> Obstacle3D {
        Obstacle3D {
            bbox: Box3::new(Vector3::new(x, y, 0.0), Vector3::new(l, w, h), 0.0),
            num_points: (l * w * 100.0) as u32,
            score: 0.7,
            class_probs: ClassProbs::default(),
        }
    }

    /// A detection on the projection of `o` in the front camera, grown by `pad` px.
    fn det_on(o: &Obstacle3D, class: ObjectClass, score: f32, pad: f32) -> Detection2D {
        let cam = front_camera();
        let roi = Projector::new(&cam, 0.3).box_roi(&o.bbox).unwrap();
        Detection2D {
            bbox: BBox2::new(roi.x1 - pad, roi.y1 - pad, roi.x2 + pad, roi.y2 + pad),
            class,
            source_class_id: u16::MAX,
            score,
        }
    }

    fn frame(stamp_ns: i64, detections: Vec<Detection2D>) -> CameraDetections {
        CameraDetections {
            camera_index: 0,
            stamp_ns,
            detections,
        }
    }

    #[test]
    fn a_car_seen_from_behind_grows_away_from_the_sensor() {
        // Rear face only: 0.4 m deep, 1.7 m wide, 20 m ahead, heading away from the sensor.
        let mut b = Box3::new(
            Vector3::new(20.0, 0.0, 0.8),
            Vector3::new(0.4, 1.7, 1.5),
            0.0,
        );
        b.grow_away_from_origin([3.9, 1.6]);
        assert!((b.size.x - 3.9).abs() < 1e-12 && (b.size.y - 1.7).abs() < 1e-12);
        // The rear face stays at x = 19.8; the box now reaches 23.7.
        assert!((b.center.x - 21.75).abs() < 1e-12 && b.center.y.abs() < 1e-12);
        // Behind the sensor and rotated by 90 deg: the box grows towards -x along its width.
        let mut b = Box3::new(
            Vector3::new(-10.0, 0.0, 0.8),
            Vector3::new(4.0, 0.5, 1.5),
            FRAC_PI_2,
        );
        b.grow_away_from_origin([3.9, 1.6]);
        assert!(
            (b.size.y - 1.6).abs() < 1e-12 && (b.center.x + 10.55).abs() < 1e-9,
            "{b:?}"
        );
    }

    #[test]
    fn camera_gives_class_and_lidar_only_stays_unknown() {
        let car = obstacle(15.0, 1.0, 4.0, 1.8, 1.5);
        let ped = obstacle(10.0, -3.0, 0.6, 0.6, 1.7);
        let behind = obstacle(-10.0, 0.0, 4.0, 1.8, 1.5);
        let obstacles = [car, ped, behind];
        let dets = vec![
            det_on(&ped, ObjectClass::Pedestrian, 0.8, 3.0),
            det_on(&car, ObjectClass::Car, 0.9, 2.0),
        ];
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        let rep = fusion.process(
            0,
            &obstacles,
            &[front_camera()],
            &[frame(0, dets)],
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].class, ObjectClass::Car);
        assert_eq!(out[0].score, 0.9);
        assert_eq!(out[0].support.camera_mask, 1);
        assert_eq!(out[0].camera_box.map(|c| c.0), Some(0));
        assert_eq!(out[1].class, ObjectClass::Pedestrian);
        assert_eq!(out[2].class, ObjectClass::Unknown);
        assert!(!out[2].support.has_camera() && out[2].support.lidar);
        assert_eq!((rep.fused, rep.lidar_only), (2, 1));
        assert_eq!(rep.cameras()[0].matched, 2);
        assert_eq!(rep.cameras()[0].visible_obstacles, 2);
    }

    #[test]
    fn lidar_only_objects_take_the_lidar_class_only_when_the_config_lends_it() {
        let mut behind = obstacle(-10.0, 0.0, 4.0, 1.8, 1.5);
        behind.class_probs = ClassProbs::one_hot(ObjectClass::Car);
        for (lend, want) in [(false, ObjectClass::Unknown), (true, ObjectClass::Car)] {
            let cfg = FusionConfig {
                lidar_only_classes: lend,
                ..FusionConfig::default()
            };
            let mut out = Vec::new();
            LateFusion::new(&cfg).process(0, &[behind], &[front_camera()], &[], &mut out);
            assert_eq!(out[0].class, want, "lidar_only_classes: {lend}");
        }
    }

    #[test]
    fn a_lent_lidar_class_scales_the_score_by_its_probability() {
        let mut behind = obstacle(-10.0, 0.0, 4.0, 1.8, 1.5);
        behind.score = 0.9;
        let mut probs = ClassProbs::default();
        probs.0[ObjectClass::Unknown.index()] = 0.4;
        probs.0[ObjectClass::Car.index()] = 0.6;
        behind.class_probs = probs;
        let mut unknown = obstacle(-10.0, 8.0, 1.0, 1.0, 1.0);
        unknown.score = 0.9;
        unknown.class_probs = ClassProbs::one_hot(ObjectClass::Unknown);
        for (lend, want) in [(false, 0.9), (true, 0.9 * 0.6)] {
            let cfg = FusionConfig {
                lidar_only_classes: lend,
                ..FusionConfig::default()
            };
            let mut out = Vec::new();
            LateFusion::new(&cfg).process(0, &[behind, unknown], &[front_camera()], &[], &mut out);
            assert_eq!(out.len(), 2);
            let car = out.iter().find(|o| o.bbox.center.y.abs() < 1.0).unwrap();
            assert!(
                (car.score - want).abs() < 1e-6,
                "lend {lend}: {}",
                car.score
            );
            // An unknown obstacle keeps its point support.
            let other = out.iter().find(|o| o.bbox.center.y > 1.0).unwrap();
            assert_eq!(other.class, ObjectClass::Unknown);
            assert!(
                (other.score - 0.9).abs() < 1e-6,
                "lend {lend}: {}",
                other.score
            );
        }
    }

    #[test]
    fn sync_picks_the_nearest_frame_within_tolerance() {
        let car = obstacle(15.0, 0.0, 4.0, 1.8, 1.5);
        let good = frame(
            1_000_000_000 + 10_000_000,
            vec![det_on(&car, ObjectClass::Car, 0.9, 1.0)],
        );
        let older = frame(
            1_000_000_000 - 30_000_000,
            vec![det_on(&car, ObjectClass::Truck, 0.9, 1.0)],
        );
        let mut unknown_camera = frame(1_000_000_000, vec![]);
        unknown_camera.camera_index = 3;
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        let rep = fusion.process(
            1_000_000_000,
            &[car],
            &[front_camera()],
            &[older.clone(), good, unknown_camera],
            &mut out,
        );
        assert_eq!(
            rep.cameras()[0].status,
            CameraStatus::Used {
                offset_ns: 10_000_000
            }
        );
        assert_eq!(out[0].class, ObjectClass::Car);
        assert_eq!(rep.frames_without_calib, 1);

        // Only a frame 80 ms away: lidar-only, and the report says by how much.
        let mut late = older;
        late.stamp_ns = 1_080_000_000;
        let rep = fusion.process(1_000_000_000, &[car], &[front_camera()], &[late], &mut out);
        assert_eq!(
            rep.cameras()[0].status,
            CameraStatus::TooFarApart {
                offset_ns: 80_000_000
            }
        );
        assert!(rep.is_lidar_only());
        assert_eq!(out[0].class, ObjectClass::Unknown);
        assert!(rep.to_string().contains("+80.0 ms"), "{rep}");

        // No frame at all.
        let rep = fusion.process(1_000_000_000, &[car], &[front_camera()], &[], &mut out);
        assert_eq!(rep.cameras()[0].status, CameraStatus::Missing);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn assignment_is_optimal_not_greedy() {
        // Greedy by IoU takes (0, 0) = 0.9 and leaves cluster 1 unmatched; the optimum
        // matches both: (0, 1) and (1, 0).
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let d = Det {
            bbox: BBox2::new(0.0, 0.0, 1.0, 1.0),
            gate_box: BBox2::new(0.0, 0.0, 1.0, 1.0),
            class: ObjectClass::Car,
            score: 1.0,
            absorbed: false,
        };
        fusion.dets = vec![d, d];
        fusion.pairs = vec![
            Pair {
                cluster: 0,
                det: 0,
                iou: 0.9,
                class: ObjectClass::Car,
                primary: true,
            },
            Pair {
                cluster: 0,
                det: 1,
                iou: 0.5,
                class: ObjectClass::Car,
                primary: true,
            },
            Pair {
                cluster: 1,
                det: 0,
                iou: 0.6,
                class: ObjectClass::Car,
                primary: true,
            },
            Pair {
                cluster: 2,
                det: 1,
                iou: 0.01,
                class: ObjectClass::Car,
                primary: false,
            },
        ];
        fusion.assign(3);
        assert_eq!(fusion.det_of_cluster, vec![Some(1), Some(0), None]);
        assert_eq!(fusion.primary_of_det, vec![Some(1), Some(0)]);
    }

    #[test]
    fn fragments_inside_one_detection_merge_into_one_object() {
        // A far car seen as two fragments (rear bumper and a side strip) plus a wall far
        // behind it that projects inside the same box.
        let rear = obstacle(30.0, 0.0, 0.2, 1.4, 0.5);
        let side = obstacle(31.5, 0.75, 2.5, 0.2, 0.5);
        let wall = obstacle(60.0, 0.0, 0.3, 2.0, 1.0);
        let whole = obstacle(31.0, 0.0, 2.2, 1.6, 1.5);
        let det = det_on(&whole, ObjectClass::Car, 0.8, 2.0);
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        fusion.process(
            0,
            &[rear, side, wall],
            &[front_camera()],
            &[frame(0, vec![det])],
            &mut out,
        );
        assert_eq!(out.len(), 2, "{out:?}");
        let car = &out[0];
        assert_eq!(car.class, ObjectClass::Car);
        // The union of both fragments (x from 29.9 to 32.75, y from -0.7 to 0.85), completed to
        // the smallest car (3.9 x 1.6 m) away from the sensor: x to 33.8, y to 0.9.
        assert!((car.bbox.center.x - 31.85).abs() < 1e-9, "{:?}", car.bbox);
        assert!((car.bbox.center.y - 0.1).abs() < 1e-9, "{:?}", car.bbox);
        assert!(
            car.bbox.size.x > 2.5 && car.bbox.size.y > 1.4,
            "{:?}",
            car.bbox
        );
        assert_eq!(out[1].class, ObjectClass::Unknown);
        assert_eq!(out[1].bbox.center.x, 60.0);
    }

    #[test]
    fn person_on_a_bicycle_is_a_cyclist() {
        let cyclist = obstacle(12.0, 2.0, 1.7, 0.6, 1.7);
        let c = cyclist.bbox.center;
        let bike_part = obstacle(c.x, c.y, 1.7, 0.6, 1.0);
        let mut bike = det_on(&bike_part, ObjectClass::Bicycle, 0.6, 0.0);
        let mut person = det_on(&cyclist, ObjectClass::Pedestrian, 0.85, 0.0);
        // The rider box: the top of the cyclist, narrower than the bicycle.
        person.bbox.x1 += 10.0;
        person.bbox.x2 -= 10.0;
        person.bbox.y2 = bike.bbox.y1 + 0.5 * bike.bbox.height();
        bike.bbox.y1 += 5.0;
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        let rep = fusion.process(
            0,
            &[cyclist],
            &[front_camera()],
            &[frame(0, vec![person, bike])],
            &mut out,
        );
        assert_eq!(rep.cameras()[0].riders, 1);
        assert_eq!(out[0].class, ObjectClass::Bicycle);
        assert_eq!(out[0].score, 0.85);
    }

    #[test]
    fn person_on_a_bicycle_sized_cluster_is_a_cyclist() {
        let cyclist = obstacle(20.0, 1.0, 1.9, 0.9, 1.7);
        let pedestrian = obstacle(20.0, -4.0, 0.6, 0.6, 1.7);
        let dets = vec![
            det_on(&cyclist, ObjectClass::Pedestrian, 0.5, 0.0),
            det_on(&pedestrian, ObjectClass::Pedestrian, 0.5, 0.0),
        ];
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        fusion.process(
            0,
            &[cyclist, pedestrian],
            &[front_camera()],
            &[frame(0, dets)],
            &mut out,
        );
        assert_eq!(out[0].class, ObjectClass::Bicycle);
        assert_eq!(out[1].class, ObjectClass::Pedestrian);
    }

    #[test]
    fn loose_lidar_box_around_a_thin_detection_still_matches() {
        // A person at 45 m whose few points gave a 1.6 m wide box: its ROI is several times
        // wider than the person box, which lies inside it.
        let loose = obstacle(45.0, 0.0, 1.0, 1.6, 1.7);
        let thin = obstacle(45.0, 0.0, 0.6, 0.6, 1.7);
        let det = det_on(&thin, ObjectClass::Pedestrian, 0.3, 0.0);
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        fusion.process(
            0,
            &[loose],
            &[front_camera()],
            &[frame(0, vec![det])],
            &mut out,
        );
        assert_eq!(out[0].class, ObjectClass::Pedestrian);
        // A ROI far larger than the detection (a wall behind a person) does not.
        let wall = obstacle(45.0, 0.0, 0.5, 12.0, 3.0);
        fusion.process(
            0,
            &[wall],
            &[front_camera()],
            &[frame(0, vec![det])],
            &mut out,
        );
        assert_eq!(out[0].class, ObjectClass::Unknown);
    }

    #[test]
    fn bad_input_is_counted_and_lidar_only_output_continues() {
        let car = obstacle(15.0, 0.0, 4.0, 1.8, 1.5);
        let mut broken = obstacle(20.0, 0.0, 4.0, 1.8, 1.5);
        broken.bbox.center.y = f64::NAN;
        let mut dets = vec![det_on(&car, ObjectClass::Car, 0.9, 1.0)];
        let mut nan = dets[0];
        nan.bbox.x1 = f32::NAN;
        let mut outside = dets[0];
        outside.bbox = BBox2::new(2000.0, 10.0, 2100.0, 50.0);
        dets.extend([nan, outside]);
        let mut cams = vec![front_camera(), front_camera()];
        cams[1].name = "broken".into();
        cams[1].model.k[(0, 0)] = 0.0;
        let mut f1 = frame(0, dets.clone());
        f1.camera_index = 1;
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        let rep = fusion.process(0, &[car, broken], &cams, &[frame(0, dets), f1], &mut out);
        assert_eq!(rep.obstacles_invalid, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, ObjectClass::Car);
        assert_eq!(out[0].support.camera_mask, 1);
        let c0 = rep.cameras()[0];
        assert_eq!((c0.rejected_invalid, c0.rejected_outside), (1, 1));
        assert_eq!(rep.cameras()[1].status, CameraStatus::InvalidCalib);
        assert!(
            fusion
                .calib_error(1)
                .unwrap()
                .to_string()
                .contains("`broken`")
        );

        // A singular calibration alone: lidar-only output.
        let rep = fusion.process(0, &[car], &cams[1..], &[], &mut out);
        assert!(rep.is_lidar_only());
        assert_eq!(out[0].class, ObjectClass::Unknown);
    }

    #[test]
    fn a_detection_without_evidence_lends_no_class_and_is_counted() {
        // A car box drawn around a car at 15 m whose cluster the lidar missed; the only cluster
        // inside the box is a hedge 45 m away (the box would be a 5 m tall car there).
        let car = obstacle(15.0, 0.0, 4.0, 1.8, 1.5);
        let det = det_on(&car, ObjectClass::Car, 0.9, 0.0);
        let hedge = obstacle(45.0, 0.0, 0.4, 2.5, 1.5);
        let mut out = Vec::new();
        let rep = LateFusion::new(&FusionConfig::default()).process(
            0,
            &[hedge],
            &[front_camera()],
            &[frame(0, vec![det])],
            &mut out,
        );
        assert_eq!(out[0].class, ObjectClass::Unknown);
        let c = rep.cameras()[0];
        assert_eq!((c.matched, c.rejected_depth), (0, 1), "{c:?}");
        assert!(rep.to_string().contains("1 depth"), "{rep}");
        // Without the evidence rules (as before them) the hedge takes the car's class.
        let mut cfg = FusionConfig::default();
        cfg.evidence.enabled = false;
        let rep = LateFusion::new(&cfg).process(
            0,
            &[hedge],
            &[front_camera()],
            &[frame(0, vec![det])],
            &mut out,
        );
        assert_eq!(out[0].class, ObjectClass::Car);
        assert_eq!(rep.cameras()[0].rejected_depth, 0);
    }

    #[test]
    fn the_lidar_class_breaks_a_tie_between_the_cameras_classes() {
        // Two cameras disagree (pedestrian 0.5; bicycle 1.0, halved as riderless) about a
        // cluster the lidar finds cyclist-shaped: the combined class is the cyclist's; with no
        // lidar weight the first of the tied classes (pedestrian) wins, as before.
        let mut rider = obstacle(12.0, 0.0, 1.8, 0.6, 1.7);
        let mut lidar = ClassProbs::default();
        lidar.0[ObjectClass::Bicycle.index()] = 0.7;
        lidar.0[ObjectClass::Pedestrian.index()] = 0.1;
        lidar.0[ObjectClass::Unknown.index()] = 0.2;
        rider.class_probs = lidar;
        let cams = vec![front_camera(), front_camera()];
        let mut f1 = frame(0, vec![det_on(&rider, ObjectClass::Bicycle, 1.0, 1.0)]);
        f1.camera_index = 1;
        // The person box alone (no bicycle box in camera 0: no rider merge there).
        let f0 = frame(0, vec![det_on(&rider, ObjectClass::Pedestrian, 0.5, 1.0)]);
        let mut out = Vec::new();
        for (weight, want) in [(0.5, ObjectClass::Bicycle), (0.0, ObjectClass::Pedestrian)] {
            let cfg = FusionConfig {
                lidar_class_weight: weight,
                ..FusionConfig::default()
            };
            LateFusion::new(&cfg).process(0, &[rider], &cams, &[f0.clone(), f1.clone()], &mut out);
            assert_eq!(out[0].class, want, "lidar_class_weight {weight}");
            assert_eq!(out[0].support.camera_mask, 0b11);
        }
    }

    #[test]
    fn several_cameras_support_one_object() {
        let car = obstacle(15.0, 0.0, 4.0, 1.8, 1.5);
        let det = det_on(&car, ObjectClass::Car, 0.7, 1.0);
        let cams = vec![front_camera(), front_camera()];
        let mut f1 = frame(5, vec![det]);
        f1.camera_index = 1;
        let mut fusion = LateFusion::new(&FusionConfig::default());
        let mut out = Vec::new();
        fusion.process(0, &[car], &cams, &[f1, frame(0, vec![det])], &mut out);
        assert_eq!(out[0].support.camera_mask, 0b11);
        assert_eq!(out[0].class, ObjectClass::Car);
        let (class, p) = out[0].class_probs.argmax();
        assert_eq!((class, p), (ObjectClass::Car, 0.7));
    }
}
