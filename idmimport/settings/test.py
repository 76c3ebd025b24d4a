"""Test settings: the base settings plus what makes tests fast and isolated."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, Q_CLUSTER, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Imports run inline in tests; the end-to-end tests start a real worker.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}

# A private folder per test session, so runs never share uploaded files.
TEST_DATA_DIR = tempfile.mkdtemp(prefix="idmimport-test-")
STORAGES = {
    **STORAGES,
    "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.path.join(TEST_DATA_DIR, "imports")},
    },
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a worker process started by a test sees the data.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(TEST_DATA_DIR, "test.sqlite3")}
