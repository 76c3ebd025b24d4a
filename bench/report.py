"""The lines of the result table, the issue's targets, and the Markdown table.

A line is a dict with ``status`` ("ok", "failed" or "skipped"), ``note`` and,
when measured, ``rows``, ``seconds``, ``rows_per_s`` and ``peak_rss_mb``.
Targets are ratios or limits computed from lines of the same run; a target
whose lines did not measure is "n/a", never a pass.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    baseline: str | None = None  # the line whose rows/s this one is compared to
    needs_pg: bool = False
    needs_peer: bool = False


LINES = [
    Line("baseline_a", "A: PG COPY + upsert, validated, empty table", needs_pg=True),
    Line("baseline_b", "B: PG COPY + upsert skipping unchanged, full", needs_pg=True),
    Line("baseline_c", "C: SQLite upsert, validated, empty"),
    Line("peer_new", "peer: django-import-export, PG, new", "baseline_a", True, True),
    Line(
        "peer_reimport",
        "peer: django-import-export, PG, re-import",
        "baseline_b",
        needs_pg=True,
        needs_peer=True,
    ),
    Line("product_pg_ref", "product PG, new users (RSS reference)", "baseline_a", True),
    Line("product_pg_new", "product PG, new users", "baseline_a", True),
    Line("product_pg_unchanged", "product PG, same file again", "baseline_b", True),
    Line("product_pg_changed", "product PG, 10% changed + 2% bad", "baseline_b", True),
    Line("product_sqlite_new", "product SQLite, new users", "baseline_c"),
    Line("upload_pg", "upload request answered, full file, PG", needs_pg=True),
    Line("metadata_pg", "read one metadata record, PG (median)", needs_pg=True),
    Line("query_pg", "userName eq query, PG (median)", needs_pg=True),
    Line("upload_sqlite", "upload request answered, full file, SQLite"),
    Line("metadata_sqlite", "read one metadata record, SQLite (median)"),
    Line("query_sqlite", "userName eq query, SQLite (median)"),
]
LINE_BY_KEY = {line.key: line for line in LINES}
SHORT_NAMES = {
    "baseline_a": "A",
    "baseline_b": "B",
    "baseline_c": "C",
    "peer_new": "peer",
    "peer_reimport": "peer",
    "product_pg_ref": "ref",
}
FULL_SIZE_IMPORTS = [
    "product_pg_new",
    "product_pg_unchanged",
    "product_pg_changed",
    "product_sqlite_new",
]


def figure(lines: dict, key: str, name: str) -> float | None:
    """A figure of a line that measured successfully, else None."""
    line = lines.get(key) or {}
    return line.get(name) if line.get("status") == "ok" else None


def ratio(lines: dict, key: str, base: str, name: str = "rows_per_s") -> float | None:
    mine, theirs = figure(lines, key, name), figure(lines, base, name)
    return mine / theirs if mine and theirs else None


def worst_full_size_rss(lines: dict) -> float | None:
    values = [figure(lines, key, "peak_rss_mb") for key in FULL_SIZE_IMPORTS]
    values = [v for v in values if v is not None]
    return max(values) if values else None


def milliseconds(key: str) -> Callable[[dict], float | None]:
    def value(lines: dict) -> float | None:
        seconds = figure(lines, key, "seconds")
        return seconds * 1000 if seconds is not None else None

    return value


def rate_ratio(key: str, base: str) -> Callable[[dict], float | None]:
    return lambda lines: ratio(lines, key, base)


OPERATORS = {">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Target:
    label: str
    value: Callable[[dict], float | None]
    op: str  # a key of OPERATORS: value OP limit passes
    limit: float
    unit: str


TARGETS = [
    Target(
        "product PG new / A",
        rate_ratio("product_pg_new", "baseline_a"),
        ">=",
        0.5,
        "x",
    ),
    Target(
        "product PG unchanged / B",
        rate_ratio("product_pg_unchanged", "baseline_b"),
        ">=",
        0.5,
        "x",
    ),
    Target(
        "product PG new / peer new",
        rate_ratio("product_pg_new", "peer_new"),
        ">=",
        20,
        "x",
    ),
    Target(
        "product PG unchanged / peer re-import",
        rate_ratio("product_pg_unchanged", "peer_reimport"),
        ">=",
        100,
        "x",
    ),
    Target(
        "product SQLite new / C",
        rate_ratio("product_sqlite_new", "baseline_c"),
        ">=",
        0.3,
        "x",
    ),
    Target(
        "worker peak RSS, largest full-size import",
        worst_full_size_rss,
        "<",
        250,
        " MB",
    ),
    Target(
        "worker peak RSS, PG new: full size / reference size",
        lambda lines: ratio(lines, "product_pg_new", "product_pg_ref", "peak_rss_mb"),
        "<=",
        1.10,
        "x",
    ),
    Target(
        "upload request, full file, PG", milliseconds("upload_pg"), "<", 5000, " ms"
    ),
    Target("metadata read, PG median", milliseconds("metadata_pg"), "<", 20, " ms"),
    Target("userName eq query, PG median", milliseconds("query_pg"), "<", 20, " ms"),
]


def evaluate(lines: dict) -> list[dict]:
    """Every target with its measured value and PASS, FAIL or n/a."""
    out = []
    for target in TARGETS:
        value = target.value(lines)
        if value is None:
            verdict = "n/a"
        else:
            passed = OPERATORS[target.op](value, target.limit)
            verdict = "PASS" if passed else "FAIL"
        out.append(
            {
                "target": target.label,
                "value": None if value is None else round(value, 4),
                "wanted": f"{target.op} {target.limit:g}{target.unit}",
                "unit": target.unit,
                "result": verdict,
            }
        )
    return out


def number(value: float | None) -> str:
    """Readable figures: thousands separators, about three significant digits."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _line_row(line: Line, lines: dict) -> list[str]:
    data = lines.get(line.key, {})
    status = data.get("status", "skipped")
    note = data.get("note", "")
    if status != "ok":
        note = f"{status.upper()}: {note}" if note else status.upper()
    shown_ratio = ""
    if line.key.startswith("baseline_"):
        shown_ratio = f"baseline {SHORT_NAMES[line.key]}"
    elif line.baseline:
        value = ratio(lines, line.key, line.baseline)
        if value is not None:
            shown_ratio = f"{number(value)}x {SHORT_NAMES[line.baseline]}"
    return [
        line.label,
        f"{data['rows']:,}" if data.get("rows") else "",
        number(data.get("seconds")),
        number(data.get("rows_per_s")),
        number(data.get("peak_rss_mb")),
        shown_ratio,
        "",
        " ".join(note.replace("|", "/").split())[:160],
    ]


def render(lines: dict, targets: list[dict]) -> str:
    """One Markdown table: the measured lines, then one row per target."""
    out = [
        "| line | rows | seconds | rows/s | peak RSS MB | ratio / value | target "
        "| note |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for line in LINES:
        out.append("| " + " | ".join(_line_row(line, lines)) + " |")
    for target in targets:
        value = target["value"]
        shown = "—" if value is None else f"{number(value)}{target['unit']}"
        verdict = f"{target['wanted']}: **{target['result']}**"
        row = [f"target: {target['target']}", "", "", "", "", shown, verdict, ""]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)
