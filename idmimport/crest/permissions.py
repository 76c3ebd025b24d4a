"""Only IDM administrators may use the API (design 5.12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from rest_framework.request import Request
    from rest_framework.views import APIView

ADMIN_GROUP = "openidm-admin"


def is_openidm_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Staff users and members of the ``openidm-admin`` group are admins."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff or user.groups.filter(name=ADMIN_GROUP).exists())


class IsOpenIDMAdmin(BasePermission):
    """Allow authenticated IDM administrators, nobody else."""

    message = "Access denied"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_openidm_admin(request.user)
