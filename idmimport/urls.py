"""The IDM URL map (design.md section 2) plus the admin and API docs."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from idmimport.crest.views import UnknownRouteView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("openidm/api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "openidm/api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("", include("managed.api.urls")),
    path("", include("imports.api.urls")),
    # Anything else under the IDM prefixes is a CREST 404, whatever the method.
    re_path(r"^(?:openidm|upload|export)(?:/.*)?$", UnknownRouteView.as_view()),
]

handler400 = "idmimport.crest.errors.handler400"
handler403 = "idmimport.crest.errors.handler403"
handler404 = "idmimport.crest.errors.handler404"
handler500 = "idmimport.crest.errors.handler500"
