"""The imports admin: changelist, filters, search, failed rows and actions."""

import re
import uuid

import pytest
from django.utils.html import strip_tags

from imports import services
from imports.conf import import_storage
from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from managed.models import ManagedObject
from tests.imports.helpers import HEADER, stage, upload, user_row

CHANGELIST = "/admin/imports/importrecord/"
ERRORS = "/admin/imports/errorrecord/"
SEED = "\n".join([HEADER, *(user_row(n) for n in (1, 2, 3))]) + "\n"
# Against SEED: u1 unchanged, u2 and u3 updated, u4 to u6 created, four failures
# (blank key, bad cells, a key repeated in the file, a short row).
MIXED = (
    "\n".join(
        [
            HEADER,
            user_row(1),
            user_row(2, "Changed2"),
            user_row(3, "Changed3"),
            *(user_row(n) for n in (4, 5, 6)),
            ",NoName,Smith,x@example.com,active,false",
            "bad,Bad,,not-an-email,active,maybe",
            user_row(4, "Again"),
            "short,row",
        ]
    )
    + "\n"
)
# Staged but not imported: three rows waiting, the short row already failed.
STAGED = "\n".join([HEADER, *(user_row(n) for n in (7, 8, 9)), "short,row"]) + "\n"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
# The metadata that differs between two imports of the same file.
IDENTITY_KEYS = {"_id", "reconId", "begin", "end"}


def changelist_rows(response) -> list[dict[str, str]]:
    """The changelist's result table: one ``{field: cell text}`` per row.

    The progress cell keeps its HTML, since the bar is what it shows.
    """
    html = response.content.decode()
    if "<tbody>" not in html:
        return []
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = re.findall(
            r'<t[hd] class="field-(\w+)[^"]*">(.*?)</t[hd]>', row, flags=re.S
        )
        rows.append(
            {
                name: inner if name == "progress" else strip_tags(inner).strip()
                for name, inner in cells
            }
        )
    return rows


def filenames(response) -> list[str]:
    assert response.status_code == 200
    return [row["filename"] for row in changelist_rows(response)]


def shown_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def act(admin_client, action, *import_ids):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(i) for i in import_ids]},
        follow=True,
    )


def one_id(response) -> str:
    (import_id,) = response.json()["importUUIDs"]
    return import_id


def metadata(api, import_id) -> dict:
    return api.get(f"/openidm/csv/metadata/{import_id}").json()


def stopped_with_temp_records(api, name) -> str:
    """A cancelled import whose temp records and failed row are still there."""
    import_id = one_id(upload(api, STAGED, name=name))
    stage(import_id)
    services.import_cancel(import_id)
    return import_id


def test_changelist_shows_every_count_and_the_progress_bar(
    api, run_imports, admin_client
):
    # given
    run_imports(lambda: upload(api, SEED, name="seed.csv"))
    run_imports(lambda: upload(api, MIXED, name="mixed.csv"))
    stage(one_id(upload(api, STAGED, name="staged.csv")))
    upload(api, SEED, name="queued.csv")
    # when
    response = admin_client.get(CHANGELIST)
    # then
    assert response.status_code == 200
    fields = [
        "filename",
        "resource_path",
        "status",
        "progress",
        "total",
        "success",
        "failure",
        "created",
        "updated",
        "unchanged",
        "temp_records",
    ]
    rows = [{k: row[k] for k in fields} for row in changelist_rows(response)]
    assert rows == [
        {
            "filename": "queued.csv",
            "resource_path": "managed/user",
            "status": "Queued",
            "progress": (
                '<progress value="0" max="1" title="0 of 0 rows"></progress> 0%'
            ),
            "total": "0",
            "success": "0",
            "failure": "0",
            "created": "0",
            "updated": "0",
            "unchanged": "0",
            "temp_records": "0",
        },
        {
            "filename": "staged.csv",
            "resource_path": "managed/user",
            "status": "Importing",
            "progress": (
                '<progress value="1" max="4" title="1 of 4 rows"></progress> 25%'
            ),
            "total": "4",
            "success": "0",
            "failure": "1",
            "created": "0",
            "updated": "0",
            "unchanged": "0",
            "temp_records": "3",
        },
        {
            "filename": "mixed.csv",
            "resource_path": "managed/user",
            "status": "Completed",
            "progress": (
                '<progress value="10" max="10" title="10 of 10 rows"></progress> 100%'
            ),
            "total": "10",
            "success": "6",
            "failure": "4",
            "created": "3",
            "updated": "2",
            "unchanged": "1",
            "temp_records": "0",
        },
        {
            "filename": "seed.csv",
            "resource_path": "managed/user",
            "status": "Completed",
            "progress": (
                '<progress value="3" max="3" title="3 of 3 rows"></progress> 100%'
            ),
            "total": "3",
            "success": "3",
            "failure": "0",
            "created": "3",
            "updated": "0",
            "unchanged": "0",
            "temp_records": "0",
        },
    ]
    assert [row["end"] for row in changelist_rows(response)][:2] == ["-", "-"]


def test_changelist_of_no_imports_is_empty(admin_client):
    # when
    response = admin_client.get(CHANGELIST)
    # then
    assert response.status_code == 200
    assert changelist_rows(response) == []
    assert "0 import records" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("resource_path=managed/user", ["users.csv"]),
        ("resource_path=managed/alpha_user", ["alpha.csv", "queued-alpha.csv"]),
        ("resource_path=managed/role", []),
        ("status__exact=completed", ["alpha.csv", "users.csv"]),
        ("status__exact=queued", ["queued-alpha.csv"]),
        ("status__exact=cancelled", []),
        ("resource_path=managed/alpha_user&status__exact=queued", ["queued-alpha.csv"]),
    ],
)
def test_changelist_filters_by_resource_path_and_status(
    api, run_imports, admin_client, query, expected
):
    # given
    run_imports(lambda: upload(api, SEED, name="users.csv"))
    run_imports(
        lambda: upload(api, SEED, collection="managed/alpha_user", name="alpha.csv")
    )
    upload(api, SEED, collection="managed/alpha_user", name="queued-alpha.csv")
    # when
    response = admin_client.get(f"{CHANGELIST}?{query}")
    # then
    assert sorted(filenames(response)) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (lambda ids: "first", ["first.csv"]),
        (lambda ids: "SECOND.CSV", ["second.csv"]),
        (lambda ids: ".csv", ["first.csv", "second.csv"]),
        (lambda ids: ids["second.csv"], ["second.csv"]),
        (lambda ids: f"  {ids['first.csv'].upper()} ", ["first.csv"]),
        (lambda ids: UNKNOWN_ID, []),
        (lambda ids: "not-a-uuid", []),
        (lambda ids: ids["first.csv"][:-1] + "z", []),
    ],
    ids=[
        "name",
        "name-case",
        "name-part",
        "uuid",
        "uuid-upper-spaced",
        "unknown-uuid",
        "not-a-uuid",
        "bad-hex",
    ],
)
def test_search_by_file_name_and_by_uuid(
    api, run_imports, admin_client, term, expected
):
    # given
    ids = {
        name: one_id(run_imports(lambda name=name: upload(api, SEED, name=name)))
        for name in ("first.csv", "second.csv")
    }
    # when
    response = admin_client.get(CHANGELIST, {"q": term(ids)})
    # then
    assert sorted(filenames(response)) == expected


def test_change_page_links_to_exactly_its_failed_rows(api, run_imports, admin_client):
    # given
    run_imports(lambda: upload(api, SEED, name="seed.csv"))
    other = one_id(
        run_imports(
            lambda: upload(api, f"{HEADER}\n,x,y,z,active,true\n", name="o.csv")
        )
    )
    mixed = one_id(run_imports(lambda: upload(api, MIXED, name="mixed.csv")))
    # when
    page = admin_client.get(f"{CHANGELIST}{mixed}/change/")
    # then
    assert page.status_code == 200
    link = f"{ERRORS}?import_record__id__exact={mixed}"
    assert f'<a href="{link}">4 failed rows</a>' in page.content.decode()
    assert "mixed.csv" in page.content.decode()
    # when
    errors = admin_client.get(link)
    # then
    assert errors.status_code == 200
    rows = changelist_rows(errors)
    assert [(row["import_record"], row["row_number"]) for row in rows] == [
        (f"mixed.csv ({mixed})", "8"),
        (f"mixed.csv ({mixed})", "9"),
        (f"mixed.csv ({mixed})", "10"),
        (f"mixed.csv ({mixed})", "11"),
    ]
    assert [row["error_message"] for row in rows] == [
        "Policy validation failed",
        "Policy validation failed",
        "Duplicate userName in the file: row 5 has the same value",
        "Row has 2 cells, the header has 6",
    ]
    assert ErrorRecord.objects.filter(import_record_id=other).count() == 1


def test_error_record_page_shows_the_row_and_its_error(api, run_imports, admin_client):
    # given
    import_id = one_id(
        run_imports(lambda: upload(api, f"{HEADER}\nshort,row\n", name="short.csv"))
    )
    error_record = ErrorRecord.objects.get(import_record_id=import_id)
    # when
    response = admin_client.get(f"{ERRORS}{error_record.pk}/change/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f"short.csv ({import_id})" in html
    assert "Row has 2 cells, the header has 6" in html
    assert "[&quot;short&quot;, &quot;row&quot;]" in html


@pytest.mark.parametrize(
    ("action", "api_action", "stopped_first"),
    [
        ("cancel_imports", "cancel", False),
        ("cleanup_imports", "cleanup", True),
        ("cleanup_imports_and_errors", "cleanup&deleteErrorRecords=true", True),
    ],
)
def test_actions_do_what_the_api_does(
    api, admin_client, action, api_action, stopped_first
):
    # given: two imports in the same state, one for the admin, one for the API
    twins = []
    for name in ("admin.csv", "api.csv"):
        import_id = one_id(upload(api, STAGED, name=name))
        stage(import_id)
        if stopped_first:
            services.import_cancel(import_id)
        twins.append(import_id)
    by_admin, by_api = twins
    # when
    response = act(admin_client, action, by_admin)
    api_response = api.post(f"/openidm/csv/metadata/{by_api}?_action={api_action}")
    # then
    assert response.status_code == 200
    assert api_response.json() == {"status": "OK"}
    verb = "Cancelled" if action == "cancel_imports" else "Cleaned up"
    assert shown_messages(response) == [("success", f"{verb} 1 import(s).")]
    admin_state, api_state = metadata(api, by_admin), metadata(api, by_api)
    assert {k: v for k, v in admin_state.items() if k not in IDENTITY_KEYS} == {
        k: v for k, v in api_state.items() if k not in IDENTITY_KEYS | {"filename"}
    } | {"filename": "admin.csv"}
    for import_id in twins:
        record = ImportRecord.objects.get(pk=import_id)
        assert TempRecord.objects.filter(import_record_id=import_id).count() == (
            0 if action.startswith("cleanup") else 3
        )
        assert ErrorRecord.objects.filter(import_record_id=import_id).count() == (
            0 if action == "cleanup_imports_and_errors" else 1
        )
        assert (record.status, record.cancelled) == (ImportStatus.CANCELLED, True)
        assert record.end is not None
        assert (record.total, record.success, record.failure) == (1, 0, 1)
        assert record.purged_temp_records is action.startswith("cleanup")
        assert record.purged_error_records is (action == "cleanup_imports_and_errors")
    assert ManagedObject.objects.count() == 0


def test_cancel_action_stops_running_imports_and_leaves_the_rest(
    api, run_imports, admin_client
):
    # given
    queued = one_id(upload(api, SEED, name="queued.csv"))
    staged = one_id(upload(api, STAGED, name="staged.csv"))
    stage(staged)
    done = one_id(run_imports(lambda: upload(api, MIXED, name="done.csv")))
    untouched = one_id(upload(api, SEED, name="untouched.csv"))
    done_before = metadata(api, done)
    # when
    response = act(admin_client, "cancel_imports", queued, staged, done)
    # then
    assert response.status_code == 200
    assert shown_messages(response) == [
        ("warning", f"done.csv ({done}): already completed, nothing to cancel"),
        ("success", "Cancelled 2 import(s)."),
    ]
    for import_id in (queued, staged):
        record = ImportRecord.objects.get(pk=import_id)
        assert (record.status, record.cancelled) == (ImportStatus.CANCELLED, True)
        assert record.end is not None
        assert record.message == "Cancelled before all rows were processed"
        assert record.total == record.success + record.failure
    assert TempRecord.objects.filter(import_record_id=staged).count() == 3
    assert metadata(api, done) == done_before
    record = ImportRecord.objects.get(pk=untouched)
    assert (record.status, record.cancelled, record.end) == (
        ImportStatus.QUEUED,
        False,
        None,
    )


def test_cancel_action_on_finished_imports_only_warns(api, run_imports, admin_client):
    # given
    done = one_id(run_imports(lambda: upload(api, SEED, name="done.csv")))
    cancelled = stopped_with_temp_records(api, "cancelled.csv")
    before = {i: metadata(api, i) for i in (done, cancelled)}
    # when
    response = act(admin_client, "cancel_imports", done, cancelled)
    # then
    assert response.status_code == 200
    assert shown_messages(response) == [
        (
            "warning",
            f"cancelled.csv ({cancelled}): already cancelled, nothing to cancel",
        ),
        ("warning", f"done.csv ({done}): already completed, nothing to cancel"),
    ]
    assert {i: metadata(api, i) for i in (done, cancelled)} == before


@pytest.mark.parametrize(
    ("action", "error_records_after"),
    [("cleanup_imports", 1), ("cleanup_imports_and_errors", 0)],
)
def test_cleanup_actions_refuse_a_running_import_with_an_error_message(
    api, admin_client, action, error_records_after
):
    # given
    running = one_id(upload(api, STAGED, name="running.csv"))
    stage(running)
    stopped = stopped_with_temp_records(api, "stopped.csv")
    running_before = metadata(api, running)
    # when
    response = act(admin_client, action, running, stopped)
    # then
    assert response.status_code == 200
    assert shown_messages(response) == [
        (
            "error",
            f"running.csv ({running}): Import {running} is still running; "
            "cancel it or wait for it to end",
        ),
        ("success", "Cleaned up 1 import(s)."),
    ]
    assert metadata(api, running) == running_before
    assert TempRecord.objects.filter(import_record_id=running).count() == 3
    assert ErrorRecord.objects.filter(import_record_id=running).count() == 1
    assert TempRecord.objects.filter(import_record_id=stopped).count() == 0
    assert (
        ErrorRecord.objects.filter(import_record_id=stopped).count()
        == error_records_after
    )


def test_cleanup_action_of_only_running_imports_reports_only_errors(api, admin_client):
    # given
    queued = one_id(upload(api, SEED, name="queued.csv"))
    # when
    response = act(admin_client, "cleanup_imports", queued)
    # then
    assert response.status_code == 200
    assert shown_messages(response) == [
        (
            "error",
            f"queued.csv ({queued}): Import {queued} is still running; "
            "cancel it or wait for it to end",
        )
    ]
    record = ImportRecord.objects.get(pk=queued)
    assert (record.status, record.purged_temp_records) == (ImportStatus.QUEUED, False)


@pytest.mark.parametrize("path", [f"{CHANGELIST}add/", f"{ERRORS}add/"])
def test_add_pages_are_403(admin_client, path):
    # when
    response = admin_client.get(path)
    # then
    assert response.status_code == 403
    assert ImportRecord.objects.count() == 0
    assert ErrorRecord.objects.count() == 0


def test_changing_an_import_or_an_error_record_is_403(api, run_imports, admin_client):
    # given
    import_id = one_id(
        run_imports(lambda: upload(api, f"{HEADER}\nshort,row\n", name="short.csv"))
    )
    error_record = ErrorRecord.objects.get(import_record_id=import_id)
    before = metadata(api, import_id)
    # when
    import_post = admin_client.post(
        f"{CHANGELIST}{import_id}/change/", {"filename": "x.csv", "total": "99"}
    )
    error_post = admin_client.post(
        f"{ERRORS}{error_record.pk}/change/", {"row_number": "99"}
    )
    # then
    assert (import_post.status_code, error_post.status_code) == (403, 403)
    assert metadata(api, import_id) == before
    error_record.refresh_from_db()
    assert error_record.row_number == 2
    # the change pages are read-only views, without a save button
    page = admin_client.get(f"{CHANGELIST}{import_id}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


@pytest.mark.parametrize("how", ["delete page", "delete_selected action"])
def test_deleting_an_import_in_the_admin_does_what_the_api_delete_does(
    api, run_imports, admin_client, how
):
    # given
    import_id = one_id(run_imports(lambda: upload(api, MIXED, name="mixed.csv")))
    stopped = stopped_with_temp_records(api, "stopped.csv")
    stored = {i: ImportRecord.objects.get(pk=i).file for i in (import_id, stopped)}
    assert all(import_storage().exists(name) for name in stored.values())
    kept = one_id(run_imports(lambda: upload(api, SEED, name="kept.csv")))
    # when
    if how == "delete page":
        responses = [
            admin_client.post(f"{CHANGELIST}{i}/delete/", {"post": "yes"})
            for i in (import_id, stopped)
        ]
    else:
        responses = [
            admin_client.post(
                CHANGELIST,
                {
                    "action": "delete_selected",
                    "_selected_action": [import_id, stopped],
                    "post": "yes",
                },
            )
        ]
    # then
    assert {r.status_code for r in responses} == {302}
    assert list(ImportRecord.objects.values_list("pk", flat=True)) == [uuid.UUID(kept)]
    assert TempRecord.objects.count() == 0
    assert ErrorRecord.objects.count() == 0
    assert not any(import_storage().exists(name) for name in stored.values())
    assert import_storage().exists(ImportRecord.objects.get(pk=kept).file)
    assert api.get(f"/openidm/csv/metadata/{import_id}").status_code == 404
    assert ManagedObject.objects.count() == 6  # imported objects stay
