"""Per-type expression indexes on JSON properties.

Each managed type gets a partial index (``WHERE object_type_id = <id>``) on
the text of every unique or searchable scalar property. Unique properties get
a UNIQUE index, so the database itself refuses duplicates even when two writers
race. Queries reach these indexes because ``idmimport.crest.json_sql`` renders
the very same expression text for filters.

A searchable (not unique) index also leaves out objects without the property
(``AND <expression> IS NOT NULL``). Optional properties are often absent
(``profileImage``, ``description``), and every indexed NULL costs each insert
of a bulk import an index entry: on 1M users on PostgreSQL the NULL-free
indexes made inserting about 20% cheaper. A comparison a filter makes (``eq``,
``gt``, ...) is false for NULL, so both databases still prove the index usable
for it; a sort on the property alone, with no filter on it, no longer uses
the index.

A type's unique indexes exist from the moment it is loaded: they guard every
write. Its searchable ones wait until the type is in use
(``managed.services.ensure_type_indexed``, whose ``indexed`` flag says they
exist): before its first create, or at the end of its first import. Each index
on the objects table costs every insert into it, whatever the new object's
type: SQLite tests each partial index's ``WHERE`` for each row, and the
shipped types' 58 indexes made inserting 1M users 13 s slower when only the
user type's 7 were needed. A first import builds its type's searchable indexes
once its rows are in, as the PostgreSQL manual advises for bulk loads: 1M
users by COPY took 24.4 s maintaining them, 12.9 s + 3.3 s building them after.
"""

import hashlib

from django.db import connection

from idmimport.crest.json_sql import json_text_sql
from managed.models import ManagedObject, ManagedObjectType
from managed.schema import ObjectSchema

INDEX_PREFIX = "mo_"


def index_name(object_type_id: int, path: tuple[str, ...], *, unique: bool) -> str:
    """A stable, short name (PostgreSQL allows 63 characters).

    The last letter says what the index holds: ``u`` unique, ``p`` present
    values of a searchable property (it was ``s`` while those indexes held
    NULLs too, so a sync replaces such older indexes).
    """
    digest = hashlib.sha1("/".join(path).encode(), usedforsecurity=False).hexdigest()
    return f"{INDEX_PREFIX}{object_type_id}_{digest[:12]}_{'u' if unique else 'p'}"


def wanted_indexes(
    object_type: ManagedObjectType, schema: ObjectSchema, *, unique_only: bool = False
) -> dict[str, str]:
    """Map index name to its CREATE statement for one type."""
    table = connection.ops.quote_name(ManagedObject._meta.db_table)
    column = connection.ops.quote_name("properties")
    type_column = connection.ops.quote_name("object_type_id")
    statements = {}
    unique_paths = {prop.path for prop in schema.unique_properties}
    searchable = () if unique_only else schema.searchable_properties
    for prop in (*schema.unique_properties, *searchable):
        unique = prop.path in unique_paths
        name = index_name(object_type.pk, prop.path, unique=unique)
        expression = json_text_sql(connection.vendor, column, prop.path)
        where = f"{type_column} = {int(object_type.pk)}"
        if not unique:
            where += f" AND {expression} IS NOT NULL"
        statements[name] = (
            f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS "
            f"{connection.ops.quote_name(name)} ON {table} ({expression}) "
            f"WHERE {where}"
        )
    return statements


def existing_indexes(object_type_id: int) -> set[str]:
    """Names of the expression indexes already built for a type."""
    prefix = f"{INDEX_PREFIX}{object_type_id}_"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, ManagedObject._meta.db_table
        )
    return {name for name in constraints if name.startswith(prefix)}


def sync_type_indexes(
    object_type: ManagedObjectType, schema: ObjectSchema
) -> list[str]:
    """Create missing indexes and drop stale ones; return what changed.

    A type not yet ``indexed`` wants its unique indexes only. Creating a
    UNIQUE index over existing duplicates fails with an IntegrityError, which
    the caller reports; nothing is half-built.
    """
    wanted = wanted_indexes(object_type, schema, unique_only=not object_type.indexed)
    existing = existing_indexes(object_type.pk)
    changes = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # PostgreSQL refuses DDL on a table with deferred constraint checks
            # still pending in this transaction (objects written just before,
            # in the same transaction): run those checks now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in sorted(existing - set(wanted)):
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
            changes.append(f"dropped {name}")
        for name in sorted(set(wanted) - existing):
            cursor.execute(wanted[name])
            changes.append(f"created {name}")
    return changes
