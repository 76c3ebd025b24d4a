"""Generated input files, cached by their generator arguments.

gen_users.py is deterministic, so a file is made once per (rows, seed, format,
change fraction, bad fraction) and reused by later runs. A JSON sidecar keeps
what the generator reported (bad rows by kind, changed rows): the harness needs
those counts to check the product's figures without re-reading the file.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench.gen_users import generate


@dataclass(frozen=True)
class DataFile:
    """A generated CSV and the generator's own account of it."""

    path: Path
    rows: int
    bad: int
    changed: int


def data_file(
    cache_dir: Path,
    rows: int,
    *,
    seed: int,
    fmt: str = "idm",
    change: float = 0.0,
    bad: float = 0.0,
) -> DataFile:
    """Return the cached file for these arguments, generating it if missing."""
    name = f"users-{rows}-s{seed}-{fmt}"
    if change:
        name += f"-c{change:g}"
    if bad:
        name += f"-b{bad:g}"
    path = cache_dir / f"{name}.csv"
    meta_path = cache_dir / f"{name}.json"
    if not (path.exists() and meta_path.exists()):
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".csv.partial")
        bad_kinds, changed = generate(
            rows,
            str(partial),
            bad_fraction=bad,
            seed=seed,
            fmt=fmt,
            change_fraction=change,
        )
        os.replace(partial, path)  # an interrupted run leaves no half file behind
        meta = {"bad": bad_kinds, "changed": changed}
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return DataFile(path, rows, sum(meta["bad"].values()), meta["changed"])


def sample_usernames(path: Path, count: int) -> list[str]:
    """User names spread evenly through the file, read by seeking (no full scan).

    The generator writes one record per line and user names never need quoting,
    so the text before the first comma of a line is the userName.
    """
    size = path.stat().st_size
    names: list[str] = []
    with path.open("rb") as handle:
        handle.readline()  # the header
        start = handle.tell()
        for index in range(count):
            handle.seek(start + (size - start) * index // count)
            if index:
                handle.readline()  # finish the line the seek landed in
            line = handle.readline().decode("utf-8")
            name = line.split(",", 1)[0]
            if name and name not in names:
                names.append(name)
    return names
