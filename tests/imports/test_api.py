"""Every bulk-import endpoint and its error paths (imports run inline)."""

import csv
import io

import pytest
from django.test import override_settings

from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from managed.models import ManagedObject
from tests.imports.helpers import HEADER, csv_file, upload

GOOD = (
    f"{HEADER}\n"
    "bjensen,Barbara,Jensen,bjensen@example.com,active,true\n"
    "scarter,Sam,Carter,scarter@example.com,,false\n"
)
METADATA_KEYS = [
    "_id",
    "_rev",
    "header",
    "reconId",
    "filename",
    "resourcePath",
    "total",
    "success",
    "failure",
    "created",
    "updated",
    "unchanged",
    "begin",
    "end",
    "cancelled",
    "importDeleted",
    "tempRecords",
    "purgedTempRecords",
    "purgedErrorRecords",
    "authId",
    "authzComponent",
    "status",
    "processed",
    "message",
    "uniqueProperty",
    "dryRun",
]


def metadata(api, import_id):
    return api.get(f"/openidm/csv/metadata/{import_id}").json()


def test_template_json_and_csv(api):
    response = api.get("/openidm/csv/template?resourceCollection=managed/user")
    assert response.status_code == 200
    expected = (
        '"userName","givenName","sn","mail","description","accountStatus",'
        '"telephoneNumber","postalAddress","city","postalCode","country",'
        '"stateProvince","preferences/updates","preferences/marketing"'
    )
    assert response.json() == {"_id": "template", "header": expected}
    raw = api.get(
        "/openidm/csv/template?resourceCollection=managed/user&_fields=header"
        "&_mimeType=text/csv"
    )
    assert raw.status_code == 200
    assert raw["Content-Type"] == "text/csv; charset=utf-8"
    assert raw.content.decode() == expected + "\n"
    role = api.get("/openidm/csv/template?resourceCollection=managed/alpha_role").json()
    assert role["header"] == '"name","description"'


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", 400),
        ("resourceCollection=managed/nosuch", 404),
        ("resourceCollection=system/ldap/account", 404),
        ("resourceCollection=managed/user&_mimeType=text/csv", 400),
        ("resourceCollection=managed/user&_fields=header,x&_mimeType=text/csv", 400),
        ("resourceCollection=managed/user&_fields=header&_mimeType=image/png", 400),
    ],
)
def test_template_errors(api, query, code):
    response = api.get(f"/openidm/csv/template?{query}")
    assert response.status_code == code
    assert response.json()["code"] == code


def test_upload_imports_and_reports(api, run_imports):
    # when
    response = run_imports(lambda: upload(api, GOOD))
    # then
    assert response.status_code == 200
    (import_id,) = response.json()["importUUIDs"]
    record = metadata(api, import_id)
    assert list(record) == METADATA_KEYS
    assert {
        k: record[k]
        for k in (
            "header",
            "filename",
            "resourcePath",
            "total",
            "success",
            "failure",
            "created",
            "updated",
            "unchanged",
            "cancelled",
            "importDeleted",
            "tempRecords",
            "purgedTempRecords",
            "purgedErrorRecords",
            "authId",
            "authzComponent",
            "status",
            "processed",
        )
    } == {
        "header": HEADER.split(","),
        "filename": "users.csv",
        "resourcePath": "managed/user",
        "total": 2,
        "success": 2,
        "failure": 0,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "cancelled": False,
        "importDeleted": False,
        "tempRecords": 0,
        "purgedTempRecords": True,
        "purgedErrorRecords": False,
        "authId": "openidm-admin",
        "authzComponent": "internal/user",
        "status": "completed",
        "processed": 2,
    }
    assert record["begin"].endswith("Z")
    assert len(record["begin"]) == 24
    assert record["end"].endswith("Z")
    assert len(record["end"]) == 24
    users = {
        o.properties["userName"]: o.properties for o in ManagedObject.objects.all()
    }
    assert users["bjensen"] == {
        "userName": "bjensen",
        "givenName": "Barbara",
        "sn": "Jensen",
        "mail": "bjensen@example.com",
        "accountStatus": "active",
        "preferences": {"marketing": True},
    }
    assert users["scarter"]["accountStatus"] == "active"  # blank cell: default applies
    assert TempRecord.objects.count() == 0


def test_reimport_unchanged_updated_and_blank_removes(api, run_imports):
    run_imports(lambda: upload(api, GOOD))
    # same file: unchanged
    (second,) = run_imports(lambda: upload(api, GOOD)).json()["importUUIDs"]
    assert {
        k: metadata(api, second)[k] for k in ("created", "updated", "unchanged")
    } == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
    }
    # bjensen: a new name, a blank accountStatus (back to its default, "active")
    # and a blank preferences/marketing (no default: removed)
    changed = GOOD.replace(
        "Barbara,Jensen,bjensen@example.com,active,true",
        "Babs,Jensen,bjensen@example.com,,",
    )
    (third,) = run_imports(lambda: upload(api, changed)).json()["importUUIDs"]
    assert {
        k: metadata(api, third)[k] for k in ("created", "updated", "unchanged")
    } == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
    }
    bjensen = ManagedObject.objects.get(properties__userName="bjensen")
    assert bjensen.properties["givenName"] == "Babs"
    assert bjensen.properties["accountStatus"] == "active"
    assert bjensen.properties["preferences"] == {}
    assert bjensen.rev == 2


def test_row_failures_are_recorded_and_exported(api, run_imports):
    text = (
        f"{HEADER}\n"
        "bjensen,Barbara,Jensen,bjensen@example.com,active,true\n"
        ",NoName,Smith,x@example.com,active,false\n"
        "bad,Bad,,not-an-email,active,maybe\n"
        "bjensen,Again,Jensen,b2@example.com,active,true\n"
        "=cmd,Evil,Formula,evil@example.com,active,true\n"
        "short,row\n"
    )
    (import_id,) = run_imports(lambda: upload(api, text)).json()["importUUIDs"]
    record = metadata(api, import_id)
    assert (
        record["total"],
        record["success"],
        record["failure"],
        record["created"],
    ) == (
        6,
        2,
        4,
        2,
    )
    failures = api.get(f"/openidm/csv/metadata/{import_id}/failures?_queryFilter=true")
    rows = {item["row"]: item for item in failures.json()["result"]}
    assert sorted(rows) == [3, 4, 5, 7]
    assert rows[3]["error"]["detail"]["failedPolicyRequirements"] == [
        {
            "property": "userName",
            "policyRequirements": [{"policyRequirement": "REQUIRED"}],
        }
    ]
    assert [
        f["property"] for f in rows[4]["error"]["detail"]["failedPolicyRequirements"]
    ] == [
        "sn",
        "mail",
        "preferences/marketing",
    ]
    assert rows[5]["error"]["code"] == 409
    assert rows[5]["error"]["detail"]["firstRow"] == 2
    assert rows[7]["error"] == {
        "code": 400,
        "reason": "Bad Request",
        "message": "Row has 2 cells, the header has 6",
    }
    assert rows[4]["values"]["mail"] == "not-an-email"
    # the CSV export
    export = api.get(f"/export/csvImportFailures/{import_id}")
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="users-failures.csv"' in export["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert lines[0] == [*HEADER.split(","), "_importError"]
    assert [line[0] for line in lines[1:]] == ["", "bad", "bjensen", "short"]
    assert lines[1][-1] == (
        "{code=403, reason=Forbidden, message=Policy validation failed, "
        "detail={result=false, "
        "failedPolicyRequirements=[{policyRequirements=[{policyRequirement=REQUIRED}], "
        "property=userName}]}}"
    )


def test_formula_cells_are_neutralised_in_the_export(api, run_imports):
    text = f"{HEADER}\n=cmd,Evil,,evil@example.com,active,true\n"
    (import_id,) = run_imports(lambda: upload(api, text)).json()["importUUIDs"]
    export = api.get(f"/export/csvImportFailures/{import_id}")
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert lines[1][0] == "'=cmd"


def test_export_404_without_failures_or_after_purge(api, run_imports):
    (clean,) = run_imports(lambda: upload(api, GOOD)).json()["importUUIDs"]
    assert api.get(f"/export/csvImportFailures/{clean}").status_code == 404
    bad = f"{HEADER}\n,x,y,z@example.com,active,true\n"
    (failed,) = run_imports(lambda: upload(api, bad)).json()["importUUIDs"]
    assert api.get(f"/export/csvImportFailures/{failed}").status_code == 200
    cleanup = api.post(
        f"/openidm/csv/metadata/{failed}?_action=cleanup&deleteErrorRecords=true"
    )
    assert cleanup.json() == {"status": "OK"}
    assert api.get(f"/export/csvImportFailures/{failed}").status_code == 404
    assert metadata(api, failed)["purgedErrorRecords"] is True
    assert api.get("/export/csvImportFailures/not-a-uuid").status_code == 404


def test_dry_run_counts_but_writes_nothing(api, run_imports):
    response = run_imports(lambda: upload(api, GOOD, extra="&dryRun=true"))
    (import_id,) = response.json()["importUUIDs"]
    record = metadata(api, import_id)
    assert (record["created"], record["success"], record["dryRun"]) == (2, 2, True)
    assert ManagedObject.objects.count() == 0


def test_several_files_give_one_uuid_each_in_order(api, run_imports):
    files = [
        csv_file(f"{HEADER}\nu1,A,B,u1@example.com,active,true\n", "first.csv"),
        csv_file(f"{HEADER}\nu2,A,B,u2@example.com,active,true\n", "second.csv"),
    ]
    response = run_imports(lambda: upload(api, None, files=files))
    ids = response.json()["importUUIDs"]
    assert [metadata(api, i)["filename"] for i in ids] == ["first.csv", "second.csv"]
    assert ManagedObject.objects.count() == 2


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"unique": None}, 400, "uniqueProperty parameter is required"),
        ({"unique": ""}, 400, "uniqueProperty parameter is required"),
        ({"unique": "nosuch"}, 400, "'nosuch' is not an importable property"),
        ({"unique": "description"}, 400, "description"),
        ({"collection": "managed/nosuch"}, 404, "managed/nosuch"),
        ({"files": []}, 400, "No file in the request"),
    ],
)
def test_upload_rejections_create_nothing(api, kwargs, code, message):
    response = upload(api, GOOD, **kwargs)
    assert response.status_code == code
    assert response.json()["code"] == code
    assert message in response.json()["message"]
    assert ImportRecord.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("userName,nosuch,_id\nx,y,z\n", "nosuch"),
        ("userName,userName\nx,y\n", "userName"),
        (b"user\xffName\n".decode("latin-1"), "userName"),
    ],
)
def test_bad_headers_are_400(api, text, message):
    response = upload(api, text)
    assert response.status_code == 400
    assert ImportRecord.objects.count() == 0


def test_not_multipart_is_400(api):
    response = api.post(
        "/upload/csv/managed/user?uniqueProperty=userName", {"a": 1}, format="json"
    )
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["message"]


@override_settings(IMPORTS_MAX_UPLOAD_BYTES=100)
def test_too_large_is_413_naming_the_limit(api):
    response = upload(api, GOOD * 5)
    assert response.status_code == 413
    assert "100 bytes" in response.json()["message"]
    assert ImportRecord.objects.count() == 0


def test_upload_needs_an_admin(anonymous, managed_types):
    assert upload(anonymous, GOOD).status_code == 401


def test_query_metadata_by_resource_path_and_paging(api, run_imports):
    run_imports(lambda: upload(api, GOOD))
    run_imports(
        lambda: upload(
            api, GOOD.replace("Jensen", "J"), collection="managed/alpha_user"
        )
    )
    response = api.get(
        '/openidm/csv/metadata?_queryFilter=/resourcePath+eq+"managed/user"'
    )
    assert [r["resourcePath"] for r in response.json()["result"]] == ["managed/user"]
    both = api.get(
        "/openidm/csv/metadata/?_queryFilter=true&_sortKeys=begin&_fields=filename"
    )
    assert both.json()["resultCount"] == 2
    assert set(both.json()["result"][0]) == {"_id", "_rev", "filename"}
    by_status = api.get(
        '/openidm/csv/metadata?_queryFilter=status+eq+"completed"+and+total+gt+1'
    )
    assert by_status.json()["resultCount"] == 2
    bad = api.get("/openidm/csv/metadata?_queryFilter=nosuchfield+eq+1")
    assert bad.status_code == 400


def test_cancel_cleanup_list_cleanup_delete(api, run_imports):
    (done,) = run_imports(lambda: upload(api, GOOD + ",x,y,z,active,true\n")).json()[
        "importUUIDs"
    ]
    # cancelling a finished import is a no-op
    assert api.post(f"/openidm/csv/metadata/{done}?_action=cancel").json() == {
        "status": "OK"
    }
    assert metadata(api, done)["cancelled"] is False
    # a queued import (no worker ran it) can be cancelled
    (queued,) = upload(api, GOOD).json()["importUUIDs"]
    assert metadata(api, queued)["status"] == "queued"
    assert metadata(api, queued)["end"] is None
    assert (
        api.post(f"/openidm/csv/metadata/{queued}/?_action=cancel").status_code == 200
    )
    cancelled = metadata(api, queued)
    assert (cancelled["cancelled"], cancelled["status"]) == (True, "cancelled")
    assert cancelled["end"] is not None
    assert cancelled["total"] == cancelled["success"] + cancelled["failure"] == 0
    # cleanupList lists imports holding error records
    listed = api.post("/openidm/csv/metadata?_action=cleanupList").json()
    assert listed == {"importUUIDs": [done]}
    assert api.post(f"/openidm/csv/metadata/{done}?_action=cleanup").json() == {
        "status": "OK"
    }
    assert api.post("/openidm/csv/metadata?_action=cleanupList").json() == {
        "importUUIDs": [done]
    }
    api.post(f"/openidm/csv/metadata/{done}?_action=cleanup&deleteErrorRecords=true")
    assert api.post("/openidm/csv/metadata?_action=cleanupList").json() == {
        "importUUIDs": []
    }
    # delete returns the record as it was, then 404; objects stay
    deleted = api.delete(f"/openidm/csv/metadata/{done}")
    assert deleted.status_code == 200
    assert deleted.json()["_id"] == done
    assert deleted.json()["importDeleted"] is True
    assert api.get(f"/openidm/csv/metadata/{done}").status_code == 404
    assert ManagedObject.objects.count() == 2
    assert ErrorRecord.objects.filter(import_record_id=done).count() == 0


def test_cleanup_refuses_a_running_import(api):
    (queued,) = upload(api, GOOD).json()["importUUIDs"]
    response = api.post(f"/openidm/csv/metadata/{queued}?_action=cleanup")
    assert response.status_code == 409
    assert ImportRecord.objects.get(pk=queued).status == ImportStatus.QUEUED


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("get", "/openidm/csv/metadata/00000000-0000-4000-8000-000000000000", 404),
        ("delete", "/openidm/csv/metadata/00000000-0000-4000-8000-000000000000", 404),
        (
            "post",
            "/openidm/csv/metadata/00000000-0000-4000-8000-000000000000?_action=cancel",
            404,
        ),
        ("get", "/openidm/csv/metadata/not-a-uuid", 404),
        ("post", "/openidm/csv/metadata?_action=explode", 400),
        ("post", "/openidm/csv/metadata", 400),
    ],
)
def test_metadata_errors(api, method, path, code):
    response = getattr(api, method)(path)
    assert response.status_code == code
    assert response.json()["code"] == code


def test_two_property_unique_and_realm_type(api, run_imports):
    text = (
        "userName,givenName,sn,mail\n"
        "a1,Ann,Lee,ann@example.com\n"
        "a2,Ann,Lee,ann2@example.com\n"
    )
    first = run_imports(
        lambda: upload(
            api, text, collection="managed/alpha_user", unique="givenName,sn"
        )
    )
    (import_id,) = first.json()["importUUIDs"]
    record = metadata(api, import_id)
    assert (record["created"], record["failure"]) == (1, 1)
    assert record["uniqueProperty"] == ["givenName", "sn"]
    assert ManagedObject.objects.filter(object_type__name="alpha_user").count() == 1


def imported(api, run_imports, text, unique="userName") -> str:
    """Upload ``text``, run its import inline and return its id."""
    response = run_imports(lambda: upload(api, text, unique=unique))
    (import_id,) = response.json()["importUUIDs"]
    return import_id


def test_a_row_matching_several_objects_fails_and_its_neighbours_apply(
    api, run_imports
):
    # given: two users share a givenName, which is searchable but not unique
    imported(
        api,
        run_imports,
        f"{HEADER}\n"
        "bjensen,Barbara,Jensen,b1@example.com,active,true\n"
        "bjensen2,Barbara,Jensen,b2@example.com,active,true\n"
        "scarter,Sam,Carter,scarter@example.com,active,true\n",
    )
    objects = dict(
        ManagedObject.objects.values_list("properties__userName", "object_id")
    )
    # when: correlating on givenName, the middle row matches both of them
    text = (
        f"{HEADER}\n"
        "scarter,Sam,Carter,sam@example.com,active,true\n"
        "bjensen3,Barbara,Jensen,b3@example.com,active,true\n"
        "jdoe,John,Doe,jdoe@example.com,active,true\n"
    )
    import_id = imported(api, run_imports, text, unique="givenName")
    # then: one failure naming both objects; the rows around it apply
    record = metadata(api, import_id)
    counts = ("total", "success", "failure", "created", "updated")
    assert [record[k] for k in counts] == [3, 2, 1, 1, 1]
    failures = api.get(f"/openidm/csv/metadata/{import_id}/failures?_queryFilter=true")
    (failure,) = failures.json()["result"]
    assert failure["row"] == 3
    assert failure["error"] == {
        "code": 409,
        "reason": "Conflict",
        "message": "2 existing objects match givenName; the row is ambiguous",
        "detail": {
            "matches": sorted([objects["bjensen"], objects["bjensen2"]]),
            "uniqueProperty": ["givenName"],
        },
    }
    sam = ManagedObject.objects.get(object_id=objects["scarter"])
    assert (sam.rev, sam.properties["mail"]) == (2, "sam@example.com")
    names = ManagedObject.objects.values_list("properties__userName", flat=True)
    assert sorted(names) == ["bjensen", "bjensen2", "jdoe", "scarter"]
