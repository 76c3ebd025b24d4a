"""CREST create, read, update, patch, delete and query of managed objects."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from idmimport.crest.json_sql import JsonText
from managed.models import ManagedObject, ManagedObjectType
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

USERS = "/openidm/managed/user"
BJENSEN = {
    "userName": "bjensen",
    "givenName": "Barbara",
    "sn": "Jensen",
    "mail": "bjensen@example.com",
}


def create(api, body, **extra):
    return api.post(f"{USERS}?_action=create", body, format="json", **extra)


def failed_properties(response) -> dict[str, list[str]]:
    detail = response.json()["detail"]
    assert detail["result"] is False
    return {
        entry["property"]: [r["policyRequirement"] for r in entry["policyRequirements"]]
        for entry in detail["failedPolicyRequirements"]
    }


def test_create_returns_201_location_and_defaults(api):
    response = create(api, BJENSEN)
    assert response.status_code == 201
    body = response.json()
    assert body["_rev"] == "1"
    assert body["accountStatus"] == "active"  # the schema default
    assert {k: body[k] for k in BJENSEN} == BJENSEN
    assert response["Location"].endswith(f"{USERS}/{body['_id']}")
    assert response["ETag"] == '"1"'
    assert ManagedObject.objects.count() == 1


def test_create_breaking_several_policies_lists_each_property(api):
    response = create(api, {"userName": "a/b", "mail": "not-an-email", "sn": "X"})
    assert response.status_code == 403
    assert response.json()["message"] == "Policy validation failed"
    assert response.json()["reason"] == "Forbidden"
    assert failed_properties(response) == {
        "userName": ["CANNOT_CONTAIN_CHARACTERS"],
        "givenName": ["REQUIRED"],
        "mail": ["VALID_EMAIL_ADDRESS_FORMAT"],
    }
    assert ManagedObject.objects.count() == 0


def test_duplicate_username_is_403_unique(api):
    assert create(api, BJENSEN).status_code == 201
    response = create(api, {**BJENSEN, "mail": "other@example.com"})
    assert response.status_code == 403
    assert failed_properties(response) == {"userName": ["UNIQUE"]}
    assert ManagedObject.objects.count() == 1


def test_database_refuses_duplicate_unique_values_without_python(api, indexed_types):
    user_type = ManagedObjectType.objects.get(name="user")
    ManagedObject.objects.create(
        object_type=user_type, object_id="a", properties=BJENSEN
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ManagedObject.objects.create(
            object_type=user_type, object_id="b", properties=BJENSEN
        )
    # another type may use the same value
    role_type = ManagedObjectType.objects.get(name="alpha_user")
    ManagedObject.objects.create(
        object_type=role_type, object_id="c", properties=BJENSEN
    )


@pytest.mark.django_db(transaction=True)
def test_racing_creates_of_one_username_give_one_201_and_one_403(admin_user):
    from django.core.management import call_command

    call_command("load_managed_config", verbosity=0)
    barrier = threading.Barrier(4)
    results = []

    def post(index):
        client = Client(
            HTTP_X_OPENIDM_USERNAME=ADMIN_USERNAME,
            HTTP_X_OPENIDM_PASSWORD=ADMIN_PASSWORD,
        )
        barrier.wait()
        response = client.post(
            f"{USERS}?_action=create",
            {**BJENSEN, "mail": f"b{index}@example.com"},
            content_type="application/json",
        )
        results.append((response.status_code, response.json()))
        connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(code for code, _ in results)
    assert codes == [201, 403, 403, 403]
    for code, body in results:
        if code == 403:
            assert body["detail"]["failedPolicyRequirements"] == [
                {
                    "property": "userName",
                    "policyRequirements": [{"policyRequirement": "UNIQUE"}],
                }
            ]
    assert ManagedObject.objects.filter(properties__userName="bjensen").count() == 1


def test_read_update_patch_delete(api):
    created = create(api, BJENSEN).json()
    url = f"{USERS}/{created['_id']}"
    # read
    read = api.get(url)
    assert read.status_code == 200
    assert read.json() == created
    assert read["ETag"] == '"1"'
    # update with a stale revision
    stale = api.put(url, {**BJENSEN, "sn": "New"}, format="json", HTTP_IF_MATCH='"7"')
    assert stale.status_code == 412
    assert stale.json()["code"] == 412
    # update
    updated = api.put(url, {**BJENSEN, "sn": "New"}, format="json", HTTP_IF_MATCH='"1"')
    assert updated.status_code == 200
    assert updated.json()["_rev"] == "2"
    assert updated.json()["sn"] == "New"
    assert "accountStatus" not in updated.json()  # PUT replaces the whole object
    # patch
    patched = api.patch(
        url,
        [
            {"operation": "replace", "field": "/sn", "value": "Patched"},
            {"operation": "add", "field": "/preferences/marketing", "value": True},
            {"operation": "remove", "field": "/description"},
        ],
        format="json",
    )
    assert patched.status_code == 200
    assert patched.json()["sn"] == "Patched"
    assert patched.json()["preferences"] == {"marketing": True}
    assert patched.json()["_rev"] == "3"
    # patch breaking a policy changes nothing
    bad = api.patch(
        url, [{"operation": "replace", "field": "/mail", "value": "x"}], format="json"
    )
    assert bad.status_code == 403
    assert failed_properties(bad) == {"mail": ["VALID_EMAIL_ADDRESS_FORMAT"]}
    assert api.get(url).json()["mail"] == BJENSEN["mail"]
    # delete
    deleted = api.delete(url)
    assert deleted.status_code == 200
    assert deleted.json()["sn"] == "Patched"
    assert api.get(url).status_code == 404
    assert ManagedObject.objects.count() == 0


def test_update_unchanged_keeps_revision(api):
    created = create(api, BJENSEN).json()
    url = f"{USERS}/{created['_id']}"
    body = {k: v for k, v in created.items() if not k.startswith("_")}
    assert api.put(url, body, format="json").json()["_rev"] == "1"


def test_put_creates_with_if_none_match_and_refuses_existing(api):
    url = f"{USERS}/bjensen-id"
    first = api.put(url, BJENSEN, format="json", HTTP_IF_NONE_MATCH="*")
    assert first.status_code == 201
    assert first.json()["_id"] == "bjensen-id"
    again = api.put(url, BJENSEN, format="json", HTTP_IF_NONE_MATCH="*")
    assert again.status_code == 412
    assert ManagedObject.objects.count() == 1


def test_update_is_validated_without_required(api):
    created = create(api, BJENSEN).json()
    url = f"{USERS}/{created['_id']}"
    response = api.put(
        url, {"userName": "bjensen", "mail": "b@example.com"}, format="json"
    )
    assert response.status_code == 200  # required is enforced on create only


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"operation": "explode", "field": "/sn"}], "is not supported"),
        ({"operation": "add"}, "JSON array"),
        ([{"operation": "add", "field": "/sn"}], "needs a value"),
    ],
)
def test_bad_patches_are_400(api, body, message):
    created = create(api, BJENSEN).json()
    response = api.patch(f"{USERS}/{created['_id']}", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_action_is_400(api):
    response = api.post(f"{USERS}?_action=frobnicate", {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Action frobnicate is not supported."


def test_missing_object_is_404(api):
    response = api.get(f"{USERS}/nope")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource 'managed/user/nope' not found"


def make_users(api, count):
    for i in range(count):
        body = {
            **BJENSEN,
            "userName": f"user{i:02d}",
            "mail": f"user{i}@example.com",
            "sn": "Even" if i % 2 == 0 else "Odd",
            "preferences": {"marketing": i % 3 == 0},
        }
        assert create(api, body).status_code == 201


def test_query_filter_paging_sorting_fields(api):
    make_users(api, 7)
    response = api.get(
        f'{USERS}?_queryFilter=sn+eq+"Even"&_sortKeys=-userName&_pageSize=2'
        "&_fields=userName&_totalPagedResultsPolicy=EXACT"
    )
    body = response.json()
    assert [r["userName"] for r in body["result"]] == ["user06", "user04"]
    assert set(body["result"][0]) == {"_id", "_rev", "userName"}
    assert body["resultCount"] == 2
    assert body["totalPagedResults"] == 4
    assert body["remainingPagedResults"] == 2
    cookie = body["pagedResultsCookie"]
    second = api.get(
        f'{USERS}?_queryFilter=sn+eq+"Even"&_sortKeys=-userName&_pageSize=2'
        f"&_pagedResultsCookie={cookie}"
    ).json()
    assert [r["userName"] for r in second["result"]] == ["user02", "user00"]
    assert second["pagedResultsCookie"] is None
    nested = api.get(f"{USERS}?_queryFilter=preferences/marketing+eq+true").json()
    assert sorted(r["userName"] for r in nested["result"]) == [
        "user00",
        "user03",
        "user06",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "_queryFilter=userName+eq",
        '_queryFilter=(userName+eq+"a"',
        '_queryFilter=userName+zz+"a"',
        "_queryFilter=true&_pageSize=-1",
        "_queryFilter=true&_totalPagedResultsPolicy=SOME",
        "_queryFilter=true&_pagedResultsOffset=1&_pagedResultsCookie=MQ",
        "_queryFilter=true&_queryId=query-all",
        "_queryId=query-all",
        "",
    ],
)
def test_malformed_queries_are_400(api, query):
    response = api.get(f"{USERS}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["reason"] == "Bad Request"


def test_deeply_nested_filter_is_400_naming_the_filter(api):
    deep = "(" * 10_000 + "true" + ")" * 10_000
    response = api.get(USERS, {"_queryFilter": deep})
    assert response.status_code == 400
    assert "_queryFilter" in response.json()["message"]


def test_username_query_uses_an_index(api):
    make_users(api, 3)
    user_type = ManagedObjectType.objects.get(name="user")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # a 3-row table would be scanned
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = (
        ManagedObject.objects.filter(object_type=user_type)
        .alias(v=JsonText("properties", ("userName",)))
        .filter(v="user01")
        .explain()
    )
    if connection.vendor == "sqlite":
        assert "USING INDEX mo_" in plan
    else:
        assert "mo_" in plan
