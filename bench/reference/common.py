"""Shared helpers for the import benchmarks (stdlib only).

A copy of shared/bench/common.py, reformatted for ruff; the logic is unchanged.
"""

import csv
import json
import os
import re
import resource
import sys
import time
from collections import Counter

CSV_FIELDS = [
    "userName",
    "givenName",
    "sn",
    "mail",
    "description",
    "accountStatus",
    "telephoneNumber",
    "postalAddress",
    "city",
    "postalCode",
    "country",
    "stateProvince",
    "preferences",
]
NCOL = len(CSV_FIELDS)

USER_RE = re.compile(r"[A-Za-z0-9._@+-]{1,150}")
MAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
STATUSES = frozenset(("active", "inactive"))


def validate_rows(reader, errors):
    """Yield the valid rows of a csv.reader (header already consumed).

    Rules (the product's will differ; these are cheap, realistic ones):
    13 columns; userName present, [A-Za-z0-9._@+-]{1,150} and not seen before
    in this file (first occurrence wins); mail empty or like a@b.c;
    accountStatus active/inactive; preferences a JSON object.
    Rejected rows are counted in `errors` (a Counter) by reason.
    """
    seen = set()
    user_ok = USER_RE.fullmatch
    mail_ok = MAIL_RE.fullmatch
    loads = json.loads
    for row in reader:
        if len(row) != NCOL:
            errors["columns"] += 1
            continue
        u = row[0]
        if not u:
            errors["missing_username"] += 1
            continue
        if not user_ok(u):
            errors["bad_username"] += 1
            continue
        if u in seen:
            errors["duplicate_username"] += 1
            continue
        m = row[3]
        if m and not mail_ok(m):
            errors["invalid_mail"] += 1
            continue
        if row[5] not in STATUSES:
            errors["bad_status"] += 1
            continue
        try:
            p = loads(row[12])
        except ValueError:
            errors["bad_json"] += 1
            continue
        if type(p) is not dict:
            errors["bad_json"] += 1
            continue
        seen.add(u)
        yield row


def open_csv(path):
    f = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - caller closes it
    r = csv.reader(f)
    header = next(r)
    if header != CSV_FIELDS:
        raise SystemExit(f"unexpected header in {path}: {header}")
    return f, r


def count_rows(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f) - 1  # generator writes no embedded newlines


def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(bench, method, path, seconds, rows_in, **extra):
    size = os.path.getsize(path)
    out = {
        "bench": bench,
        "method": method,
        "file": os.path.basename(path),
        "rows": rows_in,
        "file_mb": round(size / 1e6, 2),
        "seconds": round(seconds, 4),
        "rows_per_s": round(rows_in / seconds, 1) if seconds > 0 else None,
        "mb_per_s": round(size / 1e6 / seconds, 2) if seconds > 0 else None,
        "self_maxrss_mib": round(maxrss_mib(), 1),
        "python": sys.version.split()[0],
    }
    out.update(extra)
    print("RESULT " + json.dumps(out), flush=True)
    return out


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


__all__ = [
    "CSV_FIELDS",
    "Counter",
    "Timer",
    "count_rows",
    "maxrss_mib",
    "open_csv",
    "report",
    "validate_rows",
]
