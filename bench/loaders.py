"""Baselines A, B, C and the peer: each a script run in a fresh process.

The reference loaders (bench/reference, copies of the shared ones) and the peer
(bench/peer) each print one ``RESULT {json}`` line; this module runs them,
prepares their table state first (untimed) and turns the result into a line
of the harness's table.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.data import DataFile
from bench.pg import libpq_env

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "reference"
MIB_TO_MB = 2**20 / 1e6


class LoaderError(Exception):
    """A loader exited non-zero or printed no RESULT line."""


def clean_env(**extra: str) -> dict:
    """This environment without connection variables, plus the loader's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PG")
        and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(extra)
    return env


def run_script(args: list[str], env: dict, cwd: Path, timeout: float) -> dict:
    """Run ``python ARGS`` and return its RESULT (None for untimed steps)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        tail = " | ".join(done.stderr.strip().splitlines()[-5:])
        command = " ".join(Path(arg).name for arg in args[:3])
        raise LoaderError(f"{command} failed: {tail}")
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {}


def as_line(result: dict, note: str) -> dict:
    """A RESULT as a table line: rows, seconds, rows/s, process peak RSS."""
    return {
        "status": "ok",
        "rows": result["rows"],
        "seconds": result["seconds"],
        "rows_per_s": result["rows_per_s"],
        "peak_rss_mb": round(result["self_maxrss_mib"] * MIB_TO_MB, 1),
        "note": note,
        "result": result,
    }


def pg_baseline(env: dict, method: str, state: str, data: DataFile, timeout: float):
    """One bench_pg.py run: ``prepare STATE``, then the timed METHOD."""
    script = str(REFERENCE / "bench_pg.py")
    run_script([script, "prepare", state, str(data.path)], env, REFERENCE, timeout)
    result = run_script(
        [script, method, str(data.path), "--state", state], env, REFERENCE, timeout
    )
    note = f"{method}, {result['rows_in_table']} rows in table"
    if result.get("affected") is not None:
        note += f", {result['affected']} written"
    return as_line(result, note)


def baseline_a(pg_url: str, data: DataFile, timeout: float) -> dict:
    """A: validated COPY + upsert into an empty table."""
    env = clean_env(**libpq_env(pg_url), BENCH_PG_TABLE="raw_user")
    return pg_baseline(env, "upsert_validated", "empty", data, timeout)


def baseline_b(pg_url: str, data: DataFile, timeout: float) -> dict:
    """B: COPY + upsert that skips unchanged rows, onto the full table."""
    env = clean_env(**libpq_env(pg_url), BENCH_PG_TABLE="raw_user")
    return pg_baseline(env, "upsert_skip_unchanged", "full", data, timeout)


def baseline_c(sqlite_path: Path, data: DataFile, timeout: float) -> dict:
    """C: stdlib sqlite3 validated upsert into an empty database file."""
    env = clean_env(SQLITE_PATH=str(sqlite_path))
    script = str(REFERENCE / "bench_sqlite.py")
    run_script([script, "prepare", "empty", str(data.path)], env, REFERENCE, timeout)
    result = run_script(
        [script, "upsert_validated", str(data.path), "--state", "empty"],
        env,
        REFERENCE,
        timeout,
    )
    return as_line(result, f"upsert_validated, {result['rows_in_table']} rows in table")


def peer(peer_url: str, data: DataFile, timeout: float) -> tuple[dict, dict]:
    """The peer: new users into an empty table, then the same file again."""
    env = clean_env(PEER_DATABASE_URL=peer_url)
    module = ["-m", "bench.peer.load"]
    run_script([*module, "prepare"], env, ROOT, timeout)
    lines = []
    for state in ("new", "reimport"):
        result = run_script(
            [*module, "import", str(data.path), "--state", state], env, ROOT, timeout
        )
        totals = {k: v for k, v in result["totals"].items() if v}
        line = as_line(result, " ".join(f"{k}={v}" for k, v in totals.items()))
        if result["has_errors"] or result["rows_in_table"] != data.rows:
            line["status"] = "failed"
            line["note"] = f"errors or wrong row count: {result}"[:300]
        lines.append(line)
    return lines[0], lines[1]
