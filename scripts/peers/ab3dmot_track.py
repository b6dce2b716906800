"""Runs AB3DMOT's own tracker (xinshuoweng/AB3DMOT, AB3DMOT_libs.model.AB3DMOT) over a seqmap.

Used by scripts/ab3dmot-side-by-side; run from the root of an AB3DMOT checkout with it and
Xinshuo_PyToolbox on PYTHONPATH. Uses AB3DMOT's KITTI/PointRCNN configuration and parameters
unchanged. The one difference from its main.py: no oxts (GPS/IMU) files exist for these
sequences, so ego-motion compensation is off (the model skips it when given no poses).
Writes one KITTI result file per sequence, all classes together and sorted by frame, as its
save_results and combine_trk_cat do, and prints the tracking rate (file I/O excluded).

Usage: python ab3dmot_track.py DETECTIONS_DIR SEQMAP OUT_DIR
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())
from AB3DMOT_libs.io import get_frame_det, load_detection, save_results  # noqa: E402
from AB3DMOT_libs.model import AB3DMOT  # noqa: E402
from AB3DMOT_libs.utils import Config  # noqa: E402

CLASS_NAMES = {1: "Pedestrian", 2: "Car", 3: "Cyclist"}


class Lines:
    """Collects the evaluation lines save_results writes."""

    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.append(text)


def main(det_root, seqmap, out):
    cfg, _ = Config("./configs/KITTI.yml")
    os.makedirs(out, exist_ok=True)
    seqs = []
    with open(seqmap) as f:
        for line in f:
            fields = line.split()
            if fields:
                seqs.append((fields[0], int(fields[3]) + 1))
    per_seq = {name: Lines() for name, _ in seqs}
    log = open(os.devnull, "w")
    id_start, busy, frames = 1, 0.0, 0
    for cat in cfg.cat_list:
        for name, num_frames in seqs:
            dets, found = load_detection(os.path.join(det_root, "pointrcnn_" + cat, name + ".txt"))
            tracker = AB3DMOT(cfg, cat, calib=None, oxts=None, img_dir=None, vis_dir=None,
                              hw=None, log=log, ID_init=id_start)
            for frame in range(num_frames):
                if found:
                    frame_dets = get_frame_det(dets, frame)
                else:
                    frame_dets = {"dets": np.zeros((0, 7)), "info": np.zeros((0, 7))}
                t0 = time.time()
                results, _ = tracker.track(frame_dets, frame, name)
                busy += time.time() - t0
                frames += 1
                for row in results[0]:
                    save_results(row, log, per_seq[name], CLASS_NAMES, frame, cfg.score_threshold)
            id_start = max(id_start, tracker.ID_count[0])
    for name, _ in seqs:
        rows = sorted(per_seq[name].lines, key=lambda s: int(s.split()[0]))
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.writelines(rows)
    print("AB3DMOT: %d sequence-class passes, %d frames in %.1f s of tracking: %.0f frames/s"
          % (len(seqs) * len(cfg.cat_list), frames, busy, frames / busy))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
