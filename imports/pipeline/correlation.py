"""Set-based correlation: one SQL statement reads a chunk and its matches.

The statement takes the next ``limit`` staged rows of an import (after a given
row number, so the index jumps past rows already reconciled), LEFT JOINs every
stored object whose unique-property values equal the row's key cells (the
first key property hits its per-type expression index), and says for each row
whether applying it would change nothing.

That ``unchanged`` flag is a conservative fast path, computed only on
PostgreSQL: it is true only when the object is the row's single match and
either it was last written by this very row (its ``row_digest``: the same
cells under the same header and type schema, and no write since), or every
header column already holds exactly what the row would write (the same JSON
type and value, a blank cell on an absent property, or a blank cell on a
property holding its default). Such rows are never sent back to Python; every
other row (new, changed, ambiguous, blank key, odd spellings such as ``TRUE``
or ``1.50`` in a row that did not write the object) is decided by
``reconcile.decide_row``, which stays the single authority on what a row
means; Python digests those rows itself (``row_digest``) to store the digest
with what they write. Skipping
validation for an unchanged row is deliberate: like IDM's reconciliation, a
row that writes nothing runs no policies.

Pure module: SQL text from schema data, no database access.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from idmimport.crest.json_sql import (
    POSTGRESQL,
    SQLITE,
    json_text_sql,
    json_value_sql,
)
from managed.schema import PropertySchema

__all__ = ["chunk_query", "next_row_query"]

# Positions of the result columns, in SELECT order.
ROW_NUMBER, FIRST_ROW, KEY, MATCHES, OBJECT_PK, OBJECT_ID, REV = range(7)
UNCHANGED, CELLS, PROPERTIES = 7, 8, 9


def _literal(text: str) -> str:
    if "\x00" in text:
        raise ValueError("SQL literals cannot contain NUL characters")
    return "'" + text.replace("'", "''") + "'"


def _cell_sql(vendor: str, index: int, cells: str = "c.cells") -> str:
    """The text of cell ``index`` of a staged row's JSON array of cells.

    Cells are stored as JSON text; on PostgreSQL ``cells`` must then be the
    array already parsed to jsonb (see ``chunk_query``).
    """
    if vendor == SQLITE:
        return f"json_extract({cells}, '$[{int(index)}]')"
    return f"({cells} ->> {int(index)})"


def _column_unchanged_sql(cell: str, stored: str, prop: PropertySchema) -> str:
    """PostgreSQL: does the stored value already equal what this cell writes?

    Mirrors ``coercion`` and ``reconcile.merge_update`` for the canonical
    spellings only; anything else is NULL or false, never a false "true".
    """
    if prop.required:
        blank = "FALSE"  # a blank required cell fails the row: Python reports it
    elif prop.has_default:
        default = json.dumps(prop.default, separators=(",", ":"), ensure_ascii=False)
        blank = f"{stored} = {_literal(default)}::jsonb"
    else:
        blank = f"{stored} IS NULL"
    if prop.type == "string":
        value = f"{stored} = to_jsonb({cell})"
    elif prop.type == "boolean":
        value = (
            f"{stored} = CASE {cell} WHEN 'true' THEN 'true'::jsonb "
            "WHEN 'false' THEN 'false'::jsonb END"
        )
    else:  # number / integer: the text PostgreSQL prints is the text JSON parses
        value = (
            f"(jsonb_typeof({stored}) = 'number' AND ({stored} #>> '{{}}') = {cell})"
        )
    return f"(CASE WHEN {cell} = '' THEN {blank} ELSE {value} END)"


def row_digest(digest_prefix: str, cells: str) -> str:
    """The digest of a staged row (its cells as stored JSON text): 32 hex
    digits of SHA-256.

    ``digest_prefix`` names the type's schema version and the file's header
    (``reconcile.ImportContext.digest_prefix``): the same cells under another
    header or schema write something else. Python computes it for the rows it
    writes (a third of the cost of PostgreSQL's functions, which worked for
    every staged row); ``_row_digest_sql`` is its twin for the unchanged check.
    """
    return hashlib.sha256((digest_prefix + cells).encode()).hexdigest()[:32]


def _row_digest_sql(digest_prefix: str, cells: str) -> str:
    """PostgreSQL: ``row_digest`` of the JSON text column ``cells``."""
    return (
        "left(encode(sha256(convert_to("
        f"{_literal(digest_prefix)} || {cells}, 'UTF8')), 'hex'), 32)"
    )


def _unchanged_sql(columns: Sequence[PropertySchema], digest_prefix: str) -> str:
    """PostgreSQL: whether a joined row would change nothing (SQLite's
    statement has no such check: every row takes the Python path)."""
    checks = [
        _column_unchanged_sql(
            _cell_sql(POSTGRESQL, index, "m.cell_values"),
            json_value_sql(POSTGRESQL, "m.properties", p.path),
            p,
        )
        for index, p in enumerate(columns)
    ]
    # The object was last written by this very row (same schema, header and
    # cells): one comparison. Otherwise every column is compared. Only rows
    # that match an object get here, so only they are digested in SQL.
    same_row = f"m.row_digest = {_row_digest_sql(digest_prefix, 'c.cells')}"
    return (
        f"COALESCE(m.id IS NOT NULL AND ({same_row} OR "
        + " AND ".join(checks)
        + "), FALSE)"
    )


def chunk_query(
    vendor: str,
    *,
    temp_table: str,
    object_table: str,
    object_type_id: int,
    columns: Sequence[PropertySchema],
    key_columns: Sequence[int],
    digest_prefix: str,
) -> str:
    """The chunk statement for one import (``columns`` in header order).

    Parameters, in order: import id, the last row already reconciled, the last
    row of this chunk. A window of row numbers rather than a LIMIT keeps every
    scan bounded whatever the planner believes about the temp table, whose
    statistics are stale by design (rows come and go by the million); the
    match is a per-row index lookup for the same reason. ``object_type_id`` is
    inlined: a partial per-type index is only usable when the query repeats
    its ``object_type_id = N`` predicate as a constant. Run it inside the
    chunk's transaction: on PostgreSQL it locks the rows it returns. Result
    rows come in row order; a row matching several objects comes once per
    match, consecutively, with cells and properties (and on PostgreSQL the
    number of matches).
    """
    if vendor not in (POSTGRESQL, SQLITE):
        raise ValueError(f"bulk import is not supported on {vendor}")
    is_pg = vendor == POSTGRESQL
    properties = "properties" if is_pg else "m.properties"
    if len(key_columns) == 1:  # the usual case: the staged key is that one cell
        # SQLite: unary + strips the key column's TEXT affinity, which would
        # otherwise apply to the indexed side of the comparison and keep
        # SQLite from using the index (one full scan of the objects per row).
        cells = ["c.key" if is_pg else "+c.key"]
    else:
        # Several key columns (rare): the cells are parsed in the probe.
        cells = [
            _cell_sql(vendor, i, "c.cells::jsonb" if is_pg else "c.cells")
            for i in key_columns
        ]
    match = " AND ".join(
        f"{json_text_sql(vendor, properties, columns[i].path)} = {cell}"
        for i, cell in zip(key_columns, cells, strict=True)
    )
    wanted = (
        f"c.key IS NOT NULL AND c.first_row IS NULL AND "
        f"{'' if is_pg else 'm.'}object_type_id = {int(object_type_id)} AND {match}"
    )
    staged = (
        f"SELECT row_number, cells, key, first_row FROM {temp_table} "
        "WHERE import_record_id = %s AND row_number > %s AND row_number <= %s"
    )
    if not is_pg:
        # One writer at a time, no digests and no unchanged check: a plain
        # join in the staged rows' index order, no window and no sort (a third
        # of the statement's time). Python counts each row's matches.
        return (
            f"WITH c AS ({staged}) "
            "SELECT c.row_number, c.first_row, c.key, NULL, m.id, m.object_id, "
            "m.rev, 0, c.cells, m.properties "
            f"FROM c LEFT JOIN {object_table} m ON {wanted} ORDER BY c.row_number"
        )
    # LATERAL: one parameterised index probe per staged row, never a hash
    # join over every object of the type. The cells are parsed here, so only
    # for rows that match an object (the unchanged check compares them);
    # OFFSET 0 keeps the parse from being copied into each check.
    joined = (
        "LEFT JOIN LATERAL (SELECT id, object_id, rev, properties, row_digest, "
        f"c.cells::jsonb AS cell_values FROM {object_table} WHERE {wanted} "
        "OFFSET 0) m ON TRUE"
    )
    unchanged = "(candidate AND matches = 1)"
    # The chunk's temp rows are claimed (row-locked until the chunk commits)
    # and rows another worker holds are skipped, so several workers can
    # reconcile one import without ever taking the same row. OFFSET 0 keeps
    # PostgreSQL from inlining the join, so the candidate check runs once per
    # row rather than once per CASE below.
    return (
        f"WITH c AS MATERIALIZED ({staged} FOR UPDATE SKIP LOCKED) "
        f"SELECT row_number, first_row, key, matches, id, object_id, rev, {unchanged}, "
        f"CASE WHEN {unchanged} THEN NULL ELSE cells END, "
        f"CASE WHEN {unchanged} THEN NULL ELSE properties::text END "
        "FROM (SELECT c.row_number, c.first_row, c.key, c.cells, "
        "m.id, m.object_id, m.rev, m.properties, "
        "COUNT(m.id) OVER (PARTITION BY c.row_number) AS matches, "
        f"{_unchanged_sql(columns, digest_prefix)} AS candidate "
        f"FROM c {joined} OFFSET 0) j ORDER BY row_number"
    )


def next_row_query(temp_table: str) -> str:
    """The first staged row after a given one: how a chunk window skips a gap.

    Parameters: import id, the last row already reconciled.
    """
    return (
        f"SELECT MIN(row_number) FROM {temp_table} "
        "WHERE import_record_id = %s AND row_number > %s"
    )
