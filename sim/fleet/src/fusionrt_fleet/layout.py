"""The output folder of a fleet run, in one place.

    DIR/run.json              the run's settings (binary, config and its SHA-256, camera,
                              ground truth) and the last run's outcome per bag
    DIR/bags/NAME/            one complete bag: report.json, tracks.jsonl, output.mcap,
                              kitti/SEQ.txt (with ground truth), fleet.json (how it ran)
    DIR/bags/.tmp-NAME-ID/    an attempt in progress; renamed to bags/NAME when complete
    DIR/attempts/NAME.log     one line per attempt (retries are visible)
    DIR/failed/NAME.json      a bag that failed after its retries: exit status, stderr tail
    DIR/report.json, .html    written by `fusionrt-fleet report DIR`

A bag folder exists only when its replay completed (rename of the finished temporary folder),
so a re-run skips exactly the bags that are done.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Layout:
    """Paths inside one fleet output folder."""

    root: Path

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def bags(self) -> Path:
        return self.root / "bags"

    def bag(self, name: str) -> Path:
        return self.bags / name

    def bag_done(self, name: str) -> bool:
        return (self.bag(name) / "report.json").is_file()

    def attempts(self, name: str) -> Path:
        return self.root / "attempts" / f"{name}.log"

    def failed(self, name: str) -> Path:
        return self.root / "failed" / f"{name}.json"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    def done_bags(self) -> list[str]:
        """Names of the complete bags, sorted."""
        if not self.bags.is_dir():
            return []
        return sorted(
            p.name for p in self.bags.iterdir() if not p.name.startswith(".") and p.is_dir()
        )

    def failed_bags(self) -> list[str]:
        d = self.root / "failed"
        if not d.is_dir():
            return []
        return sorted(p.stem for p in d.glob("*.json"))


def write_json_atomic(path: Path, value: Any) -> None:
    """Writes `value` as pretty JSON to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2, sort_keys=True)
            f.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; a report is for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
