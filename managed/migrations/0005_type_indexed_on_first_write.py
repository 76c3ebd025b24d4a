"""Remember which types have their searchable indexes (``managed.indexes``).

Before this, every loaded type had all its indexes; from now on a type gets
its searchable ones once it is used (its first create, or the end of its
first import). Types that already hold objects keep theirs; the others lose
them at the next ``load_managed_config`` (which ``make run`` runs on every
start) and get them back once used. Unique indexes stay for every type.
"""

from django.db import migrations, models


def mark_types_holding_objects(apps, schema_editor):
    object_type = apps.get_model("managed", "ManagedObjectType")
    managed_object = apps.get_model("managed", "ManagedObject")
    in_use = managed_object.objects.values("object_type_id").distinct()
    object_type.objects.filter(pk__in=in_use).update(indexed=True)


class Migration(migrations.Migration):
    dependencies = [
        ("managed", "0004_object_row_digest"),
    ]

    operations = [
        migrations.AddField(
            model_name="managedobjecttype",
            name="indexed",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_types_holding_objects, migrations.RunPython.noop),
    ]
