//! Camera stage: images to 2D detections with ONNX Runtime (providers, decoders, NMS)
//!
//! (Being built: see the open issue for this crate.)
