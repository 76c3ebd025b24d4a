"""End to end: uploads through the API, imports run by a real qcluster worker.

The worker is a separate ``manage.py qcluster`` process on the configured
broker (ORM by default, Redis when REDIS_URL is set), reading the same test
database and upload folder. Expected outcomes come from an independent
reading of the generated file, so every count and every failed row is checked.
"""

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_q.conf import Conf
from rest_framework.test import APIClient

from bench.gen_users import generate
from managed.models import ManagedObject
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.imports.helpers import csv_file

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROWS = 10_000
CANCELLED_ROWS = 200_000  # see test_cancel_a_running_import
# IDM's valid-email-address-format test: unanchored, so "a@@example.com" passes
MAIL = re.compile(r".+@.+\..+")
BOOLEANS = {"true", "false"}


def database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


@pytest.fixture
def worker(admin_user, monkeypatch, tmp_path):
    """A real django-q2 cluster on the test database; uploads enqueue to it."""
    call_command("load_managed_config", verbosity=0)
    monkeypatch.setattr(Conf, "SYNC", False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "idmimport.settings.base",
        "DATABASE_URL": database_url(),
        "DATA_DIR": settings.TEST_DATA_DIR,
        "Q_WORKERS": "2",  # on PostgreSQL both share each import (helpers)
        "IMPORTS_CHUNK_SIZE": "1000",
        # SQLite: three chunks per commit, so files of a few thousand rows
        # show progress, and a cancel lands between commits
        "IMPORTS_SQLITE_ROWS_PER_COMMIT": "3000",
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.credentials(
        HTTP_X_OPENIDM_USERNAME=ADMIN_USERNAME, HTTP_X_OPENIDM_PASSWORD=ADMIN_PASSWORD
    )
    return client


def upload_files(api, paths, *, collection="managed/user", unique="userName"):
    files = [csv_file(Path(p).read_text(encoding="utf-8"), Path(p).name) for p in paths]
    response = api.post(
        f"/upload/csv/{collection}?uniqueProperty={unique}",
        {"upload": files},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    return response.json()["importUUIDs"]


def wait_until_ended(api, import_id, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = api.get(f"/openidm/csv/metadata/{import_id}").json()
        if record["end"] is not None:
            return record
        time.sleep(0.25)
    raise AssertionError(f"import {import_id} did not end: {record}")


def expected_failures(path) -> dict[int, tuple[int, list]]:
    """Row number -> (code, failing properties) read straight from the file."""
    failures = {}
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row_number, row in enumerate(reader, start=2):
            user = row["userName"]
            if user and user in seen:
                failures[row_number] = (409, seen[user])
                continue
            props = []
            if not user:
                props.append("userName")
            if not row["sn"]:
                props.append("sn")
            if not MAIL.search(row["mail"]):
                props.append("mail")
            props += [
                c
                for c in ("preferences/updates", "preferences/marketing")
                if row[c].lower() not in BOOLEANS
            ]
            if user:
                seen[user] = row_number
            if props:
                failures[row_number] = (403, props)
    return failures


def actual_failures(api, import_id) -> dict[int, tuple[int, list]]:
    response = api.get(
        f"/openidm/csv/metadata/{import_id}/failures?_queryFilter=true&_pageSize=10000"
    )
    result = {}
    for item in response.json()["result"]:
        error = item["error"]
        if error["code"] == 409:
            result[item["row"]] = (409, error["detail"]["firstRow"])
        else:
            result[item["row"]] = (
                error["code"],
                [f["property"] for f in error["detail"]["failedPolicyRequirements"]],
            )
    return result


def counts(record):
    return {
        k: record[k]
        for k in (
            "total",
            "success",
            "failure",
            "created",
            "updated",
            "unchanged",
            "status",
            "tempRecords",
        )
    }


def test_generated_users_import_reimport_and_change(api, worker, tmp_path):
    original = tmp_path / "users.csv"
    bad, _ = generate(ROWS, str(original), bad_fraction=0.02, seed=7)
    failures = expected_failures(original)
    # a few generated bad mails ("a@@example.com") pass IDM's unanchored email rule
    assert sum(bad.values()) - bad["invalid_mail"] < len(failures) <= sum(bad.values())
    good = ROWS - len(failures)

    # first import: every good row is created, every bad row fails as expected
    (first,) = upload_files(api, [original])
    record = wait_until_ended(api, first)
    assert counts(record) == {
        "total": ROWS,
        "success": good,
        "failure": len(failures),
        "created": good,
        "updated": 0,
        "unchanged": 0,
        "status": "completed",
        "tempRecords": 0,
    }
    assert actual_failures(api, first) == failures
    assert ManagedObject.objects.filter(object_type__name="user").count() == good

    # the same file again: nothing changes
    (second,) = upload_files(api, [original])
    assert counts(wait_until_ended(api, second)) == {
        "total": ROWS,
        "success": good,
        "failure": len(failures),
        "created": 0,
        "updated": 0,
        "unchanged": good,
        "status": "completed",
        "tempRecords": 0,
    }

    # a copy with 10% of descriptions changed: exactly those rows update
    changed = tmp_path / "users-changed.csv"
    _, changed_rows = generate(
        ROWS, str(changed), bad_fraction=0.02, seed=7, change_fraction=0.1
    )
    with open(original, encoding="utf-8") as a, open(changed, encoding="utf-8") as b:
        differing = {
            number
            for number, (x, y) in enumerate(zip(a, b, strict=True), start=1)
            if x != y
        }
    assert len(differing) == changed_rows
    expected_updates = len(differing - set(failures))
    assert expected_updates > 500
    (third,) = upload_files(api, [changed])
    assert counts(wait_until_ended(api, third)) == {
        "total": ROWS,
        "success": good,
        "failure": len(failures),
        "created": 0,
        "updated": expected_updates,
        "unchanged": good - expected_updates,
        "status": "completed",
        "tempRecords": 0,
    }
    assert ManagedObject.objects.filter(object_type__name="user").count() == good


def test_several_files_two_property_key_and_realm_type(api, worker, tmp_path):
    paths = []
    for index in range(3):
        path = tmp_path / f"part{index}.csv"
        generate(300, str(path), seed=100 + index)
        paths.append(path)
    ids = upload_files(
        api, paths, collection="managed/alpha_user", unique="userName,mail"
    )
    assert len(ids) == 3
    records = [wait_until_ended(api, i) for i in ids]
    assert [r["filename"] for r in records] == ["part0.csv", "part1.csv", "part2.csv"]
    # the seeds differ but user names repeat across files only by chance: every
    # row either creates, or matches the same userName+mail and is unchanged
    assert sum(r["created"] + r["unchanged"] for r in records) == 900
    assert all(
        r["failure"] == 0 and r["uniqueProperty"] == ["userName", "mail"]
        for r in records
    )
    stored = ManagedObject.objects.filter(object_type__name="alpha_user").count()
    assert stored == sum(r["created"] for r in records)
    assert ManagedObject.objects.filter(object_type__name="user").count() == 0


def test_cancel_a_running_import(api, worker, tmp_path):
    path = tmp_path / "big.csv"
    # Large enough that the cancel lands mid-import: the worker takes 40,000
    # users in under two seconds, about the time the request takes to arrive.
    generate(CANCELLED_ROWS, str(path), seed=3)
    (import_id,) = upload_files(api, [path])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = api.get(f"/openidm/csv/metadata/{import_id}").json()
        if record["processed"] > 0 or record["end"]:
            break
        time.sleep(0.05)
    response = api.post(f"/openidm/csv/metadata/{import_id}?_action=cancel")
    assert response.json() == {"status": "OK"}
    time.sleep(3)  # let the worker reach its next chunk boundary
    record = api.get(f"/openidm/csv/metadata/{import_id}").json()
    assert record["cancelled"] is True
    assert record["status"] == "cancelled"
    assert record["end"] is not None
    assert record["total"] == record["success"] + record["failure"]
    assert (
        record["success"] == record["created"] + record["updated"] + record["unchanged"]
    )
    assert record["processed"] < CANCELLED_ROWS
    assert (
        ManagedObject.objects.filter(object_type__name="user").count()
        == record["created"]
    )
