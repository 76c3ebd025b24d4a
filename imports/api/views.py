"""The IDM bulk-import routes (design.md section 2). Each method checks its
input, calls one service or selector and renders the result."""

from pathlib import PurePath

from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from idmimport.crest.errors import BadRequestError, NotFoundError
from idmimport.crest.query import parse_query_params, run_query
from idmimport.crest.views import CrestAPIView, boolean_param
from imports import selectors, services
from imports.exceptions import ImportNotFoundError
from imports.models import ErrorRecord
from imports.parsing.failure_csv import iter_failure_csv
from managed.services import ManagedType, managed_type_get

MANAGED_PREFIX = "managed/"
STATUS_OK = {"status": "OK"}


def managed_type_for(resource_collection: str | None) -> ManagedType:
    """``managed/<type>`` to its type; 400 when absent, 404 when unknown."""
    if not resource_collection:
        raise BadRequestError("The resourceCollection parameter is required")
    collection = resource_collection.strip("/")
    if (
        not collection.startswith(MANAGED_PREFIX)
        or "/" in collection[len(MANAGED_PREFIX) :]
    ):
        raise NotFoundError(f"Resource '{collection}' not found")
    return managed_type_get(collection[len(MANAGED_PREFIX) :])


class TemplateView(CrestAPIView):
    """``GET /openidm/csv/template``: the CSV header a type imports."""

    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        managed_type = managed_type_for(params.get("resourceCollection"))
        header = managed_type.schema.template_header()
        mime_type = (params.get("_mimeType") or "").strip().strip("'\"")
        if not mime_type:
            return self.resource(request, {"_id": "template", "header": header})
        fields = [f for f in (params.get("_fields") or "").split(",") if f.strip()]
        if len(params.getlist("_mimeType")) > 1:
            raise BadRequestError("Only one mime type value allowed")
        if len(fields) != 1:
            raise BadRequestError(
                "The mime type parameter requires only 1 field to be specified"
            )
        if fields[0].strip("/") != "header":
            raise BadRequestError(f"The template has no field '{fields[0]}'")
        if mime_type not in ("text/csv", "text/plain"):
            raise BadRequestError(f"The mime type '{mime_type}' is not supported")
        response = HttpResponse(
            header + "\n", content_type=f"{mime_type}; charset=utf-8"
        )
        if mime_type == "text/csv":
            name = managed_type.model.name
            response["Content-Disposition"] = (
                f'attachment; filename="{name}-template.csv"'
            )
        return response


class UploadView(CrestAPIView):
    """``POST /upload/csv/managed/<type>``: store files, queue their imports."""

    def post(self, request: Request, resource_collection: str) -> Response:
        content_length = request.META.get("CONTENT_LENGTH")
        services.check_upload_size(int(content_length) if content_length else None)
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise BadRequestError(
                "The upload must be multipart/form-data with one or more 'upload' parts"
            )
        managed_type = managed_type_for(resource_collection)
        unique_properties = services.parse_unique_properties(
            request.query_params.get("uniqueProperty")
        )
        is_dry_run = boolean_param(request.query_params, "dryRun")
        try:
            uploads = request.FILES.getlist("upload")
        except ParseError as error:
            raise BadRequestError(
                f"The multipart body cannot be read: {error}"
            ) from None
        records = services.import_create(
            managed_type=managed_type,
            uploads=uploads,
            unique_properties=unique_properties,
            auth_id=request.user.get_username(),
            is_dry_run=is_dry_run,
        )
        return Response({"importUUIDs": [str(record.pk) for record in records]})


class MetadataCollectionView(CrestAPIView):
    """``/openidm/csv/metadata``: query imports; ``_action=cleanupList``."""

    def get(self, request: Request) -> Response:
        params = parse_query_params(request.query_params)
        envelope = run_query(
            selectors.import_queryset(),
            params,
            resolve_field=selectors.resolve_metadata_field,
            serialize=selectors.import_json,
        )
        return Response(envelope)

    def post(self, request: Request) -> Response:
        self.action_name(request, ("cleanupList",))
        return Response({"importUUIDs": services.import_cleanup_list()})


class MetadataView(CrestAPIView):
    """``/openidm/csv/metadata/<uuid>``: read, delete, cancel, cleanup."""

    def get(self, request: Request, import_id: str) -> Response:
        return self.resource(
            request, selectors.import_json(services.import_get(import_id))
        )

    def delete(self, request: Request, import_id: str) -> Response:
        return self.resource(request, services.import_delete(import_id))

    def post(self, request: Request, import_id: str) -> Response:
        action = self.action_name(request, ("cancel", "cleanup"))
        if action == "cancel":
            services.import_cancel(import_id)
        else:
            services.import_cleanup(
                import_id,
                delete_error_records=boolean_param(
                    request.query_params, "deleteErrorRecords"
                ),
            )
        return Response(STATUS_OK)


class FailureQueryView(CrestAPIView):
    """``/openidm/csv/metadata/<uuid>/failures``: failed rows as JSON."""

    def get(self, request: Request, import_id: str) -> Response:
        record = services.import_get(import_id)
        params = parse_query_params(request.query_params)
        envelope = run_query(
            ErrorRecord.objects.filter(import_record=record),
            params,
            resolve_field=selectors.resolve_failure_field,
            serialize=lambda error: selectors.error_json(error, record.header),
        )
        return Response(envelope)


class FailureExportView(CrestAPIView):
    """``/export/csvImportFailures/<uuid>``: failed rows as a CSV download."""

    def get(self, request: Request, import_id: str) -> StreamingHttpResponse:
        record = services.import_get(import_id)
        errors = ErrorRecord.objects.filter(import_record=record).order_by("row_number")
        if record.purged_error_records or not errors.exists():
            raise ImportNotFoundError(
                f"Import {import_id} has no failed rows to export"
            )
        rows = (
            (cells, error)
            for cells, error in errors.values_list("cells", "error").iterator(
                chunk_size=2000
            )
        )
        response = StreamingHttpResponse(
            iter_failure_csv(record.header, rows),
            content_type="text/csv; charset=utf-8",
        )
        stem = PurePath(record.filename).stem or "import"
        response["Content-Disposition"] = f'attachment; filename="{stem}-failures.csv"'
        return response
