"""The benchmark harness end to end at 10,000 rows, so it cannot rot.

Runs ``python -m bench.run --smoke`` as ``make bench`` would (a real server,
a real worker, the reference loaders, the peer) and checks that the table has
every line it should, with numeric figures. Speed is not asserted: the targets
are for ``make bench`` on a quiet machine, not for a test.

Without DATABASE_URL only the lines that need no PostgreSQL run (baseline C,
the product on SQLite); with it, all of them. The peer needs
django-import-export (requirements-bench.txt); where it is not installed only
the peer's lines are allowed to be skipped.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import LINES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
LOAD_FIGURES = ("rows", "seconds", "rows_per_s", "peak_rss_mb")


def expected_lines() -> tuple[set[str], set[str]]:
    """(lines that must measure, lines that may be skipped) in this setup."""
    have_pg = bool(os.environ.get("DATABASE_URL"))
    have_peer = importlib.util.find_spec("import_export") is not None
    must, may_skip = set(), set()
    for line in LINES:
        if line.needs_pg and not have_pg:
            continue
        (may_skip if line.needs_peer and not have_peer else must).add(line.key)
    return must, may_skip


def test_bench_harness_smoke(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = tmp_path / "last.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run", "--smoke"),
            *("--cache-dir", str(tmp_path / "cache"), "--out", str(out)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = f"{done.stdout}\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    results = json.loads(out.read_text(encoding="utf-8"))
    lines = results["lines"]
    must, may_skip = expected_lines()

    for key in must:
        line = lines[key]
        assert line["status"] == "ok", (key, line, report)
        figures = LOAD_FIGURES if "rows" in line else ("seconds",)
        for name in figures:
            assert isinstance(line[name], int | float), (key, name, line)
            assert line[name] > 0, (key, name, line)
    for key in may_skip:
        assert lines[key]["status"] in ("ok", "skipped"), (key, lines[key])

    # the printed table has a row for every line and every target
    table = done.stdout
    assert table.startswith(results["table"])
    for line in LINES:
        assert f"| {line.label} |" in table
    assert len(results["targets"]) == table.count("| target: ")
