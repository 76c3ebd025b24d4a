"""JSON rendering and content negotiation as IDM clients expect them."""

import json
from collections.abc import Sequence
from typing import Any

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.utils.encoders import JSONEncoder


class CrestJSONRenderer(JSONRenderer):
    """Compact JSON, indented when ``_prettyPrint=true``."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict | None = None,
    ) -> bytes:
        if data is None:
            return b""
        request = (renderer_context or {}).get("request")
        pretty = bool(request and request.query_params.get("_prettyPrint") == "true")
        text = json.dumps(
            data,
            cls=JSONEncoder,
            ensure_ascii=False,
            indent=2 if pretty else None,
            separators=None if pretty else (",", ":"),
        )
        return text.encode("utf-8")


class AlwaysJSON(BaseContentNegotiation):
    """IDM answers JSON whatever the ``Accept`` header says; never 406."""

    def select_parser(self, request: Request, parsers: Sequence) -> Any:
        content_type = request.content_type or ""
        for parser in parsers:
            if content_type.startswith(parser.media_type):
                return parser
        return None

    def select_renderer(
        self,
        request: Request,
        renderers: Sequence[BaseRenderer],
        format_suffix: Any = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = renderers[0]
        return renderer, renderer.media_type
