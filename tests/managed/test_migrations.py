"""Migrations that rebuild the objects table keep the per-type indexes."""

import pytest
from django.db import connection
from django.db.models import ProtectedError

from managed.indexes import INDEX_PREFIX, index_name
from managed.models import ManagedObject, ManagedObjectType
from tests.migrations import migrate_to, migrate_to_latest

TABLE = ManagedObject._meta.db_table


def _expression_indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return {name for name in constraints if name.startswith(INDEX_PREFIX)}


def _foreign_keys() -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, info in constraints.items() if info["foreign_key"]]


@pytest.mark.django_db(transaction=True)
def test_dropping_the_type_constraint_keeps_every_expression_index(managed_types):
    # given: the types' indexes, built on the current table
    user_type = ManagedObjectType.objects.get(name="user")
    before = _expression_indexes()
    assert index_name(user_type.pk, ("userName",), unique=True) in before
    assert len(before) > 50  # every shipped type's unique and searchable ones
    assert _foreign_keys() == []
    # when: back to the table with the constraint, and forward again
    migrate_to("managed", "0002_lean_foreign_keys")
    with_constraint = (_expression_indexes(), len(_foreign_keys()))
    migrate_to_latest()
    # then: SQLite rebuilt the table both ways; the indexes came along each time
    assert with_constraint == (before, 1)
    assert _expression_indexes() == before
    assert _foreign_keys() == []


@pytest.mark.django_db
def test_a_type_holding_objects_still_cannot_be_deleted(managed_types):
    # given
    role_type = ManagedObjectType.objects.get(name="role")
    ManagedObject.objects.create(
        object_type=role_type, object_id="r1", properties={"name": "r1"}
    )
    # when / then: PROTECT is the ORM's, not the database's
    with pytest.raises(ProtectedError):
        role_type.delete()
    assert ManagedObjectType.objects.filter(name="role").exists()
