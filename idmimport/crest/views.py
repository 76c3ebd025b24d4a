"""Pieces every CREST view shares."""

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from idmimport.crest.errors import BadRequestError, not_found
from idmimport.crest.query import parse_fields, select_fields

BOOLEAN_VALUES = {"true": True, "false": False}


def boolean_param(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A CREST boolean parameter: ``true`` or ``false``, anything else is 400."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = BOOLEAN_VALUES.get(raw.strip().lower())
    if value is None:
        raise BadRequestError(
            f"The value '{raw}' for parameter '{name}' is not a valid boolean"
        )
    return value


class CrestAPIView(APIView):
    """Base view: validates shared parameters and answers in CREST form."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        boolean_param(request.query_params, "_prettyPrint")

    def finalize_response(
        self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-API-Version"] = "protocol=2.1,resource=1.0"
        return response

    def resource(
        self, request: Request, body: dict[str, Any], **kwargs: Any
    ) -> Response:
        """A single resource: honours ``_fields`` and sets the ETag."""
        fields = parse_fields(request.query_params)
        response = Response(select_fields(body, fields), **kwargs)
        if "_rev" in body:
            response["ETag"] = f'"{body["_rev"]}"'
        return response

    def action_name(self, request: Request, allowed: tuple[str, ...]) -> str:
        """The ``_action`` of a POST, checked against what this route supports."""
        action = request.query_params.get("_action")
        if not action:
            raise BadRequestError("A POST request needs the _action parameter")
        if action not in allowed:
            raise BadRequestError(f"Action {action} is not supported.")
        return action


class UnknownRouteView(CrestAPIView):
    """Catch-all under the IDM prefixes: CREST 404 for any method."""

    permission_classes: list = []
    authentication_classes: list = []

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.http_method_names = list(APIView.http_method_names)
        return super().dispatch(request, *args, **kwargs)

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise not_found(request.path)

    get = post = put = patch = delete = head = _not_found
