//! Camera stage cost per image: pre-processing, inference and post-processing of
//! `CameraDetector::detect` on a KITTI image (`$FUSIONRT_DATA/kitti_object/image_2/000001.png`,
//! else a synthetic 1242 x 375 image), 4 tiles, 2 intra-op threads.
//!
//! Each step is measured inside real `detect` calls (`iter_custom` over the step's own timer),
//! so the three figures add up to the whole call. Needs ONNX Runtime (scripts/setup).

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use fusionrt_camera::{CameraConfig, CameraDetector, DetectTimings, load_image_file};
use fusionrt_core::image::{Encoding, Image};
use std::path::PathBuf;
use std::time::Duration;

fn image() -> Image {
    if let Some(data) = std::env::var_os("FUSIONRT_DATA") {
        let path = PathBuf::from(data).join("kitti_object/image_2/000001.png");
        if let Ok(img) = load_image_file(&path) {
            return img;
        }
    }
    let (w, h) = (1242u32, 375u32);
    Image {
        stamp_ns: 0,
        frame_id: "synthetic".into(),
        width: w,
        height: h,
        encoding: Encoding::Rgb8,
        step: w * 3,
        data: (0..w * h * 3).map(|i| (i % 251) as u8).collect(),
    }
}

fn bench(c: &mut Criterion) {
    let cfg = CameraConfig {
        models_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")),
        ..CameraConfig::default()
    };
    let mut detector = match CameraDetector::new(&cfg) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping the camera benchmark: {e}");
            return;
        }
    };
    let img = image();
    let mut out = Vec::new();
    let mut group = c.benchmark_group("camera_kitti_4_tiles");
    group.sample_size(10);
    type Step = fn(&DetectTimings) -> Duration;
    let steps: [(&str, Step); 4] = [
        ("preprocess", |t| t.preprocess),
        ("inference", |t| t.inference),
        ("postprocess", |t| t.postprocess),
        ("detect", |t| t.preprocess + t.inference + t.postprocess),
    ];
    for (name, step) in steps {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    match detector.detect(&img, &mut out) {
                        Ok(t) => total += step(&t),
                        Err(e) => panic!("detect failed: {e}"),
                    }
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
