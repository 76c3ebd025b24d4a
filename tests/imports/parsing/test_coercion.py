"""imports.parsing.coercion: CSV cells converted by schema type (pure)."""

import pytest

from imports.parsing.coercion import (
    CoercedRow,
    RowLengthError,
    compile_row_coercer,
    is_invalid,
    parse_boolean,
    parse_integer,
    parse_number,
)
from managed.schema import (
    load_default_config,
    parse_managed_config,
    parse_object_schema,
)


@pytest.fixture(scope="module")
def user():
    return next(
        s for s in parse_managed_config(load_default_config()) if s.name == "user"
    )


def schema_of(properties):
    return parse_object_schema({"name": "t", "schema": {"properties": properties}})


def type_failure(column, valid_types):
    return {
        "property": column,
        "policyRequirements": [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "string", "validTypes": valid_types},
            }
        ],
    }


def coerce_one(type_, cell):
    """Coerce a single cell of a one-column schema of ``type_``."""
    schema = schema_of({"p": {"type": type_}})
    return compile_row_coercer(schema.csv_columns)([cell])


# ------------------------------------------------------------ scalar parsers


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        ("tRuE", True),
    ],
)
def test_parse_boolean(cell, expected):
    assert parse_boolean(cell) is expected


@pytest.mark.parametrize("cell", ["yes", "1", "0", " true", "true ", "t", "", "null"])
def test_parse_boolean_rejects(cell):
    assert is_invalid(parse_boolean(cell))


@pytest.mark.parametrize(
    ("cell", "expected", "kind"),
    [
        ("0", 0, int),
        ("-0", 0, int),
        ("3", 3, int),
        ("-42", -42, int),
        ("12345678901234567890", 12345678901234567890, int),
        ("3.5", 3.5, float),
        ("-0.25", -0.25, float),
        ("3.0", 3.0, float),
        ("1e2", 100.0, float),
        ("1E+2", 100.0, float),
        ("2.5e-3", 0.0025, float),
        ("1e-400", 0.0, float),
    ],
)
def test_parse_number(cell, expected, kind):
    value = parse_number(cell)
    assert value == expected
    assert type(value) is kind


@pytest.mark.parametrize(
    "cell",
    [
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "0x1F",
        "+1",
        " 1",
        "1 ",
        "1.",
        ".5",
        "01",
        "-",
        "1e",
        "1e400",
        "1_000",
        "1,5",
        "١٢",
        "9" * 5000,
        "true",
    ],
)
def test_parse_number_rejects(cell):
    assert is_invalid(parse_number(cell))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3", 3),
        ("-7", -7),
        ("0", 0),
        ("3.0", 3),
        ("1e2", 100),
        ("2.50e1", 25),
        ("12345678901234567890.0", 12345678901234567890),
    ],
)
def test_parse_integer(cell, expected):
    value = parse_integer(cell)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    "cell", ["3.5", "1e-1", "1e400", "NaN", "+3", "0x10", " 3", "03", "3.", "abc"]
)
def test_parse_integer_rejects(cell):
    assert is_invalid(parse_integer(cell))


# ------------------------------------------------------------ rows


def test_default_user_row(user):
    coerce = compile_row_coercer(user.csv_columns)
    row = coerce(
        [
            "jdoe",
            " John ",
            "Doe",
            "jdoe@example.com",
            "",
            "active",
            "+1 555 0100",
            "1 Main St\nApt 2",
            "",
            "",
            "",
            "",
            "TRUE",
            "false",
        ]
    )
    assert row == CoercedRow(
        values={
            "userName": "jdoe",
            "givenName": " John ",
            "sn": "Doe",
            "mail": "jdoe@example.com",
            "accountStatus": "active",
            "telephoneNumber": "+1 555 0100",
            "postalAddress": "1 Main St\nApt 2",
            "preferences": {"updates": True, "marketing": False},
        },
        blank_paths=(
            ("description",),
            ("city",),
            ("postalCode",),
            ("country",),
            ("stateProvince",),
        ),
        failures=[],
    )


def test_bad_cells_fail_with_valid_type_and_keep_raw_string(user):
    coerce = compile_row_coercer(user.csv_columns)
    cells = ["jdoe", "J", "D", "j@x.io", "", "", "", "", "", "", "", "", "yes", "1"]
    row = coerce(cells)
    assert row.failures == [
        type_failure("preferences/updates", ["boolean"]),
        type_failure("preferences/marketing", ["boolean"]),
    ]
    assert row.values["preferences"] == {"updates": "yes", "marketing": "1"}


def test_blank_nested_cells_do_not_create_the_parent(user):
    coerce = compile_row_coercer(user.csv_columns)
    row = coerce(["a", "b", "c", "d", *[""] * 10])
    assert row.values == {"userName": "a", "givenName": "b", "sn": "c", "mail": "d"}
    assert row.blank_paths[-2:] == (
        ("preferences", "updates"),
        ("preferences", "marketing"),
    )
    assert row.failures == []


def test_subset_and_reordered_columns(user):
    columns = [user.property("preferences/marketing"), user.property("userName")]
    coerce = compile_row_coercer(columns)
    assert coerce(["False", "x"]) == CoercedRow(
        {"preferences": {"marketing": False}, "userName": "x"}, (), []
    )
    assert coerce(["", ""]) == CoercedRow(
        {}, (("preferences", "marketing"), ("userName",)), []
    )


def test_every_type_in_one_row():
    schema = schema_of(
        {
            "s": {"type": "string"},
            "b": {"type": "boolean"},
            "n": {"type": "number"},
            "i": {"type": "integer"},
            "ns": {"type": ["string", "null"]},
            "nb": {"type": ["null", "boolean"]},
            "ni": {"type": ["integer", "null"]},
        }
    )
    coerce = compile_row_coercer(schema.csv_columns)
    assert coerce(
        ["  x  ", "FALSE", "-1.5e1", "42", "null", "true", "7"]
    ) == CoercedRow(
        {
            "s": "  x  ",
            "b": False,
            "n": -15.0,
            "i": 42,
            "ns": "null",
            "nb": True,
            "ni": 7,
        },
        (),
        [],
    )
    blank = coerce([""] * 7)
    assert blank.values == {}
    assert blank.blank_paths == (
        ("s",),
        ("b",),
        ("n",),
        ("i",),
        ("ns",),
        ("nb",),
        ("ni",),
    )
    bad = coerce(["ok", "no", "1,5", "4.5", "", "null", "NaN"])
    assert bad.failures == [
        type_failure("b", ["boolean"]),
        type_failure("n", ["number"]),
        type_failure("i", ["integer"]),
        type_failure("nb", ["null", "boolean"]),
        type_failure("ni", ["integer", "null"]),
    ]
    assert bad.blank_paths == (("ns",),)


@pytest.mark.parametrize(
    ("type_", "cell", "value"),
    [
        ("string", " ", " "),
        ("string", '"quoted"', '"quoted"'),
        ("string", "=1+1", "=1+1"),
        ("number", "3", 3),
        ("number", "3.5", 3.5),
        ("integer", "3", 3),
        ("boolean", "True", True),
    ],
)
def test_single_cells(type_, cell, value):
    row = coerce_one(type_, cell)
    assert row.values == {"p": value}
    assert type(row.values["p"]) is type(value)
    assert row.blank_paths == ()
    assert row.failures == []


def test_integer_with_fraction_fails():
    assert coerce_one("integer", "3.5") == CoercedRow(
        {"p": "3.5"}, (), [type_failure("p", ["integer"])]
    )


def test_deep_nesting():
    schema = schema_of(
        {
            "a": {
                "type": "object",
                "properties": {
                    "b": {
                        "type": "object",
                        "properties": {
                            "c": {"type": "integer"},
                            "d": {"type": "string"},
                        },
                    },
                    "e": {"type": "boolean"},
                },
            }
        }
    )
    coerce = compile_row_coercer(schema.csv_columns)
    assert [c.column for c in schema.csv_columns] == ["a/b/c", "a/b/d", "a/e"]
    assert coerce(["1", "x", "true"]).values == {
        "a": {"b": {"c": 1, "d": "x"}, "e": True}
    }
    assert coerce(["", "x", ""]).values == {"a": {"b": {"d": "x"}}}


def test_rows_are_independent(user):
    coerce = compile_row_coercer(user.csv_columns)
    first = coerce(["a", "b", "c", "d", *[""] * 8, "true", "true"])
    first.values["preferences"]["updates"] = "mutated"
    second = coerce(["a", "b", "c", "d", *[""] * 8, "true", "true"])
    assert second.values["preferences"] == {"updates": True, "marketing": True}


def test_wrong_cell_count_raises(user):
    coerce = compile_row_coercer(user.csv_columns)
    with pytest.raises(RowLengthError) as info:
        coerce(["only", "three", "cells"])
    assert (info.value.expected, info.value.actual) == (14, 3)
    assert str(info.value) == "expected 14 cells, found 3"
    with pytest.raises(RowLengthError):
        coerce([""] * 15)


def test_non_scalar_columns_are_refused(user):
    with pytest.raises(ValueError, match="'roles' has non-scalar type 'array'"):
        compile_row_coercer([user.property("roles")])
    with pytest.raises(ValueError, match="'preferences' has non-scalar type 'object'"):
        compile_row_coercer([user.property("preferences")])


def test_no_columns():
    assert compile_row_coercer([])([]) == CoercedRow({}, (), [])
