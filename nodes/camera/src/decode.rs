//! Decoders of detection outputs into image-pixel candidates: NanoDet (GFL heads), YOLOv8 /
//! YOLO11 and YOLOX. Outputs are matched by shape, never by name.

use crate::card::{DecoderKind, ModelCard};
use crate::error::CameraError;
use crate::preprocess::Region;
use fusionrt_core::BBox2;

/// A detection before NMS, in image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Box, image px.
    pub bbox: BBox2,
    /// Class score.
    pub score: f32,
    /// Class index in the model's class list.
    pub class_id: u32,
    /// The box touches an edge of its region that lies inside the image (a tile seam), so
    /// the object may be cut off.
    pub seam: bool,
}

/// One model output: its shape and values.
pub type OutputView<'a> = (&'a [i64], &'a [f32]);

/// Decodes the outputs of one model pass over one region.
#[derive(Clone, Debug)]
pub struct Decoder {
    kind: DecoderKind,
    in_w: u32,
    in_h: u32,
    classes: usize,
    strides: Vec<u32>,
    bins: usize,
    /// Softmax scratch.
    prob: Vec<f32>,
}

impl Decoder {
    /// A decoder for a model card (or `kind` overriding the card's decoder).
    pub fn new(card: &ModelCard, kind: Option<DecoderKind>) -> Self {
        Self {
            kind: kind.unwrap_or(card.decoder),
            in_w: card.input.width,
            in_h: card.input.height,
            classes: card.classes.len(),
            strides: card.strides.clone(),
            bins: card.reg_max as usize + 1,
            prob: vec![0.0; card.reg_max as usize + 1],
        }
    }

    /// Appends the candidates with a score of at least `threshold` of the pass over `region`
    /// of an image of `image_w` x `image_h` px.
    pub fn decode(
        &mut self,
        outputs: &[OutputView<'_>],
        region: &Region,
        image_w: u32,
        image_h: u32,
        threshold: f32,
        out: &mut Vec<Candidate>,
    ) -> Result<(), CameraError> {
        let map = Mapper::new(region, self.in_w, self.in_h, image_w, image_h);
        match self.kind {
            DecoderKind::Nanodet => self.nanodet(outputs, &map, threshold, out),
            DecoderKind::Yolov8 => self.yolov8(outputs, &map, threshold, out),
            DecoderKind::Yolox => self.yolox(outputs, &map, threshold, out),
        }
    }

    fn find<'a>(outputs: &[OutputView<'a>], n: usize, width: usize) -> Option<&'a [f32]> {
        outputs.iter().find_map(|(shape, data)| {
            let dims: Vec<i64> = shape.iter().copied().skip_while(|&d| d == 1).collect();
            (dims == [n as i64, width as i64] && data.len() == n * width).then_some(*data)
        })
    }

    fn nanodet(
        &mut self,
        outputs: &[OutputView<'_>],
        map: &Mapper,
        threshold: f32,
        out: &mut Vec<Candidate>,
    ) -> Result<(), CameraError> {
        let (c, bins) = (self.classes, self.bins);
        for &stride in &self.strides {
            let (gw, gh) = ((self.in_w / stride) as usize, (self.in_h / stride) as usize);
            let n = gw * gh;
            let (Some(cls), Some(reg)) =
                (Self::find(outputs, n, c), Self::find(outputs, n, 4 * bins))
            else {
                return Err(CameraError::Output(format!(
                    "nanodet: no outputs [1, {n}, {c}] and [1, {n}, {}] for stride {stride} (outputs: {:?})",
                    4 * bins,
                    outputs.iter().map(|(s, _)| s.to_vec()).collect::<Vec<_>>()
                )));
            };
            for cell in 0..n {
                let scores = &cls[cell * c..(cell + 1) * c];
                if !scores.iter().any(|&s| s >= threshold) {
                    continue;
                }
                let cx = ((cell % gw) as f32 + 0.5) * stride as f32;
                let cy = ((cell / gw) as f32 + 0.5) * stride as f32;
                let mut dist = [0.0f32; 4];
                for (side, d) in dist.iter_mut().enumerate() {
                    let logits =
                        &reg[cell * 4 * bins + side * bins..cell * 4 * bins + (side + 1) * bins];
                    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0;
                    for (p, &l) in self.prob.iter_mut().zip(logits) {
                        *p = (l - max).exp();
                        sum += *p;
                    }
                    let expected: f32 = self
                        .prob
                        .iter()
                        .enumerate()
                        .map(|(i, p)| i as f32 * p)
                        .sum();
                    *d = expected / sum * stride as f32;
                }
                let bbox = [cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3]];
                for (class_id, &score) in scores.iter().enumerate() {
                    if score >= threshold {
                        out.push(map.candidate(bbox, score, class_id as u32));
                    }
                }
            }
        }
        Ok(())
    }

    fn yolov8(
        &mut self,
        outputs: &[OutputView<'_>],
        map: &Mapper,
        threshold: f32,
        out: &mut Vec<Candidate>,
    ) -> Result<(), CameraError> {
        let rows = 4 + self.classes;
        // [1, 4 + classes, N]: one column per anchor.
        let Some((dims, data)) = find_matrix(outputs, |d| d[0] == rows as i64) else {
            return Err(missing_output(
                "yolov8",
                &format!("[1, {rows}, N]"),
                outputs,
            ));
        };
        let n = dims[1] as usize;
        for a in 0..n {
            let (best, class_id) = best_class((0..self.classes).map(|k| data[(4 + k) * n + a]));
            if best < threshold {
                continue;
            }
            let (cx, cy, w, h) = (data[a], data[n + a], data[2 * n + a], data[3 * n + a]);
            out.push(map.candidate(center_box(cx, cy, w, h), best, class_id));
        }
        Ok(())
    }

    fn yolox(
        &mut self,
        outputs: &[OutputView<'_>],
        map: &Mapper,
        threshold: f32,
        out: &mut Vec<Candidate>,
    ) -> Result<(), CameraError> {
        let cols = 5 + self.classes;
        // [1, N, 5 + classes]: one row per anchor, objectness in column 4.
        let Some((_, data)) = find_matrix(outputs, |d| d[1] == cols as i64) else {
            return Err(missing_output("yolox", &format!("[1, N, {cols}]"), outputs));
        };
        for row in data.chunks_exact(cols) {
            let obj = row[4];
            if obj < threshold {
                continue;
            }
            let (best, class_id) = best_class(row[5..].iter().copied());
            let score = obj * best;
            if score < threshold {
                continue;
            }
            out.push(map.candidate(center_box(row[0], row[1], row[2], row[3]), score, class_id));
        }
        Ok(())
    }
}

/// The first output that is a 2D matrix (leading 1s dropped) whose dims satisfy `accept`, with
/// the data length matching: its dims and data.
fn find_matrix<'a>(
    outputs: &[OutputView<'a>],
    accept: impl Fn(&[i64]) -> bool,
) -> Option<([i64; 2], &'a [f32])> {
    outputs.iter().find_map(|(shape, data)| {
        let dims: Vec<i64> = shape.iter().copied().skip_while(|&d| d == 1).collect();
        (dims.len() == 2
            && dims.iter().all(|&d| d > 0)
            && data.len() as i64 == dims[0] * dims[1]
            && accept(&dims))
        .then_some(([dims[0], dims[1]], *data))
    })
}

/// The error for a model without the output a decoder needs, listing the shapes it has.
fn missing_output(decoder: &str, wanted: &str, outputs: &[OutputView<'_>]) -> CameraError {
    CameraError::Output(format!(
        "{decoder}: no output {wanted} (outputs: {:?})",
        outputs.iter().map(|(s, _)| s.to_vec()).collect::<Vec<_>>()
    ))
}

/// The highest score and its class index.
fn best_class(scores: impl Iterator<Item = f32>) -> (f32, u32) {
    let (mut best, mut class_id) = (f32::NEG_INFINITY, 0);
    for (k, s) in scores.enumerate() {
        if s > best {
            best = s;
            class_id = k as u32;
        }
    }
    (best, class_id)
}

/// Corner box `[x1, y1, x2, y2]` of a center-size box.
fn center_box(cx: f32, cy: f32, w: f32, h: f32) -> [f32; 4] {
    [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
}

/// Maps input pixels of one region to image pixels.
struct Mapper {
    sx: f32,
    sy: f32,
    region: Region,
    in_w: f32,
    in_h: f32,
    image_w: f32,
    image_h: f32,
}

impl Mapper {
    fn new(region: &Region, in_w: u32, in_h: u32, image_w: u32, image_h: u32) -> Self {
        Self {
            sx: region.width / in_w as f32,
            sy: region.height / in_h as f32,
            region: *region,
            in_w: in_w as f32,
            in_h: in_h as f32,
            image_w: image_w as f32,
            image_h: image_h as f32,
        }
    }

    fn candidate(&self, b: [f32; 4], score: f32, class_id: u32) -> Candidate {
        let b = [
            b[0].clamp(0.0, self.in_w),
            b[1].clamp(0.0, self.in_h),
            b[2].clamp(0.0, self.in_w),
            b[3].clamp(0.0, self.in_h),
        ];
        const EDGE_PX: f32 = 2.0;
        let r = &self.region;
        let seam = (b[0] <= EDGE_PX && r.x0 > 0.0)
            || (b[2] >= self.in_w - EDGE_PX && r.x0 + r.width < self.image_w)
            || (b[1] <= EDGE_PX && r.y0 > 0.0)
            || (b[3] >= self.in_h - EDGE_PX && r.y0 + r.height < self.image_h);
        let bbox = BBox2::new(
            (r.x0 + b[0] * self.sx).clamp(0.0, self.image_w),
            (r.y0 + b[1] * self.sy).clamp(0.0, self.image_h),
            (r.x0 + b[2] * self.sx).clamp(0.0, self.image_w),
            (r.y0 + b[3] * self.sy).clamp(0.0, self.image_h),
        );
        Candidate {
            bbox,
            score,
            class_id,
            seam,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{ChannelOrder, InputSpec};

    fn card(kind: DecoderKind, classes: usize) -> ModelCard {
        ModelCard {
            name: "t".into(),
            file: "t.onnx".into(),
            sha256: "0".repeat(64),
            source: Default::default(),
            decoder: kind,
            input: InputSpec {
                name: "images".into(),
                width: 64,
                height: 64,
                channel_order: ChannelOrder::Rgb,
                mean: [0.0; 3],
                std: [255.0; 3],
                pad_value: 114.0,
            },
            strides: vec![32],
            reg_max: 3,
            classes: (0..classes).map(|i| format!("c{i}")).collect(),
        }
    }

    const WHOLE: Region = Region {
        x0: 0.0,
        y0: 0.0,
        width: 128.0,
        height: 64.0,
    };

    #[test]
    fn yolov8_rows_decode_to_image_boxes() {
        // [1, 4 + 3, 2]: anchor 0 class 2 at (32, 16) 20 x 10 px; anchor 1 below threshold.
        let n = 2;
        let mut data = vec![0.0f32; 7 * n];
        let set = |d: &mut Vec<f32>, row: usize, a: usize, v: f32| d[row * n + a] = v;
        for (row, v) in [
            (0, 32.0),
            (1, 16.0),
            (2, 20.0),
            (3, 10.0),
            (6, 0.9),
            (4, 0.2),
        ] {
            set(&mut data, row, 0, v);
        }
        set(&mut data, 5, 1, 0.1);
        let mut dec = Decoder::new(&card(DecoderKind::Yolov8, 3), None);
        let mut out = Vec::new();
        dec.decode(&[(&[1, 7, 2], &data)], &WHOLE, 128, 64, 0.5, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class_id, 2);
        assert_eq!(out[0].score, 0.9);
        // x scaled by 2 (region 128 px wide over a 64 px input).
        assert_eq!(out[0].bbox, BBox2::new(44.0, 11.0, 84.0, 21.0));
        // The wrong layout is an error naming the expected shape.
        let err = dec
            .decode(&[(&[1, 2, 7], &data)], &WHOLE, 128, 64, 0.5, &mut out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[1, 7, N]"), "{err}");
    }

    #[test]
    fn yolox_multiplies_objectness_and_class() {
        let data = [
            10.0, 10.0, 4.0, 4.0, 0.8, 0.1, 0.9, 10.0, 10.0, 4.0, 4.0, 0.3, 0.9, 0.1,
        ];
        let mut dec = Decoder::new(&card(DecoderKind::Yolox, 2), None);
        let mut out = Vec::new();
        let region = Region {
            width: 64.0,
            ..WHOLE
        };
        dec.decode(&[(&[1, 2, 7], &data)], &region, 64, 64, 0.5, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class_id, 1);
        assert!((out[0].score - 0.72).abs() < 1e-6);
        assert_eq!(out[0].bbox, BBox2::new(8.0, 8.0, 12.0, 12.0));
    }

    #[test]
    fn nanodet_distributions_decode_from_cell_centres() {
        // Stride 32 on 64 x 64: 4 cells, 2 classes, 4 bins per side.
        let mut cls = vec![0.0f32; 4 * 2];
        cls[3 * 2 + 1] = 0.8; // cell 3 (col 1, row 1), class 1
        let mut reg = vec![-30.0f32; 4 * 16];
        for side in 0..4 {
            reg[3 * 16 + side * 4 + 1] = 30.0; // expected bin 1 -> 32 px
        }
        let mut dec = Decoder::new(&card(DecoderKind::Nanodet, 2), None);
        let mut out = Vec::new();
        let region = Region {
            width: 64.0,
            ..WHOLE
        };
        dec.decode(
            &[(&[1, 4, 16], &reg), (&[1, 4, 2], &cls)],
            &region,
            64,
            64,
            0.5,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let b = out[0].bbox;
        // Centre (48, 48), 32 px each side, clipped to the 64 px input.
        assert!(
            (b.x1 - 16.0).abs() < 1e-3 && (b.y1 - 16.0).abs() < 1e-3,
            "{b:?}"
        );
        assert!(
            (b.x2 - 64.0).abs() < 1e-3 && (b.y2 - 64.0).abs() < 1e-3,
            "{b:?}"
        );
        assert!(!out[0].seam);
        // The same box on a left tile of a wider image touches the seam.
        out.clear();
        dec.decode(
            &[(&[1, 4, 16], &reg), (&[1, 4, 2], &cls)],
            &region,
            128,
            64,
            0.5,
            &mut out,
        )
        .unwrap();
        assert!(out[0].seam);
        assert!(
            dec.decode(&[(&[1, 4, 2], &cls)], &region, 64, 64, 0.5, &mut out)
                .is_err()
        );
    }
}
