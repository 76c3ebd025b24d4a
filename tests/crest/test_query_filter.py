"""The ``_queryFilter`` parser: pure, no database."""

import time

import pytest

from idmimport.crest.query_filter import (
    MAX_DEPTH,
    And,
    Comparison,
    FalseFilter,
    Not,
    Or,
    Presence,
    QueryFilterError,
    TrueFilter,
    format_pointer,
    parse_number,
    parse_query_filter,
)

CREST_MESSAGE = (
    "The value '{}' for parameter '_queryFilter' could not be parsed as a valid "
    "query filter"
)


def eq(field: str, value):
    return Comparison((field,), "eq", value)


def pr(field: str):
    return Presence((field,))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every operator
        ('userName eq "bjensen"', eq("userName", "bjensen")),
        ('sn co "ens"', Comparison(("sn",), "co", "ens")),
        ('sn sw "J"', Comparison(("sn",), "sw", "J")),
        ("age lt 30", Comparison(("age",), "lt", 30)),
        ("age le 30", Comparison(("age",), "le", 30)),
        ("age gt 30", Comparison(("age",), "gt", 30)),
        ("age ge 30", Comparison(("age",), "ge", 30)),
        ("mail pr", pr("mail")),
        ("""userName in '["a","b"]'""", Comparison(("userName",), "in", '["a","b"]')),
        # extended operator names are kept, lower-cased
        ('roles My_Ext.op_V1 "x"', Comparison(("roles",), "my_ext.op_v1", "x")),
        ("age EQ 30", Comparison(("age",), "eq", 30)),
        # literal filters
        ("true", TrueFilter()),
        ("false", FalseFilter()),
        ("TRUE", TrueFilter()),
        ("False", FalseFilter()),
    ],
)
def test_operators_and_literals(text, expected):
    assert parse_query_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a pr and b pr", And((pr("a"), pr("b")))),
        ("a pr or b pr", Or((pr("a"), pr("b")))),
        ("a pr and b pr and c pr", And((pr("a"), pr("b"), pr("c")))),
        ("a pr or b pr or c pr", Or((pr("a"), pr("b"), pr("c")))),
        # and binds tighter than or
        ("a pr or b pr and c pr", Or((pr("a"), And((pr("b"), pr("c")))))),
        ("a pr and b pr or c pr", Or((And((pr("a"), pr("b"))), pr("c")))),
        (
            "a pr and b pr or c pr and d pr",
            Or((And((pr("a"), pr("b"))), And((pr("c"), pr("d"))))),
        ),
        # parentheses group without adding nodes
        ("(a pr or b pr) and c pr", And((Or((pr("a"), pr("b"))), pr("c")))),
        ("((a pr))", pr("a")),
        ("a pr and (b pr and c pr)", And((pr("a"), And((pr("b"), pr("c")))))),
        # ! binds to the next primary only
        ("!a pr", Not(pr("a"))),
        ("! a pr and b pr", And((Not(pr("a")), pr("b")))),
        ("!(a pr and b pr)", Not(And((pr("a"), pr("b"))))),
        ("!!a pr", Not(Not(pr("a")))),
        ("!true", Not(TrueFilter())),
        ("a pr and !(b pr or !c pr)", And((pr("a"), Not(Or((pr("b"), Not(pr("c")))))))),
    ],
)
def test_boolean_structure(text, expected):
    assert parse_query_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a pr AND b pr",
        "a pr And b pr",
        "a PR and b Pr",
        "a pr\tand\tb pr",
        "  a pr   and b pr  ",
        "(a pr)and(b pr)",
    ],
)
def test_keywords_are_case_insensitive_and_whitespace_is_lenient(text):
    assert parse_query_filter(text) == And((pr("a"), pr("b")))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('s eq "Jensen"', "Jensen"),
        ("s eq 'Jensen'", "Jensen"),
        ('s eq "it\'s"', "it's"),
        ("s eq 'say \"hi\"'", 'say "hi"'),
        (r's eq "a\"b"', 'a"b'),
        (r"s eq 'a\'b'", "a'b"),
        (r's eq "back\\slash"', "back\\slash"),
        (r's eq "\x"', "x"),  # a backslash escapes any character
        ('s eq ""', ""),
        ('s eq "with spaces and ( ) and or"', "with spaces and ( ) and or"),
        ('s eq "100% _sure_"', "100% _sure_"),
        ('s eq "ünïcødé"', "ünïcødé"),
        ('s eq "true"', "true"),
        ('s eq "42"', "42"),
    ],
)
def test_string_literals(text, value):
    assert parse_query_filter(text) == eq("s", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("0", 0),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("1.", 1.0),
        (".5", 0.5),
        ("2.0", 2.0),
        ("1e3", 1000.0),
        ("1.5E-2", 0.015),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
    ],
)
def test_number_and_boolean_values(literal, value):
    node = parse_query_filter(f"x eq {literal}")
    assert node == eq("x", value)
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("userName pr", ("userName",)),
        ("/userName pr", ("userName",)),
        ("userName/ pr", ("userName",)),
        ("/userName/ pr", ("userName",)),
        ("preferences/marketing pr", ("preferences", "marketing")),
        ("/preferences/marketing pr", ("preferences", "marketing")),
        ("a~1b pr", ("a/b",)),
        ("a~0b pr", ("a~b",)),
        ("a~01 pr", ("a~1",)),  # decoded in one pass, not "a/"
        ("/a//b pr", ("a", "", "b")),
        ("/ pr", ()),
        ("a.b pr", ("a.b",)),
        ("a!b pr", ("a!b",)),
    ],
)
def test_json_pointer_fields(text, field):
    assert parse_query_filter(text) == Presence(field)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('sn eq"Jensen"', eq("sn", "Jensen")),
        ("sn eq'Jensen'", eq("sn", "Jensen")),
        (
            'city eq "London"and sn eq "Jensen"',
            And((eq("city", "London"), eq("sn", "Jensen"))),
        ),
        (
            'city eq "London"and sn eq"Jensen"',
            And((eq("city", "London"), eq("sn", "Jensen"))),
        ),
        ('(sn eq"Jensen")or(sn eq"Doe")', Or((eq("sn", "Jensen"), eq("sn", "Doe")))),
    ],
)
def test_lenient_glued_quotes(text, expected):
    assert parse_query_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("   ", 0),
        ("(a pr", 5),  # unbalanced (
        ("a pr)", 4),  # unbalanced )
        ("(a pr))", 6),
        ("()", 1),
        ("a eq", 4),  # missing value
        ("a eq )", 5),
        ("a eq bjensen", 5),  # bare word value
        ("a eq 1.2.3", 5),
        ("a eq 1e999", 5),  # not finite
        ("a eq 9223372036854775808", 5),  # beyond 64 bits
        ('a eq "open', 5),  # unterminated string
        ("a eq 'open", 5),
        ('a eq "x\\', 7),  # trailing lone backslash
        ('a eq "x" b', 9),  # trailing tokens
        ('a eq "x" "y"', 9),
        ("a pr b pr", 5),
        ("a", 1),  # missing operator
        ('a "x"', 2),
        ("a e-q 1", 2),  # invalid operator name
        ("a pr and", 8),
        ("a pr or or b pr", 13),  # "or" is a field here, so "pr" is the value
        ("and", 3),
        ("!", 1),
        ('"x" eq "y"', 0),
        ("true false", 5),
        ("a pr !b pr", 5),
    ],
)
def test_malformed_filters(text, position):
    with pytest.raises(QueryFilterError) as info:
        parse_query_filter(text)
    error = info.value
    assert str(error) == CREST_MESSAGE.format(text)
    assert error.filter_text == text
    assert error.position == position
    assert error.describe().startswith(f"{error}: ")
    assert isinstance(error, ValueError)


def nested_parens(depth: int) -> str:
    return "(" * depth + "true" + ")" * depth


def nested_nots(depth: int) -> str:
    return "!" * depth + "true"


@pytest.mark.parametrize("build", [nested_parens, nested_nots])
def test_max_depth_is_accepted(build):
    assert parse_query_filter(build(MAX_DEPTH)) is not None


def test_max_depth_of_parentheses_gives_the_inner_node():
    assert parse_query_filter(nested_parens(MAX_DEPTH)) == TrueFilter()


def test_mixed_nesting_counts_both_parentheses_and_nots():
    assert parse_query_filter("!(" * 128 + "a pr" + ")" * 128) is not None
    with pytest.raises(QueryFilterError):
        parse_query_filter("!(" * 128 + "!a pr" + ")" * 128)


@pytest.mark.parametrize("build", [nested_parens, nested_nots])
def test_one_level_too_deep_fails(build):
    with pytest.raises(QueryFilterError) as info:
        parse_query_filter(build(MAX_DEPTH + 1))
    assert info.value.position == MAX_DEPTH
    assert "deeper" in info.value.detail


@pytest.mark.parametrize(
    "text",
    [nested_parens(10_000), nested_nots(10_000), "(" * 10_000, "!(" * 5_000],
)
def test_absurd_nesting_fails_fast_without_recursion_error(text):
    started = time.perf_counter()
    with pytest.raises(QueryFilterError):
        parse_query_filter(text)
    assert time.perf_counter() - started < 0.5


def test_long_flat_filters_are_fine():
    text = " or ".join(f'id eq "{n}"' for n in range(5_000))
    node = parse_query_filter(text)
    assert isinstance(node, Or)
    assert len(node.children) == 5_000


def test_nodes_are_frozen_and_hashable():
    node = parse_query_filter('a eq "x" and !b pr')
    assert hash(node) == hash(parse_query_filter('a eq "x" and !b pr'))
    with pytest.raises(AttributeError):
        node.children = ()


@pytest.mark.parametrize(
    ("field", "pointer"),
    [
        (("userName",), "/userName"),
        (("preferences", "marketing"), "/preferences/marketing"),
        (("a/b", "c~d"), "/a~1b/c~0d"),
        ((), ""),
    ],
)
def test_format_pointer_round_trips(field, pointer):
    assert format_pointer(field) == pointer
    if field:
        assert parse_query_filter(f"{pointer} pr") == Presence(field)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12", 12),
        ("1.5", 1.5),
        ("abc", None),
        ("1_000", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_number(text, number):
    assert parse_number(text) == number
