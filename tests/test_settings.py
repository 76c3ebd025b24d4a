"""idmimport.settings.base: production mode and the scale-out switches.

Settings are read once per process, so every case starts a fresh Python
with a clean environment and reads what Django ended up with.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as test_settings

BASE_DIR = Path(test_settings.BASE_DIR)
# Every variable base.py reads, so the developer's own environment (or the CI
# matrix's DATABASE_URL / REDIS_URL) never leaks into a case.
READ_BY_SETTINGS = (
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "SECRET_KEY",
    "DATA_DIR",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "IMPORTS_S3_BUCKET",
    "IMPORTS_S3_PREFIX",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "FILE_UPLOAD_TEMP_DIR",
    "Q_CLUSTER_NAME",
    "Q_WORKERS",
    "Q_TIMEOUT",
    "LOG_LEVEL",
    "IMPORTS_MAX_UPLOAD_BYTES",
    "IMPORTS_CHUNK_SIZE",
    "IMPORTS_ERROR_RETENTION_DAYS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)
DUMP = """
import json
import sys

import django

django.setup()

from django.conf import settings
from django.core.files.storage import storages
from django_q.brokers import get_broker

storage = storages["imports"]
# The ORM broker connects at once; with no server behind DATABASE_URL it cannot.
broker = get_broker() if "broker" in sys.argv[1:] else None
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "database": settings.DATABASES["default"],
    "q_cluster": {k: settings.Q_CLUSTER.get(k) for k in ("orm", "redis")},
    "broker": broker and f"{type(broker).__module__}.{type(broker).__name__}",
    "storage": f"{type(storage).__module__}.{type(storage).__name__}",
    "storage_options": {
        name: getattr(storage, name, "-")
        for name in (
            "location", "bucket_name", "endpoint_url", "region_name",
            "file_overwrite", "default_acl",
        )
    },
    "default_storage": settings.STORAGES["default"]["BACKEND"],
}, default=str))
"""
SECRET_KEY_MISSING = (
    "django.core.exceptions.ImproperlyConfigured: "
    "SECRET_KEY must be set when DEBUG is off."
)


@pytest.fixture
def environ(tmp_path) -> dict[str, str]:
    """A clean environment for ``idmimport.settings.base``, data under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    env["DJANGO_SETTINGS_MODULE"] = "idmimport.settings.base"
    env["DATA_DIR"] = str(tmp_path / "data")
    return env


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_in(env, *, broker: bool = True) -> dict:
    """What Django's settings (and the imports storage and q2 broker) become."""
    process = run(env, "-c", DUMP, *(["broker"] if broker else []))
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


@pytest.mark.parametrize(
    ("debug", "secret_key"),
    [("false", None), ("0", None), ("off", ""), ("No", "")],
)
def test_production_mode_without_secret_key_refuses_to_start(
    environ, tmp_path, debug, secret_key
):
    # given
    environ["DEBUG"] = debug
    if secret_key is not None:
        environ["SECRET_KEY"] = secret_key
    # when
    process = run(environ, "-c", "import django; django.setup()")
    # then
    assert process.returncode == 1
    assert process.stdout == ""
    assert process.stderr.strip().splitlines()[-1] == SECRET_KEY_MISSING


def test_manage_py_refuses_to_start_without_secret_key(environ):
    # given
    environ["DEBUG"] = "false"
    # when
    process = run(environ, "manage.py", "check")
    # then
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1] == SECRET_KEY_MISSING


def test_production_mode_with_secret_key_starts(environ):
    # given
    environ["DEBUG"] = "false"
    environ["SECRET_KEY"] = "a-real-production-secret"
    # when
    check = run(environ, "manage.py", "check")
    values = settings_in(environ)
    # then
    assert (check.returncode, check.stderr) == (0, "")
    assert check.stdout == "System check identified no issues (0 silenced).\n"
    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == "a-real-production-secret"
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"]) == (
        True,
        True,
    )


def test_embedded_default_is_sqlite_orm_broker_and_local_files(environ, tmp_path):
    # when
    values = settings_in(environ)
    # then
    data = tmp_path / "data"
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"] == "insecure-development-key-do-not-use-in-production"
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"]) == (
        False,
        False,
    )
    assert values["database"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["database"]["NAME"] == str(data / "db.sqlite3")
    assert values["database"]["OPTIONS"] == {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA cache_size=-65536;"
        ),
    }
    assert data.is_dir()  # SQLite would not create the folder itself
    assert values["q_cluster"] == {"orm": "default", "redis": None}
    assert values["broker"] == "django_q.brokers.orm.ORM"
    assert values["storage"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert values["storage_options"]["location"] == str(data / "imports")


def test_database_url_selects_postgresql(environ, tmp_path):
    # given: no server needed, settings never connect
    environ["DATABASE_URL"] = "postgres://idm:s3cret@db.example.com:6543/idmimport"
    # when
    values = settings_in(environ, broker=False)
    # then
    database = values["database"]
    assert {
        k: database[k]
        for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "CONN_MAX_AGE")
    } == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "idmimport",
        "USER": "idm",
        "PASSWORD": "s3cret",
        "HOST": "db.example.com",
        "PORT": 6543,
        "CONN_MAX_AGE": 60,
    }
    assert "transaction_mode" not in database.get("OPTIONS", {})
    assert not (tmp_path / "data").exists()  # no SQLite folder made
    assert values["q_cluster"] == {"orm": "default", "redis": None}


def test_redis_url_selects_the_django_q2_redis_broker(environ):
    # given: the broker connects lazily, so no server is needed either
    environ["REDIS_URL"] = "redis://redis.example.com:6390/4"
    # when
    values = settings_in(environ)
    # then
    assert values["q_cluster"] == {
        "orm": None,
        "redis": "redis://redis.example.com:6390/4",
    }
    assert values["broker"] == "django_q.brokers.redis_broker.Redis"
    assert values["database"]["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {},
            {
                "location": "imports",
                "bucket_name": "idm-uploads",
                "endpoint_url": None,
                "region_name": None,
                "file_overwrite": False,
                "default_acl": None,
            },
        ),
        (
            {
                "IMPORTS_S3_PREFIX": "tenant-a/csv",
                "AWS_S3_ENDPOINT_URL": "http://minio.example.com:9000",
                "AWS_S3_REGION_NAME": "eu-west-1",
            },
            {
                "location": "tenant-a/csv",
                "bucket_name": "idm-uploads",
                "endpoint_url": "http://minio.example.com:9000",
                "region_name": "eu-west-1",
                "file_overwrite": False,
                "default_acl": None,
            },
        ),
    ],
    ids=["defaults", "prefix-endpoint-region"],
)
def test_s3_bucket_selects_django_storages_for_the_imports_alias(
    environ, extra, expected
):
    # given
    environ["IMPORTS_S3_BUCKET"] = "idm-uploads"
    environ.update(extra)
    # when
    values = settings_in(environ)
    # then
    assert values["storage"] == "storages.backends.s3.S3Storage"
    assert values["storage_options"] == expected
    # only the imports alias moves to S3
    assert values["default_storage"] == "django.core.files.storage.FileSystemStorage"


@pytest.mark.parametrize("name", ["Q_WORKERS", "IMPORTS_CHUNK_SIZE"])
def test_a_non_integer_number_setting_refuses_to_start(environ, name):
    # given
    environ[name] = "many"
    # when
    process = run(environ, "-c", "import django; django.setup()")
    # then
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        f"{name} must be an integer, got 'many'"
    )
