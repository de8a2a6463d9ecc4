import django.db.models.deletion
from django.db import migrations, models

# The kept fields (and the derived records) are compressed by PostgreSQL when they are large.  lz4
# compresses several times faster than the default pglz, for slightly larger values: a first
# snapshot writes hundreds of megabytes of them at scale (BENCHMARKS.md).  Values stored before keep
# their compression; a server built without lz4 keeps pglz.
LZ4_SUPPORTED = (
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def _set_compression(method: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(LZ4_SUPPORTED)
            row = cursor.fetchone()
            if not (row and row[0]):
                return
            cursor.execute(f"ALTER TABLE inventory_inventoryobject ALTER COLUMN data SET COMPRESSION {method}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0002_pv_by_claim_namespace"),
    ]

    operations = [
        # Every index of the table starts with the cluster: its own index was redundant.
        migrations.AlterField(
            model_name="inventoryobject",
            name="cluster",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="inventory.cluster",
            ),
        ),
        migrations.RunPython(_set_compression("lz4"), _set_compression("pglz")),
    ]
