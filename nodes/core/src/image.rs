//! Camera images (`sensor_msgs/Image` with its ROS encodings) and `sensor_msgs/CameraInfo`.
//!
//! Decoding compressed images and converting encodings into a network input tensor belongs to
//! the camera crate; this module only defines the messages and checks their byte layout.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A raw pixel encoding, as named in `sensor_msgs/image_encodings.hpp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// `rgb8`: 3 bytes per pixel.
    Rgb8,
    /// `bgr8`: 3 bytes per pixel.
    Bgr8,
    /// `rgba8`: 4 bytes per pixel.
    Rgba8,
    /// `bgra8`: 4 bytes per pixel.
    Bgra8,
    /// `mono8`: 1 byte per pixel.
    Mono8,
    /// `yuv422` / `uyvy`: U Y0 V Y1, 2 bytes per pixel.
    Uyvy,
    /// `yuv422_yuy2` / `yuyv`: Y0 U Y1 V, 2 bytes per pixel.
    Yuyv,
}

impl Encoding {
    /// Parses a ROS encoding string.
    pub fn from_ros(name: &str) -> Result<Self, ImageError> {
        Ok(match name {
            "rgb8" => Self::Rgb8,
            "bgr8" => Self::Bgr8,
            "rgba8" => Self::Rgba8,
            "bgra8" => Self::Bgra8,
            "mono8" | "8UC1" => Self::Mono8,
            "yuv422" | "uyvy" => Self::Uyvy,
            "yuv422_yuy2" | "yuyv" => Self::Yuyv,
            other => return Err(ImageError::UnsupportedEncoding(other.to_string())),
        })
    }

    /// The ROS name of this encoding.
    pub fn ros_name(self) -> &'static str {
        match self {
            Self::Rgb8 => "rgb8",
            Self::Bgr8 => "bgr8",
            Self::Rgba8 => "rgba8",
            Self::Bgra8 => "bgra8",
            Self::Mono8 => "mono8",
            Self::Uyvy => "yuv422",
            Self::Yuyv => "yuv422_yuy2",
        }
    }

    /// Bytes per pixel.
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            Self::Mono8 => 1,
            Self::Uyvy | Self::Yuyv => 2,
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Rgba8 | Self::Bgra8 => 4,
        }
    }
}

/// Why an image is unusable.
#[derive(Debug, Error, PartialEq)]
pub enum ImageError {
    /// The encoding string is not one fusionrt reads.
    #[error(
        "unsupported image encoding `{0}` (supported: rgb8, bgr8, rgba8, bgra8, mono8, yuv422, yuv422_yuy2)"
    )]
    UnsupportedEncoding(String),
    /// `step` is smaller than a row of pixels.
    #[error("image step {step} is smaller than width {width} x {bytes_per_pixel} bytes per pixel")]
    StepTooSmall {
        /// step found.
        step: u32,
        /// width found.
        width: u32,
        /// bytes per pixel of the encoding.
        bytes_per_pixel: u32,
    },
    /// The data length does not match `step * height`.
    #[error("image data has {len} bytes, expected step {step} x height {height} = {expected}")]
    DataLength {
        /// Bytes found.
        len: usize,
        /// step found.
        step: u32,
        /// height found.
        height: u32,
        /// Bytes expected.
        expected: u64,
    },
    /// A zero width or height.
    #[error("image is empty ({width} x {height})")]
    Empty {
        /// width found.
        width: u32,
        /// height found.
        height: u32,
    },
    /// YUV 4:2:2 needs an even width.
    #[error("image width {0} must be even for a YUV 4:2:2 encoding")]
    OddYuvWidth(u32),
}

/// A raw camera image (`sensor_msgs/Image`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Exposure time, ns.
    pub stamp_ns: i64,
    /// The camera's optical frame.
    pub frame_id: String,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// Pixel encoding.
    pub encoding: Encoding,
    /// Bytes per row (may include padding).
    pub step: u32,
    /// Pixels, `step * height` bytes.
    pub data: Vec<u8>,
}

impl Image {
    /// Checks that `step` and the data length are consistent with size and encoding.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.width == 0 || self.height == 0 {
            return Err(ImageError::Empty {
                width: self.width,
                height: self.height,
            });
        }
        let bpp = self.encoding.bytes_per_pixel();
        if matches!(self.encoding, Encoding::Uyvy | Encoding::Yuyv) && self.width % 2 == 1 {
            return Err(ImageError::OddYuvWidth(self.width));
        }
        if u64::from(self.step) < u64::from(self.width) * u64::from(bpp) {
            return Err(ImageError::StepTooSmall {
                step: self.step,
                width: self.width,
                bytes_per_pixel: bpp,
            });
        }
        let expected = u64::from(self.step) * u64::from(self.height);
        if self.data.len() as u64 != expected {
            return Err(ImageError::DataLength {
                len: self.data.len(),
                step: self.step,
                height: self.height,
                expected,
            });
        }
        Ok(())
    }
}

/// `sensor_msgs/CameraInfo`: intrinsics of one camera, row-major as in ROS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    /// Stamp, ns.
    pub stamp_ns: i64,
    /// The camera's optical frame.
    pub frame_id: String,
    /// Image width, px.
    pub width: u32,
    /// Image height, px.
    pub height: u32,
    /// `plumb_bob`, `rational_polynomial`, `equidistant` or empty.
    pub distortion_model: String,
    /// Distortion coefficients.
    pub d: Vec<f64>,
    /// Intrinsic matrix K (3x3, row-major).
    pub k: [f64; 9],
    /// Rectification rotation R (3x3, row-major).
    pub r: [f64; 9],
    /// Projection matrix P (3x4, row-major).
    pub p: [f64; 12],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(encoding: Encoding, width: u32, height: u32, step: u32, len: usize) -> Image {
        Image {
            stamp_ns: 0,
            frame_id: "cam".into(),
            width,
            height,
            encoding,
            step,
            data: vec![0; len],
        }
    }

    #[test]
    fn consistent_images_validate() {
        assert!(image(Encoding::Rgb8, 4, 2, 12, 24).validate().is_ok());
        assert!(image(Encoding::Mono8, 3, 2, 4, 8).validate().is_ok());
        assert!(image(Encoding::Uyvy, 4, 2, 8, 16).validate().is_ok());
    }

    #[test]
    fn inconsistent_images_are_rejected_with_the_reason() {
        let err = image(Encoding::Rgb8, 4, 2, 12, 20).validate().unwrap_err();
        assert!(
            err.to_string().contains("expected step 12 x height 2 = 24"),
            "{err}"
        );
        assert!(matches!(
            image(Encoding::Bgra8, 4, 2, 12, 24).validate(),
            Err(ImageError::StepTooSmall { .. })
        ));
        assert!(matches!(
            image(Encoding::Yuyv, 3, 2, 6, 12).validate(),
            Err(ImageError::OddYuvWidth(3))
        ));
        assert!(matches!(
            Encoding::from_ros("bayer_rggb8"),
            Err(ImageError::UnsupportedEncoding(_))
        ));
    }
}
