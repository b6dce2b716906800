"""fusionrt-fleet: replay many rosbag2 bags through the `fusionrt` binary on a Ray cluster.

One Ray task per bag runs `fusionrt replay BAG --max` into its own output folder; `report`
merges what the bags measured (HDR latency histograms, misses, drops, tracks, KITTI tracking
metrics where a bag has ground truth) and `compare` gates A/B regressions with bootstrap
confidence intervals. See docs/FLEET.md.

Modules, one job each: `errors` (bad input), `bags` (which bags), `layout` (the output folder),
`groundtruth` (the KITTI manifest and `fusionrt kitti eval`), `replay` (one bag, no Ray),
`cluster` (connecting to Ray), `run` (the fleet run), `hdr` (histograms), `report` (the merged
report), `html` (its page), `stats` (bootstrap), `compare` (A/B), `cli` (the command).
"""

__version__ = "0.1.0"
