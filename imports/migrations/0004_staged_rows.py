"""Temp rows move to a leaner table: (import, row number) primary key, text cells.

Django cannot turn an existing primary key into a composite one, so the new
table ``imports_staged_row`` is created beside the old one, rows still staged
(an import waiting or interrupted during the upgrade) are copied across, and
the old table goes. Reversible the same way.
"""

import django.db.models.deletion
from django.db import migrations, models

OLD_TABLE = "imports_temprecordv3"
NEW_TABLE = "imports_staged_row"
COLUMNS = "import_record_id, row_number, cells, key, first_row"


def _copy(schema_editor, source: str, target: str, cells: str) -> None:
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"INSERT INTO {quote(target)} ({COLUMNS}) SELECT import_record_id, "
        f"row_number, {cells}, key, first_row FROM {quote(source)}"
    )


def copy_forward(apps, schema_editor):
    is_pg = schema_editor.connection.vendor == "postgresql"
    _copy(schema_editor, OLD_TABLE, NEW_TABLE, "cells::text" if is_pg else "cells")


def copy_back(apps, schema_editor):
    is_pg = schema_editor.connection.vendor == "postgresql"
    _copy(schema_editor, NEW_TABLE, OLD_TABLE, "cells::jsonb" if is_pg else "cells")


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0003_drop_temp_key_index"),
    ]

    operations = [
        migrations.RenameModel("TempRecord", "TempRecordV3"),
        migrations.CreateModel(
            name="TempRecord",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "import_record",
                        "row_number",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "import_record",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="temp_rows",
                        to="imports.importrecord",
                    ),
                ),
                ("row_number", models.BigIntegerField()),
                (
                    "cells",
                    models.TextField(
                        help_text="the row's cells, a JSON array of strings"
                    ),
                ),
                (
                    "key",
                    models.TextField(
                        help_text="correlation key, null when blank", null=True
                    ),
                ),
                (
                    "first_row",
                    models.BigIntegerField(
                        help_text="row that already used this key (duplicate in "
                        "the file)",
                        null=True,
                    ),
                ),
            ],
            options={"db_table": NEW_TABLE},
        ),
        migrations.RunPython(copy_forward, copy_back),
        migrations.DeleteModel("TempRecordV3"),
    ]
