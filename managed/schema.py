"""IDM managed.json object entries parsed into frozen, precomputed schemas.

Pure module (no Django): the import pipeline, the CREST layer and the loader
all work from these objects, so every per-row decision (CSV columns, lookups,
policies) is computed once per schema, not once per row.

Parsing is strict about what the service relies on (names, types, required
and order lists, policy ids, regular expressions) and lenient about the rest:
unknown keys are kept untouched in ``raw`` so an operator's own IDM
managed.json loads as is.

Decisions about the shipped ``managed/config/managed.json`` (IDM 7.5 profile):

- ``telephoneNumber`` keeps IDM 7.5's schema-level ``pattern``
  ``^\\+?([0-9\\- \\(\\)])*$``; a failing value is therefore reported as
  ``MATCH_REGEXP`` (as IDM 7.5 does), not ``VALID_PHONE_FORMAT``.
- ``activeDate``/``inactiveDate`` (7.5 only) are left out so the user CSV
  template is exactly the documented 14 columns.
- Realm users (``alpha_user``, ``bravo_user``) add AIC's ``address2`` after
  ``postalAddress`` (as the AIC template shows), then ``displayName``,
  ``frIndexedString1..5``, ``frUnindexedString1..5`` and
  ``frIndexedInteger1..5`` (type ``number``, as AIC declares them).
- A ``type`` array such as ``["string", "null"]`` means "nullable string":
  the effective type is the first non-null element (IDM literally keeps the
  last one; the first is what the array is meant to say).
- A property without ``type`` (old OpenIDM configs) gets type ``any``: it is
  accepted, outside the CSV model and not type-checked.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "config" / "managed.json"

KNOWN_TYPES = frozenset(
    {
        "string",
        "boolean",
        "number",
        "integer",
        "object",
        "array",
        "relationship",
        "null",
        "any",
    }
)
SCALAR_TYPES = frozenset({"string", "boolean", "number", "integer"})
OBJECT_NAME_RE = re.compile(r"[a-zA-Z0-9_]+")
PATH_SEPARATOR = "/"

# Policies whose params must hold a non-negative integer (name of the param).
_INT_PARAMS = {
    "minimum-length": "minLength",
    "maximum-length": "maxLength",
    "at-least-X-capitals": "numCaps",
    "at-least-X-numbers": "numNums",
}
_JS_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_IGNORED_JS_FLAGS = frozenset("gudy")
_JS_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_"}
_JS_ESCAPES = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]"}


class _NoDefault:
    """Sentinel type: the property declares no ``default`` (None is a value)."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _NoDefault:
        return self

    def __deepcopy__(self, memo: dict) -> _NoDefault:
        return self


NO_DEFAULT: Any = _NoDefault()


class ManagedConfigError(ValueError):
    """A managed.json entry the service cannot use; names object and property."""

    def __init__(
        self, object_name: str | None, property_path: str | None, message: str
    ) -> None:
        self.object_name = object_name
        self.property_path = property_path
        self.detail = message
        where = f"managed object '{object_name}'" if object_name else "managed config"
        if property_path:
            where += f", property '{property_path}'"
        self.message = f"{where}: {message}"
        super().__init__(self.message)


@dataclass(frozen=True)
class PolicySpec:
    """One ``{"policyId": ..., "params": {...}}`` entry of a property."""

    policy_id: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class PropertySchema:
    """One property; identity-hashable so it can key per-schema caches."""

    name: str
    path: tuple[str, ...]
    type: str
    types: tuple[str, ...]
    nullable: bool
    required: bool
    unique: bool
    searchable: bool
    viewable: bool
    private: bool
    virtual: bool
    default: Any
    policies: tuple[PolicySpec, ...]
    min_length: int | None
    max_length: int | None
    pattern: str | None
    children: tuple[PropertySchema, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def column(self) -> str:
        """The CSV header / failure ``property`` name (``preferences/marketing``)."""
        return PATH_SEPARATOR.join(self.path)

    @property
    def is_scalar(self) -> bool:
        return self.type in SCALAR_TYPES

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def has_policy(self, policy_id: str) -> bool:
        return any(policy.policy_id == policy_id for policy in self.policies)

    def walk(self) -> Iterator[PropertySchema]:
        """This property, then its children depth-first, in schema order."""
        yield self
        for child in self.children:
            yield from child.walk()


def column_name(prop: PropertySchema) -> str:
    """CSV column / failure property name of a property: ``parent/child``."""
    return prop.column


def _csv_eligible(prop: PropertySchema) -> bool:
    return not (
        prop.name.startswith("_") or prop.private or prop.virtual or not prop.viewable
    )


def _csv_walk(props: tuple[PropertySchema, ...]) -> Iterator[PropertySchema]:
    for prop in props:
        if not _csv_eligible(prop):
            continue
        if prop.is_scalar:
            yield prop
        elif prop.type == "object" and prop.children:
            yield from _csv_walk(prop.children)


@dataclass(frozen=True, eq=False)
class ObjectSchema:
    """A managed object type: its properties in ``order`` and derived views."""

    name: str
    properties: tuple[PropertySchema, ...]
    required: frozenset[str]
    raw: Mapping[str, Any] = field(repr=False)

    @cached_property
    def all_properties(self) -> tuple[PropertySchema, ...]:
        """Every property, nested ones after their parent, in schema order."""
        return tuple(p for top in self.properties for p in top.walk())

    @cached_property
    def _by_path(self) -> dict[tuple[str, ...], PropertySchema]:
        return {prop.path: prop for prop in self.all_properties}

    @cached_property
    def csv_columns(self) -> tuple[PropertySchema, ...]:
        """The CSV model (spec 2.1): scalar, viewable, public, stored properties."""
        return tuple(_csv_walk(self.properties))

    @cached_property
    def csv_column_map(self) -> Mapping[str, PropertySchema]:
        """CSV column name -> property, for header checks."""
        return {prop.column: prop for prop in self.csv_columns}

    @cached_property
    def unique_properties(self) -> tuple[PropertySchema, ...]:
        """Properties with the ``unique`` policy (checked in bulk by callers)."""
        return tuple(p for p in self.all_properties if p.unique)

    @cached_property
    def searchable_properties(self) -> tuple[PropertySchema, ...]:
        """Scalar properties worth an index: ``searchable: true`` or unique."""
        return tuple(
            p for p in self.all_properties if p.is_scalar and (p.searchable or p.unique)
        )

    @staticmethod
    def column_name(prop: PropertySchema) -> str:
        return prop.column

    def template_header(self) -> str:
        """The CSV template line: each column double-quoted, comma separated."""
        return ",".join(
            '"' + prop.column.replace('"', '""') + '"' for prop in self.csv_columns
        )

    def property(self, path: tuple[str, ...] | str) -> PropertySchema | None:
        """Look a property up by path tuple (or ``a/b`` column name)."""
        if isinstance(path, str):
            path = tuple(path.split(PATH_SEPARATOR))
        return self._by_path.get(tuple(path))


# --------------------------------------------------------------------------
# JavaScript regular expressions (IDM's policies run in JavaScript)


def _translate_escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    char = source[i + 1] if i + 1 < len(source) else ""
    if in_class and char in _JS_CLASS_ESCAPES:
        return _JS_CLASS_ESCAPES[char], i + 2
    if not in_class and char in _JS_ESCAPES:
        return _JS_ESCAPES[char], i + 2
    return source[i : i + 2], i + 2


def _translate_js_regex(source: str, multiline: bool) -> str:
    """JS -> Python: ASCII ``\\d``/``\\w``, ``$`` = end of input, named groups."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            piece, i = _translate_escape(source, i, in_class)
            out.append(piece)
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$" and not multiline:
            char = r"\Z"
        elif source.startswith("(?<", i) and source[i + 3 : i + 4] not in ("=", "!"):
            char, i = "(?P<", i + 2
        out.append(char)
        i += 1
    return "".join(out)


def compile_js_regex(source: str, flags: str | None = None) -> re.Pattern[str]:
    """Compile an IDM (JavaScript) regexp; use ``.search`` like JS ``test``.

    Raises ``ValueError`` for unknown flags or a pattern Python cannot compile.
    """
    py_flags = 0
    for flag in flags or "":
        if flag in _JS_FLAGS:
            py_flags |= _JS_FLAGS[flag]
        elif flag not in _IGNORED_JS_FLAGS:
            raise ValueError(f"unknown regular expression flag {flag!r}")
    translated = _translate_js_regex(source, bool(py_flags & re.MULTILINE))
    try:
        return re.compile(translated, py_flags)
    except re.error as error:
        raise ValueError(f"invalid regular expression {source!r}: {error}") from None


# --------------------------------------------------------------------------
# Parsing


class _Ctx:
    """Error factory bound to one object (keeps the parsers' signatures short)."""

    __slots__ = ("object_name",)

    def __init__(self, object_name: str | None) -> None:
        self.object_name = object_name

    def error(self, path: tuple[str, ...] | None, message: str) -> ManagedConfigError:
        prop = PATH_SEPARATOR.join(path) if path else None
        return ManagedConfigError(self.object_name, prop, message)


def _parse_types(ctx: _Ctx, raw: Mapping, path: tuple[str, ...]) -> tuple[str, ...]:
    declared = raw.get("type", "any")
    types = (declared,) if isinstance(declared, str) else declared
    if not isinstance(types, list | tuple) or not types:
        raise ctx.error(
            path,
            f"'type' must be a type name or a non-empty array, "
            f"not {json.dumps(declared)}",
        )
    for name in types:
        if name not in KNOWN_TYPES:
            raise ctx.error(
                path,
                f"type {json.dumps(name)} is not an IDM type "
                f"(expected one of {', '.join(sorted(KNOWN_TYPES - {'any'}))})",
            )
    return tuple(types)


def _non_negative_int(value: Any) -> int | None:
    """IDM reads lengths with ``parseInt``: accept ints and digit strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _check_regex(ctx: _Ctx, path: tuple[str, ...], source: Any, flags: Any) -> None:
    if not isinstance(source, str):
        raise ctx.error(
            path, f"regular expression must be a string, not {json.dumps(source)}"
        )
    if flags is not None and not isinstance(flags, str):
        raise ctx.error(path, "regular expression flags must be a string")
    try:
        compile_js_regex(source, flags)
    except ValueError as error:
        raise ctx.error(path, str(error)) from None


def _check_policy_params(
    ctx: _Ctx, path: tuple[str, ...], policy_id: str, params: Mapping
) -> None:
    if policy_id == "regexpMatches":
        _check_regex(ctx, path, params.get("regexp"), params.get("flags"))
    elif policy_id in _INT_PARAMS:
        key = _INT_PARAMS[policy_id]
        if _non_negative_int(params.get(key)) is None:
            raise ctx.error(
                path, f"policy '{policy_id}' needs a non-negative integer param '{key}'"
            )
    elif policy_id == "cannot-contain-characters":
        chars = params.get("forbiddenChars")
        if not isinstance(chars, str) and not (
            isinstance(chars, list) and all(isinstance(c, str) for c in chars)
        ):
            raise ctx.error(
                path,
                "policy 'cannot-contain-characters' needs a "
                "'forbiddenChars' list of strings",
            )


def _parse_policy(ctx: _Ctx, path: tuple[str, ...], entry: Any) -> PolicySpec:
    if not isinstance(entry, Mapping):
        raise ctx.error(path, "each policy must be an object with a 'policyId'")
    policy_id = entry.get("policyId")
    if not isinstance(policy_id, str) or not policy_id:
        raise ctx.error(path, "a policy has no 'policyId'")
    params = entry.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        raise ctx.error(path, f"params of policy '{policy_id}' must be an object")
    _check_policy_params(ctx, path, policy_id, params)
    return PolicySpec(policy_id, copy.deepcopy(dict(params)))


def _parse_policies(
    ctx: _Ctx, raw: Mapping, path: tuple[str, ...]
) -> tuple[PolicySpec, ...]:
    entries = raw.get("policies")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ctx.error(path, "'policies' must be an array")
    return tuple(_parse_policy(ctx, path, entry) for entry in entries)


def _parse_length(
    ctx: _Ctx, raw: Mapping, path: tuple[str, ...], key: str
) -> int | None:
    if key not in raw or raw[key] is None:
        return None
    value = _non_negative_int(raw[key])
    if value is None:
        raise ctx.error(path, f"'{key}' must be a non-negative integer")
    return value


def _parse_pattern(ctx: _Ctx, raw: Mapping, path: tuple[str, ...]) -> str | None:
    pattern = raw.get("pattern")
    if pattern is None:
        return None
    _check_regex(ctx, path, pattern, None)
    return pattern


def _parse_property(
    ctx: _Ctx, name: str, raw: Any, path: tuple[str, ...], listed_required: bool
) -> PropertySchema:
    if not isinstance(raw, Mapping):
        raise ctx.error(path, "a property definition must be an object")
    types = _parse_types(ctx, raw, path)
    effective = next((t for t in types if t != "null"), "null")
    policies = _parse_policies(ctx, raw, path)
    policy_ids = {policy.policy_id for policy in policies}
    children: tuple[PropertySchema, ...] = ()
    if effective == "object" and raw.get("properties") is not None:
        children = _parse_properties(ctx, raw, path)
    return PropertySchema(
        name=name,
        path=path,
        type=effective,
        types=types,
        nullable="null" in types or raw.get("nullable") is True,
        required=listed_required
        or raw.get("required") is True
        or "required" in policy_ids,
        unique="unique" in policy_ids,
        searchable=raw.get("searchable") is True,
        viewable=raw.get("viewable") is not False,
        private=raw.get("scope") == "private",
        virtual=raw.get("isVirtual") is True,
        default=copy.deepcopy(raw["default"]) if "default" in raw else NO_DEFAULT,
        policies=policies,
        min_length=_parse_length(ctx, raw, path, "minLength"),
        max_length=_parse_length(ctx, raw, path, "maxLength"),
        pattern=_parse_pattern(ctx, raw, path),
        children=children,
        raw=raw,
    )


def _name_list(
    ctx: _Ctx, container: Mapping, key: str, parent: tuple[str, ...]
) -> list[str]:
    """``required`` / ``order``: a list of names (a bool ``required`` is ignored)."""
    value = container.get(key)
    if value is None or (key == "required" and isinstance(value, bool)):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error(parent or None, f"'{key}' must be an array of property names")
    return value


def _check_names(
    ctx: _Ctx, names: list[str], props: Mapping, key: str, parent: tuple[str, ...]
) -> None:
    for name in names:
        if name not in props:
            raise ctx.error(
                (*parent, name), f"listed in '{key}' but not defined in 'properties'"
            )


def _parse_properties(
    ctx: _Ctx, container: Mapping, parent: tuple[str, ...]
) -> tuple[PropertySchema, ...]:
    props = container.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, Mapping):
        raise ctx.error(parent or None, "'properties' must be an object")
    required = _name_list(ctx, container, "required", parent)
    order = _name_list(ctx, container, "order", parent)
    _check_names(ctx, required, props, "required", parent)
    _check_names(ctx, order, props, "order", parent)
    required_set = set(required)
    result = []
    for name in dict.fromkeys([*order, *props]):
        if not isinstance(name, str) or not name or PATH_SEPARATOR in name:
            raise ctx.error(
                (*parent, str(name)),
                "property names must be non-empty and must not contain '/'",
            )
        result.append(
            _parse_property(
                ctx, name, props[name], (*parent, name), name in required_set
            )
        )
    return tuple(result)


def _parse_entry(entry: Any, label: str) -> ObjectSchema:
    if not isinstance(entry, Mapping):
        raise ManagedConfigError(label, None, "an object entry must be a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not OBJECT_NAME_RE.fullmatch(name):
        shown = name if isinstance(name, str) and name else label
        raise ManagedConfigError(
            shown, None, f"'name' must match [a-zA-Z0-9_]+, not {json.dumps(name)}"
        )
    ctx = _Ctx(name)
    raw = copy.deepcopy(dict(entry))
    schema = raw.get("schema")
    if schema is None:
        schema = {}
    if not isinstance(schema, Mapping):
        raise ctx.error(None, "'schema' must be an object")
    properties = _parse_properties(ctx, schema, ())
    required = frozenset(prop.name for prop in properties if prop.required)
    return ObjectSchema(name=name, properties=properties, required=required, raw=raw)


def parse_object_schema(entry: Mapping[str, Any]) -> ObjectSchema:
    """Parse one ``objects[]`` entry of a managed.json; raise ManagedConfigError."""
    return _parse_entry(entry, "(unnamed)")


def parse_managed_config(config: Mapping[str, Any]) -> list[ObjectSchema]:
    """Parse a whole ``{"objects": [...]}`` document; all-or-nothing."""
    if not isinstance(config, Mapping) or not isinstance(config.get("objects"), list):
        raise ManagedConfigError(
            None, None, "the configuration must be an object with an 'objects' array"
        )
    schemas: list[ObjectSchema] = []
    seen: set[str] = set()
    for index, entry in enumerate(config["objects"]):
        schema = _parse_entry(entry, f"objects[{index}]")
        if schema.name in seen:
            raise ManagedConfigError(schema.name, None, "defined more than once")
        seen.add(schema.name)
        schemas.append(schema)
    return schemas


def load_default_config() -> dict[str, Any]:
    """The shipped managed.json (user, role, assignment and realm variants)."""
    with DEFAULT_CONFIG_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)
