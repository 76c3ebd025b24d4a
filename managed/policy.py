"""IDM policy validation for managed objects, compiled once per schema.

Pure module. ``compile_validator`` turns an ObjectSchema into a tree of small
closures so that validating a row is a walk over precomputed rules, with no
config lookups per row. The output is IDM's ``failedPolicyRequirements``
(requirement names and params as in IDM's policy.js), listing every failing
property in schema order, nested ones as ``parent/child``.

Semantics copied from IDM:
- ``required`` (schema ``required`` list, ``"required": true`` or the
  ``required`` policy) is enforced on create only: an absent value fails.
- ``not-empty`` (the policy, a ``minLength`` > 0, or a type array without
  ``null``) always applies to present values: ``null``, ``""``, ``[]``, ``{}``
  fail with ``REQUIRED``.
- Absent values skip every other check; ``null`` is valid only when nullable
  (``VALID_TYPE`` with ``invalidType: "null"``); the ``not-null`` policy makes
  ``null`` fail with ``REQUIRED``.
- Format checks ignore empty strings unless ``REQUIRED`` already failed for
  the property (IDM's ``isRequired || isNonEmptyString``).
- ``unique`` and ``no-internal-user-conflict`` need the database and are
  not checked here (see DATABASE_POLICY_IDS): callers check them in bulk.
- Unknown policy ids pass (IGNORED_POLICY_IDS lists the known ones).

Deliberate differences: one entry per property (IDM may repeat a property);
``CANNOT_CONTAIN_CHARACTERS`` params keep ``forbiddenChars`` as a list
(OpenIDM joined it into one string); lengths count code points, not UTF-16
units; ``valid-date`` accepts ISO 8601, RFC 2822 and a few common forms
instead of everything JavaScript's ``Date`` parses; ``valid-datetime`` wants
an ISO 8601 date and time (requirement ``VALID_DATETIME``).
"""

from __future__ import annotations

import copy
import json
import re
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from managed.schema import (
    NO_DEFAULT,
    ObjectSchema,
    PropertySchema,
    compile_js_regex,
)

# Requirement names (IDM policy.js).
REQUIRED = "REQUIRED"
UNIQUE = "UNIQUE"
VALID_TYPE = "VALID_TYPE"
VALID_EMAIL_ADDRESS_FORMAT = "VALID_EMAIL_ADDRESS_FORMAT"
MIN_LENGTH = "MIN_LENGTH"
MAX_LENGTH = "MAX_LENGTH"
MATCH_REGEXP = "MATCH_REGEXP"
CANNOT_CONTAIN_CHARACTERS = "CANNOT_CONTAIN_CHARACTERS"
CANNOT_CONTAIN_OTHERS = "CANNOT_CONTAIN_OTHERS"
CANNOT_CONTAIN_DUPLICATES = "CANNOT_CONTAIN_DUPLICATES"
VALID_PHONE_FORMAT = "VALID_PHONE_FORMAT"
VALID_DATE = "VALID_DATE"
VALID_DATETIME = "VALID_DATETIME"
VALID_NAME_FORMAT = "VALID_NAME_FORMAT"
AT_LEAST_X_CAPITAL_LETTERS = "AT_LEAST_X_CAPITAL_LETTERS"
AT_LEAST_X_NUMBERS = "AT_LEAST_X_NUMBERS"

# Policy ids.
POLICY_REQUIRED = "required"
POLICY_NOT_EMPTY = "not-empty"
POLICY_NOT_NULL = "not-null"
POLICY_VALID_TYPE = "valid-type"
POLICY_UNIQUE = "unique"
POLICY_NO_INTERNAL_USER_CONFLICT = "no-internal-user-conflict"
POLICY_VALID_EMAIL = "valid-email-address-format"
POLICY_MIN_LENGTH = "minimum-length"
POLICY_MAX_LENGTH = "maximum-length"
POLICY_REGEXP = "regexpMatches"
POLICY_CANNOT_CONTAIN_CHARACTERS = "cannot-contain-characters"
POLICY_CANNOT_CONTAIN_OTHERS = "cannot-contain-others"
POLICY_CANNOT_CONTAIN_DUPLICATES = "cannot-contain-duplicates"
POLICY_VALID_PHONE = "valid-phone-format"
POLICY_VALID_DATE = "valid-date"
POLICY_VALID_DATETIME = "valid-datetime"
POLICY_VALID_NAME = "valid-name-format"
POLICY_AT_LEAST_X_CAPITALS = "at-least-X-capitals"
POLICY_AT_LEAST_X_NUMBERS = "at-least-X-numbers"

# Checked by the caller against the repository, in bulk (requirement UNIQUE).
DATABASE_POLICY_IDS = frozenset({POLICY_UNIQUE, POLICY_NO_INTERNAL_USER_CONFLICT})

# Known IDM policies that cannot be evaluated on a lone object here; they pass.
# Any other unknown (custom, scripted) policy id passes as well.
IGNORED_POLICY_IDS = frozenset(
    {
        "mapping-exists",
        "valid-temporal-constraints",
        "valid-duration",
        "valid-formatted-date",
        "valid-time",
        "valid-query-filter",
        "valid-array-items",
        "valid-accessFlags-object",
        "valid-privileges",
        "valid-permissions",
        "valid-event-scripts",
        "valid-relationship-reference",
        "re-auth-required",
        "required-if-configured",
        "max-attempts-triggers-lock-cooldown",
        "minimum-number-value",
        "maximum-number-value",
    }
)

POLICY_FAILED_MESSAGE = "Policy validation failed"

_MISSING: Any = object()
_LINE_CHARS = "\n\r\u2028\u2029"  # what JavaScript's "." does not match
_EMAIL_RE = re.compile(rf"[^{_LINE_CHARS}]+@[^{_LINE_CHARS}]+\.[^{_LINE_CHARS}]+")
_PHONE_RE = re.compile(r"\+?[0-9() -]*")
# IDM's name class is "A-Z a '-\u0105" plus a few Polish/French letters above
# U+0105, "-" and whitespace; "'-\u0105" is a range covering all of Latin-1.
_NAME_RE = re.compile(
    "[\u0027-\u0105\u0106\u0107\u0118\u0119\u0141\u0142\u0152\u0153"
    "\u015a\u015b\u0178\u0179\u017a\u017b\u017c\\s-]+"
)
_CAPITALS_RE = re.compile("[A-Z]")
_DIGITS_RE = re.compile("[0-9]")
_ISO_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
_DATE_FORMATS = ("%Y/%m/%d", "%m/%d/%Y", "%B %d, %Y", "%b %d, %Y", "%d %B %Y")

Failure = dict[str, Any]
# A compiled check: (value, whole object, REQUIRED already failed) -> failure.
Check = Callable[[Any, Mapping[str, Any], bool], Failure | None]


def requirement(name: str, params: Mapping[str, Any] | None = None) -> Failure:
    """One ``policyRequirements`` entry, params only when there are some."""
    if params is None:
        return {"policyRequirement": name}
    return {"policyRequirement": name, "params": dict(params)}


def js_type_name(value: Any) -> str:
    """The JSON type name IDM reports as ``invalidType``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def type_failure(value: Any, valid_types: Iterable[str]) -> Failure:
    """``VALID_TYPE`` with IDM's ``invalidType`` / ``validTypes`` params."""
    return requirement(
        VALID_TYPE,
        {"invalidType": js_type_name(value), "validTypes": list(valid_types)},
    )


# --------------------------------------------------------------------------
# Type predicates


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPE_PREDICATES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": _is_number,
    "integer": _is_integer,
    "object": lambda v: isinstance(v, Mapping),
    "relationship": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list | tuple),
}


def _type_predicate(types: Iterable[str]) -> Callable[[Any], bool] | None:
    """One predicate for a set of declared types; None when anything goes."""
    names = [t for t in dict.fromkeys(types) if t != "null"]
    if not names or "any" in names or any(t not in _TYPE_PREDICATES for t in names):
        return None
    if len(names) == 1:
        return _TYPE_PREDICATES[names[0]]
    predicates = tuple(_TYPE_PREDICATES[t] for t in names)
    return lambda value: any(predicate(value) for predicate in predicates)


# --------------------------------------------------------------------------
# Checks


def _string_check(ok: Callable[[str], bool], name: str, params: Any = None) -> Check:
    """IDM's format checks: non-empty strings must pass; "" only fails with REQUIRED."""

    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        if isinstance(value, str) and value:
            return None if ok(value) else requirement(name, params)
        return requirement(name, params) if required_failed else None

    return check


def _js_number_str(value: Any) -> Any:
    """How JavaScript turns a number into a string (for ``regexpMatches``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if _is_number(value):
        return str(value)
    return value


def _regexp_check(params: Mapping[str, Any]) -> Check:
    regexp = params["regexp"]
    flags = params.get("flags")
    search = compile_js_regex(regexp, flags).search
    failure_params = (
        {"regexp": regexp} if flags is None else {"regexp": regexp, "flags": flags}
    )
    inner = _string_check(lambda v: search(v) is not None, MATCH_REGEXP, failure_params)

    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        return inner(_js_number_str(value), obj, required_failed)

    return check


def _max_length_check(max_length: int) -> Check:
    params = {"maxLength": max_length}

    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        if isinstance(value, str) and len(value) > max_length:
            return requirement(MAX_LENGTH, params)
        return None

    return check


def _forbidden_chars_check(params: Mapping[str, Any]) -> Check:
    configured = params["forbiddenChars"]
    chars = tuple(configured)  # a string lists its characters, as in IDM
    failure_params = {"forbiddenChars": list(chars)}
    # Single characters (the usual case) are one set test in C per value.
    single = frozenset(chars) if all(len(c) == 1 for c in chars) else None

    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        if not isinstance(value, str):
            return None
        if (
            not single.isdisjoint(value)
            if single is not None
            else any(char in value for char in chars)
        ):
            return requirement(CANNOT_CONTAIN_CHARACTERS, failure_params)
        return None

    return check


def _others_check(params: Mapping[str, Any]) -> Check:
    fields = params.get("disallowedFields", [])
    if isinstance(fields, str):
        fields = fields.split(",")
    names = tuple(f for f in fields if isinstance(f, str))

    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        if not isinstance(value, str) or not value:
            return None
        for name in names:
            other = obj.get(name)
            if isinstance(other, str) and other and other in value:
                return requirement(CANNOT_CONTAIN_OTHERS, {"disallowedFields": name})
        return None

    return check


def _duplicate_key(item: Any) -> Any:
    try:
        hash(item)
    except TypeError:
        return json.dumps(item, sort_keys=True, default=str)
    return (type(item) is bool, item)


def _duplicates_check(params: Mapping[str, Any]) -> Check:
    def check(
        value: Any, obj: Mapping[str, Any], required_failed: bool
    ) -> Failure | None:
        if not isinstance(value, list | tuple):
            return None
        seen = set()
        for item in value:
            key = _duplicate_key(item)
            if key in seen:
                return requirement(CANNOT_CONTAIN_DUPLICATES, {"duplicateValue": item})
            seen.add(key)
        return None

    return check


def _parse_iso(value: str) -> bool:
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
    return True


def _is_date(value: str) -> bool:
    """Lenient like JavaScript's ``new Date(value)``: ISO, RFC 2822, US forms."""
    if _parse_iso(value):
        return True
    try:
        parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(value, fmt)  # noqa: DTZ007 - only the format matters
            return True
        except ValueError:
            continue
    return False


def _is_datetime(value: str) -> bool:
    """ISO 8601 date and time (``2024-05-01T10:00:00Z``)."""
    return _ISO_DATETIME_RE.match(value) is not None and _parse_iso(value)


def _count_check(
    pattern: re.Pattern[str], name: str, key: str, params: Mapping
) -> Check:
    wanted = int(params[key])
    findall = pattern.findall
    return _string_check(lambda v: len(findall(v)) >= wanted, name, {key: params[key]})


def _min_length_check(min_length: int) -> Check:
    return _string_check(
        lambda v: len(v) >= min_length, MIN_LENGTH, {"minLength": min_length}
    )


def _email_check(params: Mapping) -> Check:
    return _string_check(
        lambda v: _EMAIL_RE.search(v) is not None, VALID_EMAIL_ADDRESS_FORMAT
    )


def _phone_check(params: Mapping) -> Check:
    return _string_check(
        lambda v: _PHONE_RE.fullmatch(v) is not None, VALID_PHONE_FORMAT
    )


def _name_check(params: Mapping) -> Check:
    return _string_check(lambda v: _NAME_RE.fullmatch(v) is not None, VALID_NAME_FORMAT)


_CHECK_FACTORIES: dict[str, Callable[[Mapping[str, Any]], Check]] = {
    POLICY_VALID_EMAIL: _email_check,
    POLICY_VALID_PHONE: _phone_check,
    POLICY_VALID_NAME: _name_check,
    POLICY_VALID_DATE: lambda p: _string_check(_is_date, VALID_DATE),
    POLICY_VALID_DATETIME: lambda p: _string_check(_is_datetime, VALID_DATETIME),
    POLICY_MIN_LENGTH: lambda p: _min_length_check(int(p["minLength"])),
    POLICY_MAX_LENGTH: lambda p: _max_length_check(int(p["maxLength"])),
    POLICY_REGEXP: _regexp_check,
    POLICY_CANNOT_CONTAIN_CHARACTERS: _forbidden_chars_check,
    POLICY_CANNOT_CONTAIN_OTHERS: _others_check,
    POLICY_CANNOT_CONTAIN_DUPLICATES: _duplicates_check,
    POLICY_AT_LEAST_X_CAPITALS: lambda p: _count_check(
        _CAPITALS_RE, AT_LEAST_X_CAPITAL_LETTERS, "numCaps", p
    ),
    POLICY_AT_LEAST_X_NUMBERS: lambda p: _count_check(
        _DIGITS_RE, AT_LEAST_X_NUMBERS, "numNums", p
    ),
}


# --------------------------------------------------------------------------
# Compilation


_PLAIN_TYPES = {"string": str, "boolean": bool}


class _Rule:
    """Everything needed to validate one property, precomputed."""

    __slots__ = (
        "checks",
        "children",
        "column",
        "name",
        "not_empty",
        "null_required",
        "nullable",
        "path",
        "plain",
        "required",
        "type_ok",
        "valid_types",
    )

    def __init__(self, prop: PropertySchema, children: tuple[_Rule, ...]) -> None:
        self.name = prop.name
        self.path = prop.path
        self.column = prop.column
        self.required = prop.required
        self.valid_types = _valid_types(prop)
        self.nullable = prop.nullable or "any" in self.valid_types
        self.not_empty = _wants_not_empty(prop)
        self.null_required = self.not_empty or prop.has_policy(POLICY_NOT_NULL)
        self.type_ok = _type_predicate(self.valid_types)
        self.checks = _compile_checks(prop)
        self.children = children
        # Fast path: a value of exactly this Python type is valid, no checks run.
        self.plain = None
        if len(self.valid_types) == 1 and not (self.checks or self.not_empty):
            self.plain = _PLAIN_TYPES.get(self.valid_types[0])

    def evaluate(self, value: Any, obj: Mapping[str, Any]) -> list[Failure] | None:
        """Requirements failed by a present value; None when it is valid.

        Allocates nothing for a valid value: this runs for every cell.
        """
        if value is None:
            failed = [requirement(REQUIRED)] if self.null_required else []
            if not self.nullable:
                failed.append(type_failure(None, self.valid_types))
            return failed or None
        if self.type_ok is not None and not self.type_ok(value):
            return [type_failure(value, self.valid_types)]
        required_failed = self.not_empty and _is_empty(value)
        failed = [requirement(REQUIRED)] if required_failed else None
        for check in self.checks:
            failure = check(value, obj, required_failed)
            if failure is not None:
                if failed is None:
                    failed = []
                failed.append(failure)
        return failed


def _is_empty(value: Any) -> bool:
    return isinstance(value, str | list | tuple | Mapping) and not value


def _wants_not_empty(prop: PropertySchema) -> bool:
    declared_array = isinstance(prop.raw.get("type"), list)
    return (
        prop.has_policy(POLICY_NOT_EMPTY)
        or bool(prop.min_length)
        or (declared_array and not prop.nullable)
    )


def _valid_types(prop: PropertySchema) -> tuple[str, ...]:
    for policy in prop.policies:
        types = policy.params.get("types")
        if policy.policy_id == POLICY_VALID_TYPE and isinstance(types, list):
            return tuple(t for t in types if isinstance(t, str))
    return prop.types


def _policy_specs(prop: PropertySchema) -> list[tuple[str, Mapping[str, Any]]]:
    """Schema keywords first (as IDM adds them), then the declared policies."""
    specs: list[tuple[str, Mapping[str, Any]]] = []
    if "string" in prop.types:
        if prop.min_length is not None:
            specs.append((POLICY_MIN_LENGTH, {"minLength": prop.min_length}))
        if prop.max_length is not None:
            specs.append((POLICY_MAX_LENGTH, {"maxLength": prop.max_length}))
        if prop.pattern is not None:
            specs.append((POLICY_REGEXP, {"regexp": prop.pattern}))
    specs.extend((policy.policy_id, policy.params) for policy in prop.policies)
    return specs


def _compile_checks(prop: PropertySchema) -> tuple[Check, ...]:
    checks: list[Check] = []
    seen: set[str] = set()
    for policy_id, params in _policy_specs(prop):
        factory = _CHECK_FACTORIES.get(policy_id)
        key = json.dumps([policy_id, params], sort_keys=True, default=str)
        if factory is None or key in seen:
            continue
        seen.add(key)
        checks.append(factory(params))
    return tuple(checks)


def _compile_rules(props: Iterable[PropertySchema]) -> tuple[_Rule, ...]:
    return tuple(_Rule(prop, _compile_rules(prop.children)) for prop in props)


class Validator:
    """Validates objects of one schema; build with ``compile_validator``."""

    __slots__ = ("_required_paths", "_rules", "schema")

    def __init__(self, schema: ObjectSchema) -> None:
        self.schema = schema
        self._rules = _compile_rules(schema.properties)
        self._required_paths = frozenset(
            prop.path for prop in schema.all_properties if prop.required
        )

    def validate(
        self,
        obj: Mapping[str, Any],
        *,
        is_create: bool,
        blank_paths: Collection[tuple[str, ...]] = (),
    ) -> list[Failure]:
        """IDM ``failedPolicyRequirements`` for ``obj``; empty when valid.

        ``blank_paths``: on update, CSV cells left blank (the property is
        being removed); a required one fails with REQUIRED (design 5.4).
        """
        failed: list[Failure] = []
        blank = frozenset(blank_paths) & self._required_paths if blank_paths else ()
        self._walk(self._rules, obj, obj, is_create, blank, failed)
        return failed

    def _walk(
        self,
        rules: tuple[_Rule, ...],
        container: Mapping[str, Any],
        obj: Mapping[str, Any],
        is_create: bool,
        blank: Collection[tuple[str, ...]],
        failed: list[Failure],
    ) -> None:
        for rule in rules:
            value = container.get(rule.name, _MISSING)
            if value is _MISSING:
                if rule.required and (is_create or rule.path in blank):
                    failed.append(
                        {
                            "property": rule.column,
                            "policyRequirements": [requirement(REQUIRED)],
                        }
                    )
                continue
            if type(value) is rule.plain:
                continue
            reqs = rule.evaluate(value, obj)
            if reqs:
                failed.append({"property": rule.column, "policyRequirements": reqs})
            if rule.children and isinstance(value, Mapping):
                self._walk(rule.children, value, obj, is_create, blank, failed)

    def apply_defaults(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        return apply_defaults(self.schema, obj)


def compile_validator(schema: ObjectSchema) -> Validator:
    """Precompile every property's policies once; reuse for every row."""
    return Validator(schema)


# --------------------------------------------------------------------------
# Errors and defaults


def policy_error(failed: list[Failure]) -> dict[str, Any]:
    """The CREST 403 body IDM returns for a policy failure."""
    return {
        "code": 403,
        "reason": "Forbidden",
        "message": POLICY_FAILED_MESSAGE,
        "detail": {"result": False, "failedPolicyRequirements": failed},
    }


def merge_failures(*lists: Iterable[Failure]) -> list[Failure]:
    """Merge failure lists: one entry per property, first-seen order, no repeats."""
    merged: dict[str, Failure] = {}
    for failures in lists:
        for entry in failures:
            prop = entry["property"]
            target = merged.get(prop)
            if target is None:
                target = {"property": prop, "policyRequirements": []}
                merged[prop] = target
            reqs = target["policyRequirements"]
            for req in entry.get("policyRequirements", ()):
                if req not in reqs:
                    reqs.append(req)
    return list(merged.values())


_DefaultsPlan = tuple[tuple[str, Any, "_DefaultsPlan"], ...]
_defaults_plans: weakref.WeakKeyDictionary[ObjectSchema, _DefaultsPlan] = (
    weakref.WeakKeyDictionary()
)


def _defaults_plan(props: Iterable[PropertySchema]) -> _DefaultsPlan:
    plan = []
    for prop in props:
        nested = _defaults_plan(prop.children)
        if prop.default is not NO_DEFAULT or nested:
            plan.append((prop.name, prop.default, nested))
    return tuple(plan)


def _immutable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _fill(target: dict[str, Any], plan: _DefaultsPlan) -> None:
    for name, default, nested in plan:
        if name not in target:
            if default is not NO_DEFAULT:
                target[name] = (
                    default if _immutable(default) else copy.deepcopy(default)
                )
        elif nested and isinstance(target[name], Mapping):
            child = dict(target[name])
            _fill(child, nested)
            target[name] = child


def apply_defaults(schema: ObjectSchema, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` where absent properties with a ``default`` get it.

    For create only (IDM applies defaults on create). Nested defaults apply
    when the parent object is present; ``obj`` itself is never modified.
    """
    plan = _defaults_plans.get(schema)
    if plan is None:
        plan = _defaults_plan(schema.properties)
        _defaults_plans[schema] = plan
    result = dict(obj)
    if plan:
        _fill(result, plan)
    return result
