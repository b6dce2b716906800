"""Faults: a Ray worker SIGKILLed mid-bag, a replay SIGKILLed mid-bag, a replay killed on every
attempt, and a bag that cannot be replayed. The run completes, every bag is reported, the killed
ones are retried (attempt 2), and the two that still fail are listed with their error and
stderr tail (exit 1), never lost."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import bag_list, binary, fleet

WRAPPER = """#!/usr/bin/env bash
# First attempt at a victim bag ($2 is the bag path): start the replay, then kill mid-bag.
real={real}
case "$2" in
  *{worker_victim}*) marker={marks}/worker ;;
  *{self_victim}*) marker={marks}/self ;;
  *{always_victim}*) "$real" "$@" & sleep 0.3; kill -9 $!; echo "killed on purpose" >&2; kill -9 $$ ;;
  *) exec "$real" "$@" ;;
esac
if mkdir "$marker" 2>/dev/null; then
  "$real" "$@" &
  sleep 0.3
  kill -9 $!
  case "$marker" in
    */worker) kill -9 $PPID ;;  # the Ray worker running this task
    *) kill -9 $$ ;;            # the replay process itself
  esac
fi
exec "$real" "$@"
"""


def test_killed_worker_and_replay_are_retried_and_a_broken_bag_is_reported(
    bags: dict[str, Path], tmp_path: Path
) -> None:
    names = ["t0000_f000_mcap", "t0000_f040_mcap", "t0000_f080_sqlite3"]
    always = "t0000_f120_mcap"  # killed on every attempt: reported, not lost
    broken = tmp_path / "broken_bag"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9}\n")
    marks = tmp_path / "marks"
    marks.mkdir()
    wrapper = tmp_path / "fusionrt-wrapper"
    wrapper.write_text(WRAPPER.format(real=binary(), worker_victim=names[0], self_victim=names[1],
                                      always_victim=always, marks=marks))
    wrapper.chmod(0o755)
    listing = bag_list(tmp_path / "bags.txt", [bags[n] for n in names] + [bags[always], broken])
    out = tmp_path / "out"
    proc = fleet("run", "--bags", str(listing), "--binary", str(wrapper), "--out", str(out),
                 "--num-cpus", "2", "--camera", "none", "--max-retries", "2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (marks / "worker").is_dir() and (marks / "self").is_dir()  # both faults happened
    assert "3 replayed, 0 already done, 2 failed" in proc.stdout, proc.stdout
    assert "FAILED broken_bag" in proc.stdout
    assert f"FAILED {always}: replay killed by SIGKILL on every attempt" in proc.stdout, proc.stdout
    assert len((out / "attempts" / f"{always}.log").read_text().splitlines()) == 3  # 1 + 2 retries
    run = json.loads((out / "run.json").read_text())
    by_name = {b["name"]: b for b in run["bags"]}
    assert set(by_name) == set(names) | {always, "broken_bag"}
    assert by_name[names[0]]["attempt"] == 2 and by_name[names[1]]["attempt"] == 2
    assert by_name[names[2]]["attempt"] == 1
    failed = json.loads((out / "failed" / "broken_bag.json").read_text())
    assert failed["exit_status"] == 2 and failed["stderr_tail"].strip()
    # No half-written output: only complete bag folders, no temporary folder left over.
    assert sorted(p.name for p in (out / "bags").iterdir()) == sorted(names)
    for n in names:
        assert (out / "bags" / n / "report.json").is_file()
    proc = fleet("report", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["bags_ok"] == 3
    assert [f["name"] for f in report["failed"]] == ["broken_bag", always]
    assert "FAILED broken_bag" in proc.stdout
