"""Settings of the peer benchmark: one app, one model, one PostgreSQL database.

The database comes from PEER_DATABASE_URL (the harness names it, e.g.
``idmimport_bench_peer``). DEBUG is off so Django keeps no query log.
"""

import os

import dj_database_url

SECRET_KEY = "bench-peer-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["bench.peer"]
DATABASES = {"default": dj_database_url.parse(os.environ["PEER_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
