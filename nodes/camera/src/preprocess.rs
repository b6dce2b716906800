//! Pre-processing: straight from the sensor buffer (any supported encoding, with row padding)
//! into the planar, normalised network input, one input per region (whole image, letterbox or
//! square tiles across a wide image).
//!
//! Resampling is separable with a triangle filter whose support widens with the scale when
//! shrinking (area-like, antialiased: small objects survive a 3x reduction) and is plain
//! bilinear with edge repeat when enlarging. Output pixels whose centre lies outside the image
//! get the card's pad value.

use crate::card::{ChannelOrder, InputSpec};
use crate::error::CameraError;
use fusionrt_core::image::{Encoding, Image};

/// The part of the image one network input covers: input pixel `u` maps to image
/// `x0 + u * width / input_width` (likewise for rows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// Left edge in the image, px (may be negative: padding).
    pub x0: f32,
    /// Top edge in the image, px (may be negative: padding).
    pub y0: f32,
    /// Width in the image, px.
    pub width: f32,
    /// Height in the image, px.
    pub height: f32,
}

/// The regions for an image of `width` x `height` and a network input of `in_w` x `in_h`:
/// `tiles` 0 squashes the whole image, 1 letterboxes it (aspect kept, centred), K >= 2 spreads
/// K regions of the input's aspect evenly across the width, each as tall as the image or as
/// wide as a K-th of it, whichever is larger (centred vertically).
pub fn regions(width: u32, height: u32, tiles: u32, in_w: u32, in_h: u32) -> Vec<Region> {
    let (w, h) = (width as f32, height as f32);
    let aspect = in_w as f32 / in_h as f32; // width / height of a region
    match tiles {
        0 => vec![Region {
            x0: 0.0,
            y0: 0.0,
            width: w,
            height: h,
        }],
        1 => {
            let (rw, rh) = if w / h > aspect {
                (w, w / aspect)
            } else {
                (h * aspect, h)
            };
            vec![Region {
                x0: ((w - rw) / 2.0).round(),
                y0: ((h - rh) / 2.0).round(),
                width: rw.round(),
                height: rh.round(),
            }]
        }
        k => {
            let rw = (w / k as f32).ceil().max(h * aspect).round();
            let rh = (rw / aspect).round();
            (0..k)
                .map(|i| Region {
                    x0: (i as f32 * (w - rw) / (k - 1) as f32).round(),
                    y0: ((h - rh) / 2.0).round(),
                    width: rw,
                    height: rh,
                })
                .collect()
        }
    }
}

/// Resampling taps of one axis: output `o` reads `idx[off[o]..off[o + 1]]` with weights `wt`.
#[derive(Clone, Debug, Default)]
struct Taps {
    off: Vec<u32>,
    idx: Vec<u32>,
    wt: Vec<f32>,
    /// Smallest and largest source index read (lo > hi when nothing is read).
    lo: u32,
    hi: u32,
}

impl Taps {
    fn new(start: f32, span: f32, n_out: u32, n_src: u32) -> Self {
        let scale = span / n_out as f32;
        let radius = scale.max(1.0);
        let mut taps = Taps {
            off: Vec::with_capacity(n_out as usize + 1),
            lo: u32::MAX,
            hi: 0,
            ..Taps::default()
        };
        taps.off.push(0);
        let last = n_src as i64 - 1;
        for o in 0..n_out {
            let c = start + (o as f32 + 0.5) * scale;
            if c >= 0.0 && c < n_src as f32 {
                let first = taps.idx.len();
                let from = (c - radius - 0.5).floor() as i64;
                let to = (c + radius - 0.5).ceil() as i64;
                let mut sum = 0.0;
                for i in from..=to {
                    let w = 1.0 - ((i as f32 + 0.5 - c) / radius).abs();
                    if w <= 0.0 {
                        continue;
                    }
                    let src = i.clamp(0, last) as u32;
                    // Edge repeat: merge taps that clamp to the same pixel.
                    if let Some(pos) = taps.idx[first..].iter().position(|&s| s == src) {
                        taps.wt[first + pos] += w;
                    } else {
                        taps.idx.push(src);
                        taps.wt.push(w);
                    }
                    sum += w;
                }
                for w in &mut taps.wt[first..] {
                    *w /= sum;
                }
                for &s in &taps.idx[first..] {
                    taps.lo = taps.lo.min(s);
                    taps.hi = taps.hi.max(s);
                }
            }
            taps.off.push(taps.idx.len() as u32);
        }
        taps
    }

    fn range(&self, o: usize) -> std::ops::Range<usize> {
        self.off[o] as usize..self.off[o + 1] as usize
    }
}

/// The resampling plan of one region.
#[derive(Clone, Debug)]
struct Plan {
    x: Taps,
    y: Taps,
}

/// Converts images into network inputs; caches resampling plans per image size.
#[derive(Debug)]
pub struct Preprocessor {
    in_w: u32,
    in_h: u32,
    /// RGB component (0, 1, 2) that feeds each input plane.
    order: [usize; 3],
    scale: [f32; 3],
    offset: [f32; 3],
    pad: f32,
    tiles: u32,
    key: Option<(u32, u32)>,
    plans: Vec<Plan>,
    regions: Vec<Region>,
    row: Vec<f32>,
    hbuf: Vec<f32>,
    vacc: Vec<f32>,
}

impl Preprocessor {
    /// A pre-processor for a model input and a tile count (see [`regions`]).
    pub fn new(input: &InputSpec, tiles: u32) -> Self {
        let order = match input.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let scale = input.std.map(|s| 1.0 / s);
        let offset = [0, 1, 2].map(|c| -input.mean[c] / input.std[c]);
        Self {
            in_w: input.width,
            in_h: input.height,
            order,
            scale,
            offset,
            pad: input.pad_value,
            tiles,
            key: None,
            plans: Vec::new(),
            regions: Vec::new(),
            row: Vec::new(),
            hbuf: Vec::new(),
            vacc: Vec::new(),
        }
    }

    /// The tile count in use.
    pub fn tiles(&self) -> u32 {
        self.tiles
    }

    /// Changes the tile count from the next image on (the regions and resampling plans are
    /// rebuilt then; buffers keep their capacity).
    pub fn set_tiles(&mut self, tiles: u32) {
        if tiles != self.tiles {
            self.tiles = tiles;
            self.key = None;
        }
    }

    /// Floats in one network input.
    pub fn input_len(&self) -> usize {
        3 * self.in_w as usize * self.in_h as usize
    }

    /// Fills `out` with one normalised planar input per region (`regions().len()` inputs
    /// back to back) from `image`, which is validated first.
    pub fn run(&mut self, image: &Image, out: &mut Vec<f32>) -> Result<&[Region], CameraError> {
        image.validate()?;
        if self.key != Some((image.width, image.height)) {
            self.regions = regions(image.width, image.height, self.tiles, self.in_w, self.in_h);
            self.plans = self
                .regions
                .iter()
                .map(|r| Plan {
                    x: Taps::new(r.x0, r.width, self.in_w, image.width),
                    y: Taps::new(r.y0, r.height, self.in_h, image.height),
                })
                .collect();
            self.key = Some((image.width, image.height));
        }
        let plane = self.in_w as usize * self.in_h as usize;
        out.clear();
        out.resize(self.plans.len() * 3 * plane, 0.0);
        let in_w = self.in_w as usize;
        for (k, plan) in self.plans.iter().enumerate() {
            let dst = &mut out[k * 3 * plane..(k + 1) * 3 * plane];
            // Horizontal pass over the source rows this region reads.
            let (ylo, yhi) = (plan.y.lo as usize, plan.y.hi as usize);
            let rows = if ylo <= yhi { yhi - ylo + 1 } else { 0 };
            self.hbuf.clear();
            self.hbuf.resize(rows * in_w * 3, 0.0);
            if plan.x.lo <= plan.x.hi {
                let (xlo, xhi) = (plan.x.lo as usize, plan.x.hi as usize);
                self.row.resize((xhi - xlo + 1) * 3, 0.0);
                for r in 0..rows {
                    convert_row(image, ylo + r, xlo, xhi + 1, &mut self.row);
                    let hrow = &mut self.hbuf[r * in_w * 3..(r + 1) * in_w * 3];
                    for ox in 0..in_w {
                        let range = plan.x.range(ox);
                        if range.is_empty() {
                            hrow[ox * 3..ox * 3 + 3].fill(self.pad);
                            continue;
                        }
                        let mut acc = [0.0f32; 3];
                        for t in range {
                            let s = (plan.x.idx[t] as usize - xlo) * 3;
                            let w = plan.x.wt[t];
                            acc[0] += w * self.row[s];
                            acc[1] += w * self.row[s + 1];
                            acc[2] += w * self.row[s + 2];
                        }
                        hrow[ox * 3..ox * 3 + 3].copy_from_slice(&acc);
                    }
                }
            }
            // Vertical pass, normalise, write planar in the model's channel order.
            let (p0, rest) = dst.split_at_mut(plane);
            let (p1, p2) = rest.split_at_mut(plane);
            for oy in 0..self.in_h as usize {
                let range = plan.y.range(oy);
                let base = oy * in_w;
                if range.is_empty() {
                    for (c, p) in [&mut *p0, &mut *p1, &mut *p2].into_iter().enumerate() {
                        p[base..base + in_w].fill(self.pad * self.scale[c] + self.offset[c]);
                    }
                    continue;
                }
                // Rows of taps summed whole (vectorises), then de-interleaved.
                let acc = &mut self.vacc;
                acc.clear();
                acc.resize(in_w * 3, 0.0);
                for t in range {
                    let w = plan.y.wt[t];
                    let start = (plan.y.idx[t] as usize - ylo) * in_w * 3;
                    for (a, &h) in acc.iter_mut().zip(&self.hbuf[start..start + in_w * 3]) {
                        *a += w * h;
                    }
                }
                for (ox, px) in acc.chunks_exact(3).enumerate() {
                    p0[base + ox] = px[self.order[0]] * self.scale[0] + self.offset[0];
                    p1[base + ox] = px[self.order[1]] * self.scale[1] + self.offset[1];
                    p2[base + ox] = px[self.order[2]] * self.scale[2] + self.offset[2];
                }
            }
        }
        Ok(&self.regions)
    }
}

/// BT.601 limited-range YUV to RGB.
#[inline]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [f32; 3] {
    let c = 1.164_383 * (f32::from(y) - 16.0);
    let d = f32::from(u) - 128.0;
    let e = f32::from(v) - 128.0;
    [
        (c + 1.596_027 * e).clamp(0.0, 255.0),
        (c - 0.391_762 * d - 0.812_968 * e).clamp(0.0, 255.0),
        (c + 2.017_232 * d).clamp(0.0, 255.0),
    ]
}

/// Writes RGB floats of pixels `x0..x1` of row `y` into `out` (3 per pixel).
fn convert_row(image: &Image, y: usize, x0: usize, x1: usize, out: &mut [f32]) {
    let row = &image.data[y * image.step as usize..];
    let px = |x: usize, o: &mut [f32], rgb: [f32; 3]| {
        o[(x - x0) * 3..(x - x0) * 3 + 3].copy_from_slice(&rgb)
    };
    let f = f32::from;
    match image.encoding {
        Encoding::Rgb8 => {
            for x in x0..x1 {
                let p = &row[x * 3..x * 3 + 3];
                px(x, out, [f(p[0]), f(p[1]), f(p[2])]);
            }
        }
        Encoding::Bgr8 => {
            for x in x0..x1 {
                let p = &row[x * 3..x * 3 + 3];
                px(x, out, [f(p[2]), f(p[1]), f(p[0])]);
            }
        }
        Encoding::Rgba8 => {
            for x in x0..x1 {
                let p = &row[x * 4..x * 4 + 3];
                px(x, out, [f(p[0]), f(p[1]), f(p[2])]);
            }
        }
        Encoding::Bgra8 => {
            for x in x0..x1 {
                let p = &row[x * 4..x * 4 + 3];
                px(x, out, [f(p[2]), f(p[1]), f(p[0])]);
            }
        }
        Encoding::Mono8 => {
            for (x, &v) in row.iter().enumerate().take(x1).skip(x0) {
                let v = f(v);
                px(x, out, [v, v, v]);
            }
        }
        Encoding::Uyvy | Encoding::Yuyv => {
            let (yi, ui, vi) = if image.encoding == Encoding::Uyvy {
                ([1, 3], 0, 2)
            } else {
                ([0, 2], 1, 3)
            };
            for x in x0..x1 {
                let q = &row[(x / 2) * 4..(x / 2) * 4 + 4];
                px(x, out, yuv_to_rgb(q[yi[x % 2]], q[ui], q[vi]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(order: ChannelOrder, size: u32) -> InputSpec {
        InputSpec {
            name: "x".into(),
            width: size,
            height: size,
            channel_order: order,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_value: 0.0,
        }
    }

    fn image(encoding: Encoding, width: u32, height: u32, step: u32, data: Vec<u8>) -> Image {
        Image {
            stamp_ns: 0,
            frame_id: "cam".into(),
            width,
            height,
            encoding,
            step,
            data,
        }
    }

    #[test]
    fn kitti_tiles_cover_the_width() {
        let r = regions(1242, 375, 4, 416, 416);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].x0, 0.0);
        assert_eq!(r[3].x0 + r[3].width, 1242.0);
        assert_eq!(r[0].width, 375.0);
        let lb = regions(1242, 375, 1, 416, 416);
        assert_eq!(lb[0].width, 1242.0);
        assert!(lb[0].y0 < 0.0);
    }

    #[test]
    fn every_encoding_gives_the_same_planes() {
        // 4 x 2 image: a red, green, blue and grey pixel per row.
        let rgb = [255u8, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128];
        let mut data = Vec::new();
        for _ in 0..2 {
            data.extend_from_slice(&rgb);
            data.extend_from_slice(&[7, 7]); // row padding
        }
        let reference = image(Encoding::Rgb8, 4, 2, 14, data.clone());
        let mut pre = Preprocessor::new(&spec(ChannelOrder::Bgr, 4), 0);
        let mut want = Vec::new();
        pre.run(&reference, &mut want).unwrap();
        // Plane 0 is blue (BGR), pixel 2 of row 0 is blue.
        assert!((want[2] - 255.0).abs() < 1e-3 && want[0].abs() < 1e-3);
        let bgr: Vec<u8> = data
            .chunks(14)
            .flat_map(|r| {
                let mut v: Vec<u8> = r[..12].chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
                v.extend_from_slice(&r[12..]);
                v
            })
            .collect();
        let rgba: Vec<u8> = rgb
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let rgba2 = [rgba.clone(), rgba].concat();
        let bgra: Vec<u8> = rgba2
            .chunks(4)
            .flat_map(|p| [p[2], p[1], p[0], p[3]])
            .collect();
        let mut got = Vec::new();
        for img in [
            image(Encoding::Bgr8, 4, 2, 14, bgr),
            image(Encoding::Rgba8, 4, 2, 16, rgba2),
            image(Encoding::Bgra8, 4, 2, 16, bgra),
        ] {
            pre.run(&img, &mut got).unwrap();
            assert_eq!(got, want, "{:?}", img.encoding);
        }
    }

    #[test]
    fn mono_and_yuv_decode_to_grey_and_colour() {
        let mut pre = Preprocessor::new(&spec(ChannelOrder::Rgb, 2), 0);
        let mut out = Vec::new();
        pre.run(&image(Encoding::Mono8, 2, 2, 2, vec![100; 4]), &mut out)
            .unwrap();
        assert!(out.iter().all(|v| (v - 100.0).abs() < 1e-3));
        // Limited-range white and black as UYVY and YUYV.
        let uyvy = image(
            Encoding::Uyvy,
            2,
            2,
            4,
            vec![128, 235, 128, 16, 128, 235, 128, 16],
        );
        let yuyv = image(
            Encoding::Yuyv,
            2,
            2,
            4,
            vec![235, 128, 16, 128, 235, 128, 16, 128],
        );
        let mut a = Vec::new();
        let mut b = Vec::new();
        pre.run(&uyvy, &mut a).unwrap();
        pre.run(&yuyv, &mut b).unwrap();
        assert_eq!(a, b);
        assert!((a[0] - 255.0).abs() < 0.5 && a[1].abs() < 0.5, "{a:?}");
    }

    #[test]
    fn inconsistent_images_are_errors_not_panics() {
        let mut pre = Preprocessor::new(&spec(ChannelOrder::Rgb, 4), 4);
        let mut out = Vec::new();
        let err = pre
            .run(&image(Encoding::Rgb8, 4, 2, 12, vec![0; 20]), &mut out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected step 12 x height 2 = 24"), "{err}");
        assert!(
            pre.run(&image(Encoding::Yuyv, 3, 1, 6, vec![0; 6]), &mut out)
                .is_err()
        );
    }

    #[test]
    fn downscaling_averages_and_padding_is_filled() {
        // One bright pixel shrunk 4x: bilinear sampling (at source x 1.5 and 5.5) misses it,
        // the widened triangle filter spreads it over both outputs and keeps its mass.
        let mut data = vec![0u8; 16];
        data[3] = 255;
        data[8 + 3] = 255;
        let mut pre = Preprocessor::new(&spec(ChannelOrder::Rgb, 2), 0);
        let mut out = Vec::new();
        pre.run(&image(Encoding::Mono8, 8, 2, 8, data), &mut out)
            .unwrap();
        assert!(out[0] > out[1] && out[1] > 10.0, "{out:?}");
        assert!((out[0] + out[1] - 255.0 / 4.0).abs() < 1e-3, "{out:?}");
        // Letterbox of a wide image: top and bottom rows are padding.
        let mut spec = spec(ChannelOrder::Rgb, 4);
        spec.pad_value = 114.0;
        let mut pre = Preprocessor::new(&spec, 1);
        pre.run(&image(Encoding::Mono8, 8, 2, 8, vec![10; 16]), &mut out)
            .unwrap();
        assert!(
            (out[0] - 114.0).abs() < 1e-3 && (out[5] - 10.0).abs() < 1e-3,
            "{out:?}"
        );
    }
}
