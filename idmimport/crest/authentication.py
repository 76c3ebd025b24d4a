"""IDM's ways of authenticating, all against Django users (design 5.12).

``X-OpenIDM-Username``/``X-OpenIDM-Password`` headers, ``Authorization:
Bearer <token>`` (DRF tokens), HTTP Basic and the admin session are accepted.
"""

from django.contrib.auth import authenticate
from rest_framework import authentication, exceptions
from rest_framework.request import Request

USERNAME_HEADER = "HTTP_X_OPENIDM_USERNAME"
PASSWORD_HEADER = "HTTP_X_OPENIDM_PASSWORD"


class OpenIDMHeaderAuthentication(authentication.BaseAuthentication):
    """Authenticate with IDM's ``X-OpenIDM-Username``/``-Password`` headers."""

    def authenticate(self, request: Request) -> tuple | None:
        username = request.META.get(USERNAME_HEADER)
        if username is None:
            return None
        password = request.META.get(PASSWORD_HEADER, "")
        user = authenticate(
            request=request._request, username=username, password=password
        )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("Access denied")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return 'Basic realm="openidm"'


class BearerTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Bearer <token>``, as AIC clients send it."""

    keyword = "Bearer"
