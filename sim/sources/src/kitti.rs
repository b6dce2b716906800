//! KITTI folders as a graph source, and KITTI tracking result files as a sink.
//!
//! [`KittiSource`] plays a [`SensorSequence`] (a KITTI raw drive or a tracking sequence): the
//! left colour camera's calibration first (`P2`, sized from the first image), then per frame
//! the image (when there is one and images are wanted) and the scan, stamped `frame * 100 ms`.
//! A scan or image that cannot be read is skipped and counted, and the run goes on.
//!
//! [`KittiResultsSink`] writes the published tracks (lidar frame) as `NNNN.txt` in KITTI
//! tracking result format, in the camera's view only, for `kitti eval`.

use fusionrt_camera::load_image_file;
use fusionrt_kitti::calib::{KITTI_IMAGE_SIZE, KittiCalib};
use fusionrt_kitti::sequence::{FRAME_PERIOD_NS, SensorSequence};
use fusionrt_kitti::tracking::{ResultRows, write_results};
use fusionrt_kitti::velodyne::{VELODYNE_FRAME, read_velodyne};
use fusionrt_runtime::{
    Event, Output, Results, Sink, SinkError, Source, SourceError, SourceInfo, Stamped,
};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A KITTI sequence as a source.
pub struct KittiSource {
    sequence: SensorSequence,
    calib: KittiCalib,
    with_images: bool,
    image_size: (u32, u32),
    next_frame: usize,
    queue: VecDeque<Event>,
    lidar_frame: Arc<str>,
    camera_frame: Arc<str>,
}

fn source_error(sequence: &SensorSequence, e: impl std::fmt::Display) -> SourceError {
    SourceError {
        source_name: sequence.name.clone(),
        message: e.to_string(),
    }
}

impl KittiSource {
    /// Opens `sequence`; `with_images` plays its images (for the camera model).
    pub fn new(sequence: SensorSequence, with_images: bool) -> Result<Self, SourceError> {
        let calib = KittiCalib::read(&sequence.calib).map_err(|e| source_error(&sequence, e))?;
        let image_size = match sequence.frames.iter().find_map(|f| f.image.as_ref()) {
            Some(path) if with_images => {
                let image = load_image_file(path).map_err(|e| source_error(&sequence, e))?;
                (image.width, image.height)
            }
            _ => KITTI_IMAGE_SIZE,
        };
        let mut source = Self {
            sequence,
            calib,
            with_images,
            image_size,
            next_frame: 0,
            queue: VecDeque::new(),
            lidar_frame: Arc::from(VELODYNE_FRAME),
            camera_frame: Arc::from("camera0"),
        };
        source.queue_calibration()?;
        Ok(source)
    }

    /// The calibration in use.
    pub fn calib(&self) -> &KittiCalib {
        &self.calib
    }

    /// The size of the camera's images, px.
    pub fn image_size(&self) -> (u32, u32) {
        self.image_size
    }

    fn queue_calibration(&mut self) -> Result<(), SourceError> {
        let calib = self
            .calib
            .camera_calib_sized("P2", self.image_size.0, self.image_size.1)
            .map_err(|e| source_error(&self.sequence, e))?;
        self.queue
            .push_back(Event::CameraCalib { camera: 0, calib });
        Ok(())
    }

    fn queue_frame(&mut self, index: usize) {
        let frame = &self.sequence.frames[index];
        let stamp = frame.stamp_ns();
        let seq = u64::from(frame.number);
        if let (true, Some(path)) = (self.with_images, &frame.image) {
            {
                match load_image_file(path) {
                    Ok(mut image) => {
                        image.stamp_ns = stamp;
                        image.frame_id = self.camera_frame.to_string();
                        self.queue.push_back(Event::Image {
                            camera: 0,
                            image: Arc::new(Stamped::new(
                                stamp,
                                self.camera_frame.clone(),
                                seq,
                                image,
                            )),
                        });
                    }
                    Err(e) => self.queue.push_back(Event::Skipped {
                        reason: "image_bad_input",
                        detail: e.to_string(),
                    }),
                }
            }
        }
        match read_velodyne(&frame.velodyne) {
            Ok(mut cloud) => {
                cloud.stamp_ns = stamp;
                self.queue.push_back(Event::Lidar {
                    cloud: Arc::new(Stamped::new(stamp, self.lidar_frame.clone(), seq, cloud)),
                    truth: None,
                });
            }
            Err(e) => self.queue.push_back(Event::Skipped {
                reason: "lidar_bad_input",
                detail: e.to_string(),
            }),
        }
    }
}

impl Source for KittiSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            name: self.sequence.name.clone(),
            cameras: 1,
            sweeps: Some(self.sequence.frames.len() as u64),
            period_ns: FRAME_PERIOD_NS,
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, SourceError> {
        if self.queue.is_empty() && self.next_frame < self.sequence.frames.len() {
            self.queue_frame(self.next_frame);
            self.next_frame += 1;
        }
        Ok(self.queue.pop_front())
    }

    fn rewind(&mut self) -> Result<bool, SourceError> {
        self.next_frame = 0;
        self.queue.clear();
        self.queue_calibration()?;
        Ok(true)
    }
}

/// Writes `DIR/NAME.txt`: the published tracks as KITTI tracking results (camera 2's view).
pub struct KittiResultsSink {
    path: PathBuf,
    calib: KittiCalib,
    rows: ResultRows,
}

impl KittiResultsSink {
    /// Results for the sequence named `name` into `dir`, with the sequence's calibration and
    /// image size.
    pub fn new(dir: &Path, name: &str, calib: KittiCalib, image_size: (u32, u32)) -> Self {
        Self {
            path: dir.join(format!("{name}.txt")),
            rows: ResultRows::new(calib.p[2], image_size),
            calib,
        }
    }
}

impl Sink for KittiResultsSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        if output.world_from_lidar.is_some() {
            return Err(SinkError {
                sink: self.path.display().to_string(),
                message: "KITTI results need tracks in the lidar frame (no odometry)".into(),
            });
        }
        let frame = u32::try_from(output.stamp_ns / FRAME_PERIOD_NS).unwrap_or(u32::MAX);
        for track in &output.tracks {
            let cam = self.calib.cam_box_from_lidar(&track.bbox);
            self.rows.add(frame, track, cam);
        }
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        write_results(&self.path, self.rows.rows()).map_err(|e| SinkError {
            sink: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        results.insert("kitti_result_rows".into(), self.rows.rows().len().into());
        Ok(())
    }
}
