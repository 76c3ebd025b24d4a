from django.apps import AppConfig


class IdmimportConfig(AppConfig):
    name = "idmimport"
    verbose_name = "idmimport"
