from django.urls import re_path

from imports.api import views

UUID = r"(?P<import_id>[^/]+)"

urlpatterns = [
    re_path(
        r"^openidm/csv/template/?$", views.TemplateView.as_view(), name="csv-template"
    ),
    re_path(
        r"^upload/csv/(?P<resource_collection>.+?)/?$",
        views.UploadView.as_view(),
        name="csv-upload",
    ),
    re_path(
        r"^openidm/csv/metadata/?$",
        views.MetadataCollectionView.as_view(),
        name="csv-metadata-collection",
    ),
    re_path(
        rf"^openidm/csv/metadata/{UUID}/failures/?$",
        views.FailureQueryView.as_view(),
        name="csv-metadata-failures",
    ),
    re_path(
        rf"^openidm/csv/metadata/{UUID}/?$",
        views.MetadataView.as_view(),
        name="csv-metadata",
    ),
    re_path(
        rf"^export/csvImportFailures/{UUID}/?$",
        views.FailureExportView.as_view(),
        name="csv-failures-export",
    ),
]
