"""imports.parsing.failure_csv: IDM's error cell, formula neutralising, the export."""

import csv
import io

import pytest

from imports.parsing.csv_reader import iter_rows
from imports.parsing.failure_csv import (
    FAILURE_COLUMN,
    format_error_cell,
    iter_failure_csv,
    neutralise_cell,
)

POLICY_ERROR = {
    "code": 403,
    "reason": "Forbidden",
    "message": "Policy validation failed",
    "detail": {
        "result": False,
        "failedPolicyRequirements": [
            {
                "policyRequirements": [
                    {"policyRequirement": "VALID_EMAIL_ADDRESS_FORMAT"}
                ],
                "property": "mail",
            }
        ],
    },
}
POLICY_CELL = (
    "{code=403, reason=Forbidden, message=Policy validation failed, "
    "detail={result=false, failedPolicyRequirements=[{policyRequirements="
    "[{policyRequirement=VALID_EMAIL_ADDRESS_FORMAT}], property=mail}]}}"
)
BAD_ROW_ERROR = {
    "code": 400,
    "reason": "Bad Request",
    "message": "Row has 1 cell, the header has 2",
}
BAD_ROW_CELL = (
    "{code=400, reason=Bad Request, message=Row has 1 cell, the header has 2}"
)


def export(header, rows, **options) -> list[str]:
    return list(iter_failure_csv(header, rows, **options))


def parsed(header, rows, **options) -> list[list[str]]:
    text = "".join(export(header, rows, **options))
    return list(csv.reader(io.StringIO(text, newline="")))


# ------------------------------------------------------------ format_error_cell


def test_policy_error_renders_like_java_map_to_string():
    assert format_error_cell(POLICY_ERROR) == POLICY_CELL


def test_keys_come_out_in_idm_order_whatever_order_they_were_stored_in():
    # PostgreSQL jsonb does not keep key order.
    shuffled = {
        "detail": {
            "failedPolicyRequirements": [
                {
                    "property": "mail",
                    "policyRequirements": [
                        {"policyRequirement": "VALID_EMAIL_ADDRESS_FORMAT"}
                    ],
                }
            ],
            "result": False,
        },
        "message": "Policy validation failed",
        "reason": "Forbidden",
        "code": 403,
    }
    assert format_error_cell(shuffled) == POLICY_CELL


def test_requirement_params_are_nested_maps():
    error = {
        "policyRequirements": [
            {
                "params": {"invalidType": "string", "validTypes": ["boolean"]},
                "policyRequirement": "VALID_TYPE",
            }
        ],
        "property": "preferences/marketing",
    }
    assert format_error_cell(error) == (
        "{policyRequirements=[{policyRequirement=VALID_TYPE, "
        "params={invalidType=string, validTypes=[boolean]}}], "
        "property=preferences/marketing}"
    )


def test_unknown_keys_follow_the_known_ones_in_stored_order():
    value = {"zeta": 1, "code": 409, "alpha": "x", "reason": "Conflict"}
    assert format_error_cell(value) == "{code=409, reason=Conflict, zeta=1, alpha=x}"


def test_non_policy_error_without_detail():
    assert format_error_cell(BAD_ROW_ERROR) == BAD_ROW_CELL


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (403, "403"),
        (-1.5, "-1.5"),
        ("text, with = signs", "text, with = signs"),
        ("", ""),
        ([], "[]"),
        ({}, "{}"),
        ([1, None, True, "a"], "[1, null, true, a]"),
        (("x", ["y", {"k": []}]), "[x, [y, {k=[]}]]"),
        ({"a": None, "b": {"c": False}}, "{a=null, b={c=false}}"),
    ],
)
def test_values_render_like_java(value, text):
    assert format_error_cell(value) == text


# ------------------------------------------------------------- neutralise_cell


@pytest.mark.parametrize(
    ("cell", "result"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-x", "'-x"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+", "'+"),
        ("-", "'-"),
        ("--", "'--"),
        ("+1+1", "'+1+1"),
        ("-1 555 0100", "'-1 555 0100"),
        ("+1 555 0100", "+1 555 0100"),
        ("+1 (555) 010-0100", "+1 (555) 010-0100"),
        ("+44.20.7946.0958", "+44.20.7946.0958"),
        ("-42", "-42"),
        ("+3.5", "+3.5"),
        ("-.5", "-.5"),
        ("+1e10", "+1e10"),
        ("-1.5E-3", "-1.5E-3"),
        ("", ""),
        ("hello world", "hello world"),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),
        ("'=already", "'=already"),
        ("42", "42"),
    ],
)
def test_neutralise_cell(cell, result):
    assert neutralise_cell(cell) == result


# ------------------------------------------------------------- iter_failure_csv


def test_export_text_matches_the_idm_example():
    text = "".join(
        export(
            ["userName", "givenName", "sn", "mail"],
            [(["tlopez", "Tomas", "Lopez", "tlopez-at-example"], POLICY_ERROR)],
        )
    )
    assert text == (
        "userName,givenName,sn,mail,_importError\n"
        f'tlopez,Tomas,Lopez,tlopez-at-example,"{POLICY_CELL}"\n'
    )
    assert FAILURE_COLUMN == "_importError"


def test_export_round_trips_through_csv_reader():
    cells = [
        ["a,b", 'say "hi"'],
        ["two\nlines", "crlf\r\nlines"],
        ["lone\rcr", ""],
        ["  spaced  ", "café 名前"],
    ]
    lines = parsed(["userName", "mail"], [(row, BAD_ROW_ERROR) for row in cells])
    assert lines == [
        ["userName", "mail", "_importError"],
        *([*row, BAD_ROW_CELL] for row in cells),
    ]


def test_export_round_trips_through_the_upload_reader():
    cells = [["a,b", 'q"'], ["lone\rcr", "x\r\ny"], ["=1+1", "-x"]]
    text = "".join(
        export(["c1", "c2"], [(row, None) for row in cells], neutralise=False)
    )
    read = list(iter_rows(io.BytesIO(text.encode()), expected_columns=3))
    assert read == [
        (2, ["a,b", 'q"', "null"], None),
        (3, ["lone\rcr", "x\r\ny", "null"], None),
        (4, ["=1+1", "-x", "null"], None),
    ]


def test_formula_cells_are_neutralised_by_default():
    row = ["=SUM(A1)", "@x", "+cmd|' /C calc'!A0", "-42", "+1 555 0100", "ok"]
    lines = parsed(list("abcdef"), [(row, BAD_ROW_ERROR)])
    assert lines[1] == [
        "'=SUM(A1)",
        "'@x",
        "'+cmd|' /C calc'!A0",
        "-42",
        "+1 555 0100",
        "ok",
        BAD_ROW_CELL,
    ]


def test_neutralise_false_leaves_cells_alone():
    row = ["=SUM(A1)", "@x", "\tx", "-x"]
    lines = parsed(list("abcd"), [(row, BAD_ROW_ERROR)], neutralise=False)
    assert lines[1] == [*row, BAD_ROW_CELL]


def test_header_is_written_as_is():
    lines = parsed(["userName", "a,b", "=x"], [])
    assert lines == [["userName", "a,b", "=x", "_importError"]]


def test_short_rows_are_padded_and_long_rows_cut_to_the_header_width():
    rows = [
        (["only"], BAD_ROW_ERROR),
        ([], BAD_ROW_ERROR),
        (["1", "2", "3", "=4"], BAD_ROW_ERROR),
        (("t1", "t2", "t3"), BAD_ROW_ERROR),
    ]
    assert parsed(["a", "b", "c"], rows) == [
        ["a", "b", "c", "_importError"],
        ["only", "", "", BAD_ROW_CELL],
        ["", "", "", BAD_ROW_CELL],
        ["1", "2", "3", BAD_ROW_CELL],
        ["t1", "t2", "t3", BAD_ROW_CELL],
    ]


def test_no_rows_gives_the_header_alone():
    assert export(["a", "b"], []) == ["a,b,_importError\n"]


def test_output_comes_in_pieces_of_500_rows():
    rows = [([str(n), "x"], BAD_ROW_ERROR) for n in range(1201)]
    pieces = export(["a", "b"], rows)
    assert [piece.count("\n") for piece in pieces] == [501, 500, 201]
    assert all(piece.endswith("\n") for piece in pieces)
    lines = list(csv.reader(io.StringIO("".join(pieces))))
    assert lines[0] == ["a", "b", "_importError"]
    assert lines[1:] == [[str(n), "x", BAD_ROW_CELL] for n in range(1201)]


def test_exact_multiple_of_500_rows_has_no_empty_last_piece():
    rows = [(["1", "x"], None)] * 1000
    assert [piece.count("\n") for piece in export(["a", "b"], rows)] == [501, 500]


def test_rows_are_pulled_lazily():
    pulled = []

    def source():
        for n in range(2000):
            pulled.append(n)
            yield [str(n)], None

    pieces = iter_failure_csv(["a"], source())
    first = next(pieces)
    assert first.count("\n") == 501
    assert len(pulled) == 500
    assert len(list(pieces)) == 3
    assert len(pulled) == 2000
