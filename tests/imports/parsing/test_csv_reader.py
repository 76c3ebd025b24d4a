"""imports.parsing.csv_reader: header checks and streaming rows (pure, no Django)."""

import csv
import io

import pytest

from imports.parsing import csv_reader
from imports.parsing.csv_reader import (
    HEADER_LIMIT,
    LINE_LIMIT,
    CsvHeaderError,
    CsvRow,
    check_header,
    iter_rows,
    read_header,
)

NOT_UTF8 = "Row is not valid UTF-8"
HAS_NUL = "Row contains a NUL byte"
UNCLOSED = "Row has a quote that is never closed (the file ends inside its cell)"
BAD = "\ufffd"  # what an undecodable byte or a NUL becomes


def rows(data: bytes, columns: int = 2) -> list[CsvRow]:
    return list(iter_rows(io.BytesIO(data), expected_columns=columns))


def header_error(data: bytes) -> CsvHeaderError:
    with pytest.raises(CsvHeaderError) as caught:
        read_header(io.BytesIO(data))
    return caught.value


def check_error(header, allowed=("userName", "mail", "sn"), unique=("userName",)):
    with pytest.raises(CsvHeaderError) as caught:
        check_header(header, allowed_columns=allowed, unique_properties=unique)
    return caught.value


class RecordingStream:
    """A binary stream that notes every size ``read`` is called with."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.sizes: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return self._inner.read(size)

    def tell(self) -> int:
        return self._inner.tell()


@pytest.fixture
def line_limit_10(monkeypatch):
    monkeypatch.setattr(csv_reader, "LINE_LIMIT", 10)


@pytest.fixture
def field_limit_5():
    old = csv.field_size_limit(5)
    yield
    csv.field_size_limit(old)


def test_limits_are_64_kib_for_the_header_and_8_mib_for_a_line():
    assert HEADER_LIMIT == 65536
    assert LINE_LIMIT == 8 * 1024 * 1024


# ------------------------------------------------------------------ read_header


@pytest.mark.parametrize(
    "data",
    [
        b"userName,mail\n1,2\n",
        b"userName,mail\r\n1,2\r\n",
        b"userName,mail\r1,2\r",
        b"userName,mail",
        b"userName,mail\r",
        b"\xef\xbb\xbfuserName,mail\n1,2\n",
        b'"userName","mail"\n1,2\n',
    ],
    ids=["lf", "crlf", "cr", "no-break", "cr-at-eof", "bom", "quoted"],
)
def test_read_header_returns_the_column_names(data):
    assert read_header(io.BytesIO(data)) == ["userName", "mail"]


def test_read_header_keeps_quoted_commas_quotes_and_line_breaks():
    data = b'"a,b","say ""hi""","two\r\nlines",last\nx,y,z,w\n'
    assert read_header(io.BytesIO(data)) == ["a,b", 'say "hi"', "two\r\nlines", "last"]


def test_read_header_keeps_empty_names_and_surrounding_spaces():
    assert read_header(io.BytesIO(b" a ,,b,\n")) == [" a ", "", "b", ""]


def test_read_header_decodes_utf8_names():
    assert read_header(io.BytesIO("prénom,名前\n".encode())) == ["prénom", "名前"]


def test_read_header_reads_small_blocks_only():
    stream = RecordingStream(b"userName,mail\n" + b"x,y\n" * 100_000)
    assert read_header(stream) == ["userName", "mail"]
    assert stream.sizes == [8192]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"], ids=["empty", "bom-only"])
def test_empty_file_is_rejected(data):
    error = header_error(data)
    assert (error.message, error.detail) == ("The file is empty", None)
    assert str(error) == "The file is empty"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("data", [b"\nuserName\n", b"  \r\nuserName\r\n", b"\r"])
def test_blank_first_line_is_rejected(data):
    error = header_error(data)
    assert (error.message, error.detail) == (
        "The file has no header: its first line is blank",
        None,
    )


def test_header_longer_than_the_limit_is_rejected():
    error = header_error(b"a" * 65537 + b"\n1\n")
    assert (error.message, error.detail) == (
        "The CSV header is longer than 65536 bytes",
        {"limit": 65536},
    )


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r", b""])
def test_header_limit_does_not_count_the_line_break(monkeypatch, ending):
    monkeypatch.setattr(csv_reader, "HEADER_LIMIT", 10)
    assert read_header(io.BytesIO(b"abcd,efghi" + ending)) == ["abcd", "efghi"]
    error = header_error(b"abcd,efghij" + ending)
    assert (error.message, error.detail) == (
        "The CSV header is longer than 10 bytes",
        {"limit": 10},
    )


def test_header_limit_does_not_count_the_bom(monkeypatch):
    monkeypatch.setattr(csv_reader, "HEADER_LIMIT", 10)
    assert read_header(io.BytesIO(b"\xef\xbb\xbfabcd,efghi\n")) == ["abcd", "efghi"]


def test_header_limit_counts_quoted_line_breaks(monkeypatch):
    monkeypatch.setattr(csv_reader, "HEADER_LIMIT", 10)
    assert read_header(io.BytesIO(b'"a\nb",cdef\n')) == ["a\nb", "cdef"]
    error = header_error(b'"a\nb",cdefg\n')
    assert error.message == "The CSV header is longer than 10 bytes"


def test_over_long_header_stops_reading_early():
    stream = RecordingStream(b"a" * 10_000_000)
    with pytest.raises(CsvHeaderError, match="longer than 65536 bytes"):
        read_header(stream)
    assert stream.sizes == [8192] * 9
    assert stream.tell() == 73728


def test_header_with_an_unclosed_quote_is_rejected():
    error = header_error(b'userName,"mail\nbjensen,b@example.com\n')
    assert (error.message, error.detail) == (
        "The CSV header has a quote that is never closed",
        None,
    )


def test_header_with_nul_byte_is_rejected_with_its_offset():
    error = header_error(b"ab\0c,d\n")
    assert (error.message, error.detail) == (
        "The CSV header contains a NUL byte (byte offset 2)",
        {"offset": 2},
    )
    error = header_error(b"\xef\xbb\xbfab\0c,d\n")
    assert (error.message, error.detail) == (
        "The CSV header contains a NUL byte (byte offset 5)",
        {"offset": 5},
    )


def test_header_that_is_not_utf8_is_rejected_with_its_offset():
    error = header_error(b"name,\xe9t\xe9\n")
    assert (error.message, error.detail) == (
        "The CSV header is not valid UTF-8 (byte offset 5)",
        {"offset": 5},
    )
    error = header_error(b"\xef\xbb\xbfname,\xe9t\xe9\n")
    assert (error.message, error.detail) == (
        "The CSV header is not valid UTF-8 (byte offset 8)",
        {"offset": 8},
    )


def test_bad_bytes_after_the_header_do_not_matter_to_read_header():
    assert read_header(io.BytesIO(b"a,b\n\xff\0,\n")) == ["a", "b"]


# ----------------------------------------------------------------- check_header

ALLOWED = ("userName", "mail", "sn")


def test_check_header_accepts_allowed_columns_in_any_order():
    result = check_header(
        ["mail", "userName"], allowed_columns=ALLOWED, unique_properties=["userName"]
    )
    assert result is None


def test_check_header_accepts_an_allowed_underscore_column():
    check_header(
        ["userName", "_importError"],
        allowed_columns=[*ALLOWED, "_importError"],
        unique_properties=["userName"],
    )


def test_unknown_columns_are_listed():
    error = check_error(["userName", "givenName", "mail", "foo", "givenName"])
    assert error.message == "Unknown columns in CSV header: 'givenName', 'foo'; " + (
        "Duplicate columns in CSV header: 'givenName'"
    )
    assert error.detail == {
        "unknownColumns": ["givenName", "foo"],
        "duplicateColumns": ["givenName"],
    }


def test_duplicate_columns_are_listed_once():
    error = check_error(["userName", "mail", "sn", "mail", "mail", "sn"])
    assert error.message == "Duplicate columns in CSV header: 'mail', 'sn'"
    assert error.detail == {"duplicateColumns": ["mail", "sn"]}


def test_missing_unique_property_is_named():
    error = check_error(["mail", "sn"], unique=("userName", "mail", "sn", "userName"))
    assert error.message == "Unique properties missing from CSV header: 'userName'"
    assert error.detail == {"missingUniqueProperties": ["userName"]}


def test_empty_column_names_are_given_by_position():
    error = check_error(["userName", "", "mail", ""])
    assert error.message == "Empty column names in CSV header at positions 2, 4"
    assert error.detail == {"emptyColumns": [2, 4]}


def test_reserved_columns_are_listed():
    error = check_error(["userName", "_id", "_rev", "_id"])
    assert error.message == (
        "Reserved column names (starting with '_') in CSV header: '_id', '_rev'; "
        "Duplicate columns in CSV header: '_id'"
    )
    assert error.detail == {
        "reservedColumns": ["_id", "_rev"],
        "duplicateColumns": ["_id"],
    }


def test_every_problem_is_reported_in_a_fixed_order():
    error = check_error(["", "x", "_y", "mail", "mail"])
    assert error.message == (
        "Reserved column names (starting with '_') in CSV header: '_y'; "
        "Unknown columns in CSV header: 'x'; "
        "Duplicate columns in CSV header: 'mail'; "
        "Empty column names in CSV header at positions 1; "
        "Unique properties missing from CSV header: 'userName'"
    )
    assert error.detail == {
        "reservedColumns": ["_y"],
        "unknownColumns": ["x"],
        "duplicateColumns": ["mail"],
        "emptyColumns": [1],
        "missingUniqueProperties": ["userName"],
    }
    assert list(error.detail) == [
        "reservedColumns",
        "unknownColumns",
        "duplicateColumns",
        "emptyColumns",
        "missingUniqueProperties",
    ]


def test_header_read_from_a_file_is_checked_as_written():
    header = read_header(io.BytesIO(b"\xef\xbb\xbfuserName,,mail, sn\n"))
    error = check_error(header)
    assert error.detail == {"unknownColumns": [" sn"], "emptyColumns": [2]}


# -------------------------------------------------------------------- iter_rows


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_rows_with_each_line_ending(ending):
    data = ending.join([b"a,b", b"1,2", b"3,4", b""])
    assert rows(data) == [(2, ["1", "2"], None), (3, ["3", "4"], None)]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_last_row_without_a_line_break_is_read(ending):
    assert rows(b"a,b" + ending + b"1,2" + ending + b"3,4") == [
        (2, ["1", "2"], None),
        (3, ["3", "4"], None),
    ]


def test_mixed_line_endings_in_one_file():
    data = b"a,b\r\n1,2\n3,4\r5,6\r\n7,8"
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, ["3", "4"], None),
        (4, ["5", "6"], None),
        (5, ["7", "8"], None),
    ]


def test_rows_are_csv_row_tuples():
    (row,) = rows(b"a,b\n1,2\n")
    assert isinstance(row, CsvRow)
    assert (row.row_number, row.cells, row.error) == (2, ["1", "2"], None)


def test_header_only_and_empty_files_have_no_rows():
    assert rows(b"a,b") == []
    assert rows(b"a,b\n") == []
    assert rows(b"a,b\n\n\n") == []
    assert rows(b"") == []


def test_utf8_bom_is_skipped():
    data = b"\xef\xbb\xbfa,b\r\n1,2\r\n"
    assert read_header(io.BytesIO(data)) == ["a", "b"]
    assert rows(data) == [(2, ["1", "2"], None)]


def test_bom_is_only_skipped_at_the_start_of_the_file():
    assert rows(b"a,b\n\xef\xbb\xbfx,y\n") == [(2, ["\ufeffx", "y"], None)]


def test_utf8_cells_are_decoded():
    data = "a,b\nJosé,Ünïcødé 名前 😀\n".encode()
    assert rows(data) == [(2, ["José", "Ünïcødé 名前 😀"], None)]


def test_quoted_cells_with_commas_and_escaped_quotes():
    data = b'a,b,c\n"x,y","he said ""hi""",""\n"",plain,"  spaced  "\n'
    assert rows(data, 3) == [
        (2, ["x,y", 'he said "hi"', ""], None),
        (3, ["", "plain", "  spaced  "], None),
    ]


def test_quoted_line_breaks_stay_in_one_spreadsheet_row():
    # Row numbers are what a spreadsheet shows: a record with quoted line breaks is
    # one row however many physical lines it spans, and the next record follows it.
    data = (
        b"a,b\n"
        b'"line1\nline2\r\nline3",x\n'  # physical lines 2-4, spreadsheet row 2
        b'3,"one\rtwo"\n'  # physical lines 5-6, row 3
        b"5,6\n"  # physical line 7, row 4
    )
    assert rows(data) == [
        (2, ["line1\nline2\r\nline3", "x"], None),
        (3, ["3", "one\rtwo"], None),
        (4, ["5", "6"], None),
    ]


def test_quoted_line_breaks_in_the_header():
    data = b'"a\nb",c\n1,2\n3,4\n'
    assert read_header(io.BytesIO(data)) == ["a\nb", "c"]
    assert rows(data) == [(2, ["1", "2"], None), (3, ["3", "4"], None)]


def test_unicode_line_separators_are_cell_data():
    # str.splitlines would split on these; a CSV only breaks lines on CR and LF.
    cells = ["a\x0bb\x0cc", "d\x1ce\x1df\x1eg\x85h\u2028i\u2029j"]
    data = "x,y\n" + ",".join(cells) + "\n1,2\n"
    assert rows(data.encode()) == [(2, cells, None), (3, ["1", "2"], None)]


def test_blank_lines_are_skipped_but_keep_their_row_number():
    data = b"a,b\n1,2\n\n3,4\n\n\n5,6\n\n"
    assert rows(data) == [
        (2, ["1", "2"], None),
        (4, ["3", "4"], None),
        (7, ["5", "6"], None),
    ]


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_blank_lines_with_other_line_endings(ending):
    data = ending.join([b"a,b", b"", b"1,2", b"", b"3,4", b""])
    assert rows(data) == [(3, ["1", "2"], None), (5, ["3", "4"], None)]


def test_blank_line_is_skipped_in_a_one_column_file_but_a_quoted_empty_is_not():
    assert rows(b'a\nx\n\n""\ny\n', 1) == [
        (2, ["x"], None),
        (4, [""], None),
        (5, ["y"], None),
    ]


def test_whitespace_or_comma_only_lines_are_not_blank():
    assert rows(b"a,b\n \n,\n") == [
        (2, [" "], "Row has 1 cell, the header has 2"),
        (3, ["", ""], None),
    ]


def test_wrong_cell_counts_fail_only_their_row():
    data = b"a,b,c\n1\n1,2\n1,2,3\n1,2,3,4\n,,,,\n7,8,9\n"
    assert rows(data, 3) == [
        (2, ["1"], "Row has 1 cell, the header has 3"),
        (3, ["1", "2"], "Row has 2 cells, the header has 3"),
        (4, ["1", "2", "3"], None),
        (5, ["1", "2", "3", "4"], "Row has 4 cells, the header has 3"),
        (6, ["", "", "", "", ""], "Row has 5 cells, the header has 3"),
        (7, ["7", "8", "9"], None),
    ]


def test_cell_count_message_for_a_one_column_header():
    assert rows(b"a\n1,2\n", 1) == [
        (2, ["1", "2"], "Row has 2 cells, the header has 1"),
    ]


def test_expected_columns_must_be_positive():
    with pytest.raises(ValueError, match=r"^expected_columns must be at least 1$"):
        iter_rows(io.BytesIO(b"a\n"), expected_columns=0)


def test_invalid_utf8_fails_only_its_row():
    data = b"a,b\n1,2\n3,caf\xe9\n5,6\n\xff\xfe,\xc3\n7,8\n"
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, ["3", f"caf{BAD}"], NOT_UTF8),
        (4, ["5", "6"], None),
        (5, [f"{BAD}{BAD}", BAD], NOT_UTF8),
        (6, ["7", "8"], None),
    ]


def test_invalid_utf8_and_a_wrong_cell_count_are_both_reported():
    assert rows(b"a,b\n\xff\n1,2\n") == [
        (2, [BAD], f"{NOT_UTF8}; Row has 1 cell, the header has 2"),
        (3, ["1", "2"], None),
    ]


def test_invalid_utf8_on_a_later_line_of_a_quoted_record():
    data = b'a,b\n"ok\nbad\xff\nbad\xfe",x\n1,2\n'
    assert rows(data) == [
        (2, [f"ok\nbad{BAD}\nbad{BAD}", "x"], NOT_UTF8),
        (3, ["1", "2"], None),
    ]


def test_bad_bytes_in_the_header_line_are_not_reported_on_rows():
    assert rows(b"a,\xff\0\n1,2\n") == [(2, ["1", "2"], None)]


def test_nul_bytes_are_replaced_and_fail_their_row():
    data = b"a,b\n1,2\x003\n\x00,\x00\n5,6\n"
    assert rows(data) == [
        (2, ["1", f"2{BAD}3"], HAS_NUL),
        (3, [BAD, BAD], HAS_NUL),
        (4, ["5", "6"], None),
    ]


def test_nul_and_invalid_utf8_on_one_line_are_both_reported():
    assert rows(b"a,b\n\x00,\xff\n1,2\n") == [
        (2, [BAD, BAD], f"{NOT_UTF8}; {HAS_NUL}"),
        (3, ["1", "2"], None),
    ]


def test_unclosed_quote_in_the_last_row_fails_it():
    assert rows(b'a,b\n1,2\n3,"open') == [
        (2, ["1", "2"], None),
        (3, ["3", "open"], UNCLOSED),
    ]


def test_unclosed_quote_does_not_silently_swallow_the_following_lines():
    data = b'a,b\n1,"open\n5,6\n7,8\n'
    assert rows(data) == [(2, ["1", "open\n5,6\n7,8\n"], UNCLOSED)]


def test_unclosed_quote_with_a_wrong_cell_count():
    data = b'a,b\n1,2\n"open,x\n3,4\n'
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, ["open,x\n3,4\n"], f"{UNCLOSED}; Row has 1 cell, the header has 2"),
    ]


@pytest.mark.parametrize(
    ("last", "cells"),
    [(b'3,"x"', ["3", "x"]), (b'3,"x"\r', ["3", "x"]), (b'3,""', ["3", ""])],
)
def test_closed_quote_at_the_end_of_the_file_is_fine(last, cells):
    assert rows(b"a,b\n" + last) == [(2, cells, None)]


def test_text_after_a_closing_quote_is_kept_like_csv_does():
    assert rows(b'a,b\n1,"x"y\n2,x"y"\n') == [
        (2, ["1", "xy"], None),
        (3, ["2", 'x"y"'], None),
    ]


@pytest.mark.usefixtures("line_limit_10")
@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_line_longer_than_the_limit_fails_only_its_row(ending):
    data = ending.join([b"a,b", b"1,2", b"12345,67890", b"3,4", b"123456,890", b""])
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, [], "Row has a line longer than 10 bytes"),
        (4, ["3", "4"], None),
        (5, ["123456", "890"], None),  # exactly the limit: the break does not count
    ]


@pytest.mark.usefixtures("line_limit_10")
@pytest.mark.parametrize("block", [1, 2, 3, 5, 16, 1024 * 1024])
def test_line_limit_does_not_depend_on_the_read_size(monkeypatch, block):
    monkeypatch.setattr(csv_reader, "_BLOCK_SIZE", block)
    data = b"a,b\n1,2\n12345,67890\r\n12345,6789\r\n\n3,4\nx,1234567890abc"
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, [], "Row has a line longer than 10 bytes"),
        (4, ["12345", "6789"], None),
        (6, ["3", "4"], None),
        (7, [], "Row has a line longer than 10 bytes"),
    ]


@pytest.mark.usefixtures("line_limit_10")
def test_long_line_inside_a_quoted_record_fails_the_whole_record():
    data = b'a,b\n1,2\n"short\nthis line is long\nend",x\n3,4\n'
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, [], "Row has a line longer than 10 bytes"),
        (4, ["3", "4"], None),
    ]


@pytest.mark.usefixtures("line_limit_10")
def test_long_first_line_of_a_quoted_record_skips_to_the_record_end():
    data = b'a,b\n"a long quoted cell\nstill, quoted\nend",x\n3,4\n'
    assert rows(data) == [
        (2, [], "Row has a line longer than 10 bytes"),
        (3, ["3", "4"], None),
    ]


@pytest.mark.usefixtures("line_limit_10")
def test_long_line_in_a_record_left_open_at_the_end_of_the_file():
    data = b'a,b\n1,2\n"a long quoted cell\nnever closed\n'
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, [], f"Row has a line longer than 10 bytes; {UNCLOSED}"),
    ]


@pytest.mark.usefixtures("line_limit_10")
def test_bad_bytes_on_other_lines_of_a_long_record_are_reported_too():
    data = b'a,b\n"\xff\nthis line is long\n\x00",x\n3,4\n'
    assert rows(data) == [
        (2, [], f"Row has a line longer than 10 bytes; {NOT_UTF8}; {HAS_NUL}"),
        (3, ["3", "4"], None),
    ]


@pytest.mark.usefixtures("field_limit_5")
def test_cell_over_the_field_size_limit_fails_only_its_row():
    data = b'a,b\n1,2\n123456,1\n"1\n23456\n7",1\n12345,1\n"12\n34",5\n'
    assert rows(data) == [
        (2, ["1", "2"], None),
        (3, [], "Cell larger than 5 characters"),
        (4, [], "Cell larger than 5 characters"),
        (5, ["12345", "1"], None),
        (6, ["12\n34", "5"], None),
    ]


def test_reads_in_blocks_and_never_the_whole_stream(monkeypatch):
    monkeypatch.setattr(csv_reader, "_BLOCK_SIZE", 64)
    data = b"a,b\n" + b"".join(b"%04d,x\n" % i for i in range(100))
    stream = RecordingStream(data)
    found = iter_rows(stream, expected_columns=2)
    assert next(found) == (2, ["0000", "x"], None)
    assert stream.sizes == [64]  # lazily: one block so far
    rest = list(found)
    assert rest[-1] == (101, ["0099", "x"], None)
    assert [row.row_number for row in rest] == list(range(3, 102))
    assert len(data) == 704
    assert stream.sizes == [64] * 12  # 11 blocks, then the empty read at the end


def test_default_read_size_is_one_mebibyte():
    stream = RecordingStream(b"a,b\n" + b"1,2\n" * 300_000)
    assert sum(1 for _ in iter_rows(stream, expected_columns=2)) == 300_000
    assert stream.sizes == [1024 * 1024] * 3


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_rows_do_not_depend_on_the_read_size(monkeypatch, block):
    monkeypatch.setattr(csv_reader, "_BLOCK_SIZE", block)
    data = (
        b"\xef\xbb\xbfa,b\r\n"
        b'"x\r\ny",caf\xc3\xa9\r\n'
        b"\r\n"
        b"1,\xff\r"
        b'"q""uote","\r\r"\n'
        b"\x00\n"
        b"3,4"
    )
    assert rows(data) == [
        (2, ["x\r\ny", "café"], None),
        (4, ["1", BAD], NOT_UTF8),
        (5, ['q"uote', "\r\r"], None),
        (6, [BAD], f"{HAS_NUL}; Row has 1 cell, the header has 2"),
        (7, ["3", "4"], None),
    ]


def test_many_rows_with_scattered_errors_keep_their_numbers(monkeypatch):
    monkeypatch.setattr(csv_reader, "_BLOCK_SIZE", 100)
    lines = [b"a,b"]
    expected = []
    for number in range(2, 502):
        if number % 7 == 0:
            lines.append(b"%d,\xff" % number)
            expected.append((number, [str(number), BAD], NOT_UTF8))
        elif number % 11 == 0:
            lines.append(b'"%d\nmore",x' % number)
            expected.append((number, [f"{number}\nmore", "x"], None))
        else:
            lines.append(b"%d,y" % number)
            expected.append((number, [str(number), "y"], None))
    assert rows(b"\n".join(lines) + b"\n") == expected
