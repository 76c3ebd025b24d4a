"""Migrations of managed objects keep the per-type indexes the types need."""

import pytest
from django.core.management import call_command
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
def test_dropping_the_type_constraint_keeps_every_expression_index(indexed_types):
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


@pytest.mark.django_db(transaction=True)
def test_types_already_holding_objects_are_marked_indexed(indexed_types):
    # given: a database from before ``indexed``, every type with its indexes
    # and only roles stored
    role_type = ManagedObjectType.objects.get(name="role")
    migrate_to("managed", "0004_object_row_digest")
    ManagedObject.objects.create(
        object_type_id=role_type.pk, object_id="r1", properties={"name": "r1"}
    )
    # when
    migrate_to_latest()
    # then: roles keep their indexes; the other types give up their
    # searchable ones at the next load_managed_config
    marked = dict(ManagedObjectType.objects.values_list("name", "indexed"))
    assert [name for name, indexed in marked.items() if indexed] == ["role"]
    call_command("load_managed_config", verbosity=0)
    # (a transactional test before this one may leave its own types' indexes)
    current = {str(pk) for pk in ManagedObjectType.objects.values_list("pk", flat=True)}
    kept = {n for n in _expression_indexes() if n.split("_")[1] in current}
    role_prefix = f"{INDEX_PREFIX}{role_type.pk}_"
    assert len([n for n in kept if n.startswith(role_prefix)]) == 2  # both searchable
    others = {n for n in kept if not n.startswith(role_prefix)}
    assert len(others) == 3  # the unique userName of user, alpha_user, bravo_user
    assert all(n.endswith("_u") for n in others)
