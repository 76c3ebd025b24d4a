"""Stage 2: reconcile staged rows into managed objects, one chunk at a time.

A chunk is claimed, planned from a few reads (its temp rows, the objects
their keys match, unique-property holders) and applied in one transaction
that also moves the counters and deletes the chunk's temp rows. The counter
update is conditional on the import still running, so a cancel that commits
first makes the chunk roll back: no row after a cancel is ever applied, and a
worker killed mid-chunk leaves the chunk to be redone in full. On PostgreSQL
the claim is a row lock that other workers skip, so several workers can share
one import (``runner.import_reconcile``).
"""

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import orjson
from django.db import IntegrityError, connection, reset_queries, transaction
from django.db.models import F
from django.utils import timezone

from idmimport.bulk import (
    bulk_insert,
    bulk_update,
    copy_json_field,
    copy_lines,
    copy_text_field,
)
from imports.conf import batches_per_commit, cancel_requested
from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from imports.parsing.coercion import CoercedRow, compile_row_coercer
from imports.pipeline import correlation
from imports.pipeline.errors import (
    ImportStoppedError,
    ambiguous_match_error,
    duplicate_key_error,
    policy_error,
)
from imports.pipeline.garbage import collection_paused
from imports.pipeline.staging import ERROR_FIELDS, key_columns_of
from managed.ids import new_object_ids
from managed.models import ManagedObject
from managed.policy import apply_defaults, merge_failures
from managed.schema import ObjectSchema
from managed.services import ManagedType, find_unique_conflicts, unique_failure

CHUNK_ATTEMPTS = 3
CHUNK_WORK_MEM = "64MB"  # PostgreSQL, per chunk statement: see next_chunk
CREATE_FIELDS = (
    "object_type_id",
    "object_id",
    "rev",
    "properties",
    "row_digest",
    "created_at",
    "updated_at",
)
UPDATE_FIELDS = ("properties", "rev", "row_digest", "updated_at")
REQUIRED = "REQUIRED"


@dataclass
class ImportContext:
    """What every chunk of one import needs, computed once."""

    record: ImportRecord
    managed_type: ManagedType
    last_row: int = 0  # where this worker's next chunk window starts

    @cached_property
    def paths(self) -> list[tuple[str, ...]]:
        return [tuple(name.split("/")) for name in self.record.header]

    @cached_property
    def columns(self) -> list[Any]:
        """The header's properties, in header order."""
        return [self.managed_type.schema.property(path) for path in self.paths]

    @cached_property
    def coerce(self) -> Any:
        return compile_row_coercer(self.columns)

    @cached_property
    def next_row_sql(self) -> str:
        return correlation.next_row_query(
            connection.ops.quote_name(TempRecord._meta.db_table)
        )

    @cached_property
    def import_id_param(self) -> Any:
        """The import's id as the database stores it (hex text on SQLite)."""
        return ImportRecord._meta.pk.get_db_prep_value(self.record.pk, connection)

    @cached_property
    def chunk_sql(self) -> str:
        quote = connection.ops.quote_name
        return correlation.chunk_query(
            connection.vendor,
            temp_table=quote(TempRecord._meta.db_table),
            object_table=quote(ManagedObject._meta.db_table),
            object_type_id=self.managed_type.model.pk,
            columns=self.columns,
            key_columns=key_columns_of(self.record),
            digest_prefix=self.digest_prefix,
        )

    @cached_property
    def digest_prefix(self) -> str:
        """What a row's digest covers besides its cells: the type's schema as
        it is now and the file's header (see ``ManagedObject.row_digest``)."""
        covered = json.dumps([self.managed_type.model.config, self.record.header])
        return hashlib.sha256(covered.encode()).hexdigest()[:32] + ":"

    @cached_property
    def column_order(self) -> dict[str, int]:
        """Header position by column name: row failures are listed in this order."""
        return {name: index for index, name in enumerate(self.record.header)}

    @cached_property
    def key_paths(self) -> list[tuple[str, ...]]:
        return [tuple(name.split("/")) for name in self.record.unique_properties]

    @cached_property
    def extra_unique(self) -> bool:
        """Whether unique properties other than the single key need checking."""
        unique = [p.path for p in self.managed_type.schema.unique_properties]
        return unique != self.key_paths


@dataclass
class ChunkPlan:
    """What applying one chunk will write."""

    last_row: int
    row_numbers: list[int] = field(default_factory=list)  # every row claimed
    creates: list[tuple] = field(default_factory=list)  # CREATE_FIELDS
    updates: list[tuple] = field(default_factory=list)  # id + UPDATE_FIELDS
    unchanged: int = 0
    errors: list[tuple] = field(default_factory=list)  # ERROR_FIELDS

    @property
    def rows(self) -> int:
        return len(self.row_numbers)

    @property
    def first_row(self) -> int:
        return self.row_numbers[0] if self.row_numbers else self.last_row + 1


def _value_at(properties: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


class StoredObject(NamedTuple):
    """The parts of a stored managed object that reconciling a row needs."""

    pk: int
    object_id: str
    rev: int
    properties: dict[str, Any]


class ChunkRow(NamedTuple):
    """A staged row and every stored object its key matches."""

    row_number: int
    cells: list[str]
    key: str | None
    first_row: int | None
    found: list[StoredObject]
    digest: str | None  # what the objects it writes will carry as row_digest


def _deep_merge(target: dict[str, Any], values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        current = target.get(name)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _deep_merge(current, value)
        else:
            target[name] = copy.deepcopy(value) if isinstance(value, dict) else value


def merge_update(
    schema: ObjectSchema, existing: Mapping[str, Any], row: CoercedRow
) -> dict[str, Any]:
    """The object after applying a row: header columns win, blanks reset.

    A blank cell means "not set", as on create: the property goes back to its
    schema default when it has one (so re-importing a file is a no-op) and is
    removed otherwise (design 5.4: the CSV is authoritative).
    """
    merged = copy.deepcopy(dict(existing))
    _deep_merge(merged, row.values)
    for path in row.blank_paths:
        parent: Any = merged
        for segment in path[:-1]:
            parent = parent.get(segment) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        prop = schema.property(path)
        if prop is not None and prop.has_default:
            parent[path[-1]] = copy.deepcopy(prop.default)
        else:
            parent.pop(path[-1], None)
    return merged


def _required_failures(paths: Sequence[tuple[str, ...]]) -> list[dict[str, Any]]:
    return [
        {
            "property": "/".join(path),
            "policyRequirements": [{"policyRequirement": REQUIRED}],
        }
        for path in paths
    ]


@dataclass
class RowDecision:
    """One row's fate before unique checks: the object it would write."""

    row_number: int
    cells: list[str]
    digest: str | None = None
    properties: dict[str, Any] | None = None
    existing: StoredObject | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None


def decide_row(context: ImportContext, row: ChunkRow) -> RowDecision:
    """Coerce and validate one row against the object it matches, if any."""
    row_number, cells, key, first_row, found, digest = row
    decision = RowDecision(row_number, cells, digest)
    if first_row is not None:
        decision.error = duplicate_key_error(
            context.record.unique_properties, first_row
        )
        return decision
    coerced = context.coerce(cells)
    if len(found) > 1:
        decision.error = ambiguous_match_error(
            context.record.unique_properties, sorted(o.object_id for o in found)
        )
        return decision
    validator = context.managed_type.validator
    failures = list(coerced.failures)
    if key is None:
        blank = [p for p in context.key_paths if p in set(coerced.blank_paths)]
        failures = merge_failures(failures, _required_failures(blank))
    if found:
        existing = found[0]
        properties = merge_update(
            context.managed_type.schema, existing.properties, coerced
        )
        validated = validator.validate(
            properties, is_create=False, blank_paths=coerced.blank_paths
        )
        decision.existing = existing
    else:
        properties = apply_defaults(context.managed_type.schema, coerced.values)
        validated = validator.validate(properties, is_create=True)
    if validated:  # the usual valid row skips the merge and the sort
        failures = merge_failures(failures, validated)
    decision.properties = properties
    if len(failures) > 1:
        order = context.column_order
        failures.sort(key=lambda failure: order.get(failure["property"], len(order)))
    decision.failures = failures
    return decision


def _in_chunk_unique_failures(
    context: ImportContext, decisions: Sequence[RowDecision]
) -> None:
    """Two rows of one chunk may not give one unique value to two objects."""
    for prop in context.managed_type.schema.unique_properties:
        holders: dict[str, Any] = {}
        for decision in decisions:
            if decision.properties is None or decision.failures:
                continue
            value = _value_at(decision.properties, prop.path)
            if not isinstance(value, str):
                continue
            owner = decision.existing.pk if decision.existing else id(decision)
            if holders.setdefault(value, owner) != owner:
                decision.failures.append(unique_failure("/".join(prop.path)))


def _check_unique(context: ImportContext, decisions: Sequence[RowDecision]) -> None:
    if not context.extra_unique:
        return
    _in_chunk_unique_failures(context, decisions)
    candidates = [
        (index, d.properties, d.existing.pk if d.existing else None)
        for index, d in enumerate(decisions)
        if d.properties is not None and not d.failures and d.error is None
    ]
    conflicts = find_unique_conflicts(context.managed_type, candidates)
    for index, failed in conflicts.items():
        decisions[index].failures = merge_failures(decisions[index].failures, failed)


def _record_outcome(
    plan: ChunkPlan,
    context: ImportContext,
    decision: RowDecision,
    now: Any,
    new_objects: list[tuple[dict[str, Any], str | None]],
) -> None:
    error = decision.error or (
        policy_error(decision.failures) if decision.failures else None
    )
    if error is not None:
        plan.errors.append(
            (context.record.pk, decision.row_number, decision.cells, error)
        )
    elif decision.existing is None:
        new_objects.append((decision.properties, decision.digest))
    elif decision.properties == decision.existing.properties:
        plan.unchanged += 1
    else:
        existing = decision.existing
        plan.updates.append(
            (existing.pk, decision.properties, existing.rev + 1, decision.digest, now)
        )


def _create_rows(
    context: ImportContext,
    new_objects: list[tuple[dict[str, Any], str | None]],
    now: Any,
) -> list[tuple]:
    """CREATE_FIELDS tuples for the chunk's new objects, ids made in one go."""
    type_id = context.managed_type.model.pk
    ids = new_object_ids(len(new_objects))
    return [
        (type_id, object_id, 1, properties, digest, now, now)
        for object_id, (properties, digest) in zip(ids, new_objects, strict=True)
    ]


@dataclass
class Chunk:
    """The next staged rows: those Python must decide, and a count of the rest."""

    rows: list[ChunkRow]
    unchanged: int  # rows the database found unchanged (see ``correlation``)
    last_row: int  # the end of the window of row numbers read
    row_numbers: list[int]  # every row claimed, the unchanged ones included


def plan_chunk(context: ImportContext, chunk: Chunk) -> ChunkPlan:
    """Decide every row of a chunk; reads only, writes nothing."""
    decisions = [decide_row(context, row) for row in chunk.rows]
    _check_unique(context, decisions)
    plan = ChunkPlan(
        last_row=chunk.last_row,
        unchanged=chunk.unchanged,
        row_numbers=chunk.row_numbers,
    )
    now = timezone.now()
    new_objects: list[tuple[dict[str, Any], str | None]] = []
    for decision in decisions:
        _record_outcome(plan, context, decision, now, new_objects)
    plan.creates = _create_rows(context, new_objects, now)
    return plan


def _delete_claimed(context: ImportContext, plan: ChunkPlan) -> None:
    """Drop the temp rows this chunk reconciled, and only those.

    On PostgreSQL another worker may hold rows of the same window, so the rows
    go by number; on SQLite this worker is the only writer and the window's
    range is exact.
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(TempRecord._meta.db_table)
        # The range bounds the index scan: with the list alone, PostgreSQL
        # scanned every row the import still had (half a million on average
        # at 1M rows) and filtered them against the list. The numbers go as
        # one array literal: psycopg adapting 5,000 ints one by one cost
        # about 2 us a row.
        numbers = "{" + ",".join(map(str, plan.row_numbers)) + "}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE import_record_id = %s "
                "AND row_number BETWEEN %s AND %s AND row_number = ANY(%s::bigint[])",
                [
                    context.import_id_param,
                    plan.row_numbers[0],
                    plan.row_numbers[-1],
                    numbers,
                ],
            )
        return
    TempRecord.objects.filter(
        import_record=context.record,
        row_number__gte=plan.first_row,
        row_number__lte=plan.last_row,
    ).delete()


def _insert_objects(creates: list[tuple]) -> None:
    """Write the chunk's new objects (CREATE_FIELDS tuples).

    On PostgreSQL each row becomes one COPY text line in a single f-string:
    the busiest write of an import, and several times cheaper than psycopg
    converting the tuple value by value. Object ids are UUID text, digests
    hex (or NULL) and timestamps ISO 8601, so only the JSON needs escaping.
    """
    if connection.vendor != "postgresql":
        bulk_insert(ManagedObject, CREATE_FIELDS, creates)
        return
    # A chunk's objects share one timestamp: format it once, not twice a row.
    moments = {row[5] for row in creates} | {row[6] for row in creates}
    stamps = {moment: moment.isoformat() for moment in moments}
    lines = [
        f"{type_id}\t{object_id}\t{rev}\t{copy_json_field(properties)}\t"
        f"{copy_text_field(digest)}\t{stamps[created]}\t{stamps[updated]}\n"
        for type_id, object_id, rev, properties, digest, created, updated in creates
    ]
    copy_lines(ManagedObject, CREATE_FIELDS, lines)


def apply_chunk(context: ImportContext, plan: ChunkPlan) -> None:
    """Write a planned chunk, then its counters; call inside the chunk's transaction.

    The counters go last: the import record's row lock is then held only for
    the moment before the commit, so workers sharing an import do not queue
    on it while they write. The update is conditional on the import still
    running, so a cancel that committed first rolls the chunk back.
    """
    record = context.record
    if not record.is_dry_run:
        _insert_objects(plan.creates)
        bulk_update(ManagedObject, UPDATE_FIELDS, plan.updates)
    bulk_insert(ErrorRecord, ERROR_FIELDS, plan.errors)
    _delete_claimed(context, plan)
    failures = len(plan.errors)
    changed = ImportRecord.objects.filter(
        pk=record.pk, status=ImportStatus.IMPORTING
    ).update(
        success=F("success") + plan.rows - failures,
        failure=F("failure") + failures,
        created=F("created") + len(plan.creates),
        updated=F("updated") + len(plan.updates),
        unchanged=F("unchanged") + plan.unchanged,
        temp_records=F("temp_records") - plan.rows,
        rev=F("rev") + 1,
    )
    if not changed:
        raise ImportStoppedError


def next_chunk(context: ImportContext, size: int) -> Chunk | None:
    """Claim the next chunk of staged rows with their matches; None at the end.

    The chunk is the unclaimed staged rows numbered ``last_row + 1 ..
    last_row + size`` (fewer where rows failed at staging, lines were blank or
    another worker holds them); a window with none moves on past itself or
    jumps to the next staged row. One statement per chunk
    (``correlation.chunk_query``); cells and stored properties arrive as JSON
    text and are decoded only for the rows Python decides.
    """
    start = context.last_row
    is_pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if is_pg:
            # Room to sort a chunk's rows (cells and stored properties) in
            # memory: at the default 4 MB a re-imported chunk spilled to disk
            # twice, in the sort and in the window, 40-60 ms of 120.
            cursor.execute(f"SET LOCAL work_mem = '{CHUNK_WORK_MEM}'")
        while True:
            cursor.execute(
                context.chunk_sql, [context.import_id_param, start, start + size]
            )
            results = cursor.fetchall()
            if results:
                digest_prefix = context.digest_prefix if is_pg else None
                return _read_chunk(results, start + size, digest_prefix)
            cursor.execute(context.next_row_sql, [context.import_id_param, start])
            following = cursor.fetchone()[0]
            if following is None:
                context.last_row = start
                return None
            # Rows left in this window are another worker's: skip the window.
            start = max(start + size, following - 1)


def _read_chunk(
    results: list[tuple], last_row: int, digest_prefix: str | None
) -> Chunk:
    """Decode the chunk statement's rows (in row order; a row matching n
    objects comes n times, consecutively). Rows are digested when a
    ``digest_prefix`` is given (PostgreSQL; SQLite keeps no digests)."""
    c = correlation
    loads = json.loads  # stored properties: orjson would turn big integers into floats
    loads_cells = orjson.loads  # cells are strings only: safe, and several times faster
    rows: list[ChunkRow] = []
    row_numbers: list[int] = []
    unchanged = 0
    position, end = 0, len(results)
    while position < end:
        first = results[position]
        row_number = first[c.ROW_NUMBER]
        following = position + 1
        while following < end and results[following][c.ROW_NUMBER] == row_number:
            following += 1
        group = results[position:following]
        position = following
        row_numbers.append(row_number)
        if first[c.UNCHANGED]:
            unchanged += 1
            continue
        found = [
            StoredObject(
                r[c.OBJECT_PK], r[c.OBJECT_ID], r[c.REV], loads(r[c.PROPERTIES])
            )
            for r in group
            if r[c.OBJECT_PK] is not None
        ]
        text = first[c.CELLS]
        digest = c.row_digest(digest_prefix, text) if digest_prefix else None
        rows.append(
            ChunkRow(
                row_number,
                loads_cells(text),
                first[c.KEY],
                first[c.FIRST_ROW],
                found,
                digest,
            )
        )
    return Chunk(rows, unchanged, last_row, row_numbers)


def reconcile_next_chunk(context: ImportContext, size: int) -> bool:
    """Claim, decide and apply one chunk in one transaction; False when none is left.

    A unique-index clash with a concurrent writer rolls the chunk back; it is
    then claimed and planned again, and the clash now shows up as a UNIQUE
    failure.
    """
    if cancel_requested(context.record.pk):
        raise ImportStoppedError
    for attempt in range(CHUNK_ATTEMPTS):
        try:
            with transaction.atomic():
                chunk = next_chunk(context, size)
                if chunk is None:
                    return False
                plan = plan_chunk(context, chunk)
                apply_chunk(context, plan)
        except IntegrityError:
            if attempt == CHUNK_ATTEMPTS - 1:
                raise
            continue
        context.last_row = plan.last_row
        return True
    return True


def _reconcile_chunks(context: ImportContext, size: int, count: int) -> bool:
    """Reconcile up to ``count`` chunks; False once no row is left.

    With DEBUG on, Django keeps the last 9,000 statements of a connection,
    chunk statements included: dropped after each chunk, so the worker's
    memory does not grow with the file.
    """
    for _ in range(count):
        # Paused for the whole chunk, until its rows are freed: see garbage.
        with collection_paused():
            more = reconcile_next_chunk(context, size)
        reset_queries()
        if not more:
            return False
    return True


def reconcile_rows(context: ImportContext, size: int, *, start_row: int = 0) -> None:
    """Reconcile every staged row this worker can claim, from ``start_row`` on.

    A worker that starts part-way through the file goes on from the top once
    it reaches the end, so rows that no other worker took are never left
    behind. On SQLite several chunks share one transaction (each chunk is
    then a savepoint, still applied whole or not at all).
    """
    per_commit = batches_per_commit(size)
    batch = transaction.atomic if per_commit > 1 else nullcontext
    for start in (start_row, 0) if start_row else (0,):
        context.last_row = start
        more = True
        while more:
            with batch():
                more = _reconcile_chunks(context, size, per_commit)
