"""``compile_filter`` against a real database (SQLite or PostgreSQL).

Every case asserts exactly which objects a filter returns, so SQLite and
PostgreSQL must agree on case sensitivity, typing and NULL handling.
"""

import sqlite3
from datetime import UTC, datetime

import pytest
from django.db import NotSupportedError, connection

from idmimport.crest.filter_compiler import (
    MAX_IN_VALUES,
    MAX_SQL_DEPTH,
    ColumnTarget,
    JsonArrayTarget,
    JsonPathTarget,
    QueryFilterValueError,
    UnknownFieldError,
    compile_filter,
)
from idmimport.crest.json_sql import (
    JsonText,
    JsonTypeIs,
    JsonValue,
    json_text_sql,
    json_type_sql,
    json_value_sql,
)
from idmimport.crest.query_filter import MAX_DEPTH, parse_query_filter
from managed.models import ManagedObject, ManagedObjectType

pytestmark = pytest.mark.django_db

ALL = ["alice", "bjensen", "flag", "jdoe"]

USERS = {
    "bjensen": {
        "userName": "bjensen",
        "givenName": "Barbara",
        "sn": "Jensen",
        "mail": "bjensen@example.com",
        "age": 30,
        "score": 2.5,
        "active": True,
        "preferences": {"marketing": True, "updates": False},
        "note": "100% sure_thing",
        "a/b": "slash",
        "t~x": 1,
        "a.b": "dot",
        "back\\slash": "bs",
        "deep": {"a b": {"null": {"": {"c,d": {"{}": {"back\\x": {"q'y": "found"}}}}}}},
        "quoted": {'q"x': {"k": "found"}},
    },
    "jdoe": {
        "userName": "jdoe",
        "givenName": "John",
        "sn": "Doe",
        "mail": None,
        "age": 45,
        "score": -1,
        "active": False,
        "preferences": {"marketing": False},
        "note": "100x surely",
    },
    "alice": {
        "userName": "Alice",
        "sn": "jensen",
        "age": "30",
        "active": "true",
        "preferences": {},
        "note": "ALL CAPS",
        "pct%": "x",
        "it's": "quoted",
    },
    "flag": {"userName": "flag", "age": True, "active": 1},
}
REVISIONS = {"bjensen": 1, "jdoe": 2, "alice": 3, "flag": 4}
CREATED = {
    "bjensen": datetime(2024, 1, 1, tzinfo=UTC),
    "jdoe": datetime(2024, 6, 1, 12, tzinfo=UTC),
    "alice": datetime(2025, 1, 1, tzinfo=UTC),
    "flag": datetime(2025, 6, 1, tzinfo=UTC),
}

OBJECT_COLUMNS = {"_id": "object_id", "_rev": "rev", "created": "created_at"}


def resolve_user(pointer):
    if len(pointer) == 1 and pointer[0] in OBJECT_COLUMNS:
        return ColumnTarget(OBJECT_COLUMNS[pointer[0]])
    if pointer == ("unknown",):
        raise UnknownFieldError(pointer)
    return JsonPathTarget("properties", pointer)


def resolve_list(pointer):
    if pointer == ("roles",):
        return JsonArrayTarget("properties")
    raise UnknownFieldError(pointer)


@pytest.fixture
def users():
    user_type = ManagedObjectType.objects.create(name="user", config={})
    for object_id, properties in USERS.items():
        ManagedObject.objects.create(
            object_type=user_type, object_id=object_id, properties=properties
        )
        # auto_now_add ignores explicit values, so set timestamps afterwards.
        ManagedObject.objects.filter(object_id=object_id).update(
            rev=REVISIONS[object_id], created_at=CREATED[object_id]
        )
    return user_type


@pytest.fixture
def lists():
    list_type = ManagedObjectType.objects.create(name="list", config={})
    for object_id, properties in {
        "l1": ["admin", "User", 5, True],
        "l2": ["user"],
        "l3": {"admin": 1},  # an object, not an array
        "l4": "admin",  # a lone scalar
        "l5": [],
    }.items():
        ManagedObject.objects.create(
            object_type=list_type, object_id=object_id, properties=properties
        )
    return list_type


def matching(text, *, object_type="user", resolve=resolve_user, model=None):
    condition = compile_filter(parse_query_filter(text), resolve, model=model)
    queryset = ManagedObject.objects.filter(object_type__name=object_type)
    return sorted(queryset.filter(condition).values_list("object_id", flat=True))


def cases(table):
    return pytest.mark.parametrize(("text", "expected"), table)


@cases(
    [
        ('userName eq "bjensen"', ["bjensen"]),
        ('/userName eq "bjensen"', ["bjensen"]),
        ('userName eq "alice"', []),  # case-sensitive
        ('userName eq "Alice"', ["alice"]),
        ('userName eq "nobody"', []),
        ('sn eq "Jensen"', ["bjensen"]),
        ('sn co "ensen"', ["alice", "bjensen"]),
        ('sn co "ENSEN"', []),
        ('sn sw "J"', ["bjensen"]),
        ('sn sw "j"', ["alice"]),
        ('sn sw "Jensen"', ["bjensen"]),
        ('sn sw "Jensens"', []),
        ('note co ""', ["alice", "bjensen", "jdoe"]),  # every string holds ""
        ("note sw ''", ["alice", "bjensen", "jdoe"]),
        ('givenName co "ar"', ["bjensen"]),
        ('givenName co "AR"', []),
    ]
)
def test_string_operators_are_case_sensitive(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ('note co "%"', ["bjensen"]),
        ('note co "0%"', ["bjensen"]),
        ('note co "_"', ["bjensen"]),
        ('note sw "100%"', ["bjensen"]),
        ('note sw "100_"', []),  # as LIKE "100_%" this would match "100x surely"
        ('note co "x_s"', []),
        ('note co "%x"', []),
        ('note sw "100x"', ["jdoe"]),
        ('note eq "100% sure_thing"', ["bjensen"]),
        ('note eq "100_ sure_thing"', []),
    ]
)
def test_like_wildcards_in_values_are_literal(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ("age eq 30", ["bjensen"]),  # not alice's "30" nor flag's true
        ('age eq "30"', ["alice"]),  # a string only matches strings
        ("age eq 30.0", ["bjensen"]),
        ("age gt 30", ["jdoe"]),
        ("age ge 30", ["bjensen", "jdoe"]),
        ("age lt 45", ["bjensen"]),
        ("age le 45.0", ["bjensen", "jdoe"]),
        ("age lt 1000", ["bjensen", "jdoe"]),  # "30" and true are not numbers
        ("age eq 1", []),  # flag's age is true, not 1
        ("active eq 1", ["flag"]),
        ("score gt 0", ["bjensen"]),
        ("score lt 2.5", ["jdoe"]),
        ("score le 2.5", ["bjensen", "jdoe"]),
        ("score eq 2.5", ["bjensen"]),
        ("score ge -1", ["bjensen", "jdoe"]),
        ("score eq -1.0", ["jdoe"]),
        ("score gt 1e0", ["bjensen"]),
        ("t~0x eq 1", ["bjensen"]),
    ]
)
def test_numbers_compare_numerically_and_only_with_numbers(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ("active eq true", ["bjensen"]),
        ("active eq false", ["jdoe"]),
        ("active eq TRUE", ["bjensen"]),
        ('active eq "true"', ["alice"]),
        ("age eq true", ["flag"]),
        ("preferences/marketing eq true", ["bjensen"]),
        ("/preferences/marketing eq false", ["jdoe"]),
        ("preferences/updates eq false", ["bjensen"]),
        ("preferences/updates eq true", []),
        ("active lt true", ["jdoe"]),
        ("active le true", ["bjensen", "jdoe"]),
        ("active gt false", ["bjensen"]),
        ("active gt true", []),
    ]
)
def test_booleans_match_only_booleans(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ('userName gt "Z"', ["bjensen", "flag", "jdoe"]),
        # code point order on both databases: upper case sorts before lower case
        ('sn lt "a"', ["bjensen", "jdoe"]),
        ('sn ge "a"', ["alice"]),
        ('userName le "bjensen"', ["alice", "bjensen"]),
    ]
)
def test_string_ordering_uses_code_points(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ("mail pr", ["bjensen"]),  # jdoe's mail is null
        ("givenName pr", ["bjensen", "jdoe"]),
        ("preferences pr", ["alice", "bjensen", "jdoe"]),
        ("preferences/marketing pr", ["bjensen", "jdoe"]),
        ("preferences/marketing/deeper pr", []),
        ("nothing pr", []),
        ("/ pr", ALL),
    ]
)
def test_presence(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ("a~1b eq 'slash'", ["bjensen"]),
        ('a.b eq "dot"', ["bjensen"]),
        ('pct% eq "x"', ["alice"]),
        ('back\\slash eq "bs"', ["bjensen"]),
        ('preferences eq "x"', []),  # objects never equal strings
        ('preferences/marketing/x eq "x"', []),
    ]
)
def test_awkward_keys_are_addressable(users, text, expected):
    assert matching(text) == expected


AWKWARD_PATH = ("deep", "a b", "null", "", "c,d", "{}", "back\\x", "q'y")


def test_nested_awkward_path_is_addressable(users):
    def resolve(pointer):
        return JsonPathTarget("properties", AWKWARD_PATH)

    assert matching('x eq "found"', resolve=resolve) == ["bjensen"]
    assert matching("x pr", resolve=resolve) == ["bjensen"]


@pytest.mark.skipif(
    connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 45),
    reason="SQLite < 3.45 cannot address keys containing a double quote",
)
def test_key_with_a_double_quote_is_addressable(users):
    def resolve(pointer):
        return JsonPathTarget("properties", ("quoted", 'q"x', "k"))

    assert matching('x eq "found"', resolve=resolve) == ["bjensen"]


def test_key_with_a_quote_is_addressable(users):
    def resolve(pointer):
        return JsonPathTarget("properties", ("it's",))

    assert matching('x eq "quoted"', resolve=resolve) == ["alice"]


@cases(
    [
        ("!(mail pr)", ["alice", "flag", "jdoe"]),
        ('!(mail eq "bjensen@example.com")', ["alice", "flag", "jdoe"]),
        ('!(sn eq "Jensen")', ["alice", "flag", "jdoe"]),
        ('!sn eq "Jensen"', ["alice", "flag", "jdoe"]),
        ("!(age gt 30)", ["alice", "bjensen", "flag"]),
        ("!(active eq true)", ["alice", "flag", "jdoe"]),
        ('!(sn co "ensen" or age eq 45)', ["flag"]),
        ("!(sn pr and age lt 40)", ["alice", "flag", "jdoe"]),
        ('!!(sn eq "Jensen")', ["bjensen"]),
        ('!(!(sn eq "Jensen"))', ["bjensen"]),
        ('!(!(!(sn eq "Jensen")))', ["alice", "flag", "jdoe"]),
        ('!(sn eq "Jensen") and !(sn eq "Doe")', ["alice", "flag"]),
        ('!(userName in \'["bjensen", "jdoe"]\')', ["alice", "flag"]),
        ("!true", []),
        ("!false", ALL),
        ("!(true and false)", ALL),
    ]
)
def test_negation_is_the_complement_including_absent_properties(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ("true", ALL),
        ("false", []),
        ('sn co "ensen" and age eq 30', ["bjensen"]),
        ('userName eq "jdoe" or age eq true', ["flag", "jdoe"]),
        ('true and sn eq "Doe"', ["jdoe"]),
        ('false or sn eq "Doe"', ["jdoe"]),
        ('sn eq "Doe" or true', ALL),
        ('sn eq "Doe" and false', []),
        ('sn eq "Doe" or sn eq "Jensen" and age eq 45', ["jdoe"]),
        ('(sn eq "Doe" or sn eq "Jensen") and age eq 30', ["bjensen"]),
        (
            "(sn pr and (age eq 30 or (age eq 45 and mail pr))) or active eq 1",
            ["bjensen", "flag"],
        ),
    ]
)
def test_and_or_and_constants(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ('userName in \'["bjensen", "jdoe", "nobody"]\'', ["bjensen", "jdoe"]),
        ("age in '[30, true]'", ["bjensen", "flag"]),
        ("age in '[\"30\", 45.0]'", ["alice", "jdoe"]),
        ("age in '[]'", []),
    ]
)
def test_in_operator(users, text, expected):
    assert matching(text) == expected


@cases(
    [
        ('roles eq "admin"', ["l1"]),  # not the object key nor the lone scalar
        ('roles eq "user"', ["l2"]),
        ('roles eq "User"', ["l1"]),
        ("roles eq 5", ["l1"]),
        ("roles eq 5.0", ["l1"]),
        ('roles eq "5"', []),
        ("roles eq true", ["l1"]),
        ('roles co "ser"', ["l1", "l2"]),
        ('roles co "SER"', []),
        ('roles sw "U"', ["l1"]),
        ("roles gt 4", ["l1"]),
        ("roles in '[\"user\", 5]'", ["l1", "l2"]),
        ("roles pr", ["l1", "l2", "l3", "l4", "l5"]),
        ('!(roles eq "admin")', ["l2", "l3", "l4", "l5"]),
    ]
)
def test_json_array_target_matches_any_element(lists, text, expected):
    assert matching(text, object_type="list", resolve=resolve_list) == expected


def resolve_whole_properties(pointer):
    return ColumnTarget("properties")


@cases(
    [
        ('props eq "admin"', ["l4"]),  # a ColumnTarget on a JSONField: its value
        ("props pr", ["l1", "l2", "l3", "l4", "l5"]),
        ('props co "dm"', ["l4"]),
        ('!(props eq "admin")', ["l1", "l2", "l3", "l5"]),
        ("props in '[\"admin\", 5]'", ["l4"]),
    ]
)
def test_column_target_on_a_json_field_compares_json(lists, text, expected):
    found = matching(text, object_type="list", resolve=resolve_whole_properties)
    assert found == expected


@cases(
    [
        ('_id eq "jdoe"', ["jdoe"]),
        ('_id eq "JDOE"', []),
        ('_id sw "j"', ["jdoe"]),
        ('_id co "ens"', ["bjensen"]),
        ('_id co "ENS"', []),
        ('_id gt "f"', ["flag", "jdoe"]),
        ('_id lt "B"', []),  # code point order: every lower-case id sorts after "B"
        ("_id eq 5", []),  # numbers compare as their text
        ('_id in \'["alice", "flag", 7]\'', ["alice", "flag"]),
        ('!(_id eq "jdoe")', ["alice", "bjensen", "flag"]),
        ("_id pr", ALL),
        ("!(_id pr)", []),
        ("_rev eq 2", ["jdoe"]),
        ('_rev eq "3"', ["alice"]),
        ("_rev gt 2.5", ["alice", "flag"]),
        ("_rev ge 2.5", ["alice", "flag"]),
        ("_rev lt 2.5", ["bjensen", "jdoe"]),
        ("_rev le 2.5", ["bjensen", "jdoe"]),
        ("_rev eq 2.5", []),
        ("_rev eq 2.0", ["jdoe"]),
        ("!(_rev eq 2.5)", ALL),
        ("!(_rev gt 2)", ["bjensen", "jdoe"]),
        ("_rev in '[1, 4, 2.5]'", ["bjensen", "flag"]),
        ('created lt "2024-06-01T12:00:00Z"', ["bjensen"]),
        ('created ge "2024-06-01T12:00:00+00:00"', ["alice", "flag", "jdoe"]),
        ('created eq "2024-06-01T14:00:00+02:00"', ["jdoe"]),
        ('created eq "2024-06-01T12:00:00"', ["jdoe"]),  # naive is UTC
        ('created gt "2025-01-01"', ["flag"]),  # a date is its midnight UTC
        ('created ge "2025-01-01"', ["alice", "flag"]),
        ("created pr", ALL),
    ]
)
def test_column_targets(users, text, expected):
    assert matching(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '_rev eq "abc"',
        "_rev lt true",
        '_rev co "1"',
        '_rev sw "1"',
        "_rev eq 1e30",
        "_rev in '[1, \"x\"]'",
        'created lt "yesterday"',
        'created eq "2024-13-01"',
        "created eq 5",
        'created co "2024"',
        "_id eq true",
    ],
)
@pytest.mark.parametrize("eager", [True, False])
def test_values_a_column_cannot_take_are_rejected(users, text, eager):
    # Without the model the check happens when the Q is applied, still before SQL.
    with pytest.raises(QueryFilterValueError):
        matching(text, model=ManagedObject if eager else None)


@pytest.mark.parametrize(
    "text",
    [
        'sn foo "x"',  # unknown extended operator
        'sn my.op "x"',
        "sn co 5",
        "sn sw true",
        "sn in 5",
        "sn in 'not json'",
        "sn in '{\"a\": 1}'",
        "sn in '[[1]]'",
        "sn in '[null]'",
        "age in '[1e400]'",
        "age in '[99999999999999999999]'",
        'sn eq "nul\\\x00"',
        "_id co 5",
    ],
)
def test_unusable_operators_and_values_are_rejected(users, text):
    with pytest.raises(QueryFilterValueError):
        matching(text)


def test_in_list_is_bounded(users):
    values = ", ".join(str(n) for n in range(MAX_IN_VALUES + 1))
    with pytest.raises(QueryFilterValueError):
        matching(f"age in '[{values}]'")


def test_unknown_field_propagates(users):
    with pytest.raises(UnknownFieldError) as info:
        matching('unknown eq "x"')
    assert info.value.pointer == ("unknown",)
    assert str(info.value) == "Unknown field '/unknown'"


def alternating_groups(depth):
    """``depth`` nested groups alternating or/and; only the innermost leaf decides.

    Fillers are negated JSON and column comparisons that are false in an "or"
    group and true in an "and" group.
    """
    text = ""
    for level in range(depth - 1):
        if level % 2:
            text += f'(!sn eq "L{level}" and !_rev gt 100 and '
        else:
            text += f'(sn eq "L{level}" or !_rev le 100 or '
    # No "!" in the innermost group: it would be one level beyond MAX_DEPTH.
    return text + '(sn eq "Jensen" or sn eq "x")' + ")" * (depth - 1)


def sql_depth_limit():
    return MAX_SQL_DEPTH.get(connection.vendor, MAX_DEPTH)


def test_deepest_alternating_filter_the_database_takes_runs(users):
    assert matching(alternating_groups(sql_depth_limit())) == ["bjensen"]


def test_one_group_deeper_is_a_clean_error_or_still_runs():
    depth = sql_depth_limit() + 1
    if depth > MAX_DEPTH:  # the parser rejects it before SQL is involved
        pytest.skip("no SQL depth limit below the parser's on this database")
    with pytest.raises(QueryFilterValueError):
        compile_filter(parse_query_filter(alternating_groups(depth)), resolve_user)


def test_parser_depth_of_parentheses_is_runs_or_is_rejected_cleanly(users):
    text = ""
    for level in range(MAX_DEPTH):
        text += f"(age eq {level + 100} {'and' if level % 2 else 'or'} "
    text += 'sn eq "Jensen"' + ")" * MAX_DEPTH
    if sql_depth_limit() >= MAX_DEPTH:
        assert matching(text) == []
    else:
        with pytest.raises(QueryFilterValueError):
            matching(text)


def test_negations_push_down_so_deep_not_chains_stay_shallow(users):
    # "!(a or !(b and !(...)))" is "!a and b and ..." after De Morgan: one group,
    # far within SQLite's limit although it nests 2 * 128 levels in the text.
    depth = MAX_DEPTH // 2 - 1  # 2 per level, plus the inner "!sn"
    text = "".join(
        f'!(sn eq "L{level}" or ' if level % 2 == 0 else f'!(!sn eq "L{level}" and '
        for level in range(depth)
    )
    text += 'sn eq "Jensen"' + ")" * depth
    assert matching(text) == ["alice", "flag", "jdoe"]  # an odd number of "!"


def test_wide_filter_runs(users):
    text = " or ".join(f'userName eq "user{n}"' for n in range(900))
    assert matching(text + ' or userName eq "jdoe"') == ["jdoe"]


@pytest.mark.parametrize(
    ("vendor", "path", "sql"),
    [
        ("postgresql", ("userName",), """("properties" ->> 'userName')"""),
        (
            "postgresql",
            ("preferences", "marketing"),
            """("properties" #>> '{preferences,marketing}')""",
        ),
        ("postgresql", ("it's",), """("properties" ->> 'it''s')"""),
        (
            "postgresql",
            ("a b", 'q"x', "null", "", "c,d", "{}", "back\\x"),
            """("properties" #>> '{"a b","q\\"x","null","","c,d","{}","back\\\\x"}')""",
        ),
        ("postgresql", (), """("properties" #>> '{}')"""),
        ("sqlite", ("userName",), """json_extract("properties", '$."userName"')"""),
        (
            "sqlite",
            ("preferences", "marketing"),
            """json_extract("properties", '$."preferences"."marketing"')""",
        ),
        (
            "sqlite",
            ("it's", "a.b"),
            """json_extract("properties", '$."it''s"."a.b"')""",
        ),
        ("sqlite", ('q"x',), """json_extract("properties", '$."q\\"x"')"""),
        ("sqlite", (), """json_extract("properties", '$')"""),
    ],
)
def test_json_text_sql_inlines_a_quoted_path(vendor, path, sql):
    assert json_text_sql(vendor, '"properties"', path) == sql


def test_json_value_and_type_sql():
    assert json_value_sql("postgresql", "p", ("a",)) == "(p -> 'a')"
    assert json_value_sql("postgresql", "p", ("a", "b")) == "(p #> '{a,b}')"
    assert json_value_sql("sqlite", "p", ("a",)) == "json_extract(p, '$.\"a\"')"
    assert json_type_sql("postgresql", "p", ("a",)) == "jsonb_typeof((p -> 'a'))"
    assert json_type_sql("sqlite", "p", ("a",)) == "json_type(p, '$.\"a\"')"


def test_json_sql_rejects_other_vendors_and_nul():
    with pytest.raises(NotSupportedError):
        json_text_sql("oracle", "p", ("a",))
    with pytest.raises(ValueError, match="NUL"):
        json_text_sql("sqlite", "p", ("a\x00",))


def test_json_text_and_value_annotate_and_order(users):
    # No bound parameters at all: the "%" in the inlined path must still survive.
    rows = ManagedObject.objects.annotate(
        pct=JsonText("properties", ("pct%",)),
        age=JsonValue("properties", ("age",)),
        marketing=JsonValue("properties", ("preferences", "marketing")),
    ).order_by(JsonText("properties", ("userName",)).desc())
    assert [(r.object_id, r.pct, r.age, r.marketing) for r in rows] == [
        ("jdoe", None, 45, False),
        ("flag", None, True, None),
        ("bjensen", None, 30, True),
        ("alice", "x", "30", None),
    ]


def test_json_type_is(users):
    def having(*kinds):
        condition = JsonTypeIs("properties", ("age",), kinds)
        objects = ManagedObject.objects.filter(condition)
        return sorted(objects.values_list("object_id", flat=True))

    assert having("number") == ["bjensen", "jdoe"]
    assert having("string", "true") == ["alice", "flag"]
    assert having("true", "false") == ["flag"]
    assert having() == []
    with pytest.raises(ValueError, match="unknown JSON kinds"):
        JsonTypeIs("properties", ("age",), ["integer"])


def explain(queryset):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Statistics for the expression indexes; and a small table would
            # otherwise be read sequentially whatever the indexes.
            cursor.execute(f"ANALYZE {ManagedObject._meta.db_table}")
            cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def create_partial_index(name, object_type, path, *, unique=False):
    """The DDL shape managed.indexes uses: json_text_sql, partial on the type."""
    quote = connection.ops.quote_name
    expression = json_text_sql(connection.vendor, quote("properties"), path)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote(name)} ON "
            f"{quote(ManagedObject._meta.db_table)} ({expression}) "
            f"WHERE {quote('object_type_id')} = {int(object_type.pk)}"
        )


@pytest.fixture
def indexed_users():
    """A type whose indexes exist before its objects, as in production.

    Rows updated in the same transaction before the index is built would make
    PostgreSQL hide the new index from that transaction (broken HOT chains),
    so this fixture only inserts, and enough rows that the object_type_id
    index is not selective.
    """
    user_type = ManagedObjectType.objects.create(name="indexed", config={})
    create_partial_index("crest_test_username", user_type, ("userName",), unique=True)
    create_partial_index(
        "crest_test_marketing", user_type, ("preferences", "marketing")
    )
    ManagedObject.objects.bulk_create(
        ManagedObject(
            object_type=user_type,
            object_id=f"user{n}",
            properties={"userName": f"user{n}", "preferences": {"marketing": n % 2}},
        )
        for n in range(2000)
    )
    return user_type


def assert_uses_index(plan, name):
    if connection.vendor == "sqlite":
        assert f"USING INDEX {name}" in plan
    else:
        assert "Index Scan" in plan
        assert name in plan


def test_eq_filter_uses_the_partial_expression_index(indexed_users):
    in_type = ManagedObject.objects.filter(object_type=indexed_users)
    condition = compile_filter(parse_query_filter('userName eq "user7"'), resolve_user)
    assert_uses_index(explain(in_type.filter(condition)), "crest_test_username")
    assert list(in_type.filter(condition).values_list("object_id", flat=True)) == [
        "user7"
    ]


def test_json_text_alias_uses_the_partial_expression_index(indexed_users):
    queryset = (
        ManagedObject.objects.filter(object_type=indexed_users)
        .alias(u=JsonText("properties", ("userName",)))
        .filter(u="user7")
    )
    assert_uses_index(explain(queryset), "crest_test_username")


def test_nested_path_index_is_used(indexed_users):
    queryset = (
        ManagedObject.objects.filter(object_type=indexed_users)
        .alias(m=JsonText("properties", ("preferences", "marketing")))
        .filter(m="x")
    )
    assert_uses_index(explain(queryset), "crest_test_marketing")
