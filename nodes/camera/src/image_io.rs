//! Decoding PNG and JPEG (files for the CLI, `sensor_msgs/CompressedImage` payloads) into raw
//! `rgb8` images.

use crate::error::CameraError;
use fusionrt_core::image::{Encoding, Image};
use std::path::Path;

fn to_image(decoded: image::DynamicImage, stamp_ns: i64, frame_id: &str) -> Image {
    let rgb = decoded.into_rgb8();
    let (width, height) = rgb.dimensions();
    Image {
        stamp_ns,
        frame_id: frame_id.to_string(),
        width,
        height,
        encoding: Encoding::Rgb8,
        step: width * 3,
        data: rgb.into_raw(),
    }
}

/// Reads a PNG or JPEG file into an `rgb8` image (stamp 0, frame id = the file name).
pub fn load_image_file(path: &Path) -> Result<Image, CameraError> {
    let bytes = std::fs::read(path).map_err(|source| CameraError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let what = path.display().to_string();
    let decoded =
        image::load_from_memory(&bytes).map_err(|source| CameraError::Decode { what, source })?;
    let frame_id = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    Ok(to_image(decoded, 0, frame_id))
}

/// Decodes a `sensor_msgs/CompressedImage` payload. `format` is the message's format field
/// (`jpeg`, `png`, or forms like `rgb8; jpeg compressed bgr8`).
pub fn decode_compressed(
    format: &str,
    bytes: &[u8],
    stamp_ns: i64,
    frame_id: &str,
) -> Result<Image, CameraError> {
    let lower = format.to_ascii_lowercase();
    let kind = if lower.contains("jpeg") || lower.contains("jpg") {
        image::ImageFormat::Jpeg
    } else if lower.contains("png") {
        image::ImageFormat::Png
    } else {
        return Err(CameraError::UnsupportedFormat(format.to_string()));
    };
    let decoded =
        image::load_from_memory_with_format(bytes, kind).map_err(|source| CameraError::Decode {
            what: format!(
                "CompressedImage ({format}, {} bytes, frame {frame_id})",
                bytes.len()
            ),
            source,
        })?;
    Ok(to_image(decoded, stamp_ns, frame_id))
}

/// Writes `image` as a PNG with each box drawn as a 2 px rectangle (colour by class).
pub fn write_overlay(
    image: &Image,
    detections: &[fusionrt_core::Detection2D],
    path: &Path,
) -> Result<(), CameraError> {
    let format = overlay_format(path)?;
    image.validate()?;
    let (w, h) = (image.width, image.height);
    let mut rgb = image::RgbImage::new(w, h);
    let bpp = image.encoding.bytes_per_pixel() as usize;
    for y in 0..h {
        let row = &image.data[y as usize * image.step as usize..];
        for x in 0..w {
            let p = &row[x as usize * bpp..];
            let px = match image.encoding {
                Encoding::Rgb8 | Encoding::Rgba8 => [p[0], p[1], p[2]],
                Encoding::Bgr8 | Encoding::Bgra8 => [p[2], p[1], p[0]],
                Encoding::Mono8 => [p[0]; 3],
                // Luma only: the overlay is for looking at boxes.
                Encoding::Uyvy => [row[x as usize * 2 + 1]; 3],
                Encoding::Yuyv => [row[x as usize * 2]; 3],
            };
            rgb.put_pixel(x, y, image::Rgb(px));
        }
    }
    for d in detections {
        let colour = match d.class {
            fusionrt_core::ObjectClass::Car => [0, 255, 0],
            fusionrt_core::ObjectClass::Truck | fusionrt_core::ObjectClass::Bus => [0, 160, 255],
            fusionrt_core::ObjectClass::Pedestrian => [255, 40, 40],
            fusionrt_core::ObjectClass::Bicycle | fusionrt_core::ObjectClass::Motorcycle => {
                [255, 200, 0]
            }
            fusionrt_core::ObjectClass::Unknown => [255, 0, 255],
        };
        let b = d.bbox.clamped(w as f32 - 1.0, h as f32 - 1.0);
        let (x1, y1, x2, y2) = (b.x1 as u32, b.y1 as u32, b.x2 as u32, b.y2 as u32);
        for t in 0..2u32 {
            for x in x1..=x2 {
                for y in [y1.saturating_add(t).min(h - 1), y2.saturating_sub(t)] {
                    rgb.put_pixel(x, y, image::Rgb(colour));
                }
            }
            for y in y1..=y2 {
                for x in [x1.saturating_add(t).min(w - 1), x2.saturating_sub(t)] {
                    rgb.put_pixel(x, y, image::Rgb(colour));
                }
            }
        }
    }
    // Written beside the target and renamed over it: no half-written overlay is left behind.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let saved = rgb
        .save_with_format(&tmp, format)
        .map_err(|source| CameraError::Decode {
            what: format!("overlay {}", path.display()),
            source,
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|source| CameraError::Io {
                path: path.to_path_buf(),
                source,
            })
        });
    if saved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    saved
}

/// The image format of an overlay file, by its extension: `.png`, or `.jpg` / `.jpeg`; any
/// other extension is refused.
pub fn overlay_format(path: &Path) -> Result<image::ImageFormat, CameraError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(image::ImageFormat::Png),
        Some("jpg" | "jpeg") => Ok(image::ImageFormat::Jpeg),
        _ => Err(CameraError::UnsupportedFormat(format!(
            "overlay {}: by its extension",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: image::ImageFormat) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 100]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn overlay_draws_boxes() {
        let img = decode_compressed("png", &encoded(image::ImageFormat::Png), 0, "cam").unwrap();
        let det = fusionrt_core::Detection2D {
            bbox: fusionrt_core::BBox2::new(2.0, 2.0, 10.0, 6.0),
            class: fusionrt_core::ObjectClass::Car,
            source_class_id: 2,
            score: 0.9,
        };
        let path =
            std::env::temp_dir().join(format!("fusionrt-overlay-{}.png", std::process::id()));
        write_overlay(&img, &[det], &path).unwrap();
        let back = load_image_file(&path).unwrap();
        assert_eq!(
            &back.data[(2 * 16 + 5) * 3..(2 * 16 + 5) * 3 + 3],
            &[0, 255, 0]
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn png_and_jpeg_decode_to_rgb8() {
        let png = decode_compressed("png", &encoded(image::ImageFormat::Png), 5, "cam").unwrap();
        assert_eq!(
            (png.width, png.height, png.step, png.stamp_ns),
            (16, 8, 48, 5)
        );
        assert_eq!(&png.data[3..6], &[10, 0, 100]);
        png.validate().unwrap();
        let jpeg = decode_compressed(
            "bgr8; jpeg compressed bgr8",
            &encoded(image::ImageFormat::Jpeg),
            0,
            "cam",
        )
        .unwrap();
        assert_eq!(jpeg.encoding, Encoding::Rgb8);
    }

    #[test]
    fn corrupt_and_unsupported_payloads_are_named_errors() {
        let mut jpeg = encoded(image::ImageFormat::Jpeg);
        jpeg.truncate(jpeg.len() / 3);
        let err = decode_compressed("jpeg", &jpeg, 0, "cam")
            .unwrap_err()
            .to_string();
        assert!(err.contains("CompressedImage (jpeg"), "{err}");
        let err = decode_compressed("jpeg", b"not a jpeg", 0, "cam")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot decode"), "{err}");
        assert!(matches!(
            decode_compressed("tiff", b"", 0, "cam"),
            Err(CameraError::UnsupportedFormat(_))
        ));
        let err = load_image_file(Path::new("/no/such.png"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such.png"), "{err}");
    }
}
