"""Make sure the IDM administrator account exists (used by ``make run``)."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from idmimport.crest.permissions import ADMIN_GROUP

DEFAULT_ADMIN = "openidm-admin"


class Command(BaseCommand):
    help = (
        "Create the admin user (ADMIN_USERNAME / ADMIN_PASSWORD, default "
        "openidm-admin / openidm-admin) if it does not exist yet. The default "
        "password is refused in production mode (DEBUG off)."
    )

    def handle(self, *args, **options):
        username = os.environ.get("ADMIN_USERNAME") or DEFAULT_ADMIN
        password = os.environ.get("ADMIN_PASSWORD") or DEFAULT_ADMIN
        if not settings.DEBUG and password == DEFAULT_ADMIN:
            raise CommandError(
                "Refusing the default admin password in production mode: "
                "set ADMIN_PASSWORD."
            )
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(password)
            user.save()
        group, _ = Group.objects.get_or_create(name=ADMIN_GROUP)
        user.groups.add(group)
        state = "created" if created else "exists"
        self.stdout.write(f"admin user {username}: {state}")
