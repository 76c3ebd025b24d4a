"""managed.policy: IDM policy validation, failures, defaults (pure)."""

import pytest

from managed import policy
from managed.policy import (
    DATABASE_POLICY_IDS,
    IGNORED_POLICY_IDS,
    Validator,
    apply_defaults,
    compile_validator,
    merge_failures,
    policy_error,
)
from managed.schema import (
    load_default_config,
    parse_managed_config,
    parse_object_schema,
)


@pytest.fixture(scope="module")
def schemas():
    return {s.name: s for s in parse_managed_config(load_default_config())}


@pytest.fixture(scope="module")
def user_validator(schemas) -> Validator:
    return compile_validator(schemas["user"])


def one_property(definition, **schema_extra) -> Validator:
    """A validator for a type with the single property ``p``."""
    return compile_validator(
        parse_object_schema(
            {"name": "t", "schema": {"properties": {"p": definition}, **schema_extra}}
        )
    )


def with_policy(policy_id, params=None, type_="string") -> dict:
    spec = {"policyId": policy_id}
    if params is not None:
        spec["params"] = params
    return {"type": type_, "policies": [spec]}


def reqs(validator: Validator, value, *, is_create=False):
    """The requirements failed by ``p`` (None when ``p`` passes)."""
    failed = validator.validate({"p": value}, is_create=is_create)
    assert len(failed) <= 1
    if not failed:
        return None
    assert failed[0]["property"] == "p"
    return failed[0]["policyRequirements"]


USER_ROW = {
    "userName": "jdoe",
    "givenName": "John",
    "sn": "Doe",
    "mail": "jdoe@example.com",
}


# ------------------------------------------------------------ requirement names


def test_requirement_name_constants():
    assert (
        policy.REQUIRED,
        policy.UNIQUE,
        policy.VALID_TYPE,
        policy.VALID_EMAIL_ADDRESS_FORMAT,
        policy.MIN_LENGTH,
        policy.MAX_LENGTH,
        policy.MATCH_REGEXP,
        policy.CANNOT_CONTAIN_CHARACTERS,
        policy.CANNOT_CONTAIN_OTHERS,
        policy.CANNOT_CONTAIN_DUPLICATES,
        policy.VALID_PHONE_FORMAT,
        policy.VALID_DATE,
        policy.VALID_DATETIME,
        policy.VALID_NAME_FORMAT,
        policy.AT_LEAST_X_CAPITAL_LETTERS,
        policy.AT_LEAST_X_NUMBERS,
    ) == (
        "REQUIRED",
        "UNIQUE",
        "VALID_TYPE",
        "VALID_EMAIL_ADDRESS_FORMAT",
        "MIN_LENGTH",
        "MAX_LENGTH",
        "MATCH_REGEXP",
        "CANNOT_CONTAIN_CHARACTERS",
        "CANNOT_CONTAIN_OTHERS",
        "CANNOT_CONTAIN_DUPLICATES",
        "VALID_PHONE_FORMAT",
        "VALID_DATE",
        "VALID_DATETIME",
        "VALID_NAME_FORMAT",
        "AT_LEAST_X_CAPITAL_LETTERS",
        "AT_LEAST_X_NUMBERS",
    )
    assert frozenset({"unique", "no-internal-user-conflict"}) == DATABASE_POLICY_IDS
    assert {"mapping-exists", "valid-temporal-constraints"} <= IGNORED_POLICY_IDS


# Each case: property definition, failing value, exact requirements, passing value.
CASES = {
    "VALID_EMAIL_ADDRESS_FORMAT": (
        with_policy("valid-email-address-format"),
        "tlopez-at-example",
        [{"policyRequirement": "VALID_EMAIL_ADDRESS_FORMAT"}],
        "t.lopez+x@example.co.uk",
    ),
    "MIN_LENGTH policy": (
        with_policy("minimum-length", {"minLength": 3}),
        "ab",
        [{"policyRequirement": "MIN_LENGTH", "params": {"minLength": 3}}],
        "abc",
    ),
    "MIN_LENGTH schema": (
        {"type": "string", "minLength": 3},
        "ab",
        [{"policyRequirement": "MIN_LENGTH", "params": {"minLength": 3}}],
        "abc",
    ),
    "MAX_LENGTH policy": (
        with_policy("maximum-length", {"maxLength": 3}),
        "abcd",
        [{"policyRequirement": "MAX_LENGTH", "params": {"maxLength": 3}}],
        "abc",
    ),
    "MAX_LENGTH schema": (
        {"type": "string", "maxLength": 3},
        "abcd",
        [{"policyRequirement": "MAX_LENGTH", "params": {"maxLength": 3}}],
        "abc",
    ),
    "MATCH_REGEXP policy": (
        with_policy("regexpMatches", {"regexp": "^[a-z]+$"}),
        "abc1",
        [{"policyRequirement": "MATCH_REGEXP", "params": {"regexp": "^[a-z]+$"}}],
        "abc",
    ),
    "MATCH_REGEXP flags": (
        with_policy("regexpMatches", {"regexp": "^[a-z]+$", "flags": "i"}),
        "ab-c",
        [
            {
                "policyRequirement": "MATCH_REGEXP",
                "params": {"regexp": "^[a-z]+$", "flags": "i"},
            }
        ],
        "ABC",
    ),
    "MATCH_REGEXP schema pattern": (
        {"type": "string", "pattern": r"^\+?([0-9\- \(\)])*$"},
        "555-CALL",
        [
            {
                "policyRequirement": "MATCH_REGEXP",
                "params": {"regexp": r"^\+?([0-9\- \(\)])*$"},
            }
        ],
        "+1 (555) 010-0100",
    ),
    "MATCH_REGEXP number cast to string": (
        with_policy("regexpMatches", {"regexp": "^[0-9]{3}$"}, type_="number"),
        12,
        [{"policyRequirement": "MATCH_REGEXP", "params": {"regexp": "^[0-9]{3}$"}}],
        123.0,
    ),
    "CANNOT_CONTAIN_CHARACTERS": (
        with_policy("cannot-contain-characters", {"forbiddenChars": ["/", "*"]}),
        "a*b",
        [
            {
                "policyRequirement": "CANNOT_CONTAIN_CHARACTERS",
                "params": {"forbiddenChars": ["/", "*"]},
            }
        ],
        "a-b",
    ),
    "CANNOT_CONTAIN_CHARACTERS string param": (
        with_policy("cannot-contain-characters", {"forbiddenChars": "/*"}),
        "a/b",
        [
            {
                "policyRequirement": "CANNOT_CONTAIN_CHARACTERS",
                "params": {"forbiddenChars": ["/", "*"]},
            }
        ],
        "ab",
    ),
    "VALID_PHONE_FORMAT": (
        with_policy("valid-phone-format"),
        "555-CALL-NOW",
        [{"policyRequirement": "VALID_PHONE_FORMAT"}],
        "+44 (0) 20-7946-0018",
    ),
    "VALID_DATE": (
        with_policy("valid-date"),
        "2024-02-30",
        [{"policyRequirement": "VALID_DATE"}],
        "2024-02-29",
    ),
    "VALID_DATE rfc2822": (
        with_policy("valid-date"),
        "yesterday",
        [{"policyRequirement": "VALID_DATE"}],
        "Tue, 01 Oct 2024 10:00:00 GMT",
    ),
    "VALID_DATETIME": (
        with_policy("valid-datetime"),
        "2024-05-01",
        [{"policyRequirement": "VALID_DATETIME"}],
        "2024-05-01T10:00:00Z",
    ),
    "VALID_NAME_FORMAT": (
        with_policy("valid-name-format"),
        "Bobby!",
        [{"policyRequirement": "VALID_NAME_FORMAT"}],
        "Zoë O'Brien-Łukasz",
    ),
    "VALID_NAME_FORMAT non latin": (
        with_policy("valid-name-format"),
        "名前",
        [{"policyRequirement": "VALID_NAME_FORMAT"}],
        "Ana María",
    ),
    "AT_LEAST_X_CAPITAL_LETTERS": (
        with_policy("at-least-X-capitals", {"numCaps": 2}),
        "Abcdef",
        [{"policyRequirement": "AT_LEAST_X_CAPITAL_LETTERS", "params": {"numCaps": 2}}],
        "AbcDef",
    ),
    "AT_LEAST_X_NUMBERS": (
        with_policy("at-least-X-numbers", {"numNums": 1}),
        "abcdef",
        [{"policyRequirement": "AT_LEAST_X_NUMBERS", "params": {"numNums": 1}}],
        "abc1ef",
    ),
    "CANNOT_CONTAIN_DUPLICATES": (
        with_policy("cannot-contain-duplicates", type_="array"),
        ["a", "b", "a"],
        [
            {
                "policyRequirement": "CANNOT_CONTAIN_DUPLICATES",
                "params": {"duplicateValue": "a"},
            }
        ],
        ["a", "b", 1, True, {"x": 1}],
    ),
    "CANNOT_CONTAIN_DUPLICATES objects": (
        with_policy("cannot-contain-duplicates", type_="array"),
        [{"x": 1}, {"x": 1}],
        [
            {
                "policyRequirement": "CANNOT_CONTAIN_DUPLICATES",
                "params": {"duplicateValue": {"x": 1}},
            }
        ],
        [{"x": 1}, {"x": 2}],
    ),
    "VALID_TYPE boolean": (
        {"type": "boolean"},
        "yes",
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "string", "validTypes": ["boolean"]},
            }
        ],
        False,
    ),
    "VALID_TYPE string": (
        {"type": "string"},
        5,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "number", "validTypes": ["string"]},
            }
        ],
        "5",
    ),
    "VALID_TYPE integer": (
        {"type": "integer"},
        3.5,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "number", "validTypes": ["integer"]},
            }
        ],
        3.0,
    ),
    "VALID_TYPE number rejects bool": (
        {"type": "number"},
        True,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "boolean", "validTypes": ["number"]},
            }
        ],
        -1.5,
    ),
    "VALID_TYPE object": (
        {"type": "object"},
        [],
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "array", "validTypes": ["object"]},
            }
        ],
        {},
    ),
    "VALID_TYPE array": (
        {"type": "array"},
        {"a": 1},
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "object", "validTypes": ["array"]},
            }
        ],
        [1],
    ),
    "VALID_TYPE relationship": (
        {"type": "relationship"},
        "managed/user/1",
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "string", "validTypes": ["relationship"]},
            }
        ],
        {"_ref": "managed/user/1"},
    ),
    "VALID_TYPE null": (
        {"type": "string"},
        None,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "null", "validTypes": ["string"]},
            }
        ],
        "",
    ),
    "VALID_TYPE multi type": (
        {"type": ["string", "number", "null"]},
        True,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {
                    "invalidType": "boolean",
                    "validTypes": ["string", "number", "null"],
                },
            }
        ],
        None,
    ),
    "VALID_TYPE explicit policy": (
        with_policy("valid-type", {"types": ["string", "null"]}),
        7,
        [
            {
                "policyRequirement": "VALID_TYPE",
                "params": {"invalidType": "number", "validTypes": ["string", "null"]},
            }
        ],
        "7",
    ),
    "REQUIRED not-empty": (
        with_policy("not-empty"),
        "",
        [{"policyRequirement": "REQUIRED"}],
        "x",
    ),
    "REQUIRED not-empty null": (
        {"type": ["string", "null"], "policies": [{"policyId": "not-empty"}]},
        None,
        [{"policyRequirement": "REQUIRED"}],
        "x",
    ),
    "REQUIRED not-null": (
        {"type": ["string", "null"], "policies": [{"policyId": "not-null"}]},
        None,
        [{"policyRequirement": "REQUIRED"}],
        "",
    ),
    "REQUIRED type array without null is not-empty": (
        {"type": ["string"]},
        "",
        [{"policyRequirement": "REQUIRED"}],
        "x",
    ),
}


@pytest.mark.parametrize(
    ("definition", "bad", "expected", "good"), CASES.values(), ids=CASES.keys()
)
def test_each_requirement_with_exact_params(definition, bad, expected, good):
    validator = one_property(definition)
    assert reqs(validator, bad) == expected
    assert reqs(validator, bad, is_create=True) == expected
    assert reqs(validator, good) is None


@pytest.mark.parametrize(
    "policy_id",
    [
        "valid-email-address-format",
        "valid-phone-format",
        "valid-name-format",
        "valid-date",
        "valid-datetime",
        "regexpMatches",
        "minimum-length",
        "at-least-X-capitals",
        "cannot-contain-characters",
    ],
)
def test_empty_string_skips_format_checks(policy_id):
    params = {
        "regexpMatches": {"regexp": "^x$"},
        "minimum-length": {"minLength": 2},
        "at-least-X-capitals": {"numCaps": 1},
        "cannot-contain-characters": {"forbiddenChars": ["/"]},
    }.get(policy_id)
    assert reqs(one_property(with_policy(policy_id, params)), "") is None


def test_format_checks_fail_with_required_on_empty_string():
    """IDM's ``isRequired || isNonEmptyString``: "" also fails the format."""
    validator = one_property(
        {
            "type": "string",
            "policies": [
                {"policyId": "not-empty"},
                {"policyId": "valid-email-address-format"},
                {"policyId": "maximum-length", "params": {"maxLength": 5}},
            ],
        }
    )
    assert reqs(validator, "") == [
        {"policyRequirement": "REQUIRED"},
        {"policyRequirement": "VALID_EMAIL_ADDRESS_FORMAT"},
    ]


def test_schema_min_length_implies_not_empty():
    validator = one_property({"type": "string", "minLength": 2})
    assert reqs(validator, "") == [
        {"policyRequirement": "REQUIRED"},
        {"policyRequirement": "MIN_LENGTH", "params": {"minLength": 2}},
    ]


def test_same_policy_from_schema_and_policies_is_reported_once():
    validator = one_property(
        {
            "type": "string",
            "maxLength": 2,
            "policies": [{"policyId": "maximum-length", "params": {"maxLength": 2}}],
        }
    )
    assert reqs(validator, "abc") == [
        {"policyRequirement": "MAX_LENGTH", "params": {"maxLength": 2}}
    ]


def test_several_requirements_of_one_property_in_policy_order():
    validator = one_property(
        {
            "type": "string",
            "policies": [
                {"policyId": "at-least-X-capitals", "params": {"numCaps": 1}},
                {"policyId": "at-least-X-numbers", "params": {"numNums": 1}},
                {"policyId": "minimum-length", "params": {"minLength": 8}},
            ],
        }
    )
    assert reqs(validator, "abc") == [
        {"policyRequirement": "AT_LEAST_X_CAPITAL_LETTERS", "params": {"numCaps": 1}},
        {"policyRequirement": "AT_LEAST_X_NUMBERS", "params": {"numNums": 1}},
        {"policyRequirement": "MIN_LENGTH", "params": {"minLength": 8}},
    ]


def test_wrong_type_skips_other_checks():
    validator = one_property(
        {"type": "string", "policies": [{"policyId": "valid-email-address-format"}]}
    )
    assert reqs(validator, 42) == [
        {
            "policyRequirement": "VALID_TYPE",
            "params": {"invalidType": "number", "validTypes": ["string"]},
        }
    ]


def test_nullable_null_passes_every_check():
    validator = one_property(
        {
            "type": ["string", "null"],
            "policies": [{"policyId": "valid-email-address-format"}],
        }
    )
    assert reqs(validator, None) is None


def test_untyped_property_accepts_anything():
    validator = one_property({"description": "legacy"})
    for value in (None, 1, "x", [], {}):
        assert reqs(validator, value) is None


@pytest.mark.parametrize(
    "policy_id",
    ["unique", "no-internal-user-conflict", *sorted(IGNORED_POLICY_IDS), "my-script"],
)
def test_database_ignored_and_unknown_policies_pass(policy_id):
    assert reqs(one_property(with_policy(policy_id, {"any": 1})), "value") is None


def test_cannot_contain_others():
    validator = compile_validator(
        parse_object_schema(
            {
                "name": "t",
                "schema": {
                    "properties": {
                        "userName": {"type": "string"},
                        "password": with_policy(
                            "cannot-contain-others",
                            {"disallowedFields": ["userName", "sn"]},
                        ),
                    }
                },
            }
        )
    )
    assert validator.validate(
        {"userName": "jdoe", "password": "xjdoex"}, is_create=False
    ) == [
        {
            "property": "password",
            "policyRequirements": [
                {
                    "policyRequirement": "CANNOT_CONTAIN_OTHERS",
                    "params": {"disallowedFields": "userName"},
                }
            ],
        }
    ]
    assert validator.validate({"password": "xjdoex"}, is_create=False) == []


# ------------------------------------------------------------ the default user


def test_valid_user_passes(user_validator):
    assert user_validator.validate(USER_ROW, is_create=True) == []
    assert user_validator.validate(USER_ROW, is_create=False) == []


def test_every_failing_property_in_schema_order(user_validator):
    row = {
        "preferences": {"marketing": "yes", "updates": True},
        "telephoneNumber": "555-CALL",
        "mail": "tlopez-at-example",
        "sn": "",
        "userName": "a/b",
        "accountStatus": 1,
    }
    assert user_validator.validate(row, is_create=True) == [
        {
            "property": "userName",
            "policyRequirements": [
                {
                    "policyRequirement": "CANNOT_CONTAIN_CHARACTERS",
                    "params": {"forbiddenChars": ["/"]},
                }
            ],
        },
        {
            "property": "givenName",
            "policyRequirements": [{"policyRequirement": "REQUIRED"}],
        },
        {
            "property": "mail",
            "policyRequirements": [{"policyRequirement": "VALID_EMAIL_ADDRESS_FORMAT"}],
        },
        {
            "property": "accountStatus",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "number", "validTypes": ["string"]},
                }
            ],
        },
        {
            "property": "telephoneNumber",
            "policyRequirements": [
                {
                    "policyRequirement": "MATCH_REGEXP",
                    "params": {"regexp": r"^\+?([0-9\- \(\)])*$"},
                }
            ],
        },
        {
            "property": "preferences/marketing",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["boolean"]},
                }
            ],
        },
    ]


def test_user_name_length_limits(user_validator):
    row = {**USER_ROW, "userName": "x" * 256}
    assert user_validator.validate(row, is_create=True) == [
        {
            "property": "userName",
            "policyRequirements": [
                {"policyRequirement": "MAX_LENGTH", "params": {"maxLength": 255}}
            ],
        }
    ]
    assert (
        user_validator.validate({**USER_ROW, "userName": "x" * 255}, is_create=True)
        == []
    )


def test_empty_user_name_passes_minimum_length_like_idm(user_validator):
    # minimum-length ignores "" unless REQUIRED failed; userName has no not-empty.
    assert user_validator.validate({**USER_ROW, "userName": ""}, is_create=True) == []


def test_required_only_on_create(user_validator):
    assert user_validator.validate({}, is_create=False) == []
    assert user_validator.validate({}, is_create=True) == [
        {"property": name, "policyRequirements": [{"policyRequirement": "REQUIRED"}]}
        for name in ("userName", "givenName", "sn", "mail")
    ]


def test_null_is_present_for_required(user_validator):
    assert user_validator.validate({**USER_ROW, "sn": None}, is_create=True) == [
        {
            "property": "sn",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "null", "validTypes": ["string"]},
                }
            ],
        }
    ]


def test_blank_required_cells_fail_on_update(user_validator):
    row = {"userName": "jdoe", "givenName": "John"}
    blanks = [("mail",), ("description",), ("sn",), ("preferences", "updates")]
    assert user_validator.validate(row, is_create=False, blank_paths=blanks) == [
        {"property": "sn", "policyRequirements": [{"policyRequirement": "REQUIRED"}]},
        {"property": "mail", "policyRequirements": [{"policyRequirement": "REQUIRED"}]},
    ]
    assert user_validator.validate(row, is_create=False, blank_paths=[("city",)]) == []


def test_results_are_fresh_objects(user_validator):
    first = user_validator.validate({}, is_create=True)
    first[0]["policyRequirements"][0]["policyRequirement"] = "MUTATED"
    first[0]["policyRequirements"].append({"x": 1})
    second = user_validator.validate({}, is_create=True)
    assert second[0] == {
        "property": "userName",
        "policyRequirements": [{"policyRequirement": "REQUIRED"}],
    }


# ------------------------------------------------------------ nested properties


@pytest.fixture(scope="module")
def nested_validator() -> Validator:
    return compile_validator(
        parse_object_schema(
            {
                "name": "t",
                "schema": {
                    "required": ["address"],
                    "properties": {
                        "address": {
                            "type": "object",
                            "required": ["city"],
                            "order": ["city", "zip", "geo"],
                            "properties": {
                                "city": {"type": "string", "minLength": 2},
                                "zip": {"type": "integer"},
                                "geo": {
                                    "type": "object",
                                    "properties": {"lat": {"type": "number"}},
                                },
                            },
                        },
                        "after": {"type": "boolean"},
                    },
                },
            }
        )
    )


def test_nested_failures_use_slash_names(nested_validator):
    row = {
        "address": {"city": "X", "zip": "123", "geo": {"lat": "north"}},
        "after": "no",
    }
    assert nested_validator.validate(row, is_create=True) == [
        {
            "property": "address/city",
            "policyRequirements": [
                {"policyRequirement": "MIN_LENGTH", "params": {"minLength": 2}}
            ],
        },
        {
            "property": "address/zip",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["integer"]},
                }
            ],
        },
        {
            "property": "address/geo/lat",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["number"]},
                }
            ],
        },
        {
            "property": "after",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["boolean"]},
                }
            ],
        },
    ]


def test_nested_required_applies_when_parent_present(nested_validator):
    assert nested_validator.validate({}, is_create=True) == [
        {
            "property": "address",
            "policyRequirements": [{"policyRequirement": "REQUIRED"}],
        }
    ]
    assert nested_validator.validate({"address": {}}, is_create=True) == [
        {
            "property": "address/city",
            "policyRequirements": [{"policyRequirement": "REQUIRED"}],
        }
    ]
    assert nested_validator.validate({"address": {}}, is_create=False) == []


def test_parent_of_wrong_type_hides_children(nested_validator):
    assert nested_validator.validate({"address": "Main St"}, is_create=True) == [
        {
            "property": "address",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["object"]},
                }
            ],
        }
    ]


def test_default_user_preferences_nested(user_validator):
    row = {**USER_ROW, "preferences": {"updates": "TRUE", "marketing": False}}
    assert user_validator.validate(row, is_create=False) == [
        {
            "property": "preferences/updates",
            "policyRequirements": [
                {
                    "policyRequirement": "VALID_TYPE",
                    "params": {"invalidType": "string", "validTypes": ["boolean"]},
                }
            ],
        }
    ]


# ------------------------------------------------------------ errors and merging


def test_policy_error_body():
    failed = [{"property": "mail", "policyRequirements": [{"policyRequirement": "X"}]}]
    assert policy_error(failed) == {
        "code": 403,
        "reason": "Forbidden",
        "message": "Policy validation failed",
        "detail": {"result": False, "failedPolicyRequirements": failed},
    }


def test_merge_failures_by_property_keeping_order_without_repeats():
    required = {"policyRequirement": "REQUIRED"}
    unique = {"policyRequirement": "UNIQUE"}
    vtype = {
        "policyRequirement": "VALID_TYPE",
        "params": {"invalidType": "string", "validTypes": ["boolean"]},
    }
    first = [
        {"property": "userName", "policyRequirements": [required]},
        {"property": "preferences/marketing", "policyRequirements": [vtype]},
    ]
    second = [
        {"property": "mail", "policyRequirements": [required]},
        {"property": "userName", "policyRequirements": [unique, required]},
        {"property": "preferences/marketing", "policyRequirements": [dict(vtype)]},
    ]
    assert merge_failures(first, second, []) == [
        {"property": "userName", "policyRequirements": [required, unique]},
        {"property": "preferences/marketing", "policyRequirements": [vtype]},
        {"property": "mail", "policyRequirements": [required]},
    ]
    assert first[0] == {"property": "userName", "policyRequirements": [required]}
    assert merge_failures() == []


# ------------------------------------------------------------ defaults


def test_apply_defaults_to_absent_properties(schemas):
    user = schemas["user"]
    row = {"userName": "jdoe"}
    assert apply_defaults(user, row) == {"userName": "jdoe", "accountStatus": "active"}
    assert row == {"userName": "jdoe"}
    assert apply_defaults(user, {"accountStatus": "inactive"}) == {
        "accountStatus": "inactive"
    }
    assert apply_defaults(user, {"accountStatus": None}) == {"accountStatus": None}


def test_apply_defaults_for_types_without_defaults(schemas):
    assert apply_defaults(schemas["role"], {"name": "r"}) == {"name": "r"}


def test_apply_defaults_nested_and_mutable():
    schema = parse_object_schema(
        {
            "name": "t",
            "schema": {
                "properties": {
                    "tags": {"type": "array", "default": ["a"]},
                    "prefs": {
                        "type": "object",
                        "properties": {
                            "news": {"type": "boolean", "default": False},
                            "lang": {"type": "string"},
                        },
                    },
                    "count": {"type": "number", "default": 0},
                    "nothing": {"type": ["string", "null"], "default": None},
                }
            },
        }
    )
    first = apply_defaults(schema, {"prefs": {"lang": "fr"}})
    assert first == {
        "tags": ["a"],
        "prefs": {"lang": "fr", "news": False},
        "count": 0,
        "nothing": None,
    }
    first["tags"].append("b")
    assert apply_defaults(schema, {})["tags"] == ["a"]
    assert "prefs" not in apply_defaults(schema, {})
    prefs = {"lang": "fr"}
    apply_defaults(schema, {"prefs": prefs})
    assert prefs == {"lang": "fr"}
    validator = compile_validator(schema)
    assert validator.apply_defaults({"count": 5}) == {
        "tags": ["a"],
        "count": 5,
        "nothing": None,
    }
