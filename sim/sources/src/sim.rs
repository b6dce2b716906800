//! The scenario simulator as a graph source.
//!
//! At start: each simulated camera's calibration. Then per step: the lidar's pose (odometry),
//! each camera's simulated detections (stamped at its exposure), and the sweep with the ground
//! truth of that instant. Deterministic for a scenario and seed.

use fusionrt_core::PointCloud;
use fusionrt_runtime::{Event, Source, SourceError, SourceInfo, Stamped, TruthObject};
use fusionrt_scenario::{ScenarioSpec, SimFrame, Simulator};
use std::collections::VecDeque;
use std::sync::Arc;

/// The simulator, `frames` sweeps long.
pub struct SimSource {
    spec: ScenarioSpec,
    seed: u64,
    sim: Simulator,
    frame: SimFrame,
    frames: u64,
    stepped: u64,
    queue: VecDeque<Event>,
    lidar_frame: Arc<str>,
}

impl SimSource {
    /// A source of `frames` sweeps of `spec` with `seed`.
    pub fn new(spec: &ScenarioSpec, seed: u64, frames: u64) -> Result<Self, SourceError> {
        let sim = Simulator::new(spec, seed).map_err(|e| SourceError {
            source_name: spec.name.clone(),
            message: e.to_string(),
        })?;
        let frame = sim.new_frame();
        let mut source = Self {
            spec: spec.clone(),
            seed,
            sim,
            frame,
            frames,
            stepped: 0,
            queue: VecDeque::new(),
            lidar_frame: Arc::from(fusionrt_kitti::velodyne::VELODYNE_FRAME),
        };
        source.queue_calibrations();
        Ok(source)
    }

    fn queue_calibrations(&mut self) {
        for (camera, calib) in self.sim.cameras().iter().enumerate() {
            self.queue.push_back(Event::CameraCalib {
                camera,
                calib: calib.clone(),
            });
        }
    }

    fn step(&mut self) {
        self.sim.step(&mut self.frame);
        let f = &self.frame;
        let seq = f.index;
        self.queue.push_back(Event::Odometry(Stamped::new(
            f.stamp_ns,
            Arc::from("world"),
            seq,
            f.world_from_lidar,
        )));
        for d in &f.detections {
            self.queue.push_back(Event::Detections {
                camera: d.camera_index,
                detections: Arc::new(Stamped::new(
                    d.stamp_ns,
                    Arc::from(format!("camera{}", d.camera_index)),
                    seq,
                    d.detections.clone(),
                )),
            });
        }
        let truth = f
            .ground_truth
            .iter()
            .map(|g| TruthObject {
                id: g.id,
                class: g.class,
                bbox: g.bbox_world,
                lidar_points: g.lidar_points,
            })
            .collect();
        let cloud: PointCloud = f.cloud.clone();
        self.queue.push_back(Event::Lidar {
            cloud: Arc::new(Stamped::new(
                f.stamp_ns,
                self.lidar_frame.clone(),
                seq,
                cloud,
            )),
            truth: Some(Arc::new(truth)),
        });
    }
}

impl Source for SimSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: self.spec.name.clone(),
            cameras: self.sim.cameras().len(),
            sweeps: Some(self.frames),
            period_ns: self.sim.period_ns(),
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
        if self.queue.is_empty() && self.stepped < self.frames {
            self.step();
            self.stepped += 1;
        }
        Ok(self.queue.pop_front())
    }

    fn rewind(&mut self) -> Result<bool, SourceError> {
        *self = Self::new(&self.spec, self.seed, self.frames)?;
        Ok(true)
    }
}
