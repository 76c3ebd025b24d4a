"""Authentication, permissions and CREST error bodies over HTTP."""

import base64

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

QUERY = "/openidm/managed/user?_queryFilter=true"
EMPTY_ENVELOPE = {
    "result": [],
    "resultCount": 0,
    "pagedResultsCookie": None,
    "totalPagedResultsPolicy": "NONE",
    "totalPagedResults": -1,
    "remainingPagedResults": -1,
}


def test_idm_headers_return_the_query_envelope(api):
    # when
    response = api.get(QUERY, HTTP_ACCEPT_API_VERSION="resource=1.0")
    # then
    assert response.status_code == 200
    assert response.json() == EMPTY_ENVELOPE
    assert list(response.json()) == list(EMPTY_ENVELOPE)


def test_no_credentials_is_401_with_a_crest_body(anonymous, managed_types):
    response = anonymous.get(QUERY)
    assert response.status_code == 401
    assert response.json() == {
        "code": 401,
        "reason": "Unauthorized",
        "message": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"]


def test_wrong_password_is_401(admin_user, managed_types):
    client = APIClient()
    client.credentials(
        HTTP_X_OPENIDM_USERNAME=ADMIN_USERNAME, HTTP_X_OPENIDM_PASSWORD="x"
    )
    response = client.get(QUERY)
    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert response.json()["reason"] == "Unauthorized"


def test_basic_auth_works(admin_user, managed_types):
    client = APIClient()
    token = base64.b64encode(f"{ADMIN_USERNAME}:{ADMIN_PASSWORD}".encode()).decode()
    response = client.get(QUERY, HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200


def test_bearer_token_works(admin_user, managed_types):
    token = Token.objects.create(user=admin_user)
    client = APIClient()
    response = client.get(QUERY, HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert response.status_code == 200
    bad = client.get(QUERY, HTTP_AUTHORIZATION="Bearer nope")
    assert bad.status_code == 401


def test_admin_session_works(admin_user, managed_types):
    client = APIClient()
    client.force_login(admin_user)
    assert client.get(QUERY).status_code == 200


def test_non_admin_is_403(plain_user, managed_types):
    client = APIClient()
    client.credentials(
        HTTP_X_OPENIDM_USERNAME="jdoe", HTTP_X_OPENIDM_PASSWORD="secret-pass-1"
    )
    response = client.get(QUERY)
    assert response.status_code == 403
    assert response.json() == {
        "code": 403,
        "reason": "Forbidden",
        "message": "Access denied",
    }


def test_openidm_admin_group_member_is_allowed(plain_user, managed_types):
    plain_user.groups.add(Group.objects.create(name="openidm-admin"))
    client = APIClient()
    client.credentials(
        HTTP_X_OPENIDM_USERNAME="jdoe", HTTP_X_OPENIDM_PASSWORD="secret-pass-1"
    )
    assert client.get(QUERY).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/openidm/nothing",
        "/openidm/csv/nothing/here",
        "/upload/x",
        "/export/y",
        "/elsewhere",
    ],
)
def test_unknown_routes_are_crest_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "reason": "Not Found",
        "message": f"Resource '{path.strip('/')}' not found",
    }


def test_wrong_method_is_crest_405(api):
    response = api.delete("/openidm/managed/user")
    assert response.status_code == 405
    assert response.json() == {
        "code": 405,
        "reason": "Method Not Allowed",
        "message": 'Method "DELETE" not allowed.',
    }


def test_unknown_type_is_404(api):
    response = api.get("/openidm/managed/nosuchtype?_queryFilter=true")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource 'managed/nosuchtype' not found"


def test_pretty_print(api):
    response = api.get(QUERY + "&_prettyPrint=true")
    assert response.content.decode().startswith('{\n  "result": []')
    assert api.get(QUERY + "&_prettyPrint=maybe").status_code == 400


def test_trailing_slash_is_optional(api):
    assert api.get("/openidm/managed/user/?_queryFilter=true").status_code == 200
