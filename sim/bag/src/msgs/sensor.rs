//! `sensor_msgs` PointCloud2, Image, CompressedImage and CameraInfo as CDR.
//!
//! Decoding checks the layout before anything is copied: a PointCloud2 whose data length
//! disagrees with `row_step x height` (or whose fields leave the point) and an Image whose
//! `step` or length is wrong are errors naming the field. Bayer images are an explicit
//! [`MsgError::Unsupported`]. A CompressedImage stays compressed here: pixels are decoded by the
//! camera crate (`fusionrt_camera::image_io::decode_compressed`), which owns image decoding.

use super::{MsgError, RosMessage, read_header, write_header};
use crate::cdr::{CdrReader, CdrWriter};
use fusionrt_core::image::{CameraInfo, Encoding, Image};
use fusionrt_core::pointcloud2::{PointCloud2, PointCloud2Error, PointField};

/// Checks the consistency of a PointCloud2's sizes (the field layout is checked when it is
/// converted into a [`fusionrt_core::PointCloud`]).
fn check_cloud_sizes(msg: &PointCloud2) -> Result<(), PointCloud2Error> {
    let min_row = u64::from(msg.width) * u64::from(msg.point_step);
    if u64::from(msg.row_step) < min_row {
        return Err(PointCloud2Error::RowStepTooSmall {
            row_step: msg.row_step,
            width: msg.width,
            point_step: msg.point_step,
        });
    }
    let expected = u64::from(msg.row_step) * u64::from(msg.height);
    if msg.data.len() as u64 != expected {
        return Err(PointCloud2Error::DataLength {
            len: msg.data.len(),
            row_step: msg.row_step,
            height: msg.height,
            expected,
        });
    }
    Ok(())
}

/// Decodes a `sensor_msgs/msg/PointCloud2` payload (either endianness of the CDR and of the
/// point data), checking that the data length matches `row_step x height`. The points are
/// copied out of `payload`.
pub fn decode_pointcloud2(payload: &[u8]) -> Result<PointCloud2, MsgError> {
    let (mut msg, points) = decode_pointcloud2_fields(payload)?;
    msg.data = payload[points].to_vec();
    check_cloud_sizes(&msg)?;
    Ok(msg)
}

/// [`decode_pointcloud2`] taking the payload: its buffer becomes the cloud's data, so the
/// points (megabytes per sweep) are moved within it rather than copied into fresh memory.
pub fn decode_pointcloud2_owned(mut payload: Vec<u8>) -> Result<PointCloud2, MsgError> {
    let (mut msg, points) = decode_pointcloud2_fields(&payload)?;
    payload.truncate(points.end);
    payload.drain(..points.start);
    msg.data = payload;
    check_cloud_sizes(&msg)?;
    Ok(msg)
}

/// Every field of a PointCloud2 but its data (left empty), and where the data lies in `payload`.
fn decode_pointcloud2_fields(
    payload: &[u8],
) -> Result<(PointCloud2, std::ops::Range<usize>), MsgError> {
    let mut r = CdrReader::new(payload)?;
    let (stamp_ns, frame_id) = read_header(&mut r)?;
    let height = r.u32("height")?;
    let width = r.u32("width")?;
    // A PointField is at least 4 (name length) + 4 + 1 + 4 bytes.
    let n_fields = r.seq_len("fields", 13)?;
    let mut fields = Vec::with_capacity(n_fields);
    for _ in 0..n_fields {
        fields.push(PointField {
            name: r.string("fields.name")?,
            offset: r.u32("fields.offset")?,
            datatype: r.u8("fields.datatype")?,
            count: r.u32("fields.count")?,
        });
    }
    let is_bigendian = r.bool("is_bigendian")?;
    let point_step = r.u32("point_step")?;
    let row_step = r.u32("row_step")?;
    let data = r.bytes("data")?;
    // Where the points lie in the payload (a sub-slice of it, so the difference is in range).
    let start = data.as_ptr() as usize - payload.as_ptr() as usize;
    let points = start..start + data.len();
    let is_dense = r.bool("is_dense")?;
    let msg = PointCloud2 {
        stamp_ns,
        frame_id,
        height,
        width,
        fields,
        is_bigendian,
        point_step,
        row_step,
        data: Vec::new(),
        is_dense,
    };
    Ok((msg, points))
}

impl RosMessage for PointCloud2 {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/PointCloud2";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.u32(self.height);
        w.u32(self.width);
        w.seq_len(self.fields.len());
        for f in &self.fields {
            w.string(&f.name);
            w.u32(f.offset);
            w.u8(f.datatype);
            w.u32(f.count);
        }
        w.bool(self.is_bigendian);
        w.u32(self.point_step);
        w.u32(self.row_step);
        w.bytes(&self.data);
        w.bool(self.is_dense);
    }
    fn to_cdr(&self) -> Vec<u8> {
        let mut w = CdrWriter::with_capacity(self.data.len() + 128);
        self.encode_fields(&mut w);
        w.finish()
    }
}

/// Decodes a `sensor_msgs/msg/Image` payload into a validated [`Image`]. Bayer encodings are
/// [`MsgError::Unsupported`] (fusionrt does not demosaic); 16-bit and big-endian pixel data too.
pub fn decode_image(payload: &[u8]) -> Result<Image, MsgError> {
    let mut r = CdrReader::new(payload)?;
    let (stamp_ns, frame_id) = read_header(&mut r)?;
    let height = r.u32("height")?;
    let width = r.u32("width")?;
    let encoding_name = r.string("encoding")?;
    let _is_bigendian = r.u8("is_bigendian")?;
    let step = r.u32("step")?;
    let data = r.bytes("data")?;
    if encoding_name.starts_with("bayer_") {
        return Err(MsgError::Unsupported(format!(
            "image encoding `{encoding_name}`: Bayer images are not demosaiced by fusionrt; \
             record rgb8/bgr8/mono8 or a CompressedImage"
        )));
    }
    let encoding = Encoding::from_ros(&encoding_name)?;
    let image = Image {
        stamp_ns,
        frame_id,
        width,
        height,
        encoding,
        step,
        data: data.to_vec(),
    };
    image.validate()?;
    Ok(image)
}

impl RosMessage for Image {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Image";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.u32(self.height);
        w.u32(self.width);
        w.string(self.encoding.ros_name());
        w.u8(0);
        w.u32(self.step);
        w.bytes(&self.data);
    }
    fn to_cdr(&self) -> Vec<u8> {
        let mut w = CdrWriter::with_capacity(self.data.len() + 64);
        self.encode_fields(&mut w);
        w.finish()
    }
}

/// `sensor_msgs/CompressedImage`, still compressed.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedImage {
    /// Exposure time, ns.
    pub stamp_ns: i64,
    /// The camera's optical frame.
    pub frame_id: String,
    /// `jpeg`, `png`, or forms like `rgb8; jpeg compressed bgr8`.
    pub format: String,
    /// The compressed bytes.
    pub data: Vec<u8>,
}

/// Decodes a `sensor_msgs/msg/CompressedImage` payload (the bytes stay compressed).
pub fn decode_compressed_image(payload: &[u8]) -> Result<CompressedImage, MsgError> {
    let mut r = CdrReader::new(payload)?;
    let (stamp_ns, frame_id) = read_header(&mut r)?;
    let format = r.string("format")?;
    let data = r.bytes("data")?.to_vec();
    Ok(CompressedImage {
        stamp_ns,
        frame_id,
        format,
        data,
    })
}

impl RosMessage for CompressedImage {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CompressedImage";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.string(&self.format);
        w.bytes(&self.data);
    }
}

/// Decodes a `sensor_msgs/msg/CameraInfo` payload (binning and ROI are read and dropped).
pub fn decode_camera_info(payload: &[u8]) -> Result<CameraInfo, MsgError> {
    let mut r = CdrReader::new(payload)?;
    let (stamp_ns, frame_id) = read_header(&mut r)?;
    let height = r.u32("height")?;
    let width = r.u32("width")?;
    let distortion_model = r.string("distortion_model")?;
    let d = r.f64_seq("d")?;
    let k = r.f64_array::<9>("k")?;
    let rect = r.f64_array::<9>("r")?;
    let p = r.f64_array::<12>("p")?;
    for field in ["binning_x", "binning_y", "roi.x_offset", "roi.y_offset"] {
        r.u32(field)?;
    }
    for field in ["roi.height", "roi.width"] {
        r.u32(field)?;
    }
    r.bool("roi.do_rectify")?;
    Ok(CameraInfo {
        stamp_ns,
        frame_id,
        width,
        height,
        distortion_model,
        d,
        k,
        r: rect,
        p,
    })
}

impl RosMessage for CameraInfo {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CameraInfo";
    fn encode_fields(&self, w: &mut CdrWriter) {
        write_header(w, self.stamp_ns, &self.frame_id);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.distortion_model);
        w.f64_seq(&self.d);
        w.f64_array(&self.k);
        w.f64_array(&self.r);
        w.f64_array(&self.p);
        for _ in 0..6 {
            w.u32(0); // binning_x, binning_y, roi x_offset, y_offset, height, width
        }
        w.bool(false); // roi.do_rectify
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::{Decoded, decode};
    use fusionrt_core::PointCloud;
    use fusionrt_core::cloud::Channels;

    fn cloud() -> PointCloud2 {
        let mut c = PointCloud::with_capacity(
            2,
            Channels {
                intensity: true,
                ring: true,
                time_offset: false,
            },
        );
        c.stamp_ns = 1_500_000_123;
        c.frame_id = "velodyne".into();
        c.push_xyzi(1.0, 2.0, 3.0, 0.5);
        c.ring.push(7);
        c.push_xyzi(-1.0, 0.0, 9.5, 0.25);
        c.ring.push(8);
        c.to_pointcloud2()
    }

    #[test]
    fn pointcloud2_round_trips_and_converts() {
        let msg = cloud();
        let back = decode_pointcloud2(&msg.to_cdr()).unwrap();
        assert_eq!(back, msg);
        assert_eq!(decode_pointcloud2_owned(msg.to_cdr()).unwrap(), msg);
        let mut pc = PointCloud::default();
        pc.fill_from_pointcloud2(&back).unwrap();
        assert_eq!(pc.z, vec![3.0, 9.5]);
        assert_eq!(pc.ring, vec![7, 8]);
    }

    /// A big-endian CDR payload with big-endian point data and 4 bytes of padding per point.
    #[test]
    fn big_endian_padded_cloud_decodes() {
        let mut b = vec![0u8, 0, 0, 0];
        let push_u32 = |b: &mut Vec<u8>, v: u32| {
            while !(b.len() - 4).is_multiple_of(4) {
                b.push(0);
            }
            b.extend_from_slice(&v.to_be_bytes());
        };
        push_u32(&mut b, 5); // sec
        push_u32(&mut b, 6); // nanosec
        push_u32(&mut b, 2);
        b.extend_from_slice(b"l\0");
        push_u32(&mut b, 1); // height
        push_u32(&mut b, 1); // width
        push_u32(&mut b, 3); // fields
        for (i, name) in ["x", "y", "z"].iter().enumerate() {
            push_u32(&mut b, 2);
            b.extend_from_slice(name.as_bytes());
            b.push(0);
            push_u32(&mut b, i as u32 * 4);
            b.push(7);
            push_u32(&mut b, 1);
        }
        b.push(1); // is_bigendian
        push_u32(&mut b, 16); // point_step with padding
        push_u32(&mut b, 16);
        push_u32(&mut b, 16);
        for v in [1.0f32, -2.0, 3.5] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0xAA; 4]);
        b.push(1);
        let Some(Decoded::PointCloud2(msg)) = decode("sensor_msgs/msg/PointCloud2", &b).unwrap()
        else {
            panic!("not a cloud")
        };
        let Some(Decoded::PointCloud2(owned)) =
            crate::msgs::decode_owned("sensor_msgs/msg/PointCloud2", b).unwrap()
        else {
            panic!("not a cloud")
        };
        assert_eq!(owned, msg);
        assert_eq!(msg.stamp_ns, 5_000_000_006);
        let mut pc = PointCloud::default();
        pc.fill_from_pointcloud2(&msg).unwrap();
        assert_eq!((pc.x[0], pc.y[0], pc.z[0]), (1.0, -2.0, 3.5));
    }

    #[test]
    fn bad_clouds_are_errors_not_panics() {
        let mut msg = cloud();
        msg.width = 3; // claims 3 points, data holds 2
        msg.row_step = 3 * msg.point_step;
        let err = decode_pointcloud2(&msg.to_cdr()).unwrap_err();
        assert!(matches!(
            err,
            MsgError::PointCloud2(PointCloud2Error::DataLength { .. })
        ));
        let full = cloud().to_cdr();
        assert!(decode_pointcloud2_owned(msg.to_cdr()).is_err());
        for cut in [0, 3, 10, 40, full.len() / 2, full.len() - 1] {
            assert!(decode_pointcloud2(&full[..cut]).is_err(), "cut {cut}");
            assert!(
                decode_pointcloud2_owned(full[..cut].to_vec()).is_err(),
                "cut {cut}"
            );
        }
    }

    fn image(encoding: Encoding) -> Image {
        let bpp = encoding.bytes_per_pixel();
        Image {
            stamp_ns: 42,
            frame_id: "camera0".into(),
            width: 3,
            height: 2,
            encoding,
            step: 3 * bpp + 2,
            data: (0..(3 * bpp + 2) * 2).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn images_round_trip_and_bayer_is_a_clear_skip() {
        for enc in [Encoding::Rgb8, Encoding::Bgr8, Encoding::Mono8] {
            let img = image(enc);
            assert_eq!(decode_image(&img.to_cdr()).unwrap(), img);
        }
        let mut w = CdrWriter::new();
        write_header(&mut w, 0, "c");
        w.u32(2);
        w.u32(2);
        w.string("bayer_rggb8");
        w.u8(0);
        w.u32(2);
        w.bytes(&[0; 4]);
        let err = decode_image(&w.finish()).unwrap_err();
        assert!(matches!(err, MsgError::Unsupported(_)) && err.to_string().contains("Bayer"));
        let mut bad = image(Encoding::Rgb8);
        bad.step = 4; // smaller than 3 px x 3 bytes
        assert!(matches!(
            decode_image(&bad.to_cdr()),
            Err(MsgError::Image(_))
        ));
    }

    #[test]
    fn compressed_images_and_camera_info_round_trip() {
        let c = CompressedImage {
            stamp_ns: 7,
            frame_id: "camera0".into(),
            format: "png".into(),
            data: vec![0x89, b'P', b'N', b'G'],
        };
        assert_eq!(decode_compressed_image(&c.to_cdr()).unwrap(), c);
        let info = CameraInfo {
            stamp_ns: 9,
            frame_id: "camera0".into(),
            width: 1242,
            height: 375,
            distortion_model: "plumb_bob".into(),
            d: vec![0.0; 5],
            k: [721.5, 0.0, 609.6, 0.0, 721.5, 172.9, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                721.5, 0.0, 609.6, 44.9, 0.0, 721.5, 172.9, 0.2, 0.0, 0.0, 1.0, 0.003,
            ],
        };
        assert_eq!(decode_camera_info(&info.to_cdr()).unwrap(), info);
    }
}
