"""Hash chain over the audit trail (core.audit_chain): the existing rows are chained in the order
they were written (created_at, id), then seq becomes mandatory."""

import django.utils.timezone
from django.db import migrations, models


def chain_existing(apps, schema_editor):  # noqa: ANN001, ANN201
    from core.audit_chain import GENESIS, HASHED_FIELDS, content_digest, link_digest

    AuditLog = apps.get_model("core", "AuditLog")
    prev, seq, batch = GENESIS, 0, []
    rows = AuditLog.objects.order_by("created_at", "id").values("id", *HASHED_FIELDS)
    for row in rows.iterator(chunk_size=5000):
        seq += 1
        content = content_digest(row)
        digest = link_digest(prev, seq, content)
        batch.append(
            AuditLog(id=row["id"], seq=seq, prev_hash=prev, row_hash=digest, content_hash=content)
        )
        prev = digest
        if len(batch) >= 5000:
            AuditLog.objects.bulk_update(batch, ["seq", "prev_hash", "row_hash", "content_hash"])
            batch = []
    if batch:
        AuditLog.objects.bulk_update(batch, ["seq", "prev_hash", "row_hash", "content_hash"])


def create_seal_trigger(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (development): rows are linked in Python as they are written
    from core.audit_chain import SEAL_FUNCTION_SQL, SEAL_TRIGGER_SQL

    schema_editor.execute(SEAL_FUNCTION_SQL)
    schema_editor.execute(SEAL_TRIGGER_SQL)


def drop_seal_trigger(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        from core.audit_chain import DROP_SQL

        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_jobs_and_export_templates")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="seq",
            field=models.BigIntegerField(
                editable=False, null=True, unique=True, verbose_name="n° dans la chaîne"
            ),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="prev_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="empreinte précédente"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditlog",
            name="row_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="empreinte"
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="created_at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, verbose_name="date"
            ),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="content_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="empreinte du contenu"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.RunPython(create_seal_trigger, drop_seal_trigger),
        migrations.CreateModel(
            name="AuditAnchor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(verbose_name="n° dans la chaîne")),
                ("row_hash", models.CharField(max_length=64, verbose_name="empreinte")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="date")),
            ],
            options={
                "verbose_name": "ancre du journal",
                "verbose_name_plural": "ancres du journal",
                "ordering": ["-created_at", "-id"],
            },
        ),
    ]
