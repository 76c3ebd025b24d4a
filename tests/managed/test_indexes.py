"""The shipped user type's searchable indexes serve the filters IDM clients send."""

import pytest
from django.db import connection

from idmimport.crest.filter_compiler import compile_filter
from idmimport.crest.query_filter import parse_query_filter
from managed.api.views import resolve_object_field
from managed.indexes import index_name
from managed.models import ManagedObject, ManagedObjectType

USERS = 2000


@pytest.fixture
def users(managed_types):
    """Users of the shipped type, every other one without a mail."""
    user_type = ManagedObjectType.objects.get(name="user")
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
