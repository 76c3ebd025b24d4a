"""Shared fixtures: loaded managed types, admin users and API clients."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

ADMIN_USERNAME = "openidm-admin"
ADMIN_PASSWORD = "openidm-admin"


@pytest.fixture
def managed_types(db):
    """The shipped managed.json types, as loaded: no type has indexes until
    its first object is written (``managed.services.ensure_type_indexed``)."""
    call_command("load_managed_config", verbosity=0)


@pytest.fixture
def indexed_types(managed_types):
    """The shipped types with every index built, as once each holds objects."""
    from managed.models import ManagedObjectType
    from managed.services import ensure_type_indexed, managed_type_compile

    for model in ManagedObjectType.objects.all():
        ensure_type_indexed(managed_type_compile(model))


@pytest.fixture
def admin_user(db):
    """The IDM administrator as ``ensure_admin`` creates it: staff and superuser.

    Overrides pytest-django's fixture of that name, so ``admin_client`` logs
    in as this user.
    """
    return get_user_model().objects.create_user(
        ADMIN_USERNAME, password=ADMIN_PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("jdoe", password="secret-pass-1")


@pytest.fixture
def api(admin_user, managed_types) -> APIClient:
    """A client speaking with IDM's authentication headers."""
    client = APIClient()
    client.credentials(
        HTTP_X_OPENIDM_USERNAME=ADMIN_USERNAME, HTTP_X_OPENIDM_PASSWORD=ADMIN_PASSWORD
    )
    return client


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


@pytest.fixture
def run_imports(django_capture_on_commit_callbacks):
    """Run queued imports inline (Q_CLUSTER sync) when the upload commits."""

    def do(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return do
