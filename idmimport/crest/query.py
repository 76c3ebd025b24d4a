"""CREST queries: request parameters, paging, sorting, ``_fields``, envelope.

``parse_query_params`` validates the reserved parameters of spec 6.1/6.3 into
a ``QueryParams`` value; ``run_query`` applies it to a queryset and returns
the six-key query envelope. Each resource supplies how filter pointers map to
model fields (``resolve_field``) and how a row becomes JSON (``serialize``).
"""

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Expression, F, QuerySet

from idmimport.crest.errors import BadRequestError
from idmimport.crest.filter_compiler import (
    ColumnTarget,
    JsonPathTarget,
    QueryFilterValueError,
    UnknownFieldError,
    compile_filter,
)
from idmimport.crest.json_sql import JsonText
from idmimport.crest.query_filter import (
    FilterNode,
    QueryFilterError,
    parse_query_filter,
)

Pointer = tuple[str, ...]
TOTAL_POLICIES = ("NONE", "ESTIMATE", "EXACT")
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class SortKey:
    """One ``_sortKeys`` entry."""

    pointer: Pointer
    descending: bool


@dataclass(frozen=True)
class QueryParams:
    """The validated reserved parameters of one CREST query."""

    filter: FilterNode
    filter_text: str
    page_size: int = 0
    offset: int = 0
    sort_keys: tuple[SortKey, ...] = ()
    fields: tuple[Pointer, ...] | None = None
    total_policy: str = "NONE"


def parse_pointer(text: str) -> Pointer:
    """Split a JSON pointer (leading ``/`` optional) into its segments."""
    segments = text.strip().strip("/").split("/")
    if not segments or any(s == "" for s in segments):
        raise BadRequestError(f"The pointer '{text}' is not valid")
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in segments)


def _int_param(params: Mapping[str, str], name: str, *, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return minimum
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(
            f"The value '{raw}' for parameter '{name}' is not a valid integer"
        ) from None
    if value < minimum:
        raise BadRequestError(f"The value '{raw}' for parameter '{name}' is too small")
    return value


def encode_cookie(offset: int) -> str:
    """The paged-results cookie: opaque to clients, an offset to us."""
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def decode_cookie(cookie: str) -> int:
    """Read back a cookie made by ``encode_cookie``."""
    try:
        padded = cookie + "=" * (-len(cookie) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequestError(
            f"The value '{cookie}' for parameter '_pagedResultsCookie' is not valid"
        ) from None


def parse_fields(params: Mapping[str, str]) -> tuple[Pointer, ...] | None:
    """``_fields=a,b/c`` as pointers, or None when absent."""
    raw = params.get("_fields")
    if not raw:
        return None
    return tuple(parse_pointer(part) for part in raw.split(",") if part.strip())


def _parse_sort_keys(raw: str | None) -> tuple[SortKey, ...]:
    keys = []
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        keys.append(SortKey(parse_pointer(part.lstrip("+-")), descending))
    return tuple(keys)


def _parse_filter(params: Mapping[str, str]) -> tuple[FilterNode, str]:
    if "_queryId" in params or "_queryExpression" in params:
        if "_queryFilter" in params:
            raise BadRequestError(
                "The parameters _queryId, _queryExpression, and _queryFilter "
                "are mutually exclusive"
            )
        raise BadRequestError("Only _queryFilter queries are supported")
    text = params.get("_queryFilter")
    if text is None:
        raise BadRequestError("A query needs the _queryFilter parameter")
    try:
        return parse_query_filter(text), text
    except QueryFilterError as error:
        raise BadRequestError(str(error)) from None


def parse_query_params(params: Mapping[str, str]) -> QueryParams:
    """Validate a query's reserved parameters; 400 on anything malformed."""
    node, text = _parse_filter(params)
    page_size = _int_param(params, "_pageSize", minimum=0)
    if page_size > MAX_PAGE_SIZE:
        raise BadRequestError(f"_pageSize may be at most {MAX_PAGE_SIZE}")
    offset = _int_param(params, "_pagedResultsOffset", minimum=0)
    cookie = params.get("_pagedResultsCookie")
    if cookie:
        if params.get("_pagedResultsOffset"):
            raise BadRequestError(
                "The parameters _pagedResultsCookie and _pagedResultsOffset "
                "are mutually exclusive"
            )
        offset = decode_cookie(cookie)
    policy = (params.get("_totalPagedResultsPolicy") or "NONE").upper()
    if policy not in TOTAL_POLICIES:
        raise BadRequestError(
            f"The value '{params.get('_totalPagedResultsPolicy')}' for parameter "
            "'_totalPagedResultsPolicy' is not valid; use NONE, ESTIMATE or EXACT"
        )
    return QueryParams(
        filter=node,
        filter_text=text,
        page_size=page_size,
        offset=offset,
        sort_keys=_parse_sort_keys(params.get("_sortKeys")),
        fields=parse_fields(params),
        total_policy=policy,
    )


def select_fields(item: Mapping[str, Any], fields: Iterable[Pointer] | None) -> dict:
    """Keep only the requested pointers; ``_id`` and ``_rev`` always stay."""
    if fields is None:
        return dict(item)
    result: dict[str, Any] = {k: item[k] for k in ("_id", "_rev") if k in item}
    for pointer in fields:
        source: Any = item
        for segment in pointer:
            if not isinstance(source, Mapping) or segment not in source:
                break
            source = source[segment]
        else:
            target = result
            for segment in pointer[:-1]:
                target = target.setdefault(segment, {})
            target[pointer[-1]] = source
    return result


Resolver = Callable[[Pointer], ColumnTarget | JsonPathTarget]


def order_expression(target: ColumnTarget | JsonPathTarget) -> Expression:
    """The expression a sort key orders by."""
    if isinstance(target, ColumnTarget):
        return F(target.name)
    return JsonText(target.column, target.path)


def filter_queryset(
    queryset: QuerySet, params: QueryParams, *, resolve_field: Resolver
) -> QuerySet:
    """Apply ``_queryFilter`` and ``_sortKeys``; 400 for unknown fields."""
    try:
        queryset = queryset.filter(compile_filter(params.filter, resolve_field))
        ordering = []
        for key in params.sort_keys:
            expression = order_expression(resolve_field(key.pointer))
            ordering.append(expression.desc() if key.descending else expression.asc())
    except (UnknownFieldError, QueryFilterValueError) as error:
        raise BadRequestError(
            f"The value '{params.filter_text}' for parameter '_queryFilter' "
            f"could not be parsed as a valid query filter: {error}"
        ) from None
    return queryset.order_by(*ordering, "pk")


def run_query(
    queryset: QuerySet,
    params: QueryParams,
    *,
    resolve_field: Resolver,
    serialize: Callable[[Any], dict],
) -> dict[str, Any]:
    """Run a CREST query and return the envelope with all six keys."""
    queryset = filter_queryset(queryset, params, resolve_field=resolve_field)
    if params.page_size:
        window = queryset[params.offset : params.offset + params.page_size + 1]
        rows = list(window)
        has_more = len(rows) > params.page_size
        rows = rows[: params.page_size]
    else:
        rows = list(queryset[params.offset :]) if params.offset else list(queryset)
        has_more = False
    result = [select_fields(serialize(row), params.fields) for row in rows]
    total = queryset.count() if params.total_policy != "NONE" else -1
    remaining = -1
    if total >= 0 and params.page_size:
        remaining = max(total - params.offset - len(result), 0)
    return {
        "result": result,
        "resultCount": len(result),
        "pagedResultsCookie": (
            encode_cookie(params.offset + len(result)) if has_more else None
        ),
        "totalPagedResultsPolicy": params.total_policy,
        "totalPagedResults": total,
        "remainingPagedResults": remaining,
    }
