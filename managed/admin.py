"""Browse managed object types and objects."""

from django.contrib import admin

from managed.models import ManagedObject, ManagedObjectType


@admin.register(ManagedObjectType)
class ManagedObjectTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "indexed", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("name", "config", "indexed", "created_at", "updated_at")

    def has_add_permission(self, request) -> bool:
        # Types come from managed.json (load_managed_config) so indexes follow.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ManagedObject)
class ManagedObjectAdmin(admin.ModelAdmin):
    list_display = ("object_id", "object_type", "rev", "updated_at")
    list_filter = ("object_type",)
    search_fields = ("=object_id",)
    readonly_fields = (
        "object_type",
        "object_id",
        "rev",
        "properties",
        "created_at",
        "updated_at",
    )
    list_select_related = ("object_type",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
