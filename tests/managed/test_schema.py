"""managed.schema: parsing managed.json, the CSV model, config errors (pure)."""

import copy
import json

import pytest

from managed.schema import (
    DEFAULT_CONFIG_PATH,
    NO_DEFAULT,
    ManagedConfigError,
    ObjectSchema,
    PolicySpec,
    column_name,
    compile_js_regex,
    load_default_config,
    parse_managed_config,
    parse_object_schema,
)

USER_COLUMNS = [
    "userName",
    "givenName",
    "sn",
    "mail",
    "description",
    "accountStatus",
    "telephoneNumber",
    "postalAddress",
    "city",
    "postalCode",
    "country",
    "stateProvince",
    "preferences/updates",
    "preferences/marketing",
]
REALM_EXTRA = [
    "displayName",
    *(f"frIndexedString{i}" for i in range(1, 6)),
    *(f"frUnindexedString{i}" for i in range(1, 6)),
    *(f"frIndexedInteger{i}" for i in range(1, 6)),
]
ALPHA_USER_COLUMNS = [
    *USER_COLUMNS[:8],
    "address2",
    *USER_COLUMNS[8:],
    *REALM_EXTRA,
]


@pytest.fixture(scope="module")
def default_config():
    return load_default_config()


@pytest.fixture(scope="module")
def schemas(default_config):
    return {schema.name: schema for schema in parse_managed_config(default_config)}


def columns(schema: ObjectSchema) -> list[str]:
    return [prop.column for prop in schema.csv_columns]


def entry(properties, **schema_extra):
    """A minimal managed.json object entry named ``thing``."""
    return {"name": "thing", "schema": {"properties": properties, **schema_extra}}


# ---------------------------------------------------------------- default config


def test_default_config_file_is_shipped_next_to_module():
    assert DEFAULT_CONFIG_PATH.name == "managed.json"
    assert DEFAULT_CONFIG_PATH.parent.name == "config"
    assert json.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")) == (
        load_default_config()
    )


def test_default_config_has_idm_and_realm_types(schemas):
    assert list(schemas) == [
        "user",
        "role",
        "assignment",
        "alpha_user",
        "bravo_user",
        "alpha_role",
        "bravo_role",
        "alpha_assignment",
        "bravo_assignment",
    ]


def test_user_csv_columns_are_the_documented_template(schemas):
    assert columns(schemas["user"]) == USER_COLUMNS


def test_user_template_header_exact(schemas):
    assert schemas["user"].template_header() == (
        '"userName","givenName","sn","mail","description","accountStatus",'
        '"telephoneNumber","postalAddress","city","postalCode","country",'
        '"stateProvince","preferences/updates","preferences/marketing"'
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("role", ["name", "description"]),
        ("alpha_role", ["name", "description"]),
        ("bravo_role", ["name", "description"]),
        ("assignment", ["name", "description", "mapping"]),
        ("alpha_assignment", ["name", "description", "mapping"]),
        ("bravo_assignment", ["name", "description", "mapping"]),
        ("alpha_user", ALPHA_USER_COLUMNS),
        ("bravo_user", ALPHA_USER_COLUMNS),
    ],
)
def test_csv_columns_of_other_types(schemas, name, expected):
    assert columns(schemas[name]) == expected


def test_role_and_assignment_template_headers(schemas):
    assert schemas["role"].template_header() == '"name","description"'
    assert schemas["assignment"].template_header() == '"name","description","mapping"'


def test_user_required_and_unique(schemas):
    user = schemas["user"]
    assert user.required == frozenset({"userName", "givenName", "sn", "mail"})
    assert [p.column for p in user.unique_properties] == ["userName"]
    assert [p.column for p in user.searchable_properties] == [
        "userName",
        "givenName",
        "sn",
        "mail",
        "profileImage",
        "description",
        "accountStatus",
    ]


def test_required_of_role_and_assignment(schemas):
    assert schemas["role"].required == frozenset({"name"})
    assert schemas["assignment"].required == frozenset(
        {"name", "description", "mapping"}
    )


def test_user_name_policies(schemas):
    user_name = schemas["user"].property(("userName",))
    assert user_name.policies == (
        PolicySpec("unique", {}),
        PolicySpec("no-internal-user-conflict", {}),
        PolicySpec("cannot-contain-characters", {"forbiddenChars": ["/"]}),
        PolicySpec("minimum-length", {"minLength": 1}),
        PolicySpec("maximum-length", {"maxLength": 255}),
    )
    assert user_name.unique
    assert user_name.required
    assert user_name.searchable


def test_user_property_flags(schemas):
    user = schemas["user"]
    assert user.property(("mail",)).policies == (
        PolicySpec("valid-email-address-format", {}),
    )
    assert user.property(("telephoneNumber",)).pattern == r"^\+?([0-9\- \(\)])*$"
    assert user.property(("accountStatus",)).default == "active"
    assert user.property(("givenName",)).default is NO_DEFAULT
    password = user.property(("password",))
    assert password.private
    assert not password.viewable
    assert user.property(("cn",)).virtual
    assert user.property(("profileImage",)).viewable is False
    assert user.property(("roles",)).type == "array"
    assert user.property(("manager",)).type == "relationship"
    assert user.property(("manager",)).children == ()
    assert user.property(("description",)).viewable is True


def test_user_schema_keeps_idm_order(schemas):
    names = [prop.name for prop in schemas["user"].properties]
    assert names[:6] == ["_id", "userName", "password", "givenName", "sn", "cn"]
    assert "activeDate" not in names
    assert names[-1] == "memberOfOrgIDs"


def test_preferences_children(schemas):
    user = schemas["user"]
    preferences = user.property(("preferences",))
    assert preferences.type == "object"
    assert [c.name for c in preferences.children] == ["updates", "marketing"]
    marketing = user.property(("preferences", "marketing"))
    assert marketing is preferences.children[1]
    assert marketing.path == ("preferences", "marketing")
    assert marketing.type == "boolean"
    assert column_name(marketing) == "preferences/marketing"
    assert user.column_name(marketing) == "preferences/marketing"
    assert user.property("preferences/marketing") is marketing
    assert user.csv_column_map["preferences/updates"].name == "updates"


def test_property_lookup_misses(schemas):
    user = schemas["user"]
    assert user.property(("nope",)) is None
    assert user.property(("preferences", "nope")) is None
    assert user.property(("userName", "x")) is None


def test_realm_variants_point_relationships_to_their_realm(schemas):
    roles = schemas["alpha_user"].property(("roles",)).raw
    assert roles["items"]["resourceCollection"][0]["path"] == "managed/alpha_role"
    members = schemas["bravo_role"].property(("members",)).raw
    assert members["items"]["resourceCollection"][0]["path"] == "managed/bravo_user"


def test_realm_integer_attributes_are_numbers(schemas):
    prop = schemas["alpha_user"].property(("frIndexedInteger1",))
    assert prop.type == "number"
    assert prop.searchable
    assert schemas["alpha_user"].property(("frUnindexedString1",)).searchable is False


def test_raw_round_trips_and_is_a_copy(default_config, schemas):
    for raw_entry, schema in zip(
        default_config["objects"], schemas.values(), strict=True
    ):
        assert schema.raw == raw_entry
        assert schema.raw is not raw_entry
    assert json.loads(json.dumps(schemas["user"].raw)) == default_config["objects"][0]


# ---------------------------------------------------------------- parsing rules


def test_type_array_is_nullable_first_non_null_type():
    schema = parse_object_schema(
        entry(
            {
                "a": {"type": ["string", "null"]},
                "b": {"type": ["null", "integer"]},
                "c": {"type": "string"},
                "d": {"type": ["null"]},
                "e": {"type": "boolean", "nullable": True},
            }
        )
    )
    a, b, c, d, e = schema.properties
    assert (a.type, a.types, a.nullable) == ("string", ("string", "null"), True)
    assert (b.type, b.types, b.nullable) == ("integer", ("null", "integer"), True)
    assert (c.type, c.types, c.nullable) == ("string", ("string",), False)
    assert (d.type, d.nullable) == ("null", True)
    assert e.nullable
    assert columns(schema) == ["a", "b", "c", "e"]


def test_order_first_then_remaining_keys():
    schema = parse_object_schema(
        entry(
            {"x": {"type": "string"}, "y": {"type": "string"}, "z": {"type": "string"}},
            order=["z", "x"],
        )
    )
    assert [p.name for p in schema.properties] == ["z", "x", "y"]


def test_csv_rule_skips_underscore_private_virtual_hidden_non_scalar():
    schema = parse_object_schema(
        entry(
            {
                "_id": {"type": "string"},
                "secret": {"type": "string", "scope": "private"},
                "computed": {"type": "string", "isVirtual": True},
                "hidden": {"type": "string", "viewable": False},
                "tags": {"type": "array", "items": {"type": "string"}},
                "boss": {"type": "relationship"},
                "blob": {"type": "object"},
                "anything": {},
                "n": {"type": "number"},
                "i": {"type": "integer"},
                "flag": {"type": "boolean"},
                "s": {"type": "string"},
            }
        )
    )
    assert columns(schema) == ["n", "i", "flag", "s"]
    assert schema.property(("anything",)).type == "any"


def test_nested_objects_flatten_recursively_with_their_own_order():
    schema = parse_object_schema(
        entry(
            {
                "address": {
                    "type": "object",
                    "order": ["street", "geo", "city"],
                    "required": ["city"],
                    "properties": {
                        "city": {"type": "string"},
                        "street": {"type": "string"},
                        "_internal": {"type": "string"},
                        "geo": {
                            "type": "object",
                            "properties": {
                                "lat": {"type": "number"},
                                "hidden": {"type": "number", "viewable": False},
                            },
                        },
                    },
                },
                "after": {"type": "string"},
            }
        )
    )
    assert columns(schema) == [
        "address/street",
        "address/geo/lat",
        "address/city",
        "after",
    ]
    assert schema.property(("address", "city")).required
    assert not schema.property(("address", "street")).required
    assert schema.required == frozenset()
    assert [p.column for p in schema.all_properties] == [
        "address",
        "address/street",
        "address/geo",
        "address/geo/lat",
        "address/geo/hidden",
        "address/city",
        "address/_internal",
        "after",
    ]


def test_private_or_hidden_object_children_are_skipped():
    schema = parse_object_schema(
        entry(
            {
                "p": {
                    "type": "object",
                    "scope": "private",
                    "properties": {"a": {"type": "string"}},
                },
                "h": {
                    "type": "object",
                    "viewable": False,
                    "properties": {"a": {"type": "string"}},
                },
            }
        )
    )
    assert columns(schema) == []


def test_required_sources():
    schema = parse_object_schema(
        entry(
            {
                "listed": {"type": "string"},
                "flagged": {"type": "string", "required": True},
                "policy": {"type": "string", "policies": [{"policyId": "required"}]},
                "optional": {"type": "string", "required": False},
            },
            required=["listed"],
        )
    )
    assert schema.required == frozenset({"listed", "flagged", "policy"})


def test_schema_level_lengths_and_pattern():
    schema = parse_object_schema(
        entry(
            {
                "code": {
                    "type": "string",
                    "minLength": 2,
                    "maxLength": "5",
                    "pattern": "^[A-Z]+$",
                }
            }
        )
    )
    code = schema.property(("code",))
    assert (code.min_length, code.max_length, code.pattern) == (2, 5, "^[A-Z]+$")


def test_entry_without_schema_has_no_properties():
    schema = parse_object_schema({"name": "bare"})
    assert schema.properties == ()
    assert schema.csv_columns == ()
    assert schema.template_header() == ""


def test_template_header_escapes_quotes():
    schema = parse_object_schema(entry({'we"ird': {"type": "string"}}))
    assert schema.template_header() == '"we""ird"'


def test_unknown_keys_are_kept_and_accepted():
    raw = {
        "name": "device",
        "onCreate": {"type": "text/javascript", "source": "1"},
        "customTopLevel": [1, 2],
        "schema": {
            "$schema": "http://forgerock.org/json-schema#",
            "icon": "fa-mobile",
            "properties": {
                "serial": {
                    "type": "string",
                    "x-vendor": {"deep": [True]},
                    "policies": [
                        {"policyId": "my-scripted-policy", "params": {"anything": 1}},
                        {"policyId": "mapping-exists"},
                    ],
                },
            },
        },
    }
    original = copy.deepcopy(raw)
    schema = parse_object_schema(raw)
    assert schema.raw == original
    assert schema.property(("serial",)).raw["x-vendor"] == {"deep": [True]}
    assert [p.policy_id for p in schema.property(("serial",)).policies] == [
        "my-scripted-policy",
        "mapping-exists",
    ]
    assert raw == original  # the input is never modified


def test_duplicate_order_entries_are_tolerated():
    schema = parse_object_schema(entry({"a": {"type": "string"}}, order=["a", "a"]))
    assert [p.name for p in schema.properties] == ["a"]


def test_schemas_are_identity_hashable(schemas):
    user = schemas["user"]
    cache = {user: 1, user.property(("mail",)): 2}
    assert cache[user] == 1


# ---------------------------------------------------------------- config errors


def error_of(raw_entry) -> ManagedConfigError:
    with pytest.raises(ManagedConfigError) as info:
        parse_object_schema(raw_entry)
    return info.value


@pytest.mark.parametrize(
    ("raw_entry", "prop", "fragment"),
    [
        (entry({"a": {"type": "strin"}}), "a", 'type "strin" is not an IDM type'),
        (entry({"a": {"type": ["string", 3]}}), "a", "type 3 is not an IDM type"),
        (entry({"a": {"type": []}}), "a", "non-empty array"),
        (entry({"a": "string"}), "a", "must be an object"),
        (entry({"a": {"type": "string"}}, required=["b"]), "b", "listed in 'required'"),
        (entry({"a": {"type": "string"}}, order=["a", "c"]), "c", "listed in 'order'"),
        (
            entry({"a": {"type": "string", "policies": [{"params": {}}]}}),
            "a",
            "no 'policyId'",
        ),
        (entry({"a": {"type": "string", "policies": ["unique"]}}), "a", "policyId"),
        (entry({"a": {"type": "string", "policies": {"policyId": "x"}}}), "a", "array"),
        (
            entry(
                {"a": {"type": "string", "policies": [{"policyId": "x", "params": 1}]}}
            ),
            "a",
            "params of policy 'x'",
        ),
        (entry({"a": {"type": "string", "pattern": "([a-z"}}), "a", "invalid regular"),
        (
            entry(
                {
                    "a": {
                        "type": "string",
                        "policies": [
                            {"policyId": "regexpMatches", "params": {"regexp": "(("}}
                        ],
                    }
                }
            ),
            "a",
            "invalid regular expression",
        ),
        (
            entry(
                {
                    "a": {
                        "type": "string",
                        "policies": [
                            {
                                "policyId": "regexpMatches",
                                "params": {"regexp": "a", "flags": "q"},
                            }
                        ],
                    }
                }
            ),
            "a",
            "unknown regular expression flag",
        ),
        (
            entry(
                {"a": {"type": "string", "policies": [{"policyId": "regexpMatches"}]}}
            ),
            "a",
            "must be a string",
        ),
        (
            entry(
                {
                    "a": {
                        "type": "string",
                        "policies": [
                            {"policyId": "minimum-length", "params": {"minLength": "x"}}
                        ],
                    }
                }
            ),
            "a",
            "'minLength'",
        ),
        (
            entry(
                {
                    "a": {
                        "type": "string",
                        "policies": [{"policyId": "cannot-contain-characters"}],
                    }
                }
            ),
            "a",
            "forbiddenChars",
        ),
        (entry({"a": {"type": "string", "maxLength": -1}}), "a", "'maxLength'"),
        (entry({"a/b": {"type": "string"}}), "a/b", "must not contain '/'"),
        (
            entry(
                {
                    "preferences": {
                        "type": "object",
                        "properties": {"marketing": {"type": "bool"}},
                    }
                }
            ),
            "preferences/marketing",
            'type "bool"',
        ),
        (
            entry(
                {
                    "preferences": {
                        "type": "object",
                        "required": ["nope"],
                        "properties": {"marketing": {"type": "boolean"}},
                    }
                }
            ),
            "preferences/nope",
            "listed in 'required'",
        ),
    ],
)
def test_property_errors_name_object_and_property(raw_entry, prop, fragment):
    error = error_of(raw_entry)
    assert error.object_name == "thing"
    assert error.property_path == prop
    assert f"managed object 'thing', property '{prop}'" in str(error)
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("raw_entry", "object_name", "fragment"),
    [
        ({"name": "thing", "schema": []}, "thing", "'schema' must be an object"),
        ({"name": "thing", "schema": {"properties": []}}, "thing", "'properties' must"),
        ({"name": "thing", "schema": {"required": "a"}}, "thing", "'required' must"),
        ({"name": "thing", "schema": {"order": [1]}}, "thing", "'order' must"),
        ({"name": "bad-name"}, "bad-name", "must match [a-zA-Z0-9_]+"),
        ({"name": ""}, "(unnamed)", "must match"),
        ({"schema": {}}, "(unnamed)", "'name' must match"),
        ({"name": 5}, "(unnamed)", "not 5"),
    ],
)
def test_object_errors_name_the_object(raw_entry, object_name, fragment):
    error = error_of(raw_entry)
    assert error.object_name == object_name
    assert error.property_path is None
    assert f"managed object '{object_name}'" in str(error)
    assert fragment in str(error)


def test_entry_not_a_mapping():
    error = error_of(["not", "an", "object"])
    assert "must be a JSON object" in str(error)


def test_config_errors_name_the_entry_index():
    with pytest.raises(ManagedConfigError) as info:
        parse_managed_config({"objects": [{"name": "ok"}, "nope"]})
    assert info.value.object_name == "objects[1]"
    assert "managed object 'objects[1]'" in str(info.value)


def test_config_without_objects_array():
    for bad in ({}, {"objects": {}}, [], None):
        with pytest.raises(ManagedConfigError, match="'objects' array"):
            parse_managed_config(bad)


def test_duplicate_object_names():
    with pytest.raises(ManagedConfigError) as info:
        parse_managed_config({"objects": [{"name": "user"}, {"name": "user"}]})
    assert info.value.object_name == "user"
    assert str(info.value) == "managed object 'user': defined more than once"


def test_config_error_is_a_value_error_with_positional_args():
    error = ManagedConfigError("user", None, "boom")
    assert isinstance(error, ValueError)
    assert str(error) == "managed object 'user': boom"
    assert error.message == "managed object 'user': boom"
    assert error.detail == "boom"


# ---------------------------------------------------------------- JS regexps


@pytest.mark.parametrize(
    ("source", "flags", "text", "matches"),
    [
        (r"^\+?([0-9\- \(\)])*$", None, "+1 (555) 010-0", True),
        (r"^\+?([0-9\- \(\)])*$", None, "555x", False),
        ("^abc$", None, "abc\n", False),  # JS "$" is the end of input
        ("^abc$", "m", "abc\nxyz", True),
        ("^ABC$", "i", "abc", True),
        (r"^\d+$", None, "١٢٣", False),  # JS \d is ASCII only
        (r"^[\d]+$", None, "123", True),
        (r"^\w+$", None, "é", False),
        ("b", "g", "abc", True),  # test() searches; "g" is irrelevant
        (r"^(?<year>[0-9]{4})$", None, "2024", True),
        (r"^a(?<=a)$", None, "a", True),
        (r"^[$]$", None, "$", True),
    ],
)
def test_compile_js_regex(source, flags, text, matches):
    assert (compile_js_regex(source, flags).search(text) is not None) is matches
