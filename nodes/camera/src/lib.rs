//! Camera stage: camera images to 2D detections with ONNX Runtime.
//!
//! In: `fusionrt_core::image::Image` (`sensor_msgs/Image` encodings rgb8, bgr8, rgba8, bgra8,
//! mono8, yuv422 UYVY / YUYV; [`decode_compressed`] and [`load_image_file`] turn JPEG and PNG
//! into those). Out: `Detection2D`s in image pixels with perception classes.
//!
//! A model ships as an ONNX file with a card (`models/<name>.yaml`: checksum, input size and
//! normalisation, decoder, class names); [`CameraDetector`] checks the file's SHA-256 and input
//! shape against the card, opens an ONNX Runtime session on the first configured execution
//! provider that works (TensorRT, CUDA, CPU; each that fails is logged with the reason) and
//! warms it up. Per image: pre-processing straight from the sensor buffer into the input
//! tensor (whole image, letterbox, or square tiles across wide images), one model run per
//! region, the card's decoder (NanoDet GFL, YOLOv8/YOLO11, YOLOX), class-wise NMS with
//! vehicle classes merged and tile seams healed, and COCO-to-perception class mapping.
//!
//! Depends on fusionrt-core only (plus ort, loading ONNX Runtime at run time: see [`ortlib`]).

pub mod card;
pub mod classes;
pub mod config;
pub mod decode;
pub mod detector;
pub mod error;
pub mod image_io;
pub mod nms;
pub mod ortlib;
pub mod preprocess;

pub use card::{DecoderKind, InstalledModel, ModelCard};
pub use config::{CameraConfig, MAX_THREADS, MAX_TILES, Provider, TensorRtOptions};
pub use detector::{CameraDetector, DetectTimings};
pub use error::CameraError;
pub use image_io::{decode_compressed, load_image_file, overlay_format, write_overlay};
