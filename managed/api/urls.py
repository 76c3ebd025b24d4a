from django.urls import re_path

from managed.api import views

urlpatterns = [
    re_path(
        r"^openidm/managed/(?P<type_name>[A-Za-z0-9_]+)/?$",
        views.ManagedCollectionView.as_view(),
        name="managed-collection",
    ),
    re_path(
        r"^openidm/managed/(?P<type_name>[A-Za-z0-9_]+)/(?P<object_id>[^/]+)/?$",
        views.ManagedObjectView.as_view(),
        name="managed-object",
    ),
]
