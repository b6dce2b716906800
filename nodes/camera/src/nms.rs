//! Class-wise non-maximum suppression, with class groups (car, truck and bus are one vehicle
//! group, so one vehicle does not come out as a car and a truck) and the merging of boxes cut
//! off at tile seams into the whole box from the neighbouring tile.

use crate::decode::Candidate;

/// Greedy NMS over `cands` (sorted here by score, best first, stable). Two boxes of the same
/// group (`group[class_id]`) are one object when their IoU exceeds `iou`, or when one of
/// them is cut off at a tile seam and lies inside the other for at least `containment` of its
/// area; the better score is kept, and a cut-off box takes the whole box's extent. Survivors
/// are left in `cands`, best first. `suppressed` is scratch.
pub fn nms(
    cands: &mut Vec<Candidate>,
    group: &[u32],
    iou: f32,
    containment: f32,
    suppressed: &mut Vec<bool>,
) {
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    suppressed.clear();
    suppressed.resize(cands.len(), false);
    let group_of = |c: &Candidate| {
        group
            .get(c.class_id as usize)
            .copied()
            .unwrap_or(c.class_id)
    };
    for i in 0..cands.len() {
        if suppressed[i] {
            continue;
        }
        for j in i + 1..cands.len() {
            if suppressed[j] || group_of(&cands[i]) != group_of(&cands[j]) {
                continue;
            }
            let (a, b) = (cands[i], cands[j]);
            let inter = a.bbox.intersection(&b.bbox);
            if inter <= 0.0 {
                continue;
            }
            let union = a.bbox.area() + b.bbox.area() - inter;
            let same = inter / union > iou
                || (b.seam && inter >= containment * b.bbox.area())
                || (a.seam && inter >= containment * a.bbox.area());
            if same {
                suppressed[j] = true;
                if a.seam && !b.seam && inter >= containment * a.bbox.area() {
                    cands[i].bbox = b.bbox;
                    cands[i].seam = false;
                }
            }
        }
    }
    let mut k = 0;
    cands.retain(|_| {
        let keep = !suppressed[k];
        k += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusionrt_core::BBox2;

    fn cand(x1: f32, x2: f32, score: f32, class_id: u32, seam: bool) -> Candidate {
        Candidate {
            bbox: BBox2::new(x1, 0.0, x2, 10.0),
            score,
            class_id,
            seam,
        }
    }

    #[test]
    fn suppression_is_per_group() {
        // Classes 0 and 1 share group 0 (car, truck); class 2 is alone.
        let group = [0, 0, 2];
        let mut c = vec![
            cand(0.0, 10.0, 0.5, 1, false),
            cand(0.5, 10.0, 0.9, 0, false),
            cand(0.0, 10.0, 0.8, 2, false),
            cand(20.0, 30.0, 0.4, 0, false),
        ];
        let mut scratch = Vec::new();
        nms(&mut c, &group, 0.6, 0.7, &mut scratch);
        let kept: Vec<(u32, f32)> = c.iter().map(|c| (c.class_id, c.score)).collect();
        assert_eq!(kept, vec![(0, 0.9), (2, 0.8), (0, 0.4)]);
    }

    #[test]
    fn a_cut_off_box_merges_into_the_whole_one() {
        let group = [0];
        // The cut-off part (higher score) lies inside the whole box: IoU only 0.4.
        let mut c = vec![
            cand(10.0, 14.0, 0.9, 0, true),
            cand(4.0, 14.0, 0.6, 0, false),
        ];
        let mut scratch = Vec::new();
        nms(&mut c, &group, 0.6, 0.7, &mut scratch);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].score, 0.9);
        assert_eq!(c[0].bbox.x1, 4.0);
        // Without the seam flag both stay (two objects, one partly hidden).
        let mut c = vec![
            cand(10.0, 14.0, 0.9, 0, false),
            cand(4.0, 14.0, 0.6, 0, false),
        ];
        nms(&mut c, &group, 0.6, 0.7, &mut scratch);
        assert_eq!(c.len(), 2);
    }
}
