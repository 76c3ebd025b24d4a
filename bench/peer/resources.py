"""The django-import-export resource the issue names: bulk, keyed by userName."""

from import_export import resources

from bench.peer.models import User

CSV_FIELDS = [
    "userName",
    "givenName",
    "sn",
    "mail",
    "description",
    "accountStatus",
    "telephoneNumber",
    "postalAddress",
    "city",
    "postalCode",
    "country",
    "stateProvince",
    "preferences",
]


class UserResource(resources.ModelResource):
    """``use_bulk=True`` and ``import_id_fields=["userName"]``; defaults otherwise."""

    class Meta:
        model = User
        fields = CSV_FIELDS
        import_id_fields = ["userName"]
        use_bulk = True
