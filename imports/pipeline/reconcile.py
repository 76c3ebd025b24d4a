"""Stage 2: reconcile staged rows into managed objects, one chunk at a time.

A chunk is planned from a few reads (its temp rows, the objects their keys
match, unique-property holders), then applied in one transaction that also
moves the counters and deletes the chunk's temp rows. The counter update is
conditional on the import still running, so a cancel that commits first
makes the chunk roll back: no row after a cancel is ever applied, and a
worker killed mid-chunk leaves the chunk to be redone in full.
"""

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from idmimport.bulk import bulk_insert, bulk_update
from idmimport.crest.json_sql import JsonText
from imports.models import ErrorRecord, ImportRecord, ImportStatus, TempRecord
from imports.parsing.coercion import CoercedRow, compile_row_coercer
from imports.pipeline.errors import (
    ImportStoppedError,
    ambiguous_match_error,
    duplicate_key_error,
    policy_error,
)
from imports.pipeline.staging import ERROR_FIELDS, KEY_SEPARATOR
from managed.models import ManagedObject
from managed.policy import apply_defaults, merge_failures
from managed.schema import ObjectSchema
from managed.services import ManagedType, find_unique_conflicts, unique_failure

CHUNK_ATTEMPTS = 3
CREATE_FIELDS = (
    "object_type_id",
    "object_id",
    "rev",
    "properties",
    "created_at",
    "updated_at",
)
UPDATE_FIELDS = ("properties", "rev", "updated_at")
REQUIRED = "REQUIRED"


@dataclass
class ImportContext:
    """What every chunk of one import needs, computed once."""

    record: ImportRecord
    managed_type: ManagedType

    @cached_property
    def paths(self) -> list[tuple[str, ...]]:
        return [tuple(name.split("/")) for name in self.record.header]

    @cached_property
    def coerce(self) -> Any:
        columns = [self.managed_type.schema.property(path) for path in self.paths]
        return compile_row_coercer(columns)

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
    rows: int = 0
    creates: list[tuple] = field(default_factory=list)  # CREATE_FIELDS
    updates: list[tuple] = field(default_factory=list)  # id + UPDATE_FIELDS
    unchanged: int = 0
    errors: list[tuple] = field(default_factory=list)  # ERROR_FIELDS


def _value_at(properties: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def _key_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def object_key(properties: Mapping[str, Any], key_paths: Sequence[tuple]) -> str | None:
    """An object's correlation key, built like ``staging.correlation_key``."""
    parts = [_key_text(_value_at(properties, path)) for path in key_paths]
    if any(part is None for part in parts):
        return None
    return KEY_SEPARATOR.join(parts)  # type: ignore[arg-type]


def find_matches(
    context: ImportContext, keys: Sequence[str]
) -> dict[str, list[ManagedObject]]:
    """Stored objects by correlation key: one index-backed query per chunk."""
    if not keys:
        return {}
    first_values = {key.split(KEY_SEPARATOR, 1)[0] for key in keys}
    objects = (
        ManagedObject.objects.filter(object_type=context.managed_type.model)
        .alias(first_key=JsonText("properties", context.key_paths[0]))
        .filter(first_key__in=list(first_values))
        .only("pk", "object_id", "rev", "properties")
    )
    wanted = set(keys)
    matches: dict[str, list[ManagedObject]] = {}
    for obj in objects:
        key = object_key(obj.properties, context.key_paths)
        if key in wanted:
            matches.setdefault(key, []).append(obj)
    return matches


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
    properties: dict[str, Any] | None = None
    existing: ManagedObject | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None


def decide_row(
    context: ImportContext,
    temp: tuple[int, list[str], str | None, int | None],
    matches: Mapping[str, list[ManagedObject]],
) -> RowDecision:
    """Coerce and validate one row against the object it matches, if any."""
    row_number, cells, key, first_row = temp
    decision = RowDecision(row_number, cells)
    if first_row is not None:
        decision.error = duplicate_key_error(
            context.record.unique_properties, first_row
        )
        return decision
    coerced = context.coerce(cells)
    found = matches.get(key, []) if key is not None else []
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
        failures = merge_failures(
            failures,
            validator.validate(
                properties, is_create=False, blank_paths=coerced.blank_paths
            ),
        )
        decision.existing = existing
    else:
        properties = apply_defaults(context.managed_type.schema, coerced.values)
        failures = merge_failures(
            failures, validator.validate(properties, is_create=True)
        )
    decision.properties = properties
    order = context.column_order
    decision.failures = sorted(
        failures, key=lambda failure: order.get(failure["property"], len(order))
    )
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
    plan: ChunkPlan, context: ImportContext, decision: RowDecision, now: Any
) -> None:
    error = decision.error or (
        policy_error(decision.failures) if decision.failures else None
    )
    if error is not None:
        plan.errors.append(
            (context.record.pk, decision.row_number, decision.cells, error)
        )
    elif decision.existing is None:
        plan.creates.append(
            (
                context.managed_type.model.pk,
                str(uuid.uuid4()),
                1,
                decision.properties,
                now,
                now,
            )
        )
    elif decision.properties == decision.existing.properties:
        plan.unchanged += 1
    else:
        existing = decision.existing
        plan.updates.append(
            (existing.pk, decision.properties, existing.rev + 1, now)
        )


def plan_chunk(
    context: ImportContext,
    temp_rows: Sequence[tuple[int, list[str], str | None, int | None]],
) -> ChunkPlan:
    """Decide every row of a chunk; reads only, writes nothing."""
    keys = [key for _, _, key, first in temp_rows if key is not None and first is None]
    matches = find_matches(context, keys)
    decisions = [decide_row(context, temp, matches) for temp in temp_rows]
    _check_unique(context, decisions)
    plan = ChunkPlan(last_row=temp_rows[-1][0], rows=len(temp_rows))
    now = timezone.now()
    for decision in decisions:
        _record_outcome(plan, context, decision, now)
    return plan


def apply_chunk(context: ImportContext, plan: ChunkPlan) -> None:
    """Write a planned chunk and its counters in one transaction."""
    record = context.record
    failures = len(plan.errors)
    with transaction.atomic():
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
        if not record.is_dry_run:
            bulk_insert(ManagedObject, CREATE_FIELDS, plan.creates)
            bulk_update(ManagedObject, UPDATE_FIELDS, plan.updates)
        bulk_insert(ErrorRecord, ERROR_FIELDS, plan.errors)
        TempRecord.objects.filter(
            import_record=record, row_number__lte=plan.last_row
        ).delete()


def next_temp_rows(
    record: ImportRecord, size: int
) -> list[tuple[int, list[str], str | None, int | None]]:
    """The next chunk of staged rows, in file order."""
    rows = (
        TempRecord.objects.filter(import_record=record)
        .order_by("row_number")
        .values_list("row_number", "cells", "key", "first_row")[:size]
    )
    return list(rows)


def reconcile_next_chunk(context: ImportContext, size: int) -> bool:
    """Reconcile one chunk; False when nothing is left.

    A unique-index clash with a concurrent writer rolls the chunk back; it is
    then planned again, and the clash now shows up as a UNIQUE failure.
    """
    temp_rows = next_temp_rows(context.record, size)
    if not temp_rows:
        return False
    for attempt in range(CHUNK_ATTEMPTS):
        plan = plan_chunk(context, temp_rows)
        try:
            apply_chunk(context, plan)
            return True
        except IntegrityError:
            if attempt == CHUNK_ATTEMPTS - 1:
                raise
    return True
