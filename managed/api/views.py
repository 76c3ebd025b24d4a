"""``/openidm/managed/<type>[/<id>]``: CREST query, read, create, update,
patch and delete of managed objects."""

from rest_framework.request import Request
from rest_framework.response import Response

from idmimport.crest.errors import BadRequestError, PreconditionFailedError
from idmimport.crest.filter_compiler import ColumnTarget, JsonPathTarget
from idmimport.crest.query import parse_query_params, run_query
from idmimport.crest.views import CrestAPIView
from managed import services
from managed.models import ManagedObject

OBJECT_COLUMNS = {("_id",): "object_id", ("_rev",): "rev"}


def resolve_object_field(pointer: tuple[str, ...]) -> ColumnTarget | JsonPathTarget:
    """Map a filter pointer on a managed object to its storage."""
    column = OBJECT_COLUMNS.get(pointer)
    if column:
        return ColumnTarget(column)
    return JsonPathTarget("properties", pointer)


class ManagedCollectionView(CrestAPIView):
    """Query a type (GET) or create an object (POST ``_action=create``)."""

    def get(self, request: Request, type_name: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        params = parse_query_params(request.query_params)
        envelope = run_query(
            ManagedObject.objects.filter(object_type=managed_type.model),
            params,
            resolve_field=resolve_object_field,
            serialize=services.object_json,
        )
        return Response(envelope)

    def post(self, request: Request, type_name: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        self.action_name(request, ("create",))
        obj = services.managed_object_create(
            managed_type, request.data, object_id=request.query_params.get("_id")
        )
        response = self.resource(request, services.object_json(obj), status=201)
        response["Location"] = request.build_absolute_uri(
            f"/openidm/{managed_type.resource_path}/{obj.object_id}"
        )
        return response


class ManagedObjectView(CrestAPIView):
    """Read, create-or-update, patch and delete one object."""

    def get(self, request: Request, type_name: str, object_id: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        if request.headers.get("If-None-Match", "").strip() == "*":
            raise PreconditionFailedError("If-None-Match: * is not allowed on a read")
        obj = services.managed_object_get(managed_type, object_id)
        return self.resource(request, services.object_json(obj))

    def put(self, request: Request, type_name: str, object_id: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        if_match = request.headers.get("If-Match")
        create_only = request.headers.get("If-None-Match", "").strip() == "*"
        exists = ManagedObject.objects.filter(
            object_type=managed_type.model, object_id=object_id
        ).exists()
        if create_only and exists:
            raise PreconditionFailedError(
                f"Resource '{managed_type.resource_path}/{object_id}' already exists"
            )
        if exists or if_match:
            obj = services.managed_object_update(
                managed_type, object_id, request.data, if_match=if_match
            )
            return self.resource(request, services.object_json(obj))
        obj = services.managed_object_create(
            managed_type, request.data, object_id=object_id
        )
        response = self.resource(request, services.object_json(obj), status=201)
        response["Location"] = request.build_absolute_uri()
        return response

    def patch(self, request: Request, type_name: str, object_id: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        obj = services.managed_object_patch(
            managed_type,
            object_id,
            request.data,
            if_match=request.headers.get("If-Match"),
        )
        return self.resource(request, services.object_json(obj))

    def delete(self, request: Request, type_name: str, object_id: str) -> Response:
        managed_type = services.managed_type_get(type_name)
        body = services.managed_object_delete(
            managed_type, object_id, if_match=request.headers.get("If-Match")
        )
        return self.resource(request, body)

    def post(self, request: Request, type_name: str, object_id: str) -> Response:
        services.managed_type_get(type_name)
        action = request.query_params.get("_action") or ""
        raise BadRequestError(f"Action {action} is not supported.")
