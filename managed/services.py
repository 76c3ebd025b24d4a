"""Write paths for managed object types and managed objects.

API views, management commands and the import pipeline all go through these
functions, so policy validation and uniqueness are enforced in one place.
"""

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from idmimport.crest.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
)
from idmimport.crest.json_sql import JsonText
from managed.ids import new_object_id
from managed.indexes import sync_type_indexes
from managed.models import ManagedObject, ManagedObjectType
from managed.policy import Validator, apply_defaults, compile_validator, merge_failures
from managed.schema import (
    ManagedConfigError,
    ObjectSchema,
    parse_managed_config,
    parse_object_schema,
)

UNIQUE_REQUIREMENT = "UNIQUE"
POLICY_FAILED_MESSAGE = "Policy validation failed"


@dataclass(frozen=True)
class ManagedType:
    """A type row with its parsed schema and compiled validator."""

    model: ManagedObjectType
    schema: ObjectSchema
    validator: Validator

    @property
    def resource_path(self) -> str:
        return f"managed/{self.model.name}"


_compiled: dict[tuple[int, Any], ManagedType] = {}


def managed_type_compile(model: ManagedObjectType) -> ManagedType:
    """Parse and compile a type once per version of its configuration."""
    key = (model.pk, model.updated_at)
    compiled = _compiled.get(key)
    if compiled is None:
        schema = parse_object_schema(model.config)
        compiled = ManagedType(model, schema, compile_validator(schema))
        _compiled[key] = compiled
    return compiled


def managed_type_get(name: str) -> ManagedType:
    """Return a type by name, or raise CREST 404."""
    model = ManagedObjectType.objects.filter(name=name).first()
    if model is None:
        raise NotFoundError(f"Resource 'managed/{name}' not found")
    return managed_type_compile(model)


def type_holds_objects(model: ManagedObjectType) -> bool:
    """Whether the type holds any object."""
    return ManagedObject.objects.filter(object_type=model).exists()


def _mark_indexed(model: ManagedObjectType) -> None:
    """Flag the type as wanting every index; ``sync_type_indexes`` builds them
    in the same transaction. ``update`` leaves ``updated_at`` alone, the key of
    the compiled-type cache."""
    model.indexed = True
    ManagedObjectType.objects.filter(pk=model.pk).update(indexed=True)


def managed_config_load(config: Mapping[str, Any]) -> list[str]:
    """Load or update types from a managed.json document, idempotently.

    The whole document is validated first; a bad one changes nothing.
    Returns one line per type saying what happened.
    """
    schemas = parse_managed_config(config)
    entries = {entry["name"]: entry for entry in config["objects"]}
    lines = []
    with transaction.atomic():
        for schema in schemas:
            entry = entries[schema.name]
            model = ManagedObjectType.objects.filter(name=schema.name).first()
            if model is not None and not model.indexed and type_holds_objects(model):
                # Objects written without the searchable indexes: an import
                # that is running or stopped before it could build them. The
                # sync below builds them.
                _mark_indexed(model)
            if model is None:
                model = ManagedObjectType.objects.create(name=schema.name, config=entry)
                state = "created"
            elif model.config != entry:
                model.config = entry
                model.save(update_fields=["config", "updated_at"])
                state = "updated"
            else:
                state = "unchanged"
            try:
                changes = sync_type_indexes(model, schema)
            except IntegrityError as error:
                raise ManagedConfigError(
                    schema.name,
                    None,
                    f"existing objects break a unique policy: {error}",
                ) from error
            suffix = f" ({', '.join(changes)})" if changes else ""
            lines.append(f"managed/{schema.name}: {state}{suffix}")
    return lines


def ensure_type_indexed(managed_type: ManagedType) -> None:
    """Build a type's searchable indexes once it is in use (``managed.indexes``).

    A REST create calls this before writing; an import when it ends, stopped
    or not, so that its rows go in without them. The type's row lock
    serialises the writers that find the type unindexed, so the indexes are
    built once. The compiled type remembers it only once committed, so a
    rolled-back caller leaves nothing assumed.
    """
    model = managed_type.model
    if model.indexed:
        return
    with transaction.atomic():
        locked = ManagedObjectType.objects.select_for_update().get(pk=model.pk)
        if not locked.indexed:
            _mark_indexed(locked)
            sync_type_indexes(locked, managed_type.schema)
    transaction.on_commit(lambda: setattr(model, "indexed", True))


def object_json(obj: ManagedObject) -> dict[str, Any]:
    """The CREST representation of a managed object."""
    return {"_id": obj.object_id, "_rev": str(obj.rev), **obj.properties}


def _strip_reserved(content: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(content, Mapping):
        raise BadRequestError("The request body must be a JSON object")
    return {key: value for key, value in content.items() if not key.startswith("_")}


def unique_failure(path: str) -> dict[str, Any]:
    """One failedPolicyRequirements entry for a unique clash."""
    return {"property": path, "policyRequirements": [{"policyRequirement": "UNIQUE"}]}


def _path_value(properties: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = properties
    for segment in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(segment)
    return value


def find_unique_conflicts(
    managed_type: ManagedType,
    candidates: Sequence[tuple[Any, Mapping[str, Any], int | None]],
) -> dict[Any, list[dict[str, Any]]]:
    """Which candidates would clash with stored objects on a unique property.

    ``candidates`` are ``(reference, properties, own_pk)``; ``own_pk`` is the
    stored object the candidate would become (None for a new one). One query
    per unique property, whatever the number of candidates.
    """
    conflicts: dict[Any, list[dict[str, Any]]] = {}
    for prop in managed_type.schema.unique_properties:
        wanted: dict[str, list[tuple[Any, int | None]]] = {}
        for reference, properties, own_pk in candidates:
            value = _path_value(properties, prop.path)
            if isinstance(value, str):
                wanted.setdefault(value, []).append((reference, own_pk))
        if not wanted:
            continue
        holders = (
            ManagedObject.objects.filter(object_type=managed_type.model)
            .annotate(value=JsonText("properties", prop.path))
            .filter(value__in=list(wanted))
            .values_list("value", "pk")
        )
        for value, holder_pk in holders:
            for reference, own_pk in wanted.get(value, ()):
                if holder_pk != own_pk:
                    conflicts.setdefault(reference, []).append(
                        unique_failure("/".join(prop.path))
                    )
    return conflicts


def _validate(
    managed_type: ManagedType,
    properties: dict[str, Any],
    *,
    is_create: bool,
    own_pk: int | None,
) -> None:
    failed = managed_type.validator.validate(properties, is_create=is_create)
    unique = find_unique_conflicts(managed_type, [(None, properties, own_pk)])
    failed = merge_failures(failed, unique.get(None, []))
    if failed:
        raise ForbiddenError(
            POLICY_FAILED_MESSAGE,
            detail={"result": False, "failedPolicyRequirements": failed},
        )


def _save_guarded(managed_type: ManagedType, obj: ManagedObject, **save: Any) -> None:
    """Save, turning a lost race on a unique index into the 403 UNIQUE answer."""
    try:
        with transaction.atomic():
            obj.save(**save)
    except IntegrityError:
        own_pk = obj.pk if not save.get("force_insert") else None
        unique = find_unique_conflicts(managed_type, [(None, obj.properties, own_pk)])
        if unique.get(None):
            raise ForbiddenError(
                POLICY_FAILED_MESSAGE,
                detail={"result": False, "failedPolicyRequirements": unique[None]},
            ) from None
        raise ConflictError(
            f"Resource '{managed_type.resource_path}/{obj.object_id}' already exists"
        ) from None


def managed_object_get(managed_type: ManagedType, object_id: str) -> ManagedObject:
    """Return one object or raise CREST 404."""
    obj = ManagedObject.objects.filter(
        object_type=managed_type.model, object_id=object_id
    ).first()
    if obj is None:
        raise NotFoundError(
            f"Resource '{managed_type.resource_path}/{object_id}' not found"
        )
    return obj


def managed_object_create(
    managed_type: ManagedType,
    content: Mapping[str, Any],
    *,
    object_id: str | None = None,
) -> ManagedObject:
    """Create an object after policy validation (defaults applied first)."""
    properties = apply_defaults(managed_type.schema, _strip_reserved(content))
    _validate(managed_type, properties, is_create=True, own_pk=None)
    ensure_type_indexed(managed_type)
    obj = ManagedObject(
        object_type=managed_type.model,
        object_id=object_id or new_object_id(),
        rev=1,
        properties=properties,
    )
    _save_guarded(managed_type, obj, force_insert=True)
    return obj


def check_revision(obj: ManagedObject, if_match: str | None) -> None:
    """CREST optimistic concurrency: a stale ``If-Match`` is 412."""
    if if_match is None or if_match.strip() == "*":
        return
    if if_match.strip().strip('"') != str(obj.rev):
        raise PreconditionFailedError(
            "Expecting revision " + if_match.strip().strip('"') + f", found {obj.rev}"
        )


def _write_properties(
    managed_type: ManagedType, obj: ManagedObject, properties: dict[str, Any]
) -> ManagedObject:
    if properties == obj.properties:
        return obj
    _validate(managed_type, properties, is_create=False, own_pk=obj.pk)
    obj.properties = properties
    obj.rev = F("rev") + 1
    obj.row_digest = None  # no longer what an imported row wrote
    _save_guarded(
        managed_type,
        obj,
        update_fields=["properties", "rev", "row_digest", "updated_at"],
    )
    obj.refresh_from_db(fields=["rev", "updated_at"])
    return obj


def managed_object_update(
    managed_type: ManagedType,
    object_id: str,
    content: Mapping[str, Any],
    *,
    if_match: str | None = None,
) -> ManagedObject:
    """Replace an object's properties (CREST update); ``_rev`` advances."""
    with transaction.atomic():
        obj = managed_object_get(managed_type, object_id)
        check_revision(obj, if_match)
        return _write_properties(managed_type, obj, _strip_reserved(content))


def managed_object_patch(
    managed_type: ManagedType,
    object_id: str,
    operations: Any,
    *,
    if_match: str | None = None,
) -> ManagedObject:
    """Apply CREST patch operations (add, replace, remove) and validate."""
    with transaction.atomic():
        obj = managed_object_get(managed_type, object_id)
        check_revision(obj, if_match)
        properties = apply_patch(obj.properties, operations)
        return _write_properties(managed_type, obj, properties)


def managed_object_delete(
    managed_type: ManagedType, object_id: str, *, if_match: str | None = None
) -> dict[str, Any]:
    """Delete an object and return it as it was."""
    with transaction.atomic():
        obj = managed_object_get(managed_type, object_id)
        check_revision(obj, if_match)
        body = object_json(obj)
        obj.delete()
    return body


PATCH_OPERATIONS = ("add", "replace", "remove")


def _patch_target(properties: dict[str, Any], field: Any) -> tuple[dict, str]:
    if not isinstance(field, str) or not field.strip("/"):
        raise BadRequestError(f"The patch field {field!r} is not a valid JSON pointer")
    segments = [
        s.replace("~1", "/").replace("~0", "~") for s in field.strip("/").split("/")
    ]
    if segments[0].startswith("_"):
        raise BadRequestError(f"The field '{field}' cannot be patched")
    parent = properties
    for segment in segments[:-1]:
        child = parent.get(segment)
        if not isinstance(child, dict):
            child = {}
            parent[segment] = child
        parent = child
    return parent, segments[-1]


def _apply_operation(properties: dict[str, Any], operation: Mapping[str, Any]) -> None:
    name = operation.get("operation")
    if name not in PATCH_OPERATIONS:
        raise BadRequestError(
            f"The patch operation {name!r} is not supported; use add, replace or remove"
        )
    parent, key = _patch_target(properties, operation.get("field"))
    if name == "remove":
        current = parent.get(key)
        if "value" in operation and isinstance(current, list):
            parent[key] = [item for item in current if item != operation["value"]]
        else:
            parent.pop(key, None)
        return
    if "value" not in operation:
        raise BadRequestError(f"The patch operation '{name}' needs a value")
    if key == "-" and name == "add":
        raise BadRequestError("Appending with '-' needs an array field")
    current = parent.get(key)
    if name == "add" and isinstance(current, list):
        values = operation["value"]
        current.extend(values if isinstance(values, list) else [values])
    else:
        parent[key] = operation["value"]


def apply_patch(properties: Mapping[str, Any], operations: Any) -> dict[str, Any]:
    """Return a patched deep copy of ``properties``."""

    if not isinstance(operations, list) or not all(
        isinstance(op, Mapping) for op in operations
    ):
        raise BadRequestError("A patch must be a JSON array of operations")
    patched = copy.deepcopy(dict(properties))
    for operation in operations:
        _apply_operation(patched, operation)
    return patched


def managed_objects_for(managed_type: ManagedType) -> Iterable[ManagedObject]:
    """All objects of a type, as the queryset queries start from."""
    return ManagedObject.objects.filter(object_type=managed_type.model)
