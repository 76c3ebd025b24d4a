"""Managed object types and the objects stored under them."""

from django.db import models


class ManagedObjectType(models.Model):
    """One IDM managed object type (``user``, ``alpha_role`` ...) and its schema.

    ``config`` keeps the managed.json entry exactly as loaded, unknown keys
    included, so an operator's own IDM configuration round-trips unchanged.
    """

    name = models.CharField(max_length=128, unique=True)
    config = models.JSONField(default=dict)
    # Whether the type's searchable indexes exist (``managed.indexes``). Its
    # unique ones are built when the type is loaded; the searchable ones once
    # it is used (its first create, or the end of its first import): every
    # index on the objects table costs every insert into it, whatever the
    # inserted object's type, and most installations use a few of the
    # shipped types (README, Performance).
    indexed = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"managed/{self.name}"


class ManagedObject(models.Model):
    """A managed object: IDM's ``_id``/``_rev`` plus its JSON properties.

    Uniqueness and lookups on schema properties are enforced by per-type
    expression indexes created by ``managed.indexes`` when a type is loaded.
    """

    # No index of its own: the unique (object_type, object_id) constraint leads
    # with it, and every object an import creates would maintain both. No
    # database-level foreign key either: PostgreSQL checks one with a query per
    # inserted row at commit, about a fifth of the cost of inserting a user
    # object (bench/README.md). Types are few, written only by
    # ``load_managed_config`` and never deleted by the service; PROTECT still
    # guards ORM deletes (admin included).
    object_type = models.ForeignKey(
        ManagedObjectType,
        on_delete=models.PROTECT,
        related_name="managed_objects",
        db_index=False,
        db_constraint=False,
    )
    object_id = models.CharField(max_length=255)
    rev = models.PositiveBigIntegerField(default=1)
    properties = models.JSONField(default=dict)
    # Which CSV row last wrote the object, as a digest of the type's schema,
    # the file's header and the row's cells (``imports.pipeline.correlation``):
    # a re-import finds an unchanged row by comparing two digests instead of
    # every column. Any other write clears it.
    row_digest = models.CharField(  # noqa: DJ001
        max_length=32, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id"], name="managed_object_type_id_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"managed/{self.object_type_id}/{self.object_id}"
