"""Drop the database foreign key of ManagedObject.object_type (see the model).

SQLite cannot drop a constraint in place: Django rebuilds the table, and the
rebuild loses the indexes Django does not know about, the per-type expression
indexes of ``managed.indexes`` (unique ones included). The steps around the
AlterField keep their exact definitions and build them again on the new table.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "managed_managedobject"
_saved: list[str] = []


def save_expression_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL drops the constraint in place
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND name LIKE 'mo\\_%%' ESCAPE '\\'",
            [TABLE],
        )
        _saved[:] = [row[0] for row in cursor.fetchall()]


def restore_expression_indexes(apps, schema_editor):
    for statement in _saved:
        schema_editor.execute(statement)
    _saved.clear()


class Migration(migrations.Migration):
    dependencies = [
        ("managed", "0002_lean_foreign_keys"),
    ]

    operations = [
        migrations.RunPython(save_expression_indexes, restore_expression_indexes),
        migrations.AlterField(
            model_name="managedobject",
            name="object_type",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="managed_objects",
                to="managed.managedobjecttype",
            ),
        ),
        migrations.RunPython(restore_expression_indexes, save_expression_indexes),
    ]
