"""Per-type indexes: built on a type's first write, and serving IDM's filters."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from idmimport.crest.filter_compiler import compile_filter
from idmimport.crest.query_filter import parse_query_filter
from managed.api.views import resolve_object_field
from managed.indexes import existing_indexes, index_name, wanted_indexes
from managed.models import ManagedObject, ManagedObjectType
from managed.services import ensure_type_indexed, managed_type_compile

USERS = 2000


@pytest.fixture
def users(managed_types):
    """Users of the shipped type, every other one without a mail."""
    user_type = ManagedObjectType.objects.get(name="user")
    ensure_type_indexed(managed_type_compile(user_type))  # as a first write does
    ManagedObject.objects.bulk_create(
        ManagedObject(
            object_type=user_type,
            object_id=f"id{n}",
            properties={"userName": f"u{n}"}
            | ({"mail": f"u{n}@example.com"} if n % 2 else {}),
        )
        for n in range(USERS)
    )
    return user_type


def plan_and_ids(user_type, query_filter):
    queryset = ManagedObject.objects.filter(object_type=user_type).filter(
        compile_filter(parse_query_filter(query_filter), resolve_object_field)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ManagedObject._meta.db_table}")
            cursor.execute("SET LOCAL enable_seqscan = off")
    ids = sorted(queryset.values_list("object_id", flat=True))
    return queryset.explain(), ids


@pytest.mark.parametrize(
    ("query_filter", "expected"),
    [
        ('mail eq "u7@example.com"', ["id7"]),
        ('mail sw "u19"', [f"id{n}" for n in range(1, USERS, 2) if f"{n}"[:2] == "19"]),
        ('mail gt "u999"', ["id9", "id99", "id999"]),  # "@" sorts after "9"
    ],
)
def test_mail_filters_use_the_searchable_index(users, query_filter, expected):
    # when
    plan, ids = plan_and_ids(users, query_filter)
    # then: the answer is exact and comes through the mail index, which
    # leaves users without a mail out (SQLite's planner picks the type's
    # index over it for the ranges, as it did when it held every user)
    assert ids == sorted(expected)
    if connection.vendor == "postgresql" or " eq " in query_filter:
        assert index_name(users.pk, ("mail",), unique=False) in plan


def test_presence_filters_still_find_every_user_with_the_property(users):
    _, ids = plan_and_ids(users, "mail pr")
    assert ids == sorted(f"id{n}" for n in range(1, USERS, 2))
    _, ids = plan_and_ids(users, "!(mail pr)")
    assert ids == sorted(f"id{n}" for n in range(0, USERS, 2))


def test_searchable_indexes_leave_out_absent_properties(users):
    # given: the mail index of the shipped user type
    name = index_name(users.pk, ("mail",), unique=False)
    query = (
        "SELECT indexdef FROM pg_indexes WHERE indexname = %s"
        if connection.vendor == "postgresql"
        else "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [name])
        (definition,) = cursor.fetchone()
    # then: users without a mail are not in it
    assert name.endswith("_p")
    assert definition.rstrip(")").endswith("IS NOT NULL")


def create_user(api, name):
    body = {"userName": name, "givenName": "G", "sn": "S", "mail": f"{name}@x.io"}
    return api.post("/openidm/managed/user?_action=create", body, format="json")


@pytest.mark.django_db(transaction=True)  # the flag is remembered on commit
def test_a_types_first_create_builds_its_indexes_and_later_ones_do_not(api):
    # given: the user type as loaded, with its unique index only
    user_type = ManagedObjectType.objects.get(name="user")
    schema = managed_type_compile(user_type).schema
    unique = set(wanted_indexes(user_type, schema, unique_only=True))
    assert (user_type.indexed, existing_indexes(user_type.pk)) == (False, unique)
    wanted = set(wanted_indexes(user_type, schema))
    # when: two creates
    with CaptureQueriesContext(connection) as first:
        assert create_user(api, "bjensen").status_code == 201
    with CaptureQueriesContext(connection) as second:
        assert create_user(api, "scarter").status_code == 201
    # then: the first built the searchable indexes before inserting; the
    # second none
    user_type.refresh_from_db()
    assert user_type.indexed is True
    assert existing_indexes(user_type.pk) == wanted
    statements = [q["sql"] for q in first.captured_queries]
    built = [i for i, sql in enumerate(statements) if sql.startswith("CREATE")]
    inserted = [i for i, sql in enumerate(statements) if sql.startswith("INSERT")]
    assert len(built) == len(wanted - unique) == 6
    assert max(built) < min(inserted)
    assert [q for q in second.captured_queries if "INDEX" in q["sql"]] == []
    assert ManagedObject.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_first_write_leaves_the_type_unindexed(managed_types):
    # given
    user_type = ManagedObjectType.objects.get(name="user")
    compiled = managed_type_compile(user_type)

    class Abandoned(Exception):
        pass

    def first_write_abandoned():
        with transaction.atomic():
            ensure_type_indexed(compiled)
            raise Abandoned

    # when: the transaction that built the indexes rolls back
    with pytest.raises(Abandoned):
        first_write_abandoned()
    # then: neither the database nor the compiled type believes they exist
    assert compiled.model.indexed is False
    user_type.refresh_from_db()
    assert user_type.indexed is False
    assert len(existing_indexes(user_type.pk)) == 1  # the unique one
    # and the next first write builds them
    ensure_type_indexed(compiled)
    assert compiled.model.indexed is True
    assert len(existing_indexes(user_type.pk)) == 7
