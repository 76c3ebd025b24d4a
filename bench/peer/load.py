"""One timed django-import-export run of a user CSV, in a fresh process.

    PEER_DATABASE_URL=postgres://... python -m bench.peer.load prepare
    PEER_DATABASE_URL=postgres://... python -m bench.peer.load import FILE --state new

``prepare`` creates the database if missing and the table afresh (untimed);
``import`` reads the file (``--format json`` of gen_users.py: the 13 columns of
the model) into a tablib Dataset and imports it in one transaction. The timing
includes reading the file, as for the reference loaders. Prints one line
``RESULT {json}`` in their format.
"""

import argparse
import json
import os
import resource
import sys
import time

from bench.pg import ensure_database


def setup_django() -> None:
    """Configure the peer project; models can be imported only after this."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.peer.settings"
    import django

    django.setup()


def prepare() -> None:
    """Create the database if missing and the table afresh."""
    url = os.environ["PEER_DATABASE_URL"]
    ensure_database(url, url.rsplit("/", 1)[1])
    setup_django()
    from django.db import connection

    from bench.peer.models import User

    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE IF EXISTS "{User._meta.db_table}"')
    with connection.schema_editor() as editor:
        editor.create_model(User)
    print(f"prepared {User._meta.db_table}: empty", file=sys.stderr)


def run_import(path: str, state: str) -> None:
    """Time one import of the file and print its RESULT line."""
    setup_django()
    import tablib

    from bench.peer.models import User
    from bench.peer.resources import UserResource

    with open(path, "rb") as handle:
        rows_in = sum(1 for _ in handle) - 1
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as handle:
        dataset = tablib.Dataset().load(handle.read(), format="csv")
    result = UserResource().import_data(
        dataset, dry_run=False, raise_errors=False, use_transactions=True
    )
    seconds = time.perf_counter() - started
    out = {
        "bench": "peer",
        "method": "django-import-export use_bulk",
        "file": os.path.basename(path),
        "rows": rows_in,
        "seconds": round(seconds, 4),
        "rows_per_s": round(rows_in / seconds, 1),
        "self_maxrss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1
        ),
        "state": state,
        "totals": dict(result.totals),
        "has_errors": result.has_errors() or result.has_validation_errors(),
        "rows_in_table": User.objects.count(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["prepare", "import"])
    parser.add_argument("file", nargs="?")
    parser.add_argument("--state", default="")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare()
    elif not args.file:
        parser.error("import needs FILE")
    else:
        run_import(args.file, args.state)


if __name__ == "__main__":
    main()
