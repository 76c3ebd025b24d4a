"""CREST error bodies: ``{"code", "reason", "message"[, "detail"]}`` everywhere.

Every error the service answers, from DRF views, plain Django views and the
URL resolver alike, goes through ``crest_error_response`` so IDM clients can
rely on one shape.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Time-out",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    428: "Precondition Required",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def reason_for(code: int) -> str:
    """Return CREST's reason phrase for a status code."""
    return REASONS.get(code, "Resource Exception")


def error_body(code: int, message: str, detail: Any = None) -> dict[str, Any]:
    """Build the CREST error body; ``detail`` only when there is one."""
    body: dict[str, Any] = {
        "code": code,
        "reason": reason_for(code),
        "message": message,
    }
    if detail is not None:
        body["detail"] = detail
    return body


class CrestError(Exception):
    """An error with an HTTP status, raised by services and views alike."""

    code = 500

    def __init__(self, message: str, *, detail: Any = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code

    def as_body(self) -> dict[str, Any]:
        """Return this error as a CREST error body."""
        return error_body(self.code, self.message, self.detail)


class BadRequestError(CrestError):
    code = 400


class ForbiddenError(CrestError):
    code = 403


class NotFoundError(CrestError):
    code = 404


class ConflictError(CrestError):
    code = 409


class PreconditionFailedError(CrestError):
    code = 412


class PayloadTooLargeError(CrestError):
    code = 413


def not_found(path: str) -> NotFoundError:
    """CREST's wording for an unknown resource."""
    return NotFoundError(f"Resource '{path.strip('/')}' not found")


def _drf_message(exc: drf_exceptions.APIException) -> tuple[str, Any]:
    """Flatten DRF's error detail into a message and an optional detail."""
    detail = exc.detail
    if isinstance(detail, str):
        return str(detail), None
    if isinstance(detail, list) and len(detail) == 1:
        return str(detail[0]), None
    if isinstance(detail, Mapping) and set(detail) == {"detail"}:
        return str(detail["detail"]), None
    return "Invalid request", drf_exceptions._get_error_details(detail)  # type: ignore[attr-defined]


def crest_exception_handler(
    exc: Exception, context: Mapping[str, Any]
) -> Response | None:
    """DRF exception handler that answers every error with a CREST body."""
    request = context.get("request")
    headers: dict[str, str] = {}
    if isinstance(exc, CrestError):
        body = exc.as_body()
    elif isinstance(exc, Http404):
        body = not_found(request.path if request else "").as_body()
    elif isinstance(exc, PermissionDenied):
        body = error_body(403, "Access denied")
    elif isinstance(exc, drf_exceptions.APIException):
        message, detail = _drf_message(exc)
        body = error_body(exc.status_code, message, detail)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None
    if body["code"] == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Basic realm="openidm"'
    return Response(body, status=body["code"], headers=headers)


def crest_error_response(code: int, message: str, detail: Any = None) -> JsonResponse:
    """A plain Django JSON response carrying a CREST error body."""
    return JsonResponse(error_body(code, message, detail), status=code)


def handler404(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """Unknown routes answer CREST 404 instead of an HTML page."""
    return crest_error_response(404, f"Resource '{request.path.strip('/')}' not found")


def handler500(request: HttpRequest) -> JsonResponse:
    """Unexpected errors still answer with a CREST body."""
    return crest_error_response(500, "Internal server error")


def handler403(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """CSRF and permission failures outside DRF."""
    return crest_error_response(403, "Access denied")


def handler400(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    """Malformed requests rejected before a view ran."""
    return crest_error_response(400, "Bad request")
