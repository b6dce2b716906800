"""Which bags a run replays: a glob, or a list file with one bag path per line.

A bag is a rosbag2 folder (with metadata.yaml) or a single .mcap / .db3 file, as `fusionrt
replay` takes it. Its name (the folder or file name without extension) names its output folder,
so names must be unique within a run.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from fusionrt_fleet.errors import FleetError

BAG_FILE_SUFFIXES = (".mcap", ".db3")


@dataclass(frozen=True)
class Bag:
    """One bag: its output name and its absolute path."""

    name: str
    path: Path


def _bag_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def _check_bag(path: Path, where: str) -> None:
    if path.is_dir():
        if not (path / "metadata.yaml").is_file() and not any(
            p.suffix in BAG_FILE_SUFFIXES for p in path.iterdir()
        ):
            raise FleetError(f"{where}: {path} is a folder but not a rosbag2 bag (no metadata.yaml)")
    elif path.is_file():
        if path.suffix not in BAG_FILE_SUFFIXES:
            raise FleetError(f"{where}: {path} is not a bag (expected a folder, .mcap or .db3)")
    else:
        raise FleetError(f"{where}: {path} does not exist")


def resolve_bags(spec: str) -> list[Bag]:
    """The bags `spec` names: a list file (one path per line, `#` comments, paths relative to
    the file) when `spec` is an existing file that is not itself a bag, else a glob pattern."""
    spec_path = Path(spec)
    paths: list[tuple[Path, str]] = []
    if spec_path.is_file() and spec_path.suffix not in BAG_FILE_SUFFIXES:
        try:
            text = spec_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FleetError(f"--bags {spec}: cannot read the list file: {e}") from None
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                p = Path(entry)
                if not p.is_absolute():
                    p = spec_path.parent / p
                paths.append((p, f"{spec}:{number}"))
        if not paths:
            raise FleetError(f"--bags {spec}: the list file names no bag")
    else:
        matches = sorted(glob.glob(spec, recursive=True))
        if not matches:
            raise FleetError(f"--bags {spec}: the pattern matches nothing")
        paths = [(Path(m), f"--bags {spec}") for m in matches]
    bags: list[Bag] = []
    seen: dict[str, Path] = {}
    for path, where in paths:
        _check_bag(path, where)
        path = path.resolve()
        name = _bag_name(path)
        if name.startswith(".") or not name:
            raise FleetError(f"{where}: bag name {name!r} of {path} cannot name an output folder")
        if name in seen and seen[name] != path:
            raise FleetError(
                f"{where}: two bags are named {name!r} ({seen[name]} and {path}); "
                "bag names must be unique in a run"
            )
        if name not in seen:
            seen[name] = path
            bags.append(Bag(name=name, path=path))
    return bags
