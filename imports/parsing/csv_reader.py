"""Streaming reader for uploaded CSV files: header checks, then rows as plain data.

Dialect (design 5.2): RFC 4180 with a comma, ``"`` quoting with ``""`` escapes and
quoted line breaks; lines end in LF, CRLF or a lone CR; UTF-8 with or without a BOM.
Files can be hundreds of megabytes, so nothing here reads a whole file: memory stays
bounded by one read block plus ``LINE_LIMIT``, and a bad row never stops the file.

Pure module: binary file objects in, lists of strings out; no Django, no database.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from typing import BinaryIO, NamedTuple

HEADER_LIMIT = 64 * 1024
"""Longest accepted header record, in bytes (a one-line 1 GB file is not a CSV)."""

LINE_LIMIT = 8 * 1024 * 1024
"""Longest physical line handed to the parser, in bytes; a longer one fails its row."""

_BLOCK_SIZE = 1024 * 1024
_HEADER_READ_SIZE = 8 * 1024
_BOM = codecs.BOM_UTF8

_NOT_UTF8 = "Row is not valid UTF-8"
_HAS_NUL = "Row contains a NUL byte"
_UNCLOSED = "Row has a quote that is never closed (the file ends inside its cell)"

# States of csv's default-dialect parser, as far as record boundaries need them.
_START, _IN_FIELD, _IN_QUOTES, _AFTER_QUOTE, _END = range(5)


class CsvHeaderError(ValueError):
    """The header of an upload cannot be used; ``message`` says why for the client."""

    def __init__(self, message: str, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class CsvRow(NamedTuple):
    """One CSV record: spreadsheet row number, its cells, and why it is unusable."""

    row_number: int
    cells: list[str]
    error: str | None


# ------------------------------------------------------------------------- header


def read_header(stream: BinaryIO) -> list[str]:
    """Return the column names of the first record of ``stream``.

    Reads at most ``HEADER_LIMIT`` bytes plus one small read; the stream is left
    wherever that stops, so seek back (or reopen) before ``iter_rows``.
    """
    data = b""
    while True:
        chunk = stream.read(_HEADER_READ_SIZE)
        data += chunk
        skip = len(_BOM) if data.startswith(_BOM) else 0
        end, unclosed = _first_record_end(data, skip, final=not chunk)
        record = data[skip:end] if end >= 0 else data[skip:]
        if len(record) - _break_length(record, len(record)) > HEADER_LIMIT:
            raise CsvHeaderError(
                f"The CSV header is longer than {HEADER_LIMIT} bytes",
                {"limit": HEADER_LIMIT},
            )
        if unclosed:
            raise CsvHeaderError("The CSV header has a quote that is never closed")
        if end >= 0:
            return _parse_header(record, skip)


def _parse_header(record: bytes, offset: int) -> list[str]:
    """Decode and split the header record; ``offset`` is its position in the file."""
    if not record:
        raise CsvHeaderError("The file is empty")
    if not record.strip():
        raise CsvHeaderError("The file has no header: its first line is blank")
    nul = record.find(b"\0")
    if nul >= 0:
        raise CsvHeaderError(
            f"The CSV header contains a NUL byte (byte offset {offset + nul})",
            {"offset": offset + nul},
        )
    try:
        text = record.decode()
    except UnicodeDecodeError as error:
        position = offset + error.start
        raise CsvHeaderError(
            f"The CSV header is not valid UTF-8 (byte offset {position})",
            {"offset": position},
        ) from None
    return next(csv.reader(io.StringIO(text, newline="")))


def _first_record_end(data: bytes, start: int, *, final: bool) -> tuple[int, bool]:
    """Index just past the record starting at ``start`` (-1 if more data is needed),
    and whether the file ends inside one of its quoted cells (only when ``final``).
    """
    state = _START
    while True:
        end = _line_end(data, start, final=final)
        if end < 0:
            if not final:
                return -1, False
            state = _scan(data[start:].decode("latin-1"), state)
            return len(data), state == _IN_QUOTES
        state = _scan(data[start:end].decode("latin-1"), state)
        if state != _IN_QUOTES:
            return end, False
        start = end


def check_header(
    header: Sequence[str],
    *,
    allowed_columns: Sequence[str],
    unique_properties: Sequence[str],
) -> None:
    """Reject a header whose columns cannot be imported, naming every problem.

    A name listed in ``allowed_columns`` is accepted even if it starts with ``_``
    (so a caller may allow ``failure_csv.FAILURE_COLUMN``). ``detail`` holds the
    lists under ``reservedColumns``, ``unknownColumns``, ``duplicateColumns``,
    ``emptyColumns`` (1-based positions) and ``missingUniqueProperties``.
    """
    allowed = set(allowed_columns)
    present = set(header)
    counts = Counter(header)
    problems = {
        "reservedColumns": _unique(
            n for n in header if n.startswith("_") and n not in allowed
        ),
        "unknownColumns": _unique(
            n for n in header if n and not n.startswith("_") and n not in allowed
        ),
        "duplicateColumns": _unique(n for n in header if n and counts[n] > 1),
        "emptyColumns": [i for i, name in enumerate(header, 1) if not name],
        "missingUniqueProperties": _unique(
            p for p in unique_properties if p not in present
        ),
    }
    detail = {key: found for key, found in problems.items() if found}
    if detail:
        raise CsvHeaderError(
            "; ".join(
                _HEADER_MESSAGES[key].format(", ".join(map(repr, found)))
                for key, found in detail.items()
            ),
            detail,
        )


def _unique(names: Iterable[str]) -> list[str]:
    """Names in first-seen order, each once."""
    return list(dict.fromkeys(names))


_HEADER_MESSAGES = {
    "reservedColumns": "Reserved column names (starting with '_') in CSV header: {}",
    "unknownColumns": "Unknown columns in CSV header: {}",
    "duplicateColumns": "Duplicate columns in CSV header: {}",
    "emptyColumns": "Empty column names in CSV header at positions {}",
    "missingUniqueProperties": "Unique properties missing from CSV header: {}",
}


# --------------------------------------------------------------------------- rows


def iter_rows(stream: BinaryIO, *, expected_columns: int) -> Iterator[CsvRow]:
    """Yield every data record of ``stream`` (read from its start; record 1 is the
    header, already checked with ``read_header``) as a ``CsvRow``.

    ``row_number`` is the row a spreadsheet shows: header = 1, first data record
    = 2; a quoted line break does not advance it. Blank lines (``\\n\\n``) are
    skipped without an error but, as in a spreadsheet, keep their row number.

    A bad record becomes one row with ``error`` set, and reading goes on:
    wrong cell count (cells as read), invalid UTF-8 or NUL bytes (each replaced by
    U+FFFD so the cells are safe to store), a quoted cell still open at the end of
    the file (cells as read), a cell over ``csv.field_size_limit()``
    characters or a line over ``LINE_LIMIT`` bytes (cells ``[]``: the rest of
    that record is skipped exactly where csv would have ended it).
    """
    if expected_columns < 1:
        raise ValueError("expected_columns must be at least 1")
    return _RowReader(stream, expected_columns).rows()


class _LineTooLong(Exception):
    """Raised through csv.reader when a physical line exceeds LINE_LIMIT."""


def _too_long_line() -> Iterator[str]:
    """One-shot iterator that reports an over-long line from inside csv.reader."""
    raise _LineTooLong
    yield ""  # unreachable: makes this a generator, finished after raising


class _LineSource:
    """Blocks of decoded lines for ``itertools.chain``, so csv pulls lines in C.

    Decoding and splitting a megabyte at a time keeps per-line Python work at zero;
    only a block holding a NUL byte or invalid UTF-8 is redone line by line, and
    its bad lines are recorded in ``bad`` as (line index, message).
    """

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._carry = b""
        self._at_eof = False
        self._at_start = True
        self.lines: list[str] = []
        self.first_index = 1  # 1-based index of lines[0] among all physical lines
        self.produced = 0
        self.bad: deque[tuple[int, str]] = deque()

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> Iterator[str]:
        body = self._next_body()
        if body is None:
            self.produced += 1
            return _too_long_line()
        lines = self._decode(body)
        self.first_index = self.produced + 1
        self.produced += len(lines)
        self.lines = lines
        return iter(lines)

    def _next_body(self) -> bytes | None:
        """Bytes up to the last line break read so far; None for an over-long line.

        The body stops short of a line over ``LINE_LIMIT`` bytes; the next call then
        returns None with that line at the start of ``_carry``.
        """
        data = self._carry
        while True:
            chunk = b"" if self._at_eof else self._read(_BLOCK_SIZE)
            if chunk:
                data += chunk
                cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
            elif data:
                self._at_eof, cut = True, len(data)
            else:
                self._at_eof, self._carry = True, b""
                # csv only asks past the last line while inside a quoted cell
                self.bad.append((self.produced, _UNCLOSED))
                raise StopIteration
            if not cut:
                if len(data) - data.endswith(b"\r") > LINE_LIMIT:
                    self._carry = data
                    return None
                continue
            if cut > LINE_LIMIT:  # rare: only then can a line in it be too long
                cut = _long_line_start(data, cut)
                if not cut:
                    self._carry = data
                    return None
            self._carry = data[cut:]
            return self._without_bom(data[:cut])

    def _without_bom(self, body: bytes) -> bytes:
        if self._at_start:
            self._at_start = False
            if body.startswith(_BOM):
                return body[len(_BOM) :]
        return body

    def _decode(self, body: bytes) -> list[str]:
        if b"\0" not in body:
            try:
                lines = body.decode().splitlines(True)
            except UnicodeDecodeError:
                return self._decode_checked(body)
            # str.splitlines also splits on \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029,
            # which are data in a CSV; the count tells whether that happened.
            if len(lines) == body.count(b"\n"):
                return lines
            return [*map(bytes.decode, body.splitlines(True))]
        return self._decode_checked(body)

    def _decode_checked(self, body: bytes) -> list[str]:
        """Line by line, replacing bad bytes with U+FFFD and noting the lines."""
        lines: list[str] = []
        for raw in body.splitlines(True):
            index = self.produced + len(lines) + 1
            try:
                line = raw.decode()
            except UnicodeDecodeError:
                line = raw.decode(errors="replace")
                self.bad.append((index, _NOT_UTF8))
            if "\0" in line:
                line = line.replace("\0", "\ufffd")
                self.bad.append((index, _HAS_NUL))
            lines.append(line)
        return lines

    def drain_long_line(self, state: int) -> int:
        """Skip the over-long line being read; return the parser state after it."""
        data, self._carry = self._carry, b""
        while True:
            end = _line_end(data, 0, final=self._at_eof)
            if end >= 0 or self._at_eof:
                end = len(data) if end < 0 else end
                self._carry = data[end:]
                return _scan(data[:end].decode("latin-1"), state)
            keep = len(data) - data.endswith(b"\r")  # a CR may start a CRLF
            state = _scan(data[:keep].decode("latin-1"), state)
            chunk = self._read(_BLOCK_SIZE)
            self._at_eof = not chunk
            data = data[keep:] + chunk


class _RowReader:
    """The row loop of ``iter_rows`` plus its rare recovery paths."""

    def __init__(self, stream: BinaryIO, expected_columns: int) -> None:
        self._source = _LineSource(stream.read)
        self._lines = chain.from_iterable(self._source)
        self._reader = csv.reader(self._lines)
        self._expected = expected_columns
        self._skipped = 0  # lines consumed outside csv (so not in its line_num)

    def rows(self) -> Iterator[CsvRow]:
        """Hot loop: per row only a length check, a deque check and a tuple."""
        reader, bad, expected = self._reader, self._source.bad, self._expected
        make = tuple.__new__
        row = 1
        self._read_header()
        mark = reader.line_num  # csv's line count when the previous record ended
        while True:
            try:
                for cells in reader:
                    row += 1
                    if len(cells) == expected and not bad:
                        mark = reader.line_num
                        yield make(CsvRow, (row, cells, None))
                        continue
                    mark = reader.line_num
                    checked = self._check(row, cells)
                    if checked is not None:
                        yield checked
                return
            except (csv.Error, _LineTooLong) as error:
                row += 1
                failed = self._recover(error, row, mark)
                mark = reader.line_num
                yield failed

    def _read_header(self) -> None:
        try:
            next(self._reader, None)
        except (csv.Error, _LineTooLong) as error:
            self._recover(error, 1, 0)
        self._pop_bad()

    def _check(self, row: int, cells: list[str]) -> CsvRow | None:
        problems = self._pop_bad()
        if not cells:
            return None
        if len(cells) != self._expected:
            noun = "cell" if len(cells) == 1 else "cells"
            problems.append(
                f"Row has {len(cells)} {noun}, the header has {self._expected}"
            )
        return CsvRow(row, cells, "; ".join(problems) or None)

    def _pop_bad(self) -> list[str]:
        """Messages about lines of the record just read (all lines up to here)."""
        bad = self._source.bad
        last = self._reader.line_num + self._skipped
        problems: list[str] = []
        while bad and bad[0][0] <= last:
            message = bad.popleft()[1]
            if message not in problems:
                problems.append(message)
        return problems

    def _recover(self, error: Exception, row: int, mark: int) -> CsvRow:
        """Skip the rest of a record csv gave up on; return it as a failed row."""
        reader, source = self._reader, self._source
        if isinstance(error, _LineTooLong):
            # csv had pulled ``mark`` lines before this record: none of it yet?
            state = _START if reader.line_num == mark else _IN_QUOTES
            state = source.drain_long_line(state)
            self._skipped += 1
            message = f"Row has a line longer than {LINE_LIMIT} bytes"
        else:
            # The record goes on past a line only while inside quotes, so a line
            # that is not its first starts in quotes.
            state = _START if reader.line_num == mark + 1 else _IN_QUOTES
            index = reader.line_num + self._skipped - source.first_index
            state = _scan(source.lines[index], state)
            message = _csv_error_message(error)
        self._skip_quoted(state)
        problems = [message, *(p for p in self._pop_bad() if p != message)]
        return CsvRow(row, [], "; ".join(problems))

    def _skip_quoted(self, state: int) -> None:
        """Consume lines while the failed record is still inside a quoted cell."""
        while state == _IN_QUOTES:
            try:
                line = next(self._lines)
            except StopIteration:
                return
            except _LineTooLong:
                state = self._source.drain_long_line(_IN_QUOTES)
            else:
                state = _scan(line, _IN_QUOTES)
            self._skipped += 1


def _csv_error_message(error: Exception) -> str:
    if "field larger than field limit" in str(error):
        return f"Cell larger than {csv.field_size_limit()} characters"
    return f"Row could not be parsed as CSV: {error}"


# ------------------------------------------------------------- record boundaries


def _long_line_start(data: bytes, end: int) -> int:
    """Start of the first line in ``data[:end]`` over ``LINE_LIMIT`` bytes, or ``end``.

    ``data[:end]`` holds whole lines (the last may lack a break only at the end of
    the file); a line's length does not count its line break.
    """
    start = 0
    while start < end:
        stop = _line_end(data, start, final=True)
        stop = end if stop < 0 or stop > end else stop
        if stop - start - _break_length(data, stop) > LINE_LIMIT:
            return start
        start = stop
    return end


def _break_length(data: bytes, stop: int) -> int:
    """Length of the line break (CRLF, LF, CR or none) that ends ``data[:stop]``."""
    if data[stop - 2 : stop] == b"\r\n":
        return 2
    return 1 if data[stop - 1 : stop] in (b"\n", b"\r") else 0


def _line_end(data: bytes, start: int, *, final: bool) -> int:
    """Index just past the first line break at or after ``start``; -1 if none yet.

    Breaks are LF, CRLF and a lone CR, as in ``bytes.splitlines``; a CR at the end
    of ``data`` may be the start of a CRLF, so it only counts when ``final``.
    """
    lf = data.find(b"\n", start)
    cr = data.find(b"\r", start, lf if lf >= 0 else len(data))
    if cr < 0:
        return lf + 1 if lf >= 0 else -1
    if cr + 1 < len(data):
        return cr + 2 if data[cr + 1] == 0x0A else cr + 1
    return cr + 1 if final else -1


def _scan(text: str, state: int) -> int:
    """Parser state after ``text``, or ``_END`` where its record ends.

    Mirrors csv's default dialect (non-strict) so that a skipped record ends
    exactly where csv would have ended it. Line breaks only ever end ``text``.
    """
    i, size = 0, len(text)
    while i < size and state != _END:
        if state == _IN_QUOTES:
            i = text.find('"', i) + 1
            if not i:
                return _IN_QUOTES
            state = _AFTER_QUOTE
        elif state == _IN_FIELD:
            i = text.find(",", i) + 1
            if not i:
                return _END if text[-1] in "\r\n" else _IN_FIELD
            state = _START
        else:
            state = _step(text[i])
            i += 1
    return state


def _step(char: str) -> int:
    """State after ``char`` at the start of a field or after a quote in quotes."""
    if char == '"':
        return _IN_QUOTES  # opens a quoted field, or is an escaped quote
    if char == ",":
        return _START
    if char in "\r\n":
        return _END
    return _IN_FIELD
