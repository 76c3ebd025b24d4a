"""Benchmark the product against the machine's limits, in one run.

    python -m bench.run                  # full run (make bench): 1M rows, peer 100k
    python -m bench.run --smoke          # 10k rows, the harness's own test
    python -m bench.run --only baselines,product-sqlite

Generates seeded users with gen_users.py (cached in bench/.cache), runs the
baselines (A, B: PostgreSQL through psycopg; C: stdlib sqlite3), the peer
(django-import-export) and the product end to end over HTTP with a real
worker, then prints one Markdown table and writes it with every figure to
bench/.cache/last.json. Exits 1 if any selected line failed (targets that are
missed do not change the exit code: the table says so).

PostgreSQL lines use --pg-url (default $DATABASE_URL; a full run falls back to
the local server). Only the server is taken from the URL: the harness works in
its own databases (PREFIX, PREFIX_template, PREFIX_raw, PREFIX_peer), dropped
at the end unless --keep.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench import loaders, pg, report
from bench.data import DataFile, data_file, sample_usernames
from bench.product import (
    Server,
    Session,
    Step,
    measure_reads,
    prepare_database,
    run_import,
)

BENCH_DIR = Path(__file__).resolve().parent
LOCAL_PG = "postgres://postgres@127.0.0.1:5432/postgres"
GROUPS = ("baselines", "peer", "product-pg", "product-sqlite")
READS = ("upload", "metadata", "query")


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--smoke", action="store_true", help="small run: 10k rows, peer 500 rows")
    add("--rows", type=int, help="rows of the product and baseline files (1M)")
    add("--peer-rows", type=int, help="rows of the peer's file (100k)")
    add("--ref-rows", type=int, help="rows of the RSS reference import (rows/10)")
    add("--seed", type=int, default=42)
    add("--only", help=f"comma-separated groups among {', '.join(GROUPS)}, product")
    add("--pg-url", help="PostgreSQL server URL (default $DATABASE_URL)")
    add("--no-pg", action="store_true", help="skip every PostgreSQL line")
    add("--redis-url", default=os.environ.get("REDIS_URL", ""), help="broker of PG")
    add("--db-prefix", help="names of the harness's own databases")
    add("--q-workers", type=int, help="Q_WORKERS of the product (its default: 2)")
    add("--requests", type=int, help="requests per read-latency median (50)")
    add("--import-timeout", type=float, help="seconds one product import may take")
    add("--cache-dir", type=Path, default=BENCH_DIR / ".cache")
    add("--out", type=Path, help="JSON results (default CACHE_DIR/last.json)")
    add("--keep", action="store_true", help="keep databases and the temp folder")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.rows = args.rows or (10_000 if smoke else 1_000_000)
    args.peer_rows = args.peer_rows or (500 if smoke else 100_000)
    args.requests = args.requests or (20 if smoke else 50)
    args.ref_rows = args.ref_rows or max(args.rows // 10, 100)
    args.db_prefix = args.db_prefix or (
        "idmimport_bench_smoke" if smoke else "idmimport_bench"
    )
    args.import_timeout = args.import_timeout or (120 if smoke else 1800)
    args.cache_dir = args.cache_dir.resolve()  # loaders run in other folders
    args.out = args.out or args.cache_dir / "last.json"
    if args.no_pg:
        args.pg_url = ""
    elif args.pg_url is None:
        args.pg_url = os.environ.get("DATABASE_URL") or ("" if smoke else LOCAL_PG)
    groups = set(GROUPS)
    if args.only:
        groups = {g.strip() for g in args.only.split(",") if g.strip()}
        if "product" in groups:
            groups |= {"product-pg", "product-sqlite"}
            groups.discard("product")
        if unknown := groups - set(GROUPS):
            parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    args.groups = groups
    return args


class Bench:
    """One run: its arguments, scratch folder, data files and table lines."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.lines: dict[str, dict] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="idmimport-bench-"))
        self.pg_version = pg.server_version(args.pg_url) if args.pg_url else None
        self.created_dbs: set[str] = set()

    # --- helpers -----------------------------------------------------------

    def data(self, rows: int, **options) -> DataFile:
        """A cached generated file (generation is logged, never timed)."""
        started = time.perf_counter()
        found = data_file(self.args.cache_dir, rows, seed=self.args.seed, **options)
        if time.perf_counter() - started > 1:
            log(f"generated {found.path.name} in {time.perf_counter() - started:.0f} s")
        return found

    def db_url(self, suffix: str = "") -> str:
        name = self.args.db_prefix + suffix
        self.created_dbs.add(name)
        return pg.with_database(self.args.pg_url, name)

    def measure(self, key: str, run) -> dict:
        """Run one line; any exception marks it failed instead of stopping."""
        label = report.LINE_BY_KEY[key].label
        log(f"{label} ...")
        try:
            line = run()
        except Exception as error:  # the table must still come out
            line = {"status": "failed", "note": f"{type(error).__name__}: {error}"}
        self.lines[key] = line
        self._log_line(label, line)
        return line

    def _log_line(self, label: str, line: dict) -> None:
        if line.get("rows_per_s"):
            log(
                f"  {label}: {line['rows']:,} rows in {line['seconds']:.2f} s = "
                f"{line['rows_per_s']:,.0f} rows/s, peak RSS {line.get('peak_rss_mb')}"
                f" MB [{line['status']}] {line.get('note', '')}"
            )
        else:
            log(f"  {label}: {line.get('status')} {line.get('note', '')}")

    def skip(self, keys, reason: str, status: str = "skipped") -> None:
        """Mark the lines not measured yet as skipped (or failed)."""
        for key in keys:
            self.lines.setdefault(key, {"status": status, "note": reason})

    def pg_missing(self) -> str | None:
        """Why PostgreSQL lines cannot run, or None when they can."""
        if not self.args.pg_url:
            return "no PostgreSQL (DATABASE_URL unset)"
        if not self.pg_version:
            return f"PostgreSQL not reachable at {self.args.pg_url}"
        return None

    # --- the groups -------------------------------------------------------

    def baselines(self) -> None:
        a = self.args
        data = self.data(a.rows, fmt="json")
        timeout = a.import_timeout
        if reason := self.pg_missing():
            self.skip(["baseline_a", "baseline_b"], reason)
        else:
            url = self.db_url("_raw")

            def baseline_a() -> dict:
                pg.recreate_database(a.pg_url, a.db_prefix + "_raw")
                return loaders.baseline_a(url, data, timeout)

            self.measure("baseline_a", baseline_a)
            self.measure("baseline_b", lambda: loaders.baseline_b(url, data, timeout))
        sqlite_path = self.tmp / "raw.sqlite3"
        self.measure(
            "baseline_c", lambda: loaders.baseline_c(sqlite_path, data, timeout)
        )

    def peer(self) -> None:
        keys = ["peer_new", "peer_reimport"]
        if reason := self.pg_missing():
            return self.skip(keys, reason)
        if importlib.util.find_spec("import_export") is None:
            return self.skip(
                keys, "django-import-export not installed: requirements-bench.txt"
            )
        data = self.data(self.args.peer_rows, fmt="json")
        url = self.db_url("_peer")
        timeout = self.args.import_timeout * 4
        log("peer: django-import-export, new then re-import ...")
        try:
            new, reimport = loaders.peer(url, data, timeout)
        except Exception as error:
            failed = {"status": "failed", "note": f"{type(error).__name__}: {error}"}
            new, reimport = failed, failed
        for key, line in zip(keys, (new, reimport), strict=True):
            self.lines[key] = line
            self._log_line(report.LINE_BY_KEY[key].label, line)
        return None

    def product_pg(self) -> None:
        keys = ["product_pg_ref", "product_pg_new", "product_pg_unchanged"]
        keys += ["product_pg_changed"] + [f"{k}_pg" for k in READS]
        if reason := self.pg_missing():
            return self.skip(keys, reason)
        a = self.args
        ref = self.data(a.ref_rows)
        full = self.data(a.rows)
        changed = self.data(a.rows, change=0.1, bad=0.02)
        # migrate once into a template; each session starts from a copy of it
        template = self.session("pg-template", self.db_url("_template"))
        try:
            log("product PG: preparing the template database ...")
            pg.recreate_database(a.pg_url, a.db_prefix + "_template")
            prepare_database(template)
        except Exception as error:
            return self.skip(keys, f"preparing the database: {error}", "failed")
        self.product_session("pg-ref", template, [Step("product_pg_ref", ref, "new")])
        steps = [
            Step("product_pg_new", full, "new"),
            Step("product_pg_unchanged", full, "unchanged"),
            Step("product_pg_changed", changed, "changed"),
        ]
        self.product_session("pg", template, steps, reads="pg")
        return None

    def product_sqlite(self) -> None:
        full = self.data(self.args.rows)
        steps = [Step("product_sqlite_new", full, "new")]
        self.product_session("sqlite", None, steps, reads="sqlite")

    # --- product sessions -------------------------------------------------

    def session(self, name: str, database_url: str = "") -> Session:
        return Session(
            name,
            self.tmp / name,
            database_url=database_url,
            redis_url=self.args.redis_url if database_url else "",
            q_workers=self.args.q_workers,
        )

    def product_session(
        self, name: str, template: Session | None, steps: list[Step], reads=None
    ) -> None:
        """Fresh data, one server, its imports in order; reads after the first.

        With a template session (PostgreSQL) the database is a copy of the
        template's; without, the SQLite default is prepared in place.
        """
        read_keys = [f"{k}_{reads}" for k in READS]
        keys = [step.key for step in steps] + (read_keys if reads else [])
        try:
            if template:
                source = self.args.db_prefix + "_template"
                pg.recreate_database(self.args.pg_url, self.args.db_prefix, source)
                session = self.session(name, self.db_url())
                session.token = template.token
            else:
                session = self.session(name)
                prepare_database(session)
            with Server(session) as server:
                log(f"product {name}: serving on port {server.port}, pid {server.pid}")
                self.run_steps(server, steps, reads)
        except Exception as error:  # start-up or shutdown: mark what is left
            self.skip(keys, f"{type(error).__name__}: {error}", "failed")

    def run_steps(self, server: Server, steps: list[Step], reads: str | None) -> None:
        timeout = self.args.import_timeout
        for index, step in enumerate(steps):
            if index and self.lines[steps[index - 1].key]["status"] != "ok":
                self.skip([step.key], "the import before it failed")
                continue
            line = self.measure(step.key, lambda s=step: run_import(server, s, timeout))
            if index == 0 and reads:
                self.reads(server, step, line, reads)

    def reads(self, server: Server, step: Step, line: dict, backend: str) -> None:
        """Upload answer time of the first import, then the read medians."""
        keys = [f"{k}_{backend}" for k in READS]
        if line.get("status") != "ok":
            return self.skip(keys, "the import before it failed")
        self.lines[keys[0]] = {"status": "ok", "seconds": line["upload_seconds"]}
        names = sample_usernames(step.data.path, min(self.args.requests, 50))
        try:
            reads = measure_reads(server, line["import_id"], names, self.args.requests)
        except Exception as error:
            failed = {"status": "failed", "note": f"{type(error).__name__}: {error}"}
            reads = (failed, failed)
        for key, value in zip(keys, (self.lines[keys[0]], *reads), strict=True):
            self.lines[key] = value
            self._log_line(report.LINE_BY_KEY[key].label, value)
        return None

    # --- the end ----------------------------------------------------------

    def cleanup(self) -> None:
        if self.args.keep:
            log(f"kept {self.tmp} and databases {sorted(self.created_dbs)}")
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        for name in sorted(self.created_dbs):
            try:
                pg.drop_database(self.args.pg_url, name)
            except Exception as error:
                log(f"could not drop {name}: {error}")

    def results(self, started: float) -> dict:
        a = self.args
        targets = report.evaluate(self.lines)
        return {
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "rows": a.rows,
            "peer_rows": a.peer_rows,
            "ref_rows": a.ref_rows,
            "seed": a.seed,
            "groups": sorted(a.groups),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": self.pg_version,
                "sqlite": sqlite3.sqlite_version,
                "pg_broker": "redis" if a.redis_url else "orm",
            },
            "lines": self.lines,
            "targets": targets,
            "table": report.render(self.lines, targets),
        }


GROUP_LINES = {
    "baselines": ["baseline_a", "baseline_b", "baseline_c"],
    "peer": ["peer_new", "peer_reimport"],
    "product-pg": [
        "product_pg_ref",
        "product_pg_new",
        "product_pg_unchanged",
        "product_pg_changed",
        "upload_pg",
        "metadata_pg",
        "query_pg",
    ],
    "product-sqlite": [
        "product_sqlite_new",
        "upload_sqlite",
        "metadata_sqlite",
        "query_sqlite",
    ],
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    bench = Bench(args)
    log(
        f"rows={args.rows:,} peer={args.peer_rows:,} ref={args.ref_rows:,} "
        f"groups={','.join(sorted(args.groups))} "
        f"pg={bench.pg_version or 'none'} broker(PG)={args.redis_url or 'orm'}"
    )
    runners = {
        "baselines": bench.baselines,
        "peer": bench.peer,
        "product-pg": bench.product_pg,
        "product-sqlite": bench.product_sqlite,
    }
    try:
        for group in GROUPS:
            if group in args.groups:
                runners[group]()
            else:
                bench.skip(GROUP_LINES[group], "not selected (--only)")
    finally:
        bench.cleanup()
    results = bench.results(started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(results["table"])
    print(f"\n{results['wall_seconds']:.0f} s in all; figures in {args.out}")
    failed = [key for key, line in bench.lines.items() if line["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
