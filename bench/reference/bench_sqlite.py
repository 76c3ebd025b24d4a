#!/usr/bin/env python3
"""SQLite reference loaders with the stdlib sqlite3 module (no ORM). One run per call.
(A copy of shared/bench/bench_sqlite.py, reformatted for ruff; the logic is unchanged.)

Database file: $SQLITE_PATH (default ./bench-raw.sqlite3), journal_mode=WAL,
synchronous left at SQLite's default (FULL); table idm_user with the DDL Django 6
generates for benchapp.User (so the numbers compare with bench_django.py on SQLite).

    python bench_sqlite.py prepare empty FILE.csv   # delete db file, create table
                                                    # (untimed)
    python bench_sqlite.py prepare full  FILE.csv   # ... and preload FILE
    python bench_sqlite.py METHOD FILE.csv [--state LABEL]

METHOD (one transaction, executemany in chunks of 10000 rows):
  insert            csv.reader -> INSERT
  upsert            csv.reader -> INSERT ... ON CONFLICT("userName")
                    DO UPDATE SET <12 cols>
  upsert_validated  csv.reader + common.validate_rows -> same upsert
Prints one line "RESULT {json}".
"""

import argparse
import os
import sqlite3
import sys

from common import (
    CSV_FIELDS,
    Counter,
    Timer,
    count_rows,
    open_csv,
    report,
    validate_rows,
)

DB = os.environ.get("SQLITE_PATH", "bench-raw.sqlite3")
DDL = (
    'CREATE TABLE "idm_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
    '"userName" varchar(150) NOT NULL UNIQUE, "givenName" varchar(100) NOT NULL, '
    '"sn" varchar(100) NOT NULL, "mail" varchar(254) NOT NULL, '
    '"description" text NOT NULL, '
    '"accountStatus" varchar(16) NOT NULL, "telephoneNumber" varchar(32) NOT NULL, '
    '"postalAddress" varchar(255) NOT NULL, "city" varchar(100) NOT NULL, '
    '"postalCode" varchar(20) NOT NULL, "country" varchar(64) NOT NULL, '
    '"stateProvince" varchar(100) NOT NULL, "preferences" text NOT NULL CHECK '
    '((JSON_VALID("preferences") OR "preferences" IS NULL)))'
)
COLS = ", ".join(f'"{c}"' for c in CSV_FIELDS)
INSERT = f'INSERT INTO "idm_user" ({COLS}) VALUES ({", ".join("?" * len(CSV_FIELDS))})'
UPSERT = (
    INSERT
    + ' ON CONFLICT("userName") DO UPDATE SET '
    + ", ".join(f'"{c}" = excluded."{c}"' for c in CSV_FIELDS[1:])
)


def connect():
    conn = sqlite3.connect(DB, isolation_level=None)  # explicit BEGIN/COMMIT below
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def load(conn, query, rows):
    conn.execute("BEGIN")
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == 10000:
            conn.executemany(query, batch)
            batch = []
    if batch:
        conn.executemany(query, batch)
    conn.execute("COMMIT")


def prepare(state, path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DB + suffix):
            os.remove(DB + suffix)
    conn = connect()
    conn.execute(DDL)
    if state == "full":
        f, r = open_csv(path)
        with f:
            load(conn, INSERT, r)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = conn.execute('SELECT count(*) FROM "idm_user"').fetchone()[0]
    conn.close()
    print(f"prepared {DB}: {state}, {n} rows", file=sys.stderr)


def run(method, path, state):
    errors = Counter()
    n_in = count_rows(path)
    conn = connect()
    f, r = open_csv(path)
    with f, Timer() as t:
        if method == "insert":
            load(conn, INSERT, r)
        elif method == "upsert":
            load(conn, UPSERT, r)
        elif method == "upsert_validated":
            load(conn, UPSERT, validate_rows(r, errors))
        else:
            raise SystemExit(f"unknown method {method}")
    n_db = conn.execute('SELECT count(*) FROM "idm_user"').fetchone()[0]
    conn.close()
    report(
        "sqlite",
        method,
        path,
        t.seconds,
        n_in,
        state=state,
        server="sqlite",
        sqlite=sqlite3.sqlite_version,
        rows_in_table=n_db,
        rejected=dict(errors),
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    else:
        ap = argparse.ArgumentParser()
        ap.add_argument("method")
        ap.add_argument("file")
        ap.add_argument("--state", default="")
        a = ap.parse_args()
        run(a.method, a.file, a.state)
