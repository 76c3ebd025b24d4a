"""The load_managed_config and ensure_admin commands."""

import copy
import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

from managed.indexes import (
    INDEX_PREFIX,
    existing_indexes,
    index_name,
    wanted_indexes,
)
from managed.models import ManagedObject, ManagedObjectType
from managed.schema import load_default_config
from managed.services import ensure_type_indexed, managed_type_compile

SHIPPED_TYPES = [
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
# (unique, searchable) expression indexes each shipped type gets.
SHIPPED_INDEXES = {
    "user": (1, 6),
    "role": (0, 2),
    "assignment": (0, 3),
    "alpha_user": (1, 17),
    "bravo_user": (1, 17),
    "alpha_role": (0, 2),
    "bravo_role": (0, 2),
    "alpha_assignment": (0, 3),
    "bravo_assignment": (0, 3),
}
# An operator's own IDM type, with keys this service does not know about.
DEVICE = {
    "name": "device",
    "x-vendor": {"owner": "it-ops", "tags": ["laptops"]},
    "schema": {
        "$schema": "http://forgerock.org/json-schema#",
        "type": "object",
        "title": "Device",
        "x-ui-icon": "fa-laptop",
        "properties": {
            "serial": {
                "type": "string",
                "searchable": True,
                "policies": [{"policyId": "unique"}],
                "x-ui-hint": "from the sticker",
            },
            "model": {"type": "string", "searchable": True, "x-legacy": 1},
            "location": {
                "type": "object",
                "properties": {"site": {"type": "string", "x-site-code": True}},
            },
        },
        "required": ["serial"],
        "order": ["serial", "model", "location"],
    },
}
ADMIN = "openidm-admin"


def load(*args) -> list[str]:
    out = io.StringIO()
    call_command("load_managed_config", *args, stdout=out)
    return out.getvalue().splitlines()


def write_config(tmp_path, objects, **extra) -> str:
    path = tmp_path / "managed.json"
    path.write_text(json.dumps({"objects": objects, **extra}), encoding="utf-8")
    return str(path)


def database_state() -> tuple[dict[str, tuple], set[str]]:
    """Each type's stored config and last change, and every expression index."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, ManagedObject._meta.db_table
        )
    types = {
        t.name: (t.pk, t.config, t.updated_at) for t in ManagedObjectType.objects.all()
    }
    return types, {name for name in constraints if name.startswith(INDEX_PREFIX)}


def device_with(change) -> dict:
    device = copy.deepcopy(DEVICE)
    change(device)
    return device


def ensure_admin() -> list[str]:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def admin_env(monkeypatch):
    """No ADMIN_USERNAME / ADMIN_PASSWORD unless a test sets them."""
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    return monkeypatch


# --------------------------------------------------------------------------
# load_managed_config


def test_default_config_loads_the_shipped_types_with_their_unique_indexes(db):
    # when
    lines = load()
    # then: each type as shipped, with the unique indexes that guard every
    # write; searchable ones wait for each type's first write
    types = {t.name: t for t in ManagedObjectType.objects.all()}
    assert sorted(types) == sorted(SHIPPED_TYPES)
    shipped = {entry["name"]: entry for entry in load_default_config()["objects"]}
    assert {name: t.config for name, t in types.items()} == shipped
    expected = []
    for name in SHIPPED_TYPES:
        pk = types[name].pk
        created = sorted(existing_indexes(pk))
        assert len(created) == SHIPPED_INDEXES[name][0]
        assert all(re.fullmatch(rf"mo_{pk}_[0-9a-f]{{12}}_u", n) for n in created)
        changes = ", ".join(f"created {n}" for n in created)
        expected.append(
            f"managed/{name}: created" + (f" ({changes})" if created else "")
        )
    assert lines == expected
    assert [t.indexed for t in types.values()] == [False] * len(SHIPPED_TYPES)
    assert len(database_state()[1]) == 3  # user, alpha_user, bravo_user


def test_each_shipped_type_gets_its_indexes_on_its_first_write(db):
    # given
    load()
    for name in SHIPPED_TYPES:
        model = ManagedObjectType.objects.get(name=name)
        # when
        ensure_type_indexed(managed_type_compile(model))
        # then: its unique and searchable indexes, named after it, and no more
        created = existing_indexes(model.pk)
        named = rf"mo_{model.pk}_[0-9a-f]{{12}}_[up]"
        assert all(re.fullmatch(named, n) for n in created)
        unique = sum(n.endswith("_u") for n in created)
        assert (unique, len(created) - unique) == SHIPPED_INDEXES[name]
        model.refresh_from_db()
        assert model.indexed is True
    assert len(database_state()[1]) == sum(map(sum, SHIPPED_INDEXES.values()))


def test_loading_drops_the_searchable_indexes_of_a_type_not_in_use(db):
    # given: user's indexes exist but the type holds nothing, as after the
    # migration that introduced ``indexed`` on a database built before it
    load()
    user = ManagedObjectType.objects.get(name="user")
    unique = existing_indexes(user.pk)
    ensure_type_indexed(managed_type_compile(user))
    searchable = sorted(existing_indexes(user.pk) - unique)
    assert len(searchable) == 6
    ManagedObjectType.objects.filter(pk=user.pk).update(indexed=False)
    # when
    lines = load()
    # then
    dropped = ", ".join(f"dropped {name}" for name in searchable)
    assert lines[SHIPPED_TYPES.index("user")] == f"managed/user: unchanged ({dropped})"
    assert existing_indexes(user.pk) == unique


def test_loading_indexes_a_type_holding_objects_without_its_indexes(db):
    # given: users written without the searchable indexes (a first import
    # that was killed before it could build them)
    load()
    user = ManagedObjectType.objects.get(name="user")
    ManagedObject.objects.create(object_type=user, object_id="a", properties={})
    # when
    lines = load()
    # then
    user.refresh_from_db()
    every = wanted_indexes(user, managed_type_compile(user).schema)
    built = sorted(set(every) - {n for n in every if n.endswith("_u")})
    created = ", ".join(f"created {name}" for name in built)
    assert lines[SHIPPED_TYPES.index("user")] == f"managed/user: unchanged ({created})"
    assert (user.indexed, existing_indexes(user.pk)) == (True, set(every))


def test_verbosity_0_loads_quietly(db):
    # given
    out = io.StringIO()
    # when
    call_command("load_managed_config", verbosity=0, stdout=out)
    # then
    assert out.getvalue() == ""
    assert ManagedObjectType.objects.count() == len(SHIPPED_TYPES)


def test_second_run_reports_everything_unchanged_and_changes_nothing(db):
    # given
    load()
    before = database_state()
    # when
    lines = load()
    # then
    assert lines == [f"managed/{name}: unchanged" for name in SHIPPED_TYPES]
    assert database_state() == before


def test_an_operators_managed_json_loads_and_keeps_unknown_keys(
    api, tmp_path, settings
):
    # given
    path = write_config(tmp_path, [DEVICE], **{"x-exported-by": "IDM 7.5"})
    before = database_state()
    # when
    lines = load(path)
    # then
    device = ManagedObjectType.objects.get(name="device")
    serial = index_name(device.pk, ("serial",), unique=True)
    model = index_name(device.pk, ("model",), unique=False)
    assert device.config == DEVICE
    assert device.config["x-vendor"] == {"owner": "it-ops", "tags": ["laptops"]}
    assert device.config["schema"]["properties"]["serial"]["x-ui-hint"] == (
        "from the sticker"
    )
    assert lines == [f"managed/device: created (created {serial})"]
    types, indexes = database_state()
    assert {k: v for k, v in types.items() if k != "device"} == before[0]
    assert indexes == before[1] | {serial}
    # and its searchable index comes with its first object
    created = api.post(
        "/openidm/managed/device?_action=create", {"serial": "S1"}, format="json"
    )
    assert created.status_code == 201
    assert database_state()[1] == before[1] | {serial, model}
    template = api.get("/openidm/csv/template?resourceCollection=managed/device")
    assert template.json() == {
        "_id": "template",
        "header": '"serial","model","location/site"',
    }


def test_a_changed_operators_type_is_updated_with_its_indexes(db, tmp_path):
    # given
    load(write_config(tmp_path, [DEVICE]))
    device = ManagedObjectType.objects.get(name="device")
    ensure_type_indexed(managed_type_compile(device))  # it holds objects
    model = index_name(device.pk, ("model",), unique=False)
    changed = device_with(
        lambda d: d["schema"]["properties"]["model"].update(
            searchable=False, **{"x-legacy": 2}
        )
    )
    # when
    lines = load(write_config(tmp_path, [changed]))
    # then
    assert lines == [f"managed/device: updated (dropped {model})"]
    device.refresh_from_db()
    assert device.config == changed
    assert existing_indexes(device.pk) == {
        index_name(device.pk, ("serial",), unique=True)
    }


def _set_type(value):
    return lambda d: d["schema"]["properties"]["serial"].update(type=value)


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        (
            [device_with(_set_type("strin"))],
            "managed object 'device', property 'serial': type \"strin\" is not an "
            "IDM type (expected one of array, boolean, integer, null, number, "
            "object, relationship, string)",
        ),
        (
            [device_with(_set_type([]))],
            "managed object 'device', property 'serial': 'type' must be a type name "
            "or a non-empty array, not []",
        ),
        (
            [device_with(lambda d: d["schema"]["required"].append("nosuch"))],
            "managed object 'device', property 'nosuch': listed in 'required' but "
            "not defined in 'properties'",
        ),
        (
            [
                device_with(
                    lambda d: d["schema"]["properties"]["location"]["properties"][
                        "site"
                    ].update(maxLength=-1)
                )
            ],
            "managed object 'device', property 'location/site': 'maxLength' must "
            "be a non-negative integer",
        ),
        (
            [
                device_with(
                    lambda d: d["schema"]["properties"]["model"].update(
                        policies=[{"params": {}}]
                    )
                )
            ],
            "managed object 'device', property 'model': a policy has no 'policyId'",
        ),
        (
            [DEVICE, DEVICE],
            "managed object 'device': defined more than once",
        ),
        (
            [DEVICE, {"name": "bad-name", "schema": {}}],
            "managed object 'bad-name': 'name' must match [a-zA-Z0-9_]+, not "
            '"bad-name"',
        ),
        (
            # a valid new type, then a broken edit of a shipped one
            [
                DEVICE,
                {
                    **load_default_config()["objects"][0],
                    "schema": {
                        **load_default_config()["objects"][0]["schema"],
                        "required": ["userName", "nickName"],
                    },
                },
            ],
            "managed object 'user', property 'nickName': listed in 'required' but "
            "not defined in 'properties'",
        ),
    ],
    ids=[
        "invalid-type",
        "empty-type",
        "required-not-a-property",
        "nested-property",
        "policy-without-id",
        "duplicate-object",
        "bad-object-name",
        "bad-edit-after-a-good-type",
    ],
)
def test_a_bad_config_is_refused_naming_object_and_property_and_changes_nothing(
    managed_types, tmp_path, objects, message
):
    # given
    path = write_config(tmp_path, objects)
    before = database_state()
    # when
    with pytest.raises(CommandError) as error:
        load(path)
    # then
    assert str(error.value) == f"{path}: {message}"
    assert database_state() == before
    assert not ManagedObjectType.objects.filter(name="device").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        ("", "is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            '{"object": []}',
            ": managed config: the configuration must be an object with an "
            "'objects' array",
        ),
        (
            '[{"name": "device"}]',
            ": managed config: the configuration must be an object with an "
            "'objects' array",
        ),
        (None, None),
    ],
    ids=["not-json", "empty-file", "no-objects", "a-list", "missing-file"],
)
def test_an_unreadable_config_is_refused_and_changes_nothing(
    db, tmp_path, content, message
):
    # given
    load(write_config(tmp_path, [DEVICE]))
    path = tmp_path / "other.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = database_state()
    # when
    with pytest.raises(CommandError) as error:
        load(str(path))
    # then
    expected = (
        f"Cannot read {path}: No such file or directory"
        if content is None
        else f"{path}{'' if message.startswith(':') else ' '}{message}"
    )
    assert str(error.value) == expected
    assert database_state() == before


def test_a_unique_policy_broken_by_existing_objects_is_refused_and_rolled_back(
    api, tmp_path
):
    # given: two users share a givenName, then a config makes givenName unique
    for name in ("bjensen", "bjensen2"):
        response = api.post(
            "/openidm/managed/user?_action=create",
            {
                "userName": name,
                "givenName": "Barbara",
                "sn": "Jensen",
                "mail": "b@x.io",
            },
            format="json",
        )
        assert response.status_code == 201
    shipped = {entry["name"]: entry for entry in load_default_config()["objects"]}
    # role first, with a new searchable property: its index must not survive
    role = copy.deepcopy(shipped["role"])
    role["schema"]["properties"]["description"]["searchable"] = True
    role["schema"]["properties"]["description"]["x-note"] = "new index"
    user = copy.deepcopy(shipped["user"])
    user["schema"]["properties"]["givenName"]["policies"] = [{"policyId": "unique"}]
    path = write_config(tmp_path, [role, user])
    before = database_state()
    # when
    with pytest.raises(CommandError) as error:
        load(path)
    # then
    assert str(error.value).startswith(
        f"{path}: managed object 'user': existing objects break a unique policy: "
    )
    assert database_state() == before


# --------------------------------------------------------------------------
# ensure_admin


def test_ensure_admin_creates_the_default_admin(db, admin_env, settings):
    # given
    settings.DEBUG = True
    # when
    lines = ensure_admin()
    # then
    assert lines == [f"admin user {ADMIN}: created"]
    (user,) = get_user_model().objects.all()
    assert user.username == ADMIN
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, True, True)
    assert user.check_password(ADMIN)
    assert list(user.groups.values_list("name", flat=True)) == [ADMIN]


def test_ensure_admin_honours_admin_username_and_password(db, admin_env, settings):
    # given: production mode accepts a password that is not the default
    settings.DEBUG = False
    admin_env.setenv("ADMIN_USERNAME", "idm-ops")
    admin_env.setenv("ADMIN_PASSWORD", "a-long-secret-9")
    # when
    lines = ensure_admin()
    # then
    assert lines == ["admin user idm-ops: created"]
    (user,) = get_user_model().objects.all()
    assert (user.username, user.is_staff, user.is_superuser) == ("idm-ops", True, True)
    assert user.check_password("a-long-secret-9")
    assert not user.check_password(ADMIN)


def test_ensure_admin_leaves_an_existing_users_password_alone(db, admin_env, settings):
    # given
    settings.DEBUG = True
    existing = get_user_model().objects.create_user(
        ADMIN, password="chosen-by-the-operator", is_staff=True, is_superuser=True
    )
    admin_env.setenv("ADMIN_PASSWORD", "another-password-1")
    # when
    first = ensure_admin()
    second = ensure_admin()
    # then
    assert first == second == [f"admin user {ADMIN}: exists"]
    (user,) = get_user_model().objects.all()
    assert user.pk == existing.pk
    assert user.password == existing.password
    assert user.check_password("chosen-by-the-operator")
    assert list(user.groups.values_list("name", flat=True)) == [ADMIN]
    assert Group.objects.count() == 1


@pytest.mark.parametrize("password", [None, "", ADMIN])
def test_ensure_admin_refuses_the_default_password_in_production(
    db, admin_env, settings, password
):
    # given
    settings.DEBUG = False
    if password is not None:
        admin_env.setenv("ADMIN_PASSWORD", password)
    # when
    with pytest.raises(CommandError) as error:
        ensure_admin()
    # then
    assert str(error.value) == (
        "Refusing the default admin password in production mode: set ADMIN_PASSWORD."
    )
    assert get_user_model().objects.count() == 0
    assert Group.objects.count() == 0
